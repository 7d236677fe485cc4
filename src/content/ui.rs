use super::Lang;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Interface strings per language, from `messages/ui/<lang>.toml`.
///
/// Strings may hold `{name}` placeholders, filled by [`Ui::fmt`]. Parsing guarantees every
/// language has every key English has, so lookups only fall back for keys unknown to all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ui {
    strings: BTreeMap<Lang, BTreeMap<String, String>>,
}

impl Ui {
    pub fn new(strings: BTreeMap<Lang, BTreeMap<String, String>>) -> Ui {
        Ui { strings }
    }

    /// The string for `key` in `lang`, falling back to English, then to the key itself
    /// (so a missing string shows up as a visible key rather than a blank).
    pub fn get<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        self.strings
            .get(&lang)
            .and_then(|m| m.get(key))
            .or_else(|| self.strings.get(&Lang::En).and_then(|m| m.get(key)))
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// The string for `key` with `{name}` placeholders replaced by `args` (values used as given:
    /// callers escape HTML first where needed).
    pub fn fmt(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.get(lang, key), args)
    }

    pub fn keys(&self, lang: Lang) -> impl Iterator<Item = &str> {
        self.strings.get(&lang).into_iter().flat_map(|m| m.keys().map(String::as_str))
    }
}

/// Replaces each `{name}` in `template` with its value; unknown placeholders are kept as written.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(k, _)| *k == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_keeps_unknown_ones() {
        assert_eq!(fill("{a} and {b}", &[("a", "1"), ("b", "2")]), "1 and 2");
        assert_eq!(fill("{a} {zz} {", &[("a", "x")]), "x {zz} {");
    }

    #[test]
    fn falls_back_to_english_then_key() {
        let mut strings = BTreeMap::new();
        strings.insert(Lang::En, BTreeMap::from([("hi".to_string(), "Hello".to_string())]));
        strings.insert(Lang::Ru, BTreeMap::new());
        let ui = Ui::new(strings);
        assert_eq!(ui.get(Lang::Ru, "hi"), "Hello");
        assert_eq!(ui.get(Lang::Az, "nope"), "nope");
    }
}
