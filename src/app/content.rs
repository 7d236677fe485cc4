//! The content being served: `messages/` with the operators' edits from Telegram on top,
//! imported into the store when either changed, and edits applied or dropped as a whole (the
//! files plus every edit must check together, or nothing changes).

use super::tribune::{AppError, ContentSource, Tribune};
use crate::{
    content::{self, ContentEdit, Corpus, Problem},
    store::{PrisonerChange, Store, StoredEdit},
};
use std::path::Path;

impl Tribune {
    /// Applies a content edit made from Telegram: `messages/` plus every stored edit plus this
    /// one must parse and check as a whole, else nothing changes and the problems are returned
    /// (with file and line). On success the edit and the new content are stored durably and
    /// served at once; the prisoner-status changes it made are returned for alerts.
    pub(super) fn apply_edit(
        &self,
        operator: i64,
        edit: ContentEdit,
    ) -> Result<Result<Vec<PrisonerChange>, Vec<Problem>>, AppError> {
        let _editing = self.editing.lock().unwrap_or_else(|p| p.into_inner());
        let mut edits: Vec<ContentEdit> =
            self.store.edits()?.into_iter().map(|(_, e)| e.edit).collect();
        edits.push(edit.clone());
        let (corpus, hash) = match self.combined(&edits)? {
            Ok(done) => done,
            Err(problems) => return Ok(Err(problems)),
        };
        let now = self.clock.unix();
        let stored = StoredEdit { at: now, operator, edit };
        let (_, changes) = self.store.save_edit(&stored, &corpus, hash, now)?;
        self.set_corpus(corpus);
        Ok(Ok(changes))
    }

    /// Removes a stored edit (by its number in `/edits`), serving the content without it.
    /// `Ok(Err(..))` when the rest no longer checks without it; `Ok(Ok(None))` when there is no
    /// such edit.
    pub(super) fn drop_edit(
        &self,
        seq: u64,
    ) -> Result<Result<Option<Vec<PrisonerChange>>, Vec<Problem>>, AppError> {
        let _editing = self.editing.lock().unwrap_or_else(|p| p.into_inner());
        let all = self.store.edits()?;
        if !all.iter().any(|(s, _)| *s == seq) {
            return Ok(Ok(None));
        }
        let edits: Vec<ContentEdit> =
            all.into_iter().filter(|(s, _)| *s != seq).map(|(_, e)| e.edit).collect();
        let (corpus, hash) = match self.combined(&edits)? {
            Ok(done) => done,
            Err(problems) => return Ok(Err(problems)),
        };
        let changes = self.store.drop_edit(seq, &corpus, hash, self.clock.unix())?;
        self.set_corpus(corpus);
        Ok(Ok(Some(changes)))
    }

    fn combined(
        &self,
        edits: &[ContentEdit],
    ) -> Result<Result<(Corpus, u64), Vec<Problem>>, AppError> {
        let files = match content::parse::read_files(&self.messages_dir) {
            Ok(files) => files,
            Err(content::ContentError::Invalid(problems)) => return Ok(Err(problems)),
            Err(e) => return Err(AppError::NoContent(e)),
        };
        Ok(content::edits::apply(&files, edits))
    }
}

/// Imports `messages_dir`, with the operators' stored edits on top, into the store when either
/// changed (stamping the prisoner-status changes `now`); returns the content to serve.
pub fn sync_content(
    store: &Store,
    messages_dir: &Path,
    now: i64,
) -> Result<(Corpus, ContentSource), AppError> {
    let edits: Vec<ContentEdit> = store.edits()?.into_iter().map(|(_, e)| e.edit).collect();
    let combined = content::parse::read_files(messages_dir).and_then(|files| {
        content::edits::apply(&files, &edits).map_err(content::ContentError::Invalid)
    });
    match combined {
        Ok((corpus, hash)) => {
            if store.content_hash()? == Some(hash)
                && let Some((stored, _)) = store.corpus()?
            {
                return Ok((stored, ContentSource::Unchanged));
            }
            store.import(&corpus, hash, now)?;
            log::info!(
                "imported content: {} statements, {} slogans, {} prisoners ({} edit(s) from Telegram on top)",
                corpus.statements.len(),
                corpus.slogans.len(),
                corpus.prisoners.len(),
                edits.len()
            );
            Ok((corpus, ContentSource::Imported))
        }
        Err(error) => match store.corpus()? {
            Some((corpus, _)) => {
                log::error!(
                    "content in {} (with {} edit(s) made from Telegram) is not valid; serving the previous content. {error}",
                    messages_dir.display(),
                    edits.len()
                );
                Ok((corpus, ContentSource::KeptPrevious))
            }
            None => Err(AppError::NoContent(error)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_messages(to: &Path) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
        for sub in ["", "statements", "ui"] {
            std::fs::create_dir_all(to.join(sub)).unwrap();
            for entry in std::fs::read_dir(from.join(sub)).unwrap().flatten() {
                if entry.file_type().unwrap().is_file() {
                    std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
                }
            }
        }
    }

    #[test]
    fn imports_once_then_only_when_files_change() {
        let dir = tempfile::tempdir().unwrap();
        let messages = dir.path().join("messages");
        copy_messages(&messages);
        let store = Store::open(&dir.path().join("data")).unwrap();
        assert_eq!(sync_content(&store, &messages, 0).unwrap().1, ContentSource::Imported);
        assert_eq!(sync_content(&store, &messages, 0).unwrap().1, ContentSource::Unchanged);
        let slogans = messages.join("slogans.toml");
        let edited =
            std::fs::read_to_string(&slogans).unwrap() + "\n# a comment changes the fingerprint\n";
        std::fs::write(&slogans, edited).unwrap();
        assert_eq!(sync_content(&store, &messages, 0).unwrap().1, ContentSource::Imported);
    }

    #[test]
    fn broken_files_keep_the_previous_content() {
        let dir = tempfile::tempdir().unwrap();
        let messages = dir.path().join("messages");
        copy_messages(&messages);
        let data = dir.path().join("data");
        // The first instance is dropped (closing the store) before the second opens it.
        let before = {
            let (app, source) = Tribune::open(&data, &messages).unwrap();
            assert_eq!(source, ContentSource::Imported);
            app.corpus()
        };
        std::fs::write(messages.join("prisoners.toml"), "[[prisoner]]\nid = \"broken\"\n").unwrap();
        let (app, source) = Tribune::open(&data, &messages).unwrap();
        assert_eq!(source, ContentSource::KeptPrevious);
        assert_eq!(*app.corpus(), *before);
    }

    #[test]
    fn broken_files_with_an_empty_store_are_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let messages = dir.path().join("messages");
        copy_messages(&messages);
        std::fs::write(messages.join("slogans.toml"), "[[slogan]]\nid = 5\n").unwrap();
        let error =
            Tribune::open(&dir.path().join("data"), &messages).err().expect("no content to serve");
        let text = error.to_string();
        assert!(
            text.starts_with("no content to serve: 1 problem(s) in the content:\nslogans.toml:2:"),
            "{text}"
        );
    }
}
