//! Telegram's rate limits, respected by construction: the engine never sends before the
//! global pacer and the chat's own pace allow it.

use crate::subscription::ChatKind;
use std::{collections::VecDeque, sync::Mutex, time::Duration};
use tokio::{sync::Notify, time::Instant};

/// Admissions are spaced a little under the limit (at 30 msg/s, 31 span 1010 ms), so that
/// answers coming within 10 ms cost nothing. The limit itself is held by the window rule
/// (see [`Pacer`]), whatever the jitter between the bot and Telegram.
pub const SAFETY: f64 = 0.99;

/// A slot this close is not slept for: tokio's timer works in milliseconds, and sleeping for
/// a fraction of one would cost a whole one per send at high rates. Slots still advance by
/// the exact interval, so the long-run rate is unchanged; a send goes at most this early.
const EARLY: Duration = Duration::from_millis(2);

/// The limits the engine keeps to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Messages per second overall; `None` for no limit (benchmarks of the bot's own ceiling).
    pub per_second: Option<f64>,
    /// Least time between two messages to one private chat (Telegram: 1 per second).
    pub private_gap: Duration,
    /// Least time between two messages to one group or channel (Telegram: 20 per minute).
    pub group_gap: Duration,
    /// Sends with `allow_paid_broadcast` (Telegram allows up to 1000 messages per second, paid).
    pub paid: bool,
    /// Sends at once.
    pub concurrency: usize,
    /// Most outbox items the engine holds in memory; the rest wait in the outbox on disk and
    /// are read in as these are sent ([`HELD`]).
    pub held: usize,
}

/// Outbox items the engine holds in memory by default: a few seconds of sending at the paid
/// 1000 messages a second, whatever the outbox holds (a broadcast to a million readers, or the
/// outbox a crash left).
pub const HELD: usize = 10_000;

impl Limits {
    /// Telegram's limits at `per_second` overall (30 normally; up to 1000 with paid broadcasts).
    pub fn telegram(per_second: f64, paid: bool) -> Limits {
        Limits {
            per_second: Some(per_second),
            private_gap: Duration::from_millis(1020),
            group_gap: Duration::from_millis(3060),
            paid,
            concurrency: 64,
            held: HELD,
        }
    }

    /// No limits at all: only for measuring how fast the bot itself can go.
    pub fn off() -> Limits {
        Limits {
            per_second: None,
            private_gap: Duration::ZERO,
            group_gap: Duration::ZERO,
            paid: false,
            concurrency: 64,
            held: HELD,
        }
    }

    /// The least time between two messages to one chat of this kind.
    pub fn gap(&self, kind: ChatKind) -> Duration {
        if kind.is_many() { self.group_gap } else { self.private_gap }
    }
}

/// Who a send is for: bulk (digests, alerts, broadcasts, from the delivery engine) or a reply
/// to someone who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Bulk,
    Interactive,
}

impl Lane {
    fn index(self) -> usize {
        self as usize
    }
}

/// Admits sends one at a time, spaced at the overall rate. Shared by the delivery engine and
/// the interactive replies, so that together they stay under the limit.
///
/// **Bulk keeps its share:** when both lanes wait, bulk (digests, alerts, broadcasts) takes
/// three sends of five and replies two, whatever the interactive load: a flood of commands
/// cannot starve the digests, and replies still get two fifths during a big broadcast. A
/// lane alone uses the whole rate. Within a lane, first come, first served.
///
/// The limit holds by construction at the moment of sending, whatever the runtime does: a
/// sender calls [`Pacer::acquire`] right before its request goes out, and the moment it is
/// admitted is read from the clock then, under the lock that admits the next one. A sender
/// that waited and then woke late (a stalled runtime, a busy worker) is admitted at the
/// moment it actually goes, and the next one is spaced from there; so a stall makes sends
/// late, never close together. Slots were once reserved before the wait, and a stall woke
/// several reserved senders together (429s at 30 msg/s, BENCHMARKS.md).
///
/// Formally, admissions t₀ < t₁ < … satisfy tᵢ₊ₖ ≥ tᵢ + k·interval − 2·EARLY for every k, so
/// at 30 msg/s any 31 admissions span at least 1006 ms.
///
/// **And whatever the jitter between here and Telegram:** a request reaches Telegram
/// somewhere between its admission and its answer, so spacing admissions alone breaks a
/// window when one request is delayed on its way by more than the margin (on a loaded
/// machine, 25 ms is little). Each admission therefore returns a [`Slot`], held until the
/// answer came (or the request was abandoned), and the send `n` after another may be admitted
/// only once that one was answered a second ago, `n` being the limit a second (30): when
/// Telegram counts a request, the one 30 before it was already more than a second old. This
/// costs nothing while answers come within the margin, and slows sending exactly when they
/// do not.
pub struct Pacer {
    interval: Option<Duration>,
    /// Sends a window may hold: the limit a second, rounded down.
    window: usize,
    state: Mutex<Turns>,
    /// Someone joined, left or was admitted, or the next moment moved: the sender whose turn
    /// it is may have changed.
    changed: Notify,
}

