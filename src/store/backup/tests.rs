use super::*;
use crate::{
    content::Lang,
    subscription::{ChatKind, Subscription},
};

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
    let snapshot = read(&file).unwrap();
    let target = root.path().join("b");
    assert_eq!(
        restore(&snapshot, &target, "t1", &crate::store::Secret::public_test_key()).unwrap(),
        None
    );
    let restored = open_when_released(&target, &crate::store::Secret::public_test_key()).unwrap();
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
    let snapshot = read(&file).unwrap();
    let kept = loop {
        match restore(&snapshot, &data, "t2", &crate::store::Secret::public_test_key()) {
            Err(BackupError::InUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => break other.unwrap().unwrap(),
        }
    };
    assert!(kept.ends_with("data.before-restore-t2"));
    assert_eq!(
        open_when_released(&data, &crate::store::Secret::public_test_key())
            .unwrap()
            .subscription_count(),
        3
    );
    assert_eq!(
        open_when_released(&kept, &crate::store::Secret::public_test_key())
            .unwrap()
            .subscription_count(),
        1
    );
}

#[test]
fn damaged_and_foreign_files_are_refused_before_anything_changes() {
    let root = tempfile::tempdir().unwrap();
    let store = store_with_subscribers(&root.path().join("a"), 3);
    let good = store.snapshot().unwrap().encode();
    let text = |raw: &[u8]| Snapshot::decode(raw, "b").unwrap_err().to_string();
    assert!(text(b"hello").contains("not a Tribune backup"));
    assert!(text(&good[..good.len() - 1]).contains("cut short"));
    assert!(text(&good[..20]).contains("cut short"));
    let mut flipped = good.clone();
    flipped[HEADER + 10] ^= 1;
    assert!(text(&flipped).contains("checksum mismatch"));
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&(FORMAT + 1).to_be_bytes());
    assert!(text(&newer).contains("format 2"));
    assert!(Snapshot::decode(&good, "b").is_ok());
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
