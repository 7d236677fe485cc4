//! What operators ask about the engine's health: errors of the last hour by class, whether
//! the engine runs, and since when.
//!
//! Kept in memory, not in the store: these describe this process now (a restart starts a new
//! hour and a new uptime), and during an incident (a 429 storm, an outage) a disk write per
//! error would add load exactly when the store is busiest. The daily counts that must survive
//! restarts are in the store (`Store::count_delivery`).

use crate::intake::Gauges;
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// How Telegram refused a send, as operators see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// 429: Telegram asked to slow down.
    RateLimited,
    /// Network errors and 5xx, retried with backoff.
    Transient,
    /// The chat blocked the bot, removed it, or was deleted.
    Gone,
    /// Telegram called the message malformed (a bug) or refused it for another reason.
    Malformed,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 4] =
        [ErrorClass::RateLimited, ErrorClass::Transient, ErrorClass::Gone, ErrorClass::Malformed];

    /// The label used in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Transient => "transient",
            ErrorClass::Gone => "gone",
            ErrorClass::Malformed => "malformed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Errors by class in the last hour, as minute buckets: fixed memory whatever the error rate.
const BUCKETS: usize = 60;
const BUCKET: Duration = Duration::from_secs(60);

/// Shared by the engine (which records) and whoever reports health (which reads).
pub struct Observer {
    started: Instant,
    running: AtomicBool,
    /// (minute since start, counts by class) per bucket; a bucket is reused an hour later.
    buckets: Mutex<[(u64, [u64; 4]); BUCKETS]>,
    /// The other half of the process's health: are updates arriving and being answered.
    intake: Arc<Gauges>,
}

impl Default for Observer {
    fn default() -> Observer {
        Observer::new(Instant::now())
    }
}

impl Observer {
    /// An observer whose uptime counts from `started`.
    pub fn new(started: Instant) -> Observer {
        Observer {
            started,
            running: AtomicBool::new(false),
            buckets: Mutex::new([(u64::MAX, [0; 4]); BUCKETS]),
            intake: Arc::default(),
        }
    }

    /// How long this process has been observing.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The intake's gauges: the update source's liveness, the backlog, what was dropped.
    pub fn intake(&self) -> &Arc<Gauges> {
        &self.intake
    }

    /// Whether the delivery engine's loop is running.
    pub fn engine_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    pub(super) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Release);
    }

    /// Records one error of `class` now.
    pub fn record(&self, class: ErrorClass) {
        self.record_at(class, Instant::now());
    }

    fn minute(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.started).as_secs()) / BUCKET.as_secs()
    }

    fn record_at(&self, class: ErrorClass, at: Instant) {
        let minute = self.minute(at);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = &mut buckets[(minute % BUCKETS as u64) as usize];
        if bucket.0 != minute {
            *bucket = (minute, [0; 4]);
        }
        bucket.1[class.index()] += 1;
    }

    /// Errors of each class (in [`ErrorClass::ALL`] order) in the last hour.
    pub fn errors_last_hour(&self) -> [u64; 4] {
        self.errors_at(Instant::now())
    }

    fn errors_at(&self, now: Instant) -> [u64; 4] {
        let current = self.minute(now);
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut total = [0; 4];
        for (minute, counts) in buckets.iter() {
            if *minute != u64::MAX && *minute + (BUCKETS as u64) > current && *minute <= current {
                for (sum, n) in total.iter_mut().zip(counts) {
                    *sum += n;
                }
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_older_than_an_hour_are_forgotten() {
        let start = Instant::now();
        let observer = Observer::new(start);
        observer.record_at(ErrorClass::Gone, start);
        observer.record_at(ErrorClass::Gone, start + Duration::from_secs(30));
        observer.record_at(ErrorClass::RateLimited, start + Duration::from_secs(61 * 60));
        assert_eq!(observer.errors_at(start + Duration::from_secs(59 * 60)), [0, 0, 2, 0]);
        // An hour and a minute later the first minute has gone; its bucket is reused.
        assert_eq!(observer.errors_at(start + Duration::from_secs(61 * 60)), [1, 0, 0, 0]);
        observer.record_at(ErrorClass::Transient, start + Duration::from_secs(62 * 60));
        assert_eq!(observer.errors_at(start + Duration::from_secs(62 * 60)), [1, 1, 0, 0]);
        assert_eq!(observer.errors_at(start + Duration::from_secs(200 * 60)), [0; 4]);
    }
}
