//! `tribune export DIR`: the store's content written back as `messages/` files, through the
//! real binary. Exporting then importing is lossless.

use crate::support::messages_dir;
use std::{path::Path, process::Command};
use tribune::content::load_dir;

/// Runs `tribune <args>` on a data directory and a messages directory.
fn tribune(data: &Path, messages: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tribune"))
        .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
        .args(args)
        .env("TRIBUNE_DATA_DIR", data)
        .env("TRIBUNE_MESSAGES_DIR", messages)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tribune")
}

fn ok(output: std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "tribune failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every file under `dir` with its bytes, by relative path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for sub in ["", "statements", "ui"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            if entry.file_type().unwrap().is_file() {
                let name = format!("{sub}/{}", entry.file_name().to_string_lossy());
                found.push((name, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn export_then_import_is_lossless() {
    let root = tempfile::tempdir().unwrap();
    let original = load_dir(&messages_dir()).unwrap().corpus;

    let first_store = root.path().join("data1");
    ok(tribune(&first_store, &messages_dir(), &["import"]));
    let first = root.path().join("export1");
    let printed = ok(tribune(&first_store, &messages_dir(), &["export", first.to_str().unwrap()]));
    assert!(printed.contains("3 statements, 10 slogans, 13 prisoners"), "{printed}");
    assert_eq!(load_dir(&first).unwrap().corpus, original, "the export parses to the same corpus");

    // `tribune check` accepts the exported directory as it is.
    let checked = ok(tribune(&first_store, &first, &["check"]));
    assert!(checked.contains(": ok: 3 statements"), "{checked}");

    // Import the export into a fresh store and export again: the same bytes.
    let second_store = root.path().join("data2");
    ok(tribune(&second_store, &first, &["import"]));
    let second = root.path().join("export2");
    ok(tribune(&second_store, &first, &["export", second.to_str().unwrap()]));
    let (a, b) = (files(&first), files(&second));
    assert_eq!(a.len(), 3 + 2 + 3);
    assert_eq!(a, b, "export → import → export gives byte-identical files");
}

#[test]
fn a_non_empty_directory_is_refused_unless_forced() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    ok(tribune(&data, &messages_dir(), &["import"]));
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();

    let refused = tribune(&data, &messages_dir(), &["export", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("is not empty") && stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");

    ok(tribune(&data, &messages_dir(), &["export", "--force", out.to_str().unwrap()]));
    assert!(!out.join("notes.txt").exists());
    assert!(load_dir(&out).is_ok());
}

#[test]
fn a_missing_or_empty_store_has_nothing_to_export() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let missing = root.path().join("missing");
    let output = tribune(&missing, &messages_dir(), &["export", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("there is no Tribune store in"), "{stderr}");
    assert!(!missing.exists(), "exporting does not create a store");

    let empty = root.path().join("empty");
    drop(tribune::store::Store::open(&empty).unwrap());
    let output = tribune(&empty, &messages_dir(), &["export", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("holds no content yet"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn edits_made_from_telegram_are_exported_with_the_files() {
    use tribune::{
        app::{Caller, EditOutcome, Tribune},
        content::{PartialDate, Status, edits::ContentEdit},
    };
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let edited = {
        let (app, _) = Tribune::open(&data, &messages_dir()).unwrap();
        let app = app.with_operators(vec![1]);
        let operator = app.operator(&Caller::private(1)).unwrap();
        let edit = ContentEdit::Prisoner {
            id: "ulvi-hasanli".into(),
            status: Status::Released,
            since: Some(PartialDate { year: 2026, month: Some(11), day: Some(20) }),
            note: Some("Released on \"parole\"\nafter two years.".into()),
        };
        let saved = app.save_edit(&operator, edit).unwrap();
        assert!(matches!(saved, EditOutcome::Saved { .. }), "{saved:?}");
        (*app.corpus()).clone()
    };
    let out = root.path().join("out");
    // The store was just closed; sled may need a moment to release its lock.
    let mut output = tribune(&data, &messages_dir(), &["export", out.to_str().unwrap()]);
    for _ in 0..50 {
        if output.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        output = tribune(&data, &messages_dir(), &["export", out.to_str().unwrap()]);
    }
    ok(output);
    let exported = load_dir(&out).unwrap().corpus;
    assert_eq!(exported, edited);
    let ulvi = exported.prisoner("ulvi-hasanli").unwrap();
    assert_eq!(ulvi.status, Status::Released);
    assert_eq!(ulvi.note.as_deref(), Some("Released on \"parole\"\nafter two years."));
}
