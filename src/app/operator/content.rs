//! Content edits from Telegram: `/addslogan`, `/setprisoner`, `/edits` (and dropping one),
//! and statement files sent as documents. Each is checked with the files as a whole before it
//! is stored (`app/content.rs`); status changes it makes are alerted at once.

use super::{
    super::{
        caller::{Refusal, unavailable},
        tribune::Tribune,
    },
    Operator,
};
use crate::{
    content::{
        ContentEdit, Corpus, Lang, Problem, Status,
        parse::{parse_date, parse_statement_file},
    },
    store::{PrisonerChange, StoredEdit},
};

/// The largest statement file accepted from Telegram.
pub const MAX_STATEMENT_BYTES: u32 = 512 * 1024;

/// What a content command or a statement file came to.
#[derive(Clone, Debug, PartialEq)]
pub enum EditOutcome {
    /// `/addslogan` not understood: how to use it, with the statements it can name.
    SloganUsage,
    /// `/setprisoner` not understood: how to use it.
    PrisonerUsage,
    /// `/edits` with arguments it does not take: the operators' commands.
    Help,
    /// A word meant as a date that is not one (`2026-02-31`).
    BadDate(String),
    /// Saved and served: the edit described, and the alerts queued for the status changes it
    /// made (`None` when it made none, or they could not be queued).
    Saved { edit: String, alerts: Option<usize> },
    /// Edit `seq` dropped, and the alerts it led to.
    Dropped { seq: u64, alerts: Option<usize> },
    /// `/edits drop` names no stored edit.
    NoSuchEdit(String),
    /// The files with the edit do not check: every problem, with its file and line.
    Problems(Vec<Problem>),
    /// `/edits`: the stored edits.
    List(Vec<(u64, StoredEdit)>),
    /// A statement file that cannot be taken, and why.
    Unreadable(&'static str),
}

impl Tribune {
    /// `/addslogan <statement> [lang] <text>`.
    pub fn add_slogan(&self, operator: &Operator, args: &str) -> Result<EditOutcome, Refusal> {
        let corpus = self.corpus();
        let mut words = args.trim().splitn(2, char::is_whitespace);
        let (Some(statement_id), Some(rest)) = (words.next(), words.next()) else {
            return Ok(EditOutcome::SloganUsage);
        };
        let Some(statement) = corpus.statement(statement_id) else {
            return Ok(EditOutcome::SloganUsage);
        };
        let rest = rest.trim();
        let (lang, slogan_text) = match rest.split_once(char::is_whitespace) {
            Some((code, after)) if Lang::parse(code).is_some_and(|l| l.code() == code) => {
                (Lang::parse(code).unwrap_or(statement.original_language), after.trim())
            }
            _ => (statement.text_lang(statement.original_language), rest),
        };
        if slogan_text.is_empty() {
            return Ok(EditOutcome::SloganUsage);
        }
        let edit = ContentEdit::Slogan {
            id: slogan_id(&corpus, slogan_text),
            statement: statement.id.clone(),
            lang,
            text: slogan_text.to_string(),
        };
        self.save_edit(operator, edit)
    }

    /// `/setprisoner <id> <status> [YYYY[-MM[-DD]]] [note]`.
    pub fn set_prisoner(&self, operator: &Operator, args: &str) -> Result<EditOutcome, Refusal> {
        match prisoner_edit(args) {
            Ok(edit) => self.save_edit(operator, edit),
            Err(ArgError::Usage) => Ok(EditOutcome::PrisonerUsage),
            Err(ArgError::BadDate(date)) => Ok(EditOutcome::BadDate(date)),
        }
    }

    /// `/edits` (the list) or `/edits drop <number>`.
    pub fn edits(&self, operator: &Operator, args: &str) -> Result<EditOutcome, Refusal> {
        let mut words = args.split_whitespace();
        match (words.next(), words.next()) {
            (None, _) => Ok(EditOutcome::List(self.store.edits().map_err(unavailable)?)),
            (Some("drop"), Some(number)) => {
                let Some(seq) = number.parse::<u64>().ok() else {
                    return Ok(EditOutcome::NoSuchEdit(number.to_string()));
                };
                match self.drop_edit(seq).map_err(unavailable)? {
                    Ok(Some(changes)) => {
                        self.audit(operator, format!("dropped content edit {seq}"))?;
                        Ok(EditOutcome::Dropped { seq, alerts: self.alert(&changes) })
                    }
                    Ok(None) => Ok(EditOutcome::NoSuchEdit(seq.to_string())),
                    Err(problems) => Ok(EditOutcome::Problems(problems)),
                }
            }
            _ => Ok(EditOutcome::Help),
        }
    }

    /// Whether a document named `name` of `size` bytes may be a statement file: `None` when
    /// it is worth downloading, else why not.
    pub fn refuses_statement_file(
        &self,
        _operator: &Operator,
        name: &str,
        size: u32,
    ) -> Option<EditOutcome> {
        if !name.ends_with(".md") {
            return Some(EditOutcome::Unreadable(
                "send a statement as a .md file in the messages/ format",
            ));
        }
        (size > MAX_STATEMENT_BYTES)
            .then_some(EditOutcome::Unreadable("the file is larger than 512 KB"))
    }

