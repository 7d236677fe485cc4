//! Counters of what the bot asked and what it was answered, so a test can
//! assert that a campaign of faults or a fan-out stayed within the limits.

use std::{collections::BTreeMap, time::Duration};

/// What the emulator served so far (see [`super::Emulator::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every request, authorised or not.
    pub requests: u64,
    /// New messages accepted (sendMessage, sendPhoto or copyMessage answered with ok).
    pub sent: u64,
    /// 429s answered, by the flood limits or injected.
    pub too_many_requests: u64,
    /// Every answer that was not ok (429s included).
    pub errors: u64,
    /// Connections closed instead of answering (injected).
    pub dropped: u64,
    /// Requests carried out but answered only after an injected delay.
    pub delayed: u64,
    /// Requests by method name (canonical, or as sent when unknown).
    pub per_method: BTreeMap<String, u64>,
    /// The longest time between a getUpdates answer and the next getUpdates request: how
    /// long the bot left updates unfetched.
    pub longest_poll_gap: Duration,
    /// The longest an update waited in the queue before getUpdates first handed it over.
    pub longest_update_wait: Duration,
}

/// How one request ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Answered ok; `sent` if it posted a new message.
    Ok { sent: bool },
    /// Answered with this error code.
    Error(u16),
    /// The connection was dropped.
    Dropped,
}

impl Stats {
    pub(crate) fn count(&mut self, method: &str, ending: Ending) {
        self.requests += 1;
        *self.per_method.entry(method.to_owned()).or_default() += 1;
        match ending {
            Ending::Ok { sent } => self.sent += u64::from(sent),
            Ending::Error(code) => {
                self.errors += 1;
                self.too_many_requests += u64::from(code == 429);
            }
            Ending::Dropped => self.dropped += 1,
        }
    }
}
