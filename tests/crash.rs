//! `tribune serve` killed with SIGKILL in the middle of a digest fan-out: after a restart
//! every subscriber has the digest (none lost), and only messages in flight at the kill can
//! arrive twice.

mod support;

use std::{
    process::{Command, Stdio},
    time::Duration,
};
use support::{Process, eventually, messages_dir};
use tribune::{
    content::Lang,
    delivery::Limits,
    emulator::Emulator,
    store::{Store, unix_now},
    subscription::{ChatKind, Subscription},
};

const CHATS: i64 = 300;

fn serve(emulator: &Emulator, data: &std::path::Path) -> Process {
    let mut command = support::serve_command(emulator, data, &messages_dir());
    Process::new(command.stderr(Stdio::inherit()).spawn().expect("start tribune serve"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_in_the_middle_of_a_fan_out_loses_nothing() {
    let emulator = Emulator::start().await.unwrap();
    let users: Vec<_> =
        (1..=CHATS).map(|id| emulator.user(20_000 + id, "Reader", Some("en"))).collect();
    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open(data.path()).unwrap();
        let due = unix_now() - 60;
        let subs = (1..=CHATS).map(|id| {
            let mut sub = Subscription::new(20_000 + id, ChatKind::Private, Lang::En);
            sub.next_due = Some(due);
            sub
        });
        store.load_subscriptions(subs).unwrap();
    }

    let mut first = serve(&emulator, data.path());
    let stats = emulator.clone();
    eventually(Duration::from_secs(60), "a third of the fan-out", || {
        stats.stats().sent >= (CHATS / 3) as u64
    })
    .await;
    first.kill();
    let sent_before_kill = emulator.stats().sent;
    assert!(sent_before_kill < CHATS as u64, "the kill came after the fan-out ended");

    let mut second = serve(&emulator, data.path());
    eventually(Duration::from_secs(90), "every subscriber has a digest", || {
        users.iter().all(|u| !u.messages().is_empty())
    })
    .await;
    // Let anything still queued go out before counting duplicates.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let exit = second.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "SIGTERM ends serve cleanly: {exit:?}");

    let counts: Vec<usize> = users.iter().map(|u| u.messages().len()).collect();
    let lost = counts.iter().filter(|c| **c == 0).count();
    let duplicated: usize = counts.iter().map(|c| c.saturating_sub(1)).sum();
    // Sends that may be unconfirmed at a kill: those in flight (at most the engine's
    // concurrency) plus those confirmed since the last group flush.
    let window = Limits::telegram(30.0, false).concurrency + 1;
    println!(
        "crash test: {CHATS} chats, killed after {sent_before_kill} sends; lost {lost}, duplicated {duplicated} (window {window})"
    );
    assert_eq!(lost, 0);
    assert!(
        duplicated <= window,
        "{duplicated} duplicates exceed the in-flight window of {window}"
    );
    assert!(users.iter().all(|u| u.messages()[0].plain_text().starts_with("🗞 Tribune · ")));
    emulator.shutdown().await;
}

#[test]
fn a_second_instance_on_the_same_data_directory_is_refused_clearly() {
    let data = tempfile::tempdir().unwrap();
    let _running = Store::open(data.path()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tribune"))
        .arg("import")
        .env("TRIBUNE_DATA_DIR", data.path())
        .env("TRIBUNE_MESSAGES_DIR", messages_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("cannot open the data directory"), "{stderr}");
    assert!(stderr.contains("is another Tribune running on it?"), "{stderr}");
}
