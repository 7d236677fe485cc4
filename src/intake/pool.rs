//! The workers: a fixed number of them, the cap on interactive work in flight. Each takes the
//! next piece from the [`Queue`] and runs the handler on it in a task of its own, so that a
//! panic is caught by the runtime and costs that piece only, and a handler that hangs is
//! abandoned after a timeout. Offering work never waits: it is queued, or dropped, at once.

use super::{Admission, Class, Dropped, Gauges, Overflow, Queue, QueueConfig};
use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::{sync::Notify, task::JoinHandle, time::Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Pieces of work handled at once.
    pub workers: usize,
    /// A handler still running after this is abandoned.
    pub timeout: Duration,
    pub queue: QueueConfig,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig { workers: 8, timeout: Duration::from_secs(30), queue: QueueConfig::default() }
    }
}

/// What the handler is told about the piece it handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub chat: i64,
    pub class: Class,
    /// When the work arrived (or was made, when its source says so).
    pub arrived: Instant,
}

/// Whether work of a class may be taken now: the intake holds back work whose replies could
/// not be sent soon anyway.
pub type Gate = Arc<dyn Fn(Class) -> bool + Send + Sync>;

/// The queue and its workers; cheap to clone.
pub struct Pool<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool { inner: self.inner.clone() }
    }
}

struct Inner<T> {
    queue: Mutex<Queue<T>>,
    config: PoolConfig,
    gate: Mutex<Option<Gate>>,
    gauges: Arc<Gauges>,
    /// Work offered, a worker finished, or the gate may have opened.
    wake: Notify,
    /// A worker finished its piece.
    idle: Notify,
    stopping: AtomicBool,
    busy: AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl<T: Send + 'static> Pool<T> {
    pub fn new(config: PoolConfig, gauges: Arc<Gauges>) -> Pool<T> {
        let inner = Inner {
            queue: Mutex::new(Queue::new(config.queue)),
            config,
            gate: Mutex::new(None),
            gauges,
            wake: Notify::new(),
            idle: Notify::new(),
            stopping: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            workers: Mutex::new(Vec::new()),
        };
        Pool { inner: Arc::new(inner) }
    }

    /// Holds back a class while `gate` says no; call [`Pool::wake`] when it may say yes.
    pub fn set_gate(&self, gate: Gate) {
        *self.inner.gate.lock().unwrap_or_else(|p| p.into_inner()) = Some(gate);
    }

    /// Offers work of `chat` that arrived `at`. Never waits.
    pub fn offer(
        &self,
        chat: i64,
        class: Class,
        at: Instant,
        item: T,
        overflow: Overflow,
    ) -> Admission {
        if self.inner.stopping.load(Ordering::Acquire) {
            self.inner.gauges.count_dropped(Dropped::Shutdown, 1);
            return Admission::Refused;
        }
        let admission = self.inner.with_queue(|q| q.push(chat, class, at, item, overflow));
        if admission != Admission::Refused {
            self.inner.gauges.count_admitted();
            self.inner.wake.notify_one();
        }
        admission
    }

    /// Something the gate depends on changed.
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Starts the workers, each running `handler` on one piece at a time.
    pub fn start<H, F>(&self, handler: H)
    where
        H: Fn(T, Meta) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let mut workers = self.inner.workers.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..self.inner.config.workers.max(1) {
            workers.push(tokio::spawn(work(self.inner.clone(), handler.clone())));
        }
    }

    /// Whether every worker still runs (they end only at [`Pool::stop`]).
    pub fn alive(&self) -> bool {
        let workers = self.inner.workers.lock().unwrap_or_else(|p| p.into_inner());
        !workers.is_empty() && workers.iter().all(|w| !w.is_finished())
    }

    /// Work waiting.
    pub fn queued(&self) -> usize {
        self.inner.with_queue(|q| q.len())
    }

    /// Stops: drops the work waiting, lets pieces in hand finish within `grace`, then
    /// abandons them.
    pub async fn stop(&self, grace: Duration) {
        self.inner.stopping.store(true, Ordering::Release);
        let dropped = self.inner.with_queue(|q| q.clear());
        self.inner.gauges.count_dropped(Dropped::Shutdown, dropped as u64);
        self.inner.wake.notify_waiters();
        let deadline = Instant::now() + grace;
        while self.inner.busy.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.inner.busy.load(Ordering::Acquire) == 0 {
                break;
            }
            let _ = tokio::time::timeout_at(deadline, idle).await;
        }
        let workers =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for worker in &workers {
            worker.abort();
        }
        for worker in workers {
            let _ = worker.await;
        }
    }
}

impl<T> Inner<T> {
    fn with_queue<R>(&self, f: impl FnOnce(&mut Queue<T>) -> R) -> R {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let result = f(&mut queue);
        for (why, n) in queue.take_dropped() {
            self.gauges.count_dropped(why, n);
        }
        self.gauges.set_queued(queue.len());
        result
    }

    fn may_take(&self) -> impl Fn(Class) -> bool + use<T> {
        let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner()).clone();
        move |class| gate.as_ref().is_none_or(|gate| gate(class))
    }
}

/// Aborts the handler's task when the worker is aborted (at shutdown) or moves on.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn work<T, H, F>(inner: Arc<Inner<T>>, handler: Arc<H>)
where
    T: Send + 'static,
    H: Fn(T, Meta) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    loop {
        let wake = inner.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        if inner.stopping.load(Ordering::Acquire) {
            return;
        }
        let may_take = inner.may_take();
        let Some((chat, class, arrived, item)) =
            inner.with_queue(|q| q.pop(Instant::now(), &may_take))
        else {
            wake.await;
            continue;
        };
        inner.busy.fetch_add(1, Ordering::AcqRel);
        // Another worker may take another chat's work meanwhile.
        inner.wake.notify_one();
        let meta = Meta { chat, class, arrived };
        let handler = handler.clone();
        let mut task = AbortOnDrop(tokio::spawn(async move { handler(item, meta).await }));
        match tokio::time::timeout(inner.config.timeout, &mut task.0).await {
            Ok(Ok(())) => inner.gauges.count_handled(),
            Ok(Err(e)) if e.is_panic() => {
                inner.gauges.count_panic();
                // The payload is not logged: a panic message can quote the input.
                log::error!(
                    "handling an update panicked; that update is dropped and the bot goes on"
                );
            }
            Ok(Err(_)) => {}
            Err(_) => {
                inner.gauges.count_timeout();
                log::warn!(
                    "handling an update took over {}s; abandoned",
                    inner.config.timeout.as_secs()
                );
            }
        }
        drop(task);
        inner.with_queue(|q| q.done(chat));
        inner.busy.fetch_sub(1, Ordering::AcqRel);
        inner.idle.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
