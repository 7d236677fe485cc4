//! Whole-store backups, streamed: every tree at one point in time written entry by entry into
//! one checksummed file, and a restore that checks the whole file, builds a fresh store beside
//! the old one from it, checks that store against the file, and swaps it in. Neither holds the
//! store in memory: memory stays flat whatever the number of readers (BENCHMARKS.md).
//!
//! File layout, format 2 (integers big-endian):
//! ```text
//! "TRIBBAK\n"  format u32  schema u32  created_at i64  next_id u64
//! then items, each opened by a tag byte:
//!   'T' name_len u32 name                     a tree: the entries that follow are its own
//!   'E' key_len u32 key  value_len u32 value  an entry, in key order
//!   'Z' trees u32  entries u64                the end, with the counts written
//! crc32 u32 of everything before it; nothing after
//! ```
//! Format 1 (read still, no longer written) had `body_len u64` after `next_id`, then the
//! number of trees, and per tree its name and number of entries before them.
//!
//! `next_id` is above every id the store handed out, so a restored store never reuses an
//! outbox sequence or an edition number (see `ID_BASE_KEY`).
//!
//! Reader data is in the trees as sled holds it, sealed (see `seal.rs`). The keyring file
//! travels as one more "tree", [`KEYRING_TREE`] (written first), holding its bytes: epoch
//! keys wrapped by the master key, which the backup never holds. A restore checks the whole
//! file, then the key against the keyring's canary, before it writes anything, and writes the
//! keyring as the file it is, never into sled. The counts at the end cover it; the
//! [`Summary`] shown to the operator does not.

use super::{COMPACTED_SIZE_KEY, ID_BASE_KEY, Result, SCHEMA_VERSION, Store, StoreError};
use std::{
    io::{BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
};

const MAGIC: &[u8; 8] = b"TRIBBAK\n";
/// The pseudo-tree that carries the keyring file (no sled tree has this name).
pub const KEYRING_TREE: &[u8] = b"\0keyring file";
/// The backup file format this build writes (it reads 1 too).
pub const FORMAT: u32 = 2;
/// Entries written to the new store between two flushes in a restore. sled 0.34 keeps what
/// a batch wrote in memory well past its flush: 80,000 entries cost 232 MiB in batches of
/// 20,000 and 77 MiB in batches of 1,000, and 400,000 in batches of 1,000 only 86 MiB
/// (BENCHMARKS.md, "million").
const RESTORE_BATCH: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path} is not a Tribune backup")]
    NotABackup { path: String },
    #[error(
        "{path} is a backup in format {found}; this build reads formats 1 to {FORMAT}: use a newer Tribune"
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

/// Every tree of a backup, read into memory: for tests and small stores only (the commands
/// stream).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub schema: u32,
    pub created_at: i64,
    pub next_id: u64,
    /// (tree name, entries in key order).
    pub trees: Vec<(Vec<u8>, Entries)>,
}

/// What a backup holds, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// A backup's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: u32,
    pub schema: u32,
    pub created_at: i64,
    pub next_id: u64,
}

/// One thing a backup holds, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A tree: the entries that follow are its own.
    Tree(Vec<u8>),
    /// One key and its value.
    Entry(Vec<u8>, Vec<u8>),
}

impl Store {
    /// Streams a consistent backup into `out`, which `shown` names in errors. Every tree is
    /// read while no write runs (the write gate): the bot's writes wait for the whole backup,
    /// seconds for a million readers, and go on after.
    pub fn backup_to(
        &self,
        out: impl Write,
        shown: &str,
    ) -> std::result::Result<Summary, BackupError> {
        let io = |source| BackupError::Io { what: "write", path: shown.to_string(), source };
        let mut out = Writer {
            inner: BufWriter::with_capacity(1 << 16, out),
            crc: Default::default(),
            bytes: 0,
        };
        let _hold = self.gate.exclusive();
        let mut names = self.t().db.tree_names();
        names.sort();
        let header = Header {
            format: FORMAT,
            schema: SCHEMA_VERSION,
            created_at: super::unix_now(),
            next_id: self.next_id()? + 1,
        };
        out.header(&header).map_err(io)?;
        // The keyring first, as it is now (a rotation waits for the gate, so it matches the
        // trees): wrapped by the master key, which is not written.
        out.tree(KEYRING_TREE).map_err(io)?;
        out.entry(super::keyring::FILE.as_bytes(), &self.keys().encode()).map_err(io)?;
        let mut summary = Summary::default();
        for name in names {
            let tree = self.t().db.open_tree(&name).map_err(StoreError::from)?;
            out.tree(&name).map_err(io)?;
            summary.trees += 1;
            let subs = name == b"subs";
            for entry in tree.iter() {
                let (key, value) = entry.map_err(StoreError::from)?;
                if of_these_files(&name, &key) {
                    continue;
                }
                out.entry(&key, &value).map_err(io)?;
                summary.entries += 1;
                summary.subscriptions += usize::from(subs);
            }
        }
        let (trees, entries) = (summary.trees as u32 + 1, summary.entries as u64 + 1);
        summary.bytes = out.finish(trees, entries).map_err(io)?;
        Ok(summary)
    }

