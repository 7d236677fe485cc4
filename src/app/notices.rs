//! The cap on operators' notices about channels: adding a bot to a channel costs an attacker
//! nothing, and every notice goes to every operator, so a mass of channel changes is told a
//! few at a time and the rest summed up. Windows are measured on the app's clock (Unix
//! seconds), like every other decision of the app.

use std::sync::Mutex;

/// Channel notices told one by one per window; beyond it they are counted and summed up.
const CHANNEL_NOTICES: u32 = 5;
/// The window, in seconds: ten minutes.
const CHANNEL_WINDOW: i64 = 600;

/// Caps the notices operators get about channels that add or drop Tribune: a few each ten
/// minutes one by one, the rest summed up in one notice at the end of the window. Adding a
/// bot to a channel costs an attacker nothing, and every notice goes to every operator.
#[derive(Default)]
pub(super) struct ChannelNotices {
    state: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    started: Option<i64>,
    told: u32,
    held: u32,
}

impl ChannelNotices {
    /// Whether one more notice may go at `now` (Unix seconds); if not, it is counted for the
    /// summary.
    pub(super) fn allow(&self, now: i64) -> bool {
        let mut window = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if window.started.is_none_or(|s| now.saturating_sub(s) >= CHANNEL_WINDOW) {
            if window.held > 0 {
                // The summary of the last window has not gone yet: this joins it.
                window.held += 1;
                return false;
            }
            *window = Window { started: Some(now), told: 0, held: 0 };
        }
        if window.told < CHANNEL_NOTICES {
            window.told += 1;
            true
        } else {
            window.held += 1;
            false
        }
    }

    /// The notices held back, once their window has ended at `now` (then a new window
    /// starts).
    pub(super) fn take_summary(&self, now: i64) -> Option<u32> {
        let mut window = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ended = window.started.is_some_and(|s| now.saturating_sub(s) >= CHANNEL_WINDOW);
        if !ended || window.held == 0 {
            return None;
        }
        let held = window.held;
        *window = Window { started: Some(now), told: 0, held: 0 };
        Some(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mass_of_channel_changes_is_five_notices_and_one_summary() {
        let notices = ChannelNotices::default();
        let start = 1_800_000_000;
        let told = (0..5000).filter(|_| notices.allow(start)).count();
        assert_eq!(told, CHANNEL_NOTICES as usize);
        assert_eq!(notices.take_summary(start + 60), None, "not yet");
        let later = start + CHANNEL_WINDOW;
        assert!(!notices.allow(later), "held until the summary goes");
        assert_eq!(notices.take_summary(later), Some(4996));
        assert_eq!(notices.take_summary(later), None);
        assert!(notices.allow(later), "a new window");
    }
}
