//! The only code that touches sled: every tree, every key layout, the schema version.
//!
//! **Reader data is sealed** (schema 2): wherever a chat or person id would be part of a key,
//! `tag(id)` stands (16 bytes of HMAC-SHA-256 under the current epoch), and the values of the
//! reader trees are sealed with XChaCha20-Poly1305, bound to their tree and key (`seal.rs`).
//! Every key layout is a function of `keys.rs`; the epoch keys are in the `keyring` file
//! (`keyring.rs`), never in sled. Integers are big-endian, so iteration order is numeric order.
//!
//! Trees and keys ("sealed" values are `version ++ epoch ++ nonce ++ ciphertext`):
//! - `meta`: `schema_version` → u32; `content_hash` → u64; `alerted_through` → u64;
//!   `id_base` → u64, added to sled's id counter, set by a restore to above every id the
//!   backed-up store handed out (a fresh sled counts from 0 again), and by a compaction;
//!   `shred_pending` → set by `/stop` until the next key rotation (see `rotation.rs`);
//!   `compacted_size` → u64, the size of sled's files right after the last compaction
//!   (see `compact.rs`: sled's files live in a subdirectory once the store was compacted).
//! - `content`: `corpus` → the whole [`Corpus`] as JSON (small: tens of kilobytes), so an
//!   import replaces it in one transaction together with its hash: a crash leaves either the
//!   old corpus or the new one, never half of each. Public, not sealed.
//! - `chats`: tag(chat) → sealed chat id ++ [`ChatSettings`] as JSON. Only what a chat chose.
//! - `subs`: tag(chat) → sealed [`Subscription`](crate::subscription::Subscription) as JSON.
//! - `due`: due time (u64 Unix seconds) ++ tag(chat) → sealed chat id: the time-ordered index
//!   the scheduler reads, so finding who is due costs O(due), not O(subscribers).
//! - `gone`: deactivation time ++ tag(chat) (laid out as `due`) → sealed chat id: deactivated
//!   chats, oldest first, so erasing those past their grace period costs O(expired) (see
//!   `retention.rs`).
//! - `outbox`: sequence (u64) → sealed [`OutboxItem`]: one message to one chat, written and
//!   flushed before it is sent, removed only once Telegram confirmed it. `outbox_chats`:
//!   tag(chat) ++ sequence → empty, so `/stop` finds a chat's items without a scan.
//! - `deliveries`: edition ++ tag(chat) → sealed chat id ++ [`DeliveryRecord`] (Telegram
//!   message ids, outcome); `chat_editions`: tag(chat) ++ edition → empty, so `/stop` can
//!   erase a chat's records.
//! - `editions`: edition (u64) → [`Edition`] (kind, time; public); `dead`: sequence → sealed
//!   [`DeadLetter`], and `dead_chats`: tag(chat) ++ sequence → empty.
//! - `prisoner_log`: sequence → [`PrisonerChange`]: status changes, for digests and alerts.
//! - `audit`: sequence → sealed [`AuditEntry`]: what operators did (operator id, action, time).
//! - `edits`: sequence → sealed [`StoredEdit`]: content edits made from Telegram, applied on
//!   top of `messages/` in this order (see `content::edits` for the precedence).
//! - `drafts`: id → sealed [`Draft`](crate::broadcast::Draft): broadcasts being prepared or sent.
//! - `jobs`: edition → sealed [`Job`](crate::broadcast::Job): broadcasts, withdrawals,
//!   corrections.
//! - `stats`: counts only, never a chat id. `d` ++ day (u32, days since 1970-01-01 UTC) ++
//!   tally (u8: 0 sent, 1 failed, 2 retried, 3 deactivated) → u64, added by a merge operator;
//!   `s` ++ day → [`SubscriberCounts`] as JSON (one snapshot a day, from the first day
//!   Tribune ran with this tree); `last_sent` → u64 Unix seconds (merged by keeping the latest).
//! - `questions`: tag(chat) ++ tag(user) → sealed chat id ++ user id ++
//!   [`PendingQuestion`](crate::subscription::PendingQuestion) as JSON: "Other time…"/"Other
//!   zone…" waiting for the answer that person types in that chat. Expires (swept once a
//!   minute), erased with the chat or the person by `/stop`.
//!
//! No tree holds a name or a message a person wrote.
//!
//! sled makes writes durable only after a flush, so every method that promises durability
//! (imports, settings, erasure) flushes before returning.
//!
//! **Every method that writes takes `self.writing()?` first** (see `gate.rs`): a backup's
//! snapshot holds the gate exclusively, so it sees all trees at one point in time, and a
//! store whose writes fail refuses there with one clear error. Backups cover every tree sled
//! lists, so a new tree is backed up without further work (`backup.rs`).
//!
//! Besides sled's own files (`conf`, `db`, `blobs/`, `snap.*`; in `sled-<n>/`, named by the file
//! `current`, once the store was compacted: see `compact.rs`), the data directory holds
//! `keyring` (see `keyring.rs`), `tribune.lock` (held by the process that has the store open,
//! whichever directory sled's files are in) and `tribune.sock` while `serve` runs (see
//! `control.rs`). `open` refuses a non-empty directory without sled's `db` file, and a sled
//! database that is not Tribune's, rather than writing into either.

