//! `spawn_app()`: a fresh Tribune for one test. A local Bot API emulator on its own port,
//! the real bot polling it over HTTP, a temporary data directory, and the repository's
//! `messages/`. Tests act as Telegram users and read what the bot sent.
//!
//! What the helpers guarantee (tests/README.md says more):
//! - [`next`], [`ask`] and [`next_n`] are strict: a batch holding more messages than expected
//!   fails the test and shows the extra ones;
//! - waits are on conditions with a timeout ([`eventually`], the emulator's waits), never on a
//!   fixed pause; absence is checked after an event proving the bot moved on ([`moved_on`]);
//! - every bot holds the CPU gate shared, and timing tests take it exclusively
//!   ([`gate::exclusive`]);
//! - the real binary runs in a clean environment ([`tribune`], [`serve`]).
#![allow(dead_code)]

mod cli;
pub mod gate;

pub use cli::{Cli, Process, Run, free_port, serve, tribune};

use chrono::{DateTime, Utc};
use std::{path::PathBuf, sync::Arc, time::Duration};
use telegram_bot_api_emulator::{BotMessage, Conversation, Emulator, User};
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
    _pass: Arc<gate::Pass>,
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
    let pass = gate::shared();
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
    TestApp { emulator, tribune, bot: handle, clock, _data: data, _pass: pass }
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

    /// Waits until the bot has taken every update the emulator holds and finished with it:
    /// nothing pending at the emulator, every admitted update handled (or dropped, its panic
    /// or timeout counted), nothing queued, no reply waiting. What the bot sent in answer to
    /// anything so far has been sent then: the proof for absence across chats ("the flood
    /// got no more than its allowance").
    pub async fn settled(&self) {
        let observer = self.bot.observer();
        let intake = observer.intake();
        let settled = || {
            let now = intake.snapshot();
            // Admitted work ends handled, panicked, timed out, or dropped from the queue (shed
            // when full, or stale); the two drop counts also hold a few never admitted (refused
            // outright, or stale at arrival), hence `>=`.
            let [_, full, stale, _, _] = now.dropped;
            let finished = now.handled + now.panics + now.timeouts + full + stale;
            self.emulator.pending_updates() == 0
                && now.queued == 0
                && now.replies == 0
                && finished >= now.admitted
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !settled() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot did not settle: {} updates pending at the emulator, intake {:?}",
                self.emulator.pending_updates(),
                intake.snapshot()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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

/// Sends `text` as the user and returns the bot's one answer (see [`next`]).
pub async fn ask(user: &Conversation, text: &str) -> BotMessage {
    user.send_text(text);
    next(user).await
}

/// The bot's next message in this chat; fails if more than one new message is there (the
/// extra ones are in the failure): a test that expects several says so with [`next_n`].
pub async fn next(user: &Conversation) -> BotMessage {
    next_n(user, 1).await.remove(0)
}

/// The bot's next `n` messages in this chat; fails if fewer arrive in [`TIMEOUT`] or more
/// are there.
pub async fn next_n(user: &Conversation, n: usize) -> Vec<BotMessage> {
    let messages = user
        .wait_for_messages(n, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("the bot did not send {n} message(s) in time: {e}"));
    if messages.len() > n {
        let texts: Vec<String> = messages.iter().map(BotMessage::plain_text).collect();
        panic!(
            "expected {n} message(s) from the bot, got {}; the extra: {:#?}\n(all: {texts:#?})",
            messages.len(),
            &texts[n..]
        );
    }
    messages
}

/// Proves the bot has handled everything this chat sent before, and sent nothing more: asks
/// for `/about` (harmless, one answer) and fails if anything arrived before that answer.
/// Updates of one chat are handled in order and their replies go out in order, so a reply to
/// an earlier update would come first. (Bulk sends, digests and broadcasts, do not take that
/// path: wait for the delivery engine to be idle for those.)
pub async fn moved_on(user: &Conversation) {
    let pending = user.take_new();
    assert!(
        pending.is_empty(),
        "the bot had sent more: {:#?}",
        pending.iter().map(BotMessage::plain_text).collect::<Vec<_>>()
    );
    user.send_text("/about");
    let is_about =
        |m: &BotMessage| m.plain_text().starts_with("Tribune ") && m.text.contains("/stop");
    let mut arrived = Vec::new();
    while !arrived.iter().any(is_about) {
        let batch = user
            .wait_for_messages(1, TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("no answer to /about: {e}"));
        arrived.extend(batch);
    }
    assert!(
        arrived.len() == 1,
        "the bot sent more before answering /about: {:#?}",
        arrived.iter().map(BotMessage::plain_text).collect::<Vec<_>>()
    );
}

/// Presses the button labelled `label` (exactly, or containing it) on `message`.
pub fn press(user: &Conversation, message: &BotMessage, label: &str) -> String {
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

/// Every record of a backup's snapshot as Tribune reads it, opened with the public test key
/// (the tests' stores are sealed with it): tree name, key, plain value. A record no epoch of
/// the snapshot's keyring opens (public content, never sealed) is given as it is.
pub fn opened_records(
    snapshot: &tribune::store::backup::Snapshot,
) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let secret = tribune::store::Secret::public_test_key();
    let keyring = tribune::store::keyring::Keyring::decode(
        snapshot.keyring().expect("a sealed store's snapshot carries its keyring"),
        &secret,
    )
    .expect("the test key opens the keyring");
    let mut records = Vec::new();
    for (tree, entries) in &snapshot.trees {
        let tree = String::from_utf8_lossy(tree).into_owned();
        for (key, value) in entries {
            let opened = tribune::store::seal::epoch_of(value)
                .and_then(|id| keyring.epoch(id))
                .and_then(|epoch| epoch.open(&tree, key, value))
                .unwrap_or_else(|| value.clone());
            records.push((tree.clone(), key.clone(), opened));
        }
    }
    records
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
