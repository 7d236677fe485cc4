//! Compaction: the store copied into a fresh sled directory and swapped in while Tribune runs.
//!
//! sled 0.34 gives back the space of what was removed or rewritten a segment at a time, and
//! not all of it: under Tribune's daily rewrites (a digest round, delivery records, a key
//! rotation that moves every reader record) the year bench's store held 30 MiB of records in
//! 450-640 MiB of files, and neither idle time nor rewriting every record gave any back. A
//! copy into a new directory holds only the live records, and the old files are deleted: what
//! was erased is then gone from the files too, not only sealed under a destroyed key.
//!
//! Layout: the data directory holds the keyring and either sled's files (a store never
//! compacted) or a file `current` naming the subdirectory `sled-<n>` that holds them. A
//! compaction writes `sled-<n+1>` while no write runs (the write gate), flushes it, replaces
//! `current` atomically, swaps the trees every handle of the store uses, and deletes the old
//! files. Cut short before `current` is replaced, the old store is the store and the next open
//! deletes the half-written directory; after, the new one is and the next open deletes what
//! is left of the old.

use super::{
    COMPACTED_SIZE_KEY, ID_BASE_KEY, Result, Store, StoreError, Trees,
    layout::{CURRENT, generation, tidy},
    open::{open_db, open_db_with_cache},
};
use std::{path::Path, sync::Arc};

/// Entries copied between flushes: sled keeps what is unflushed in memory (a copy of the year
/// bench's store took 58 MiB more at 10 000 a batch than at 1 000).
const COPY_BATCH: usize = 1_000;
/// A store is compacted once its files are this many times their size after the last
/// compaction...
const GROWTH: u64 = 3;
/// ...and larger than this (a small store is left alone).
const FLOOR: u64 = 64 * 1024 * 1024;

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Bytes of sled's files before.
    pub before: u64,
    /// Bytes of sled's files after.
    pub after: u64,
}

impl Store {
    /// Compacts the store if its files have grown [`GROWTH`] times since the last compaction
    /// (or since it was made) and past [`FLOOR`].
    pub fn compact_if_grown(&self) -> Result<Option<Compaction>> {
        self.compact_if_beyond(FLOOR)
    }

    fn compact_if_beyond(&self, floor: u64) -> Result<Option<Compaction>> {
        if !self.grown(floor)? {
            return Ok(None);
        }
        super::blocking(|| self.compact_now(Some(floor)))
    }

    /// Whether sled's files are past `floor` and [`GROWTH`] times their size after the last
    /// compaction.
    fn grown(&self, floor: u64) -> Result<bool> {
        let size = self.size_on_disk()?;
        let baseline = self
            .t()
            .meta
            .get(COMPACTED_SIZE_KEY)?
            .and_then(|raw| raw.as_ref().try_into().ok())
            .map_or(0, u64::from_be_bytes);
        Ok(size > floor && size > baseline.saturating_mul(GROWTH))
    }

    /// Copies every tree into a fresh sled directory and makes it the store (see the module's
    /// comment). Writes wait meanwhile; reads go on.
    pub fn compact(&self) -> Result<Compaction> {
        super::blocking(|| self.compact_now(None)).map(|done| done.unwrap_or_default())
    }

