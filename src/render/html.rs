//! HTML for Telegram's HTML parse mode: escaping, visible length, and splitting into
//! messages that fit Telegram's limit.

/// Telegram's limit on a message's text, in UTF-16 code units of the visible text.
pub const MESSAGE_LIMIT: usize = 4096;
/// Telegram's limit on a caption (of a photo or document), in the same units.
pub const CAPTION_LIMIT: usize = 1024;

/// Escapes text for Telegram HTML (`&`, `<`, `>`, and `"` so it is safe inside attributes too).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The length Telegram counts for a message: UTF-16 code units of the text with tags removed
/// and entities decoded.
pub fn visible_len(html: &str) -> usize {
    let mut len = 0;
    let mut chars = html.chars();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                for t in chars.by_ref() {
                    if t == '>' {
                        break;
                    }
                }
            }
            '&' => {
                for t in chars.by_ref() {
                    if t == ';' {
                        break;
                    }
                }
                len += 1;
            }
            _ => len += c.len_utf16(),
        }
    }
    len
}

/// Cuts plain text into pieces of at most `limit` UTF-16 units, preferring sentence ends,
/// then spaces, and only as a last resort the middle of a word.
pub fn split_plain(text: &str, limit: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text.trim();
    while utf16_len(rest) > limit {
        let cut_max = byte_index_at_utf16(rest, limit);
        let window = &rest[..cut_max];
        let cut = window
            .rfind(". ")
            .or_else(|| window.rfind("! "))
            .or_else(|| window.rfind("? "))
            .map(|i| i + 1)
            .filter(|&i| i > cut_max / 3)
            .or_else(|| window.rfind(' ').filter(|&i| i > 0))
            .unwrap_or(cut_max);
        pieces.push(rest[..cut].trim_end().to_string());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_string());
    }
    pieces
}

/// Joins HTML blocks with blank lines into as few messages as possible, each within `limit`.
/// Blocks must each fit already (see [`split_plain`]); a block is never cut, so tags stay balanced.
pub fn pack(blocks: &[String], limit: usize) -> Vec<String> {
    let mut messages: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for block in blocks {
        let len = visible_len(block);
        if !current.is_empty() && current_len + 2 + len > limit {
            messages.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if !current.is_empty() {
            current.push_str("\n\n");
            current_len += 2;
        }
        current.push_str(block);
        current_len += len;
    }
    if !current.is_empty() {
        messages.push(current);
    }
    messages
}

/// The text a reader sees: tags removed, the entities Tribune writes decoded.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

fn byte_index_at_utf16(s: &str, units: usize) -> usize {
    let mut count = 0;
    for (i, c) in s.char_indices() {
        count += c.len_utf16();
        if count > units {
            return i;
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_telegram_parses() {
        assert_eq!(
            escape("<b>Tom & \"Jerry\"</b>"),
            "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;"
        );
        assert_eq!(escape("İnqilabın Sesi"), "İnqilabın Sesi");
    }

    #[test]
    fn visible_length_ignores_tags_and_counts_entities_once() {
        assert_eq!(visible_len("<b>a&amp;b</b>"), 3);
        assert_eq!(visible_len("<a href=\"x\">link</a>"), 4);
        assert_eq!(visible_len("😀"), 2);
    }

    #[test]
    fn splits_on_sentences_then_words() {
        let text = "One two three. Four five six. Seven eight nine.";
        assert_eq!(
            split_plain(text, 30),
            vec!["One two three. Four five six.", "Seven eight nine."]
        );
        assert_eq!(split_plain("aaaa bbbb cccc", 9), vec!["aaaa", "bbbb cccc"]);
        assert_eq!(split_plain("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn packs_paragraphs_without_cutting_them() {
        let paragraph = "x".repeat(1500);
        let blocks = vec![paragraph.clone(), paragraph.clone(), paragraph.clone()];
        let messages = pack(&blocks, MESSAGE_LIMIT);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], format!("{paragraph}\n\n{paragraph}"));
        assert!(messages.iter().all(|m| visible_len(m) <= MESSAGE_LIMIT));
    }

    #[test]
    fn long_texts_always_fit_after_splitting_and_packing() {
        let text = "Word ".repeat(3000) + &"Ж".repeat(5000);
        let blocks: Vec<String> =
            split_plain(&text, MESSAGE_LIMIT).iter().map(|p| escape(p)).collect();
        let messages = pack(&blocks, MESSAGE_LIMIT);
        assert!(messages.len() >= 4);
        assert!(messages.iter().all(|m| visible_len(m) <= MESSAGE_LIMIT));
    }
}