    /// Writes a consistent backup to `path`: a temporary file beside it, readable only by its
    /// owner, synced, then renamed into place.
    pub fn write_backup(&self, path: &Path) -> std::result::Result<Summary, BackupError> {
        let shown = path.display().to_string();
        write_file_with(path, |file| self.backup_to(file, &shown))
    }

    /// Every tree at one point in time, in memory (tests; see [`Store::backup_to`]).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let mut raw = Vec::new();
        self.backup_to(&mut raw, "a snapshot").map_err(|e| match e {
            BackupError::Store(e) => e,
            other => StoreError::Corrupt(other.to_string()),
        })?;
        Snapshot::decode(&raw, "a snapshot").map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// Whether an entry describes this store's own files, not its data: the id base (the header
/// carries the next id instead) and the files' size after the last compaction. Not written
/// into a backup, not read back from one (backups of a compacted or restored store made
/// before this held them), and not compared after a restore.
fn of_these_files(tree: &[u8], key: &[u8]) -> bool {
    tree == b"meta" && (key == ID_BASE_KEY || key == COMPACTED_SIZE_KEY)
}

/// Writes the format, hashing as it goes.
struct Writer<W: Write> {
    inner: BufWriter<W>,
    crc: crc32fast::Hasher,
    bytes: u64,
}

impl<W: Write> Writer<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.bytes += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    fn put_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len =
            u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("an entry over 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(bytes)
    }

    fn header(&mut self, header: &Header) -> std::io::Result<()> {
        self.put(MAGIC)?;
        self.put(&header.format.to_be_bytes())?;
        self.put(&header.schema.to_be_bytes())?;
        self.put(&header.created_at.to_be_bytes())?;
        self.put(&header.next_id.to_be_bytes())
    }

    fn tree(&mut self, name: &[u8]) -> std::io::Result<()> {
        self.put(b"T")?;
        self.put_bytes(name)
    }

    fn entry(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.put(b"E")?;
        self.put_bytes(key)?;
        self.put_bytes(value)
    }

    /// The end, the counts and the checksum; returns the bytes written.
    fn finish(mut self, trees: u32, entries: u64) -> std::io::Result<u64> {
        self.put(b"Z")?;
        self.put(&trees.to_be_bytes())?;
        self.put(&entries.to_be_bytes())?;
        let crc = self.crc.clone().finalize();
        self.inner.write_all(&crc.to_be_bytes())?;
        self.inner.flush()?;
        Ok(self.bytes + 4)
    }
}

/// Reads a backup item by item, checking as it goes; the last item is followed by the checks
/// of the counts and the checksum, so a caller has the whole file checked once [`next_item`]
/// returned `None`. Total: any bytes give items or an error, never a panic, and a forged
/// length allocates only what the file really holds.
///
/// [`next_item`]: BackupReader::next_item
pub struct BackupReader<R: Read> {
    input: Hashing<R>,
    path: String,
    pub header: Header,
    state: State,
    trees: u32,
    entries: u64,
}

enum State {
    /// Format 1: what is left to read of the body.
    One {
        body_len: u64,
        body_start: u64,
        trees_left: u32,
        entries_left: u64,
    },
    Two,
    Done,
}

