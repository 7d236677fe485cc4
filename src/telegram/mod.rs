//! The Telegram adapter: teloxide in, views out, plus the real sender the delivery engine
//! uses. Updates come in through Tribune's own bounded intake (`intake.rs`, over the
//! transport-neutral `crate::intake`), become a [`app::Caller`](crate::app::Caller) and a
//! call to a use case of `app/`; what it comes to is rendered and sent. It never names the
//! store: the composition root (`serve`) builds the service and hands the adapter what it
//! needs.

pub mod access;
pub mod commands;
pub mod error;
pub mod flood;
pub mod handlers;
pub mod inline;
pub mod intake;
pub mod members;
pub mod operator;
mod polling;
mod replies;
mod request;
pub mod send;
pub mod subscribe;
pub mod transport;
pub mod webhook;

use crate::{
    app::Tribune,
    delivery::{Observer, Pacer},
    intake::PoolConfig,
};
use intake::{Handling, Updates};
use replies::Replies;
use std::{sync::Arc, time::Duration};
use teloxide::{
    prelude::*,
    types::{AllowedUpdate, Me, Recipient},
};
use tokio::{sync::watch, task::AbortHandle};

/// How updates are taken.
#[derive(Debug, Clone)]
pub struct UpdateSource {
    /// How long one long poll waits for updates.
    pub poll_timeout: Duration,
    /// Take updates from Telegram's webhook instead of long polling.
    pub webhook: Option<crate::config::Webhook>,
    /// The intake's workers and queue: what bounds interactive work and its memory.
    pub intake: PoolConfig,
}

/// Where updates come from.
enum Source {
    Polling { task: tokio::task::JoinHandle<()>, offset: Arc<polling::Offset> },
    Webhook(webhook::Server),
}

/// The adapter's part of a running bot: the update source, the intake and its workers, the
/// reply sender, and the progress messages it keeps up to date. Stop it with
/// [`Adapter::stop`].
pub struct Adapter {
    bot: Bot,
    source: Source,
    updates: Arc<Updates>,
    replies: Arc<Replies>,
    replies_task: tokio::task::JoinHandle<()>,
    /// Progress messages being updated.
    tasks: Arc<operator::Tasks>,
    /// Watches the loops above; see [`Adapter::failure`].
    watch: tokio::task::JoinHandle<()>,
    /// Set (with the reason) if the update loop, the workers or the reply sender ever end.
    failed: watch::Receiver<Option<&'static str>>,
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

/// Starts taking updates (long polling, or the webhook) through the intake, after a fresh
/// progress message for each job still running. Sends go through `pacer`, shared with the
/// delivery engine whose health `observer` reports (the intake's gauges live there too).
pub async fn start(
    bot: Bot,
    app: Arc<Tribune>,
    me: &Me,
    pacer: Arc<Pacer>,
    observer: Arc<Observer>,
    options: &UpdateSource,
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
    let gauges = observer.intake().clone();
    let replies = Arc::new(Replies::new(bot.clone(), pacer.clone(), gauges.clone()));
    let replies_task = tokio::spawn(replies.clone().run());
    let updates = Arc::new(Updates::new(app.clone(), gauges, options.intake));
    let allowed: Vec<AllowedUpdate> = intake::ALLOWED.to_vec();
    let deps =
        dptree::deps![app.clone(), pacer.clone(), tasks.clone(), observer, bot.clone(), me.clone()];
    let handling = Handling {
        bot: bot.clone(),
        app: app.clone(),
        pacer,
        replies: replies.clone(),
        handler: handlers::schema(),
        deps,
    };
    updates.start(Arc::new(handling));
    let source = match &options.webhook {
        None => {
            delete_webhook(&bot).await;
            let offset = Arc::new(polling::Offset::default());
            let errors = members::polling_errors(app.clone());
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
    let workers = updates.clone();
    let watch = tokio::spawn(watch_loops(
        source_task,
        replies_task.abort_handle(),
        move || workers.alive(),
        failed_tx,
    ));
    Ok(Adapter { bot, source, updates, replies, replies_task, tasks, watch, failed })
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
    workers_alive: impl Fn() -> bool,
    failed: watch::Sender<Option<&'static str>>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let reason = if source.is_finished() {
            "the update loop ended"
        } else if replies.is_finished() {
            "the reply sender ended"
        } else if !workers_alive() {
            "the update workers ended"
        } else {
            continue;
        };
        log::error!("{reason}; stopping so that the supervisor restarts Tribune");
        let _ = failed.send(Some(reason));
        return;
    }
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
    /// Stops taking updates and drops those waiting (unanswered work is worth nothing after a
    /// restart), lets updates in hand finish briefly, stops the replies and the progress
    /// messages. About 3 s at most, whatever the load.
    pub async fn stop(self) {
        self.watch.abort();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each loop that ends by itself is named, so `serve` exits with that reason; while all
    /// run, nothing is reported.
    #[tokio::test(start_paused = true)]
    async fn a_loop_that_ends_is_reported_by_name() {
        for (which, expected) in [
            (0, "the update loop ended"),
            (1, "the reply sender ended"),
            (2, "the update workers ended"),
        ] {
            let running = || tokio::spawn(std::future::pending::<()>());
            let ended = || tokio::spawn(async {});
            let source = if which == 0 { ended() } else { running() };
            let replies = if which == 1 { ended() } else { running() };
            let (tx, mut failed) = watch::channel(None);
            let watch = tokio::spawn(watch_loops(
                source.abort_handle(),
                replies.abort_handle(),
                move || which != 2,
                tx,
            ));
            let told = tokio::time::timeout(Duration::from_secs(5), failed.changed()).await;
            assert!(told.is_ok(), "{expected}: not reported within 5 s");
            assert_eq!(*failed.borrow(), Some(expected));
            watch.await.unwrap();
            source.abort();
            replies.abort();
        }
        // All alive: a minute passes with nothing said.
        let (source, replies) = (
            tokio::spawn(std::future::pending::<()>()),
            tokio::spawn(std::future::pending::<()>()),
        );
        let (tx, failed) = watch::channel(None);
        let watch =
            tokio::spawn(watch_loops(source.abort_handle(), replies.abort_handle(), || true, tx));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(*failed.borrow(), None);
        watch.abort();
    }
}