pub mod backup;
mod compact;
mod erase;
mod gate;
pub mod keyring;
pub mod keys;
mod layout;
mod migrate;
mod open;
mod operator;
mod outbox;
mod questions;
mod retention;
mod rotation;
pub mod seal;
mod stats;
mod subs;
#[cfg(test)]
mod testing;

pub use compact::Compaction;
pub use keyring::{KeyError, Secret};
pub use layout::sled_dir;
pub use operator::{AuditEntry, HandOver, LAUNCH_CHUNK, Launch, MakeItem, Resumed, StoredEdit};
pub use outbox::{
    DeadLetter, DeliveryOutcome, DeliveryRecord, Edition, EditionKind, Op, OutboxItem,
    PrisonerChange,
};
pub use retention::{Pruned, Retained};
pub use rotation::Rotation;
pub use stats::{DAY_SECS, DayDeliveries, SubscriberCensus, SubscriberCounts, Tally, day_of};
pub use subs::Committed;

use crate::content::{Corpus, Lang};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sled::{Transactional, transaction::TransactionError};
use std::sync::{
    Arc, RwLock,
    atomic::{AtomicBool, Ordering},
};

/// The layout version this build writes. Bump it with a migration when a layout changes.
/// 1: reader data in the clear; 2: sealed, with tags for ids (see `seal.rs`, `keys.rs`).
pub const SCHEMA_VERSION: u32 = 2;

// Tree names, which are also part of what every sealed value is bound to.
const CHATS: &str = "chats";
const SUBS: &str = "subs";
const DUE: &str = "due";
const GONE: &str = "gone";
const OUTBOX: &str = "outbox";
const OUTBOX_CHATS: &str = "outbox_chats";
const DELIVERIES: &str = "deliveries";
const CHAT_EDITIONS: &str = "chat_editions";
const DEAD: &str = "dead";
const DEAD_CHATS: &str = "dead_chats";
const AUDIT: &str = "audit";
const EDITS: &str = "edits";
const DRAFTS: &str = "drafts";
const JOBS: &str = "jobs";
const QUESTIONS: &str = "questions";

