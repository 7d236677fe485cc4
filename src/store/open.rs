//! Opening the store: refusing a directory that holds someone else's files, another program's
//! sled database, or files sled cannot read (each pointing to `tribune restore`), and checking
//! the schema version.

use super::{
    Result, SCHEMA_KEY, SCHEMA_VERSION, Store, StoreError, Trees, gate,
    keyring::{Keyring, Secret},
    retention,
};
use std::{
    path::Path,
    sync::{Arc, RwLock, atomic::AtomicBool},
};

/// How much memory sled may use for its page cache. sled's default (1 GiB) is far more than
/// a small server should give; the working set here is small. sled counts pages by their size
/// on disk, and holds several times that in memory: 16 MiB instead of 32 lowered the year
/// bench's peak by 28.5 MiB at day 61, with the fan-out ceiling unchanged (BENCHMARKS.md).
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

impl Store {
    /// Opens (or creates) the store in `dir` with the **public test key** (see
    /// [`Secret::public_test_key`]): for tests, benchmarks and the demo. `serve` and every
    /// command use [`Store::open_keyed`] with the operator's key.
    ///
    /// A store this process has just dropped can still be locked for a moment (a job of
    /// sled's thread pool lets go of the files last): a held lock is waited for, up to five
    /// seconds.
    #[doc(hidden)]
    pub fn open(dir: &Path) -> Result<Store> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match Store::open_keyed(dir, &Secret::public_test_key()) {
                Err(StoreError::Open { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                opened => return opened,
            }
        }
    }

    /// Opens (or creates) the store in `dir`, checking the schema version and that `secret`
    /// opens its keyring before anything is written. A store written without encryption
    /// (schema 1) is sealed here, resumably (see `migrate.rs`).
    pub fn open_keyed(dir: &Path, secret: &Secret) -> Result<Store> {
        refuse_foreign_files(dir)?;
        // The key is checked before sled opens (and writes) anything.
        let existing = if Keyring::exists(dir) { Some(Keyring::load(dir, secret)?) } else { None };
        // sled opens unreadable files as an empty database; data there before opening that
        // reads as no Tribune store at all is damage, not a fresh start.
        // The store's lock before `current` is read: no compaction elsewhere can change it
        // until this handle is dropped.
        let lock = lock_store(dir)?;
        let generation = super::layout::generation(dir);
        let files = super::layout::generation_dir(dir, generation);
        let had_data = std::fs::metadata(files.join("db")).is_ok_and(|m| m.len() > 0);
        let db = open_db(&files)?;
        // What a compaction left (see `compact.rs`) is nobody's.
        super::layout::tidy(dir, generation);
        let meta = db.open_tree("meta")?;
        if meta.get(SCHEMA_KEY)?.is_none() {
            // A sled database that is not ours: adopting it would mix its data with Tribune's.
            for name in db.tree_names() {
                if name != "meta" && !db.open_tree(&name)?.is_empty() {
                    let why = format!(
                        "it holds a database with a tree {:?}",
                        String::from_utf8_lossy(&name)
                    );
                    return Err(StoreError::Foreign { dir: dir.display().to_string(), why });
                }
            }
            if !meta.is_empty() || had_data {
                let what =
                    format!("sled's files in {} hold no readable Tribune store", dir.display());
                return Err(StoreError::Corrupt(what));
            }
        }
        let found = match meta.get(SCHEMA_KEY)? {
            None => None,
            Some(raw) => Some(u32::from_be_bytes(
                raw.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("schema version".into()))?,
            )),
        };
        if let Some(found) = found
            && found > SCHEMA_VERSION
        {
            return Err(StoreError::NewerSchema { found });
        }
        let keyring = match (existing, found) {
            (Some(keyring), _) => keyring,
            // New, or written before encryption: a keyring is made now.
            (None, None | Some(1)) => Keyring::create(dir, secret)?,
            (None, Some(_)) => return Err(StoreError::NoKeyring),
        };
        drop(meta);
        let store = Store {
            trees: Arc::new(RwLock::new(Arc::new(Trees::open(db)?))),
            gate: gate::Gate::default(),
            fail_writes: Arc::new(AtomicBool::new(false)),
            flush_failed: Arc::new(AtomicBool::new(false)),
            keyring: Arc::new(RwLock::new(keyring)),
            dir: dir.to_path_buf(),
            _lock: Arc::new(lock),
        };
        if found == Some(1) {
            store.migrate_from_plaintext()?;
        }
        store.finish_interrupted_rotation()?;
        if found.is_none() {
            // A new store has no chat deactivated before the `gone` index existed.
            store.t().meta.insert(retention::BACKFILL_CURSOR, retention::BACKFILLED)?;
        }
        if found != Some(SCHEMA_VERSION) {
            store.t().meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            store.t().db.flush()?;
        }
        Ok(store)
    }
}

