//! `tribune demo`: the real bot against the local Bot API emulator, with the person at the
//! terminal as one Telegram user. Declared by `main.rs` alone: the emulator is for the demo,
//! tests and benchmarks, and no module of the library names it (`tests/it/architecture.rs`).

use anyhow::{Context, Result, bail};
use std::{path::PathBuf, sync::Arc, time::Duration};
use telegram_bot_api_emulator::{Emulator, run_terminal};
use teloxide::Bot;
use tribune::{
    app::Tribune,
    config::Paths,
    content::Lang,
    serve::{self, ServeOptions},
};

/// Runs the terminal chat until the person quits, then stops the bot and the emulator.
pub async fn run(lang: &str, data_dir: Option<PathBuf>) -> Result<()> {
    let Some(lang) = Lang::parse(lang) else {
        bail!("unknown language {lang:?}: use en, ru or az")
    };
    let paths = Paths::from_env();
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let data_dir = data_dir.unwrap_or_else(|| temp.path().join("data"));
    // The demo's readers are the person at the terminal: with no key configured, the store
    // is sealed with the public test key, and the demo says so.
    let (app, _) = match tribune::config::KeySource::from_env() {
        Ok(source) => {
            let secret = tribune::store::Secret::load(&source)?;
            let clock = tribune::clock::Clock::System;
            Tribune::open_keyed(&data_dir, &paths.messages_dir, &secret, clock)?
        }
        Err(_) => {
            eprintln!(
                "demo: no TRIBUNE_KEY_FILE; this store is sealed with the public test key (no protection)"
            );
            Tribune::open(&data_dir, &paths.messages_dir)?
        }
    };
    let emulator = Emulator::start().await.context("cannot start the local Bot API emulator")?;
    let bot = Bot::new(emulator.token()).set_api_url(emulator.api_url().parse()?);
    let options = ServeOptions { poll_timeout: Duration::from_secs(1), ..ServeOptions::default() };
    let handle = serve::start(bot, Arc::new(app), options).await?;
    let user = emulator.user(1001, "Reader", Some(lang.code()));
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    let result = run_terminal(user, input, tokio::io::stdout()).await;
    handle.shutdown().await;
    emulator.shutdown().await;
    result.context("terminal chat failed")
}
