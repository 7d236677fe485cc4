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

/// Admits sends one at a time, spaced at the overall rate. Shared by the delivery engine and
/// the interactive handlers, so replies to commands and bulk sends add up to the limit together.
///
/// The limit holds by construction at the moment of sending, whatever the runtime does: a
/// sender calls [`Pacer::acquire`] right before its request goes out, and the moment it is
/// admitted is read from the clock then, under the lock that admits the next one. A sender
/// that waited and then woke late (a stalled runtime, a busy worker) is admitted at the
/// moment it actually goes, and the next one is spaced from there; so a stall makes sends
/// late, never close together. Slots were once reserved before the wait, and a stall woke
/// several reserved senders together (429s at 30 msg/s, BENCHMARKS.md).
///
/// Formally, admissions t₀ < t₁ < … satisfy tᵢ₊ₖ ≥ tᵢ + k·interval − 2·EARLY for every k, so
/// at 30 msg/s any 31 sends span at least 1021 ms: no one-second window holds more than 30.
pub struct Pacer {
    interval: Option<Duration>,
    /// Senders wait their turn here, first come first served; only the one holding it sleeps
    /// towards the next moment, so no one holds a moment it has not yet used.
    turn: tokio::sync::Mutex<()>,
    /// The earliest moment the next send may go.
    next: Mutex<Instant>,
}

impl Pacer {
    pub fn new(limits: &Limits) -> Pacer {
        let interval = limits.per_second.map(|rate| Duration::from_secs_f64(1.0 / (rate * SAFETY)));
        Pacer { interval, turn: tokio::sync::Mutex::new(()), next: Mutex::new(Instant::now()) }
    }

    /// Waits until one more send may go now, and counts it as gone: call it right before the
    /// request is made, with nothing that could wait in between. Returns the moment the send
    /// was admitted.
    pub async fn acquire(&self) -> Instant {
        let Some(interval) = self.interval else { return Instant::now() };
        let _turn = self.turn.lock().await;
        loop {
            let wait_until = {
                let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                // Within EARLY of its moment a sender goes (tokio's timer works in whole
                // milliseconds, and sleeping for a fraction of one would cost a whole one per
                // send at high rates); a lateness of up to EARLY is made up rather than lost,
                // so the long-run rate holds at 1000 msg/s too. A later sender is spaced from
                // the moment it goes.
                if *next < now + EARLY {
                    *next = (*next).max(now.checked_sub(EARLY).unwrap_or(now)) + interval;
                    return now;
                }
                *next
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// Pushes every future send back: after a 429, which Telegram does not say is about one
    /// chat or the whole bot.
    pub fn pause(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next = (*next).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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

    /// A stall: the clock moves on while no task runs (a blocking call on the runtime's only
    /// thread), then everything that became due wakes at once.
    #[tokio::test(start_paused = true)]
    async fn senders_that_wake_late_together_still_go_one_interval_apart() {
        let pacer = Arc::new(Pacer::new(&Limits::telegram(30.0, false)));
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (pacer, admitted) = (pacer.clone(), admitted.clone());
            senders.spawn(async move {
                for _ in 0..20 {
                    let at = pacer.acquire().await;
                    // What a transport would see: the moment the request is made.
                    admitted.lock().unwrap().push((at, Instant::now()));
                }
            });
        }
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tokio::time::advance(Duration::from_millis(400)).await;
        }
        while senders.join_next().await.is_some() {}
        let admitted = admitted.lock().unwrap().clone();
        assert_eq!(admitted.len(), 160);
        let interval = Duration::from_secs_f64(1.0 / (30.0 * SAFETY));
        for pair in admitted.windows(2) {
            let ((_, before), (_, after)) = (pair[0], pair[1]);
            assert!(after >= before, "admitted out of order");
            assert!(after - before >= interval - 2 * EARLY, "{:?} apart", after - before);
        }
        for (at, made) in &admitted {
            assert_eq!(at, made, "a send was made later than it was admitted");
        }
        for window in admitted.windows(31) {
            let span = window[30].1 - window[0].1;
            assert!(span > Duration::from_secs(1), "31 sends within {span:?}");
        }
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