/// Opens sled in `dir`, telling a held lock and damaged files apart.
pub(super) fn open_db(dir: &Path) -> Result<sled::Db> {
    open_db_with_cache(dir, CACHE_BYTES)
}

/// [`open_db`] with a page cache of `cache` bytes (a copy that only writes needs little).
pub(super) fn open_db_with_cache(dir: &Path, cache: u64) -> Result<sled::Db> {
    let opened =
        std::panic::catch_unwind(|| sled::Config::new().path(dir).cache_capacity(cache).open());
    let damaged = |why: String| {
        StoreError::Corrupt(format!("sled's files in {} do not read back: {why}", dir.display()))
    };
    let shown = dir.display().to_string();
    match opened {
        Ok(Ok(db)) => Ok(db),
        // sled reports a held lock as an I/O error of kind "other" naming the lock.
        Ok(Err(sled::Error::Io(e))) if e.to_string().contains("acquire lock") => {
            Err(StoreError::Open { dir: shown, source: sled::Error::Io(e) })
        }
        Ok(Err(sled::Error::Io(source))) => Err(StoreError::Unreadable { dir: shown, source }),
        Ok(Err(sled::Error::Corruption { .. })) => Err(damaged("sled found corrupted data".into())),
        Ok(Err(e)) => Err(damaged(e.to_string())),
        // sled panics on some kinds of garbage rather than returning an error.
        Err(_) => Err(damaged("sled gave up reading them".into())),
    }
}

/// A directory with files but without sled's `db` file is someone else's.
fn refuse_foreign_files(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    // `lost+found` is what a freshly formatted volume holds: the directory is still empty.
    // `tribune.lock` is made before anything else: an open refused later leaves only it.
    let occupied =
        entries.flatten().any(|e| e.file_name() != "lost+found" && e.file_name() != LOCK_FILE);
    if occupied && !super::sled_dir(dir).join("db").exists() {
        let why = "it already holds files that are not a Tribune store".to_string();
        return Err(StoreError::Foreign { dir: dir.display().to_string(), why });
    }
    Ok(())
}

/// Takes sled's lock on the store in `dir` without opening it, so no Tribune can start on it
/// while the returned file is held. `Err(())` when a process holds it; `Ok(None)` when there is
/// no store file to lock.
pub(super) fn hold_lock(dir: &Path) -> std::result::Result<Option<std::fs::File>, ()> {
    use fs2::FileExt;
    let mut held = None;
    // The store's lock, then sled's (a Tribune from before `tribune.lock` holds only sled's).
    for path in [dir.join(LOCK_FILE), super::sled_dir(dir).join("db")] {
        if let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(path) {
            file.try_lock_exclusive().map_err(|_| ())?;
            held.get_or_insert(file);
        }
    }
    Ok(held)
}

/// The file a process that has the store open keeps locked.
const LOCK_FILE: &str = "tribune.lock";

/// Creates (if need be) and locks `tribune.lock` in `dir`: refused as sled refuses a held lock.
fn lock_store(dir: &Path) -> Result<std::fs::File> {
    use fs2::FileExt;
    let path = dir.join(LOCK_FILE);
    let unreadable = |source| StoreError::Unreadable { dir: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(unreadable)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(unreadable)?;
    file.try_lock_exclusive().map_err(|e| StoreError::Open {
        dir: dir.display().to_string(),
        source: sled::Error::Io(std::io::Error::other(format!(
            "could not acquire lock on {}: {e}",
            path.display()
        ))),
    })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.t().meta.insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        assert!(matches!(Store::open(dir.path()), Err(StoreError::NewerSchema { .. })));
    }
}
