//! Telegram's HTML parse mode, re-implemented after TDLib's `parse_html`.
//!
//! The point is to fail where Telegram fails, with the same reason and byte
//! offset, so a rendering bug shows up in a test instead of in production.
//! One deliberate difference: by default a bare `&` that does not start an
//! entity is rejected (Telegram keeps it literally), because an unescaped `&`
//! nearly always means an unescaped `<` elsewhere. [`Strictness::Telegram`]
//! restores Telegram's leniency.
//!
//! A little over 400 lines on purpose: it is one parser (one pass over the text, its tag and
//! entity rules side by side, as in TDLib), which splitting would scatter; its tests are in
//! `html/tests.rs`.

use super::links;

/// How strictly a bare `&` is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Exactly like Telegram: a bare `&` stays a literal `&`.
    Telegram,
    /// Reject a bare `&` (the emulator's default).
    RejectBareAmpersand,
}

/// Text as a user sees it, with the formatting Telegram extracted from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The visible text: tags removed, entities decoded.
    pub text: String,
    /// Formatting entities; offsets and lengths in UTF-16 code units.
    pub entities: Vec<Entity>,
}

/// One formatting entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// What kind of formatting.
    pub kind: EntityKind,
    /// Start, in UTF-16 code units.
    pub offset: usize,
    /// Length, in UTF-16 code units.
    pub length: usize,
}

/// The entity kinds HTML can produce (Bot API `MessageEntity.type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityKind {
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    Code,
    Pre {
        language: Option<String>,
    },
    TextLink {
        url: String,
    },
    CustomEmoji {
        id: String,
    },
    Blockquote,
    ExpandableBlockquote,
    /// Never produced by HTML: marks a `/command` in a user's message.
    BotCommand,
}

/// Number of UTF-16 code units in `s`: how Telegram measures text.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Parses `html` as Telegram would; `Err` is the reason that follows
/// "Bad Request: can't parse entities: ".
pub fn parse(html: &str, strictness: Strictness) -> Result<Parsed, String> {
    Parser { src: html.as_bytes(), strictness, text: String::new(), utf16: 0 }.run()
}

/// The visible text of `html`, never failing (for display of stored messages).
pub fn strip(html: &str) -> String {
    parse(html, Strictness::Telegram).map(|p| p.text).unwrap_or_else(|_| html.to_owned())
}

/// Parses the content of a sent message for the given `parse_mode`.
pub fn parse_with_mode(
    text: &str,
    parse_mode: Option<&str>,
    strictness: Strictness,
) -> Result<Parsed, String> {
    match parse_mode {
        Some(mode) if mode.eq_ignore_ascii_case("html") => parse(text, strictness),
        _ => Ok(Parsed { text: text.to_owned(), entities: Vec::new() }),
    }
}

#[rustfmt::skip]
const TAGS: &[&str] = &[
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
    "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
];

struct Open {
    tag: String,
    argument: String,
    utf16_offset: usize,
    byte_offset: usize,
}

struct Parser<'a> {
    src: &'a [u8],
    strictness: Strictness,
    text: String,
    utf16: usize,
}

/// TDLib's `is_space` counts the terminating NUL as space; so does this.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | 0x0b | 0x0c)
}

