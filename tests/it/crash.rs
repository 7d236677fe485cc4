//! `tribune serve` stopped in the middle of a digest fan-out, by SIGKILL (a crash) or SIGTERM
//! (a service manager): after a restart every subscriber has the digest (none lost), and only
//! messages in flight at the stop can arrive twice. Ctrl-C (SIGINT) stops it as cleanly.

use crate::support;

use crate::support::{Process, TIMEOUT, eventually, gate};
use std::{io::Write, time::Duration};
use telegram_bot_api_emulator::Emulator;
use tribune::{
    content::Lang,
    delivery::Limits,
    store::{Store, backup, unix_now},
    subscription::{ChatKind, Subscription},
};

const CHATS: i64 = 300;

/// How long a stopped `serve` may take to exit: the long poll in flight (1 s here) plus the
/// engine's grace period for sends in flight (10 s), with room for a slow machine.
const STOP_BOUND: Duration = Duration::from_secs(20);

fn serve(emulator: &Emulator, data: &std::path::Path) -> Process {
    support::serve(emulator, data).metrics().spawn()
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
    let _alone = gate::exclusive();
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
    // Anything still queued (a resend) goes out before duplicates are counted: the outbox
    // is empty once every send is confirmed.
    second.wait_metric("tribune_outbox_depth", Duration::from_secs(60), |depth| depth == 0).await;
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
    let mut running =
        support::serve(&emulator, data.path()).env("RUST_LOG", "info").log(&log_path).spawn();
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
    let output = support::tribune(&["import"]).data(data.path()).run();
    let stderr = output.fails(1);
    assert!(stderr.contains("cannot open the data directory"), "{stderr}");
    assert!(stderr.contains("is another Tribune running on it?"), "{stderr}");
}

/// SECURITY.md: "a second Tribune on the same data directory refuses to start". With `serve`
/// itself: the second exits at once with the reason, and the first goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_the_same_data_directory_refuses_and_the_first_goes_on() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let data = data.path().join("data");
    let mut first = support::serve(&emulator, &data).spawn();
    let user = emulator.user(22_101, "Reader", Some("en"));
    assert!(support::ask(&user, "/start").await.plain_text().starts_with("Tribune carries"));

    let mut second = support::serve(&emulator, &data).spawn();
    let exit = second.exit(TIMEOUT).await;
    let said = second.log();
    assert_eq!(exit.code(), Some(1), "the second serve: {exit:?}\n{said}");
    assert!(said.contains("cannot open the data directory"), "{said}");
    assert!(said.contains("is another Tribune running on it?"), "{said}");
    assert!(first.is_running(), "the first serve still runs:\n{}", first.log());
    let settings = support::ask(&user, "/subscribe").await.plain_text();
    assert!(settings.starts_with("✅ Subscribed."), "the first still answers: {settings}");
    assert!(first.terminate(TIMEOUT).await.success(), "{}", first.log());
    emulator.shutdown().await;
}

/// Every place a backup of the store names `chat`: (tree, where). Keys hold ids as 8
/// big-endian bytes (the due index with its sign bit flipped); values are JSON, where an id
/// is a number after a colon, whatever the field's name.
fn naming(snapshot: &backup::Snapshot, chat: i64) -> Vec<String> {
    // With the key in hand (the store is sealed): every record opened, and every key
    // holding the chat's tag under any epoch or its id in plain.
    let keyring = tribune::store::keyring::Keyring::decode(
        snapshot.keyring().expect("a sealed store's backup carries its keyring"),
        &tribune::store::Secret::public_test_key(),
    )
    .expect("the test key opens the keyring");
    let tags: Vec<[u8; 16]> = keyring.epochs().iter().map(|e| e.tag(chat)).collect();
    let plain = chat.to_be_bytes();
    let number = chat.to_string();
    let mut found = Vec::new();
    for (tree, key, opened) in support::opened_records(snapshot) {
        let tagged = tags.iter().any(|t| key.windows(t.len()).any(|w| w == t));
        if tagged || key.windows(8).any(|w| w == plain) {
            found.push(format!("{tree}: key"));
        }
        let text = String::from_utf8_lossy(&opened);
        let named = text.match_indices(&number).any(|(at, _)| {
            let before = text[..at].trim_end().chars().next_back();
            let after = text[at + number.len()..].chars().next();
            matches!(before, Some(':' | '[' | ',')) && !after.is_some_and(|c| c.is_ascii_digit())
        });
        if named || opened.windows(8).any(|w| w == plain) {
            found.push(format!("{tree}: {text}"));
        }
    }
    found
}

/// PRIVACY.md: `/stop` erases "durably (the store is flushed before the answer is sent)".
/// A reader with a delivered digest and a language choice sends /stop; the moment the
/// answer arrives, serve is killed (SIGKILL: nothing more is flushed). A backup of what is on
/// disk names the chat nowhere (one taken before /stop names it in several trees, so the
/// search finds what it looks for), and the restarted bot has never heard of the reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_erases_durably_even_when_serve_is_killed_right_after_answering() {
    const READER: i64 = 7_104_263_915;
    const OTHER: i64 = 7_104_263_916;
    let emulator = Emulator::start().await.unwrap();
    let reader = emulator.user(READER, "Reader", Some("en"));
    let other = emulator.user(OTHER, "Reader", Some("en"));
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    {
        let store = Store::open(&data).unwrap();
        let subs = [READER, OTHER].map(|chat| {
            let mut sub = Subscription::new(chat, ChatKind::Private, Lang::En);
            sub.next_due = Some(unix_now() - 60);
            sub
        });
        store.load_subscriptions(subs).unwrap();
    }
    let mut first = support::serve(&emulator, &data).spawn();
    for user in [&reader, &other] {
        let digest = support::next(user).await.plain_text();
        assert!(digest.starts_with("🗞 Tribune · "), "{digest}");
    }
    let lang = support::ask(&reader, "/lang ru").await.plain_text();
    assert_eq!(lang, "Язык: русский.");
    let before = root.path().join("before.backup");
    support::tribune(&["backup", before.to_str().unwrap()]).data(&data).run_async().await.ok();
    let named = naming(&backup::read(&before).unwrap(), READER);
    assert!(named.len() >= 3, "before /stop the store names the reader: {named:#?}");

    let stopped = support::ask(&reader, "/stop").await.plain_text();
    assert!(stopped.starts_with("Готово"), "{stopped}");
    first.kill();

    let after = root.path().join("after.backup");
    support::tribune(&["backup", after.to_str().unwrap()]).data(&data).run_async().await.ok();
    let snapshot = backup::read(&after).unwrap();
    assert_eq!(naming(&snapshot, READER), Vec::<String>::new(), "the erased chat is on disk");
    let kept: Vec<i64> = snapshot
        .subscriptions(&tribune::store::Secret::public_test_key())
        .unwrap()
        .iter()
        .map(|s| s.chat_id)
        .collect();
    assert_eq!(kept, [OTHER], "the other reader is kept");

    let mut second = support::serve(&emulator, &data).spawn();
    let settings = support::ask(&reader, "/settings").await.plain_text();
    assert_eq!(
        settings, "This chat has no subscription. Send /subscribe to get digests.",
        "no subscription and no language choice survived the kill"
    );
    let kept = support::ask(&other, "/settings").await.plain_text();
    assert!(kept.contains("Digest settings"), "{kept}");
    assert!(second.terminate(TIMEOUT).await.success(), "{}", second.log());
    emulator.shutdown().await;
}
