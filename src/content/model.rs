use super::{Lang, Ui};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt};

/// A paragraph shorter than this (in characters) is not offered as an excerpt on its own:
/// greetings, headings and signatures read badly out of context.
pub const MIN_EXCERPT_CHARS: usize = 120;

/// Everything Tribune serves, as loaded from `messages/` and kept in the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Corpus {
    pub statements: Vec<Statement>,
    pub slogans: Vec<Slogan>,
    pub prisoners: Vec<Prisoner>,
    pub ui: Ui,
}

/// One published statement, in one or more languages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub id: String,
    pub kind: StatementKind,
    pub organisation: String,
    pub date: PartialDate,
    pub date_approximate: bool,
    pub date_note: Option<String>,
    pub source: String,
    pub original_language: Lang,
    pub titles: BTreeMap<Lang, String>,
    pub texts: BTreeMap<Lang, Vec<Paragraph>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatementKind {
    Declaration,
    Speech,
    Appeal,
    Statement,
}

/// A paragraph of a statement's text, word for word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paragraph {
    pub text: String,
    pub heading: bool,
}

/// A date known to the year, the month or the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartialDate {
    pub year: u16,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

/// A closing exclamation of a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slogan {
    pub id: String,
    pub statement: String,
    pub lang: Lang,
    pub text: String,
}

/// A person a statement names as a political prisoner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prisoner {
    pub id: String,
    /// `None` for a person the statement does not name.
    pub name: Option<String>,
    pub aliases: Vec<String>,
    pub group: Group,
    pub affiliation: String,
    pub statement: String,
    pub quote: String,
    pub status: Status,
    pub since: Option<PartialDate>,
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    CourierUnion,
    Journalist,
    Politician,
    Activist,
}

impl Group {
    pub const ALL: [Group; 4] =
        [Group::CourierUnion, Group::Journalist, Group::Politician, Group::Activist];

    /// The id used in files and callback data.
    pub fn code(self) -> &'static str {
        match self {
            Group::CourierUnion => "courier-union",
            Group::Journalist => "journalist",
            Group::Politician => "politician",
            Group::Activist => "activist",
        }
    }

    pub fn from_code(code: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.code() == code)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Imprisoned,
    Released,
    Sentenced,
    Transferred,
    Unknown,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Imprisoned => "imprisoned",
            Status::Released => "released",
            Status::Sentenced => "sentenced",
            Status::Transferred => "transferred",
            Status::Unknown => "unknown",
        }
    }
}

/// Names one paragraph of one statement in one language: the unit quoted as an excerpt.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExcerptKey {
    pub statement: String,
    pub lang: Lang,
    /// Zero-based index into the statement's paragraphs in `lang`.
    pub paragraph: usize,
}

/// An excerpt with everything needed to quote it.
#[derive(Clone, Copy, Debug)]
pub struct Excerpt<'a> {
    pub statement: &'a Statement,
    pub lang: Lang,
    pub paragraph: usize,
    pub text: &'a str,
}

impl Excerpt<'_> {
    pub fn key(&self) -> ExcerptKey {
        ExcerptKey {
            statement: self.statement.id.clone(),
            lang: self.lang,
            paragraph: self.paragraph,
        }
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(month) = self.month {
            write!(f, "-{month:02}")?;
        }
        if let Some(day) = self.day {
            write!(f, "-{day:02}")?;
        }
        Ok(())
    }
}

impl Statement {
    /// The title in `lang`, else in the original language.
    pub fn title(&self, lang: Lang) -> &str {
        self.titles
            .get(&lang)
            .or_else(|| self.titles.get(&self.original_language))
            .or_else(|| self.titles.values().next())
            .map(String::as_str)
            .unwrap_or(&self.id)
    }

    /// The language the reader gets: theirs if the statement has it, else the original,
    /// else English, else whatever there is.
    pub fn text_lang(&self, wanted: Lang) -> Lang {
        [wanted, self.original_language, Lang::En]
            .into_iter()
            .find(|l| self.texts.contains_key(l))
            .or_else(|| self.texts.keys().next().copied())
            .unwrap_or(self.original_language)
    }

    pub fn paragraphs(&self, lang: Lang) -> &[Paragraph] {
        self.texts.get(&lang).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn languages(&self) -> impl Iterator<Item = Lang> + '_ {
        self.texts.keys().copied()
    }
}

impl Prisoner {
    /// Every spelling to match a search against.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.name.iter().chain(self.aliases.iter()).map(String::as_str)
    }
}

impl Corpus {
    pub fn statement(&self, id: &str) -> Option<&Statement> {
        self.statements.iter().find(|s| s.id == id)
    }

    pub fn prisoner(&self, id: &str) -> Option<&Prisoner> {
        self.prisoners.iter().find(|p| p.id == id)
    }

    pub fn slogan(&self, id: &str) -> Option<&Slogan> {
        self.slogans.iter().find(|s| s.id == id)
    }

    /// The slogan of the day: the same for everyone on `day` (digests, inline mode), each
    /// slogan in turn.
    pub fn slogan_of_the_day(&self, day: chrono::NaiveDate) -> Option<&Slogan> {
        if self.slogans.is_empty() {
            return None;
        }
        let day = day.to_epoch_days().unsigned_abs() as usize;
        self.slogans.get(day % self.slogans.len())
    }

    /// Every excerpt in every language, in file order.
    pub fn excerpts(&self) -> impl Iterator<Item = Excerpt<'_>> {
        self.statements.iter().flat_map(|statement| {
            statement.texts.iter().flat_map(move |(&lang, paragraphs)| {
                paragraphs.iter().enumerate().filter(|(_, p)| is_excerpt(p)).map(
                    move |(paragraph, p)| Excerpt { statement, lang, paragraph, text: &p.text },
                )
            })
        })
    }

    /// The excerpts a reader of `lang` is offered: each statement in the language they get it in.
    pub fn excerpts_for(&self, lang: Lang) -> Vec<Excerpt<'_>> {
        self.excerpts().filter(|e| e.statement.text_lang(lang) == e.lang).collect()
    }

    pub fn excerpt(&self, key: &ExcerptKey) -> Option<Excerpt<'_>> {
        let statement = self.statement(&key.statement)?;
        let paragraph = statement.texts.get(&key.lang)?.get(key.paragraph)?;
        is_excerpt(paragraph).then_some(Excerpt {
            statement,
            lang: key.lang,
            paragraph: key.paragraph,
            text: &paragraph.text,
        })
    }
}

fn is_excerpt(paragraph: &Paragraph) -> bool {
    !paragraph.heading && paragraph.text.chars().count() >= MIN_EXCERPT_CHARS
}
