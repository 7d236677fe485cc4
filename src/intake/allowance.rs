//! Each sender's allowance, checked when their work arrives: a burst, then a steady rate.
//! The excess is dropped at once, with one notice per flood. Counted per sender (a person),
//! not per chat, so one flooder in a group does not silence the other members.
//!
//! The table of senders is bounded. A flood from more accounts than it holds must not grow
//! memory, so once it is full (after forgetting everyone whose allowance has refilled, which
//! is the same as never having been seen), a new unknown sender shares one overflow
//! allowance with every other newcomer: under such a flood a new account is served little,
//! while those already in the table, and known chats, keep their own.

use std::{collections::HashMap, sync::Mutex, time::Duration};
use tokio::time::Instant;

/// What to do with a sender's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the allowance: handle it.
    Allow,
    /// Over the allowance, for the first time in this flood: drop it and tell the sender.
    Warn,
    /// Over the allowance and already told: drop it quietly.
    Drop,
}

/// The allowance's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllowanceConfig {
    /// Work a sender may send at once.
    pub burst: f64,
    /// Work a sender may send per second, sustained.
    pub per_second: f64,
    /// Senders tracked at most; beyond it newcomers share the overflow allowance.
    pub capacity: usize,
    /// Known senders may take this many places beyond `capacity`.
    pub known_reserve: usize,
}

impl Default for AllowanceConfig {
    /// Ten at once, one a second: no reader reading notices it, a script does. 50,000
    /// senders take about 3 MB.
    fn default() -> AllowanceConfig {
        AllowanceConfig { burst: 10.0, per_second: 1.0, capacity: 50_000, known_reserve: 5_000 }
    }
}

/// The allowances; share it.
pub struct Allowance {
    config: AllowanceConfig,
    state: Mutex<State>,
}

struct State {
    senders: HashMap<i64, Bucket>,
    overflow: Bucket,
    /// When the table was last swept of senders whose allowance refilled.
    swept: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Told about this flood. Cleared only once the allowance is full again (the sender was
    /// quiet for `burst / per_second` seconds), so a sustained flood, which takes each token
    /// as it comes back, gets one notice, not one a second.
    warned: bool,
}

impl Bucket {
    fn full(config: &AllowanceConfig, now: Instant) -> Bucket {
        Bucket { tokens: config.burst, at: now, warned: false }
    }

    fn take(&mut self, config: &AllowanceConfig, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * config.per_second).min(config.burst);
        self.at = now;
        if self.tokens >= config.burst {
            self.warned = false;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Verdict::Allow
        } else if self.warned {
            Verdict::Drop
        } else {
            self.warned = true;
            Verdict::Warn
        }
    }

    /// Whether it is as good as new: refilled, and so not warned.
    fn refilled(&self, config: &AllowanceConfig, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + elapsed * config.per_second >= config.burst
    }
}

impl Allowance {
    pub fn new(config: AllowanceConfig) -> Allowance {
        let now = Instant::now();
        let state =
            State { senders: HashMap::new(), overflow: Bucket::full(&config, now), swept: None };
        Allowance { config, state: Mutex::new(state) }
    }

    /// Counts one piece of work from `sender` arriving now.
    pub fn check(&self, sender: i64, known: bool) -> Verdict {
        self.check_at(sender, known, Instant::now())
    }

    pub fn check_at(&self, sender: i64, known: bool, now: Instant) -> Verdict {
        let config = &self.config;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = state.senders.get_mut(&sender) {
            return bucket.take(config, now);
        }
        let room = |state: &State| {
            let limit =
                if known { config.capacity + config.known_reserve } else { config.capacity };
            state.senders.len() < limit
        };
        // A full table is swept at most once a second; any table once a minute, so that in
        // quiet times nobody stays in memory long after their last message.
        let since = state.swept.map(|at| now.saturating_duration_since(at));
        let due = since.is_none_or(|s| s >= Duration::from_secs(60))
            || (!room(&state) && since.is_none_or(|s| s >= Duration::from_secs(1)));
        if due {
            state.senders.retain(|_, bucket| !bucket.refilled(config, now));
            state.swept = Some(now);
        }
        if room(&state) {
            let bucket = state.senders.entry(sender).or_insert(Bucket::full(config, now));
            bucket.take(config, now)
        } else {
            state.overflow.take(config, now)
        }
    }

