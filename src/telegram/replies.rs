//! The sender of interactive replies: one loop over [`Outgoing`] that takes the next reply
//! that may go (known chats first, each chat within its limit), waits for the pacer's
//! interactive lane, and sends it in a task of its own. A result comes back as `sent`, a
//! 429 as `deferred` (the reply waits Telegram's `retry_after`, holding nothing), a chat
//! that is gone as `failed` for all its replies.

use super::request::{edit_message, send_message};
use crate::{
    delivery::{Lane, Pacer},
    intake::{Class, Dropped, Gauges, MAX_AGE, Next, Outgoing, OutgoingConfig},
    render::OutMessage,
};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use teloxide::{ApiError, RequestError, prelude::*, types::MessageId};
use tokio::{
    sync::{Notify, Semaphore, mpsc, oneshot},
    time::Instant,
};

/// A reply: a new message, or an edit of one (paging, the settings card), or the turn of a
/// request a handler makes itself because it needs the result ([`super::send::paced`]).
#[derive(Clone)]
pub(super) enum Op {
    Send(OutMessage),
    Edit(MessageId, OutMessage),
    /// When it is the turn, a channel for the outcome is handed to the handler, which makes
    /// the request and reports back.
    Turn(mpsc::Sender<oneshot::Sender<TurnOutcome>>),
}

/// How a request made in its turn went.
pub(super) enum TurnOutcome {
    Sent,
    /// Refused with a 429: the turn comes again at this moment.
    Deferred(Instant),
    Failed,
}

/// Unknown work is held back while this many of its replies wait: at the interactive lane's
/// half of 30 messages a second, a second or so of sending. Handling more would only make
/// replies that wait until they are stale.
pub(super) const UNKNOWN_BACKLOG: usize = 16;
/// The same for known chats: their replies go first, so more may wait.
pub(super) const KNOWN_BACKLOG: usize = 256;
/// Requests to Telegram in flight at once.
const CONCURRENCY: usize = 16;

pub(super) struct Replies {
    bot: Bot,
    pacer: Arc<Pacer>,
    state: Mutex<Outgoing<Op>>,
    /// A reply was queued or finished: the loop may have something to send.
    wake: Notify,
    permits: Arc<Semaphore>,
    gauges: Arc<Gauges>,
    /// Called when a backlog shrinks, so that the intake may take held-back work.
    drained: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    stopping: AtomicBool,
}

impl Replies {
    pub fn new(bot: Bot, pacer: Arc<Pacer>, gauges: Arc<Gauges>) -> Replies {
        Replies {
            bot,
            pacer,
            state: Mutex::new(Outgoing::new(OutgoingConfig::default())),
            wake: Notify::new(),
            permits: Arc::new(Semaphore::new(CONCURRENCY)),
            gauges,
            drained: Mutex::new(None),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn gauges(&self) -> &Gauges {
        &self.gauges
    }

    /// Calls `drained` whenever a backlog shrinks.
    pub fn on_drained(&self, drained: impl Fn() + Send + Sync + 'static) {
        *self.drained.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(drained));
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut Outgoing<Op>) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let result = f(&mut state);
        let stale = state.take_stale();
        if stale > 0 {
            self.gauges.count_dropped(Dropped::StaleReply, stale);
        }
        self.gauges.set_replies(state.waiting(Class::Known) + state.waiting(Class::Unknown));
        result
    }

    /// Queues a reply; `false` when it was refused (too many waiting).
    pub fn push(&self, chat: i64, class: Class, deadline: Instant, op: Op) -> bool {
        if self.stopping.load(Ordering::Acquire) {
            return false;
        }
        let counts = !matches!(op, Op::Edit(..));
        // Negative ids are groups, supergroups and channels.
        let queued = self.with_state(|s| s.push(chat, class, chat < 0, deadline, op, counts));
        self.wake.notify_one();
        queued
    }

    /// Whether the intake may take more work of `class`: its replies are not backed up.
    pub fn has_room(&self, class: Class) -> bool {
        let waiting = self.with_state(|s| s.waiting(class));
        waiting < if class == Class::Known { KNOWN_BACKLOG } else { UNKNOWN_BACKLOG }
    }

