//! The running service, independent of transport: the store, the current content, and
//! the choices that need both (which language a chat reads in).

use crate::{
    content::{self, Corpus, Lang},
    store::{Store, StoreError},
};
use std::{
    path::Path,
    sync::{Arc, RwLock},
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no content to serve: {0}")]
    NoContent(content::ContentError),
}

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

/// Shared state of a running Tribune.
pub struct Tribune {
    store: Store,
    corpus: RwLock<Arc<Corpus>>,
}

impl Tribune {
    /// Opens the store and brings its content up to date with `messages_dir`.
    ///
    /// Broken files never take the bot down when the store has content: the error is logged
    /// with every `file:line` and the previous content is served.
    pub fn open(
        data_dir: &Path,
        messages_dir: &Path,
    ) -> Result<(Tribune, ContentSource), AppError> {
        let store = Store::open(data_dir)?;
        let (corpus, source) = sync_content(&store, messages_dir)?;
        Ok((Tribune { store, corpus: RwLock::new(Arc::new(corpus)) }, source))
    }

    /// The content being served now.
    pub fn corpus(&self) -> Arc<Corpus> {
        self.corpus.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The language a chat reads in: its own choice, else its Telegram language, else English.
    pub fn lang_for(&self, chat_id: i64, telegram_code: Option<&str>) -> Lang {
        match self.store.chat(chat_id) {
            Ok(settings) => settings.lang,
            Err(e) => {
                log::error!("cannot read chat settings: {e}");
                None
            }
        }
        .unwrap_or_else(|| Lang::from_telegram(telegram_code))
    }
}

/// Imports `messages_dir` into the store when it changed; returns the content to serve.
pub fn sync_content(
    store: &Store,
    messages_dir: &Path,
) -> Result<(Corpus, ContentSource), AppError> {
    match content::load_dir(messages_dir) {
        Ok(loaded) => {
            if store.content_hash()? == Some(loaded.hash)
                && let Some((corpus, _)) = store.corpus()?
            {
                return Ok((corpus, ContentSource::Unchanged));
            }
            store.import(&loaded.corpus, loaded.hash)?;
            log::info!(
                "imported content: {} statements, {} slogans, {} prisoners",
                loaded.corpus.statements.len(),
                loaded.corpus.slogans.len(),
                loaded.corpus.prisoners.len()
            );
            Ok((loaded.corpus, ContentSource::Imported))
        }
        Err(error) => match store.corpus()? {
            Some((corpus, _)) => {
                log::error!(
                    "content in {} is not valid; serving the previous content. {error}",
                    messages_dir.display()
                );
                Ok((corpus, ContentSource::KeptPrevious))
            }
            None => Err(AppError::NoContent(error)),
        },
    }
}