struct Turns {
    /// The earliest moment the next send may go.
    next: Instant,
    /// Tickets of the senders waiting, by lane, in arrival order.
    waiting: [VecDeque<u64>; 2],
    next_ticket: u64,
    /// Sends admitted by lane while both lanes waited, since they last did not.
    contested: [u64; 2],
    /// The last `window` admissions, oldest first: their number and when they were answered
    /// (`None` while in flight).
    recent: VecDeque<(u64, Option<Instant>)>,
    admitted: u64,
}

impl Turns {
    /// The ticket whose turn it is. When both lanes wait, bulk takes three sends of every
    /// five: more than half, so that what a broadcast loses to a busy machine (its next item
    /// coming a moment after a slot) does not bring it under half.
    fn turn(&self) -> Option<u64> {
        let [bulk, interactive] = &self.waiting;
        match (bulk.front(), interactive.front()) {
            (Some(&b), Some(&i)) => {
                let [by_bulk, by_replies] = self.contested;
                Some(if by_bulk * BULK_SHARE.1 <= by_replies * BULK_SHARE.0 { b } else { i })
            }
            (Some(&b), None) => Some(b),
            (None, i) => i.copied(),
        }
    }

    fn leave(&mut self, lane: Lane, ticket: u64) {
        self.waiting[lane.index()].retain(|t| *t != ticket);
    }

    /// Whether the window lets one more send go: the send a window back must have been
    /// answered a second ago. Every earlier one was, too, whatever order the answers came
    /// in: each was a window back when a send no later than this one was admitted.
    fn window(&self, window: usize, now: Instant) -> Window {
        if self.recent.len() < window {
            return Window::Open;
        }
        match self.recent.front() {
            Some((_, Some(answered))) => {
                let opens = *answered + WINDOW;
                if opens > now { Window::OpensAt(opens) } else { Window::Open }
            }
            Some((_, None)) => Window::InFlight,
            None => Window::Open,
        }
    }

    /// Records an admission, forgetting the oldest once more than `window` are kept.
    fn admit(&mut self, window: usize) -> u64 {
        self.admitted += 1;
        self.recent.push_back((self.admitted, None));
        while self.recent.len() > window {
            self.recent.pop_front();
        }
        self.admitted
    }

    /// Records the answer to admission `number`.
    fn answered(&mut self, number: u64, at: Instant) {
        let Some(&(first, _)) = self.recent.front() else { return };
        let Some(index) = number.checked_sub(first) else { return };
        if let Some(entry) = usize::try_from(index).ok().and_then(|i| self.recent.get_mut(i)) {
            entry.1 = Some(at);
        }
    }
}

/// See [`Turns::window`].
enum Window {
    Open,
    OpensAt(Instant),
    /// The send a window back is still in flight: its answer will wake the waiting.
    InFlight,
}

/// The span Telegram's overall limit counts in.
const WINDOW: Duration = Duration::from_secs(1);

/// One admitted send. Hold it until the request was answered (or given up): the send a
/// window later waits for that moment. Dropping it says "answered now".
#[must_use = "hold the slot until Telegram answered the request"]
pub struct Slot<'a> {
    pacer: &'a Pacer,
    /// The admission's number; `None` without a limit.
    number: Option<u64>,
    at: Instant,
}

impl Slot<'_> {
    /// The moment the send was admitted.
    pub fn at(&self) -> Instant {
        self.at
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let Some(number) = self.number else { return };
        self.pacer.turns().answered(number, Instant::now());
        self.pacer.changed.notify_waiters();
    }
}

/// Bulk's sends to replies' when both wait: 3 to 2.
const BULK_SHARE: (u64, u64) = (3, 2);

/// Takes a waiting sender's ticket back if its wait is abandoned (the future dropped).
struct Ticket<'a> {
    pacer: &'a Pacer,
    lane: Lane,
    ticket: u64,
    admitted: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            self.pacer.turns().leave(self.lane, self.ticket);
            self.pacer.changed.notify_waiters();
        }
    }
}

impl Pacer {
    pub fn new(limits: &Limits) -> Pacer {
        let interval = limits.per_second.map(|rate| Duration::from_secs_f64(1.0 / (rate * SAFETY)));
        let turns = Turns {
            next: Instant::now(),
            waiting: Default::default(),
            next_ticket: 0,
            contested: [0; 2],
            recent: VecDeque::new(),
            admitted: 0,
        };
        // 30 at 30 msg/s; at most the 1000 of paid broadcasts (anything more is a mistake).
        let window = limits.per_second.map_or(0, |rate| (rate.floor() as usize).clamp(1, 1000));
        Pacer { interval, window, state: Mutex::new(turns), changed: Notify::new() }
    }