const SCHEMA_KEY: &[u8] = b"schema_version";
const HASH_KEY: &[u8] = b"content_hash";
const CORPUS_KEY: &[u8] = b"corpus";
const ID_BASE_KEY: &[u8] = b"id_base";
/// The size of sled's files right after the last compaction (see `compact.rs`).
const COMPACTED_SIZE_KEY: &[u8] = b"compacted_size";
/// What every error about damaged data ends with: the way out.
const RESTORE_HINT: &str = "restore it from a backup with `tribune restore FILE`";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the data directory {dir}: {source} (is another Tribune running on it?)")]
    Open { dir: String, source: sled::Error },
    #[error(
        "the data directory was written by a newer Tribune (schema {found}, this build knows {SCHEMA_VERSION}): run that version, or {RESTORE_HINT}"
    )]
    NewerSchema { found: u32 },
    #[error("the data directory holds damaged data ({0}); {RESTORE_HINT}")]
    Corrupt(String),
    #[error(
        "{dir} is not a Tribune data directory ({why}); Tribune will not write into it: set TRIBUNE_DATA_DIR to an empty or new directory, or {RESTORE_HINT}"
    )]
    Foreign { dir: String, why: String },
    #[error("cannot save changes: {0}")]
    Unwritable(String),
    #[error("cannot use the data directory {dir}: {source}")]
    Unreadable { dir: String, source: std::io::Error },
    #[error("storage error: {}", sled_text(.0))]
    Sled(#[from] sled::Error),
    #[error(
        "{var} holds the wrong key for this data directory (its keyring's canary does not open); nothing was written: use the key this store was made with, or {RESTORE_HINT} and its key"
    )]
    WrongKey { var: &'static str },
    #[error("{var}: {why}")]
    KeyKind { var: &'static str, why: &'static str },
    #[error(
        "the data directory's keyring file is damaged ({0}); without it reader data cannot be read: {RESTORE_HINT}"
    )]
    Keyring(String),
    #[error(
        "the data directory holds sealed reader data but no keyring file: {RESTORE_HINT} (the backup carries the keyring)"
    )]
    NoKeyring,
    #[error(transparent)]
    Key(#[from] KeyError),
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
    /// sled's database and its trees: replaced whole by a compaction (see `compact.rs`).
    trees: Arc<RwLock<Arc<Trees>>>,
    gate: gate::Gate,
    /// Set by [`Store::fail_writes_for_test`]: every write is refused as a failing disk would.
    fail_writes: Arc<AtomicBool>,
    /// Set once a flush failed (a full or failing disk): sled refuses every write after its
    /// first failed one, until the process restarts.
    flush_failed: Arc<AtomicBool>,
    /// The epoch keys reader data is sealed with (see `seal.rs`, `keyring.rs`).
    keyring: Arc<RwLock<keyring::Keyring>>,
    /// The data directory (where the keyring file is).
    dir: std::path::PathBuf,
    /// `tribune.lock` in it, locked while any handle of this store lives: sled's own lock is on
    /// the files of one generation, which a compaction replaces.
    _lock: Arc<std::fs::File>,
}

/// One sled database of the store, and its trees.
pub(super) struct Trees {
    db: sled::Db,
    id_base: u64,
    meta: sled::Tree,
    content: sled::Tree,
    chats: sled::Tree,
    subs: sled::Tree,
    due: sled::Tree,
    gone: sled::Tree,
    outbox: sled::Tree,
    deliveries: sled::Tree,
    chat_editions: sled::Tree,
    editions: sled::Tree,
    dead: sled::Tree,
    prisoner_log: sled::Tree,
    audit: sled::Tree,
    edits: sled::Tree,
    drafts: sled::Tree,
    jobs: sled::Tree,
    stats: sled::Tree,
    questions: sled::Tree,
    outbox_chats: sled::Tree,
    dead_chats: sled::Tree,
}

