//! The webhook pusher: while a webhook is set (see `webhook`), every queued update is pushed
//! by HTTP POST to its URL, one at a time, in order, until the bot answers 2xx; failures are
//! retried every 200 ms and recorded for `getWebhookInfo`.

use std::{sync::Arc, time::Duration};

use super::{shared::Shared, webhook::SECRET_HEADER, world::unix_now};

/// Starts pushing updates, unless a pusher is already running (called after setWebhook, so
/// an emulator without a webhook has no task waking at every change).
pub(crate) fn ensure_pusher(shared: &Arc<Shared>) {
    let start = shared.with_state(|s| !std::mem::replace(&mut s.webhook_pusher, true));
    if start {
        tokio::spawn(push(shared.clone()));
    }
}

/// Pushes queued updates to the webhook while one is set; ends when it is deleted or the
/// emulator shuts down.
async fn push(shared: Arc<Shared>) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(client) => client,
        Err(error) => {
            log::error!("emulator: cannot build the webhook client: {error}");
            shared.with_state(|s| s.webhook_pusher = false);
            return;
        }
    };
    loop {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let next = shared
            .wait_until(far, |s| {
                let Some(webhook) = s.webhook.clone().filter(|_| !s.shutdown) else {
                    // Decided under the lock, so a setWebhook right after starts a new pusher.
                    s.webhook_pusher = false;
                    return Some(None);
                };
                let update = s.updates.deliverable(1).into_iter().next()?;
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
        shared.with_state(|s| match &failure {
            // Delivered: forgotten, as a confirmed update is.
            None => s.updates.forget(id),
            Some(message) => {
                if let Some(webhook) = &mut s.webhook {
                    webhook.last_error = Some((unix_now(), message.clone()));
                }
            }
        });
        shared.notify();
        if let Some(message) = failure {
            log::debug!("emulator: webhook push of update {id} failed: {message}");
            let retry = tokio::time::Instant::now() + Duration::from_millis(200);
            shared.wait_until(retry, |s| s.shutdown.then_some(())).await;
        }
    }
}
