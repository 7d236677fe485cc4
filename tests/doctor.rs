//! `tribune doctor` says what is right and, in plain words, what is wrong.

mod support;

use std::process::Command;
use support::messages_dir;
use tribune::emulator::Emulator;

async fn doctor(token: &str, api_url: &str, data: &std::path::Path) -> (bool, String) {
    let (token, api_url, data) = (token.to_string(), api_url.to_string(), data.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_tribune"))
            .arg("doctor")
            .env("TELOXIDE_TOKEN", token)
            .env("TELOXIDE_API_URL", api_url)
            .env("TRIBUNE_DATA_DIR", data)
            .env("TRIBUNE_MESSAGES_DIR", messages_dir())
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_setup_is_all_ok() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (success, out) = doctor(emulator.token(), &emulator.api_url(), data.path()).await;
    assert!(success, "{out}");
    assert!(out.contains("ok:      the token has the shape of a bot token"), "{out}");
    assert!(out.contains(": 3 statements, 10 slogans, 13 prisoners"), "{out}");
    assert!(out.contains(": 0 subscriptions, 0 messages waiting to be sent"), "{out}");
    assert!(out.contains("ok:      127.0.0.1 knows the bot as @tribune_test_bot"), "{out}");
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
