//! Case- and diacritic-insensitive search over excerpts, slogans and prisoners.
//!
//! Text and query are both folded ([`fold`]) and split into words; a query word matches a
//! text word it is a prefix of, so `inqilab` finds `İnqilabın` and the fused spelling
//! `InqilabinSesi`. Results are ranked by how many query words they match, then by whole-word
//! matches, then by whether the query occurs as a phrase.

use super::{Corpus, Excerpt, Lang, Prisoner};
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Lower-cases and strips diacritics, treating Azerbaijani İ/ı/ə and Russian ё like their plain
/// letters, so a reader without the right keyboard still finds what they look for.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'İ' | 'I' | 'ı' => out.push('i'),
            'Ə' | 'ə' => out.push('e'),
            '’' | '‘' | '`' => out.push('\''),
            _ => {
                for d in c.to_lowercase().nfd() {
                    if !is_combining_mark(d) {
                        out.push(d);
                    }
                }
            }
        }
    }
    out
}

/// The folded words of a text.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// A query, folded once and matched against many texts.
pub struct Query {
    words: Vec<String>,
    phrase: String,
}

/// How well a text matches a query; higher is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score {
    pub matched: usize,
    pub whole: usize,
    pub phrase: bool,
}

impl Query {
    /// `None` when the query has no words to search for.
    pub fn new(text: &str) -> Option<Query> {
        let mut words = words(text);
        // Single letters match nearly everything; keep them only if there is nothing else.
        if words.iter().any(|w| w.chars().count() > 1) {
            words.retain(|w| w.chars().count() > 1);
        }
        words.dedup();
        (!words.is_empty()).then(|| Query { phrase: words.join(" "), words })
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Scores one text; `None` when no query word occurs.
    pub fn score(&self, text: &str) -> Option<Score> {
        let text_words = words(text);
        let mut score = Score { matched: 0, whole: 0, phrase: false };
        for q in &self.words {
            if text_words.iter().any(|w| w == q) {
                score.matched += 1;
                score.whole += 1;
            } else if text_words.iter().any(|w| w.starts_with(q.as_str())) {
                score.matched += 1;
            }
        }
        score.phrase = self.words.len() > 1 && text_words.join(" ").contains(&self.phrase);
        (score.matched > 0).then_some(score)
    }

    /// Scores the best of several texts (e.g. a prisoner's spellings).
    pub fn score_any<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Option<Score> {
        texts.into_iter().filter_map(|t| self.score(t)).max()
    }
}

/// Keeps the best-scoring items: those matching every query word when any do, else the best
/// partial matches that still match at least half the words.
fn rank<T>(query: &Query, mut scored: Vec<(Score, T)>, limit: usize) -> Vec<T> {
    let best = scored.iter().map(|(s, _)| s.matched).max().unwrap_or(0);
    let floor = if best >= query.len() { query.len() } else { best.max(query.len().div_ceil(2)) };
    scored.retain(|(s, _)| s.matched >= floor);
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    scored.into_iter().take(limit).map(|(_, t)| t).collect()
}

/// Excerpts matching the query, best first. Statements in the reader's language come first
/// among equals; other languages are searched too, so a Russian query finds the Russian original.
pub fn excerpts<'a>(
    corpus: &'a Corpus,
    query: &Query,
    lang: Lang,
    limit: usize,
) -> Vec<Excerpt<'a>> {
    let scored = corpus
        .excerpts()
        .filter_map(|e| query.score(e.text).map(|s| (s, e)))
        .map(|(s, e)| (s, (e.statement.text_lang(lang) == e.lang, e)))
        .collect::<Vec<_>>();
    let mut ranked = rank(query, scored, usize::MAX);
    ranked.sort_by_key(|(preferred, _)| !*preferred);
    ranked.into_iter().take(limit).map(|(_, e)| e).collect()
}

/// Prisoners whose name, spellings, affiliation or note match, best first.
pub fn prisoners<'a>(corpus: &'a Corpus, query: &Query, limit: usize) -> Vec<&'a Prisoner> {
    let scored = corpus
        .prisoners
        .iter()
        .filter_map(|p| {
            let by_name = query.score_any(p.names());
            let by_text =
                query.score_any([p.affiliation.as_str(), p.note.as_deref().unwrap_or("")]);
            by_name.or(by_text).map(|s| (s, p))
        })
        .collect();
    rank(query, scored, limit)
}

/// Prisoners found by name only (for `/prisoner <name>`), best first.
pub fn prisoners_by_name<'a>(corpus: &'a Corpus, query: &Query) -> Vec<&'a Prisoner> {
    let scored = corpus
        .prisoners
        .iter()
        .filter_map(|p| query.score_any(p.names()).map(|s| (s, p)))
        .collect();
    let found: Vec<&Prisoner> = rank(query, scored, usize::MAX);
    // One name matched word for word wins over names that merely start with the query.
    let exact: Vec<&Prisoner> = found
        .iter()
        .copied()
        .filter(|p| query.score_any(p.names()).is_some_and(|s| s.whole == query.len()))
        .collect();
    if exact.len() == 1 { exact } else { found }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_azerbaijani_and_cyrillic() {
        assert_eq!(fold("İnqilabın Sesi"), "inqilabin sesi");
        assert_eq!(fold("Həsənli"), "hesenli");
        assert_eq!(fold("Yağublu ŞÜÇÖ"), "yagublu sucö".replace('ö', "o"));
        assert_eq!(fold("Ёлка"), "елка");
        assert_eq!(fold("ПАРТИИ"), "партии");
    }

    #[test]
    fn prefix_matches_fused_spellings() {
        let q = Query::new("inqilabin").unwrap();
        assert!(q.score("İnqilabın Sesi").is_some());
        assert!(q.score("members of InqilabinSesi organization").is_some());
        assert!(q.score("revolution").is_none());
    }

    #[test]
    fn ranks_whole_words_and_phrases_higher() {
        let q = Query::new("permanent revolution").unwrap();
        let phrase = q.score("One Solution, Permanent Revolution!").unwrap();
        let scattered = q.score("revolution that is permanent").unwrap();
        let partial = q.score("revolutionary").unwrap();
        assert!(phrase > scattered && scattered > partial);
    }

    #[test]
    fn single_letters_are_dropped_when_there_are_real_words() {
        let q = Query::new("<b>bold</b> & <a href=x>").unwrap();
        assert_eq!(q.words, ["bold", "href"]);
        assert!(q.score("a b x").is_none());
    }

    #[test]
    fn empty_queries_are_refused() {
        assert!(Query::new("  ,,, ").is_none());
    }
}
