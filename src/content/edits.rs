//! Content edits made by operators from Telegram, and how they combine with `messages/`.
//!
//! **Precedence:** the content served is always `messages/` with the stored edits applied on
//! top, in the order they were made. Edits live in the store, so a restart (or a change to the
//! files) never drops them: an edited statement, an added slogan or a prisoner's new status
//! stays until an operator removes the edit (`/edits`). `tribune export` writes the combined
//! content, which is how edits are folded back into the files.

use super::{
    Corpus, Lang, PartialDate, Slogan, Status,
    export::slogan_entry,
    parse::{Problem, fingerprint, parse_files, parse_statement_file},
};
use serde::{Deserialize, Serialize};

/// One change an operator made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum ContentEdit {
    /// A statement file, added or replacing the statement with the same id.
    Statement { file: String, text: String },
    /// A slogan, added to `slogans.toml` (it must be word for word in its statement).
    Slogan { id: String, statement: String, lang: Lang, text: String },
    /// A prisoner's status changed; `since` and `note` replace the old ones when given.
    Prisoner { id: String, status: Status, since: Option<PartialDate>, note: Option<String> },
}

impl ContentEdit {
    /// A one-line description for operators (ids only, never long texts).
    pub fn describe(&self) -> String {
        match self {
            ContentEdit::Statement { file, .. } => format!("statement file {file}"),
            ContentEdit::Slogan { id, statement, .. } => format!("slogan {id} (from {statement})"),
            ContentEdit::Prisoner { id, status, since, .. } => match since {
                Some(since) => format!("prisoner {id}: {} since {since}", status.code()),
                None => format!("prisoner {id}: {}", status.code()),
            },
        }
    }
}