    fn turns(&self) -> std::sync::MutexGuard<'_, Turns> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until one more send of `lane` may go now, and counts it as gone: call it right
    /// before the request is made, with nothing that could wait in between, and hold the
    /// [`Slot`] until the request was answered.
    pub async fn acquire(&self, lane: Lane) -> Slot<'_> {
        let Some(interval) = self.interval else {
            return Slot { pacer: self, number: None, at: Instant::now() };
        };
        let mut ticket = {
            let mut turns = self.turns();
            turns.next_ticket += 1;
            let ticket = turns.next_ticket;
            turns.waiting[lane.index()].push_back(ticket);
            Ticket { pacer: self, lane, ticket, admitted: false }
        };
        self.changed.notify_waiters();
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // Until when to wait (or `None`: until it is this sender's turn).
            let wait_until = {
                let mut turns = self.turns();
                let now = Instant::now();
                if turns.turn() != Some(ticket.ticket) {
                    None
                } else if let Window::OpensAt(at) = turns.window(self.window, now) {
                    Some(at)
                } else if let Window::InFlight = turns.window(self.window, now) {
                    None
                } else {
                    // Within EARLY of its moment a sender goes (tokio's timer works in whole
                    // milliseconds, and sleeping for a fraction of one would cost a whole one
                    // per send at high rates); a lateness of up to EARLY is made up rather
                    // than lost, so the long-run rate holds at 1000 msg/s too. A later sender
                    // is spaced from the moment it goes.
                    if turns.next < now + EARLY {
                        turns.next =
                            turns.next.max(now.checked_sub(EARLY).unwrap_or(now)) + interval;
                        if turns.waiting.iter().all(|w| !w.is_empty()) {
                            turns.contested[lane.index()] += 1;
                        } else {
                            turns.contested = [0; 2];
                        }
                        turns.leave(lane, ticket.ticket);
                        let number = turns.admit(self.window);
                        ticket.admitted = true;
                        drop(turns);
                        self.changed.notify_waiters();
                        return Slot { pacer: self, number: Some(number), at: now };
                    }
                    Some(turns.next)
                }
            };
            // Woken early when the turn passes to another sender or the moment moves.
            match wait_until {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, changed).await;
                }
                None => changed.await,
            }
        }
    }

    /// Pushes every future send back: after a 429, which Telegram does not say is about one
    /// chat or the whole bot.
    pub fn pause(&self, until: Instant) {
        let mut turns = self.turns();
        turns.next = turns.next.max(until);
        drop(turns);
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn slots_are_evenly_spaced_under_the_limit() {
        let pacer = Pacer::new(&Limits::telegram(30.0, false));
        let start = Instant::now();
        for _ in 0..31 {
            let _ = pacer.acquire(Lane::Bulk).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        // 31 slots span 30 intervals of 1/(30 * SAFETY) s; the last is at most EARLY early.
        let exact = 30.0 / (30.0 * SAFETY);
        assert!(elapsed <= exact + 0.001 && elapsed >= exact - EARLY.as_secs_f64(), "{elapsed}");
    }

    /// A stall: the clock moves on while no task runs (a blocking call on the runtime's only
    /// thread), then everything that became due wakes at once.
    #[tokio::test(start_paused = true)]
    async fn senders_that_wake_late_together_still_go_one_interval_apart() {
        let pacer = Arc::new(Pacer::new(&Limits::telegram(30.0, false)));
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (pacer, admitted) = (pacer.clone(), admitted.clone());
            senders.spawn(async move {
                for _ in 0..20 {
                    let at = pacer.acquire(Lane::Bulk).await.at();
                    // What a transport would see: the moment the request is made.
                    admitted.lock().unwrap().push((at, Instant::now()));
                }
            });
        }
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tokio::time::advance(Duration::from_millis(400)).await;
        }
        while senders.join_next().await.is_some() {}
        let admitted = admitted.lock().unwrap().clone();
        assert_eq!(admitted.len(), 160);
        let interval = Duration::from_secs_f64(1.0 / (30.0 * SAFETY));
        for pair in admitted.windows(2) {
            let ((_, before), (_, after)) = (pair[0], pair[1]);
            assert!(after >= before, "admitted out of order");
            assert!(after - before >= interval - 2 * EARLY, "{:?} apart", after - before);
        }
        for (at, made) in &admitted {
            assert_eq!(at, made, "a send was made later than it was admitted");
        }
        for window in admitted.windows(31) {
            let span = window[30].1 - window[0].1;
            assert!(span > Duration::from_secs(1), "31 sends within {span:?}");
        }
    }

    /// Eight repliers and one bulk sender (the engine hands out its next item once the last
    /// is admitted), all always waiting: bulk gets three sends of five; and alone, either
    /// lane gets the whole rate.
    #[tokio::test(start_paused = true)]
    async fn bulk_gets_three_sends_of_five_under_any_interactive_load() {
        let pacer = Arc::new(Pacer::new(&Limits::telegram(30.0, false)));
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let mut senders = tokio::task::JoinSet::new();
        let lanes = std::iter::once(Lane::Bulk).chain(std::iter::repeat_n(Lane::Interactive, 8));
        for lane in lanes {
            let (pacer, admitted) = (pacer.clone(), admitted.clone());
            senders.spawn(async move {
                loop {
                    let at = pacer.acquire(lane).await.at();
                    admitted.lock().unwrap().push((at, lane));
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        senders.abort_all();
        let admitted = admitted.lock().unwrap().clone();
        let bulk = admitted.iter().filter(|(_, l)| *l == Lane::Bulk).count();
        assert!(admitted.len() >= 290, "{} sends in 10 s", admitted.len());
        assert!(bulk * 2 >= admitted.len() - 1, "bulk {bulk} of {}", admitted.len());
        for pair in admitted.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= Duration::from_secs_f64(1.0 / 30.0) - 2 * EARLY);
        }

        let alone = Pacer::new(&Limits::telegram(30.0, false));
        let start = Instant::now();
        for _ in 0..30 {
            let _ = alone.acquire(Lane::Interactive).await;
        }
        assert!(start.elapsed() < Duration::from_millis(1000), "{:?}", start.elapsed());
    }

    /// A sender that gives up waiting (its future dropped) does not keep its turn.
    #[tokio::test(start_paused = true)]
    async fn an_abandoned_wait_gives_up_its_turn() {
        let pacer = Arc::new(Pacer::new(&Limits::telegram(1.0, false)));
        let _ = pacer.acquire(Lane::Bulk).await;
        let waiting = pacer.clone();
        let abandoned = tokio::spawn(async move {
            let _ = waiting.acquire(Lane::Interactive).await;
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        abandoned.abort();
        let _ = abandoned.await;
        let start = Instant::now();
        let _ = pacer.acquire(Lane::Bulk).await;
        assert!(start.elapsed() <= Duration::from_millis(1100), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_means_no_wait() {
        let pacer = Pacer::new(&Limits::off());
        let start = Instant::now();
        for _ in 0..1000 {
            let _ = pacer.acquire(Lane::Bulk).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    /// A request held up on its way (a loaded machine, a slow network) reaches Telegram up to
    /// its answer: the send a window later waits until that answer is a second old, so however
    /// late each request arrives, no second at Telegram holds more than 30.
    #[tokio::test(start_paused = true)]
    async fn late_arrivals_never_put_31_sends_in_a_second() {
        let pacer = Arc::new(Pacer::new(&Limits::telegram(30.0, false)));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let mut senders = tokio::task::JoinSet::new();
        for sender in 0..16u64 {
            let (pacer, arrivals) = (pacer.clone(), arrivals.clone());
            senders.spawn(async move {
                let mut seed = sender * 7919 + 1;
                let mut random_ms = move |below: u64| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 33) % below
                };
                for _ in 0..40 {
                    let slot = pacer.acquire(Lane::Bulk).await;
                    // On its way for 0 to 300 ms, one in five; then the answer comes back.
                    let delay = if random_ms(5) == 0 { random_ms(300) } else { random_ms(3) };
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    arrivals.lock().unwrap().push(Instant::now());
                    tokio::time::sleep(Duration::from_millis(random_ms(5))).await;
                    drop(slot);
                }
            });
        }
        while senders.join_next().await.is_some() {}
        let mut arrivals = arrivals.lock().unwrap().clone();
        arrivals.sort();
        assert_eq!(arrivals.len(), 640);
        for window in arrivals.windows(31) {
            let span = window[30] - window[0];
            assert!(span >= WINDOW, "31 sends arrived within {span:?}");
        }
    }

    /// The send a window after one still in flight waits for its answer, then a second more.
    #[tokio::test(start_paused = true)]
    async fn the_send_a_window_later_waits_for_the_answer() {
        let pacer = Arc::new(Pacer::new(&Limits::telegram(30.0, false)));
        let slow = pacer.acquire(Lane::Bulk).await;
        for _ in 0..29 {
            let _ = pacer.acquire(Lane::Bulk).await;
        }
        let waiting = pacer.clone();
        let next = tokio::spawn(async move { waiting.acquire(Lane::Bulk).await.at() });
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!next.is_finished(), "admitted while the send a window back was in flight");
        let answered = Instant::now();
        drop(slow);
        let after = next.await.unwrap() - answered;
        assert!(after >= WINDOW && after < Duration::from_millis(1010), "{after:?}");
    }
}
