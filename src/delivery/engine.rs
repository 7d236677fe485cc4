//! The delivery engine: takes durable outbox items and sends them, fairly across chats,
//! within Telegram's limits, handling each class of error.
//!
//! Each chat has its own FIFO queue and a time before which it may not be sent to (its pace,
//! or a 429's `retry_after`, or a retry's backoff). The loop always takes the chat that has
//! been ready longest, so one slow group never stalls the others. One message per chat is in
//! flight at a time, which keeps a chat's messages in order.

use super::{Limits, Pacer, SendError, Transport};
use crate::{
    store::{DeliveryOutcome, OutboxItem, Store, unix_now},
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
    sync::{Notify, Semaphore, mpsc},
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

struct Inner<T> {
    store: Store,
    transport: T,
    limits: Limits,
    pacer: Arc<Pacer>,
    queue: Mutex<Queue>,
    wake: Notify,
    idle: Notify,
    stats: Stats,
    events: mpsc::UnboundedSender<Event>,
    dirty: AtomicBool,
    stopping: AtomicBool,
    permits: Arc<Semaphore>,
}

#[derive(Default)]
struct Queue {
    chats: HashMap<i64, ChatQueue>,
    /// Chats with items, by the time they may next be sent to.
    ready: BinaryHeap<Reverse<(Instant, i64)>>,
    known: HashSet<u64>,
    in_flight: usize,
}

struct ChatQueue {
    items: VecDeque<(u64, OutboxItem)>,
    ready_at: Instant,
    busy: bool,
}

impl<T: Transport> Engine<T> {
    /// A stopped engine; `start` runs it. Events arrive on the returned receiver.
    pub fn new(
        store: Store,
        transport: T,
        limits: Limits,
        pacer: Arc<Pacer>,
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
        let flusher = tokio::spawn(flush_loop(self.inner.clone()));
        while !self.inner.stopping.load(Ordering::SeqCst) {
            let Some((seq, item)) = self.next_ready().await else { continue };
            // The pace and the concurrency bound come before the send, never after.
            self.inner.pacer.acquire().await;
            let permit = match self.inner.permits.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => break,
            };
            let inner = self.inner.clone();
            tokio::spawn(async move {
                inner.deliver(seq, item).await;
                drop(permit);
            });
        }
        let _ = flusher.await;
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

impl<T: Transport> Inner<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn deliver(&self, seq: u64, item: OutboxItem) {
        let started = Instant::now();
        let chat = item.chat_id;
        // `/stop` may have erased it while it waited.
        if !self.store.is_queued(seq).unwrap_or(true) {
            self.done(chat, seq, started + self.limits.gap(item.kind));
            return;
        }
        let result = self.transport.send(chat, &item.message, self.limits.paid).await;
        let now = unix_now();
        match result {
            Ok(message_id) => {
                if let Err(e) = self.store.mark_sent(seq, &item, message_id, now) {
                    log::error!("sent item {seq} but cannot record it: {e}");
                }
                self.dirty.store(true, Ordering::Release);
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                self.done(chat, seq, started + self.limits.gap(item.kind));
            }
            Err(SendError::RetryAfter(secs)) => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "Telegram asked to slow down for {secs}s (chat of kind {:?})",
                    item.kind
                );
                let until = Instant::now() + Duration::from_secs(u64::from(secs.max(1)));
                // Paced sends should never see a 429; if one comes anyway (another process
                // with the same token, a limit we do not know), everything waits it out.
                self.pacer.pause(until);
                self.retry_later(chat, until);
            }
            Err(SendError::Migrated(to)) => self.migrate(chat, to),
            Err(SendError::Gone(reason)) => self.gone(chat, item.kind, &reason),
            Err(SendError::Transient(reason)) => {
                let mut item = item;
                item.attempts += 1;
                if item.attempts >= MAX_ATTEMPTS {
                    log::error!(
                        "giving up on a message of edition {} after {} attempts: {reason}",
                        item.edition,
                        item.attempts
                    );
                    self.fail(seq, &item, &reason);
                } else {
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    log::warn!("temporary failure (attempt {}), retrying: {reason}", item.attempts);
                    if let Err(e) = self.store.update_item(seq, &item) {
                        log::error!("cannot record a retry: {e}");
                    }
                    let backoff = Duration::from_secs(1 << item.attempts.min(9)).min(MAX_BACKOFF);
                    self.replace_front(chat, seq, item);
                    self.retry_later(chat, Instant::now() + backoff);
                }
            }
            Err(SendError::Malformed(reason)) => {
                log::error!(
                    "BUG: Telegram refused a message of edition {} as malformed: {reason}",
                    item.edition
                );
                self.fail(seq, &item, &reason);
            }
            Err(SendError::Refused(reason)) => {
                log::error!("Telegram refused a message of edition {}: {reason}", item.edition);
                self.fail(seq, &item, &reason);
            }
        }
    }

    fn fail(&self, seq: u64, item: &OutboxItem, reason: &str) {
        if let Err(e) =
            self.store.mark_failed(seq, item, DeliveryOutcome::Failed, Some(reason), unix_now())
        {
            log::error!("cannot record a failed delivery: {e}");
        }
        self.dirty.store(true, Ordering::Release);
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        self.done(item.chat_id, seq, Instant::now());
    }

    /// Finishes the front item of a chat and schedules the chat's next one.
    fn done(&self, chat: i64, seq: u64, next_at: Instant) {
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        q.known.remove(&seq);
        if let Some(cq) = q.chats.get_mut(&chat) {
            if cq.items.front().is_some_and(|(s, _)| *s == seq) {
                cq.items.pop_front();
            }
            cq.busy = false;
            cq.ready_at = next_at;
            if cq.items.is_empty() {
                q.chats.remove(&chat);
            } else {
                q.ready.push(Reverse((next_at, chat)));
            }
        }
        drop(q);
        self.wake.notify_one();
        self.idle.notify_waiters();
    }

    fn retry_later(&self, chat: i64, at: Instant) {
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        if let Some(cq) = q.chats.get_mut(&chat) {
            cq.busy = false;
            cq.ready_at = at;
            q.ready.push(Reverse((at, chat)));
        }
        drop(q);
        self.wake.notify_one();
        self.idle.notify_waiters();
    }

    fn replace_front(&self, chat: i64, seq: u64, item: OutboxItem) {
        let mut q = self.lock();
        if let Some(front) = q.chats.get_mut(&chat).and_then(|cq| cq.items.front_mut())
            && front.0 == seq
        {
            front.1 = item;
        }
    }

    /// Moves the chat's subscription and queued items to the supergroup, then resends.
    fn migrate(&self, from: i64, to: i64) {
        log::info!("a group moved to a supergroup; moving its subscription");
        if let Err(e) = self.store.migrate_chat(from, to) {
            log::error!("cannot move a migrated group's subscription: {e}");
        }
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        if let Some(mut cq) = q.chats.remove(&from) {
            for (seq, item) in cq.items.iter_mut() {
                item.chat_id = to;
                if let Err(e) = self.store.update_item(*seq, item) {
                    log::error!("cannot move a queued message to the supergroup: {e}");
                }
            }
            cq.busy = false;
            let now = Instant::now();
            cq.ready_at = now;
            match q.chats.get_mut(&to) {
                Some(existing) => existing.items.extend(cq.items),
                None => {
                    q.chats.insert(to, cq);
                }
            }
            q.ready.push(Reverse((now, to)));
        }
        drop(q);
        let _ = self.events.send(Event::ChatMigrated { from, to });
        self.wake.notify_one();
    }

    /// Deactivates a chat that will not take messages and drops what was queued for it.
    fn gone(&self, chat: i64, kind: ChatKind, reason: &str) {
        match self.store.deactivate(chat) {
            Ok(true) => {
                self.stats.deactivated.fetch_add(1, Ordering::Relaxed);
                log::info!("a {kind:?} chat will not take messages ({reason}); deactivated");
            }
            Ok(false) => {}
            Err(e) => log::error!("cannot deactivate a chat: {e}"),
        }
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        let items = q.chats.remove(&chat).map(|cq| cq.items).unwrap_or_default();
        for (seq, _) in &items {
            q.known.remove(seq);
        }
        drop(q);
        let now = unix_now();
        for (seq, item) in &items {
            if let Err(e) =
                self.store.mark_failed(*seq, item, DeliveryOutcome::Deactivated, None, now)
            {
                log::error!("cannot record an undeliverable message: {e}");
            }
        }
        self.dirty.store(true, Ordering::Release);
        let _ =
            self.events.send(Event::ChatGone { chat_id: chat, kind, reason: reason.to_string() });
        self.wake.notify_one();
        self.idle.notify_waiters();
    }
}

/// Group commit: confirmed sends are flushed together, at most `FLUSH_EVERY` apart. Ends (after
/// a last flush) once the engine is stopping.
async fn flush_loop<T: Transport>(inner: Arc<Inner<T>>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tick.tick().await;
        let stopping = inner.stopping.load(Ordering::SeqCst);
        if inner.dirty.swap(false, Ordering::AcqRel)
            && let Err(e) = inner.store.flush()
        {
            log::error!("cannot flush delivery records: {e}");
            inner.dirty.store(true, Ordering::Release);
        }
        if stopping {
            return;
        }
    }
}
