//! The delivery engine: takes durable outbox items and sends them, fairly across chats,
//! within Telegram's limits, handling each class of error.
//!
//! Each chat has its own FIFO queue and a time before which it may not be sent to (its pace,
//! or a 429's `retry_after`, or a retry's backoff). The loop always takes the chat that has
//! been ready longest, so one slow group never stalls the others. One message per chat is in
//! flight at a time, which keeps a chat's messages in order.
//!
//! The engine holds at most `Limits::held` items in memory. What is handed over beyond that
//! stays where it already is, durable in the outbox on disk, and is read back in seq order as
//! the held items are sent: a broadcast to a million readers, or the outbox a crash left, costs
//! the engine the memory of ten thousand items, not of a million. The scheduler asks
//! [`Engine::room`] before it composes more of a round, so digests wait as due entries, not
//! as composed texts.

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
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
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
/// Confirmations written and not yet flushed, at most: beyond it a send waits for the group
/// commit, so the engine never runs further ahead of the disk than this. sled holds what it
/// has not written in memory (its log buffers); a round sent faster than the disk took them
/// piled up over 100 MB of them (BENCHMARKS.md, "year").
pub const MAX_UNFLUSHED: usize = 1_000;

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
    /// Records written since the last flush (see [`MAX_UNFLUSHED`]).
    pub(super) unflushed: AtomicUsize,
    /// Woken after each flush.
    pub(super) flushed: Notify,
    pub(super) stopping: AtomicBool,
    pub(super) permits: Arc<Semaphore>,
    /// Woken when held items were sent and the outbox holds more than the engine.
    pub(super) refill: Notify,
    pub(super) observer: Arc<Observer>,
    /// Stamps delivery records and counters: the app's clock, so they agree with it.
    pub(super) clock: Clock,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) chats: HashMap<i64, ChatQueue>,
    /// Chats with items, by the time they may next be sent to.
    pub(super) ready: BinaryHeap<Reverse<(Instant, i64)>>,
    /// Every item held (queued or in flight), by seq.
    pub(super) known: HashSet<u64>,
    pub(super) in_flight: usize,
    /// The lowest seq that may wait in the outbox without being held: items were handed over
    /// while the engine was full (or it started with a full outbox). `None`: all are held.
    pub(super) spilled: Option<u64>,
    /// A read of the outbox is under way; what is refused meanwhile is noted below.
    pub(super) refilling: bool,
    pub(super) refused_meanwhile: Option<u64>,
}

impl Queue {
    /// Takes in an item as the last of its chat's.
    fn hold(&mut self, seq: u64, item: OutboxItem, now: Instant) {
        self.known.insert(seq);
        let chat = item.chat_id;
        let entry = self.chats.entry(chat).or_insert_with(|| ChatQueue {
            items: VecDeque::new(),
            ready_at: now,
            busy: false,
        });
        let was_empty = entry.items.is_empty() && !entry.busy;
        entry.items.push_back((seq, item));
        if was_empty {
            let at = entry.ready_at;
            self.ready.push(Reverse((at, chat)));
        }
    }

    /// Leaves an item in the outbox, to be read back once there is room.
    fn spill(&mut self, seq: u64) {
        self.spilled = Some(self.spilled.map_or(seq, |s| s.min(seq)));
        if self.refilling {
            self.refused_meanwhile = Some(self.refused_meanwhile.map_or(seq, |s| s.min(seq)));
        }
    }

    /// Whether held items are few enough, with more in the outbox, to read some back.
    pub(super) fn wants_refill(&self, held: usize) -> bool {
        self.spilled.is_some() && !self.refilling && self.known.len() <= held / 2
    }
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
            unflushed: AtomicUsize::new(0),
            flushed: Notify::new(),
            stopping: AtomicBool::new(false),
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            refill: Notify::new(),
            observer: Arc::new(Observer::default()),
            clock,
        };
        (Engine { inner: Arc::new(inner) }, receiver)
    }

    /// Takes in what the outbox holds (after a restart: what a crash interrupted), as much as
    /// the engine holds; the rest is read in as that is sent. Returns (items taken in, whether
    /// more wait on disk).
    pub fn load_outbox(&self) -> crate::store::Result<(usize, bool)> {
        let (items, next) = self.inner.store.outbox_from(0, self.inner.held())?;
        let count = items.len();
        self.push(items);
        if let Some(next) = next {
            self.inner.lock().spill(next);
        }
        Ok((count, next.is_some()))
    }

    /// Hands the engine items that are already durable in the outbox. Beyond what it holds
    /// (`Limits::held`) they stay there, and are read back in order once there is room.
    pub fn push(&self, items: Vec<(u64, OutboxItem)>) {
        let now = Instant::now();
        let held = self.inner.held();
        let mut q = self.inner.lock();
        for (seq, item) in items {
            if q.known.contains(&seq) {
                continue;
            }
            // Once one item waits on disk, later ones wait behind it: order is kept.
            if q.spilled.is_some() || q.known.len() >= held {
                q.spill(seq);
                continue;
            }
            q.hold(seq, item, now);
        }
        let refill = q.wants_refill(held);
        drop(q);
        if refill {
            self.inner.refill.notify_one();
        }
        self.inner.wake.notify_one();
    }

    /// How many more items would be held at once: none while some wait on disk or the engine
    /// holds more than half of what it may (so that a producer waits for a good gap, not for
    /// each single send), else what it may still take. The scheduler composes a round only as
    /// fast as this allows.
    pub fn room(&self) -> usize {
        let held = self.inner.held();
        let q = self.inner.lock();
        if q.spilled.is_some() || q.known.len() > held / 2 { 0 } else { held - q.known.len() }
    }

    /// Runs the engine until `shutdown`. Spawn it.
    pub async fn run(self) {
        self.inner.observer.set_running(true);
        let flusher = tokio::spawn(flush_loop(self.inner.clone()));
        let refiller = tokio::spawn(refill_loop(self.inner.clone()));
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
        refiller.abort();
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

    /// Waits until nothing is queued, in flight or waiting on disk; false on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let idle = self.inner.idle.notified();
            if self.is_idle() {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.is_idle();
            }
        }
    }

    fn is_idle(&self) -> bool {
        let q = self.inner.lock();
        q.known.is_empty() && q.spilled.is_none()
    }

    /// Items held: queued or in flight (more may wait on disk, see [`Engine::room`]).
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

