//! The CPU gate: tests that measure rates or timing run alone, everyone else shares.
//!
//! The test binary runs as many tests at once as the machine has cores, and a fan-out that
//! counts its sends per second cannot keep Telegram's pace while another bot on the same two
//! cores compiles a digest for 500 chats. So every bot a test starts (`spawn_app`, `serve`)
//! holds the gate **shared**, and a timing test takes it **exclusively** with [`exclusive`]
//! as its first line: it waits until the bots already running have stopped, and no new one
//! starts until it is done. A waiting exclusive test goes first (no starvation).
//!
//! Passes are per test, not per bot: a test that starts a second bot (a restart) reuses the
//! pass its thread already holds, so it never waits for itself. libtest runs each test on a
//! thread of its own, and a test's body runs on that thread (`#[tokio::test]` blocks on it);
//! that is how a pass knows its test.

use std::{
    cell::RefCell,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak},
    time::{Duration, Instant},
};

/// How long anyone waits for the gate before the test fails (a deadlock, or a test that
/// never ends: far beyond the longest test).
const LONGEST_WAIT: Duration = Duration::from_secs(600);

struct Counts {
    shared: usize,
    exclusive: bool,
    waiting: usize,
}

static COUNTS: Mutex<Counts> = Mutex::new(Counts { shared: 0, exclusive: false, waiting: 0 });
static CHANGED: Condvar = Condvar::new();

thread_local! {
    static HELD: RefCell<Weak<Pass>> = const { RefCell::new(Weak::new()) };
}

/// A test's hold on the gate; released when the last clone is dropped.
pub struct Pass {
    exclusive: bool,
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut counts = lock();
        if self.exclusive {
            counts.exclusive = false;
        } else {
            counts.shared -= 1;
        }
        CHANGED.notify_all();
    }
}

fn lock() -> MutexGuard<'static, Counts> {
    COUNTS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn held() -> Option<Arc<Pass>> {
    HELD.with(|held| held.borrow().upgrade())
}

fn hold(pass: Pass) -> Arc<Pass> {
    let pass = Arc::new(pass);
    HELD.with(|held| *held.borrow_mut() = Arc::downgrade(&pass));
    pass
}

/// Waits on the gate while `blocked` says so; `Err` (with the gate) after [`LONGEST_WAIT`].
fn wait_while(
    mut counts: MutexGuard<'static, Counts>,
    blocked: impl Fn(&Counts) -> bool,
) -> Result<MutexGuard<'static, Counts>, MutexGuard<'static, Counts>> {
    let deadline = Instant::now() + LONGEST_WAIT;
    while blocked(&counts) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(counts);
        }
        counts = CHANGED.wait_timeout(counts, left).unwrap_or_else(PoisonError::into_inner).0;
    }
    Ok(counts)
}

/// A shared pass: the test's own if it holds one, else a new one once no timing test runs
/// or waits.
pub fn shared() -> Arc<Pass> {
    if let Some(pass) = held() {
        return pass;
    }
    let Ok(mut counts) = wait_while(lock(), |c| c.exclusive || c.waiting > 0) else {
        panic!("waited {LONGEST_WAIT:?} for the shared gate");
    };
    counts.shared += 1;
    drop(counts);
    hold(Pass { exclusive: false })
}

/// The exclusive pass, for a test that measures rates or timing: returns once no other bot
/// runs. Take it first, before starting any bot (a test cannot upgrade a shared pass).
pub fn exclusive() -> Arc<Pass> {
    if let Some(pass) = held() {
        assert!(pass.exclusive, "take the exclusive gate before starting a bot");
        return pass;
    }
    let mut counts = lock();
    counts.waiting += 1;
    let waited = wait_while(counts, |c| c.exclusive || c.shared > 0);
    let timed_out = waited.is_err();
    let mut counts = waited.unwrap_or_else(|counts| counts);
    counts.waiting -= 1;
    if timed_out {
        CHANGED.notify_all();
        drop(counts);
        panic!("waited {LONGEST_WAIT:?} for the exclusive gate");
    }
    counts.exclusive = true;
    drop(counts);
    hold(Pass { exclusive: true })
}
