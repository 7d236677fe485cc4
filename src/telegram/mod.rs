//! The Telegram adapter: teloxide in, views out. The only module that names teloxide
//! (besides the emulator's own tests).

pub mod commands;
pub mod handlers;
pub mod send;

use crate::app::Tribune;
use std::{sync::Arc, time::Duration};
use teloxide::{
    dispatching::ShutdownToken, error_handlers::LoggingErrorHandler, prelude::*,
    update_listeners::Polling,
};

/// A running bot: stop it with [`BotHandle::shutdown`].
pub struct BotHandle {
    token: ShutdownToken,
    task: tokio::task::JoinHandle<Result<(), teloxide::RequestError>>,
}

/// Registers the command menu and starts long polling in the background.
pub async fn start(
    bot: Bot,
    app: Arc<Tribune>,
    poll_timeout: Duration,
) -> Result<BotHandle, teloxide::RequestError> {
    let me = bot.get_me().await?;
    log::info!("connected as @{}", me.username());
    commands::register(&bot, &app.corpus()).await?;
    let listener =
        Polling::builder(bot.clone()).timeout(poll_timeout).delete_webhook().await.build();
    let mut dispatcher = Dispatcher::builder(bot, handlers::schema())
        .dependencies(dptree::deps![app])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("an update could not be handled"))
        .build();
    let token = dispatcher.shutdown_token();
    let task = tokio::spawn(async move {
        dispatcher
            .try_dispatch_with_listener(
                listener,
                LoggingErrorHandler::with_custom_text("polling for updates failed"),
            )
            .await
    });
    Ok(BotHandle { token, task })
}

impl BotHandle {
    /// Stops taking updates, lets handlers in progress finish, and waits for the dispatcher.
    pub async fn shutdown(self) {
        match self.token.shutdown() {
            Ok(done) => done.await,
            Err(_) => log::debug!("dispatcher was not running at shutdown"),
        }
        if let Err(e) = self.task.await {
            log::error!("the dispatcher task failed: {e}");
        }
    }

    /// Whether the dispatcher stopped by itself (it only does when it could not start).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}
