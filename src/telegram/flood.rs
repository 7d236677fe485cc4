//! A per-sender allowance for incoming updates, so one reader sending hundreds of commands a
//! second is slowed (with one polite notice per flood) and cannot use up the send slots that
//! everyone's digests need. Counted per Telegram user, not per chat: one flooder in a group
//! must not silence the other members. In memory only: it is about the last few seconds, and
//! a sender quiet for a minute is forgotten at the next sweep (at most a minute later).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Updates a sender may send at once.
const BURST: f64 = 10.0;
/// Updates a sender may send per second, sustained.
const PER_SECOND: f64 = 1.0;
/// Forget senders quiet for this long (their allowance is full again anyway), sweeping at
/// most this often: one pass over the map a minute, whatever the traffic.
const FORGET_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle the update.
    Allow,
    /// Over the allowance: tell the sender once.
    Warn,
    /// Over the allowance and already told: ignore quietly.
    Drop,
}

#[derive(Default)]
pub struct FloodGuard {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    senders: HashMap<i64, Allowance>,
    swept: Option<Instant>,
}

struct Allowance {
    tokens: f64,
    at: Instant,
    /// Told about this flood. Cleared only once the allowance is full again (the sender has
    /// been quiet for `BURST / PER_SECOND` seconds), so a sustained flood, which keeps taking
    /// each token as it comes back, gets one notice, not one a second.
    warned: bool,
}

impl FloodGuard {
    /// Counts one update from `sender` (a user id, or a chat id when there is no user).
    pub fn check(&self, sender: i64) -> Verdict {
        self.check_at(sender, Instant::now())
    }

    fn check_at(&self, sender: i64, now: Instant) -> Verdict {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let swept = *state.swept.get_or_insert(now);
        if now.saturating_duration_since(swept) >= FORGET_AFTER {
            state.senders.retain(|_, a| now.saturating_duration_since(a.at) < FORGET_AFTER);
            state.swept = Some(now);
        }
        let allowance = state.senders.entry(sender).or_insert(Allowance {
            tokens: BURST,
            at: now,
            warned: false,
        });
        let elapsed = now.saturating_duration_since(allowance.at).as_secs_f64();
        allowance.tokens = (allowance.tokens + elapsed * PER_SECOND).min(BURST);
        allowance.at = now;
        if allowance.tokens >= BURST {
            allowance.warned = false;
        }
        if allowance.tokens >= 1.0 {
            allowance.tokens -= 1.0;
            Verdict::Allow
        } else if allowance.warned {
            Verdict::Drop
        } else {
            allowance.warned = true;
            Verdict::Warn
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.state.lock().unwrap().senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_burst_is_allowed_then_one_warning_then_silence() {
        let guard = FloodGuard::default();
        let start = Instant::now();
        let verdicts: Vec<Verdict> = (0..14).map(|_| guard.check_at(1, start)).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Allow).count(), 10);
        assert_eq!(verdicts[10], Verdict::Warn);
        assert!(verdicts[11..].iter().all(|v| *v == Verdict::Drop));
        assert_eq!(guard.check_at(2, start), Verdict::Allow, "other senders are not affected");
    }

    #[test]
    fn a_sustained_flood_gets_one_notice_and_one_answer_a_second() {
        let guard = FloodGuard::default();
        let start = Instant::now();
        let mut verdicts = Vec::new();
        // A hundred updates a second for a minute.
        for i in 0..6000 {
            verdicts.push(guard.check_at(1, start + secs(f64::from(i) / 100.0)));
        }
        let count = |v: Verdict| verdicts.iter().filter(|x| **x == v).count();
        assert_eq!(count(Verdict::Warn), 1, "one notice for the whole flood");
        let allowed = count(Verdict::Allow);
        assert!((10 + 59..=10 + 60).contains(&allowed), "{allowed}: the burst, then one a second");
    }

    #[test]
    fn a_new_flood_after_a_full_refill_is_told_again_but_not_after_a_short_pause() {
        let guard = FloodGuard::default();
        let start = Instant::now();
        let flood = |at: Instant| (0..20).map(|_| guard.check_at(1, at)).collect::<Vec<_>>();
        assert!(flood(start).contains(&Verdict::Warn));
        // Five seconds of quiet: five answers back, but the same episode.
        let after_pause = flood(start + secs(5.0));
        assert_eq!(after_pause.iter().filter(|v| **v == Verdict::Allow).count(), 5);
        assert!(!after_pause.contains(&Verdict::Warn), "{after_pause:?}");
        // Quiet long enough for the whole allowance to come back: a new episode.
        let after_refill = flood(start + secs(5.0 + BURST / PER_SECOND));
        assert_eq!(after_refill.iter().filter(|v| **v == Verdict::Allow).count(), 10);
        assert_eq!(after_refill.iter().filter(|v| **v == Verdict::Warn).count(), 1);
    }

    #[test]
    fn quiet_senders_are_forgotten_within_two_minutes_whatever_the_count() {
        let guard = FloodGuard::default();
        let start = Instant::now();
        for sender in 0..100 {
            guard.check_at(sender, start);
        }
        assert_eq!(guard.tracked(), 100);
        guard.check_at(1000, start + secs(30.0));
        assert_eq!(guard.tracked(), 101, "not yet a minute: nothing swept");
        guard.check_at(1001, start + FORGET_AFTER + secs(1.0));
        assert_eq!(guard.tracked(), 2, "those quiet for a minute are gone; recent ones stay");
    }
}