impl Trees {
    /// Every tree of `db`, opened; `id_base` from its `meta`.
    fn open(db: sled::Db) -> Result<Trees> {
        let meta = db.open_tree("meta")?;
        let id_base = match meta.get(ID_BASE_KEY)? {
            None => 0,
            Some(raw) => u64::from_be_bytes(
                raw.as_ref().try_into().map_err(|_| StoreError::Corrupt("id base".into()))?,
            ),
        };
        let trees = Trees {
            id_base,
            meta,
            content: db.open_tree("content")?,
            chats: db.open_tree("chats")?,
            subs: db.open_tree("subs")?,
            due: db.open_tree("due")?,
            gone: db.open_tree("gone")?,
            outbox: db.open_tree("outbox")?,
            deliveries: db.open_tree("deliveries")?,
            chat_editions: db.open_tree("chat_editions")?,
            editions: db.open_tree("editions")?,
            dead: db.open_tree("dead")?,
            prisoner_log: db.open_tree("prisoner_log")?,
            audit: db.open_tree("audit")?,
            edits: db.open_tree("edits")?,
            drafts: db.open_tree("drafts")?,
            jobs: db.open_tree("jobs")?,
            stats: db.open_tree("stats")?,
            questions: db.open_tree("questions")?,
            outbox_chats: db.open_tree(OUTBOX_CHATS)?,
            dead_chats: db.open_tree(DEAD_CHATS)?,
            db,
        };
        trees.stats.set_merge_operator(stats::merge);
        Ok(trees)
    }
}

