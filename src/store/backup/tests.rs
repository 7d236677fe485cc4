use super::*;
use crate::{
    content::Lang,
    subscription::{ChatKind, Subscription},
};

fn key() -> crate::store::Secret {
    crate::store::Secret::public_test_key()
}

fn store_with_subscribers(dir: &Path, n: i64) -> Store {
    let store = Store::open(dir).unwrap();
    for chat in 1..=n {
        let mut sub = Subscription::new(chat, ChatKind::Private, Lang::En);
        sub.next_due = Some(1000 + chat);
        store.save_subscription(&sub).unwrap();
    }
    store.set_chat_lang(1, Lang::Az).unwrap();
    store
}

#[test]
fn a_backup_restores_every_tree_and_ids_keep_increasing() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 5);
    let edition = store.new_edition(super::super::EditionKind::Digest, 0).unwrap();
    let file = root.path().join("backup.tribune");
    let summary = store.write_backup(&file).unwrap();
    assert_eq!(summary.subscriptions, 5);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup is readable only by its owner");
    }
    let target = root.path().join("b");
    let (restored_summary, kept) = restore(&file, &target, "t1", &key()).unwrap();
    assert_eq!((restored_summary, kept), (summary, None));
    let restored = open_when_released(&target, &key()).unwrap();
    assert_eq!(restored.subscription_count(), 5);
    assert_eq!(restored.chat(1).unwrap().lang, Some(Lang::Az));
    assert_eq!(restored.due_until(i64::MAX, 100).unwrap().len(), 5);
    assert!(restored.edition(edition).unwrap().is_some());
    assert!(restored.new_edition(super::super::EditionKind::Digest, 0).unwrap() > edition);
}

#[test]
fn restoring_over_a_store_keeps_the_old_one_aside() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("backup");
    store_with_subscribers(&root.path().join("src"), 3).write_backup(&file).unwrap();
    let data = root.path().join("data");
    drop(store_with_subscribers(&data, 1));
    let kept = loop {
        match restore(&file, &data, "t2", &key()) {
            Err(BackupError::InUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => break other.unwrap().1.unwrap(),
        }
    };
    assert!(kept.ends_with("data.before-restore-t2"));
    assert_eq!(open_when_released(&data, &key()).unwrap().subscription_count(), 3);
    assert_eq!(open_when_released(&kept, &key()).unwrap().subscription_count(), 1);
}

/// A store's backup as bytes.
fn backup_bytes(store: &Store) -> Vec<u8> {
    let mut raw = Vec::new();
    store.backup_to(&mut raw, "memory").unwrap();
    raw
}

#[test]
fn damaged_and_foreign_files_are_refused_before_anything_changes() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 3);
    let good = backup_bytes(&store);
    let text = |raw: &[u8]| Snapshot::decode(raw, "b").unwrap_err().to_string();
    assert!(text(b"hello").contains("not a Tribune backup"));
    assert!(text(b"TRIBBAK").contains("not a Tribune backup"));
    assert!(text(&good[..good.len() - 1]).contains("cut short"));
    assert!(text(&good[..20]).contains("cut short at 20 bytes"));
    let mut longer = good.clone();
    longer.push(0);
    assert!(text(&longer).contains("unexpected bytes after its end"), "{}", text(&longer));
    // A value's byte changed: only the checksum can tell.
    let at = good.len() - 40;
    let mut flipped = good.clone();
    flipped[at] ^= 1;
    assert!(text(&flipped).contains("checksum mismatch"), "{}", text(&flipped));
    // A tag changed: the bytes no longer parse, and the checksum says why.
    // The first item follows the 32 bytes of the header: a tree.
    assert_eq!(good[32], b'T');
    let mut broken = good.clone();
    broken[32] = b'?';
    assert!(text(&broken).contains("checksum mismatch"), "{}", text(&broken));
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&(FORMAT + 1).to_be_bytes());
    assert!(text(&newer).contains("format 3"));
    assert!(Snapshot::decode(&good, "b").is_ok());
}

#[test]
fn any_bytes_are_refused_or_read_never_a_panic() {
    let root = tempfile::tempdir().unwrap();
    let good = backup_bytes(&store_with_subscribers(&root.path().join("a"), 2));
    // Every single-byte change and every cut of a real backup, and a huge forged length.
    for at in 0..good.len() {
        let mut changed = good.clone();
        changed[at] = changed[at].wrapping_add(0x41);
        assert!(Snapshot::decode(&changed, "b").is_err(), "a change at {at} was not seen");
        assert!(Snapshot::decode(&good[..at], "b").is_err());
    }
    let mut forged = good[..32].to_vec();
    forged.extend_from_slice(b"T");
    forged.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(text_of(&forged).contains("cut short"));
}

fn text_of(raw: &[u8]) -> String {
    Snapshot::decode(raw, "b").unwrap_err().to_string()
}

