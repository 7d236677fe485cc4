//! The bot token never appears in Tribune's output, even at the most verbose log level, and
//! neither do readers' names, what they write, or their chat ids (PRIVACY.md).

use crate::support::{self, Process, TIMEOUT, eventually};
use std::{path::Path, time::Duration};
use telegram_bot_api_emulator::{Emulator, Fault, FaultTarget};
use tribune::{
    content::Lang,
    store::{Store, unix_now},
    subscription::{ChatKind, Subscription},
};

/// A bot token of the right shape that no emulator hands out.
const TOKEN: &str = "123456:SECRETpartOfTheTokenNeverLogged_0123456789";

/// `tribune serve` at trace level with `token` and `api_url`, stdout and stderr into `log`,
/// its store in `data`.
fn serve_at_trace(token: &str, api_url: &str, data: &Path, log: &Path) -> Process {
    support::tribune(&["serve"])
        .env("TELOXIDE_TOKEN", token)
        .env("TELOXIDE_API_URL", api_url)
        .data(data)
        .env("TRIBUNE_POLL_TIMEOUT_SECS", "1")
        .env("RUST_LOG", "trace")
        .log(log)
        .spawn()
}

/// How often `what` appears in the log so far.
fn occurrences(log: &Path, what: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches(what).count()
}

/// Chat ids as Telegram hands them out today: ten digits, which no timestamp, port or
/// counter in a log is likely to repeat by chance.
const READER: i64 = 7_013_570_246;
const MEMBER: i64 = 6_902_468_135;
const SUPERGROUP: i64 = -1_002_795_318_642;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_names_words_and_chat_ids_are_never_logged_even_at_trace_level() {
    let emulator = Emulator::start().await.unwrap();
    let user = emulator.user(READER, "Zlatoslava", Some("en"));
    let member = emulator.user(MEMBER, "Member", Some("en"));
    let group = emulator.supergroup(SUPERGROUP, "Circle");
    group.set_admins(&[MEMBER]);
    let group = group.as_member(&member);
    let data = tempfile::tempdir().unwrap();
    // Logs go to a file: a pipe nobody reads would fill up and stall the bot.
    let log_path = data.path().join("serve.log");
    // Not the directory holding the log: Tribune refuses a directory of other files.
    let store = data.path().join("data");
    let mut child = serve_at_trace(emulator.token(), &emulator.api_url(), &store, &log_path);
    user.send_text("/start");
    user.wait_for_messages(1, TIMEOUT).await.unwrap();
    user.send_text("/subscribe");
    user.wait_for_messages(1, TIMEOUT).await.unwrap();
    user.send_text("/search quixotic-zebra-words");
    user.wait_for_messages(1, TIMEOUT).await.unwrap();
    // A group, a button, and a reader's /stop: the paths where a chat id is at hand.
    group.send_text("/subscribe@tribune_test_bot");
    let card = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    let pressed = support::press(&group, &card, "Weekly");
    group.wait_for_answer(&pressed, TIMEOUT).await.unwrap();
    user.send_text("/stop");
    user.wait_for_messages(1, TIMEOUT).await.unwrap();
    let requests = emulator.clone();
    eventually(TIMEOUT, "a few polls", || requests.requests("getUpdates") >= 3).await;
    let status = child.terminate(TIMEOUT).await;
    let all = std::fs::read_to_string(&log_path).unwrap();
    assert!(all.len() > 10_000, "trace logging produced little output ({} bytes)", all.len());
    let secret = emulator.token().split_once(':').unwrap().1;
    assert!(!all.contains(secret), "the token's secret appears in the output");
    assert!(!all.contains("Zlatoslava"), "a reader's name appears in the logs");
    assert!(!all.contains("quixotic-zebra"), "a reader's words appear in the logs");
    for id in [READER, MEMBER, SUPERGROUP] {
        let digits = id.unsigned_abs().to_string();
        let line = all.lines().find(|l| l.contains(&digits));
        assert!(line.is_none(), "chat id {id} appears in the logs: {line:?}");
    }
    let channel_digits = &SUPERGROUP.unsigned_abs().to_string()[3..];
    assert!(!all.contains(channel_digits), "the supergroup's id without -100 is in the logs");
    // The key that seals the store: its bytes (the test key is ASCII) and its hex form.
    let key = tribune::store::keyring::PUBLIC_TEST_KEY;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!all.contains(std::str::from_utf8(key).unwrap()), "the key appears in the output");
    assert!(!all.contains(&hex), "the key appears in the output as hex");
    assert!(status.success(), "SIGTERM ends serve with status 0");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_not_logged_when_the_bot_api_cannot_be_reached() {
    // A port that was free a moment ago: nothing listens there, every request is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let api_url = format!("http://127.0.0.1:{port}/");
    let mut serve = serve_at_trace(TOKEN, &api_url, &dir.path().join("data"), &log);
    // serve gives up at start-up; SIGTERM only if it is still trying.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while serve.is_running() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if serve.is_running() {
        serve.terminate(TIMEOUT).await;
    }
    let all = std::fs::read_to_string(&log).unwrap();
    assert!(all.contains("cannot reach the Bot API"), "the failure is reported:\n{all}");
    let secret = TOKEN.split_once(':').unwrap().1;
    assert!(!all.contains(secret), "the token's secret appears in the output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_not_logged_when_sends_fail_and_the_bot_api_goes_away() {
    let emulator = Emulator::start().await.unwrap();
    let chat = 70_003;
    emulator.user(chat, "Reader", Some("en"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        // A digest due at once, which the Bot API refuses with 500s.
        let store = Store::open(&data).unwrap();
        let mut sub = Subscription::new(chat, ChatKind::Private, Lang::En);
        sub.next_due = Some(unix_now() - 60);
        store.save_subscription(&sub).unwrap();
    }
    emulator.inject(FaultTarget::Chat(chat), Fault::ServerError, None);
    let log = dir.path().join("serve.log");
    let token = emulator.token();
    let secret = token.split_once(':').unwrap().1.to_string();
    let mut serve = serve_at_trace(token, &emulator.api_url(), &data, &log);
    eventually(Duration::from_secs(30), "a send refused with a 500", || {
        occurrences(&log, "temporary failure") >= 1
    })
    .await;
    // Then the Bot API goes away: long polls (and the retry) meet refused connections.
    emulator.shutdown().await;
    eventually(Duration::from_secs(30), "polls failing on the network", || {
        occurrences(&log, "polling for updates failed") >= 2
    })
    .await;
    let status = serve.terminate(TIMEOUT).await;
    let all = std::fs::read_to_string(&log).unwrap();
    assert!(!all.contains(&secret), "the token's secret appears in the output");
    assert!(status.success(), "SIGTERM ends serve with status 0");
}
