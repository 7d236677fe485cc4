//! A per-chat allowance for incoming updates, so one reader sending hundreds of commands a
//! second is slowed (with one polite notice) and cannot use up the send slots that everyone's
//! digests need. In memory only: it is about the last few seconds.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Updates a chat may send at once.
const BURST: f64 = 10.0;
/// Updates a chat may send per second, sustained.
const PER_SECOND: f64 = 1.0;
/// Forget chats quiet for this long (their allowance is full again anyway).
const FORGET_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle the update.
    Allow,
    /// Over the allowance: tell the chat once.
    Warn,
    /// Over the allowance and already told: ignore quietly.
    Drop,
}

#[derive(Default)]
pub struct FloodGuard {
    chats: Mutex<HashMap<i64, Allowance>>,
}

struct Allowance {
    tokens: f64,
    at: Instant,
    warned: bool,
}

impl FloodGuard {
    pub fn check(&self, chat: i64) -> Verdict {
        self.check_at(chat, Instant::now())
    }

    fn check_at(&self, chat: i64, now: Instant) -> Verdict {
        let mut chats = self.chats.lock().unwrap_or_else(|p| p.into_inner());
        if chats.len() > 10_000 {
            chats.retain(|_, a| now.duration_since(a.at) < FORGET_AFTER);
        }
        let allowance =
            chats.entry(chat).or_insert(Allowance { tokens: BURST, at: now, warned: false });
        let elapsed = now.duration_since(allowance.at).as_secs_f64();
        allowance.tokens = (allowance.tokens + elapsed * PER_SECOND).min(BURST);
        allowance.at = now;
        if allowance.tokens >= 1.0 {
            allowance.tokens -= 1.0;
            allowance.warned = false;
            Verdict::Allow
        } else if allowance.warned {
            Verdict::Drop
        } else {
            allowance.warned = true;
            Verdict::Warn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_one_warning_then_silence_until_it_refills() {
        let guard = FloodGuard::default();
        let start = Instant::now();
        let verdicts: Vec<Verdict> = (0..14).map(|_| guard.check_at(1, start)).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Allow).count(), 10);
        assert_eq!(verdicts[10], Verdict::Warn);
        assert!(verdicts[11..].iter().all(|v| *v == Verdict::Drop));
        assert_eq!(guard.check_at(2, start), Verdict::Allow, "other chats are not affected");
        assert_eq!(
            guard.check_at(1, start + Duration::from_secs(1)),
            Verdict::Allow,
            "one per second refills"
        );
        assert_eq!(guard.check_at(1, start + Duration::from_secs(1)), Verdict::Warn);
    }
}
