//! Webhook mode: Telegram posts each update to a public HTTPS URL, a reverse proxy forwards it
//! here, and this listener hands it to the intake, as long polling does.
//!
//! Anyone who finds the port can send anything, so the listener spends as little as
//! possible on a request it will refuse:
//! - the secret (`X-Telegram-Bot-Api-Secret-Token`) is checked as soon as the headers are
//!   in, before a byte of the body is read; without it the answer is 401 and the connection
//!   is closed (the comparison takes the same time however much of a guess is right);
//! - headers must arrive within [`HEADER_TIME`] and fit [`MAX_HEAD`]; a body must be at
//!   most [`MAX_BODY`] and arrive within [`BODY_TIME`] (slow senders are cut off);
//! - at most [`MAX_CONNECTIONS`] connections at once; more are closed at once;
//! - an update goes to the intake's bounded queue; when it is full the answer is 503, and
//!   Telegram sends the update again later. An update dropped on purpose (over its sender's
//!   allowance) is answered 200, or Telegram would send it again and again.
//!
//! teloxide's own axum webhook compares the secret with `!=`, reads the body first and feeds
//! an unbounded channel; hence this small listener on hyper.

use super::intake::Updates;
use crate::{
    config::{Webhook, WebhookSecret},
    intake::Overflow,
};
use http_body_util::{BodyExt, Limited};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use teloxide::{
    prelude::*,
    types::{AllowedUpdate, Update, WebhookInfo},
};
use tokio::{net::TcpListener, sync::watch, task::JoinSet, time::Instant};

/// The header Telegram sends the secret in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// An update is a few kilobytes; the longest message with every entity is far below this.
pub const MAX_BODY: usize = 256 * 1024;
/// The request line and headers, at most (hyper's smallest buffer).
const MAX_HEAD: usize = 8 * 1024;
/// Headers must be in within this.
pub const HEADER_TIME: Duration = Duration::from_secs(10);
/// A body must be in within this.
pub const BODY_TIME: Duration = Duration::from_secs(10);
/// Connections at once (Telegram opens at most 40).
pub const MAX_CONNECTIONS: usize = 64;
/// Refused requests are logged at most this often (with a count), so a scan cannot fill the
/// log.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

struct Hook {
    secret: WebhookSecret,
    path: String,
    updates: Arc<Updates>,
    refused: AtomicU64,
    refusal_logged: Mutex<Option<Instant>>,
}

/// The running listener; [`Server::stop`] closes it and deletes the webhook.
pub struct Server {
    bot: Bot,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    check: tokio::task::JoinHandle<()>,
}

/// Listens on `config.listen`, then asks Telegram to post updates to `config.url` with the
/// secret. The updates go to `updates`.
pub async fn listen(
    bot: &Bot,
    config: &Webhook,
    updates: Arc<Updates>,
    allowed: Vec<AllowedUpdate>,
) -> Result<Server, teloxide::RequestError> {
    let socket = TcpListener::bind(config.listen).await.map_err(|e| {
        log::error!("cannot listen for the webhook on {}: {e}", config.listen);
        teloxide::RequestError::Io(Arc::new(e))
    })?;
    let gauges = updates.gauges().clone();
    let hook = Arc::new(Hook {
        secret: config.secret.clone(),
        path: config.url.path().to_string(),
        updates,
        refused: AtomicU64::new(0),
        refusal_logged: Mutex::new(None),
    });
    let (stop, stopped) = watch::channel(false);
    // A webhook is quiet whenever readers are, so silence alone says nothing: the source is
    // alive while updates arrive or Telegram confirms the hook is set and delivering. Two
    // checks missed (and half an interval's margin) is "not arriving".
    gauges.source_started(Some(config.check_every * 5 / 2));
    let listening = gauges.clone();
    let task = tokio::spawn(async move {
        accept(socket, hook, stopped).await;
        listening.source_stopped();
    });
    bot.set_webhook(config.url.clone())
        .secret_token(config.secret.expose().to_string())
        .allowed_updates(allowed)
        .await?;
    log::info!("webhook set; listening on {} for {}", config.listen, config.url.path());
    let check = tokio::spawn(check(bot.clone(), config.url.clone(), config.check_every, gauges));
    Ok(Server { bot: bot.clone(), stop, task, check })
}

