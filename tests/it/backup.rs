//! `tribune backup` and `tribune restore` through the real binary: a backup taken while
//! `serve` runs and readers keep subscribing is a consistent snapshot that restores into a
//! store that opens and serves; a damaged backup or a running Tribune leave the data alone.

use crate::support;

use crate::support::{Process, Run, TIMEOUT, eventually, messages_dir};
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};
use telegram_bot_api_emulator::{Emulator, User};
use tribune::{
    control::socket_path,
    store::{Store, backup},
    subscription::{ChatKind, Subscription},
};

/// The operator told about channels in the backup test.
const OPERATOR: i64 = 29_999;

fn serve(emulator: &Emulator, data: &Path, log: &Path) -> Process {
    support::serve(emulator, data).env("TRIBUNE_ADMINS", OPERATOR.to_string()).log(log).spawn()
}

/// `tribune <args>` on a data directory.
fn tribune(data: &Path, args: &[&str]) -> Run {
    support::tribune(args).data(data).run()
}

fn stderr(output: &Run) -> String {
    output.stderr.clone()
}

/// Sends /subscribe as each user and waits for the confirmation; the chats confirmed.
async fn subscribe_all(users: Vec<User>) -> BTreeSet<i64> {
    for user in &users {
        user.send_text("/subscribe");
    }
    let mut confirmed = BTreeSet::new();
    for user in &users {
        let replies = user.wait_for_messages(1, Duration::from_secs(60)).await.expect("a reply");
        assert!(replies[0].plain_text().contains("Subscribed"), "{}", replies[0].plain_text());
        confirmed.insert(user.chat_id());
    }
    confirmed
}

/// Every file in a directory tree with its bytes (to show a directory was not touched).
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(contents(&path));
        } else {
            found.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    found.sort();
    found
}

