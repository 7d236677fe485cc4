//! Webhooks, as Telegram runs them: `setWebhook` with a URL and a `secret_token`,
//! `deleteWebhook`, `getWebhookInfo`, getUpdates refused with 409 while a webhook is set,
//! and every queued update pushed by HTTP POST to the URL with the secret in the
//! `X-Telegram-Bot-Api-Secret-Token` header, one at a time, in order, until the bot answers
//! 2xx (failures are retried and shown in `getWebhookInfo`'s `last_error_message`).
//!
//! Unlike Telegram, the emulator accepts `http://` URLs (Telegram requires HTTPS on ports 443,
//! 80, 88 or 8443), so a test can point it at a listener on 127.0.0.1 without certificates.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    Emulator,
    api::Params,
    error::ApiError,
    state::{State, unix_now},
};

/// The webhook a bot set.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    /// When and why the last push failed.
    pub last_error: Option<(i64, String)>,
}

/// The header Telegram puts the secret in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// setWebhook: an empty URL removes the webhook, as deleteWebhook does.
pub(crate) fn set(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let url = params.string("url").unwrap_or_default();
    if url.is_empty() {
        return delete(state, params);
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::bad_request(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    let secret = params.string("secret_token").filter(|s| !s.is_empty());
    if let Some(secret) = &secret {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if secret.len() > 256 || !secret.bytes().all(allowed) {
            return Err(ApiError::bad_request("secret token contains unallowed characters"));
        }
    }
    if let Some(Value::Array(kinds)) = params.json("allowed_updates")? {
        state.allowed_updates =
            Some(kinds.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect());
    }
    if params.flag("drop_pending_updates") {
        state.updates.clear();
    }
    state.webhook = Some(Webhook { url, secret, last_error: None });
    Ok(json!(true))
}

/// deleteWebhook: back to getUpdates.
pub(crate) fn delete(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    if params.flag("drop_pending_updates") {
        state.updates.clear();
    }
    state.webhook = None;
    Ok(json!(true))
}

/// getWebhookInfo.
pub(crate) fn info(state: &State) -> Value {
    let mut info = json!({
        "url": state.webhook.as_ref().map_or("", |w| w.url.as_str()),
        "has_custom_certificate": false,
        "pending_update_count": state.updates.len(),
    });
    if let Some(webhook) = &state.webhook {
        info["max_connections"] = json!(40);
        if let Some((date, message)) = &webhook.last_error {
            info["last_error_date"] = json!(date);
            info["last_error_message"] = json!(message);
        }
        if let Some(allowed) = &state.allowed_updates {
            info["allowed_updates"] = json!(allowed);
        }
    }
    info
}

/// getUpdates while a webhook is set.
pub(crate) fn conflict() -> ApiError {
    ApiError::new(
        409,
        "Conflict: can't use getUpdates method while webhook is active; \
         use deleteWebhook to delete the webhook first",
    )
}

/// Starts pushing updates, unless a pusher is already running (called after setWebhook, so
/// an emulator without a webhook has no task waking at every change).
pub(crate) fn ensure_pusher(emulator: &Emulator) {
    let start = emulator.with_state(|s| !std::mem::replace(&mut s.webhook_pusher, true));
    if start {
        tokio::spawn(push(emulator.clone()));
    }
}

/// Pushes queued updates to the webhook while one is set; ends when it is deleted or the
/// emulator shuts down.
async fn push(emulator: Emulator) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(client) => client,
        Err(error) => {
            log::error!("emulator: cannot build the webhook client: {error}");
            emulator.with_state(|s| s.webhook_pusher = false);
            return;
        }
    };
    loop {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let next = emulator
            .wait_until(far, |s| {
                let Some(webhook) = s.webhook.clone().filter(|_| !s.shutdown) else {
                    // Decided under the lock, so a setWebhook right after starts a new pusher.
                    s.webhook_pusher = false;
                    return Some(None);
                };
                let update = s.deliverable(1).into_iter().next()?;
                Some(Some((webhook, update)))
            })
            .await;
        let Some(next) = next else { continue };
        let Some((webhook, update)) = next else { return };
        let id = update["update_id"].as_u64().unwrap_or(0);
        let mut request = client.post(&webhook.url).json(&update);
        if let Some(secret) = &webhook.secret {
            request = request.header(SECRET_HEADER, secret);
        }
        let failure = match request.send().await {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("Wrong response from the webhook: {}", response.status())),
            Err(error) => Some(format!("Connection failed: {error}")),
        };
        emulator.with_state(|s| match &failure {
            // Delivered: forgotten, as a confirmed update is.
            None => s.updates.retain(|u| u64::from(u.id) != id),
            Some(message) => {
                if let Some(webhook) = &mut s.webhook {
                    webhook.last_error = Some((unix_now(), message.clone()));
                }
            }
        });
        emulator.notify();
        if let Some(message) = failure {
            log::debug!("emulator: webhook push of update {id} failed: {message}");
            let retry = tokio::time::Instant::now() + Duration::from_millis(200);
            emulator.wait_until(retry, |s| s.shutdown.then_some(())).await;
        }
    }
}

impl Emulator {
    /// The webhook URL the bot set, if any.
    pub fn webhook_url(&self) -> Option<String> {
        self.with_state(|s| s.webhook.as_ref().map(|w| w.url.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::{RequestError, prelude::*};

    #[tokio::test]
    async fn a_webhook_excludes_get_updates_until_deleted() {
        let emulator = Emulator::start().await.unwrap();
        let bot = Bot::new(emulator.token()).set_api_url(emulator.api_url().parse().unwrap());
        let url: reqwest::Url = "http://127.0.0.1:9/hook".parse().unwrap();
        let refused = bot.set_webhook(url.clone()).secret_token("no spaces allowed").await;
        assert!(refused.is_err(), "a secret with spaces is refused");
        bot.set_webhook(url.clone()).secret_token("s3cret_-").await.unwrap();
        let info = bot.get_webhook_info().await.unwrap();
        assert_eq!(info.url.as_ref().map(|u| u.as_str()), Some(url.as_str()));
        match bot.get_updates().await {
            Err(RequestError::Api(e)) => {
                assert!(
                    e.to_string().contains("can't use getUpdates method while webhook is active")
                )
            }
            other => panic!("getUpdates with a webhook set: {other:?}"),
        }
        // Nobody listens on port 9: the push fails and getWebhookInfo says so.
        emulator.user(1, "Reader", Some("en")).send_text("hello");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let info = bot.get_webhook_info().await.unwrap();
            if info.last_error_message.is_some() {
                assert_eq!(info.pending_update_count, 1, "the update is kept");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no push was tried");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bot.delete_webhook().await.unwrap();
        assert_eq!(emulator.webhook_url(), None);
        assert_eq!(bot.get_updates().await.unwrap().len(), 1, "kept for getUpdates");
        emulator.shutdown().await;
    }
}