/// What Telegram's `getWebhookInfo` says about delivery to this listener.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    /// Set to this URL, and no new error while updates wait.
    Working,
    /// Set elsewhere or deleted (another instance, or someone holding the token).
    NotOurs,
    /// Telegram has updates for the bot and reports a new error reaching it.
    Failing(String),
}

/// Judges one `getWebhookInfo` answer; `seen_error` is the last error already judged, so an
/// old error that Telegram keeps reporting does not count twice.
fn judge(info: &WebhookInfo, ours: &reqwest::Url, seen_error: &mut Option<i64>) -> Delivery {
    if info.url.as_ref() != Some(ours) {
        return Delivery::NotOurs;
    }
    let error = info.last_error_date.map(|d| d.timestamp());
    let new_error = error.is_some() && error != *seen_error;
    *seen_error = error;
    if new_error && info.pending_update_count > 0 {
        let message = info.last_error_message.clone().unwrap_or_default();
        return Delivery::Failing(message);
    }
    Delivery::Working
}

/// Telegram's words as one short line for the log.
fn printable(text: &str) -> String {
    text.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Asks Telegram every `every` whether the webhook is set to `url` and delivering; marks the
/// source alive when it is, logs (once per change) when it is not.
async fn check(bot: Bot, url: reqwest::Url, every: Duration, gauges: Arc<crate::intake::Gauges>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut seen_error, mut last) = (None, Delivery::Working);
    loop {
        tick.tick().await;
        let info = match tokio::time::timeout(every, bot.get_webhook_info().into_future()).await {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => {
                log::warn!("webhook check: cannot ask Telegram: {e}");
                continue;
            }
            Err(_) => {
                log::warn!("webhook check: no answer from Telegram within {every:?}");
                continue;
            }
        };
        let now = judge(&info, &url, &mut seen_error);
        match &now {
            Delivery::Working => gauges.source_answered(),
            Delivery::NotOurs if last != now => log::error!(
                "the webhook is no longer set to this bot's URL (deleted, or set by another \
                 instance); updates are not arriving"
            ),
            Delivery::Failing(why) if last != now => {
                log::error!("Telegram cannot deliver updates to the webhook: {}", printable(why))
            }
            _ => {}
        }
        last = now;
    }
}

/// Accepts connections until stopped, then gives those open two seconds to finish.
async fn accept(socket: TcpListener, hook: Arc<Hook>, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = socket.accept() => accepted,
            _ = stopped.changed() => break,
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: wait a moment rather than spin.
                log::warn!("webhook: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if connections.len() >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        let (hook, mut stopped) = (hook.clone(), stopped.clone());
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let hook = hook.clone();
                async move { Ok::<_, Infallible>(receive(&hook, request).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIME)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(2), connection).await;
                }
            }
        });
    }
    drop(socket);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(3), drained).await.is_err() {
        connections.abort_all();
    }
}

fn answer(status: StatusCode) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = status;
    response
}

/// One request from Telegram (or anyone who found the port).
async fn receive(hook: &Hook, request: Request<Incoming>) -> Response<String> {
    if request.method() != Method::POST || request.uri().path() != hook.path {
        let mut response = answer(StatusCode::NOT_FOUND);
        response
            .headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        return response;
    }
    let given = request.headers().get(SECRET_HEADER).map(|v| v.as_bytes());
    if !given.is_some_and(|g| hook.secret.matches(g)) {
        hook.log_refusal();
        // The body is never read; closing the connection means it need not be.
        let mut response = answer(StatusCode::UNAUTHORIZED);
        response
            .headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        return response;
    }
    let body = Limited::new(request.into_body(), MAX_BODY);
    let bytes = match tokio::time::timeout(BODY_TIME, body.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            log::warn!("webhook: a request's body is over {MAX_BODY} bytes; refused");
            return answer(StatusCode::PAYLOAD_TOO_LARGE);
        }
        Ok(Err(e)) => {
            log::warn!("webhook: a request's body could not be read: {e}");
            return answer(StatusCode::BAD_REQUEST);
        }
        Err(_) => {
            log::warn!("webhook: a request's body did not arrive within {}s", BODY_TIME.as_secs());
            return answer(StatusCode::REQUEST_TIMEOUT);
        }
    };
    let Some(update) = decode(&bytes) else {
        // Telegram would send it again and again if refused: it was logged; let it go.
        return answer(StatusCode::OK);
    };
    hook.updates.gauges().source_answered();
    if hook.updates.admit(update, Overflow::Refuse) {
        answer(StatusCode::OK)
    } else {
        // Full, or stopping: Telegram keeps the update and sends it again.
        answer(StatusCode::SERVICE_UNAVAILABLE)
    }
}