/// The content files with the edits applied, parsed and checked as a whole, and a fingerprint
/// that changes when either the files or the edits change.
pub fn apply(
    files: &[(String, String)],
    edits: &[ContentEdit],
) -> Result<(Corpus, u64), Vec<Problem>> {
    let mut files = files.to_vec();
    for edit in edits {
        match edit {
            ContentEdit::Statement { file, text } => {
                let id = parse_statement_file(file, text)?.id;
                files.retain(|(name, old)| {
                    !name.starts_with("statements/")
                        || (name != file
                            && parse_statement_file(name, old).map_or(true, |s| s.id != id))
                });
                files.push((file.clone(), text.clone()));
            }
            ContentEdit::Slogan { id, statement, lang, text } => {
                let slogan = Slogan {
                    id: id.clone(),
                    statement: statement.clone(),
                    lang: *lang,
                    text: text.clone(),
                };
                let toml = slogan_entry(&slogan);
                match files.iter_mut().find(|(name, _)| name == "slogans.toml") {
                    Some((_, old)) => {
                        old.push('\n');
                        old.push_str(&toml);
                    }
                    None => files.push(("slogans.toml".into(), toml)),
                }
            }
            ContentEdit::Prisoner { .. } => {}
        }
    }
    let mut corpus = parse_files(&files)?;
    for edit in edits {
        if let ContentEdit::Prisoner { id, status, since, note } = edit {
            let Some(prisoner) = corpus.prisoners.iter_mut().find(|p| p.id == *id) else {
                return Err(vec![Problem {
                    file: "prisoners.toml".into(),
                    line: 1,
                    message: format!("no prisoner with id {id:?}"),
                }]);
            };
            // A new status without a date is dated unknown: "released since <the arrest>"
            // would be false.
            if since.is_some() || prisoner.status != *status {
                prisoner.since = *since;
            }
            prisoner.status = *status;
            if let Some(note) = note {
                prisoner.note = Some(note.trim().to_string()).filter(|n| !n.is_empty());
            }
        }
    }
    // Without edits the fingerprint is the files' own (as `load_dir` gives it).
    let mut fingerprinted = files;
    if !edits.is_empty() {
        fingerprinted.push(("edits".into(), serde_json::to_string(edits).unwrap_or_default()));
    }
    Ok((corpus, fingerprint(&fingerprinted)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::parse::read_files;
    use std::path::Path;

    fn files() -> Vec<(String, String)> {
        read_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("messages")).unwrap()
    }

    fn statement_file(corpus_files: &[(String, String)], id: &str) -> (String, String) {
        corpus_files
            .iter()
            .find(|(n, t)| {
                n.starts_with("statements/") && parse_statement_file(n, t).is_ok_and(|s| s.id == id)
            })
            .cloned()
            .unwrap()
    }

    #[test]
    fn no_edits_is_the_files_themselves() {
        let files = files();
        let (corpus, hash) = apply(&files, &[]).unwrap();
        assert_eq!(corpus, parse_files(&files).unwrap());
        assert_eq!(hash, fingerprint(&files));
    }

    #[test]
    fn a_slogan_must_be_word_for_word() {
        let files = files();
        let (base, hash) = apply(&files, &[]).unwrap();
        let statement = base.statements[0].id.clone();
        let sentence = base.statements[0].paragraphs(Lang::En)[1].text.clone();
        let words: String = sentence.split(' ').take(5).collect::<Vec<_>>().join(" ");
        let good = ContentEdit::Slogan {
            id: "from-telegram".into(),
            statement: statement.clone(),
            lang: Lang::En,
            text: words.clone(),
        };
        let (corpus, new_hash) = apply(&files, std::slice::from_ref(&good)).unwrap();
        assert_ne!(hash, new_hash);
        assert_eq!(corpus.slogans.last().unwrap().text, words);
        let bad = ContentEdit::Slogan {
            id: "invented".into(),
            statement,
            lang: Lang::En,
            text: "Words nobody wrote \"quoted\" <b>".into(),
        };
        let problems = apply(&files, &[bad]).unwrap_err();
        assert!(problems[0].message.contains("not word for word"), "{problems:?}");
        assert_eq!(problems[0].file, "slogans.toml");
    }

    #[test]
    fn a_statement_replaces_the_one_with_its_id_and_a_prisoner_changes_status() {
        let files = files();
        let (base, _) = apply(&files, &[]).unwrap();
        let id = base.statements[0].id.clone();
        let (_, text) = statement_file(&files, &id);
        let text = text.replace(
            &base.statements[0].paragraphs(Lang::En)[0].text,
            "A corrected first paragraph.",
        );
        let prisoner = base.prisoners[0].id.clone();
        let edits = vec![
            ContentEdit::Statement { file: format!("statements/{id}.md"), text },
            ContentEdit::Prisoner {
                id: prisoner.clone(),
                status: Status::Released,
                since: None,
                note: Some("Released in November.".into()),
            },
        ];
        let (corpus, _) = apply(&files, &edits).unwrap();
        assert_eq!(corpus.statements.len(), base.statements.len());
        let edited = corpus.statement(&id).unwrap();
        assert_eq!(edited.paragraphs(Lang::En)[0].text, "A corrected first paragraph.");
        let p = corpus.prisoner(&prisoner).unwrap();
        assert_eq!(p.status, Status::Released);
        // The arrest date is not the release date: a new status without one is undated.
        assert!(base.prisoners[0].since.is_some());
        assert_eq!(p.since, None);
        assert_eq!(p.note.as_deref(), Some("Released in November."));
    }

    #[test]
    fn a_note_alone_keeps_the_status_and_its_date() {
        let files = files();
        let (base, _) = apply(&files, &[]).unwrap();
        let before = base.prisoners.iter().find(|p| p.since.is_some()).unwrap();
        let edit = ContentEdit::Prisoner {
            id: before.id.clone(),
            status: before.status,
            since: None,
            note: Some("Moved to another prison.".into()),
        };
        let (corpus, _) = apply(&files, &[edit]).unwrap();
        let after = corpus.prisoner(&before.id).unwrap();
        assert_eq!((after.status, after.since), (before.status, before.since));
        assert_eq!(after.note.as_deref(), Some("Moved to another prison."));
    }

    #[test]
    fn a_statement_from_telegram_must_still_spell_the_names_shown_to_readers() {
        let files = files();
        let (_, text) = statement_file(&files, "political-prisoners-appeal");
        // The uploaded text spells her name as the old card did: her quote, and her name as
        // shown, are no longer the statement's words.
        let text = text.replace("SevinjVagifgizi", "SevinjVagifqizi");
        let edit = ContentEdit::Statement {
            file: "statements/political-prisoners-appeal.md".into(),
            text,
        };
        let problems = apply(&files, &[edit]).unwrap_err();
        let name = problems
            .iter()
            .find(|p| p.message.starts_with("name \"Sevinj Vagifgizi\" is not how statement"))
            .unwrap_or_else(|| panic!("{problems:?}"));
        assert_eq!(name.file, "prisoners.toml");
        assert!(name.message.contains("write name = \"Sevinj Vagifqizi\""), "{name}");
        assert_eq!(name.line, entry_line(&files, "sevinj-vagifqizi") + 1);
    }

    /// The line of `id = "<id>"` in prisoners.toml.
    fn entry_line(files: &[(String, String)], id: &str) -> usize {
        let (_, text) = files.iter().find(|(n, _)| n == "prisoners.toml").unwrap();
        text.lines().position(|l| l == format!("id = {id:?}")).unwrap() + 1
    }

    #[test]
    fn a_broken_statement_is_reported_with_its_line() {
        let files = files();
        let edit = ContentEdit::Statement {
            file: "statements/upload.md".into(),
            text: "+++\nid = \"x\"\nkind = \"nonsense\"\n+++\n".into(),
        };
        let problems = apply(&files, &[edit]).unwrap_err();
        assert!(problems.iter().all(|p| p.file == "statements/upload.md"), "{problems:?}");
        assert!(problems.iter().any(|p| p.line >= 1), "{problems:?}");
    }

    #[test]
    fn an_unknown_prisoner_is_an_error() {
        let edit = ContentEdit::Prisoner {
            id: "nobody".into(),
            status: Status::Released,
            since: None,
            note: None,
        };
        assert!(apply(&files(), &[edit]).unwrap_err()[0].message.contains("nobody"));
    }
}
