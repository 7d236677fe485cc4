//! The content served at start-up: `messages/` with the operators' edits from Telegram on
//! top, imported into the store when either changed; broken files keep the previous content.

use super::error::AppError;
use crate::{
    content::{self, ContentEdit, Corpus},
    store::Store,
};
use std::path::Path;

/// How the content at start-up was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentSource {
    /// The files changed since the last import and were imported.
    Imported,
    /// The files are what the store already holds.
    Unchanged,
    /// The files are broken; the store's previous content is served.
    KeptPrevious,
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
