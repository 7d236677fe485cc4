//! `tribune serve --webhook`, as a process: it sets the webhook with its secret, answers
//! /start from updates the emulator pushes, refuses requests without the right secret (401,
//! not processed), never logs the secret, and on SIGTERM deletes the webhook and exits 0.
//!
//! The emulator accepts an http://127.0.0.1 URL, which Telegram would not (it requires HTTPS);
//! in production a reverse proxy terminates TLS and forwards to TRIBUNE_WEBHOOK_LISTEN.

use crate::support::{Process, TIMEOUT, eventually, messages_dir};
use std::{
    process::{Command, Stdio},
    time::Duration,
};
use telegram_bot_api_emulator::{Emulator, SECRET_HEADER};

const SECRET: &str = "Webhook_secret-4f9a2c";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_webhook_answers_refuses_forgeries_and_stops_cleanly() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("serve.log");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/tribune/hook");
    let mut serve = Process::new(
        Command::new(env!("CARGO_BIN_EXE_tribune"))
            .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
            .args(["serve", "--webhook"])
            .env("TELOXIDE_TOKEN", emulator.token())
            .env("TELOXIDE_API_URL", emulator.api_url())
            .env("TRIBUNE_DATA_DIR", data.path().join("data"))
            .env("TRIBUNE_MESSAGES_DIR", messages_dir())
            .env("TRIBUNE_WEBHOOK_URL", &url)
            .env("TRIBUNE_WEBHOOK_LISTEN", format!("127.0.0.1:{port}"))
            .env("TRIBUNE_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    // The request is counted when it arrives, the webhook set just after.
    let hook = emulator.clone();
    eventually(TIMEOUT, "the webhook is set", || hook.webhook_url().is_some()).await;
    assert_eq!(emulator.webhook_url().as_deref(), Some(url.as_str()));

    let user = emulator.user(901, "Reader", Some("en"));
    user.send_text("/start");
    let welcome = user.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(welcome[0].plain_text().starts_with("Tribune carries the statements"));
    assert_eq!(emulator.requests("getUpdates"), 0, "no polling in webhook mode");
    // Every kind the bot handles reaches it through the webhook: a button, an inline query.
    let data = welcome[0].buttons.iter().flatten().find_map(|b| b.callback_data.clone());
    let pressed = user.press(welcome[0].message_id, &data.expect("a button on the welcome"));
    user.wait_for_answer(&pressed, TIMEOUT).await.expect("the button is answered");
    let inline = user.inline_query("prisoners", TIMEOUT).await.expect("inline mode answers");
    assert!(!inline.results.is_empty(), "inline results through the webhook");

    // Forged requests: a /start from someone else, without the secret or with a wrong one.
    let forger = emulator.user(902, "Forger", Some("en"));
    let forged = serde_json::json!({
        "update_id": 999_999,
        "message": {
            "message_id": 1, "date": 1_800_000_000,
            "chat": { "id": 902, "type": "private", "first_name": "Forger" },
            "from": { "id": 902, "is_bot": false, "first_name": "Forger" },
            "text": "/start",
            "entities": [{ "type": "bot_command", "offset": 0, "length": 6 }]
        }
    });
    let client = reqwest::Client::new();
    let wrong_length = "x".repeat(SECRET.len() + 1);
    let almost = format!("{}X", &SECRET[..SECRET.len() - 1]);
    for secret in [None, Some(""), Some("wrong"), Some(almost.as_str()), Some(&wrong_length)] {
        let mut request = client.post(&url).json(&forged);
        if let Some(secret) = secret {
            request = request.header(SECRET_HEADER, secret);
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "secret {secret:?}");
    }
    let wrong_path = format!("http://127.0.0.1:{port}/other");
    let status =
        client.post(&wrong_path).header(SECRET_HEADER, SECRET).json(&forged).send().await.unwrap();
    assert_eq!(status.status(), reqwest::StatusCode::NOT_FOUND);
    // The bot is still serving; the forged /start was never processed.
    user.send_text("/slogan");
    user.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(forger.messages().is_empty(), "a forged update was processed");

    let exit = serve.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "SIGTERM in webhook mode exits 0: {exit:?}");
    assert_eq!(emulator.requests("deleteWebhook"), 1, "the webhook is deleted at shutdown");
    assert_eq!(emulator.webhook_url(), None);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("refused a request without the right secret"), "{log}");
    assert!(!log.contains(SECRET), "the secret was logged");
    assert!(!log.contains(emulator.token()), "the token was logged");
    emulator.shutdown().await;
}

