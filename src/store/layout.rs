//! Where sled's files are in the data directory: in it (a store never compacted), or in the
//! subdirectory `sled-<n>` that the file `current` names (see `compact.rs`).

use std::path::{Path, PathBuf};

/// The file naming the directory of sled's files, when it is not the data directory itself.
pub(super) const CURRENT: &str = "current";

/// The directory holding sled's files of the store in `dir`.
pub fn sled_dir(dir: &Path) -> PathBuf {
    generation_dir(dir, generation(dir))
}

/// The directory of generation `n`'s files.
pub(super) fn generation_dir(dir: &Path, n: u64) -> PathBuf {
    match n {
        0 => dir.to_path_buf(),
        n => dir.join(format!("sled-{n}")),
    }
}

/// The generation `current` names (0: sled's files are in `dir` itself). A `current` that does
/// not read, or names a directory that is not there, names nothing: the store is where it was
/// before any compaction.
pub(super) fn generation(dir: &Path) -> u64 {
    let Ok(raw) = std::fs::read_to_string(dir.join(CURRENT)) else { return 0 };
    raw.trim()
        .strip_prefix("sled-")
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|&n| n > 0 && dir.join(format!("sled-{n}")).is_dir())
        .unwrap_or(0)
}

/// Deletes what compactions left in `dir` besides generation `current`, the one in use: a
/// directory cut short, an older generation, sled's files of the store before its first
/// compaction. Only with the store's lock held (no other Tribune uses `dir`).
pub(super) fn tidy(dir: &Path, current: u64) {
    if generation(dir) != current {
        // `current` does not read as the generation in use (a failing disk): delete nothing.
        log::warn!("{}: the file `current` does not name the store in use", dir.display());
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let stale = match name.strip_prefix("sled-").map(str::parse::<u64>) {
            Some(Ok(n)) => n != current,
            Some(Err(_)) => false,
            None => current > 0 && is_sled_file(&name),
        };
        if stale {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(e) = removed {
                log::warn!("cannot delete {name}, left by a compaction: {e}");
            }
        }
    }
}

/// sled's own files in a directory it opened.
fn is_sled_file(name: &str) -> bool {
    matches!(name, "db" | "conf" | "blobs") || name.starts_with("snap.")
}
