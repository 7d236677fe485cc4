//! The delivery engine: takes durable outbox items and sends them, fairly across chats,
//! within Telegram's limits, handling each class of error.
//!
//! Each chat has its own FIFO queue and a time before which it may not be sent to (its pace,
//! or a 429's `retry_after`, or a retry's backoff). The loop always takes the chat that has
//! been ready longest, so one slow group never stalls the others. One message per chat is in
//! flight at a time, which keeps a chat's messages in order.

use super::{Limits, Observer, Pacer, Transport};
use crate::{
    clock::Clock,
    store::{OutboxItem, Store},
    subscription::ChatKind,
};
use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    sync::{Notify, Semaphore, mpsc, oneshot},
    time::Instant,
};

/// Retries of a temporary failure before the item goes to the dead letters.
pub const MAX_ATTEMPTS: u32 = 8;
/// The longest backoff between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often confirmed sends are flushed to disk. With the sends in flight, this bounds what
/// a crash can send twice.
pub const FLUSH_EVERY: Duration = Duration::from_millis(25);

/// Something operators or the rest of the app should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Telegram said the chat will not take messages; its subscription was deactivated.
    ChatGone { chat_id: i64, kind: ChatKind, reason: String },
    /// A group became a supergroup; its subscription moved.
    ChatMigrated { from: i64, to: i64 },
}

/// Counters since start.
#[derive(Debug, Default)]
pub struct Stats {
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub failed: AtomicU64,
    pub deactivated: AtomicU64,
    pub rate_limited: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    pub deactivated: u64,
    pub rate_limited: u64,
    pub pending: usize,
}

/// The engine; cheap to clone.
pub struct Engine<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Engine<T> {
    fn clone(&self) -> Self {
        Engine { inner: self.inner.clone() }
    }
}

pub(super) struct Inner<T> {
    pub(super) store: Store,
    pub(super) transport: T,
    pub(super) limits: Limits,
    pub(super) pacer: Arc<Pacer>,
    pub(super) queue: Mutex<Queue>,
    pub(super) wake: Notify,
    pub(super) idle: Notify,
    pub(super) stats: Stats,
    pub(super) events: mpsc::UnboundedSender<Event>,
    pub(super) dirty: AtomicBool,
    pub(super) stopping: AtomicBool,
    pub(super) permits: Arc<Semaphore>,
    pub(super) observer: Arc<Observer>,
    /// Stamps delivery records and counters: the app's clock, so they agree with it.
    pub(super) clock: Clock,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) chats: HashMap<i64, ChatQueue>,
    /// Chats with items, by the time they may next be sent to.
    pub(super) ready: BinaryHeap<Reverse<(Instant, i64)>>,
    pub(super) known: HashSet<u64>,
    pub(super) in_flight: usize,
}

pub(super) struct ChatQueue {
    pub(super) items: VecDeque<(u64, OutboxItem)>,
    pub(super) ready_at: Instant,
    pub(super) busy: bool,
}

impl<T: Transport> Engine<T> {
    /// A stopped engine on the system clock; `start` runs it. Events arrive on the returned
    /// receiver.
    pub fn new(
        store: Store,
        transport: T,
        limits: Limits,
        pacer: Arc<Pacer>,
    ) -> (Engine<T>, mpsc::UnboundedReceiver<Event>) {
        Engine::with_clock(store, transport, limits, pacer, Clock::System)
    }

    /// The same, stamping its records with `clock` (the app's, so they agree).
    pub fn with_clock(
        store: Store,
        transport: T,
        limits: Limits,
        pacer: Arc<Pacer>,
        clock: Clock,
    ) -> (Engine<T>, mpsc::UnboundedReceiver<Event>) {
        let (events, receiver) = mpsc::unbounded_channel();
        let inner = Inner {
            store,
            transport,
            limits,
            pacer,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            idle: Notify::new(),
            stats: Stats::default(),
            events,
            dirty: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            observer: Arc::new(Observer::default()),
            clock,
        };
        (Engine { inner: Arc::new(inner) }, receiver)
    }

    /// Loads whatever the outbox holds (after a restart: what a crash interrupted).
    pub fn load_outbox(&self) -> crate::store::Result<usize> {
        let items = self.inner.store.outbox()?;
        let count = items.len();
        self.push(items);
        Ok(count)
    }

    /// Hands the engine items that are already durable in the outbox.
    pub fn push(&self, items: Vec<(u64, OutboxItem)>) {
        let now = Instant::now();
        let mut q = self.inner.lock();
        for (seq, item) in items {
            if !q.known.insert(seq) {
                continue;
            }
            let chat = item.chat_id;
            let entry = q.chats.entry(chat).or_insert_with(|| ChatQueue {
                items: VecDeque::new(),
                ready_at: now,
                busy: false,
            });
            let was_empty = entry.items.is_empty() && !entry.busy;
            entry.items.push_back((seq, item));
            if was_empty {
                let at = entry.ready_at;
                q.ready.push(Reverse((at, chat)));
            }
        }
        drop(q);
        self.inner.wake.notify_one();
    }

