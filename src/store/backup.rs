//! Whole-store backups: every tree at one point in time, in one checksummed file, and a
//! restore that builds a fresh store beside the old one and swaps it in.
//!
//! File layout (integers big-endian):
//! ```text
//! "TRIBBAK\n"  format u32  schema u32  created_at i64  next_id u64  body_len u64
//! body: trees u32, then per tree: name_len u32 name  entries u64, then per entry:
//!       key_len u32 key  value_len u32 value
//! crc32 u32 of everything before it
//! ```
//! `next_id` is above every id the store handed out, so a restored store never reuses an
//! outbox sequence or an edition number (see `ID_BASE_KEY`).
//!
//! Reader data is in the trees as sled holds it, sealed (see `seal.rs`). The keyring file
//! travels as one more "tree", [`KEYRING_TREE`], holding its bytes: epoch keys wrapped by the
//! master key, which the backup never holds. A restore checks the key against the keyring's
//! canary before it writes anything, and writes the keyring as the file it is, never into
//! sled.

use super::{ID_BASE_KEY, Result, SCHEMA_VERSION, Store, StoreError};
use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

const MAGIC: &[u8; 8] = b"TRIBBAK\n";
/// The pseudo-tree that carries the keyring file (no sled tree has this name).
pub const KEYRING_TREE: &[u8] = b"\0keyring file";
/// The backup file format this build writes and reads.
pub const FORMAT: u32 = 1;
const HEADER: usize = 8 + 4 + 4 + 8 + 8 + 8;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path} is not a Tribune backup")]
    NotABackup { path: String },
    #[error(
        "{path} is a backup in format {found}; this build reads format {FORMAT}: use a newer Tribune"
    )]
    NewerFormat { path: String, found: u32 },
    #[error(
        "{path} holds a store of schema {found}; this build knows schema {SCHEMA_VERSION}: use a newer Tribune"
    )]
    NewerSchema { path: String, found: u32 },
    #[error("{path} is damaged ({why}); nothing was changed")]
    Damaged { path: String, why: String },
    #[error("cannot {what} {path}: {source}")]
    Io { what: &'static str, path: String, source: std::io::Error },
    #[error(
        "a Tribune is running on {dir}: stop it before restoring (a backup can be taken while it runs)"
    )]
    InUse { dir: String },
    #[error("cannot restore into {dir}: {why}")]
    Target { dir: String, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A tree's (key, value) entries, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every tree of a store at one point in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub schema: u32,
    pub created_at: i64,
    pub next_id: u64,
    /// (tree name, entries in key order).
    pub trees: Vec<(Vec<u8>, Entries)>,
}

/// What a backup holds, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub trees: usize,
    pub entries: usize,
    pub subscriptions: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} subscriptions, {} entries in {} trees, {} bytes",
            self.subscriptions, self.entries, self.trees, self.bytes
        )
    }
}

impl Store {
    /// Copies every tree while no write runs (see the write gate).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let _hold = self.gate.exclusive();
        let mut trees = Vec::new();
        let mut names = self.db.tree_names();
        names.sort();
        for name in names {
            let tree = self.db.open_tree(&name)?;
            let mut entries = Vec::new();
            for entry in tree.iter() {
                let (key, value) = entry?;
                entries.push((key.to_vec(), value.to_vec()));
            }
            trees.push((name.to_vec(), entries));
        }
        let keyring = self.keys().encode();
        trees.push((
            KEYRING_TREE.to_vec(),
            vec![(super::keyring::FILE.as_bytes().to_vec(), keyring)],
        ));
        Ok(Snapshot {
            schema: SCHEMA_VERSION,
            created_at: super::unix_now(),
            next_id: self.next_id()? + 1,
            trees,
        })
    }

    /// Writes a consistent backup to `path`: a temporary file beside it, readable only by its
    /// owner (it holds chat ids), synced, then renamed into place.
    pub fn write_backup(&self, path: &Path) -> std::result::Result<Summary, BackupError> {
        let snapshot = self.snapshot()?;
        let bytes = snapshot.encode();
        write_file(path, &bytes)?;
        Ok(snapshot.summary(bytes.len() as u64))
    }
}

impl Snapshot {
    /// The entries of one tree (empty when the store had no such tree).
    pub fn tree(&self, name: &str) -> &[(Vec<u8>, Vec<u8>)] {
        self.trees.iter().find(|(n, _)| n == name.as_bytes()).map_or(&[], |(_, e)| e.as_slice())
    }

    /// The subscriptions the backup holds, opened with `secret` (for checks and tests; a
    /// backup made before encryption holds them in the clear).
    pub fn subscriptions(
        &self,
        secret: &super::Secret,
    ) -> std::result::Result<Vec<crate::subscription::Subscription>, BackupError> {
        let keyring =
            self.keyring().map(|k| super::keyring::Keyring::decode(k, secret)).transpose()?;
        let mut subs = Vec::new();
        for (key, value) in self.tree(super::SUBS) {
            let plain = match &keyring {
                None => Some(value.clone()),
                Some(keyring) => super::seal::epoch_of(value)
                    .and_then(|id| keyring.epoch(id))
                    .and_then(|epoch| epoch.open(super::SUBS, key, value)),
            };
            let plain = plain.ok_or_else(|| StoreError::Corrupt("a sealed subscription".into()))?;
            subs.push(super::from_json(&plain, "subscription")?);
        }
        Ok(subs)
    }