/// A request's body as an update; `None` (logged) for anything else. Total: any bytes give
/// an update or `None` (fuzzed with the intake's reading of updates in `intake.rs`).
pub(super) fn decode(body: &[u8]) -> Option<Update> {
    match serde_json::from_slice::<Update>(body) {
        Ok(update) => Some(update),
        Err(e) => {
            // Not `{e}`: serde's message can quote the value, which can be a reader's text.
            log::error!(
                "webhook: a request with the right secret is not an update ({:?} at {}:{})",
                e.classify(),
                e.line(),
                e.column()
            );
            None
        }
    }
}

impl Hook {
    fn log_refusal(&self) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let mut logged = self.refusal_logged.lock().unwrap_or_else(|p| p.into_inner());
        if logged.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
            *logged = Some(Instant::now());
            log::warn!(
                "webhook: refused a request without the right secret ({refused} since start)"
            );
        }
    }
}

impl Server {
    /// Stops listening (requests in progress get two seconds) and deletes the webhook, so
    /// Telegram keeps new updates until the next start.
    pub async fn stop(self) {
        self.check.abort();
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
            log::warn!("the webhook listener did not close in 5 s; stopping it");
            task.abort();
        }
        match tokio::time::timeout(Duration::from_secs(2), self.bot.delete_webhook().into_future())
            .await
        {
            Ok(Ok(_)) => log::info!("webhook deleted"),
            Ok(Err(e)) => log::error!("cannot delete the webhook: {e}"),
            Err(_) => log::error!("cannot delete the webhook: no answer within 2 s"),
        }
    }

    /// The listener's task, to tell whether it still runs.
    pub fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.task.abort_handle()
    }
}

#[cfg(test)]
mod check_tests {
    use super::*;

    fn info(url: &str, pending: u32, error: Option<i64>) -> WebhookInfo {
        let mut json = serde_json::json!({
            "url": url, "has_custom_certificate": false, "pending_update_count": pending,
        });
        if let Some(date) = error {
            json["last_error_date"] = date.into();
            json["last_error_message"] = "Connection refused\n".into();
        }
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn delivery_is_judged_from_telegrams_answer() {
        let ours = reqwest::Url::parse("https://bot.example.org/hook").unwrap();
        let mut seen = None;
        let judge = |i: &WebhookInfo, seen: &mut Option<i64>| judge(i, &ours, seen);
        assert_eq!(
            judge(&info("https://bot.example.org/hook", 0, None), &mut seen),
            Delivery::Working
        );
        assert_eq!(judge(&info("", 0, None), &mut seen), Delivery::NotOurs);
        assert_eq!(
            judge(&info("https://other.example.org/hook", 0, None), &mut seen),
            Delivery::NotOurs
        );
        // A new error while updates wait: failing; the same error again: judged already.
        let failing = info("https://bot.example.org/hook", 3, Some(1_800_000_000));
        assert_eq!(judge(&failing, &mut seen), Delivery::Failing("Connection refused\n".into()));
        assert_eq!(judge(&failing, &mut seen), Delivery::Working);
        // A new error with nothing waiting (delivered since): working.
        let caught_up = info("https://bot.example.org/hook", 0, Some(1_800_000_060));
        assert_eq!(judge(&caught_up, &mut seen), Delivery::Working);
        assert_eq!(printable("a\nb\u{7}"), "a b ");
    }
}
