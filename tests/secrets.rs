//! The bot token never appears in Tribune's output, even at the most verbose log level, and
//! neither do readers' names or what they write.

mod support;

use std::process::{Command, Stdio};
use support::{Process, TIMEOUT, eventually, messages_dir};
use tribune::emulator::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_names_and_words_are_never_logged_even_at_trace_level() {
    let emulator = Emulator::start().await.unwrap();
    let user = emulator.user(70_001, "Zlatoslava", Some("en"));
    let data = tempfile::tempdir().unwrap();
    // Logs go to a file: a pipe nobody reads would fill up and stall the bot.
    let log_path = data.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Process::new(
        Command::new(env!("CARGO_BIN_EXE_tribune"))
            .arg("serve")
            .env("TELOXIDE_TOKEN", emulator.token())
            .env("TELOXIDE_API_URL", emulator.api_url())
            // Not the directory holding the log: Tribune refuses a directory of other files.
            .env("TRIBUNE_DATA_DIR", data.path().join("data"))
            .env("TRIBUNE_MESSAGES_DIR", messages_dir())
            .env("TRIBUNE_POLL_TIMEOUT_SECS", "1")
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    user.send_text("/start");
    user.wait_for_messages(1, TIMEOUT).await.unwrap();
    user.send_text("/subscribe");
    user.wait_for_messages(1, TIMEOUT).await.unwrap();
    user.send_text("/search quixotic-zebra-words");
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
    assert!(status.success(), "SIGTERM ends serve with status 0");
    emulator.shutdown().await;
}
