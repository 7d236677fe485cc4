//! `spawn_app()`: a fresh Tribune for one test. A local Bot API emulator on its own port,
//! the real bot polling it over HTTP, a temporary data directory, and the repository's
//! `messages/`. Tests act as Telegram users and read what the bot sent.
#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc, time::Duration};
use teloxide::Bot;
use tribune::{
    app::Tribune,
    emulator::{BotMessage, Emulator, User},
    telegram::{self, BotHandle},
};

/// How long a test waits for the bot to answer before failing.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub emulator: Emulator,
    pub tribune: Arc<Tribune>,
    bot: BotHandle,
    _data: tempfile::TempDir,
}

pub fn messages_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("messages")
}

pub async fn spawn_app() -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let data = tempfile::tempdir().expect("temp dir");
    let (tribune, _) = Tribune::open(data.path(), &messages_dir()).expect("open tribune");
    let tribune = Arc::new(tribune);
    let emulator = Emulator::start().await.expect("start emulator");
    let bot = Bot::new(emulator.token()).set_api_url(emulator.api_url().parse().expect("url"));
    let handle =
        telegram::start(bot, tribune.clone(), Duration::from_secs(5)).await.expect("start bot");
    TestApp { emulator, tribune, bot: handle, _data: data }
}

impl TestApp {
    /// A private chat with a user whose Telegram language is `lang`.
    pub fn user(&self, id: i64, lang: &str) -> User {
        self.emulator.user(id, "Reader", Some(lang))
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
