//! Starting on a damaged or foreign data directory: `serve` and `import` exit non-zero with
//! a clear message that points to `tribune restore`, never a panic, and never write into a
//! directory that is not a Tribune store.

use crate::support::messages_dir;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};
use tribune::store::SCHEMA_VERSION;

/// `tribune <command>` on `data`, with a token of the right shape (nothing is contacted:
/// the store is opened first).
fn tribune(command: &str, data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tribune"))
        .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
        .arg(command)
        .env("TELOXIDE_TOKEN", "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .env("TELOXIDE_API_URL", "http://127.0.0.1:9/")
        .env("TRIBUNE_DATA_DIR", data)
        .env("TRIBUNE_MESSAGES_DIR", messages_dir())
        .env("RUST_LOG", "off")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run tribune")
}

/// Both commands that open the store refuse with `expected` in their error.
fn refused(data: &Path, expected: &[&str]) {
    for command in ["serve", "import"] {
        let output = tribune(command, data);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        for words in expected {
            assert!(stderr.contains(words), "{command}: expected {words:?} in {stderr}");
        }
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    }
}

/// A store with the shipped content in `root/name`.
fn store(root: &Path, name: &str) -> PathBuf {
    let data = root.join(name);
    let output = tribune("import", &data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    data
}

/// Deterministic noise (no randomness in tests).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        })
        .collect()
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    found.sort();
    found
}

const RESTORE: &str = "restore it from a backup with `tribune restore FILE`";

#[test]
fn garbage_in_sleds_files_is_reported_as_damage() {
    let root = tempfile::tempdir().unwrap();
    let data = store(root.path(), "db-garbage");
    let backup = root.path().join("before.backup");
    let taken = Command::new(env!("CARGO_BIN_EXE_tribune"))
        .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
        .args(["backup", backup.to_str().unwrap()])
        .env("TRIBUNE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(taken.status.success(), "{}", String::from_utf8_lossy(&taken.stderr));
    std::fs::write(data.join("db"), noise(64 * 1024, 7)).unwrap();
    refused(&data, &["holds damaged data", RESTORE]);

    // What the message says to do works: the backup restores over the damaged directory.
    let restored = Command::new(env!("CARGO_BIN_EXE_tribune"))
        .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
        .args(["restore", backup.to_str().unwrap()])
        .env("TRIBUNE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let output = tribune("import", &data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let data = store(root.path(), "conf-garbage");
    std::fs::write(data.join("conf"), noise(200, 11)).unwrap();
    refused(&data, &["holds damaged data", "do not read back", RESTORE]);
}

#[test]
fn a_directory_of_other_files_is_refused_and_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("photos");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("notes.txt"), "my notes").unwrap();
    let before = listing(&data);
    refused(&data, &["is not a Tribune data directory", "will not write into it", RESTORE]);
    assert_eq!(listing(&data), before, "no sled files were written into it");
}

#[test]
fn another_programs_sled_database_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("other");
    {
        // Only a test forges another program's database by naming sled itself.
        let db = sled::open(&data).unwrap();
        db.open_tree("invoices").unwrap().insert("2024-001", "42.00").unwrap();
        db.flush().unwrap();
    }
    refused(&data, &["is not a Tribune data directory", "\"invoices\"", RESTORE]);
}

#[test]
fn a_store_from_a_newer_tribune_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let data = store(root.path(), "newer");
    {
        let db = sled::open(&data).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let newer = format!("written by a newer Tribune (schema {}", SCHEMA_VERSION + 1);
    refused(&data, &[&newer, RESTORE]);
}