    /// Compacts, unless `floor` is given and the files have not grown past it (again: another
    /// compaction may have run while this one waited for its holds).
    fn compact_now(&self, floor: Option<u64>) -> Result<Option<Compaction>> {
        let started = std::time::Instant::now();
        let (done, to, held) = {
            // No key rotation and no walk over the subscriptions while the trees are
            // replaced; a rotation cut short stays so (the next one finishes it).
            let mut rotating = self.gate.rotating();
            if self.keys().epochs().len() == 1 {
                rotating.finished();
            }
            // New writes wait from here (the writes in flight finish first).
            let held = std::time::Instant::now();
            let _hold = self.gate.exclusive();
            if let Some(floor) = floor
                && !self.grown(floor)?
            {
                return Ok(None);
            }
            let (done, to) = self.copy_and_swap()?;
            (done, to, held.elapsed())
        };
        // The old files, once writes go on: handles still reading them (a lookup in flight)
        // read on until they are dropped, as a deleted file's readers do.
        tidy(&self.dir, to);
        super::release_deferred();
        crate::allocator::trim();
        log::info!(
            "store compacted: {:.1} MiB of files before, {:.1} MiB after; writes waited {:.1} s, \
             {:.1} s in all",
            done.before as f64 / (1024.0 * 1024.0),
            done.after as f64 / (1024.0 * 1024.0),
            held.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        Ok(Some(done))
    }

    /// The copy, made durable, named by `current`, and swapped in; the generation it is.
    /// Under the holds of [`Store::compact_now`].
    fn copy_and_swap(&self) -> Result<(Compaction, u64)> {
        let old = self.t();
        let before = old.db.size_on_disk()?;
        let from = generation(&self.dir);
        let to = from + 1;
        let path = self.dir.join(format!("sled-{to}"));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| unwritable(&path, e))?;
        }
        let next_id = self.next_id()? + 1;
        let made = copy(&old, &path, next_id).and_then(|db| {
            let trees = Trees::open(db)?;
            // The last record the copy wrote, read back: the copy is whole.
            if trees.id_base != next_id {
                return Err(StoreError::Unwritable(format!(
                    "the compaction's copy in {} did not read back whole; the store is unchanged",
                    path.display()
                )));
            }
            let after = trees.db.size_on_disk()?;
            trees.meta.insert(COMPACTED_SIZE_KEY, &after.to_be_bytes())?;
            trees.db.flush()?;
            // sled writes its `conf` without a sync: the copy is whole on disk before `current`
            // names it and the old files go.
            for synced in [path.join("conf"), path.join("blobs"), path.clone()] {
                std::fs::File::open(&synced)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| unwritable(&synced, e))?;
            }
            Ok((trees, after))
        });
        let (trees, after) = match made {
            Ok(made) => made,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                return Err(e);
            }
        };
        let named =
            super::keyring::replace_file(&self.dir, CURRENT, format!("sled-{to}\n").as_bytes());
        // An error after the rename (the directory's sync) leaves `current` naming the copy:
        // the copy is the store then, or writes would go where the next start does not look.
        if let Err(e) = named {
            if generation(&self.dir) != to {
                drop(trees);
                let _ = std::fs::remove_dir_all(&path);
                return Err(e);
            }
            log::warn!("compaction: {e}; the copy is named the store all the same");
        }
        *self.trees.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(trees);
        Ok((Compaction { before, after }, to))
    }
}

/// Writes every tree of `old` into a new sled database at `path`, its id base `next_id` (ids
/// go on from where the old store's were), flushed; the database reopened for serving.
///
/// The copy is written with a page cache of [`COPY_CACHE`]: it only writes, and sled holds
/// several times its cache in memory while writing (a copy of the year bench's store took
/// 72 MiB over the process with Tribune's cache, 53 with 1 MiB). Reopened afterwards with
/// Tribune's cache (a tenth of a second for that store: sled reads its segments' headers).
fn copy(old: &Trees, path: &Path, next_id: u64) -> Result<sled::Db> {
    write_copy(old, path, next_id)?;
    // The copy's log buffers, freed before the reopen allocates its own.
    super::release_deferred();
    // Dropped above; a job of sled's thread pool (a log write, a segment's truncation) may
    // hold the files, and their lock, a few milliseconds longer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match open_db(path) {
            Err(StoreError::Open { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // The store in use is untouched: not the operator's damage to restore.
            Err(e) => {
                return Err(StoreError::Unwritable(format!(
                    "the compaction's copy in {} did not reopen ({e}); the store is unchanged",
                    path.display()
                )));
            }
            Ok(db) => return Ok(db),
        }
    }
}

/// The page cache of the database a compaction writes.
const COPY_CACHE: u64 = 1024 * 1024;

fn write_copy(old: &Trees, path: &Path, next_id: u64) -> Result<()> {
    let db = open_db_with_cache(path, COPY_CACHE)?;
    for name in old.db.tree_names() {
        let from = old.db.open_tree(&name)?;
        let to = db.open_tree(&name)?;
        let mut batch = sled::Batch::default();
        let mut batched = 0;
        for entry in from.iter() {
            let (key, value) = entry?;
            batch.insert(key, value);
            batched += 1;
            if batched == COPY_BATCH {
                to.apply_batch(std::mem::take(&mut batch))?;
                db.flush()?;
                batched = 0;
            }
        }
        to.apply_batch(batch)?;
        db.flush()?;
    }
    db.open_tree("meta")?.insert(ID_BASE_KEY, &next_id.to_be_bytes())?;
    db.flush()?;
    Ok(())
}

fn unwritable(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unwritable(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
