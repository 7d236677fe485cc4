//! The write gate: every write to the store holds it shared, a backup's snapshot holds it
//! exclusively, so a snapshot sees every tree at one point in time (sled's own iteration is
//! not consistent across trees under concurrent writes).
//!
//! Shared holds nest: a write method may call another on the same thread (`deactivate` calls
//! `save_subscription`). A waiting snapshot stops *new* writes from starting, so it is not
//! starved by a steady stream of them, but never a nested hold, which would deadlock.
//!
//! It also keeps walks over the subscriptions in key order (a broadcast's launch, over many
//! writes; the prisoner alerts; the census) and key rotations, which move every subscription
//! to a new key, from running at the same time (see `rotation/mod.rs`).

use std::{
    cell::Cell,
    sync::{Arc, Condvar, Mutex, MutexGuard},
};

#[derive(Default)]
struct State {
    writers: usize,
    snapshot: bool,
    snapshots_waiting: usize,
    /// Walks over the subscriptions in key order under way ([`Gate::walking`]).
    walks: usize,
    /// A key rotation under way ([`Gate::rotating`]).
    rotating: bool,
    /// The last rotation failed half-way: subscriptions are under two epochs' keys until one
    /// finishes, so walks wait as during a rotation.
    unfinished: bool,
}

/// Shared by every clone of a [`Store`](super::Store).
#[derive(Clone, Default)]
pub(super) struct Gate {
    inner: Arc<(Mutex<State>, Condvar)>,
}

thread_local! {
    /// Shared holds this thread has open, on any gate (nested holds never wait for a snapshot).
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// A write in progress.
pub(super) struct Shared<'a>(&'a Gate);

/// A snapshot in progress: no write runs while it lives.
pub(super) struct Exclusive<'a>(&'a Gate);

/// A walk over the subscriptions in key order: no key rotation starts while it lives.
pub(super) struct Walking<'a>(&'a Gate);

/// A key rotation: no walk over the subscriptions starts while it lives, nor after it until a
/// rotation is [finished](Rotating::finished).
pub(super) struct Rotating<'a> {
    gate: &'a Gate,
    finished: bool,
}

impl Gate {
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.inner.1.wait(guard).unwrap_or_else(|p| p.into_inner())
    }

    /// The state once `must_wait` no longer holds. What it waits for (a snapshot, a key
    /// rotation) can take a while, so it waits off the async runtime.
    fn state_when(&self, must_wait: impl Fn(&State) -> bool) -> MutexGuard<'_, State> {
        let state = self.state();
        if !must_wait(&state) {
            return state;
        }
        drop(state);
        super::blocking(|| {
            let mut state = self.state();
            while must_wait(&state) {
                state = self.wait(state);
            }
            state
        })
    }

    pub(super) fn shared(&self) -> Shared<'_> {
        let nested = HELD.with(Cell::get) > 0;
        let mut state = self.state_when(|s| s.snapshot || (!nested && s.snapshots_waiting > 0));
        state.writers += 1;
        HELD.with(|h| h.set(h.get() + 1));
        Shared(self)
    }

    pub(super) fn exclusive(&self) -> Exclusive<'_> {
        let mut state = self.state();
        state.snapshots_waiting += 1;
        while state.snapshot || state.writers > 0 {
            state = self.wait(state);
        }
        state.snapshots_waiting -= 1;
        state.snapshot = true;
        Exclusive(self)
    }

    /// Whether a snapshot or a key rotation's switch waits for the writes in flight.
    #[cfg(test)]
    pub(super) fn exclusive_waiting(&self) -> bool {
        self.state().snapshots_waiting > 0
    }

    /// Marks a walk over the subscriptions in key order as under way until the hold is
    /// dropped, once no key rotation runs (waiting for it to end). Never called with a
    /// write hold open on this thread: the rotation's last step waits for writes to end.
    pub(super) fn walking(&self) -> Walking<'_> {
        let nested = HELD.with(Cell::get) > 0;
        debug_assert!(!nested, "a walk begun inside a write");
        let mut state = self.state_when(|s| !nested && (s.rotating || s.unfinished));
        state.walks += 1;
        Walking(self)
    }

    /// Marks a key rotation as under way until the hold is dropped, once no walk over the
    /// subscriptions is (waiting for them to end); new walks wait for it. Writes go on.
    pub(super) fn rotating(&self) -> Rotating<'_> {
        let mut state = self.state();
        while state.walks > 0 || state.rotating {
            state = self.wait(state);
        }
        state.rotating = true;
        Rotating { gate: self, finished: false }
    }
}

