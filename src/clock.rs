//! The one source of "now": the system's clock, or a manual one that tests move forward.
//!
//! `Tribune` holds one `Clock` and hands it to everything that reads the time (the app's use
//! cases, the scheduler, the delivery engine's records, the operators' numbers, the adapter),
//! so under a manual clock every timestamp and every decision made on time agree. It sits in
//! the bottom layer so that each of them can take it.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Where "now" comes from.
#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<ManualClock>),
}

/// A clock that only moves when told to; waiters wake when it does.
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    moved: Notify,
}

impl Clock {
    /// A manual clock starting at `start`, and a handle to move it.
    pub fn manual(start: DateTime<Utc>) -> (Clock, Arc<ManualClock>) {
        let manual = Arc::new(ManualClock { now: Mutex::new(start), moved: Notify::new() });
        (Clock::Manual(manual.clone()), manual)
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(m) => m.now(),
        }
    }

    /// Now, in Unix seconds: how the store keeps time.
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// Sleeps until `deadline` by this clock (for a manual clock: until it is moved past it).
    pub async fn sleep_until(&self, deadline: DateTime<Utc>) {
        match self {
            Clock::System => {
                let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            Clock::Manual(m) => loop {
                let moved = m.moved.notified();
                if m.now() >= deadline {
                    return;
                }
                moved.await;
            },
        }
    }
}

impl ManualClock {
    pub fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the time (forward or back) and wakes every sleeper.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
        self.moved.notify_waiters();
    }
}
