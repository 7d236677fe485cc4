//! The state behind its one mutex, and the signal that wakes whoever waits for a change:
//! long polls, the webhook pusher, and tests waiting for the bot. The HTTP server, the
//! handles that act as people and the `Emulator` itself all hold it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::state::State;

/// The emulator's state, shared.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Bumped after every change, to wake long polls and waiting tests.
    changes: watch::Sender<u64>,
}

impl Shared {
    pub fn new() -> Shared {
        let (changes, _) = watch::channel(0);
        Shared { state: Mutex::new(State::new()), changes }
    }

    /// Runs `f` on the state under the lock (never held across an await).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut lock(&self.state))
    }

    /// Wakes everything waiting for a change.
    pub fn notify(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Re-checks `check` after every change until it yields, or `None` at
    /// the deadline. Subscribing before checking means no change is missed.
    pub async fn wait_until<T>(
        &self,
        deadline: tokio::time::Instant,
        mut check: impl FnMut(&mut State) -> Option<T>,
    ) -> Option<T> {
        let mut changes = self.changes.subscribe();
        loop {
            if let Some(value) = self.with_state(&mut check) {
                return Some(value);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives as long as `self`; a timeout ends the wait.
                Ok(Err(_)) | Err(_) => return self.with_state(&mut check),
            }
        }
    }
}

/// Locks a mutex, going on after a panic elsewhere (the state stays usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
