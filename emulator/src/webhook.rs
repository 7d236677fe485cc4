//! Webhooks, as Telegram runs them: `setWebhook` with a URL and a `secret_token`,
//! `deleteWebhook`, `getWebhookInfo`, and getUpdates refused with 409 while a webhook is set.
//! `push` then delivers every queued update by HTTP POST to the URL, with the secret in the
//! `X-Telegram-Bot-Api-Secret-Token` header (failures show in `getWebhookInfo`'s
//! `last_error_message`).
//!
//! Unlike Telegram, the emulator accepts `http://` URLs (Telegram requires HTTPS on ports 443,
//! 80, 88 or 8443), so a test can point it at a listener on 127.0.0.1 without certificates.

use serde_json::{Value, json};

use super::{
    error::ApiError,
    params::Params,
    state::{State, Webhook},
};

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
        state.updates.allowed =
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
        if let Some(allowed) = &state.updates.allowed {
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