    /// A statement file (`name`, its bytes as downloaded) to add or replace a statement.
    pub fn statement_file(
        &self,
        operator: &Operator,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<EditOutcome, Refusal> {
        if let Some(refused) = self.refuses_statement_file(operator, name, bytes.len() as u32) {
            return Ok(refused);
        }
        let Ok(source) = String::from_utf8(bytes) else {
            return Ok(EditOutcome::Unreadable("it is not UTF-8 text"));
        };
        let shown_name = format!("statements/{}", name.replace(['/', '\\'], "_"));
        match parse_statement_file(&shown_name, &source) {
            Err(problems) => Ok(EditOutcome::Problems(problems)),
            Ok(statement) => {
                let file = format!("statements/{}.md", statement.id);
                self.save_edit(operator, ContentEdit::Statement { file, text: source })
            }
        }
    }

    /// Applies an edit (what the commands above make); what was saved, or every problem with
    /// its file and line.
    pub fn save_edit(
        &self,
        operator: &Operator,
        edit: ContentEdit,
    ) -> Result<EditOutcome, Refusal> {
        let described = edit.describe();
        match self.apply_edit(operator.id(), edit).map_err(unavailable)? {
            Ok(changes) => {
                self.audit(operator, format!("content edit: {described}"))?;
                Ok(EditOutcome::Saved { edit: described, alerts: self.alert(&changes) })
            }
            Err(problems) => Ok(EditOutcome::Problems(problems)),
        }
    }

    /// Queues status-change alerts for what an edit changed: how many, if it changed any.
    fn alert(&self, changes: &[PrisonerChange]) -> Option<usize> {
        if changes.is_empty() {
            return None;
        }
        self.queue_alerts()
            .inspect_err(|e| log::error!("cannot queue prisoner-status alerts: {e}"))
            .ok()
    }
}

/// A stable, unique id from a slogan's words (`long-live-the-struggle`), or `slogan-N`.
fn slogan_id(corpus: &Corpus, text: &str) -> String {
    let mut base = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            base.push(c);
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
        if base.len() >= 32 {
            break;
        }
    }
    let base = base.trim_end_matches('-').to_string();
    let base = if base.len() < 3 { "slogan".to_string() } else { base };
    let taken = |id: &str| corpus.slogans.iter().any(|s| s.id == id);
    if !taken(&base) && base != "slogan" {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|id| !taken(id)).unwrap_or(base)
}

/// Why an operator's arguments were not understood.
#[derive(Debug, PartialEq)]
enum ArgError {
    /// Not in the command's shape: show how to use it.
    Usage,
    /// A word meant as a date that is not one (`2026-02-31`).
    BadDate(String),
}

/// `<id> <status> [YYYY[-MM[-DD]]] [note]` as a prisoner edit. A word after the status that
/// starts with a digit is taken as the date, so a mistyped date is refused, not kept as a note.
fn prisoner_edit(args: &str) -> Result<ContentEdit, ArgError> {
    let mut words = args.split_whitespace();
    let (Some(id), Some(status)) = (words.next(), words.next()) else {
        return Err(ArgError::Usage);
    };
    let status = [
        Status::Imprisoned,
        Status::Released,
        Status::Sentenced,
        Status::Transferred,
        Status::Unknown,
    ]
    .into_iter()
    .find(|s| s.code() == status)
    .ok_or(ArgError::Usage)?;
    let rest: Vec<&str> = words.collect();
    let (since, note_words) = match rest.first() {
        Some(word) if word.starts_with(|c: char| c.is_ascii_digit()) => {
            let date = parse_date(word).map_err(|_| ArgError::BadDate(word.to_string()))?;
            (Some(date), &rest[1..])
        }
        _ => (None, &rest[..]),
    };
    let note = Some(note_words.join(" ")).filter(|n| !n.is_empty());
    Ok(ContentEdit::Prisoner { id: id.to_string(), status, since, note })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::PartialDate;
    use proptest::prelude::*;

    #[test]
    fn prisoner_arguments_are_read_or_refused_clearly() {
        let edit = prisoner_edit("ulvi-hasanli released 2026-11 Freed on bail").unwrap();
        let since = Some(PartialDate { year: 2026, month: Some(11), day: None });
        let note = Some("Freed on bail".to_string());
        let (id, status) = ("ulvi-hasanli".to_string(), Status::Released);
        assert_eq!(edit, ContentEdit::Prisoner { id, status, since, note });
        let edit = prisoner_edit("x sentenced to 9 years").unwrap();
        assert!(
            matches!(edit, ContentEdit::Prisoner { since: None, note: Some(n), .. } if n == "to 9 years")
        );
        assert_eq!(prisoner_edit("x"), Err(ArgError::Usage));
        assert_eq!(prisoner_edit("x freed"), Err(ArgError::Usage));
        assert_eq!(prisoner_edit("x released 2026-13"), Err(ArgError::BadDate("2026-13".into())));
        assert_eq!(prisoner_edit("x released 9 years"), Err(ArgError::BadDate("9".into())));
    }

    proptest! {
        #[test]
        fn prisoner_arguments_never_panic(text in "/?[a-z]{0,14}(@[a-z_]{0,12})? ?.{0,80}") {
            let _ = prisoner_edit(&text);
        }

        #[test]
        fn well_formed_prisoner_arguments_are_read_back(
            id in "[a-z][a-z0-9-]{0,20}",
            status in prop::sample::select(vec!["imprisoned", "released", "sentenced", "transferred", "unknown"]),
            year in 1900u16..=2100,
            month in proptest::option::of(1u8..=12),
            note in "( [^ \\s0-9][^\\s]{0,8}){0,4}",
        ) {
            let date = match month {
                Some(m) => format!("{year}-{m:02}"),
                None => year.to_string(),
            };
            let edit = prisoner_edit(&format!("{id} {status} {date}{note}")).unwrap();
            let ContentEdit::Prisoner { id: got_id, status: got_status, since, note: got_note } = edit else {
                panic!("not a prisoner edit");
            };
            prop_assert_eq!(got_id, id);
            prop_assert_eq!(got_status.code(), status);
            prop_assert_eq!(since, Some(PartialDate { year, month, day: None }));
            prop_assert_eq!(got_note.unwrap_or_default(), note.trim());
        }
    }
}
