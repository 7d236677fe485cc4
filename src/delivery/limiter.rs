//! Telegram's rate limits, respected by construction: the engine never sends before the
//! global pacer and the chat's own pace allow it.

use crate::subscription::ChatKind;
use std::{sync::Mutex, time::Duration};
use tokio::time::Instant;

/// Pace a little under each limit, so network jitter between the bot and Telegram cannot
/// push one send too many into the same window: at 30 msg/s, 31 sends span 1025 ms, so a
/// window is only broken by more than 25 ms of jitter.
pub const SAFETY: f64 = 0.975;

/// A slot this close is not slept for: tokio's timer works in milliseconds, and sleeping for
/// a fraction of one would cost a whole one per send at high rates. Slots still advance by
/// the exact interval, so the long-run rate is unchanged; a send goes at most this early.
const EARLY: Duration = Duration::from_millis(2);

/// The limits the engine keeps to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Messages per second overall; `None` for no limit (benchmarks of the bot's own ceiling).
    pub per_second: Option<f64>,
    /// Least time between two messages to one private chat (Telegram: 1 per second).
    pub private_gap: Duration,
    /// Least time between two messages to one group or channel (Telegram: 20 per minute).
    pub group_gap: Duration,
    /// Sends with `allow_paid_broadcast` (Telegram allows up to 1000 messages per second, paid).
    pub paid: bool,
    /// Sends at once.
    pub concurrency: usize,
}

impl Limits {
    /// Telegram's limits at `per_second` overall (30 normally; up to 1000 with paid broadcasts).
    pub fn telegram(per_second: f64, paid: bool) -> Limits {
        Limits {
            per_second: Some(per_second),
            private_gap: Duration::from_millis(1020),
            group_gap: Duration::from_millis(3060),
            paid,
            concurrency: 64,
        }
    }

    /// No limits at all: only for measuring how fast the bot itself can go.
    pub fn off() -> Limits {
        Limits {
            per_second: None,
            private_gap: Duration::ZERO,
            group_gap: Duration::ZERO,
            paid: false,
            concurrency: 64,
        }
    }

    /// The least time between two messages to one chat of this kind.
    pub fn gap(&self, kind: ChatKind) -> Duration {
        if kind.is_many() { self.group_gap } else { self.private_gap }
    }
}

/// Hands out send slots evenly spaced at the overall rate. Shared by the delivery engine and
/// the interactive handlers, so replies to commands and bulk sends add up to the limit together.
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    pub fn new(limits: &Limits) -> Pacer {
        let interval = limits.per_second.map(|rate| Duration::from_secs_f64(1.0 / (rate * SAFETY)));
        Pacer { interval, next: Mutex::new(Instant::now()) }
    }

    /// Waits for the next slot.
    pub async fn acquire(&self) {
        let Some(interval) = self.interval else { return };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            // A late wake-up (tokio's timer works in whole milliseconds) is made up within
            // EARLY rather than lost, so the long-run rate holds at high limits too.
            let now = Instant::now();
            let slot = (*next).max(now.checked_sub(EARLY).unwrap_or(now));
            *next = slot + interval;
            slot
        };
        if slot.saturating_duration_since(Instant::now()) >= EARLY {
            tokio::time::sleep_until(slot).await;
        }
    }

    /// Pushes every future slot back: after a 429, which Telegram does not say is about one
    /// chat or the whole bot.
    pub fn pause(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next = (*next).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_evenly_spaced_under_the_limit() {
        let pacer = Pacer::new(&Limits::telegram(30.0, false));
        let start = Instant::now();
        for _ in 0..31 {
            pacer.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        // 31 slots span 30 intervals of 1/(30 * SAFETY) s; the last is at most EARLY early.
        let exact = 30.0 / (30.0 * SAFETY);
        assert!(elapsed <= exact + 0.001 && elapsed >= exact - EARLY.as_secs_f64(), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_means_no_wait() {
        let pacer = Pacer::new(&Limits::off());
        let start = Instant::now();
        for _ in 0..1000 {
            pacer.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
