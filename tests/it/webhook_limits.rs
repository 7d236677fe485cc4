//! The webhook listener under attack, as a `tribune serve --webhook` process: a request
//! without the secret is refused before a byte of its body is read; a body over the limit is
//! refused; hostile bodies with the right secret are each answered and never stop the bot.

use crate::support::{Process, TIMEOUT, eventually, messages_dir};
use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use std::{
    process::{Command, Stdio},
    time::Duration,
};
use telegram_bot_api_emulator::{Emulator, SECRET_HEADER};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const SECRET: &str = "Limits_secret-77e1";
const PATH: &str = "/tribune/hook";

struct Hooked {
    emulator: Emulator,
    serve: Process,
    port: u16,
    _data: tempfile::TempDir,
}

async fn serve_webhook() -> Hooked {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}{PATH}");
    let serve = Process::new(
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
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let hook = emulator.clone();
    eventually(TIMEOUT, "the webhook is set", || hook.webhook_url().is_some()).await;
    Hooked { emulator, serve, port, _data: data }
}

/// Sends `head` (request line and headers, without the blank line) and `body`, and reads
/// the status line of the answer, within `within`.
async fn status(port: u16, head: &str, body: &[u8], within: Duration) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(format!("{head}\r\n\r\n").as_bytes()).await.unwrap();
    // The server may close on us before the body is all out (that is the point).
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 512];
    let read = async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    let text = String::from_utf8_lossy(&answer).to_string();
    text.lines().next().map(str::to_string).filter(|l| !l.is_empty())
}

/// Headers that announce fifty megabytes, a body that never comes, and no secret: the 401
/// arrives at once, so the body was never waited for (the body timeout is ten seconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_the_secret_is_refused_before_its_body_is_read() {
    let hooked = serve_webhook().await;
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: 50000000"
    );
    let started = std::time::Instant::now();
    let line = status(hooked.port, &head, b"", Duration::from_secs(5)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 401 Unauthorized"));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // A wrong secret: the same.
    let wrong = format!("{head}\r\n{SECRET_HEADER}: {SECRET}x");
    let line = status(hooked.port, &wrong, b"{", Duration::from_secs(5)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 401 Unauthorized"));
    // With the secret, a body over the limit is refused as too large.
    let big = vec![b' '; 300 * 1024];
    let right = format!(
        "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n{SECRET_HEADER}: {SECRET}",
        big.len()
    );
    let line = status(hooked.port, &right, &big, Duration::from_secs(5)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
    let reader = hooked.emulator.user(880, "Reader", Some("en"));
    reader.send_text("/help");
    reader.wait_for_messages(1, TIMEOUT).await.expect("the bot still answers");
    let mut serve = hooked.serve;
    assert!(serve.is_running());
    assert!(serve.terminate(Duration::from_secs(10)).await.success());
}

/// Hostile bodies with the right secret (arbitrary bytes, and updates of the right shape with
/// extreme numbers and arbitrary text): each is answered (200: taken or let go, never a
/// dropped connection), and a reader is answered afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_with_the_secret_are_answered_and_never_stop_the_bot() {
    let hooked = serve_webhook().await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}{PATH}", hooked.port);
    let mut runner = TestRunner::new(Config { cases: 150, ..Config::default() });
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (any::<i64>(), any::<String>(), any::<i64>(), any::<i64>()).prop_map(
            |(id, text, chat, date)| {
                serde_json::json!({
                    "update_id": id.rem_euclid(1 << 31),
                    "message": {
                        "message_id": 1, "date": date, "text": text,
                        "chat": { "id": chat, "type": "private", "first_name": text },
                        "from": { "id": chat.unsigned_abs(), "is_bot": false, "first_name": "x" },
                    },
                })
                .to_string()
                .into_bytes()
            }
        ),
        (any::<i64>(), any::<String>()).prop_map(|(id, data)| {
            serde_json::json!({
                "update_id": id.rem_euclid(1 << 31),
                "callback_query": {
                    "id": "q", "data": data, "chat_instance": "c",
                    "from": { "id": id.unsigned_abs(), "is_bot": false, "first_name": "x" },
                },
            })
            .to_string()
            .into_bytes()
        }),
    ];
    for _ in 0..150 {
        let body = bodies.new_tree(&mut runner).unwrap().current();
        let answer = client
            .post(&url)
            .header(SECRET_HEADER, SECRET)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer to {:?}: {e}", String::from_utf8_lossy(&body)));
        assert_eq!(answer.status(), 200, "{:?}", String::from_utf8_lossy(&body));
    }
    let reader = hooked.emulator.user(881, "Reader", Some("en"));
    reader.send_text("/help");
    reader.wait_for_messages(1, TIMEOUT).await.expect("the bot still answers");
    let mut serve = hooked.serve;
    assert!(serve.is_running());
    assert!(serve.terminate(Duration::from_secs(10)).await.success());
}
