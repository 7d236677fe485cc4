//! A prisoner's displayed name is the statement's own spelling.
//!
//! Readers are promised that the name on a card is written the way the statement that names
//! the person writes it, with only the spaces it left out put back: the appeal's
//! "SevinjVagifgizi" is shown as "Sevinj Vagifgizi", never as another transliteration. Other
//! spellings are search aliases. So the check ignores whitespace and forgives nothing else (not
//! a letter, not case). Only when it fails are close spellings of the name and its aliases
//! looked up, to tell the operator which spelling the statement has.

use crate::content::{Statement, search::fold};
use std::collections::BTreeSet;
use unicode_normalization::UnicodeNormalization;

/// `Ok` when `name` without whitespace occurs, without whitespace, in a paragraph of
/// `statement` (in any language); otherwise a message for the operator, with the statement's
/// spelling when one of `aliases` or a close spelling of the name occurs there.
pub(super) fn check_name(
    name: &str,
    aliases: &[String],
    statement: &Statement,
) -> Result<(), String> {
    let paragraphs: Vec<Letters> =
        statement.texts.values().flatten().map(|p| Letters::new(&p.text)).collect();
    if paragraphs.iter().any(|p| p.find(&squeeze(name)).is_some()) {
        return Ok(());
    }
    let id = &statement.id;
    Err(match spelled_by_statement(name, aliases, &paragraphs) {
        Some((written, restored)) => format!(
            "name {name:?} is not how statement {id:?} spells it: the statement writes \
             {written:?}, so write name = {restored:?} and keep {name:?} in aliases \
             (readers are shown the statement's spelling, with only missing spaces restored)"
        ),
        None => format!(
            "name {name:?} does not occur in statement {id:?} (compared without spaces): \
             write it as the statement does, restoring only missing spaces, and keep other \
             spellings in aliases"
        ),
    })
}

/// The statement's spelling of the person (as written there, and with spaces restored): the
/// longest found of the spellings of the name and its aliases, each allowed to differ from the
/// statement in a quarter of its letters (ignoring case and diacritics), fewest edits first. So
/// an alias that is the statement's own spelling is found as it is, and a surname alone
/// ("Orujov") does not hide the statement's full name.
fn spelled_by_statement(
    name: &str,
    aliases: &[String],
    paragraphs: &[Letters],
) -> Option<(String, String)> {
    let spellings = std::iter::once(name).chain(aliases.iter().map(String::as_str));
    let (_, used, written) = spellings
        .filter_map(|spelling| {
            let wanted: Vec<char> = squeeze(spelling).into_iter().map(key).collect();
            let limit = (wanted.len() / 4).max(1);
            let (closeness, written) =
                paragraphs.iter().filter_map(|p| p.closest(&wanted, limit)).min()?;
            let letters = written.chars().filter(|c| !c.is_whitespace()).count();
            Some(((std::cmp::Reverse(letters), closeness), spelling, written))
        })
        .min_by_key(|(rank, _, _)| *rank)?;
    let models: Vec<&str> = std::iter::once(used)
        .chain(std::iter::once(name))
        .chain(aliases.iter().map(String::as_str))
        .collect();
    let restored = restore_spaces(&written, &models);
    Some((written, restored))
}

/// `written` (the statement's spelling) with its own spaces, plus spaces where the first model
/// with as many letters has them, or else between a lower-case and an upper-case letter.
fn restore_spaces(written: &str, models: &[&str]) -> String {
    let mut letters = Vec::new();
    let mut breaks = BTreeSet::new();
    for c in written.nfc() {
        if c.is_whitespace() {
            breaks.insert(letters.len());
        } else {
            letters.push(c);
        }
    }
    let model = models.iter().map(|m| m.nfc().collect::<Vec<char>>()).find(|m| {
        m.iter().any(|c| c.is_whitespace())
            && m.iter().filter(|c| !c.is_whitespace()).count() == letters.len()
    });
    match model {
        Some(model) => {
            let mut at = 0;
            for c in model {
                if c.is_whitespace() {
                    breaks.insert(at);
                } else {
                    at += 1;
                }
            }
        }
        None => breaks.extend(
            (1..letters.len())
                .filter(|&k| letters[k - 1].is_lowercase() && letters[k].is_uppercase()),
        ),
    }
    let mut out = String::new();
    for (k, c) in letters.iter().enumerate() {
        if k > 0 && breaks.contains(&k) {
            out.push(' ');
        }
        out.push(*c);
    }
    out
}

/// A paragraph's characters other than whitespace (in NFC), each with its place in the text.
struct Letters {
    text: String,
    chars: Vec<char>,
    offsets: Vec<usize>,
}

impl Letters {
    fn new(text: &str) -> Letters {
        let text: String = text.nfc().collect();
        let (offsets, chars) = text.char_indices().filter(|(_, c)| !c.is_whitespace()).unzip();
        Letters { text, chars, offsets }
    }

    /// Where `wanted` starts among the letters, if it occurs.
    fn find(&self, wanted: &[char]) -> Option<usize> {
        if wanted.is_empty() {
            return None;
        }
        self.chars.windows(wanted.len()).position(|w| w == wanted)
    }

    /// The text from letter `start` to letter `end` (exclusive), whitespace inside included.
    fn span(&self, start: usize, end: usize) -> String {
        let last = end - 1;
        self.text[self.offsets[start]..self.offsets[last] + self.chars[last].len_utf8()].to_string()
    }

