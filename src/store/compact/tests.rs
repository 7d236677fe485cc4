use super::super::layout::CURRENT;
use super::super::*;
use super::FLOOR;
use crate::subscription::{ChatKind, Subscription};

const READERS: i64 = 300;

/// Each tree's name and entries.
type Records = Vec<(String, Vec<(Vec<u8>, Vec<u8>)>)>;

/// A store with `READERS` subscribers, each saved many times over (what sled keeps of the
/// old versions is what a compaction gives back), and one chat erased.
fn churned(dir: &std::path::Path) -> Store {
    let store = Store::open(dir).unwrap();
    for round in 0..20 {
        for chat in 0..READERS {
            let mut sub = Subscription::new(7_000_000_000 + chat, ChatKind::Private, Lang::En);
            sub.next_due = Some(1_000 + round);
            store.save_subscription(&sub).unwrap();
        }
    }
    store.erase_chat(7_000_000_000).unwrap();
    store.flush().unwrap();
    store
}

/// Every tree's entries but `meta`'s (a compaction sets the id base and its size there), by
/// tree name; not the keyring (wrapped afresh for each backup).
fn records(store: &Store) -> Records {
    let snapshot = store.snapshot().unwrap();
    snapshot
        .trees
        .into_iter()
        .filter(|(name, _)| name != b"meta" && !name.starts_with(b"\0"))
        .map(|(name, entries)| (String::from_utf8_lossy(&name).into_owned(), entries))
        .collect()
}

/// Asserts two sets of records are the same, naming the first tree that differs.
fn assert_same(left: &Records, right: &Records) {
    let names = |r: &[(String, Vec<_>)]| r.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(left), names(right));
    for ((name, a), (_, b)) in left.iter().zip(right) {
        assert!(a == b, "tree {name:?}: {} entries against {}", a.len(), b.len());
    }
}

#[test]
fn a_compaction_keeps_every_record_in_smaller_files_and_deletes_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = churned(dir.path());
    let before = records(&store);
    let id_before = store.next_id().unwrap();
    let compaction = store.compact().unwrap();
    assert!(compaction.after < compaction.before, "{compaction:?}");
    assert_same(&records(&store), &before);
    assert_eq!(store.subscription_count(), READERS as usize - 1);
    assert!(store.subscription(7_000_000_000).unwrap().is_none());
    assert!(store.next_id().unwrap() > id_before, "ids go on from where they were");
    // sled's files now live in `sled-1`, named by `current`; the old ones are gone.
    assert_eq!(std::fs::read_to_string(dir.path().join(CURRENT)).unwrap(), "sled-1\n");
    assert!(dir.path().join("sled-1").join("db").exists());
    assert!(!dir.path().join("db").exists() && !dir.path().join("conf").exists());
    assert_eq!(sled_dir(dir.path()), dir.path().join("sled-1"));
    // Writes go to the new files, and a reopened store reads them there.
    let mut late = Subscription::new(7_100_000_000, ChatKind::Group, Lang::Ru);
    late.next_due = Some(6);
    store.save_subscription(&late).unwrap();
    let after = records(&store);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_same(&records(&store), &after);
    assert_eq!(store.subscription(7_100_000_000).unwrap().map(|s| s.next_due), Some(Some(6)));
    // A second one: `sled-2`, and `sled-1` deleted.
    store.compact().unwrap();
    assert_same(&records(&store), &after);
    assert!(!dir.path().join("sled-1").exists());
    assert_eq!(sled_dir(dir.path()), dir.path().join("sled-2"));
}

#[test]
fn a_compaction_cut_short_leaves_the_old_store_and_its_leftovers_are_deleted_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = churned(dir.path());
        records(&store)
    };
    // Killed while copying: a half-written `sled-1`, `current` not written yet.
    std::fs::create_dir(dir.path().join("sled-1")).unwrap();
    std::fs::write(dir.path().join("sled-1").join("db"), b"half a copy").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_same(&records(&store), &before);
    assert!(!dir.path().join("sled-1").exists(), "the half-written copy is deleted");
    // A `current` that names nothing is no store either: the files where they are win.
    drop(store);
    std::fs::write(dir.path().join(CURRENT), "sled-9\n").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_same(&records(&store), &before);
    // Killed after `current` was replaced, before the old files were deleted.
    store.compact().unwrap();
    drop(store);
    std::fs::write(dir.path().join("snap.0000000000ab"), b"old").unwrap();
    std::fs::write(dir.path().join("db"), b"old").unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_same(&records(&store), &before);
    assert!(!dir.path().join("db").exists() && !dir.path().join("snap.0000000000ab").exists());
    assert!(dir.path().join("keyring").exists(), "the keyring stays");
}

#[test]
fn writes_during_a_compaction_wait_for_it_and_land_in_the_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = churned(dir.path());
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for chat in 0..400 {
                let sub = Subscription::new(7_200_000_000 + chat, ChatKind::Private, Lang::En);
                store.save_subscription(&sub).unwrap();
            }
        })
    };
    store.compact().unwrap();
    writer.join().unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    for chat in 0..400 {
        assert!(store.subscription(7_200_000_000 + chat).unwrap().is_some(), "chat {chat}");
    }
}

#[test]
fn a_small_store_is_not_compacted_and_a_grown_one_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = churned(dir.path());
    let size = store.size_on_disk().unwrap();
    assert!(size < FLOOR);
    assert_eq!(store.compact_if_grown().unwrap(), None);
    assert_eq!(store.compact_if_beyond(size).unwrap(), None, "not past the floor");
    assert!(!dir.path().join(CURRENT).exists());
    let compaction = store.compact_if_beyond(size / 2).unwrap().expect("compacted");
    assert!(compaction.after < compaction.before, "{compaction:?}");
    // Right after, it is not grown again: only once its files are three times as large.
    assert_eq!(store.compact_if_beyond(0).unwrap(), None);
    let sub = Subscription::new(7_300_000_000, ChatKind::Private, Lang::En);
    while store.size_on_disk().unwrap() <= 3 * compaction.after {
        store.save_subscription(&sub).unwrap();
    }
    assert!(store.compact_if_beyond(0).unwrap().is_some());
}

#[test]
fn a_second_tribune_waits_for_the_store_lock_whichever_generation_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let store = churned(dir.path());
    store.compact().unwrap();
    // The lock is the store's, not one generation's: a second open is refused as in use.
    let second = Store::open_keyed(dir.path(), &Secret::public_test_key());
    assert!(matches!(second, Err(StoreError::Open { .. })), "{:?}", second.err());
    assert!(super::super::open::hold_lock(dir.path()).is_err(), "a restore is refused too");
    drop(store);
    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(reopened.subscription_count(), READERS as usize - 1);
}
