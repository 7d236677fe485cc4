//! The composition root of `tribune serve` (and of the demo and the tests): builds the
//! delivery engine over the Telegram transport, connects `Tribune` to it, starts the
//! scheduler and the background tasks, then the Telegram adapter, and stops them all in
//! order. Above every other module: it is the one place that wires them together, so that
//! `telegram/` only adapts.

use crate::{
    app::{Scheduler, Tribune, forget_expired_questions, prune_expired},
    delivery::{Engine, Handover, Limits, Observer, Pacer},
    intake::PoolConfig,
    telegram::{self, Adapter, UpdateSource, transport::TelegramTransport},
};
use std::{sync::Arc, time::Duration};
use teloxide::Bot;

/// How the bot runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long one long poll waits for updates.
    pub poll_timeout: Duration,
    /// The limits bulk and interactive sends keep to together.
    pub limits: Limits,
    /// Channels to register at start (`TRIBUNE_CHANNELS`): numeric ids or `@usernames`.
    pub channels: Vec<String>,
    /// How long shutdown waits for sends in flight (within the whole shutdown's 9 s).
    pub grace: Duration,
    /// Take updates from Telegram's webhook instead of long polling.
    pub webhook: Option<crate::config::Webhook>,
    /// The intake's workers and queue: what bounds interactive work and its memory.
    pub intake: PoolConfig,
    /// When keys rotate, which makes `/stop` hold on disk.
    pub shredding: crate::app::Shredding,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            poll_timeout: Duration::from_secs(10),
            limits: Limits::telegram(30.0, false),
            channels: Vec::new(),
            grace: Duration::from_secs(10),
            webhook: None,
            intake: PoolConfig::default(),
            shredding: crate::app::Shredding::default(),
        }
    }
}

/// The intake's bounds from the configuration, the intake's defaults where none is set.
pub fn intake_config(limits: crate::config::IntakeLimits) -> PoolConfig {
    let mut pool = PoolConfig::default();
    pool.workers = limits.workers.unwrap_or(pool.workers);
    pool.queue.capacity = limits.queue.unwrap_or(pool.queue.capacity);
    pool.queue.per_chat = limits.per_chat.unwrap_or(pool.queue.per_chat);
    pool
}

/// A running bot: the adapter's updates, the scheduler, the background tasks and the delivery
/// engine. Stop it with [`BotHandle::shutdown`].
pub struct BotHandle {
    adapter: Adapter,
    engine: Engine<TelegramTransport>,
    engine_task: tokio::task::JoinHandle<()>,
    background: Vec<tokio::task::JoinHandle<()>>,
    grace: Duration,
    app: Arc<Tribune>,
}

/// Registers the menus, resumes the outbox, starts the delivery engine, the scheduler and
/// the updates, in that order (so nothing queued before a crash waits behind new updates).
pub async fn start(
    bot: Bot,
    app: Arc<Tribune>,
    options: ServeOptions,
) -> Result<BotHandle, teloxide::RequestError> {
    let me = telegram::connect(&bot, &app).await?;

    let pacer = Arc::new(Pacer::new(&options.limits));
    let transport = TelegramTransport::new(bot.clone());
    let (engine, events) = Engine::with_clock(
        app.store().clone(),
        transport,
        options.limits,
        pacer.clone(),
        app.clock().clone(),
    );
    app.resume_broadcasts();
    match engine.load_outbox() {
        Ok((0, _)) => {}
        Ok((n, false)) => log::info!("resuming {n} unsent message(s) from the outbox"),
        Ok((n, true)) => {
            log::info!("resuming unsent messages from the outbox: {n} now, more as they go")
        }
        Err(e) => log::error!("cannot read the outbox: {e}"),
    }
    let observer: Arc<Observer> = engine.observer();
    let engine_task = tokio::spawn(engine.clone().run());
    let handover: Arc<dyn Handover> = Arc::new(engine.clone());
    app.connect(handover, me.username().to_string());

    let mut background = vec![
        tokio::spawn(crate::stats::snapshot_daily(
            app.store().clone(),
            app.clock().clone(),
            Duration::from_secs(600),
        )),
        tokio::spawn(forget_expired_questions(app.clone(), Duration::from_secs(60))),
        tokio::spawn(summarise_channel_notices(app.clone())),
        tokio::spawn(crate::app::rotate_keys(app.clone(), options.shredding)),
        tokio::spawn(crate::allocator::trim_every(crate::allocator::TRIM_EVERY)),
    ];
    for (name, id) in telegram::resolve_channels(&bot, &options.channels).await {
        if let Err(e) = app.register_channel(id) {
            log::error!("cannot register the configured channel {name}: {e}");
        }
    }
    if let Err(e) = app.queue_alerts() {
        log::error!("cannot queue prisoner-status alerts: {e}");
    }
    background.push(tokio::spawn(Scheduler::new(app.clone()).run()));
    background.push(tokio::spawn(prune_expired(app.clone(), Duration::from_secs(60))));
    background.push(tokio::spawn(telegram::members::forward_events(
        bot.clone(),
        app.clone(),
        events,
    )));

    let updates = UpdateSource {
        poll_timeout: options.poll_timeout,
        webhook: options.webhook,
        intake: options.intake,
    };
    let adapter = telegram::start(bot, app.clone(), &me, pacer, observer, &updates).await?;
    Ok(BotHandle { adapter, engine, engine_task, background, grace: options.grace, app })
}