#[test]
fn serve_webhook_without_its_settings_is_refused_clearly() {
    let output = Command::new(env!("CARGO_BIN_EXE_tribune"))
        .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
        .args(["serve", "--webhook"])
        .env("TELOXIDE_TOKEN", "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789")
        .env_remove("TRIBUNE_WEBHOOK_URL")
        .env("TRIBUNE_DATA_DIR", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("serve --webhook needs TRIBUNE_WEBHOOK_URL"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_tribune"))
        .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
        .args(["serve", "--webhook"])
        .env("TELOXIDE_TOKEN", "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789")
        .env("TRIBUNE_WEBHOOK_URL", "https://bot.example.org/hook")
        .env("TRIBUNE_WEBHOOK_SECRET", "not allowed: spaces and a secret-looking value")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("TRIBUNE_WEBHOOK_SECRET must be 1 to 256 characters"), "{stderr}");
    assert!(!stderr.contains("secret-looking"), "the secret is not echoed");
}

/// A webhook is quiet whenever readers are, so `/health` cannot judge it by silence: it asks
/// Telegram (every `TRIBUNE_WEBHOOK_CHECK_SECS`) whether the hook is still set to this bot.
/// Quiet but set: 200. Deleted behind its back (another instance, someone with the token): 503
/// "updates are not arriving", and the log says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_tells_a_quiet_webhook_from_one_telegram_no_longer_uses() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("serve.log");
    let (port, metrics) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{port}/tribune/hook");
    let mut serve = Process::new(
        Command::new(env!("CARGO_BIN_EXE_tribune"))
            .env("TRIBUNE_KEY_FILE", crate::support::test_key_file())
            .args(["serve", "--webhook"])
            .env("TELOXIDE_TOKEN", emulator.token())
            .env("TELOXIDE_API_URL", emulator.api_url())
            .env("TRIBUNE_DATA_DIR", data.path().join("data"))
            .env("TRIBUNE_MESSAGES_DIR", messages_dir())
            .env("TRIBUNE_WEBHOOK_URL", &url)
            .env("TRIBUNE_WEBHOOK_LISTEN", format!("127.0.0.1:{port}"))
            .env("TRIBUNE_WEBHOOK_SECRET", SECRET)
            .env("TRIBUNE_WEBHOOK_CHECK_SECS", "1")
            .env("TRIBUNE_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let hook = emulator.clone();
    eventually(TIMEOUT, "the webhook is set", || hook.webhook_url().is_some()).await;
    let health = format!("http://127.0.0.1:{metrics}/health");
    let http = reqwest::Client::new();
    let status = || async { http.get(&health).send().await.ok().map(|r| r.status().as_u16()) };
    // Five checks answered means more than the 2.5 s of silence a dead source is allowed:
    // no update came in that time, and the bot is still healthy.
    let asked = emulator.clone();
    eventually(TIMEOUT, "five webhook checks", || asked.requests("getWebhookInfo") >= 5).await;
    assert_eq!(status().await, Some(200), "a quiet webhook that Telegram still uses is healthy");

    let delete = format!("{}bot{}/deleteWebhook", emulator.api_url(), emulator.token());
    let deleted: serde_json::Value = http.post(&delete).send().await.unwrap().json().await.unwrap();
    assert_eq!(deleted["ok"], true, "{deleted}");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while status().await != Some(503) {
        assert!(std::time::Instant::now() < deadline, "/health still 200 with the hook deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body: serde_json::Value = http.get(&health).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["reason"], "updates are not arriving", "{body}");
    assert!(serve.terminate(Duration::from_secs(30)).await.success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("the webhook is no longer set").count(), 1, "logged once: {log}");
    emulator.shutdown().await;
}
