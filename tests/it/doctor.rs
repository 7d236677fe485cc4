//! `tribune doctor` says what is right and, in plain words, what is wrong.

use crate::support::{copy_dir, messages_dir};
use std::{path::Path, process::Command};
use telegram_bot_api_emulator::Emulator;
use tribune::store::Store;

/// Settings a test may give; every one not given is removed, so the environment the tests run
/// in cannot change the answer.
const SETTINGS: [&str; 8] = [
    "TRIBUNE_ADMINS",
    "TRIBUNE_RATE_LIMIT",
    "TRIBUNE_PAID_BROADCAST",
    "TRIBUNE_POLL_TIMEOUT_SECS",
    "TRIBUNE_METRICS_ADDR",
    "TRIBUNE_WEBHOOK_URL",
    "TRIBUNE_WEBHOOK_LISTEN",
    "TRIBUNE_WEBHOOK_SECRET",
];

async fn doctor(token: &str, api_url: &str, data: &Path) -> (bool, String) {
    doctor_with(token, api_url, data, &messages_dir(), &[]).await
}

async fn doctor_with(
    token: &str,
    api_url: &str,
    data: &Path,
    messages: &Path,
    settings: &[(&str, &str)],
) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tribune"));
    command
        .arg("doctor")
        .env("TELOXIDE_TOKEN", token)
        .env("TELOXIDE_API_URL", api_url)
        .env("TRIBUNE_DATA_DIR", data)
        .env("TRIBUNE_MESSAGES_DIR", messages)
        .env("RUST_LOG", "off");
    for name in SETTINGS {
        command.env_remove(name);
    }
    command.env("TRIBUNE_KEY_FILE", crate::support::test_key_file());
    command.env_remove("TRIBUNE_PASSPHRASE_FILE");
    for (name, value) in settings {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || {
        let output = command.output().unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_setup_is_all_ok() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    drop(Store::open(data.path()).unwrap());
    let (success, out) = doctor(emulator.token(), &emulator.api_url(), data.path()).await;
    assert!(success, "{out}");
    assert!(out.contains("ok:      the token has the shape of a bot token"), "{out}");
    assert!(out.contains("ok:      the other settings are valid"), "{out}");
    assert!(out.contains(": 3 statements, 10 slogans, 13 prisoners"), "{out}");
    assert!(out.contains(": 0 subscriptions, 0 messages waiting to be sent"), "{out}");
    assert!(out.contains("ok:      127.0.0.1 knows the bot as @tribune_test_bot"), "{out}");
    assert!(!out.contains("PROBLEM") && !out.contains("note:"), "{out}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_are_named_and_the_token_is_not_shown() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (success, out) = doctor("123:short", &emulator.api_url(), data.path()).await;
    assert!(!success);
    assert!(out.contains("PROBLEM: TELOXIDE_TOKEN does not look like a bot token"), "{out}");

    let wrong = "7000000001:ANOTHER-TOKEN-OF-THE-RIGHT-SHAPE-xyz";
    let (success, out) = doctor(wrong, &emulator.api_url(), data.path()).await;
    assert!(!success);
    assert!(out.contains("PROBLEM: 127.0.0.1 does not accept the token"), "{out}");
    assert!(!out.contains("ANOTHER-TOKEN"), "{out}");

    let (success, out) = doctor(emulator.token(), "http://127.0.0.1:9/", data.path()).await;
    assert!(!success);
    assert!(out.contains("PROBLEM: cannot connect to 127.0.0.1"), "{out}");
    assert!(!out.contains("TRIBUNE-EMULATOR-TOKEN"), "{out}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_setting_is_named_as_serve_would_refuse_it() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let settings = [
        ("TRIBUNE_ADMINS", "12345,alice"),
        ("TRIBUNE_RATE_LIMIT", "500"),
        ("TRIBUNE_METRICS_ADDR", "0.0.0.0:9464"),
        ("TRIBUNE_WEBHOOK_URL", "http://bot.example.org/hook"),
    ];
    let (success, out) =
        doctor_with(emulator.token(), &emulator.api_url(), data.path(), &messages_dir(), &settings)
            .await;
    assert!(!success, "{out}");
    for expected in [
        "PROBLEM: TRIBUNE_ADMINS must list Telegram user ids separated by commas, not \"12345,alice\"",
        "PROBLEM: TRIBUNE_RATE_LIMIT must be a number of messages per second from 1 to 30, not \"500\"",
        "PROBLEM: TRIBUNE_METRICS_ADDR must be a loopback address (127.0.0.1 or [::1]), not 0.0.0.0:9464",
        "PROBLEM: TRIBUNE_WEBHOOK_URL must be the public https:// URL",
    ] {
        assert!(out.contains(expected), "{expected:?} in\n{out}");
    }
    assert!(!out.contains("the other settings are valid"), "{out}");
    // The rest is still checked, and the token is never shown.
    assert!(out.contains("ok:      the token has the shape of a bot token"), "{out}");
    assert!(out.contains("ok:      127.0.0.1 knows the bot as @tribune_test_bot"), "{out}");
    assert!(!out.contains(emulator.token().split(':').nth(1).unwrap()), "{out}");

    // A webhook secret Telegram would refuse is named, its value is not.
    let settings = [
        ("TRIBUNE_WEBHOOK_URL", "https://bot.example.org/hook"),
        ("TRIBUNE_WEBHOOK_SECRET", "not secret enough!"),
    ];
    let (success, out) =
        doctor_with(emulator.token(), &emulator.api_url(), data.path(), &messages_dir(), &settings)
            .await;
    assert!(!success, "{out}");
    assert!(out.contains("PROBLEM: TRIBUNE_WEBHOOK_SECRET must be 1 to 256 characters"), "{out}");
    assert!(!out.contains("not secret enough"), "{out}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_data_directory_is_a_note_and_is_not_created() {
    let emulator = Emulator::start().await.unwrap();
    let parent = tempfile::tempdir().unwrap();
    let typo = parent.path().join("dta");
    let (success, out) = doctor(emulator.token(), &emulator.api_url(), &typo).await;
    assert!(success, "a directory serve will create is not a problem: {out}");
    let expected = format!(
        "note:    data directory {} does not exist yet; serve will create it",
        typo.display()
    );
    assert!(out.contains(&expected), "{out}");
    assert!(!typo.exists(), "doctor created the data directory");

    let empty = tempfile::tempdir().unwrap();
    let (success, out) = doctor(emulator.token(), &emulator.api_url(), empty.path()).await;
    assert!(success, "{out}");
    assert!(out.contains("is empty; serve will create the store there"), "{out}");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0, "doctor wrote a file");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_serve_cannot_use_is_a_problem() {
    let emulator = Emulator::start().await.unwrap();
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("data");
    std::fs::write(&file, "not a directory").unwrap();
    let (success, out) = doctor(emulator.token(), &emulator.api_url(), &file).await;
    assert!(!success, "{out}");
    let expected = format!(
        "PROBLEM: data directory {} is a file, not a directory: point TRIBUNE_DATA_DIR elsewhere",
        file.display()
    );
    assert!(out.contains(&expected), "{out}");

    let crowded = tempfile::tempdir().unwrap();
    std::fs::write(crowded.path().join("notes.txt"), "mine").unwrap();
    let (success, out) = doctor(emulator.token(), &emulator.api_url(), crowded.path()).await;
    assert!(!success, "{out}");
    assert!(out.contains("holds other files and no Tribune store: serve will refuse it"), "{out}");
    assert_eq!(std::fs::read_dir(crowded.path()).unwrap().count(), 1, "doctor wrote a file");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_content_is_a_problem_named_by_file_and_line() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let messages = tempfile::tempdir().unwrap();
    copy_dir(&messages_dir(), messages.path());
    let file = messages.path().join("statements/cpa-izmir-speech.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("date = \"2023-10\"", "date = \"2023-02-30\"")).unwrap();
    let (success, out) =
        doctor_with(emulator.token(), &emulator.api_url(), data.path(), messages.path(), &[]).await;
    assert!(!success, "{out}");
    let expected = format!("PROBLEM: content in {}: 1 problem(s)", messages.path().display());
    assert!(out.contains(&expected), "{out}");
    let line =
        "\nstatements/cpa-izmir-speech.md:4: no such date \"2023-02-30\": 2023-02 has 28 days\n";
    assert!(out.contains(line), "{out}");
    emulator.shutdown().await;
}