/// Why reading stopped.
enum Stop {
    /// The input ended.
    Eof,
    /// The bytes do not follow the format.
    Parse(&'static str),
    Io(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Stop {
        if e.kind() == std::io::ErrorKind::UnexpectedEof { Stop::Eof } else { Stop::Io(e) }
    }
}

impl<R: Read> BackupReader<R> {
    /// Reads and checks the header.
    pub fn new(input: R, path: &str) -> std::result::Result<BackupReader<R>, BackupError> {
        let mut input = Hashing::new(input);
        let not_a_backup = || BackupError::NotABackup { path: path.to_string() };
        let mut magic = [0; 8];
        match input.read_exact(&mut magic) {
            Ok(()) if &magic == MAGIC => {}
            Ok(()) => return Err(not_a_backup()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(not_a_backup()),
            Err(source) => {
                return Err(BackupError::Io { what: "read", path: path.to_string(), source });
            }
        }
        let mut reader = BackupReader {
            input,
            path: path.to_string(),
            header: Header { format: 0, schema: 0, created_at: 0, next_id: 0 },
            state: State::Two,
            trees: 0,
            entries: 0,
        };
        if let Err(stop) = reader.read_header() {
            return Err(reader.fail(stop));
        }
        if reader.header.schema > SCHEMA_VERSION {
            let found = reader.header.schema;
            return Err(BackupError::NewerSchema { path: path.to_string(), found });
        }
        Ok(reader)
    }

    fn read_header(&mut self) -> std::result::Result<(), Stop> {
        let format = self.input.u32()?;
        if format > FORMAT || format == 0 {
            self.header.format = format;
            return Err(Stop::Parse("format"));
        }
        self.header = Header {
            format,
            schema: self.input.u32()?,
            created_at: self.input.u64()? as i64,
            next_id: self.input.u64()?,
        };
        // Ids count up from the store's first; one past 2^62 is a crafted file's, and a store
        // restored with it would soon have no ids left to hand out.
        if self.header.next_id > 1 << 62 {
            return Err(Stop::Parse("next id (ids used up)"));
        }
        if format == 1 {
            let body_len = self.input.u64()?;
            let body_start = self.input.consumed;
            let trees_left = self.input.u32()?;
            self.state = State::One { body_len, body_start, trees_left, entries_left: 0 };
        }
        Ok(())
    }

    /// The next item; `None` once the end was read and every check passed.
    pub fn next_item(&mut self) -> std::result::Result<Option<Item>, BackupError> {
        match self.step() {
            Ok(item) => Ok(item),
            Err(stop) => Err(self.fail(stop)),
        }
    }

    fn step(&mut self) -> std::result::Result<Option<Item>, Stop> {
        let item = match &mut self.state {
            State::Done => return Ok(None),
            State::Two => match self.input.byte()? {
                b'T' => Some(Item::Tree(self.input.field()?)),
                b'E' if self.trees > 0 => {
                    Some(Item::Entry(self.input.field()?, self.input.field()?))
                }
                b'Z' => {
                    let (trees, entries) = (self.input.u32()?, self.input.u64()?);
                    if (trees, entries) != (self.trees, self.entries) {
                        return Err(Stop::Parse("counts"));
                    }
                    None
                }
                _ => return Err(Stop::Parse("tag")),
            },
            State::One { body_len, body_start, trees_left, entries_left } => {
                if *entries_left > 0 {
                    *entries_left -= 1;
                    Some(Item::Entry(self.input.field()?, self.input.field()?))
                } else if *trees_left > 0 {
                    *trees_left -= 1;
                    let name = self.input.field()?;
                    *entries_left = self.input.u64()?;
                    Some(Item::Tree(name))
                } else if self.input.consumed - *body_start != *body_len {
                    return Err(Stop::Parse("length"));
                } else {
                    None
                }
            }
        };
        match &item {
            Some(Item::Tree(_)) => self.trees += 1,
            Some(Item::Entry(..)) => self.entries += 1,
            None => {
                // The checksum, then nothing.
                self.input.u32()?;
                if !self.input.checksum_holds() {
                    return Err(Stop::Parse("checksum"));
                }
                let mut more = [0; 1];
                if self.input.read(&mut more)? != 0 {
                    return Err(Stop::Parse("trailing"));
                }
                self.state = State::Done;
            }
        }
        Ok(item)
    }

    /// The error for why reading stopped. Bytes that do not parse are read to the end first:
    /// a checksum that does not hold says more (the file was changed) than where it broke.
    fn fail(&mut self, stop: Stop) -> BackupError {
        self.state = State::Done;
        let damaged = |why: String| BackupError::Damaged { path: self.path.clone(), why };
        match stop {
            Stop::Io(source) => BackupError::Io { what: "read", path: self.path.clone(), source },
            Stop::Eof => damaged(format!("cut short at {} bytes", self.input.consumed)),
            Stop::Parse("format") => {
                BackupError::NewerFormat { path: self.path.clone(), found: self.header.format }
            }
            Stop::Parse("trailing") => damaged("unexpected bytes after its end".into()),
            Stop::Parse("checksum") => damaged("checksum mismatch".into()),
            Stop::Parse(_) => {
                let drained = std::io::copy(&mut self.input, &mut std::io::sink());
                if drained.is_ok() && !self.input.checksum_holds() {
                    return damaged("checksum mismatch".into());
                }
                damaged("its contents do not parse".into())
            }
        }
    }

    /// Reads to the end, checking everything; what the backup holds.
    pub fn check(self) -> std::result::Result<Summary, BackupError> {
        Ok(self.scan()?.summary)
    }

    /// Reads to the end, checking everything; what the backup holds, with its keyring.
    fn scan(mut self) -> std::result::Result<Scanned, BackupError> {
        let mut summary = Summary::default();
        let mut keyring = None;
        let mut tree = Vec::new();
        while let Some(item) = self.next_item()? {
            match item {
                Item::Tree(name) => {
                    summary.trees += usize::from(name != KEYRING_TREE);
                    tree = name;
                }
                Item::Entry(_, value) if tree == KEYRING_TREE => keyring = Some(value),
                Item::Entry(..) => {
                    summary.entries += 1;
                    summary.subscriptions += usize::from(tree == b"subs");
                }
            }
        }
        summary.bytes = self.input.consumed;
        Ok(Scanned { summary, keyring, header: self.header })
    }
}

/// What a whole read of a backup found.
struct Scanned {
    summary: Summary,
    /// The keyring file's bytes (none in a backup made before encryption).
    keyring: Option<Vec<u8>>,
    header: Header,
}

/// Hashes what it reads, all but the last four bytes read so far (the checksum, once the end
/// is reached).
struct Hashing<R: Read> {
    inner: R,
    crc: crc32fast::Hasher,
    /// The last (up to) four bytes read, not hashed yet.
    tail: Vec<u8>,
    consumed: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Hashing<R> {
        Hashing { inner, crc: Default::default(), tail: Vec::with_capacity(8), consumed: 0 }
    }

    /// Whether the last four bytes read are the checksum of everything before them.
    fn checksum_holds(&self) -> bool {
        self.tail.len() == 4
            && self.crc.clone().finalize().to_be_bytes().as_slice() == self.tail.as_slice()
    }

    fn byte(&mut self) -> std::io::Result<u8> {
        let mut b = [0; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        let mut b = [0; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self) -> std::io::Result<u64> {
        let mut b = [0; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    /// A length, then that many bytes: taken as they come, so a forged length allocates no
    /// more than the file holds.
    fn field(&mut self) -> std::io::Result<Vec<u8>> {
        let len = u64::from(self.u32()?);
        let mut out = Vec::new();
        (&mut *self).take(len).read_to_end(&mut out)?;
        if out.len() as u64 != len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(out)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        self.tail.extend_from_slice(&buf[..n]);
        if self.tail.len() > 4 {
            let settled = self.tail.len() - 4;
            self.crc.update(&self.tail[..settled]);
            self.tail.drain(..settled);
        }
        Ok(n)
    }
}

/// Opens a backup file for reading, its header checked.
pub fn open(
    path: &Path,
) -> std::result::Result<BackupReader<BufReader<std::fs::File>>, BackupError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| BackupError::Io {
        what: "read",
        path: shown.clone(),
        source,
    })?;
    BackupReader::new(BufReader::with_capacity(1 << 16, file), &shown)
}

/// Reads a whole backup file and checks it, holding nothing: what it holds.
pub fn check(path: &Path) -> std::result::Result<Summary, BackupError> {
    open(path)?.check()
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
        let (_, entries) = self.trees.iter().find(|(n, _)| n == KEYRING_TREE)?;
        entries.first().map(|(_, bytes)| bytes.as_slice())
    }

    /// Checks and reads a whole backup into memory; `path` names it in errors.
    pub fn decode(raw: &[u8], path: &str) -> std::result::Result<Snapshot, BackupError> {
        let mut reader = BackupReader::new(raw, path)?;
        let mut trees: Vec<(Vec<u8>, Entries)> = Vec::new();
        while let Some(item) = reader.next_item()? {
            match item {
                Item::Tree(name) => trees.push((name, Vec::new())),
                Item::Entry(key, value) => {
                    if let Some((_, entries)) = trees.last_mut() {
                        entries.push((key, value));
                    }
                }
            }
        }
        let Header { schema, created_at, next_id, .. } = reader.header;
        Ok(Snapshot { schema, created_at, next_id, trees })
    }
}

/// Reads and fully validates a backup file into memory (tests and small stores; `restore`
/// streams).
pub fn read(path: &Path) -> std::result::Result<Snapshot, BackupError> {
    let shown = path.display().to_string();
    let raw = std::fs::read(path).map_err(|source| BackupError::Io {
        what: "read",
        path: shown.clone(),
        source,
    })?;
    Snapshot::decode(&raw, &shown)
}

/// Replaces the store in `dir` with the backup in `file`. The whole file is checked first,
/// then `secret` against the keyring it carries (a wrong key is said before anything is
/// written); then the new store is built from it in a fresh directory beside `dir`, opened
/// with `secret`, checked against the file entry by entry, and swapped in; the old one is
/// kept as `<dir>.before-restore-<timestamp>` (returned), so nothing is ever half restored.
/// Memory stays flat: the file is read three times, never held.
pub fn restore(
    file: &Path,
    dir: &Path,
    stamp: &str,
    secret: &super::Secret,
) -> std::result::Result<(Summary, Option<PathBuf>), BackupError> {
    let Scanned { summary, keyring, header } = open(file)?.scan()?;
    match keyring {
        // The key first: a wrong one is said before anything is written.
        Some(keyring) => drop(super::keyring::Keyring::decode(&keyring, secret)?),
        // Sealed reader data without the keys it was sealed with could never be read.
        None if header.schema >= 2 => {
            return Err(BackupError::Damaged {
                path: file.display().to_string(),
                why: "it holds sealed reader data but no keyring".into(),
            });
        }
        // Made before encryption: sealed when the restored store first opens.
        None => {}
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
    if let Err(e) = build(file, &building).and_then(|()| compare(file, &building, secret)) {
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
    Ok((summary, existed.then_some(kept)))
}

/// Writes every entry of the backup into a new store at `dir`, in batches flushed as they
/// go (sled keeps what is unflushed in memory); the keyring as its file, beside sled's.
fn build(file: &Path, dir: &Path) -> std::result::Result<(), BackupError> {
    let db = super::open::open_db(dir)?;
    let mut reader = open(file)?;
    let mut tree: Option<sled::Tree> = None;
    let mut batch = sled::Batch::default();
    let mut batched = 0;
    let flush = |tree: &Option<sled::Tree>, batch: &mut sled::Batch| -> Result<()> {
        if let Some(tree) = tree {
            tree.apply_batch(std::mem::take(batch))?;
            db.flush()?;
        }
        Ok(())
    };
    while let Some(item) = reader.next_item()? {
        match item {
            Item::Tree(name) => {
                flush(&tree, &mut batch)?;
                batched = 0;
                tree = if name == KEYRING_TREE {
                    None
                } else {
                    Some(db.open_tree(name).map_err(StoreError::from)?)
                };
            }
            Item::Entry(_, keyring) if tree.is_none() => {
                super::keyring::write_atomically(dir, &keyring)?;
            }
            Item::Entry(key, _)
                if tree.as_ref().is_some_and(|t| of_these_files(&t.name(), &key)) => {}
            Item::Entry(key, value) => {
                batch.insert(key, value);
                batched += 1;
                if batched == RESTORE_BATCH {
                    flush(&tree, &mut batch)?;
                    batched = 0;
                }
            }
        }
    }
    flush(&tree, &mut batch)?;
    let meta = db.open_tree("meta").map_err(StoreError::from)?;
    meta.insert(ID_BASE_KEY, &reader.header.next_id.to_be_bytes()).map_err(StoreError::from)?;
    db.flush().map_err(StoreError::from)?;
    Ok(())
}

/// Opens the store built at `dir` as Tribune would, with `secret`, and reads it back against
/// the file, tree by tree in key order: the same entries, no others (but the id base the
/// restore adds). The keyring is not compared: the store opening with it is the check. A
/// backup made before encryption is sealed as the store opens, so only its id base can be.
fn compare(
    file: &Path,
    dir: &Path,
    secret: &super::Secret,
) -> std::result::Result<(), BackupError> {
    let store = open_when_released(dir, secret)?;
    let differs = || BackupError::Target {
        dir: dir.display().to_string(),
        why: "the restored store does not read back as the backup".into(),
    };
    let mut reader = open(file)?;
    if reader.header.schema < SCHEMA_VERSION {
        while reader.next_item()?.is_some() {}
        if store.t().id_base != reader.header.next_id {
            return Err(differs());
        }
        store.flush()?;
        return Ok(());
    }
    let mut seen = Vec::new();
    // The tree being compared, by name, and where its reading is.
    let mut current: Option<(Vec<u8>, sled::Iter)> = None;
    type Current = Option<(Vec<u8>, sled::Iter)>;
    let next_stored = |current: &mut Current| -> Result<Option<(sled::IVec, sled::IVec)>> {
        let Some((name, iter)) = current else { return Ok(None) };
        loop {
            match iter.next().transpose()? {
                Some((key, _)) if of_these_files(name, &key) => continue,
                other => return Ok(other),
            }
        }
    };
    loop {
        let item = reader.next_item()?;
        if matches!(item, Some(Item::Tree(_)) | None) && next_stored(&mut current)?.is_some() {
            return Err(differs());
        }
        match item {
            None => break,
            // The keyring is no sled tree: its one entry is skipped below.
            Some(Item::Tree(name)) if name == KEYRING_TREE => current = None,
            Some(Item::Tree(name)) => {
                // A tree named in the file is skipped if its name is the id-base's tree: the
                // id base is compared below.
                let tree = store.t().db.open_tree(&name).map_err(StoreError::from)?;
                current = Some((name.clone(), tree.iter()));
                seen.push(name);
            }
            Some(Item::Entry(..)) if current.is_none() => {}
            Some(Item::Entry(key, _))
                if current.as_ref().is_some_and(|(name, _)| of_these_files(name, &key)) => {}
            Some(Item::Entry(key, value)) => match next_stored(&mut current)? {
                Some((k, v)) if k == key && v == value => {}
                _ => return Err(differs()),
            },
        }
    }
    for name in store.t().db.tree_names() {
        let tree = store.t().db.open_tree(&name).map_err(StoreError::from)?;
        let extra = tree.iter().keys().any(|k| k.is_ok_and(|k| !of_these_files(&name, &k)));
        if !seen.contains(&name.to_vec()) && extra {
            return Err(differs());
        }
    }
    if store.t().id_base != reader.header.next_id {
        return Err(differs());
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

/// Writes a backup to `path` through `write`: a temporary file beside it, readable only by
/// its owner, synced, then renamed into place; removed if `write` fails.
pub fn write_file_with<T>(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::result::Result<T, BackupError>,
) -> std::result::Result<T, BackupError> {
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
    // tempfile creates its files with mode 0600, and removes them when dropped unpersisted.
    let mut file = tempfile::Builder::new()
        .prefix(".tribune-backup-")
        .tempfile_in(&parent)
        .map_err(io("create a temporary file beside"))?;
    let written = write(file.as_file_mut())?;
    file.as_file().sync_all().map_err(io("sync"))?;
    file.persist(path).map_err(|e| io("rename into")(e.error))?;
    if let Ok(parent) = std::fs::File::open(&parent) {
        let _ = parent.sync_all();
    }
    Ok(written)
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