    /// Sends until [`Replies::stop`]. Spawn it.
    pub async fn run(self: Arc<Self>) {
        loop {
            let wake = self.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            let (chat, op, counts, deadline) = match self.with_state(|s| s.next(Instant::now())) {
                Next::Idle => {
                    wake.await;
                    continue;
                }
                Next::Wait(at) => {
                    let _ = tokio::time::timeout_at(at, wake).await;
                    continue;
                }
                Next::Send { chat, op, counts, deadline, .. } => (chat, op, counts, deadline),
            };
            let Ok(permit) = self.permits.clone().acquire_owned().await else { return };
            let replies = self.clone();
            let (admitted, turn) = oneshot::channel();
            tokio::spawn(async move {
                // Admitted by the pacer right before the request is made, as the engine's
                // sends are, so a busy runtime makes a reply late, never bunched with others.
                let slot = if counts {
                    Some(replies.pacer.acquire(Lane::Interactive).await)
                } else {
                    None
                };
                let _ = admitted.send(());
                replies.send(chat, op, deadline).await;
                drop(slot);
                drop(permit);
            });
            // The next reply is taken only once this one is admitted: one at a time waits at
            // the pacer, so a known reply queued meanwhile waits behind one send at most.
            let _ = turn.await;
        }
    }

    /// Makes the request of one reply (or hands a handler its turn) and records the outcome.
    async fn send(&self, chat: i64, op: Op, deadline: Instant) {
        let result = match op {
            Op::Send(message) => send_message(&self.bot, ChatId(chat), &message).await,
            Op::Edit(id, message) => edit_message(&self.bot, ChatId(chat), id, &message).await,
            Op::Turn(turn) => {
                let (report, outcome) = oneshot::channel();
                if turn.try_send(report).is_err() {
                    // The handler is gone (it gave up, or was abandoned).
                    self.with_state(|s| s.failed(chat, false));
                    self.finished();
                    return;
                }
                let now = Instant::now();
                match outcome.await {
                    Ok(TurnOutcome::Sent) => {
                        self.record_age(deadline);
                        self.with_state(|s| s.sent(chat, now));
                    }
                    Ok(TurnOutcome::Deferred(until)) => {
                        self.with_state(|s| s.deferred(chat, until));
                    }
                    Ok(TurnOutcome::Failed) | Err(_) => self.with_state(|s| s.failed(chat, false)),
                }
                self.finished();
                return;
            }
        };
        if result.is_ok() {
            self.record_age(deadline);
        }
        self.finish(chat, result);
    }

    /// How old a reply was when Telegram took it, from its update's arrival (its deadline
    /// is a minute after that).
    fn record_age(&self, deadline: Instant) {
        let arrived = deadline.checked_sub(MAX_AGE).unwrap_or(deadline);
        self.gauges.reply_sent(arrived.elapsed());
    }

    fn finish(&self, chat: i64, result: Result<(), RequestError>) {
        let now = Instant::now();
        match result {
            Ok(()) => self.with_state(|s| s.sent(chat, now)),
            Err(RequestError::RetryAfter(wait)) => {
                // Telegram does not say whether the limit is the chat's or the bot's.
                let until = now + wait.duration();
                self.pacer.pause(until);
                log::debug!("a reply was rate-limited; it goes again in {}s", wait.seconds());
                self.with_state(|s| s.deferred(chat, until));
            }
            Err(RequestError::Api(
                ApiError::BotBlocked
                | ApiError::BotKicked
                | ApiError::BotKickedFromSupergroup
                | ApiError::BotKickedFromChannel
                | ApiError::ChatNotFound
                | ApiError::UserDeactivated
                | ApiError::GroupDeactivated
                | ApiError::NotEnoughRightsToPostMessages,
            )) => {
                log::debug!("a chat will not take replies; its other replies are dropped");
                self.with_state(|s| s.failed(chat, true));
            }
            Err(e) => {
                log::warn!("a reply could not be sent: {e}");
                self.with_state(|s| s.failed(chat, false));
            }
        }
        self.finished();
    }

    /// A reply finished one way or another: waiters may go on.
    fn finished(&self) {
        self.wake.notify_one();
        if let Some(drained) = &*self.drained.lock().unwrap_or_else(|p| p.into_inner()) {
            drained();
        }
    }

    /// Stops sending: what waits is dropped (replies are worth nothing after a restart);
    /// requests in flight get `grace` to finish.
    pub async fn stop(&self, grace: Duration) {
        self.stopping.store(true, Ordering::Release);
        let dropped = self.with_state(|s| s.clear());
        self.gauges.count_dropped(Dropped::Shutdown, dropped as u64);
        self.wake.notify_waiters();
        let all = u32::try_from(CONCURRENCY).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(grace, self.permits.acquire_many(all)).await;
    }
}
