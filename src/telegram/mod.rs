//! The Telegram adapter: teloxide in, views out, plus the real sender the delivery engine
//! uses. The only module that names teloxide (besides the emulator's own tests).

pub mod access;
pub mod commands;
pub mod error;
pub mod flood;
pub mod handlers;
pub mod inline;
pub mod members;
pub mod observe;
pub mod operator;
pub mod send;
pub mod subscribe;
pub mod transport;
pub mod webhook;

use crate::{
    app::Scheduler,
    app::Tribune,
    delivery::Push,
    delivery::{Engine, Limits, Pacer},
};
use std::{sync::Arc, time::Duration};
use teloxide::{
    dispatching::ShutdownToken, error_handlers::LoggingErrorHandler, prelude::*,
    update_listeners::Polling,
};
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
    /// How long shutdown waits for sends in flight.
    pub grace: Duration,
    /// Take updates from Telegram's webhook instead of long polling.
    pub webhook: Option<crate::config::Webhook>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            poll_timeout: Duration::from_secs(10),
            limits: Limits::telegram(30.0, false),
            channels: Vec::new(),
            grace: Duration::from_secs(10),
            webhook: None,
        }
    }
}

/// A running bot: updates, scheduler and delivery engine. Stop it with [`BotHandle::shutdown`].
pub struct BotHandle {
    token: ShutdownToken,
    dispatcher: tokio::task::JoinHandle<Result<(), teloxide::RequestError>>,
    engine: Engine<TelegramTransport>,
    engine_task: tokio::task::JoinHandle<()>,
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Progress messages being updated.
    tasks: Arc<operator::Tasks>,
    grace: Duration,
    app: Arc<Tribune>,
    webhook: Option<webhook::Server>,
}

/// Registers the menu, resumes the outbox, starts the delivery engine, the scheduler and long
/// polling, in that order (so nothing queued before a crash waits behind new updates).
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
    background.push(tokio::spawn(members::forward_events(
        bot.clone(),
        app.clone(),
        push.clone(),
        events,
    )));

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
    let flood = Arc::new(flood::FloodGuard::default());
    let mut dispatcher = Dispatcher::builder(bot.clone(), handlers::schema())
        .dependencies(dptree::deps![
            app.clone(),
            pacer,
            push.clone(),
            flood,
            tasks.clone(),
            observer
        ])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("an update could not be handled"))
        .build();
    let token = dispatcher.shutdown_token();
    let (dispatcher, webhook) = match &options.webhook {
        None => {
            let listener = Polling::builder(bot.clone())
                .timeout(options.poll_timeout)
                .delete_webhook()
                .await
                .build();
            let polling_errors = members::polling_errors(app.clone(), push);
            let task = tokio::spawn(async move {
                dispatcher.try_dispatch_with_listener(listener, polling_errors).await
            });
            (task, None)
        }
        Some(config) => {
            let (listener, server) = webhook::listen(&bot, config).await?;
            let errors = LoggingErrorHandler::with_custom_text("the webhook listener failed");
            let task = tokio::spawn(async move {
                dispatcher.try_dispatch_with_listener(listener, errors).await
            });
            (task, Some(server))
        }
    };
    Ok(BotHandle {
        token,
        dispatcher,
        engine,
        engine_task,
        background,
        tasks,
        grace: options.grace,
        app,
        webhook,
    })
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

impl BotHandle {
    /// Stops taking updates and lets handlers finish, stops scheduling, lets sends in flight
    /// finish (bounded by the grace period), and flushes the store.
    pub async fn shutdown(self) {
        // The dispatcher may still be starting (it asks getMe first); shutting down an idle
        // dispatcher is refused, so ask again until it is running or has ended. The future
        // `shutdown` returns is not awaited: it waits for a notification that is lost if the
        // dispatcher finishes first. The dispatcher's task ending is what counts.
        let mut dispatcher = self.dispatcher;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match self.token.shutdown() {
                Ok(_) => break,
                Err(_) if dispatcher.is_finished() => break,
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    log::warn!("the dispatcher did not start; stopping it");
                    dispatcher.abort();
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        // Handlers in progress finish; the long poll in flight ends within its timeout.
        match tokio::time::timeout(Duration::from_secs(90), &mut dispatcher).await {
            Ok(Ok(Err(e))) => log::error!("the dispatcher could not run: {e}"),
            Ok(Err(e)) if !e.is_cancelled() => log::error!("the dispatcher task failed: {e}"),
            Ok(_) => {}
            Err(_) => {
                log::warn!("the dispatcher did not stop in time; stopping it");
                dispatcher.abort();
            }
        }
        if let Some(server) = self.webhook {
            server.stop().await;
        }
        for task in &self.background {
            task.abort();
        }
        self.tasks.abort_all();
        self.engine.shutdown(self.grace).await;
        // The engine's loop ends by itself once stopping; a send stuck past the grace period
        // is abandoned (its item stays in the outbox for the next start).
        let mut engine_task = self.engine_task;
        if tokio::time::timeout(Duration::from_secs(2), &mut engine_task).await.is_err() {
            engine_task.abort();
        }
        for task in self.background {
            let _ = task.await;
        }
        if let Err(e) = self.app.store().flush() {
            log::error!("cannot flush the store: {e}");
        }
    }

    /// Whether the dispatcher stopped by itself (it only does when it could not start).
    pub fn is_finished(&self) -> bool {
        self.dispatcher.is_finished()
    }

    /// The delivery engine's health: errors of the last hour, uptime, whether it runs.
    pub fn observer(&self) -> Arc<crate::delivery::Observer> {
        self.engine.observer()
    }

    /// The delivery engine, for counters and tests.
    pub fn engine(&self) -> &Engine<TelegramTransport> {
        &self.engine
    }
}
