//! `spawn_app()`: a fresh Tribune for one test. A local Bot API emulator on its own port,
//! the real bot polling it over HTTP, a temporary data directory, and the repository's
//! `messages/`. Tests act as Telegram users and read what the bot sent.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use std::{path::PathBuf, sync::Arc, time::Duration};
use telegram_bot_api_emulator::{BotMessage, Emulator, User};
use teloxide::Bot;
use tribune::{
    app::Tribune,
    delivery::Limits,
    schedule::{Clock, ManualClock},
    serve::{self, BotHandle, ServeOptions},
};

/// How long a test waits for the bot to answer before failing.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub emulator: Emulator,
    pub tribune: Arc<Tribune>,
    pub bot: BotHandle,
    /// The manual clock, when the test asked for one.
    pub clock: Option<Arc<ManualClock>>,
    _data: tempfile::TempDir,
}

pub fn messages_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("messages")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup::default()).await
}

/// What a test may change about the app it starts.
pub struct Setup {
    /// Start a manual clock here instead of using the system clock.
    pub clock: Option<DateTime<Utc>>,
    pub operators: Vec<i64>,
    pub limits: Limits,
    /// Use this data directory (to restart on the same store) instead of a fresh one.
    pub data_dir: Option<PathBuf>,
    /// Use these content files instead of the repository's.
    pub messages_dir: Option<PathBuf>,
    /// Talk to this emulator (to restart a bot against the same chats) instead of a new one.
    pub emulator: Option<Emulator>,
    /// Channels named in the configuration (`TRIBUNE_CHANNELS`).
    pub channels: Vec<String>,
    /// Give up on a Bot API request after this long (teloxide's default: 17 s), so an injected
    /// delay can be a timeout. Long polls then wait 1 s, to stay under it.
    pub http_timeout: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            clock: None,
            operators: Vec::new(),
            limits: Limits::telegram(30.0, false),
            data_dir: None,
            messages_dir: None,
            emulator: None,
            channels: Vec::new(),
            http_timeout: None,
        }
    }
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let data = tempfile::tempdir().expect("temp dir");
    let data_dir = setup.data_dir.clone().unwrap_or_else(|| data.path().to_path_buf());
    let messages = setup.messages_dir.clone().unwrap_or_else(messages_dir);
    // A store just closed by a stopped bot may take a moment to release its lock.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let tribune = loop {
        match Tribune::open(&data_dir, &messages) {
            Ok((tribune, _)) => break tribune,
            Err(e) if std::time::Instant::now() < deadline => {
                log::debug!("store not ready yet: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("open tribune: {e}"),
        }
    };
    let (tribune, clock) = match setup.clock {
        Some(start) => {
            let (clock, manual) = Clock::manual(start);
            (tribune.with_clock(clock), Some(manual))
        }
        None => (tribune, None),
    };
    let tribune = Arc::new(tribune.with_operators(setup.operators));
    let emulator = match setup.emulator {
        Some(emulator) => emulator,
        None => Emulator::start().await.expect("start emulator"),
    };
    let bot = match setup.http_timeout {
        Some(timeout) => {
            let client = teloxide::net::default_reqwest_settings()
                .timeout(timeout)
                .build()
                .expect("an HTTP client");
            Bot::with_client(emulator.token(), client)
        }
        None => Bot::new(emulator.token()),
    };
    let bot = bot.set_api_url(emulator.api_url().parse().expect("url"));
    let poll_timeout = match setup.http_timeout {
        Some(_) => Duration::from_secs(1),
        None => Duration::from_secs(5),
    };
    let options = ServeOptions {
        poll_timeout,
        limits: setup.limits,
        channels: setup.channels,
        ..Default::default()
    };
    let handle = serve::start(bot, tribune.clone(), options).await.expect("start bot");
    TestApp { emulator, tribune, bot: handle, clock, _data: data }
}

impl TestApp {
    /// A private chat with a user whose Telegram language is `lang`.
    pub fn user(&self, id: i64, lang: &str) -> User {
        self.emulator.user(id, "Reader", Some(lang))
    }

    /// Moves the manual clock to `to` (the scheduler wakes and sends what became due).
    pub fn set_time(&self, to: DateTime<Utc>) {
        self.clock.as_ref().expect("spawn_app_with a clock").set(to);
    }

