//! Sending replies: HTML parse mode, no link previews, inline keyboards.
//!
//! A handler running for an update (inside the intake's [`Scope`]) never waits for Telegram
//! to take its reply: [`reply`] and [`edit`] hand it to [`Replies`], which sends each chat's
//! replies in order, within the chat's limit and the pacer's interactive lane, known chats
//! first, and drops those not sent within a minute of their command. A 429 puts the reply
//! back with Telegram's `retry_after`: nothing sleeps in a handler, so a slow or rate-limited
//! chat holds up neither the update loop nor any other chat.

pub use super::request::{keyboard, no_preview};
use super::{
    replies::{Op, Replies, TurnOutcome},
    request::{edit_message, send_message},
};
use crate::{
    delivery::{Lane, Pacer},
    intake::{Class, Dropped},
    render::{OutMessage, Reply},
};
use std::{sync::Arc, time::Duration};
use teloxide::{RequestError, prelude::*, types::MessageId};
use tokio::time::Instant;

tokio::task_local! {
    static SCOPE: Scope;
}

/// What a handler's replies are sent with: set by the intake around each update.
#[derive(Clone)]
pub(super) struct Scope {
    pub replies: Arc<Replies>,
    /// The chat the update came from.
    pub chat: i64,
    pub class: Class,
    /// Replies not sent by then are dropped.
    pub deadline: Instant,
}

/// Runs `work` with `scope` as the destination of its replies.
pub(super) async fn in_scope<F: std::future::Future>(scope: Scope, work: F) -> F::Output {
    SCOPE.scope(scope, work).await
}

fn scope() -> Option<Scope> {
    SCOPE.try_with(Clone::clone).ok()
}

/// Sends every message of a reply, in order. Within an update's handling the messages are
/// queued and this returns at once; outside it (start-up, background tasks) they are sent
/// here, each admitted by the pacer.
pub async fn reply(
    bot: &Bot,
    pacer: &Pacer,
    chat: ChatId,
    reply: &Reply,
) -> Result<(), RequestError> {
    if let Some(scope) = scope() {
        for message in &reply.messages {
            queue(&scope, chat, Op::Send(message.clone()));
        }
        return Ok(());
    }
    for message in &reply.messages {
        outside(Some(pacer), || send_message(bot, chat, message)).await?;
    }
    Ok(())
}

/// Most waits for a 429 outside an update's handling.
const RETRIES: u32 = 3;
/// A `retry_after` longer than this is not waited out.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// A request made outside an update's handling (at start-up, in a background task such as a
/// progress message's updates), where waiting holds up no reader: a 429 is waited out, up to
/// [`RETRIES`] times and [`MAX_WAIT`] each.
async fn outside<T, F, Fut>(pacer: Option<&Pacer>, mut send: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let mut tries = 0;
    loop {
        let slot = match pacer {
            Some(pacer) => Some(pacer.acquire(Lane::Interactive).await),
            None => None,
        };
        let result = send().await;
        drop(slot);
        match result {
            Err(RequestError::RetryAfter(wait))
                if tries < RETRIES && wait.duration() <= MAX_WAIT =>
            {
                tries += 1;
                let until = Instant::now() + wait.duration();
                if let Some(pacer) = pacer {
                    pacer.pause(until);
                }
                tokio::time::sleep_until(until).await;
            }
            other => return other,
        }
    }
}

/// Replaces a message's text and buttons (paging). An edit that changes nothing is not an
/// error. Queued like a reply within an update's handling.
pub async fn edit(
    bot: &Bot,
    chat: ChatId,
    id: MessageId,
    message: &OutMessage,
) -> Result<(), RequestError> {
    if let Some(scope) = scope() {
        queue(&scope, chat, Op::Edit(id, message.clone()));
        return Ok(());
    }
    outside(None, || edit_message(bot, chat, id, message)).await
}

fn queue(scope: &Scope, chat: ChatId, op: Op) {
    if !scope.replies.push(chat.0, scope.class, scope.deadline, op) {
        scope.replies.gauges().count_dropped(Dropped::Full, 1);
        log::debug!("a reply was dropped: too many replies waiting");
    }
}

/// Makes a request whose result the caller needs (a message to edit later, a photo after a
/// text). Within an update's handling it waits for its turn among the chat's replies (after
/// those queued before it, within the chat's limit and the pacer's interactive lane) and a
/// 429 gives the turn back until Telegram's `retry_after`, unless that is past the reply's
/// deadline; the handler waits for its turn rather than sleeping. Outside an update's
/// handling the request goes at the pacer's word and a 429 is waited out there.
pub(super) async fn paced<T, F, Fut>(pacer: &Pacer, mut send: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let Some(scope) = scope() else { return outside(Some(pacer), send).await };
    let (turn, mut turns) = tokio::sync::mpsc::channel(1);
    if !scope.replies.push(scope.chat, scope.class, scope.deadline, Op::Turn(turn)) {
        scope.replies.gauges().count_dropped(Dropped::Full, 1);
        return Err(late("too many replies are waiting"));
    }
    loop {
        let Ok(Some(report)) = tokio::time::timeout_at(scope.deadline, turns.recv()).await else {
            return Err(late("its turn did not come in time"));
        };
        let result = send().await;
        let outcome = match &result {
            Ok(_) => TurnOutcome::Sent,
            Err(RequestError::RetryAfter(wait)) => {
                let until = Instant::now() + wait.duration();
                pacer.pause(until);
                let _ = report.send(TurnOutcome::Deferred(until));
                if until < scope.deadline {
                    continue;
                }
                return result;
            }
            Err(_) => TurnOutcome::Failed,
        };
        let _ = report.send(outcome);
        return result;
    }
}

/// A request that was not made because it would have been too late.
fn late(why: &str) -> RequestError {
    RequestError::Io(Arc::new(std::io::Error::new(std::io::ErrorKind::TimedOut, why.to_string())))
}
