//! The running service, independent of transport: the store, the current content, and
//! the choices that need both (which language a chat reads in).

use crate::{
    content::{self, Corpus, Lang},
    schedule::{self, Clock},
    store::{Store, StoreError},
    subscription::{Change, ChatKind, Frequency, Subscription},
};
use std::{
    path::Path,
    sync::{Arc, RwLock},
};
use tokio::sync::Notify;

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
    clock: Clock,
    /// Woken whenever a due time may have moved earlier, so the scheduler re-reads the index.
    schedule_changed: Notify,
    operators: Vec<i64>,
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
        let tribune = Tribune {
            store,
            corpus: RwLock::new(Arc::new(corpus)),
            clock: Clock::System,
            schedule_changed: Notify::new(),
            operators: Vec::new(),
        };
        Ok((tribune, source))
    }

    /// Uses another clock (tests move a manual one).
    pub fn with_clock(mut self, clock: Clock) -> Tribune {
        self.clock = clock;
        self
    }

    /// The Telegram user ids of the organisation's operators.
    pub fn with_operators(mut self, operators: Vec<i64>) -> Tribune {
        self.operators = operators;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn operators(&self) -> &[i64] {
        &self.operators
    }

    pub fn schedule_changed(&self) -> &Notify {
        &self.schedule_changed
    }

    /// Subscribes a chat (or resumes its digests), keeping any settings it had.
    pub fn subscribe(
        &self,
        chat_id: i64,
        kind: ChatKind,
        lang: Lang,
    ) -> Result<Subscription, AppError> {
        let mut sub = self
            .store
            .subscription(chat_id)?
            .unwrap_or_else(|| Subscription::new(chat_id, kind, lang));
        sub.active = true;
        if sub.frequency == Frequency::Off {
            sub.frequency = Frequency::Daily;
        }
        self.reschedule(&mut sub)?;
        Ok(sub)
    }

    /// Applies one settings change; `None` when the chat has no subscription.
    pub fn change_subscription(
        &self,
        chat_id: i64,
        change: Change,
    ) -> Result<Option<Subscription>, AppError> {
        let Some(mut sub) = self.store.subscription(chat_id)? else { return Ok(None) };
        change.apply(&mut sub);
        self.reschedule(&mut sub)?;
        Ok(Some(sub))
    }

    /// Registers a channel the bot may post in, with digests off until an administrator sets
    /// them up; reactivates one that was deactivated. Returns whether anything changed.
    pub fn register_channel(&self, chat_id: i64) -> Result<bool, AppError> {
        match self.store.subscription(chat_id)? {
            Some(sub) if sub.active => Ok(false),
            Some(mut sub) => {
                sub.active = true;
                self.reschedule(&mut sub)?;
                Ok(true)
            }
            None => {
                let mut sub = Subscription::new(chat_id, ChatKind::Channel, Lang::En);
                sub.frequency = Frequency::Off;
                self.reschedule(&mut sub)?;
                Ok(true)
            }
        }
    }

    /// Computes the next due time from now and saves, durably.
    fn reschedule(&self, sub: &mut Subscription) -> Result<(), AppError> {
        sub.next_due = if sub.receives_digests() {
            schedule::next_due(sub.frequency, sub.time, sub.zone, self.clock.now())
                .map(|t| t.timestamp())
        } else {
            None
        };
        self.store.save_subscription(sub)?;
        self.schedule_changed.notify_one();
        Ok(())
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
        assert_eq!(sync_content(&store, &messages).unwrap().1, ContentSource::Imported);
        assert_eq!(sync_content(&store, &messages).unwrap().1, ContentSource::Unchanged);
        let slogans = messages.join("slogans.toml");
        let edited =
            std::fs::read_to_string(&slogans).unwrap() + "\n# a comment changes the fingerprint\n";
        std::fs::write(&slogans, edited).unwrap();
        assert_eq!(sync_content(&store, &messages).unwrap().1, ContentSource::Imported);
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
