//! Content edits made from Telegram, applied or dropped as a whole: `messages/` plus every
//! stored edit must check together, or nothing changes. (How the content is imported at
//! start-up is `import.rs`.)

use super::{error::AppError, tribune::Tribune};
use crate::{
    content::{self, ContentEdit, Corpus, Problem},
    store::{PrisonerChange, StoredEdit},
};

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
