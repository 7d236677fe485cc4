//! The Telegram adapter: teloxide in, views out, plus the real sender the delivery engine
//! uses. The only module that names teloxide (besides the emulator's own tests).

pub mod access;
pub mod commands;
pub mod error;
pub mod flood;
pub mod handlers;
pub mod inline;
pub mod intake;
pub mod members;
pub mod observe;
pub mod operator;
mod polling;
mod replies;
mod request;
pub mod send;
pub mod subscribe;
pub mod transport;
pub mod webhook;

use crate::{
    app::Scheduler,
    app::Tribune,
    delivery::Push,
    delivery::{Engine, Limits, Pacer},
    intake::PoolConfig,
};
use intake::{Handling, Updates};
use replies::Replies;
use std::{sync::Arc, time::Duration};
use teloxide::{prelude::*, types::AllowedUpdate};
use tokio::{sync::watch, task::AbortHandle, time::Instant};
use transport::TelegramTransport;

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
        }
    }
}

/// Where updates come from.
enum Source {
    Polling { task: tokio::task::JoinHandle<()>, offset: Arc<polling::Offset> },
    Webhook(webhook::Server),
}

/// A running bot: updates, scheduler and delivery engine. Stop it with [`BotHandle::shutdown`].
pub struct BotHandle {
    bot: Bot,
    source: Source,
    updates: Arc<Updates>,
    replies: Arc<Replies>,
    replies_task: tokio::task::JoinHandle<()>,
    engine: Engine<TelegramTransport>,
    engine_task: tokio::task::JoinHandle<()>,
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Progress messages being updated.
    tasks: Arc<operator::Tasks>,
    grace: Duration,
    app: Arc<Tribune>,
    /// Set (with the reason) if the update loop, the workers or the reply sender ever end.
    failed: watch::Receiver<Option<&'static str>>,
}

/// Registers the menu, resumes the outbox, starts the delivery engine, the scheduler, the
/// intake and its update source, in that order (so nothing queued before a crash waits
/// behind new updates).
pub async fn start(
    bot: Bot,
    app: Arc<Tribune>,
    options: ServeOptions,
) -> Result<BotHandle, teloxide::RequestError> {
    let me = bot.get_me().await?;
    let username = me.username().to_string();
    log::info!("connected as @{username}");
    commands::register(&bot, &app.corpus()).await?;
    operator::register_menu(&bot, &app).await;

    let pacer = Arc::new(Pacer::new(&options.limits));
    let transport = TelegramTransport::new(bot.clone());
    let (engine, events) =
        Engine::new(app.store().clone(), transport, options.limits, pacer.clone());
    match engine.load_outbox() {
        Ok(0) => {}
        Ok(n) => log::info!("resuming {n} unsent message(s) from the outbox"),
        Err(e) => log::error!("cannot read the outbox: {e}"),
    }
    let observer = engine.observer();
    let engine_task = tokio::spawn(engine.clone().run());
    let mut background = Vec::new();
    background.push(tokio::spawn(crate::stats::snapshot_daily(
        app.store().clone(),
        Duration::from_secs(600),
    )));
    background.push(tokio::spawn(crate::app::forget_expired_questions(
        app.clone(),
        Duration::from_secs(60),
    )));
    let push: Push = {
        let engine = engine.clone();
        Arc::new(move |items| engine.push(items))
    };
    register_channels(&bot, &app, &options.channels).await;
    let scheduler = Scheduler::new(app.clone(), push.clone(), username);
    if let Err(e) = scheduler.run_alerts() {
        log::error!("cannot queue prisoner-status alerts: {e}");
    }
    background.push(tokio::spawn(scheduler.run()));
    let notices = Arc::new(flood::ChannelNotices::default());
    background.push(tokio::spawn(members::forward_events(
        bot.clone(),
        app.clone(),
        push.clone(),
        notices.clone(),
        events,
    )));
    let summary = {
        let (app, push) = (app.clone(), push.clone());
        move |count: u32| {
            let count = count.to_string();
            let args = [("count", count.as_str())];
            if let Err(e) = members::notify_operators_with(&app, &push, "channels.many", &args) {
                log::error!("cannot tell the operators about channel changes: {e}");
            }
        }
    };
    background.push(tokio::spawn(flood::summarise_channel_notices(notices.clone(), summary)));

    let tasks = Arc::new(operator::Tasks::default());
    {
        let env = operator::OpEnv {
            bot: &bot,
            app: &app,
            pacer: &pacer,
            push: &push,
            me: &me,
            tasks: &tasks,
        };
        operator::resume_progress(&env).await;
    }
    let gauges = observer.intake().clone();
    let replies = Arc::new(Replies::new(bot.clone(), pacer.clone(), gauges.clone()));
    let replies_task = tokio::spawn(replies.clone().run());
    let updates = Arc::new(Updates::new(app.clone(), gauges, options.intake));
    let handler = handlers::schema();
    let allowed: Vec<AllowedUpdate> = intake::ALLOWED.to_vec();
    let deps = dptree::deps![
        app.clone(),
        pacer.clone(),
        push.clone(),
        tasks.clone(),
        observer,
        notices,
        bot.clone(),
        me
    ];
    let handling = Handling {
        bot: bot.clone(),
        app: app.clone(),
        pacer,
        replies: replies.clone(),
        handler,
        deps,
    };
    updates.start(Arc::new(handling));
    let source = match &options.webhook {
        None => {
            delete_webhook(&bot).await;
            let offset = Arc::new(polling::Offset::default());
            let errors = members::polling_errors(app.clone(), push);
            let task = tokio::spawn(polling::poll(
                bot.clone(),
                updates.clone(),
                options.poll_timeout,
                allowed,
                offset.clone(),
                errors,
            ));
            Source::Polling { task, offset }
        }
        Some(config) => {
            Source::Webhook(webhook::listen(&bot, config, updates.clone(), allowed).await?)
        }
    };
    let source_task = match &source {
        Source::Polling { task, .. } => task.abort_handle(),
        Source::Webhook(server) => server.abort_handle(),
    };
    let (failed_tx, failed) = watch::channel(None);
    background.push(tokio::spawn(watch_loops(
        source_task,
        replies_task.abort_handle(),
        updates.clone(),
        failed_tx,
    )));
    Ok(BotHandle {
        bot,
        source,
        updates,
        replies,
        replies_task,
        engine,
        engine_task,
        background,
        tasks,
        grace: options.grace,
        app,
        failed,
    })
}

