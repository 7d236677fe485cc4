//! Webhook mode: Telegram posts each update to a public HTTPS URL, a reverse proxy forwards it
//! here, and this listener hands it to the dispatcher.
//!
//! teloxide's own axum webhook compares the secret token with `!=` (its source says "FIXME:
//! use constant time comparison here") and pulls in tower-http, so Tribune has its own small
//! listener: a request without the right `X-Telegram-Bot-Api-Secret-Token` gets 401 and is
//! never parsed; the comparison takes the same time however much of a guess is right.

use crate::config::{Webhook, WebhookSecret};
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};
use teloxide::{
    prelude::*,
    stop::{StopToken, mk_stop_token},
    types::{AllowedUpdate, Update},
    update_listeners::{StatefulListener, UpdateListener},
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

/// The header Telegram sends the secret in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The update kinds the handler tree handles (see `handlers::schema`): Telegram sends no others.
/// Keep it in step with the tree; `tests/it/webhook.rs` sends a button press and an inline query
/// through a webhook.
const ALLOWED: [AllowedUpdate; 5] = [
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::MyChatMember,
    AllowedUpdate::InlineQuery,
];

type Sender = mpsc::UnboundedSender<Result<Update, Infallible>>;

#[derive(Clone)]
struct Hook {
    secret: Arc<WebhookSecret>,
    /// Taken when stopping: the update stream then ends and the dispatcher with it.
    tx: Arc<Mutex<Option<Sender>>>,
}

/// The running listener; [`Server::stop`] closes it and deletes the webhook.
pub struct Server {
    bot: Bot,
    task: tokio::task::JoinHandle<()>,
}

/// Listens on `config.listen`, then asks Telegram to post updates to `config.url` with the
/// secret. Returns the listener for the dispatcher and the server to stop at shutdown.
pub async fn listen(
    bot: &Bot,
    config: &Webhook,
) -> Result<(impl UpdateListener<Err = Infallible> + use<>, Server), teloxide::RequestError> {
    let socket = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| {
        log::error!("cannot listen for the webhook on {}: {e}", config.listen);
        teloxide::RequestError::Io(Arc::new(e))
    })?;
    let (tx, rx) = mpsc::unbounded_channel();
    let hook = Hook { secret: Arc::new(config.secret.clone()), tx: Arc::new(Mutex::new(Some(tx))) };
    let router = Router::new()
        .route(config.url.path(), post(receive))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(hook.clone());
    let (stop_token, stop_flag) = mk_stop_token();
    let task = tokio::spawn(async move {
        let stopped = async move {
            stop_flag.await;
            hook.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        };
        if let Err(e) = axum::serve(socket, router).with_graceful_shutdown(stopped).await {
            log::error!("the webhook listener failed: {e}");
        }
    });
    bot.set_webhook(config.url.clone())
        .secret_token(config.secret.expose().to_string())
        .allowed_updates(ALLOWED)
        .await?;
    log::info!("webhook set; listening on {} for {}", config.listen, config.url.path());
    let listener = StatefulListener::new(
        (UnboundedReceiverStream::new(rx), stop_token),
        stream,
        stop_token_of,
    );
    Ok((listener, Server { bot: bot.clone(), task }))
}

type ListenerState = (UnboundedReceiverStream<Result<Update, Infallible>>, StopToken);

fn stream(state: &mut ListenerState) -> &mut UnboundedReceiverStream<Result<Update, Infallible>> {
    &mut state.0
}

fn stop_token_of(state: &mut ListenerState) -> StopToken {
    state.1.clone()
}

/// One request from Telegram (or anyone who found the port).
async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if !given.is_some_and(|g| hook.secret.matches(g)) {
        log::warn!("webhook: refused a request without the right secret");
        return StatusCode::UNAUTHORIZED;
    }
    let update = match serde_json::from_slice::<Update>(&body) {
        Ok(update) => update,
        Err(e) => {
            // Telegram would send it again and again if refused: log it and let it go.
            log::error!("webhook: a request with the right secret is not an update: {e}");
            return StatusCode::OK;
        }
    };
    let tx = hook.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match tx {
        Some(tx) if tx.send(Ok(update)).is_ok() => StatusCode::OK,
        // Stopping: Telegram keeps the update and sends it to the next instance.
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl Server {
    /// Closes the listener (the dispatcher has stopped asking for updates) and deletes the
    /// webhook, so Telegram keeps new updates until the next start.
    pub async fn stop(self) {
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
            log::warn!("the webhook listener did not close in 5 s; stopping it");
            task.abort();
        }
        match self.bot.delete_webhook().await {
            Ok(_) => log::info!("webhook deleted"),
            Err(e) => log::error!("cannot delete the webhook: {e}"),
        }
    }
}