/// Names in `root` (to show no `.before-restore` or half-built directory appeared).
fn names(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_every_subscriber_it_holds() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let emulator = Emulator::start().await.unwrap();
    let users: Vec<User> =
        (1..=120).map(|i| emulator.user(30_000 + i, "Reader", Some("en"))).collect();
    let mut running = serve(&emulator, &data, &root.path().join("serve1.log"));
    eventually(TIMEOUT, "serve listens on its control socket", || socket_path(&data).exists())
        .await;

    let before = subscribe_all(users[..20].to_vec()).await;
    // Not only readers: a group, a channel, and a channel that went away (deactivated).
    let operator = emulator.user(OPERATOR, "Operator", Some("en"));
    let group = emulator.group(-5001, "Circle");
    group.set_admins(&[users[0].id()]);
    let admin = group.as_member(&users[0]);
    admin.send_text("/subscribe@tribune_test_bot");
    let card = admin.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(card[0].plain_text().contains("Subscribed"), "{}", card[0].plain_text());
    let (kept, gone) = (-1_005_000_001, -1_005_000_002);
    emulator.channel(kept, "Voice").add_bot_as_admin(100, true);
    operator.wait_for_messages(1, TIMEOUT).await.unwrap();
    let lost = emulator.channel(gone, "Echo");
    lost.add_bot_as_admin(100, true);
    operator.wait_for_messages(1, TIMEOUT).await.unwrap();
    lost.remove_bot(100);
    let notice = operator.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(notice[0].plain_text().contains("can no longer post"), "{}", notice[0].plain_text());
    let before: BTreeSet<i64> = before.into_iter().chain([-5001, kept, gone]).collect();
    // Readers keep subscribing, one after the other, while the backup is taken.
    let during = tokio::spawn({
        let users = users[20..].to_vec();
        async move {
            let mut confirmed = BTreeSet::new();
            for user in users {
                confirmed.extend(subscribe_all(vec![user]).await);
            }
            confirmed
        }
    });
    eventually(TIMEOUT, "readers subscribing meanwhile", || !users[20].messages().is_empty()).await;
    let file = root.path().join("tribune.backup");
    let output = {
        let (data, file) = (data.clone(), file.clone());
        tokio::task::spawn_blocking(move || tribune(&data, &["backup", file.to_str().unwrap()]))
            .await
            .unwrap()
    };
    assert!(output.status.success(), "backup failed: {}", stderr(&output));
    let printed = &output.stdout;
    assert!(printed.contains("from the running Tribune"), "{printed}");
    let all: BTreeSet<i64> = before.union(&during.await.unwrap()).copied().collect();

    let snapshot = backup::read(&file).unwrap();
    let subs: Vec<Subscription> =
        snapshot.subscriptions(&tribune::store::Secret::public_test_key()).unwrap();
    let claimed: BTreeSet<i64> = subs.iter().map(|s| s.chat_id).collect();
    println!(
        "backup while serving: {} subscribed before, {} in the backup, {} in all",
        before.len(),
        claimed.len(),
        all.len()
    );
    assert!(claimed.is_superset(&before), "every confirmed subscriber is in the backup");
    assert!(claimed.is_subset(&all));
    assert!(claimed.len() < all.len(), "the backup was taken while readers were subscribing");
    // One point in time across trees: each subscription's due entry is there, and no other.
    let scheduled = subs.iter().filter(|s| s.next_due.is_some()).count();
    assert_eq!(snapshot.tree("due").len(), scheduled);
    let kind_of = |chat: i64| subs.iter().find(|s| s.chat_id == chat).map(|s| (s.kind, s.active));
    assert_eq!(kind_of(-5001), Some((ChatKind::Group, true)));
    assert_eq!(kind_of(kept), Some((ChatKind::Channel, true)));
    assert_eq!(kind_of(gone), Some((ChatKind::Channel, false)), "kept, deactivated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The running Tribune also exports its content on request.
    let exported = root.path().join("exported");
    let output = tribune(&data, &["export", exported.to_str().unwrap()]);
    assert!(output.status.success(), "export while serving: {}", stderr(&output));
    assert!(output.stdout.contains("from the running Tribune"), "{}", output.stdout);
    assert_eq!(
        tribune::content::load_dir(&exported).unwrap().corpus,
        tribune::content::load_dir(&messages_dir()).unwrap().corpus
    );
    std::fs::remove_dir_all(&exported).unwrap();

    // Restoring over the running Tribune's directory is refused, and nothing moves.
    let refused = tribune(&data, &["restore", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("a Tribune is running on"), "{}", stderr(&refused));
    assert_eq!(
        names(root.path()),
        BTreeSet::from(["data", "serve1.log", "tribune.backup"].map(String::from))
    );

    // So is compacting it from outside: the running Tribune compacts its own store.
    let refused = tribune(&data, &["compact"]);
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(
        said.contains("a Tribune is running on") && said.contains("compacts the store itself"),
        "{said}"
    );
    assert_eq!(
        names(root.path()),
        BTreeSet::from(["data", "serve1.log", "tribune.backup"].map(String::from))
    );
    assert!(!data.join("current").exists(), "no copy was made");

    let exit = running.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "serve stops cleanly: {exit:?}");
    assert!(!socket_path(&data).exists(), "the control socket is removed on exit");

    // Restore into a new directory: exactly the subscribers the backup claims.
    let restored = root.path().join("restored");
    let output = tribune(&restored, &["restore", file.to_str().unwrap()]);
    assert!(output.status.success(), "restore failed: {}", stderr(&output));
    {
        let store = Store::open(&restored).unwrap();
        let chats: BTreeSet<i64> = store.subscriptions().map(|s| s.chat_id).collect();
        assert_eq!(chats, claimed);
        // Every record as it was, settings and state alike.
        let mut restored_subs: Vec<Subscription> = store.subscriptions().collect();
        let mut backed_up = subs.clone();
        restored_subs.sort_by_key(|s| s.chat_id);
        backed_up.sort_by_key(|s| s.chat_id);
        assert_eq!(restored_subs, backed_up);
        assert_eq!(store.due_until(i64::MAX, usize::MAX).unwrap().len(), scheduled);
    }

    // The restored store serves: a subscriber from before the backup still has their settings.
    let mut second = serve(&emulator, &restored, &root.path().join("serve2.log"));
    let reader = &users[0];
    reader.send_text("/settings");
    let card = reader.wait_for_messages(1, Duration::from_secs(30)).await.unwrap();
    assert!(!card[0].plain_text().contains("no subscription"), "{}", card[0].plain_text());
    assert!(!card[0].buttons.is_empty(), "the settings card has its buttons");
    let exit = second.terminate(Duration::from_secs(30)).await;
    assert!(exit.success());
    emulator.shutdown().await;
}

#[test]
fn a_damaged_backup_is_refused_and_the_data_is_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let imported = tribune(&data, &["import"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let file = root.path().join("good.backup");
    let output = tribune(&data, &["backup", file.to_str().unwrap()]);
    assert!(output.status.success(), "backup without a running Tribune: {}", stderr(&output));
    let good = std::fs::read(&file).unwrap();

    let truncated = root.path().join("truncated.backup");
    std::fs::write(&truncated, &good[..good.len() * 2 / 3]).unwrap();
    let flipped = root.path().join("flipped.backup");
    let mut bytes = good.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&flipped, bytes).unwrap();
    let foreign = root.path().join("notes.txt");
    std::fs::write(&foreign, "not a backup at all").unwrap();

    let before = contents(&data);
    let entries = names(root.path());
    for (file, expected) in [
        (&truncated, "is damaged (cut short at"),
        (&flipped, "is damaged (checksum mismatch); nothing was changed"),
        (&foreign, "is not a Tribune backup"),
    ] {
        let output = tribune(&data, &["restore", file.to_str().unwrap()]);
        let text = stderr(&output);
        assert!(!output.status.success(), "{text}");
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("panicked") && !text.contains("backtrace"), "{text}");
    }
    assert!(contents(&data) == before, "the data directory is unchanged");
    assert_eq!(names(root.path()), entries, "nothing was built or moved aside");

    // Any process holding the store (here this test) blocks a restore, socket or not.
    {
        let _held = Store::open(&data).unwrap();
        let output = tribune(&data, &["restore", file.to_str().unwrap()]);
        assert!(!output.status.success());
        assert!(stderr(&output).contains("a Tribune is running on"), "{}", stderr(&output));
        assert_eq!(names(root.path()), entries, "nothing was built or moved aside");
        // A compaction too, told by the store's own lock.
        let output = tribune(&data, &["compact"]);
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("is another Tribune running on it?"),
            "{}",
            stderr(&output)
        );
        assert!(!data.join("current").exists(), "no copy was made");
    }

    // The good backup restores, keeping the previous directory aside.
    // sled may hold its lock a moment after the store above was dropped.
    let mut output = tribune(&data, &["restore", file.to_str().unwrap()]);
    for _ in 0..50 {
        if output.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        output = tribune(&data, &["restore", file.to_str().unwrap()]);
    }
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = &output.stdout;
    assert!(printed.contains("the previous data directory is kept as"), "{printed}");
    assert!(names(root.path()).iter().any(|n| n.starts_with("data.before-restore-")));
    assert!(Store::open(&data).unwrap().corpus().unwrap().is_some());
}