impl Drop for Walking<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.walks -= 1;
        if state.walks == 0 {
            self.0.inner.1.notify_all();
        }
    }
}

impl Rotating<'_> {
    /// Every record is under one epoch again: walks may start.
    pub(super) fn finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for Rotating<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.state();
        state.rotating = false;
        state.unfinished = !self.finished;
        self.gate.inner.1.notify_all();
    }
}

impl Drop for Shared<'_> {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
        let mut state = self.0.state();
        state.writers -= 1;
        if state.writers == 0 {
            self.0.inner.1.notify_all();
        }
    }
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        self.0.state().snapshot = false;
        self.0.inner.1.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        sync::atomic::{AtomicBool, Ordering},
        time::Duration,
    };

    #[test]
    fn a_snapshot_waits_for_writes_and_holds_new_ones_off() {
        let gate = Gate::default();
        let write = gate.shared();
        let snapshot_taken = Arc::new(AtomicBool::new(false));
        let snapshot = {
            let (gate, taken) = (gate.clone(), snapshot_taken.clone());
            std::thread::spawn(move || {
                let _hold = gate.exclusive();
                taken.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                taken.store(false, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(30));
        assert!(!snapshot_taken.load(Ordering::SeqCst), "the snapshot waits for the write");
        // A nested hold on this thread goes ahead even though a snapshot is waiting.
        drop(gate.shared());
        drop(write);
        // A new write from another thread starts only after the snapshot.
        let later = {
            let (gate, taken) = (gate.clone(), snapshot_taken.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                let _w = gate.shared();
                assert!(!taken.load(Ordering::SeqCst), "no write while a snapshot is taken");
            })
        };
        snapshot.join().unwrap();
        later.join().unwrap();
    }

    #[test]
    fn a_rotation_waits_for_a_walk_which_writes_meanwhile_and_later_walks_wait_for_it() {
        let gate = Gate::default();
        let walk = gate.walking();
        let rotated = Arc::new(AtomicBool::new(false));
        let rotation = {
            let (gate, rotated) = (gate.clone(), rotated.clone());
            std::thread::spawn(move || {
                let mut rotating = gate.rotating();
                rotating.finished();
                rotated.store(true, Ordering::SeqCst);
                // Writes go on during a rotation.
                drop(gate.shared());
                std::thread::sleep(Duration::from_millis(50));
                rotated.store(false, Ordering::SeqCst);
            })
        };
        // A launch's chunks are writes: they go ahead while the rotation waits.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(20));
            drop(gate.shared());
            assert!(!rotated.load(Ordering::SeqCst), "the rotation waits for the walk");
        }
        drop(walk);
        while !rotated.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        drop(gate.walking());
        assert!(!rotated.load(Ordering::SeqCst), "a new walk waited for the rotation");
        rotation.join().unwrap();
    }

    #[test]
    fn after_a_rotation_that_failed_half_way_walks_wait_for_one_that_finishes() {
        let gate = Gate::default();
        drop(gate.rotating());
        let walked = Arc::new(AtomicBool::new(false));
        let walk = {
            let (gate, walked) = (gate.clone(), walked.clone());
            std::thread::spawn(move || {
                drop(gate.walking());
                walked.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!walked.load(Ordering::SeqCst), "the walk waits");
        gate.rotating().finished();
        walk.join().unwrap();
        assert!(walked.load(Ordering::SeqCst));
    }
}