    /// Senders tracked now (the overflow allowance not counted).
    pub fn tracked(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn guard() -> Allowance {
        Allowance::new(AllowanceConfig::default())
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_allowed_then_one_warning_then_silence() {
        let guard = guard();
        let start = Instant::now();
        let verdicts: Vec<Verdict> = (0..14).map(|_| guard.check_at(1, false, start)).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Allow).count(), 10);
        assert_eq!(verdicts[10], Verdict::Warn);
        assert!(verdicts[11..].iter().all(|v| *v == Verdict::Drop));
        assert_eq!(guard.check_at(2, false, start), Verdict::Allow, "others are not affected");
    }

    #[tokio::test(start_paused = true)]
    async fn a_sustained_flood_gets_one_notice_and_one_answer_a_second() {
        let guard = guard();
        let start = Instant::now();
        let verdicts: Vec<Verdict> = (0..6000)
            .map(|i| guard.check_at(1, false, start + secs(f64::from(i) / 100.0)))
            .collect();
        let count = |v: Verdict| verdicts.iter().filter(|x| **x == v).count();
        assert_eq!(count(Verdict::Warn), 1, "one notice for the whole flood");
        let allowed = count(Verdict::Allow);
        assert!((10 + 59..=10 + 60).contains(&allowed), "{allowed}: the burst, then one a second");
    }

    #[tokio::test(start_paused = true)]
    async fn ten_quiet_seconds_bring_a_new_notice_for_a_new_flood_five_do_not() {
        let guard = guard();
        let start = Instant::now();
        let flood = |at: Instant| (0..20).map(|_| guard.check_at(1, false, at)).collect::<Vec<_>>();
        assert!(flood(start).contains(&Verdict::Warn));
        let after_pause = flood(start + secs(5.0));
        assert_eq!(after_pause.iter().filter(|v| **v == Verdict::Allow).count(), 5);
        assert!(!after_pause.contains(&Verdict::Warn), "{after_pause:?}");
        let after_refill = flood(start + secs(15.0));
        assert_eq!(after_refill.iter().filter(|v| **v == Verdict::Allow).count(), 10);
        assert_eq!(after_refill.iter().filter(|v| **v == Verdict::Warn).count(), 1);
    }

    /// Fifty thousand accounts at once against a table of a thousand: memory stays at a
    /// thousand, the newcomers share one allowance (ten at once, one notice), and a known
    /// sender still gets a place of their own.
    #[tokio::test(start_paused = true)]
    async fn a_full_table_stays_bounded_and_newcomers_share_the_overflow() {
        let config = AllowanceConfig { capacity: 1000, known_reserve: 10, ..Default::default() };
        let guard = Allowance::new(config);
        let start = Instant::now();
        let mut verdicts = Vec::new();
        for sender in 0..50_000 {
            verdicts.push(guard.check_at(sender, false, start));
        }
        assert_eq!(guard.tracked(), 1000);
        let overflow = &verdicts[1000..];
        let allowed = overflow.iter().filter(|v| **v == Verdict::Allow).count();
        assert_eq!(allowed, 10, "the newcomers share one allowance");
        assert_eq!(overflow.iter().filter(|v| **v == Verdict::Warn).count(), 1);
        let at = start + secs(5.0);
        assert_eq!(guard.check_at(-1, true, at), Verdict::Allow, "a known chat has a place");
        assert_eq!(guard.tracked(), 1001);
        // Quiet for ten seconds, everyone is as good as new and forgotten at the next sweep.
        assert_eq!(guard.check_at(70_000, false, at + secs(11.0)), Verdict::Allow);
        assert_eq!(guard.tracked(), 1);
    }
}