/// Tells the operators, every half minute of the app's clock, how many channel notices were
/// held back.
async fn summarise_channel_notices(app: Arc<Tribune>) {
    let clock = app.clock().clone();
    loop {
        clock.sleep_until(clock.now() + chrono::TimeDelta::seconds(30)).await;
        app.summarise_channel_notices();
    }
}

/// The whole of [`BotHandle::shutdown`] stays within this, so that a supervisor's stop
/// timeout (systemd's default is 90 s, Docker's 10 s) never has to kill Tribune.
const SHUTDOWN_WITHIN: Duration = Duration::from_secs(9);

impl BotHandle {
    /// Stops taking updates and drops those waiting (unanswered work is worth nothing after a
    /// restart), lets updates in hand finish briefly, stops scheduling, lets bulk sends in
    /// flight finish (their items stay in the outbox otherwise), and flushes the store.
    /// Within [`SHUTDOWN_WITHIN`], whatever the load.
    pub async fn shutdown(self) {
        let deadline = tokio::time::Instant::now() + SHUTDOWN_WITHIN;
        for task in &self.background {
            task.abort();
        }
        self.adapter.stop().await;
        let left = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .saturating_sub(Duration::from_secs(1));
        self.engine.shutdown(self.grace.min(left)).await;
        // The engine's loop ends by itself once stopping; a send stuck past the grace period
        // is abandoned (its item stays in the outbox for the next start).
        let mut engine_task = self.engine_task;
        if tokio::time::timeout(Duration::from_millis(500), &mut engine_task).await.is_err() {
            engine_task.abort();
        }
        for task in self.background {
            let _ = task.await;
        }
        if let Err(e) = self.app.store().flush() {
            log::error!("cannot flush the store: {e}");
        }
    }

    /// Resolves if the update loop, the workers or the reply sender ever end while the bot
    /// runs, with the reason. `serve` then exits with an error.
    pub fn failure(&self) -> impl std::future::Future<Output = &'static str> + use<> {
        self.adapter.failure()
    }

    /// Whether updates stopped being taken by themselves (they never should).
    pub fn is_finished(&self) -> bool {
        self.adapter.is_finished()
    }

    /// The delivery engine's health: errors of the last hour, uptime, whether it runs.
    pub fn observer(&self) -> Arc<Observer> {
        self.engine.observer()
    }

    /// The delivery engine, for counters and tests.
    pub fn engine(&self) -> &Engine<TelegramTransport> {
        &self.engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IntakeLimits;

    #[test]
    fn the_configured_intake_bounds_replace_only_what_is_set() {
        let default = PoolConfig::default();
        let same = intake_config(IntakeLimits::default());
        assert_eq!((same.workers, same.queue.capacity), (default.workers, default.queue.capacity));
        let set =
            intake_config(IntakeLimits { workers: Some(2), queue: Some(300), per_chat: None });
        assert_eq!(set.workers, 2);
        assert_eq!(set.queue.capacity, 300);
        assert_eq!(set.queue.per_chat, default.queue.per_chat);
    }
}