    /// The keyring file the backup carries (none in a backup made before encryption).
    pub fn keyring(&self) -> Option<&[u8]> {
        self.tree(std::str::from_utf8(KEYRING_TREE).unwrap_or_default())
            .first()
            .map(|(_, bytes)| bytes.as_slice())
    }

    pub fn summary(&self, bytes: u64) -> Summary {
        Summary {
            bytes,
            trees: self.trees.iter().filter(|(n, _)| n != KEYRING_TREE).count(),
            entries: self
                .trees
                .iter()
                .filter(|(n, _)| n != KEYRING_TREE)
                .map(|(_, e)| e.len())
                .sum(),
            subscriptions: self.tree("subs").len(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_u32(&mut body, self.trees.len() as u32);
        for (name, entries) in &self.trees {
            put_bytes(&mut body, name);
            body.extend_from_slice(&(entries.len() as u64).to_be_bytes());
            for (key, value) in entries {
                put_bytes(&mut body, key);
                put_bytes(&mut body, value);
            }
        }
        let mut out = Vec::with_capacity(HEADER + body.len() + 4);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT);
        put_u32(&mut out, self.schema);
        out.extend_from_slice(&self.created_at.to_be_bytes());
        out.extend_from_slice(&self.next_id.to_be_bytes());
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        out.extend_from_slice(&body);
        let crc = crc32fast::hash(&out);
        put_u32(&mut out, crc);
        out
    }

    /// Checks and decodes a whole backup; `path` names it in errors.
    pub fn decode(raw: &[u8], path: &str) -> std::result::Result<Snapshot, BackupError> {
        let damaged = |why: String| BackupError::Damaged { path: path.to_string(), why };
        if raw.len() < MAGIC.len() || &raw[..MAGIC.len()] != MAGIC {
            return Err(BackupError::NotABackup { path: path.to_string() });
        }
        if raw.len() < HEADER + 4 {
            return Err(damaged(format!("cut short at {} bytes", raw.len())));
        }
        let format = super::u32_at(raw, 8);
        if format > FORMAT {
            return Err(BackupError::NewerFormat { path: path.to_string(), found: format });
        }
        let body_len = super::u64_at(raw, 32);
        let expected = (HEADER as u64).saturating_add(body_len).saturating_add(4);
        if raw.len() as u64 != expected {
            return Err(damaged(format!(
                "{} bytes where the header promises {expected}: cut short or extended",
                raw.len()
            )));
        }
        let (content, crc) = raw.split_at(raw.len() - 4);
        if crc32fast::hash(content) != super::u32_at(crc, 0) {
            return Err(damaged("checksum mismatch".into()));
        }
        let schema = super::u32_at(raw, 12);
        if schema > SCHEMA_VERSION {
            return Err(BackupError::NewerSchema { path: path.to_string(), found: schema });
        }
        let mut reader = Reader { raw: &content[HEADER..], at: 0 };
        let trees = reader.trees().ok_or_else(|| damaged("its contents do not parse".into()))?;
        if reader.at != reader.raw.len() {
            return Err(damaged("unexpected bytes after the last tree".into()));
        }
        Ok(Snapshot {
            schema,
            created_at: super::i64_at(raw, 16),
            next_id: super::u64_at(raw, 24),
            trees,
        })
    }
}

/// Reads and fully validates a backup file.
pub fn read(path: &Path) -> std::result::Result<Snapshot, BackupError> {
    let shown = path.display().to_string();
    let raw = std::fs::read(path).map_err(|source| BackupError::Io {
        what: "read",
        path: shown.clone(),
        source,
    })?;
    Snapshot::decode(&raw, &shown)
}

/// Replaces the store in `dir` with `snapshot`. The new store is built and checked in a
/// fresh directory beside `dir`, then swapped in; the old one is kept as
/// `<dir>.before-restore-<timestamp>` (returned), so nothing is ever half restored.
pub fn restore(
    snapshot: &Snapshot,
    dir: &Path,
    stamp: &str,
    secret: &super::Secret,
) -> std::result::Result<Option<PathBuf>, BackupError> {
    // The key first: a wrong one is said before anything is written.
    if let Some(keyring) = snapshot.keyring() {
        super::keyring::Keyring::decode(keyring, secret)?;
    }
    let shown = dir.display().to_string();
    let target = |why: &str| BackupError::Target { dir: shown.clone(), why: why.to_string() };
    let Some(name) = dir.file_name() else { return Err(target("it has no directory name")) };
    let sibling = |suffix: &str| {
        let mut name = name.to_os_string();
        name.push(suffix);
        dir.with_file_name(name)
    };
    let kept = sibling(&format!(".before-restore-{stamp}"));
    let building = sibling(&format!(".restoring-{stamp}"));
    if kept.exists() || building.exists() {
        return Err(target("a restore with the same timestamp is in the way; try again"));
    }
    // Held until the swap is done: a Tribune starting meanwhile finds the store locked.
    let _lock =
        super::open::hold_lock(dir).map_err(|()| BackupError::InUse { dir: shown.clone() })?;
    let io = |what: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| BackupError::Io { what, path, source }
    };
    if let Err(e) = build(snapshot, &building, secret) {
        let _ = std::fs::remove_dir_all(&building);
        return Err(e);
    }
    let existed = dir.exists();
    if existed {
        std::fs::rename(dir, &kept).map_err(io("move aside", dir))?;
    }
    if let Err(e) = std::fs::rename(&building, dir) {
        if existed {
            let _ = std::fs::rename(&kept, dir);
        }
        return Err(io("move the restored store into", dir)(e));
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(parent) = std::fs::File::open(parent)
    {
        let _ = parent.sync_all();
    }
    Ok(existed.then_some(kept))
}

/// Writes every tree into a new store at `dir` and checks it reopens with the same entries.
fn build(
    snapshot: &Snapshot,
    dir: &Path,
    secret: &super::Secret,
) -> std::result::Result<(), BackupError> {
    {
        let db = super::open::open_db(dir)?;
        if let Some(keyring) = snapshot.keyring() {
            super::keyring::write_atomically(dir, keyring)?;
        }
        for (name, entries) in &snapshot.trees {
            if name == KEYRING_TREE {
                continue;
            }
            let tree = db.open_tree(name).map_err(StoreError::from)?;
            let mut batch = sled::Batch::default();
            for (key, value) in entries {
                batch.insert(key.as_slice(), value.as_slice());
            }
            tree.apply_batch(batch).map_err(StoreError::from)?;
        }
        let meta = db.open_tree("meta").map_err(StoreError::from)?;
        meta.insert(ID_BASE_KEY, &snapshot.next_id.to_be_bytes()).map_err(StoreError::from)?;
        db.flush().map_err(StoreError::from)?;
    }
    let store = open_when_released(dir, secret)?;
    // Compare everything but the id base, the one value the restore itself adds.
    let comparable = |trees: &[(Vec<u8>, Entries)]| {
        let mut trees: Vec<_> = trees
            .iter()
            .map(|(name, entries)| {
                let mut entries = entries.clone();
                if name == b"meta" {
                    entries.retain(|(k, _)| k != ID_BASE_KEY);
                }
                // Re-wrapped with fresh nonces at each snapshot: compared by opening, above.
                if name == KEYRING_TREE {
                    entries.clear();
                }
                (name.clone(), entries)
            })
            .filter(|(_, entries)| !entries.is_empty())
            .collect();
        trees.sort();
        trees
    };
    // A backup made before encryption was sealed when the store opened: its entries changed.
    let sealed_now = snapshot.schema < SCHEMA_VERSION;
    if (!sealed_now && comparable(&store.snapshot()?.trees) != comparable(&snapshot.trees))
        || store.id_base != snapshot.next_id
    {
        return Err(BackupError::Target {
            dir: dir.display().to_string(),
            why: "the restored store does not read back as the backup".into(),
        });
    }
    store.flush()?;
    Ok(())
}

/// sled may hold its lock for a moment after the last handle is dropped.
fn open_when_released(dir: &Path, secret: &super::Secret) -> Result<Store> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match Store::open_keyed(dir, secret) {
            Err(StoreError::Open { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Writes backup bytes to `path`: a temporary file beside it, readable only by its owner (it
/// holds chat ids), synced, then renamed into place.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::result::Result<(), BackupError> {
    let shown = path.display().to_string();
    let io = |what: &'static str| {
        let path = shown.clone();
        move |source| BackupError::Io { what, path, source }
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The common mistake, said plainly (tempfile's own error repeats the path twice).
    std::fs::metadata(&parent).map_err(io("find the directory of"))?;
    // tempfile creates its files with mode 0600.
    let mut file = tempfile::Builder::new()
        .prefix(".tribune-backup-")
        .tempfile_in(&parent)
        .map_err(io("create a temporary file beside"))?;
    file.write_all(bytes).map_err(io("write"))?;
    file.as_file().sync_all().map_err(io("sync"))?;
    file.persist(path).map_err(|e| io("rename into")(e.error))?;
    if let Ok(parent) = std::fs::File::open(&parent) {
        let _ = parent.sync_all();
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.raw.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        self.take(n).map(<[u8]>::to_vec)
    }

    fn trees(&mut self) -> Option<Vec<(Vec<u8>, Entries)>> {
        let count = self.u32()?;
        let mut trees = Vec::new();
        for _ in 0..count {
            let name = self.bytes()?;
            let entries = self.u64()?;
            let mut list = Vec::new();
            for _ in 0..entries {
                list.push((self.bytes()?, self.bytes()?));
            }
            trees.push((name, list));
        }
        Some(trees)
    }
}

#[cfg(test)]
mod tests;
