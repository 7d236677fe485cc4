//! Telegram's limits: the longest text and caption a message may carry, and the flood limits.
//!
//! The flood limits, counted over *successful* sends of a new message
//! (sendMessage, sendPhoto, copyMessage; edits, chat actions and deletions are not counted):
//!
//! - overall: at most `global_per_sec` sends in any sliding 1 s window
//!   (`paid_per_sec` for a sendMessage with `allow_paid_broadcast`);
//! - a private chat: at most `private_burst` sends in any sliding 1 s
//!   window. Telegram asks for one a second; a short burst is allowed
//!   because a bot answering a command with two or three messages is
//!   normal. With `private_burst: 1` the rule is a strict 1 a second, and
//!   a delivery engine should pace to that anyway;
//! - a group, supergroup or channel: at most `group_per_min` sends in any
//!   sliding 60 s window.
//!
//! A refused send gets 429 "Too Many Requests: retry after N" with
//! `parameters.retry_after = N`: the whole seconds until the window that
//! refused it has room again, at least 1. Whether a request meets them is
//! decided in `rules`.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

/// Visible message text longer than this (in UTF-16 code units) is refused.
pub(crate) const MAX_TEXT_UTF16: usize = 4096;
/// Visible caption text longer than this (in UTF-16 code units) is refused.
pub(crate) const MAX_CAPTION_UTF16: usize = 1024;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

/// Telegram's flood limits, as the emulator enforces them (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whether flood limits apply at all (faults and blocks always do).
    pub enabled: bool,
    /// Sends a second, overall.
    pub global_per_sec: u32,
    /// Sends within any 1 s to one private chat.
    pub private_burst: u32,
    /// Sends within any 60 s to one group, supergroup or channel.
    pub group_per_min: u32,
    /// Sends a second, overall, for requests with `allow_paid_broadcast`.
    pub paid_per_sec: u32,
}

impl Limits {
    /// Telegram's published limits (the default).
    pub fn telegram() -> Limits {
        Limits {
            enabled: true,
            global_per_sec: 30,
            private_burst: 3,
            group_per_min: 20,
            paid_per_sec: 1000,
        }
    }

    /// No flood limits.
    pub fn off() -> Limits {
        Limits { enabled: false, ..Limits::telegram() }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::telegram()
    }
}

/// What a send is addressed to, as the limits see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Private(i64),
    Public(i64),
    /// A chat the emulator does not know: only the overall limit applies.
    Unknown,
}

/// Recent successful sends: overall, and per chat.
#[derive(Debug, Default)]
pub(crate) struct Flood {
    overall: VecDeque<Instant>,
    per_chat: HashMap<i64, VecDeque<Instant>>,
    last_sweep: Option<Instant>,
}

impl Flood {
    /// `Err(retry_after)` if one more send to `target` now breaks a limit.
    pub fn check(
        &mut self,
        limits: &Limits,
        target: Target,
        paid: bool,
        now: Instant,
    ) -> Result<(), u32> {
        let overall = if paid { limits.paid_per_sec } else { limits.global_per_sec };
        prune(&mut self.overall, SECOND, now);
        room(&self.overall, overall, SECOND, now)?;
        let (id, limit, span) = match target {
            Target::Private(id) => (id, limits.private_burst, SECOND),
            Target::Public(id) => (id, limits.group_per_min, MINUTE),
            Target::Unknown => return Ok(()),
        };
        if let Some(window) = self.per_chat.get_mut(&id) {
            prune(window, span, now);
            room(window, limit, span, now)?;
        }
        Ok(())
    }

    /// Counts a successful send to `chat_id`.
    pub fn record(&mut self, chat_id: Option<i64>, now: Instant) {
        self.overall.push_back(now);
        if let Some(id) = chat_id {
            self.per_chat.entry(id).or_default().push_back(now);
        }
        // Forget quiet chats now and then, so a fan-out to many chats
        // does not keep a window per chat forever.
        if self.last_sweep.is_none_or(|at| now.duration_since(at) > MINUTE) {
            self.per_chat.retain(|_, w| w.back().is_some_and(|&t| now.duration_since(t) < MINUTE));
            self.last_sweep = Some(now);
        }
    }
}

/// Drops the sends that left the window.
fn prune(window: &mut VecDeque<Instant>, span: Duration, now: Instant) {
    while window.front().is_some_and(|&t| now.duration_since(t) >= span) {
        window.pop_front();
    }
}

/// `Err(retry_after)` if the (pruned) window already holds `limit` sends.
fn room(window: &VecDeque<Instant>, limit: u32, span: Duration, now: Instant) -> Result<(), u32> {
    let limit = limit.max(1) as usize;
    if window.len() < limit {
        return Ok(());
    }
    // Room returns when all but `limit - 1` of the sends have left the window.
    let freeing = window[window.len() - limit];
    let wait = (freeing + span).saturating_duration_since(now);
    Err(u32::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u32::MAX).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(start: Instant, n: u64) -> Instant {
        start + Duration::from_millis(n)
    }

    #[test]
    fn the_overall_window_slides() {
        let (limits, t0) = (Limits::telegram(), Instant::now());
        let mut flood = Flood::default();
        for i in 0..30 {
            assert_eq!(flood.check(&limits, Target::Private(i), false, ms(t0, i as u64)), Ok(()));
            flood.record(Some(i), ms(t0, i as u64));
        }
        assert_eq!(flood.check(&limits, Target::Private(99), false, ms(t0, 40)), Err(1));
        assert_eq!(flood.check(&limits, Target::Private(99), true, ms(t0, 40)), Ok(()));
        // The first send leaves the window at 1000 ms.
        assert_eq!(flood.check(&limits, Target::Private(99), false, ms(t0, 999)), Err(1));
        assert_eq!(flood.check(&limits, Target::Private(99), false, ms(t0, 1000)), Ok(()));
    }

    #[test]
    fn a_private_chat_takes_a_burst_then_waits() {
        let (limits, t0) = (Limits::telegram(), Instant::now());
        let mut flood = Flood::default();
        for i in 0..3 {
            assert_eq!(flood.check(&limits, Target::Private(1), false, ms(t0, i * 100)), Ok(()));
            flood.record(Some(1), ms(t0, i * 100));
        }
        assert_eq!(flood.check(&limits, Target::Private(1), false, ms(t0, 300)), Err(1));
        assert_eq!(flood.check(&limits, Target::Private(2), false, ms(t0, 300)), Ok(()));
        assert_eq!(flood.check(&limits, Target::Private(1), false, ms(t0, 1000)), Ok(()));
        let strict = Limits { private_burst: 1, ..limits };
        assert_eq!(flood.check(&strict, Target::Private(1), false, ms(t0, 1000)), Err(1));
    }

    #[test]
    fn a_group_takes_twenty_a_minute() {
        let (limits, t0) = (Limits::telegram(), Instant::now());
        let mut flood = Flood::default();
        for i in 0..20 {
            assert_eq!(flood.check(&limits, Target::Public(-5), false, ms(t0, i * 10)), Ok(()));
            flood.record(Some(-5), ms(t0, i * 10));
        }
        assert_eq!(flood.check(&limits, Target::Public(-5), false, ms(t0, 500)), Err(60));
        assert_eq!(flood.check(&limits, Target::Public(-5), false, ms(t0, 30_000)), Err(30));
        assert_eq!(flood.check(&limits, Target::Public(-5), false, ms(t0, 60_000)), Ok(()));
    }
}
