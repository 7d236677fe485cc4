//! `tribune serve` stopped in the middle of a digest fan-out, by SIGKILL (a crash) or SIGTERM
//! (a service manager): after a restart every subscriber has the digest (none lost), and only
//! messages in flight at the stop can arrive twice. Ctrl-C (SIGINT) stops it as cleanly.

use crate::support;

use crate::support::{Process, TIMEOUT, eventually, messages_dir};
use std::{
    io::Write,
    process::{Command, Stdio},
    time::Duration,
};
use telegram_bot_api_emulator::Emulator;
use tribune::{
    content::Lang,
    delivery::Limits,
    store::{Store, unix_now},
    subscription::{ChatKind, Subscription},
};

const CHATS: i64 = 300;

/// How long a stopped `serve` may take to exit: the long poll in flight (1 s here) plus the
/// engine's grace period for sends in flight (10 s), with room for a slow machine.
const STOP_BOUND: Duration = Duration::from_secs(20);

fn serve(emulator: &Emulator, data: &std::path::Path) -> Process {
    let mut command = support::serve_command(emulator, data, &messages_dir());
    Process::new(command.stderr(Stdio::inherit()).spawn().expect("start tribune serve"))
}

/// How the first `serve` is stopped in the middle of the fan-out.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stop {
    /// SIGKILL, as a crash would.
    Kill,
    /// SIGTERM: serve must exit with status 0 within [`STOP_BOUND`].
    Term,
}

/// `CHATS` subscribers (ids after `first_id`) due now; serve is stopped by `stop` once a
/// third of them have their digest, then started again until every one has it. Asserts that
/// none is lost and that duplicates stay within the sends that can be in flight.
async fn stop_in_the_middle_of_a_fan_out(stop: Stop, first_id: i64) {
    let emulator = Emulator::start().await.unwrap();
    let users: Vec<_> =
        (1..=CHATS).map(|id| emulator.user(first_id + id, "Reader", Some("en"))).collect();
    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open(data.path()).unwrap();
        let due = unix_now() - 60;
        let subs = (1..=CHATS).map(|id| {
            let mut sub = Subscription::new(first_id + id, ChatKind::Private, Lang::En);
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
    match stop {
        Stop::Kill => first.kill(),
        Stop::Term => {
            let exit = first.terminate(STOP_BOUND).await;
            assert!(exit.success(), "SIGTERM mid fan-out ends serve with status 0: {exit:?}");
        }
    }
    let sent_before_stop = emulator.stats().sent;
    assert!(sent_before_stop < CHATS as u64, "the stop came after the fan-out ended");

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
    // concurrency) plus those confirmed since the last group flush. A SIGTERM lets sends in
    // flight finish and flushes, so it should stay well inside this.
    let window = Limits::telegram(30.0, false).concurrency + 1;
    // Written to stderr directly: libtest captures only the print macros.
    let _ = writeln!(
        std::io::stderr().lock(),
        "crash test ({stop:?}): {CHATS} chats, stopped after {sent_before_stop} sends; lost {lost}, duplicated {duplicated} (window {window})"
    );
    assert_eq!(lost, 0);
    assert!(
        duplicated <= window,
        "{duplicated} duplicates exceed the in-flight window of {window}"
    );
    assert!(users.iter().all(|u| u.messages()[0].plain_text().starts_with("🗞 Tribune · ")));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_in_the_middle_of_a_fan_out_loses_nothing() {
    stop_in_the_middle_of_a_fan_out(Stop::Kill, 20_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_in_the_middle_of_a_fan_out_exits_cleanly_and_loses_nothing() {
    stop_in_the_middle_of_a_fan_out(Stop::Term, 21_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_serve_cleanly_and_keeps_what_it_saved() {
    let emulator = Emulator::start().await.unwrap();
    let user = emulator.user(22_001, "Reader", Some("en"));
    let data = tempfile::tempdir().unwrap();
    // The log goes beside the data directory: serve refuses a directory of other files.
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = support::serve_command(&emulator, data.path(), &messages_dir());
    let mut running =
        Process::new(command.env("RUST_LOG", "info").stderr(log).spawn().expect("start serve"));
    user.send_text("/subscribe");
    user.wait_for_messages(1, TIMEOUT).await.expect("the bot answered /subscribe");
    // What a terminal sends on Ctrl-C: without a handler the process would die of SIGINT.
    let exit = running.signal("INT", STOP_BOUND).await;
    assert!(exit.success(), "Ctrl-C ends serve with status 0: {exit:?}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("stopped cleanly"), "the shutdown ran to its end:\n{log}");
    // The store was left whole and flushed: reopened, it holds the subscription.
    let store = Store::open(data.path()).unwrap();
    let sub = store.subscription(22_001).unwrap().expect("the subscription survived Ctrl-C");
    assert!(sub.active && sub.next_due.is_some(), "{sub:?}");
    emulator.shutdown().await;
}

#[test]
fn a_second_instance_on_the_same_data_directory_is_refused_clearly() {
    let data = tempfile::tempdir().unwrap();
    let _running = Store::open(data.path()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tribune"))
        .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
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