/// Format 1, as the previous build wrote it (a body length and counts up front).
/// A snapshot as the previous format (1) wrote it: one length, one checksum, the whole body.
pub(super) fn format_one(snapshot: &Snapshot) -> Vec<u8> {
    let put = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    let mut body = (snapshot.trees.len() as u32).to_be_bytes().to_vec();
    for (name, entries) in &snapshot.trees {
        put(&mut body, name);
        body.extend_from_slice(&(entries.len() as u64).to_be_bytes());
        for (key, value) in entries {
            put(&mut body, key);
            put(&mut body, value);
        }
    }
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&snapshot.schema.to_be_bytes());
    out.extend_from_slice(&snapshot.created_at.to_be_bytes());
    out.extend_from_slice(&snapshot.next_id.to_be_bytes());
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn a_backup_in_the_previous_format_is_still_read_and_restored() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 4);
    let snapshot = store.snapshot().unwrap();
    let old = format_one(&snapshot);
    assert_eq!(Snapshot::decode(&old, "old").unwrap(), snapshot);
    let mut cut = old.clone();
    cut.truncate(old.len() - 10);
    assert!(Snapshot::decode(&cut, "old").is_err());
    let mut flipped = old.clone();
    let at = old.len() - 30;
    flipped[at] ^= 1;
    assert!(text_of(&flipped).contains("checksum mismatch"));
    let file = root.path().join("old.backup");
    std::fs::write(&file, &old).unwrap();
    let (summary, _) = restore(&file, &root.path().join("b"), "t3", &key()).unwrap();
    assert_eq!(summary.subscriptions, 4);
    assert_eq!(open_when_released(&root.path().join("b"), &key()).unwrap().subscription_count(), 4);
}

#[test]
fn a_restored_store_that_differs_from_the_file_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 3);
    let file = root.path().join("backup");
    store.write_backup(&file).unwrap();
    let built = root.path().join("built");
    build(&file, &built).unwrap();
    compare(&file, &built, &key()).unwrap();
    {
        let changed = open_when_released(&built, &key()).unwrap();
        changed.set_chat_lang(2, Lang::Ru).unwrap();
    }
    assert!(matches!(compare(&file, &built, &key()), Err(BackupError::Target { .. })));
}

#[test]
fn a_snapshot_is_consistent_under_concurrent_writes() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(&root.path().join("a")).unwrap();
    let sub = |chat: i64| {
        let mut sub = Subscription::new(chat, ChatKind::Private, Lang::En);
        sub.next_due = Some(5000 + chat);
        sub
    };
    store.load_subscriptions((1..=2000).map(sub)).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut chat = 10_000 + w * 1_000_000;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    // Subscription and due entry land in one transaction, unflushed: fast.
                    store.put_subscription(&sub(chat)).unwrap();
                    chat += 1;
                }
            })
        })
        .collect();
    for _ in 0..30 {
        let snapshot = store.snapshot().unwrap();
        // Every subscription has its due entry and no due entry lacks its subscription.
        assert_eq!(snapshot.tree("subs").len(), snapshot.tree("due").len());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
}

/// Found by fuzzing crafted backups: a backup (checksum and all) whose `next_id` is at the
/// top of the id space restored into a store whose next id overflowed: a panic in a debug
/// build, and in a release build ids wrapped back to small numbers handed out before. Now
/// the restore refuses it and leaves the store as it was.
#[test]
fn a_backup_whose_ids_are_used_up_is_refused_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let mut snapshot = store_with_subscribers(&root.path().join("a"), 2).snapshot().unwrap();
    let data = root.path().join("data");
    drop(store_with_subscribers(&data, 1));
    for next_id in [u64::MAX, u64::MAX - 1] {
        snapshot.next_id = next_id;
        let file = root.path().join("crafted.backup");
        std::fs::write(&file, format_one(&snapshot)).unwrap();
        let refused = loop {
            match restore(&file, &data, "t3", &key()) {
                Err(BackupError::InUse { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => break other,
            }
        };
        assert!(refused.is_err(), "next_id {next_id}: {refused:?}");
        assert_eq!(open_when_released(&data, &key()).unwrap().subscription_count(), 1);
    }
}

#[test]
fn a_backup_carries_the_wrapped_keyring_and_a_restore_needs_its_key_before_writing() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 3);
    let file = root.path().join("backup");
    store.write_backup(&file).unwrap();
    let snapshot = read(&file).unwrap();
    // The keyring, as the file holds it, first; never the master key itself.
    assert_eq!(snapshot.trees[0].0, KEYRING_TREE);
    let keyring = snapshot.keyring().expect("a keyring");
    assert!(super::super::keyring::Keyring::decode(keyring, &key()).is_ok());
    let raw = std::fs::read(&file).unwrap();
    let master = crate::store::keyring::PUBLIC_TEST_KEY;
    assert!(!raw.windows(master.len()).any(|w| w == master), "the master key is not in it");
    let chats: Vec<i64> =
        snapshot.subscriptions(&key()).unwrap().iter().map(|s| s.chat_id).collect();
    assert_eq!(chats.len(), 3);
    assert!(chats.iter().all(|c| (1..=3).contains(c)));
    // The operator's summary counts the trees of the store, not the keyring.
    assert_eq!(check(&file).unwrap().trees, snapshot.trees.len() - 1);
    // A wrong key: refused, naming it, and nothing written beside the target.
    let wrong = crate::store::Secret::from_key(
        crate::store::seal::Key::from_bytes([9; 32]),
        "TRIBUNE_KEY_FILE",
    );
    let target = root.path().join("b");
    let error = restore(&file, &target, "t4", &wrong).unwrap_err().to_string();
    assert!(error.contains("TRIBUNE_KEY_FILE") && error.contains("wrong key"), "{error}");
    let left: Vec<_> =
        std::fs::read_dir(root.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 2, "only the store and the backup: {left:?}");
    // The right one: the keyring is a file again, and the store opens with it.
    restore(&file, &target, "t4", &key()).unwrap();
    assert!(super::super::keyring::Keyring::exists(&target));
    assert_eq!(open_when_released(&target, &key()).unwrap().subscription_count(), 3);
}