impl Parser<'_> {
    /// The byte at `i`, or NUL past the end (TDLib reads a C string).
    fn at(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    fn push(&mut self, c: char) {
        self.text.push(c);
        self.utf16 += c.len_utf16();
    }

    fn run(mut self) -> Result<Parsed, String> {
        let mut open: Vec<Open> = Vec::new();
        // Each entity with the language of a `<code class="language-x">`,
        // which becomes pre(x) if a `<pre>` closes right around it.
        let mut entities: Vec<(Entity, Option<String>)> = Vec::new();
        let mut i = 0;
        while i < self.src.len() {
            let c = self.src[i];
            if c == b'&' {
                if let Some((ch, next)) = self.decode_entity(i) {
                    self.push(ch);
                    i = next;
                    continue;
                }
                if self.strictness == Strictness::RejectBareAmpersand {
                    return Err(format!("Unescaped \"&\" at byte offset {i}"));
                }
            }
            if c != b'<' {
                // Copy one whole UTF-8 character.
                let len = utf8_len(c);
                let chunk = &self.src[i..(i + len).min(self.src.len())];
                for ch in String::from_utf8_lossy(chunk).chars() {
                    self.push(ch);
                }
                i += len;
                continue;
            }
            let begin = i;
            i += 1;
            if self.at(i) != b'/' {
                let tag = self.start_tag(begin, &mut i)?;
                open.push(tag);
            } else {
                let Some(tag) = open.pop() else {
                    return Err(format!("Unexpected end tag at byte offset {begin}"));
                };
                while !is_space(self.at(i)) && self.at(i) != b'>' {
                    i += 1;
                }
                let end_name = lower(&self.src[begin + 2..i]);
                while is_space(self.at(i)) && i < self.src.len() {
                    i += 1;
                }
                if self.at(i) != b'>' {
                    return Err(format!("Unclosed end tag at byte offset {begin}"));
                }
                if !end_name.is_empty() && end_name != tag.tag {
                    return Err(format!(
                        "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{end_name}>\"",
                        tag.tag
                    ));
                }
                self.close(tag, &mut entities)?;
            }
            i += 1; // past '>'
        }
        if let Some(tag) = open.last() {
            return Err(format!("Can't find end tag corresponding to start tag \"{}\"", tag.tag));
        }
        let mut entities: Vec<Entity> = entities.into_iter().map(|(e, _)| e).collect();
        entities.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length)));
        Ok(Parsed { text: self.text, entities })
    }

    /// Parses `<tag attr="value" ...>` with `*i` just past '<'; leaves `*i` on '>'.
    fn start_tag(&mut self, begin: usize, i: &mut usize) -> Result<Open, String> {
        while !is_space(self.at(*i)) && self.at(*i) != b'>' {
            *i += 1;
        }
        if *i >= self.src.len() {
            return Err(format!("Unclosed start tag at byte offset {begin}"));
        }
        let tag = lower(&self.src[begin + 1..*i]);
        if !TAGS.contains(&tag.as_str()) {
            return Err(format!("Unsupported start tag \"{tag}\" at byte offset {begin}"));
        }
        let mut argument = String::new();
        while self.at(*i) != b'>' {
            while *i < self.src.len() && is_space(self.at(*i)) {
                *i += 1;
            }
            if self.at(*i) == b'>' {
                break;
            }
            let name_begin = *i;
            while !is_space(self.at(*i)) && !matches!(self.at(*i), b'=' | b'>') {
                *i += 1;
            }
            let name = lower(&self.src[name_begin..*i]);
            if name.is_empty() {
                return Err(format!(
                    "Empty attribute name in the tag \"{tag}\" at byte offset {begin}"
                ));
            }
            while *i < self.src.len() && is_space(self.at(*i)) {
                *i += 1;
            }
            if self.at(*i) != b'=' {
                if tag == "blockquote" && name == "expandable" {
                    argument = "1".to_owned();
                    continue;
                }
                return Err(format!(
                    "Expected equal sign in declaration of an attribute of the tag \"{tag}\" at byte offset {begin}"
                ));
            }
            *i += 1;
            while *i < self.src.len() && is_space(self.at(*i)) {
                *i += 1;
            }
            if *i >= self.src.len() {
                return Err(format!("Unclosed start tag \"{tag}\" at byte offset {begin}"));
            }
            let value = self.attribute_value(i)?;
            if *i >= self.src.len() {
                return Err(format!("Unclosed start tag at byte offset {begin}"));
            }
            match (tag.as_str(), name.as_str()) {
                ("a", "href") | ("tg-emoji", "emoji-id") => argument = value,
                ("code", "class") if value.starts_with("language-") => {
                    argument = value["language-".len()..].to_owned();
                }
                ("span", "class") if value.starts_with("tg-") => {
                    argument = value["tg-".len()..].to_owned();
                }
                _ => {}
            }
        }
        if tag == "span" && argument != "spoiler" {
            return Err(format!(
                "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
            ));
        }
        Ok(Open { tag, argument, utf16_offset: self.utf16, byte_offset: self.text.len() })
    }

    fn attribute_value(&self, i: &mut usize) -> Result<String, String> {
        let quote = self.at(*i);
        if quote != b'"' && quote != b'\'' {
            // An unquoted name token: letters, digits, periods, hyphens.
            let token_begin = *i;
            while self.at(*i).is_ascii_alphanumeric() || matches!(self.at(*i), b'.' | b'-') {
                *i += 1;
            }
            if !is_space(self.at(*i)) && self.at(*i) != b'>' {
                return Err(format!("Unexpected end of name token at byte offset {token_begin}"));
            }
            return Ok(lower(&self.src[token_begin..*i]));
        }
        *i += 1;
        let mut value = String::new();
        while *i < self.src.len() && self.at(*i) != quote {
            if let Some((ch, next)) = self.decode_entity(*i) {
                value.push(ch);
                *i = next;
                continue;
            }
            let len = utf8_len(self.at(*i));
            let end = (*i + len).min(self.src.len());
            value.push_str(&String::from_utf8_lossy(&self.src[*i..end]));
            *i = end;
        }
        if self.at(*i) == quote {
            *i += 1;
        }
        Ok(value)
    }

    /// Turns a closed tag into an entity; empty ones are dropped, as Telegram does.
    fn close(&self, tag: Open, entities: &mut Vec<(Entity, Option<String>)>) -> Result<(), String> {
        let offset = tag.utf16_offset;
        let length = self.utf16 - offset;
        if length == 0 {
            return Ok(());
        }
        let kind = match tag.tag.as_str() {
            "b" | "strong" => EntityKind::Bold,
            "i" | "em" => EntityKind::Italic,
            "u" | "ins" => EntityKind::Underline,
            "s" | "strike" | "del" => EntityKind::Strikethrough,
            "tg-spoiler" | "span" => EntityKind::Spoiler,
            "tg-emoji" => {
                if tag.argument.parse::<i64>().map_or(true, |id| id == 0) {
                    return Err("Invalid custom emoji identifier specified".to_owned());
                }
                EntityKind::CustomEmoji { id: tag.argument }
            }
            "a" => {
                let url = if tag.argument.is_empty() {
                    self.text[tag.byte_offset..].to_owned()
                } else {
                    tag.argument
                };
                // Telegram silently drops a link it cannot make sense of.
                let Some(url) = links::text_link(&url) else { return Ok(()) };
                EntityKind::TextLink { url }
            }
            "pre" => {
                if let Some((last, language)) = entities.last_mut()
                    && last.offset == offset
                    && last.length == length
                    && last.kind == EntityKind::Code
                    && language.is_some()
                {
                    // <pre><code class="language-x">: the code entity becomes pre(x).
                    last.kind = EntityKind::Pre { language: language.take() };
                    return Ok(());
                }
                EntityKind::Pre { language: None }
            }
            "code" => {
                let language = Some(tag.argument).filter(|l| !l.is_empty());
                if let Some((last, _)) = entities.last_mut()
                    && last.offset == offset
                    && last.length == length
                    && last.kind == (EntityKind::Pre { language: None })
                    && language.is_some()
                {
                    last.kind = EntityKind::Pre { language };
                    return Ok(());
                }
                entities.push((Entity { kind: EntityKind::Code, offset, length }, language));
                return Ok(());
            }
            "blockquote" if tag.argument == "1" => EntityKind::ExpandableBlockquote,
            "blockquote" => EntityKind::Blockquote,
            other => unreachable!("tag {other} was accepted at its start"),
        };
        entities.push((Entity { kind, offset, length }, None));
        Ok(())
    }

    /// Decodes `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#NN;`, `&#xNN;` at `pos`
    /// (the `;` is optional, as in TDLib); returns the char and the next index.
    fn decode_entity(&self, pos: usize) -> Option<(char, usize)> {
        let mut end = pos + 1;
        let value = if self.at(end) == b'#' {
            end += 1;
            let hex = self.at(end) == b'x';
            if hex {
                end += 1;
            }
            let mut n: u32 = 0;
            let radix = if hex { 16 } else { 10 };
            while let Some(d) = (self.at(end) as char).to_digit(radix) {
                n = n * radix + d;
                end += 1;
                if n >= 0x10ffff {
                    return None;
                }
            }
            if n == 0 {
                return None;
            }
            char::from_u32(n)?
        } else {
            while self.at(end).is_ascii_alphabetic() {
                end += 1;
            }
            match &self.src[pos + 1..end] {
                b"lt" => '<',
                b"gt" => '>',
                b"amp" => '&',
                b"quot" => '"',
                _ => return None,
            }
        };
        if self.at(end) == b';' {
            end += 1;
        }
        Some((value, end))
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_lowercase()
}

#[cfg(test)]
mod tests;
