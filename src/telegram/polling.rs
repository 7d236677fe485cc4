//! Long polling: Tribune's own getUpdates loop, in place of teloxide's dispatcher.
//!
//! It only fetches and admits (admission never waits), so it keeps asking Telegram however
//! busy the handlers are, and the offset it confirms covers exactly the updates it admitted
//! or deliberately dropped. Each answer, empty or not, is the update source's heartbeat in
//! `/health`. Errors are retried after Telegram's `retry_after` or a growing pause (1 s
//! doubling to 30 s); a conflict with another poller is told to the operators (`members.rs`).

use super::intake::Updates;
use crate::intake::Overflow;
use std::{
    sync::{
        Arc,
        atomic::{AtomicI32, Ordering},
    },
    time::Duration,
};
use teloxide::{RequestError, error_handlers::ErrorHandler, prelude::*, types::AllowedUpdate};

/// Updates asked for at once (Telegram's maximum).
const BATCH: u8 = 100;
/// The longest pause after repeated errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The loop's position: the offset of the next update to ask for.
#[derive(Default)]
pub(super) struct Offset(AtomicI32);

/// Polls until the task is aborted.
pub(super) async fn poll<E>(
    bot: Bot,
    updates: Arc<Updates>,
    timeout: Duration,
    allowed: Vec<AllowedUpdate>,
    offset: Arc<Offset>,
    errors: Arc<E>,
) where
    E: ErrorHandler<RequestError> + Send + Sync + 'static,
{
    let gauges = updates.gauges().clone();
    // The long poll's timeout, and a margin for a slow answer, without one answer means
    // the loop is stuck.
    gauges.source_started(Some(timeout + Duration::from_secs(10)));
    let mut failures: u32 = 0;
    loop {
        let request = bot
            .get_updates()
            .offset(offset.0.load(Ordering::Acquire))
            .timeout(timeout.as_secs().try_into().unwrap_or(u32::MAX))
            .limit(BATCH)
            .allowed_updates(allowed.clone());
        match request.await {
            Ok(batch) => {
                gauges.source_answered();
                failures = 0;
                for update in batch {
                    let next = update.id.as_offset();
                    updates.admit(update, Overflow::Shed);
                    offset.0.store(next, Ordering::Release);
                }
            }
            Err(error) => {
                failures += 1;
                let pause = match &error {
                    RequestError::RetryAfter(wait) => wait.duration(),
                    _ => Duration::from_secs(1 << (failures - 1).min(5)).min(MAX_BACKOFF),
                };
                errors.clone().handle_error(error).await;
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Tells Telegram the updates up to the offset were taken (their handling has ended or was
/// dropped at shutdown), so the next start does not get them again.
pub(super) async fn confirm(bot: &Bot, offset: &Offset) {
    let offset = offset.0.load(Ordering::Acquire);
    if offset == 0 {
        return;
    }
    let request = bot.get_updates().offset(offset).timeout(0).limit(1);
    match tokio::time::timeout(Duration::from_secs(2), request.send()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => log::warn!("cannot confirm the last updates: {e}"),
        Err(_) => log::warn!("confirming the last updates took too long"),
    }
}