/// Long polling is refused while a webhook is set (a previous run in webhook mode).
async fn delete_webhook(bot: &Bot) {
    match bot.get_webhook_info().await {
        Ok(info) if info.url.is_some() => {
            if let Err(e) = bot.delete_webhook().await {
                log::error!("cannot delete the webhook left by a previous run: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot ask whether a webhook is set: {e}"),
    }
}

/// Watches the loops that must never end while the bot runs; if one does (a bug: they only
/// end at shutdown, which aborts this watch first), says which, so that `serve` exits
/// with an error and its supervisor restarts it rather than leaving a bot that hears nobody.
async fn watch_loops(
    source: AbortHandle,
    replies: AbortHandle,
    updates: Arc<Updates>,
    failed: watch::Sender<Option<&'static str>>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let reason = if source.is_finished() {
            "the update loop ended"
        } else if replies.is_finished() {
            "the reply sender ended"
        } else if !updates.alive() {
            "the update workers ended"
        } else {
            continue;
        };
        log::error!("{reason}; stopping so that the supervisor restarts Tribune");
        let _ = failed.send(Some(reason));
        return;
    }
}

/// Registers the channels named in the configuration.
async fn register_channels(bot: &Bot, app: &Tribune, channels: &[String]) {
    for name in channels {
        let id = match name.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                match bot.get_chat(teloxide::types::Recipient::ChannelUsername(name.clone())).await
                {
                    Ok(chat) => Some(chat.id.0),
                    Err(e) => {
                        log::error!("cannot find the configured channel {name}: {e}");
                        None
                    }
                }
            }
        };
        if let Some(id) = id
            && let Err(e) = app.register_channel(id)
        {
            log::error!("cannot register the configured channel {name}: {e}");
        }
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
        let deadline = Instant::now() + SHUTDOWN_WITHIN;
        for task in &self.background {
            task.abort();
        }
        // New updates first stop coming (polling) or are refused with 503 (a webhook's
        // Telegram sends them again later); then the listener closes.
        match self.source {
            Source::Polling { task, offset } => {
                task.abort();
                let _ = task.await;
                self.updates.stop(Duration::from_secs(2)).await;
                polling::confirm(&self.bot, &offset).await;
            }
            Source::Webhook(server) => {
                self.updates.stop(Duration::from_secs(2)).await;
                server.stop().await;
            }
        }
        self.replies.stop(Duration::from_secs(1)).await;
        self.replies_task.abort();
        self.tasks.abort_all();
        let left = deadline
            .saturating_duration_since(Instant::now())
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
        let mut failed = self.failed.clone();
        async move {
            loop {
                if let Some(reason) = *failed.borrow_and_update() {
                    return reason;
                }
                if failed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// Whether updates stopped being taken by themselves (they never should).
    pub fn is_finished(&self) -> bool {
        self.failed.borrow().is_some()
    }

    /// The delivery engine's and the intake's health.
    pub fn observer(&self) -> Arc<crate::delivery::Observer> {
        self.engine.observer()
    }

    /// The delivery engine, for counters and tests.
    pub fn engine(&self) -> &Engine<TelegramTransport> {
        &self.engine
    }
}