    /// Stops the bot but keeps the emulator (to restart a bot against it).
    pub async fn stop_bot(self) -> Emulator {
        self.bot.shutdown().await;
        self.emulator
    }

    /// Stops the bot, then the emulator.
    pub async fn stop(self) {
        self.bot.shutdown().await;
        self.emulator.shutdown().await;
    }
}

/// Sends `text` as the user and returns the bot's next message.
pub async fn ask(user: &User, text: &str) -> BotMessage {
    user.send_text(text);
    next(user).await
}

/// The bot's next message to this user.
pub async fn next(user: &User) -> BotMessage {
    let mut messages =
        user.wait_for_messages(1, TIMEOUT).await.expect("the bot did not answer in time");
    messages.remove(0)
}

/// Presses the button labelled `label` (exactly, or containing it) on `message`.
pub fn press(user: &User, message: &BotMessage, label: &str) -> String {
    let button = message
        .buttons
        .iter()
        .flatten()
        .find(|b| b.text == label)
        .or_else(|| message.buttons.iter().flatten().find(|b| b.text.contains(label)))
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", message.buttons));
    let data = button.callback_data.clone().expect("a callback button");
    user.press(message.message_id, &data)
}

/// The labels of a message's buttons, row by row.
pub fn labels(message: &BotMessage) -> Vec<Vec<String>> {
    message.buttons.iter().map(|row| row.iter().map(|b| b.text.clone()).collect()).collect()
}

/// Waits until `condition` holds, checking every few milliseconds; panics with `what` after
/// `timeout`. For state the bot changes without sending anything a test could wait on.
pub async fn eventually(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A child process (`tribune serve`) that is killed if the test ends early, so a failing test
/// never leaves a bot running.
pub struct Process(std::process::Child);

impl Process {
    pub fn new(child: std::process::Child) -> Process {
        Process(child)
    }

    /// Whether the process is still running (it has not exited, crashed or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, then waits (at most `timeout`) for the process to exit; its exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        self.signal("TERM", timeout).await
    }

    /// Sends the signal `name` ("TERM", "INT", as `kill -NAME` takes it), then waits (at most
    /// `timeout`) for the process to exit; its exit status.
    pub async fn signal(&mut self, name: &str, timeout: Duration) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "could not send SIG{name}");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the process did not exit within {timeout:?} after SIG{name}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// An RFC 3339 time as UTC (test clocks).
pub fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 time").with_timezone(&Utc)
}

/// Copies a directory tree (a private copy of `messages/` a test may edit).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// `tribune serve` against `emulator` on `data` with the content in `messages`: a 1 s long
/// poll, warnings logged, no stdin or stdout. Callers add what else they need (more variables,
/// where stderr goes) and spawn it.
pub fn serve_command(
    emulator: &Emulator,
    data: &std::path::Path,
    messages: &std::path::Path,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tribune"));
    command
        .arg("serve")
        .env("TELOXIDE_TOKEN", emulator.token())
        .env("TELOXIDE_API_URL", emulator.api_url())
        .env("TRIBUNE_DATA_DIR", data)
        .env("TRIBUNE_MESSAGES_DIR", messages)
        .env("TRIBUNE_POLL_TIMEOUT_SECS", "1")
        .env("TRIBUNE_KEY_FILE", test_key_file())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    command
}

/// A key file holding the public test key (the one `Store::open` and `Tribune::open` use), for
/// `tribune` commands run by tests: `TRIBUNE_KEY_FILE`. Outside every test's data directory.
pub fn test_key_file() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tribune-test.key");
    if std::fs::read(&path).ok().as_deref() != Some(tribune::store::keyring::PUBLIC_TEST_KEY) {
        // Written beside and renamed, so tests running at once never read half a key.
        let temp = path.with_extension(format!("{}", std::process::id()));
        std::fs::write(&temp, tribune::store::keyring::PUBLIC_TEST_KEY).expect("write test key");
        std::fs::rename(&temp, &path).expect("place test key");
    }
    path
}

/// splitmix64: small, seeded, and the same everywhere (the campaigns' random numbers).
pub struct Rng(pub u64);

impl Rng {
    /// `TRIBUNE_CAMPAIGN_SEED` when set (to repeat a campaign), else a fresh seed from the clock.
    pub fn campaign_seed() -> u64 {
        std::env::var("TRIBUNE_CAMPAIGN_SEED")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