impl Store {
    /// The database and its trees as they are now (a compaction replaces them whole).
    fn t(&self) -> Arc<Trees> {
        self.trees.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The stored corpus and its content hash, if any was imported.
    pub fn corpus(&self) -> Result<Option<(Corpus, u64)>> {
        let Some(raw) = self.t().content.get(CORPUS_KEY)? else { return Ok(None) };
        let corpus: Corpus = serde_json::from_slice(&raw)
            .map_err(|e| StoreError::Corrupt(format!("stored content: {e}")))?;
        let hash = self
            .t()
            .meta
            .get(HASH_KEY)?
            .and_then(|h| h.as_ref().try_into().ok())
            .map(u64::from_be_bytes);
        Ok(Some((corpus, hash.unwrap_or(0))))
    }

    /// The hash of the imported content, if any.
    pub fn content_hash(&self) -> Result<Option<u64>> {
        Ok(self
            .t()
            .meta
            .get(HASH_KEY)?
            .and_then(|h| h.as_ref().try_into().ok())
            .map(u64::from_be_bytes))
    }

    /// Replaces the corpus atomically and durably, logging every prisoner whose status changed
    /// (or who is new) in the same transaction, stamped `now` (Unix seconds, the caller's
    /// clock). Returns those changes.
    pub fn import(&self, corpus: &Corpus, hash: u64, now: i64) -> Result<Vec<PrisonerChange>> {
        let changes: Vec<PrisonerChange> = match self.corpus()? {
            // The first import is the baseline, not news.
            None => Vec::new(),
            Some((old, _)) => corpus
                .prisoners
                .iter()
                .filter_map(|p| {
                    let before = old.prisoner(&p.id).map(|o| o.status);
                    (before != Some(p.status)).then(|| PrisonerChange {
                        prisoner: p.id.clone(),
                        from: before,
                        to: p.status,
                        at: now,
                    })
                })
                .collect(),
        };
        let _writing = self.writing()?;
        let mut logged = Vec::with_capacity(changes.len());
        for change in &changes {
            logged.push((self.next_id()?, to_json(change)?));
        }
        let json = to_json(corpus)?;
        (&self.t().meta, &self.t().content, &self.t().prisoner_log)
            .transaction(|(meta, content, log)| {
                content.insert(CORPUS_KEY, json.as_slice())?;
                meta.insert(HASH_KEY, &hash.to_be_bytes())?;
                for (seq, raw) in &logged {
                    log.insert(&seq.to_be_bytes(), raw.as_slice())?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(changes)
    }

    /// A chat's settings; defaults when it has none or they no longer parse (a reader is never
    /// locked out by old data).
    pub fn chat(&self, chat_id: i64) -> Result<ChatSettings> {
        let (key, raw) = self.read_forwarded(chat_id, || {
            let key = keys::chat_key(&self.tag(chat_id));
            Ok((key, self.t().chats.get(key)?))
        })?;
        Ok(match raw {
            None => ChatSettings::default(),
            Some(raw) => self.open_chat_settings(&key, &raw).unwrap_or_else(|e| {
                log::warn!("settings of one chat do not read ({e}); using defaults");
                ChatSettings::default()
            }),
        })
    }

    /// Stores a chat's language, durably.
    pub fn set_chat_lang(&self, chat_id: i64, lang: Lang) -> Result<()> {
        let _writing = self.writing_for(&[chat_id])?;
        let mut settings = self.chat(chat_id)?;
        settings.lang = Some(lang);
        let key = keys::chat_key(&self.tag(chat_id));
        let sealed = self.seal_chat_settings(&key, chat_id, &settings)?;
        self.t().chats.insert(key, sealed)?;
        self.sync()?;
        Ok(())
    }

    /// A `chats` value: the chat id (so a key rotation can tag it anew) and the settings.
    fn seal_chat_settings(
        &self,
        key: &[u8],
        chat: i64,
        settings: &ChatSettings,
    ) -> Result<Vec<u8>> {
        let mut plain = chat.to_be_bytes().to_vec();
        plain.extend_from_slice(&to_json(settings)?);
        Ok(self.seal(CHATS, key, &plain))
    }

    fn open_chat_settings(&self, key: &[u8], raw: &[u8]) -> Result<ChatSettings> {
        let plain = self.open_sealed(CHATS, key, raw)?;
        from_json(plain.get(8..).unwrap_or_default(), "chat settings")
    }

    /// How many chats have stored settings.
    pub fn chat_count(&self) -> usize {
        self.t().chats.len()
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<()> {
        if self.fail_writes.load(Ordering::Relaxed) {
            return Err(StoreError::Unwritable("writes are switched off for a test".into()));
        }
        self.sync()
    }

    /// sled's flush, an fsync, which blocks for as long as the disk takes: see [`blocking`].
    fn sync(&self) -> Result<()> {
        if let Err(e) = blocking(|| self.t().db.flush()) {
            self.flush_failed.store(true, Ordering::Relaxed);
            return Err(e.into());
        }
        Ok(())
    }

    /// Whether a flush failed since the store was opened: nothing more can be saved until
    /// Tribune restarts (with space on the disk again). `/health` answers 503 then.
    pub fn cannot_save(&self) -> bool {
        self.flush_failed.load(Ordering::Relaxed)
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.t().db.size_on_disk()?)
    }

    /// The bytes of what the store holds, as sled counts its live pages (every page read, so
    /// not for a hot path): beside [`Store::size_on_disk`] it tells live data from the space
    /// sled has not reclaimed yet.
    pub fn live_bytes(&self) -> Result<u64> {
        let on_disk = self.t().db.size_on_disk()? as f64;
        // sled divides the file's size by the pages' size plus one segment (512 KiB).
        let amplification = self.t().db.space_amplification()?;
        if amplification.is_nan() || amplification <= 0.0 {
            return Ok(0);
        }
        Ok(((on_disk / amplification) as u64).saturating_sub(512 * 1024))
    }

    /// A fresh id, increasing across restarts (sled persists the counter) and restores
    /// (the id base).
    /// Below `u64::MAX`, so that the id after it (a snapshot's `next_id`) exists too. An id
    /// base near the top (a crafted backup's) would otherwise wrap ids back to small numbers,
    /// handed out before: an error instead.
    fn next_id(&self) -> Result<u64> {
        self.t()
            .db
            .generate_id()?
            .checked_add(self.t().id_base)
            .filter(|id| *id < u64::MAX)
            .ok_or_else(|| StoreError::Corrupt("ids are used up (the id base is too high)".into()))
    }

    /// The keyring, for reading (a poisoned lock still holds valid keys: every change to it
    /// is made on a copy and swapped in).
    fn keys(&self) -> std::sync::RwLockReadGuard<'_, keyring::Keyring> {
        self.keyring.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The lookup tag of a chat or person id under the current epoch.
    fn tag(&self, id: i64) -> keys::Tag {
        self.keys().current().tag(id)
    }

    /// Its tags under every epoch kept: the current one, and during a key rotation the old
    /// ones (for removals of index entries that may not have moved yet).
    fn tags(&self, id: i64) -> Vec<keys::Tag> {
        self.keys().epochs().iter().map(|e| e.tag(id)).collect()
    }

    /// Seals `plain` under the current epoch, bound to `tree` and `key`.
    fn seal(&self, tree: &str, key: &[u8], plain: &[u8]) -> Vec<u8> {
        self.keys().current().seal(tree, key, plain)
    }

    fn seal_json<T: Serialize>(&self, tree: &str, key: &[u8], value: &T) -> Result<Vec<u8>> {
        Ok(self.seal(tree, key, &to_json(value)?))
    }

    /// Opens a sealed value with the epoch its header names.
    fn open_sealed(&self, tree: &str, key: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let keys = self.keys();
        let epoch = seal::epoch_of(sealed).and_then(|id| keys.epoch(id));
        epoch.and_then(|e| e.open(tree, key, sealed)).ok_or_else(|| {
            StoreError::Corrupt(format!("a sealed record in {tree} does not open with the keyring"))
        })
    }

    fn open_json<T: DeserializeOwned>(
        &self,
        tree: &str,
        key: &[u8],
        sealed: &[u8],
        what: &str,
    ) -> Result<T> {
        from_json(&self.open_sealed(tree, key, sealed)?, what)
    }

    /// Holds off a backup's snapshot while a write runs; refuses when writes are failing.
    fn writing(&self) -> Result<gate::Shared<'_>> {
        if self.fail_writes.load(Ordering::Relaxed) {
            return Err(StoreError::Unwritable("writes are switched off for a test".into()));
        }
        Ok(self.gate.shared())
    }

    /// Fault injection for tests: while `true`, every write fails as on a full or broken
    /// disk (reads still work). A real disk error from sled surfaces the same way, as a
    /// [`StoreError`] from the write, but sled then refuses writes until restarted.
    #[doc(hidden)]
    pub fn fail_writes_for_test(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::Relaxed);
    }
}

/// sled's own text for an I/O error is the error's Debug form; say what happened instead.
/// After a failed write sled refuses every later one, so the way out includes a restart.
fn sled_text(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => format!(
            "the disk refused a write or read ({io}); free space or fix the disk, then restart Tribune"
        ),
        other => other.to_string(),
    }
}

/// The current time as Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(raw: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn u64_at(raw: &[u8], at: usize) -> u64 {
    raw.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

fn i64_at(raw: &[u8], at: usize) -> i64 {
    raw.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, i64::from_be_bytes)
}