    /// The spelling closest to `wanted` (folded with [`key`]) within `limit` edits, searched in
    /// each run of name-like characters and widened to whole words by up to `limit` letters
    /// (never across whitespace the statement has):
    /// ((edits, difference in length), spelling as written).
    fn closest(&self, wanted: &[char], limit: usize) -> Option<((usize, usize), String)> {
        let name_like = |c: char| c.is_alphabetic() || matches!(c, '-' | '\'' | '’' | '.');
        let keys: Vec<char> = self.chars.iter().copied().map(key).collect();
        let mut best: Option<((usize, usize), usize, usize)> = None;
        let mut run_start = 0;
        for run_end in 0..=self.chars.len() {
            if run_end < self.chars.len() && name_like(self.chars[run_end]) {
                continue;
            }
            if let Some((edits, start, end)) = nearest(wanted, &keys[run_start..run_end]) {
                let found = (edits, (end - start).abs_diff(wanted.len()));
                if edits <= limit && best.is_none_or(|(b, _, _)| found < b) {
                    best = Some((found, run_start + start, run_start + end));
                }
            }
            run_start = run_end + 1;
        }
        let (closeness, mut start, mut end) = best?;
        for _ in 0..limit {
            if end < self.chars.len() && self.chars[end].is_lowercase() && self.fused(end - 1) {
                end += 1;
            }
            if start > 0 && self.chars[start].is_lowercase() && self.fused(start - 1) {
                start -= 1;
            }
        }
        Some((closeness, self.span(start, end)))
    }

    /// Whether letter `k` is a letter followed, with no whitespace between, by letter `k + 1`.
    fn fused(&self, k: usize) -> bool {
        self.chars[k].is_alphabetic()
            && self.offsets[k] + self.chars[k].len_utf8() == self.offsets[k + 1]
    }
}

/// The substring of `text` nearest to `pattern` by edit distance (Sellers' algorithm: the
/// start is free), as (edits, start, end); among equals, the first and closest in length.
fn nearest(pattern: &[char], text: &[char]) -> Option<(usize, usize, usize)> {
    if pattern.is_empty() || text.is_empty() {
        return None;
    }
    let n = pattern.len();
    // For the current end in `text`: the edits to match `pattern[..i]`, and where that match starts.
    let mut edits: Vec<usize> = (0..=n).collect();
    let mut starts = vec![0; n + 1];
    let mut best: Option<(usize, usize, usize)> = None;
    for j in 1..=text.len() {
        let (mut diagonal, mut diagonal_start) = (edits[0], starts[0]);
        edits[0] = 0;
        starts[0] = j;
        for i in 1..=n {
            let (above, above_start) = (edits[i], starts[i]);
            let options = [
                (diagonal + usize::from(pattern[i - 1] != text[j - 1]), diagonal_start),
                (edits[i - 1] + 1, starts[i - 1]),
                (above + 1, above_start),
            ];
            let (e, s) =
                options.into_iter().min_by_key(|(e, _)| *e).unwrap_or((above, above_start));
            (diagonal, diagonal_start) = (above, above_start);
            edits[i] = e;
            starts[i] = s;
        }
        let found = (edits[n], starts[n], j);
        let rank = |(e, s, j): (usize, usize, usize)| (e, (j - s).abs_diff(n));
        if best.is_none_or(|b| rank(found) < rank(b)) {
            best = Some(found);
        }
    }
    best.filter(|(_, start, end)| end > start)
}

/// The characters of `text` other than whitespace, in NFC.
fn squeeze(text: &str) -> Vec<char> {
    text.nfc().filter(|c| !c.is_whitespace()).collect()
}

/// A letter folded as search folds it (case, diacritics, İ/ı/ə), for finding close spellings.
fn key(c: char) -> char {
    fold(c.encode_utf8(&mut [0; 4])).chars().next().unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn nearest_finds_a_misspelling_inside_fused_text() {
        let text = chars("suchasUlviHasanli");
        assert_eq!(nearest(&chars("UlviHasanly"), &text), Some((1, 6, 17)));
        assert_eq!(nearest(&chars("UlviHasanli"), &text), Some((0, 6, 17)));
    }

    #[test]
    fn spaces_are_restored_from_a_model_or_at_capitals() {
        assert_eq!(restore_spaces("SevinjVagifgizi", &["Sevinj Vagifqizi"]), "Sevinj Vagifgizi");
        assert_eq!(restore_spaces("SevinjVagifgizi", &["Sevinc Vaqifqızı"]), "Sevinj Vagifgizi");
        assert_eq!(restore_spaces("MohyaddinOrujov", &["Orujov"]), "Mohyaddin Orujov");
        assert_eq!(restore_spaces("Hafiz Babali", &["HafizBabali"]), "Hafiz Babali");
        assert_eq!(restore_spaces("Hafiz  Babali", &[]), "Hafiz Babali");
    }

    #[test]
    fn a_close_spelling_is_widened_to_whole_words() {
        let p = Letters::new("such as UlviHasanli, SevinjVagifgizi, TeymurKarimov");
        let wanted: Vec<char> = squeeze("Sevinj Vagifgiz").into_iter().map(key).collect();
        assert_eq!(p.closest(&wanted, 3).map(|(_, s)| s).as_deref(), Some("SevinjVagifgizi"));
        let wanted: Vec<char> = squeeze("evinj Vagifqizi").into_iter().map(key).collect();
        assert_eq!(p.closest(&wanted, 3).map(|(_, s)| s).as_deref(), Some("SevinjVagifgizi"));
    }
}
