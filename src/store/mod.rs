//! The only code that touches sled: every tree, every key layout, the schema version.
//!
//! Trees and keys:
//! - `meta`: `schema_version` → u32 big-endian; `content_hash` → u64 big-endian.
//! - `content`: `corpus` → the whole [`Corpus`] as JSON (small: tens of kilobytes), so an
//!   import replaces it in one transaction together with its hash: a crash leaves either the
//!   old corpus or the new one, never half of each.
//! - `chats`: chat id as i64 big-endian → [`ChatSettings`] as JSON. Only what a chat chose;
//!   no names, no message texts.
//!
//! sled makes writes durable only after a flush, so every method that promises durability
//! (imports, settings, erasure) flushes before returning.

use crate::content::{Corpus, Lang};
use serde::{Deserialize, Serialize};
use sled::{Transactional, transaction::TransactionError};
use std::path::Path;

/// The layout version this build writes. Bump it with a migration when a layout changes.
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA_KEY: &[u8] = b"schema_version";
const HASH_KEY: &[u8] = b"content_hash";
const CORPUS_KEY: &[u8] = b"corpus";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the data directory {dir}: {source} (is another Tribune running on it?)")]
    Open { dir: String, source: sled::Error },
    #[error(
        "the data directory was written by a newer Tribune (schema {found}, this build knows {SCHEMA_VERSION})"
    )]
    NewerSchema { found: u32 },
    #[error("the data directory holds damaged data ({0}); restore it from a backup")]
    Corrupt(String),
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What Tribune keeps about one chat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatSettings {
    /// The language the chat chose with `/lang`; `None` means "follow Telegram's".
    #[serde(default)]
    pub lang: Option<Lang>,
}

/// The embedded database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    content: sled::Tree,
    chats: sled::Tree,
}

impl Store {
    /// Opens (or creates) the store in `dir`, checking the schema version.
    pub fn open(dir: &Path) -> Result<Store> {
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|source| StoreError::Open { dir: dir.display().to_string(), source })?;
        let store = Store {
            meta: db.open_tree("meta")?,
            content: db.open_tree("content")?,
            chats: db.open_tree("chats")?,
            db,
        };
        match store.meta.get(SCHEMA_KEY)? {
            None => {
                store.meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                store.db.flush()?;
            }
            Some(raw) => {
                let found = u32::from_be_bytes(
                    raw.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("schema version".into()))?,
                );
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema { found });
                }
            }
        }
        Ok(store)
    }

    /// The stored corpus and its content hash, if any was imported.
    pub fn corpus(&self) -> Result<Option<(Corpus, u64)>> {
        let Some(raw) = self.content.get(CORPUS_KEY)? else { return Ok(None) };
        let corpus: Corpus = serde_json::from_slice(&raw)
            .map_err(|e| StoreError::Corrupt(format!("stored content: {e}")))?;
        let hash = self
            .meta
            .get(HASH_KEY)?
            .and_then(|h| h.as_ref().try_into().ok())
            .map(u64::from_be_bytes);
        Ok(Some((corpus, hash.unwrap_or(0))))
    }

    /// The hash of the imported content, if any.
    pub fn content_hash(&self) -> Result<Option<u64>> {
        Ok(self
            .meta
            .get(HASH_KEY)?
            .and_then(|h| h.as_ref().try_into().ok())
            .map(u64::from_be_bytes))
    }

    /// Replaces the corpus atomically and durably.
    pub fn import(&self, corpus: &Corpus, hash: u64) -> Result<()> {
        let json = serde_json::to_vec(corpus).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        (&self.meta, &self.content)
            .transaction(|(meta, content)| {
                content.insert(CORPUS_KEY, json.as_slice())?;
                meta.insert(HASH_KEY, &hash.to_be_bytes())?;
                Ok(())
            })
            .map_err(|e: TransactionError<()>| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => StoreError::Corrupt("import aborted".into()),
            })?;
        self.db.flush()?;
        Ok(())
    }

    /// A chat's settings; defaults when it has none or they no longer parse (a reader is never
    /// locked out by old data).
    pub fn chat(&self, chat_id: i64) -> Result<ChatSettings> {
        Ok(match self.chats.get(chat_id.to_be_bytes())? {
            None => ChatSettings::default(),
            Some(raw) => serde_json::from_slice(&raw).unwrap_or_else(|e| {
                log::warn!("settings of one chat do not parse ({e}); using defaults");
                ChatSettings::default()
            }),
        })
    }

    /// Stores a chat's language, durably.
    pub fn set_chat_lang(&self, chat_id: i64, lang: Lang) -> Result<()> {
        let mut settings = self.chat(chat_id)?;
        settings.lang = Some(lang);
        let json = serde_json::to_vec(&settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.chats.insert(chat_id.to_be_bytes(), json)?;
        self.db.flush()?;
        Ok(())
    }

    /// Erases everything stored about a chat, durably.
    pub fn erase_chat(&self, chat_id: i64) -> Result<()> {
        self.chats.remove(chat_id.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// How many chats have stored settings.
    pub fn chat_count(&self) -> usize {
        self.chats.len()
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Ui;

    fn corpus(text: &str) -> Corpus {
        let slogan = crate::content::Slogan {
            id: "s".into(),
            statement: "x".into(),
            lang: Lang::En,
            text: text.into(),
        };
        Corpus {
            statements: Vec::new(),
            slogans: vec![slogan],
            prisoners: Vec::new(),
            ui: Ui::new(Default::default()),
        }
    }

    #[test]
    fn import_replaces_content_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert!(store.corpus().unwrap().is_none());
            store.import(&corpus("one"), 1).unwrap();
            store.import(&corpus("two"), 2).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let (stored, hash) = store.corpus().unwrap().unwrap();
        assert_eq!(stored.slogans[0].text, "two");
        assert_eq!(hash, 2);
    }

    #[test]
    fn chat_settings_are_kept_and_erased() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.chat(42).unwrap().lang, None);
        store.set_chat_lang(42, Lang::Ru).unwrap();
        store.set_chat_lang(-100, Lang::Az).unwrap();
        assert_eq!(store.chat(42).unwrap().lang, Some(Lang::Ru));
        store.erase_chat(42).unwrap();
        assert_eq!(store.chat(42).unwrap(), ChatSettings::default());
        assert_eq!(store.chat_count(), 1);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.meta.insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        assert!(matches!(Store::open(dir.path()), Err(StoreError::NewerSchema { .. })));
    }

    #[test]
    fn unreadable_settings_fall_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.chats.insert(7i64.to_be_bytes(), b"not json".to_vec()).unwrap();
        assert_eq!(store.chat(7).unwrap(), ChatSettings::default());
    }
}
