use serde::{Deserialize, Serialize};
use std::fmt;

/// A language Tribune speaks. Adding one means a `messages/ui/<code>.toml` file and a variant here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ru,
    Az,
}

impl Lang {
    /// Every language, in the order they are offered to readers.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ru, Lang::Az];

    /// The two-letter code used in files, commands and callback data.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Az => "az",
        }
    }

    /// The language's name in itself, for buttons.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ru => "Русский",
            Lang::Az => "Azərbaycanca",
        }
    }

    /// Parses a code or a language name as a reader might type it (`ru`, `RU`, `русский`, `azerbaijani`).
    pub fn parse(input: &str) -> Option<Lang> {
        let folded = crate::content::search::fold(input.trim());
        Lang::ALL.into_iter().find(|lang| {
            let names: &[&str] = match lang {
                Lang::En => &["en", "eng", "english", "английскии", "ingilis", "ingiliscə"],
                Lang::Ru => &["ru", "rus", "russian", "русскии", "rusca", "rus dili"],
                Lang::Az => {
                    &["az", "aze", "azerbaijani", "azeri", "азербаиджанскии", "azerbaycanca"]
                }
            };
            names.iter().any(|name| crate::content::search::fold(name) == folded)
        })
    }

    /// The language for a Telegram `language_code` such as `ru-RU`; English when unknown.
    pub fn from_telegram(code: Option<&str>) -> Lang {
        let primary =
            code.unwrap_or("").split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "ru" | "uk" | "be" | "kk" => Lang::Ru,
            "az" => Lang::Az,
            _ => Lang::En,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_names() {
        assert_eq!(Lang::parse("RU"), Some(Lang::Ru));
        assert_eq!(Lang::parse("Русский"), Some(Lang::Ru));
        assert_eq!(Lang::parse("Azərbaycanca"), Some(Lang::Az));
        assert_eq!(Lang::parse(" english "), Some(Lang::En));
        assert_eq!(Lang::parse("xx"), None);
    }

    #[test]
    fn telegram_codes_fall_back_to_english() {
        assert_eq!(Lang::from_telegram(Some("ru-RU")), Lang::Ru);
        assert_eq!(Lang::from_telegram(Some("az")), Lang::Az);
        assert_eq!(Lang::from_telegram(Some("de")), Lang::En);
        assert_eq!(Lang::from_telegram(None), Lang::En);
    }
}