#[test]
fn a_backup_of_sealed_data_without_its_keyring_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 2);
    let mut snapshot = store.snapshot().unwrap();
    snapshot.trees.retain(|(name, _)| name != KEYRING_TREE);
    let file = root.path().join("old");
    std::fs::write(&file, format_one(&snapshot)).unwrap();
    let error = restore(&file, &root.path().join("b"), "t5", &key()).unwrap_err().to_string();
    assert!(error.contains("no keyring"), "{error}");
    assert!(!root.path().join("b").exists());
}

/// A snapshot in the current format, entry for entry as given (what a build that wrote other
/// entries would have written).
fn format_current(snapshot: &Snapshot) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut out = Writer { inner: BufWriter::new(&mut raw), crc: Default::default(), bytes: 0 };
    let header = Header {
        format: FORMAT,
        schema: snapshot.schema,
        created_at: snapshot.created_at,
        next_id: snapshot.next_id,
    };
    out.header(&header).unwrap();
    let mut entries = 0;
    for (name, tree) in &snapshot.trees {
        out.tree(name).unwrap();
        for (key, value) in tree {
            out.entry(key, value).unwrap();
            entries += 1;
        }
    }
    out.finish(snapshot.trees.len() as u32, entries).unwrap();
    raw
}

/// The backup of a compacted store once held its id base and its files' size in `meta`, and
/// its restore was refused ("does not read back as the backup"): so was the backup of a
/// restored store. Those entries describe a store's files, not its data: no backup holds them
/// now, and a backup that does (made by that build) restores.
#[test]
fn backups_of_a_compacted_or_restored_store_restore() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 4);
    store.compact().unwrap();
    let meta_keys = |snapshot: &Snapshot| -> Vec<Vec<u8>> {
        snapshot.tree("meta").iter().map(|(key, _)| key.clone()).collect()
    };
    let snapshot = store.snapshot().unwrap();
    let of_files = [ID_BASE_KEY.to_vec(), COMPACTED_SIZE_KEY.to_vec()];
    assert!(store.t().meta.get(COMPACTED_SIZE_KEY).unwrap().is_some(), "compacted");
    assert!(store.t().meta.get(ID_BASE_KEY).unwrap().is_some(), "compacted");
    assert!(!meta_keys(&snapshot).iter().any(|k| of_files.contains(k)), "not in the backup");

    let restored_in = |file: &Path, to: &str, stamp: &str| {
        let (summary, _) = restore(file, &root.path().join(to), stamp, &key()).unwrap();
        assert_eq!(summary.subscriptions, 4);
        let restored = open_when_released(&root.path().join(to), &key()).unwrap();
        assert_eq!(restored.subscription_count(), 4);
        assert_eq!(restored.chat(1).unwrap().lang, Some(Lang::Az));
        assert!(restored.t().meta.get(COMPACTED_SIZE_KEY).unwrap().is_none());
        restored
    };
    let compacted = root.path().join("compacted.backup");
    store.write_backup(&compacted).unwrap();
    let restored = restored_in(&compacted, "b", "t1");
    // The restored store holds an id base: its own backup restores too, ids going on.
    let again = root.path().join("again.backup");
    restored.write_backup(&again).unwrap();
    let id = restored.new_edition(super::super::EditionKind::Digest, 0).unwrap();
    drop(restored);
    let twice = restored_in(&again, "c", "t2");
    assert!(twice.new_edition(super::super::EditionKind::Digest, 0).unwrap() >= id);

    // A backup as the build before wrote it: both entries in `meta`.
    let mut old = snapshot.clone();
    let meta = &mut old.trees.iter_mut().find(|(name, _)| name == b"meta").unwrap().1;
    meta.push((ID_BASE_KEY.to_vec(), 3u64.to_be_bytes().to_vec()));
    meta.push((COMPACTED_SIZE_KEY.to_vec(), 123_456u64.to_be_bytes().to_vec()));
    meta.sort();
    let file = root.path().join("old.backup");
    std::fs::write(&file, format_current(&old)).unwrap();
    let from_old = restored_in(&file, "d", "t3");
    assert_eq!(from_old.t().id_base, snapshot.next_id, "the header's next id, not the entry's");
}
