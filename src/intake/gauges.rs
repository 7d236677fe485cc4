//! The intake's numbers: is the update source alive and answering, how much waits, what was
//! dropped and why. Atomics, written by the intake and read by `/health` and `/metrics`.

use std::{
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    time::Duration,
};
use tokio::time::Instant;

/// Why a piece of work was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Over its sender's allowance, at arrival.
    Flood,
    /// The queue was full (the oldest unknown work gave way, or the new work was refused).
    Full,
    /// Waited longer than [`super::MAX_AGE`] for a worker.
    Stale,
    /// A reply that could not be sent within [`super::MAX_AGE`] of its command.
    StaleReply,
    /// Still waiting when the bot stopped.
    Shutdown,
}

impl Dropped {
    pub const ALL: [Dropped; 5] =
        [Dropped::Flood, Dropped::Full, Dropped::Stale, Dropped::StaleReply, Dropped::Shutdown];

    /// The label used in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Dropped::Flood => "flood",
            Dropped::Full => "full",
            Dropped::Stale => "stale",
            Dropped::StaleReply => "stale_reply",
            Dropped::Shutdown => "shutdown",
        }
    }
}

/// Shared by the intake (which writes) and the health reports (which read).
pub struct Gauges {
    started: Instant,
    /// Milliseconds after `started` of the update source's last answer, plus one (0: never).
    last_answer: AtomicU64,
    /// How long without an answer means the source is stuck (0: no limit, as for a webhook,
    /// which is quiet whenever readers are).
    silence_limit_ms: AtomicU64,
    source_running: AtomicBool,
    queued: AtomicUsize,
    replies: AtomicUsize,
    admitted: AtomicU64,
    handled: AtomicU64,
    panics: AtomicU64,
    timeouts: AtomicU64,
    dropped: [AtomicU64; 5],
    /// The oldest any reply was (from its update's arrival) when Telegram took it, in ms.
    oldest_reply_ms: AtomicU64,
}

impl Default for Gauges {
    fn default() -> Gauges {
        Gauges {
            started: Instant::now(),
            last_answer: AtomicU64::new(0),
            silence_limit_ms: AtomicU64::new(0),
            source_running: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            replies: AtomicUsize::new(0),
            admitted: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            dropped: Default::default(),
            oldest_reply_ms: AtomicU64::new(0),
        }
    }
}

/// A copy of the gauges, for a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntakeHealth {
    /// The update source (long polling or the webhook listener) runs.
    pub source_running: bool,
    /// Since the source last answered (a getUpdates reply, empty or not, or a webhook update).
    pub last_answer_age: Option<Duration>,
    /// Updates arrive as they should: the source runs and, for long polling, answered
    /// within its silence limit.
    pub flowing: bool,
    /// Work waiting for a worker.
    pub queued: usize,
    /// Replies waiting to be sent.
    pub replies: usize,
    pub admitted: u64,
    pub handled: u64,
    pub panics: u64,
    pub timeouts: u64,
    /// By [`Dropped::ALL`] order.
    pub dropped: [u64; 5],
    /// The oldest a reply was, from its update's arrival to Telegram taking it.
    pub oldest_reply: Duration,
}

impl IntakeHealth {
    /// Dropped work with its reasons.
    pub fn dropped(&self) -> impl Iterator<Item = (Dropped, u64)> + '_ {
        Dropped::ALL.into_iter().zip(self.dropped)
    }
}

impl Gauges {
    /// The source started; `silence_limit` is how long it may go without answering (long
    /// polling: its timeout and a margin), `None` for a source that is quiet when readers are.
    pub fn source_started(&self, silence_limit: Option<Duration>) {
        let limit = silence_limit.map_or(0, |d| d.as_millis().max(1) as u64);
        self.silence_limit_ms.store(limit, Ordering::Relaxed);
        self.source_running.store(true, Ordering::Release);
        self.source_answered();
    }

    /// The source stopped (at shutdown, or because it failed).
    pub fn source_stopped(&self) {
        self.source_running.store(false, Ordering::Release);
    }

    /// The source answered just now.
    pub fn source_answered(&self) {
        let at = self.started.elapsed().as_millis() as u64 + 1;
        self.last_answer.store(at, Ordering::Release);
    }

    pub(super) fn set_queued(&self, n: usize) {
        self.queued.store(n, Ordering::Relaxed);
    }

    /// Replies waiting to be sent.
    pub fn set_replies(&self, n: usize) {
        self.replies.store(n, Ordering::Relaxed);
    }

    pub(super) fn count_admitted(&self) {
        self.admitted.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_handled(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// A reply was taken by Telegram `age` after its update arrived.
    pub fn reply_sent(&self, age: Duration) {
        self.oldest_reply_ms.fetch_max(age.as_millis() as u64, Ordering::Relaxed);
    }

    /// Counts `n` pieces of work dropped for `why`.
    pub fn count_dropped(&self, why: Dropped, n: u64) {
        let index = Dropped::ALL.iter().position(|d| *d == why).unwrap_or(0);
        self.dropped[index].fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> IntakeHealth {
        let running = self.source_running.load(Ordering::Acquire);
        let last = self.last_answer.load(Ordering::Acquire);
        let age = (last > 0).then(|| {
            let at = Duration::from_millis(last - 1);
            self.started.elapsed().saturating_sub(at)
        });
        let limit = self.silence_limit_ms.load(Ordering::Relaxed);
        let answering = limit == 0 || age.is_some_and(|a| a <= Duration::from_millis(limit));
        IntakeHealth {
            source_running: running,
            last_answer_age: age,
            flowing: running && answering,
            queued: self.queued.load(Ordering::Relaxed),
            replies: self.replies.load(Ordering::Relaxed),
            admitted: self.admitted.load(Ordering::Relaxed),
            handled: self.handled.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            dropped: std::array::from_fn(|i| self.dropped[i].load(Ordering::Relaxed)),
            oldest_reply: Duration::from_millis(self.oldest_reply_ms.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn updates_flow_only_while_the_source_runs_and_answers_in_time() {
        let gauges = Gauges::default();
        assert!(!gauges.snapshot().flowing, "not started");
        gauges.source_started(Some(Duration::from_secs(30)));
        assert!(gauges.snapshot().flowing);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(gauges.snapshot().flowing);
        tokio::time::advance(Duration::from_secs(2)).await;
        let stuck = gauges.snapshot();
        assert!(!stuck.flowing, "silent for 31 s");
        assert_eq!(stuck.last_answer_age, Some(Duration::from_secs(31)));
        gauges.source_answered();
        assert!(gauges.snapshot().flowing);
        gauges.source_stopped();
        assert!(!gauges.snapshot().flowing);
    }

    #[tokio::test(start_paused = true)]
    async fn a_webhook_may_be_quiet() {
        let gauges = Gauges::default();
        gauges.source_started(None);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(gauges.snapshot().flowing);
    }
}
