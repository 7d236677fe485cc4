//! The Telegram adapter: teloxide in, views out, plus the real sender the delivery engine
//! uses. Updates become a [`app::Caller`](crate::app::Caller) and a call to a use case of
//! `app/`; what it comes to is rendered and sent. It never names the store: the composition
//! root (`serve`) builds the service and hands the adapter what it needs.

pub mod access;
pub mod commands;
pub mod error;
pub mod flood;
pub mod handlers;
pub mod inline;
pub mod members;
pub mod operator;
pub mod send;
pub mod subscribe;
pub mod transport;
pub mod webhook;

use crate::{
    app::Tribune,
    delivery::{Observer, Pacer},
};
use std::{sync::Arc, time::Duration};
use teloxide::{
    dispatching::ShutdownToken,
    error_handlers::LoggingErrorHandler,
    prelude::*,
    types::{Me, Recipient},
    update_listeners::Polling,
};

/// How updates are taken.
#[derive(Debug, Clone)]
pub struct Updates {
    /// How long one long poll waits for updates.
    pub poll_timeout: Duration,
    /// Take updates from Telegram's webhook instead of long polling.
    pub webhook: Option<crate::config::Webhook>,
}

/// The adapter's part of a running bot: the update loop and the progress messages it keeps
/// up to date. Stop it with [`Adapter::stop`].
pub struct Adapter {
    token: ShutdownToken,
    dispatcher: tokio::task::JoinHandle<Result<(), teloxide::RequestError>>,
    /// Progress messages being updated.
    tasks: Arc<operator::Tasks>,
    webhook: Option<webhook::Server>,
}

/// Who the bot is (`getMe`), with the command menus registered: the public one in every
/// language and each operator's own.
pub async fn connect(bot: &Bot, app: &Tribune) -> Result<Me, teloxide::RequestError> {
    let me = bot.get_me().await?;
    log::info!("connected as @{}", me.username());
    commands::register(bot, &app.corpus()).await?;
    operator::register_menu(bot, app).await;
    Ok(me)
}

/// Starts taking updates (long polling, or the webhook), after a fresh progress message for
/// each job still running. Sends go through `pacer`, shared with the delivery engine whose
/// health `observer` reports.
pub async fn start(
    bot: Bot,
    app: Arc<Tribune>,
    me: &Me,
    pacer: Arc<Pacer>,
    observer: Arc<Observer>,
    options: &Updates,
) -> Result<Adapter, teloxide::RequestError> {
    let tasks = Arc::new(operator::Tasks::default());
    {
        let env = operator::OpEnv {
            bot: &bot,
            app: &app,
            pacer: &pacer,
            me,
            tasks: &tasks,
            observer: &observer,
        };
        operator::resume_progress(&env).await;
    }
    let flood = Arc::new(flood::FloodGuard::default());
    let mut dispatcher = Dispatcher::builder(bot.clone(), handlers::schema())
        .dependencies(dptree::deps![app.clone(), pacer, flood, tasks.clone(), observer])
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
            let polling_errors = members::polling_errors(app.clone());
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
    Ok(Adapter { token, dispatcher, tasks, webhook })
}

/// The ids of the channels named in the configuration: numeric ids as they are, `@usernames`
/// asked of Telegram (one that cannot be found is logged and left out).
pub async fn resolve_channels(bot: &Bot, channels: &[String]) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    for name in channels {
        match name.parse::<i64>() {
            Ok(id) => found.push((name.clone(), id)),
            Err(_) => match bot.get_chat(Recipient::ChannelUsername(name.clone())).await {
                Ok(chat) => found.push((name.clone(), chat.id.0)),
                Err(e) => log::error!("cannot find the configured channel {name}: {e}"),
            },
        }
    }
    found
}

impl Adapter {
    /// Stops taking updates and lets handlers in progress finish, then stops the progress
    /// messages.
    pub async fn stop(self) {
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
        self.tasks.abort_all();
    }

    /// Whether the dispatcher stopped by itself (it only does when it could not start).
    pub fn is_finished(&self) -> bool {
        self.dispatcher.is_finished()
    }
}