impl<T: Transport> super::Handover for Engine<T> {
    fn push(&self, items: Vec<(u64, OutboxItem)>) {
        Engine::push(self, items);
    }

    fn room(&self) -> usize {
        Engine::room(self)
    }
}

impl<T> Inner<T> {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn held(&self) -> usize {
        self.limits.held.max(1)
    }

    /// Counts records written, for the group commit.
    pub(super) fn wrote(&self, records: usize) {
        self.unflushed.fetch_add(records, Ordering::AcqRel);
    }

    /// Waits while [`MAX_UNFLUSHED`] records wait for the group commit (not once stopping:
    /// the last flush is then on its way).
    pub(super) async fn wait_for_disk(&self) {
        loop {
            let flushed = self.flushed.notified();
            if self.unflushed.load(Ordering::Acquire) < MAX_UNFLUSHED
                || self.stopping.load(Ordering::SeqCst)
            {
                return;
            }
            flushed.await;
        }
    }
}

/// Reads spilled items back from the outbox, in seq order, whenever the engine holds half of
/// what it may or less. Ends when the engine stops (its task is aborted).
async fn refill_loop<T: Transport>(inner: Arc<Inner<T>>) {
    let held = inner.held();
    loop {
        let woken = inner.refill.notified();
        let from = {
            let mut q = inner.lock();
            if q.wants_refill(held) {
                q.refilling = true;
                q.refused_meanwhile = None;
                q.spilled
            } else {
                None
            }
        };
        let Some(from) = from else {
            woken.await;
            continue;
        };
        let room = held - inner.lock().known.len().min(held);
        let reading = inner.clone();
        let read = tokio::task::spawn_blocking(move || {
            let page = reading.store.outbox_from(from, room);
            crate::store::release_deferred();
            page
        })
        .await
        .unwrap_or_else(|e| Err(crate::store::StoreError::Unwritable(e.to_string())));
        let (items, after) = match read {
            Ok(page) => page,
            Err(e) => {
                inner.lock().refilling = false;
                log::error!("cannot read the outbox back; retrying in a second: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        take_in(&inner, held, items, after);
    }
}

/// Holds what a read of the outbox brought, up to `held`, and notes where the next read
/// starts: where this one stopped, or at `after` if it may have left some; nowhere if it read
/// to the end, unless items were refused while it read.
fn take_in<T>(inner: &Inner<T>, held: usize, items: Vec<(u64, OutboxItem)>, after: Option<u64>) {
    let now = Instant::now();
    {
        let mut q = inner.lock();
        q.refilling = false;
        let mut stopped_at = None;
        for (seq, item) in items {
            if q.known.contains(&seq) {
                continue;
            }
            if q.known.len() >= held {
                stopped_at = Some(seq);
                break;
            }
            q.hold(seq, item, now);
        }
        let next = stopped_at.or(after);
        q.spilled = match (next, q.refused_meanwhile.take()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    inner.wake.notify_one();
    inner.idle.notify_waiters();
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
        let pending = inner.unflushed.load(Ordering::Acquire);
        if (stopping || Instant::now() >= next_attempt) && pending > 0 {
            // sled's flush is a blocking fsync: off the runtime's workers, so it cannot hold
            // up sends (whose spacing the pacer promises) or anything else meanwhile.
            let flushing = inner.clone();
            let flushed = tokio::task::spawn_blocking(move || {
                let flushed = flushing.store.flush();
                crate::store::release_deferred();
                flushed
            })
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::Unwritable(e.to_string())));
            match flushed {
                Ok(()) => {
                    if failures > 0 {
                        log::info!("delivery records can be flushed again");
                        failures = 0;
                    }
                    inner.unflushed.fetch_sub(pending, Ordering::AcqRel);
                    inner.flushed.notify_waiters();
                }
                Err(e) => {
                    failures += 1;
                    let pause = Duration::from_secs(1 << (failures - 1).min(6))
                        .min(Duration::from_secs(60));
                    log::error!(
                        "cannot flush delivery records: {e}; retrying in {}s",
                        pause.as_secs()
                    );
                    next_attempt = Instant::now() + pause;
                }
            }
        }
        if stopping {
            return;
        }
    }
}