/// Maps a transaction's error to ours (our closures abort with a `StoreError`).
fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Storage(e) => StoreError::Sled(e),
        TransactionError::Abort(e) => e,
    }
}

/// Runs `f`, which blocks (an fsync, a wait for a snapshot), without holding up the async
/// runtime: on a worker of a multi-threaded tokio runtime it runs in `block_in_place`, so the
/// runtime hands the worker's other tasks to another thread meanwhile and paced sends, long
/// polls and handlers go on. On a blocking thread, or outside a runtime, it simply blocks; on
/// a current-thread runtime (some tests) nothing could run meanwhile either way.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let on_worker =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    let result = if on_worker { tokio::task::block_in_place(f) } else { f() };
    release_deferred();
    result
}

/// Hands what this thread deferred freeing to the collector. sled frees its log buffers (512
/// KiB each) and old pages through crossbeam's epochs, and each thread keeps up to 64 such
/// frees until it touches sled again: a thread that goes idle after a burst of writes (a
/// blocking thread after a wait, a pass or a read of the outbox) kept them for as long as it
/// lived. With dozens of such threads the year bench's serving process held 595 MiB at day
/// 31; see BENCHMARKS.md, "year". Call it at the end of work done off the async workers.
pub fn release_deferred() {
    crossbeam_epoch::pin().flush();
}

#[cfg(test)]
mod tests;