    /// Runs the engine until `shutdown`. Spawn it.
    pub async fn run(self) {
        self.inner.observer.set_running(true);
        let flusher = tokio::spawn(flush_loop(self.inner.clone()));
        while !self.inner.stopping.load(Ordering::SeqCst) {
            let Some((seq, item)) = self.next_ready().await else { continue };
            let permit = match self.inner.permits.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => break,
            };
            let (admitted, turn) = oneshot::channel();
            let inner = self.inner.clone();
            tokio::spawn(async move {
                inner.deliver(seq, item, admitted).await;
                drop(permit);
            });
            // The send takes its place at the pacer right before it goes (so a stalled runtime
            // cannot bunch sends); the next item waits until it has, so one bulk send at a
            // time waits there and an interactive reply queues behind at most that one.
            let _ = turn.await;
        }
        let _ = flusher.await;
        self.inner.observer.set_running(false);
    }

    /// Errors of the last hour, uptime and whether the loop runs, for health reports.
    pub fn observer(&self) -> Arc<Observer> {
        self.inner.observer.clone()
    }

    /// Stops taking new items, waits (at most `grace`) for sends in flight, and flushes.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.wake.notify_waiters();
        let deadline = Instant::now() + grace;
        while self.inner.lock().in_flight > 0 && Instant::now() < deadline {
            let idle = self.inner.idle.notified();
            let _ = tokio::time::timeout_at(deadline, idle).await;
        }
        if let Err(e) = self.inner.store.flush() {
            log::error!("cannot flush the store at shutdown: {e}");
        }
    }

    /// Waits until nothing is queued or in flight; false on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let idle = self.inner.idle.notified();
            if self.pending() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.pending() == 0;
            }
        }
    }

    /// Items queued or in flight.
    pub fn pending(&self) -> usize {
        let q = self.inner.lock();
        q.known.len()
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        StatsSnapshot {
            sent: s.sent.load(Ordering::Relaxed),
            retried: s.retried.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            deactivated: s.deactivated.load(Ordering::Relaxed),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
            pending: self.pending(),
        }
    }

    /// The next item of the chat that has waited longest among those ready now; sleeps until
    /// one is ready or something is pushed.
    async fn next_ready(&self) -> Option<(u64, OutboxItem)> {
        loop {
            if self.inner.stopping.load(Ordering::SeqCst) {
                return None;
            }
            let wake = self.inner.wake.notified();
            let wait_until = {
                let mut q = self.inner.lock();
                let now = Instant::now();
                let mut found = None;
                let mut wait = None;
                while let Some(Reverse((at, chat))) = q.ready.peek().copied() {
                    let Some(cq) = q.chats.get(&chat) else {
                        q.ready.pop();
                        continue;
                    };
                    // Stale heap entries (the chat moved on) are dropped here.
                    if cq.busy || cq.items.is_empty() || cq.ready_at != at {
                        q.ready.pop();
                        continue;
                    }
                    if at > now {
                        wait = Some(at);
                        break;
                    }
                    q.ready.pop();
                    let cq = q.chats.get_mut(&chat).expect("checked above");
                    cq.busy = true;
                    found = cq.items.front().cloned();
                    q.in_flight += 1;
                    break;
                }
                if found.is_some() {
                    return found;
                }
                wait
            };
            match wait_until {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, wake).await;
                }
                None => wake.await,
            }
        }
    }
}

impl<T> Inner<T> {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Group commit: confirmed sends are flushed together, at most `FLUSH_EVERY` apart. Ends (after
/// a last flush) once the engine is stopping. A failing disk is retried after a growing pause
/// (1 s doubling to a minute), not every tick, so it is logged, not flooded.
async fn flush_loop<T: Transport>(inner: Arc<Inner<T>>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let mut failures: u32 = 0;
    let mut next_attempt = Instant::now();
    loop {
        tick.tick().await;
        let stopping = inner.stopping.load(Ordering::SeqCst);
        if (stopping || Instant::now() >= next_attempt) && inner.dirty.swap(false, Ordering::AcqRel)
        {
            // sled's flush is a blocking fsync: off the runtime's workers, so it cannot hold
            // up sends (whose spacing the pacer promises) or anything else meanwhile.
            let flushing = inner.clone();
            let flushed = tokio::task::spawn_blocking(move || flushing.store.flush())
                .await
                .unwrap_or_else(|e| Err(crate::store::StoreError::Unwritable(e.to_string())));
            match flushed {
                Ok(()) if failures > 0 => {
                    log::info!("delivery records can be flushed again");
                    failures = 0;
                }
                Ok(()) => {}
                Err(e) => {
                    failures += 1;
                    let pause = Duration::from_secs(1 << (failures - 1).min(6))
                        .min(Duration::from_secs(60));
                    log::error!(
                        "cannot flush delivery records: {e}; retrying in {}s",
                        pause.as_secs()
                    );
                    inner.dirty.store(true, Ordering::Release);
                    next_attempt = Instant::now() + pause;
                }
            }
        }
        if stopping {
            return;
        }
    }
}
