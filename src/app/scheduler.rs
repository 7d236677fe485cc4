//! The scheduler: sleeps until the earliest due time in the index (or a change), composes the
//! digests now due, and hands them to the delivery engine.
//!
//! Each digest is committed in one transaction with the subscription's new state (rotation,
//! next due time), and the batch is flushed before anything is sent. A subscriber who missed
//! several slots while Tribune was down gets one digest, and is rescheduled from now.
//!
//! A round is composed only as fast as it is sent: a batch is composed while the delivery
//! engine has room ([`crate::delivery::Handover::room`]), so a round to a million readers
//! waits as due entries, not as a million composed texts. Passes run on a blocking thread,
//! never on the async workers.

use super::tribune::Tribune;
use crate::{
    digest::{self, Inputs},
    schedule::next_due,
    store::{Committed, EditionKind, OutboxItem, PrisonerChange, Result},
};
use chrono::{DateTime, Utc};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// Sets its flag when dropped: the scheduler's task, aborted, tells a pass under way on its
/// blocking thread to end after its batch.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The pause after `failures` failed passes in a row: 1 s, doubling, at most a minute.
fn backoff(failures: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << failures.saturating_sub(1).min(6))
        .min(std::time::Duration::from_secs(60))
}

/// Most digests composed before the batch is flushed and handed over.
const BATCH: usize = 500;
/// How often a round held back by a full engine looks again.
const HELD_BACK_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// A round being composed: its edition, and the due time it covers. Readers who fall due
/// while it is held back by a full engine make the next round, not this one (an edition is
/// what was due when it began: withdrawals and corrections reach exactly that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub edition: u64,
    pub due_until: i64,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Everything due was composed: this many messages.
    Done(usize),
    /// This many messages were composed; more are due, held back until the engine has room.
    HeldBack(usize),
}

/// Composes what falls due with `Tribune`'s content and clock, and hands it over through
/// `Tribune` (connected to the delivery engine by the composition root).
pub struct Scheduler {
    tribune: Arc<Tribune>,
}

impl Scheduler {
    pub fn new(tribune: Arc<Tribune>) -> Scheduler {
        Scheduler { tribune }
    }

    /// Runs forever: spawn it, and abort it to stop (a pass under way then ends after its
    /// batch). A store that cannot save (a full or failing disk) is logged and retried with a
    /// growing pause, never a reason to stop.
    pub async fn run(self) {
        let stopping = Arc::new(AtomicBool::new(false));
        let _stop_passes = StopOnDrop(stopping.clone());
        let mut failures: u32 = 0;
        // The round still being composed, held back by a full engine.
        let mut round: Option<Round> = None;
        let mut queued_in_round = 0;
        loop {
            let changed = self.tribune.schedule_changed().notified();
            let now = self.tribune.clock().now();
            let tribune = self.tribune.clone();
            let stop = stopping.clone();
            let passed = tokio::task::spawn_blocking(move || {
                let mut round = round;
                let pass = Scheduler::new(tribune).pass(now, &mut round, &stop);
                crate::store::release_deferred();
                (pass, round)
            })
            .await;
            let pass = match passed {
                Ok((pass, kept)) => {
                    // Kept whether the pass failed or not: a round cut short by an error goes
                    // on in the same edition.
                    round = kept;
                    pass
                }
                Err(e) => Err(crate::store::StoreError::Unwritable(e.to_string())),
            };
            match pass {
                Ok(pass) => {
                    if failures > 0 {
                        log::info!("the scheduler can save again; digests resume");
                    }
                    failures = 0;
                    match pass {
                        Pass::HeldBack(n) => {
                            queued_in_round += n;
                            // The engine is sending what it holds; compose more once it has room.
                            tokio::time::sleep(HELD_BACK_POLL).await;
                            continue;
                        }
                        Pass::Done(n) => {
                            let n = std::mem::take(&mut queued_in_round) + n;
                            if n > 0 {
                                log::info!("queued {n} digest message(s)");
                            }
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    self.tribune
                        .scheduler_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let pause = backoff(failures);
                    log::error!(
                        "the scheduler could not queue digests: {e}; retrying in {}s",
                        pause.as_secs()
                    );
                    // A change (a reader subscribing once the disk works again) retries sooner.
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = changed => {}
                    }
                    continue;
                }
            }
            let next = match self.tribune.store().first_due() {
                Ok(next) => next.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
                Err(e) => {
                    log::error!("cannot read the due index: {e}");
                    Some(self.tribune.clock().now() + chrono::Duration::seconds(30))
                }
            };
            let clock = self.tribune.clock().clone();
            if next.is_some_and(|at| at <= clock.now()) {
                // Still due after a pass: something could not be composed. Do not spin.
                log::warn!("digests are due but could not be queued; retrying in a second");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = clock.sleep_until(at) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Composes and queues the digests due at or before `now`, a batch at a time while the
    /// delivery engine has room, until `stop` is set. `round` is the round being composed:
    /// made at its first batch, kept while it is held back, ended once no one it covers is
    /// due (then those due since start the next).
    pub fn pass(
        &self,
        now: DateTime<Utc>,
        round: &mut Option<Round>,
        stop: &AtomicBool,
    ) -> Result<Pass> {
        let store = self.tribune.store();
        let mut total = 0;
        loop {
            let until = round.map_or(now.timestamp(), |r| r.due_until);
            if store.due_until(until, 1)?.is_empty() {
                if round.take().is_some() {
                    continue;
                }
                return Ok(Pass::Done(total));
            }
            let room = self.tribune.delivery_room();
            if room == 0 || stop.load(Ordering::Relaxed) {
                return Ok(Pass::HeldBack(total));
            }
            // Readers, not messages: a digest may take two; what does not fit waits on disk.
            let due = store.due_until(until, BATCH.min((room / 2).max(1)))?;
            let edition = match *round {
                Some(r) => r.edition,
                None => {
                    let edition = store.new_edition(EditionKind::Digest, now.timestamp())?;
                    round.insert(Round { edition, due_until: until }).edition
                }
            };
            let mut queued = Vec::new();
            let composed: Result<()> = due.iter().try_for_each(|(_, chat_id)| {
                queued.extend(self.compose_one(*chat_id, edition, now)?);
                Ok(())
            });
            let flushed = store.flush();
            total += queued.len();
            // What was committed is handed over even when a later reader failed or the flush
            // did: it is in the outbox (and its readers are no longer due), and nothing else
            // would hand it over before a restart.
            self.tribune.hand_over(queued);
            composed?;
            flushed?;
        }
    }

    fn compose_one(
        &self,
        chat_id: i64,
        edition: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<(u64, OutboxItem)>> {
        // A reader who changes a setting while the digest is composed gets it composed again
        // from the new settings; more changes than that in a moment wait for the next pass.
        for _ in 0..3 {
            match self.compose_once(chat_id, edition, now)? {
                Committed::Queued(queued) => return Ok(queued),
                Committed::Erased => return Ok(Vec::new()),
                Committed::Changed => log::debug!("a subscription changed while composed; again"),
            }
        }
        Ok(Vec::new())
    }

    fn compose_once(&self, chat_id: i64, edition: u64, now: DateTime<Utc>) -> Result<Committed> {
        let store = self.tribune.store();
        let Some(read) = store.subscription(chat_id)? else { return Ok(Committed::Erased) };
        let mut sub = read.clone();
        let corpus = self.tribune.corpus();
        let changes: Vec<(u64, PrisonerChange)> =
            store.prisoner_changes_after(sub.prisoner_news_seen)?;
        let inputs = Inputs {
            corpus: &corpus,
            changes: &changes,
            news_head: store.prisoner_log_head()?,
            today: now.with_timezone(&sub.zone.0).date_naive(),
            bot_username: self.tribune.bot_username(),
        };
        let composed = if sub.receives_digests() { digest::compose(&sub, &inputs) } else { None };
        // The next slot strictly after now: however many were missed, one digest catches up.
        sub.next_due = if sub.receives_digests() {
            next_due(sub.frequency, sub.time, sub.zone, now).map(|t| t.timestamp())
        } else {
            None
        };
        let items = match composed {
            Some(c) => {
                sub.seen_excerpts = c.seen_excerpts;
                sub.prisoner_news_seen = c.prisoner_news_seen;
                sub.last_digest = Some(now.timestamp());
                c.messages
                    .into_iter()
                    .map(|message| OutboxItem {
                        edition,
                        chat_id,
                        kind: sub.kind,
                        message,
                        attempts: 0,
                        op: Default::default(),
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        store.commit_digest(&read, &sub, &items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{app::Caller, clock::Clock, content::Lang, delivery::Handover};
    use std::sync::{Mutex, atomic::AtomicUsize};

    /// An engine stand-in: records what is handed over; its room is set by the test, and it
    /// is full after a push while `fills` is set.
    #[derive(Default)]
    struct Outlet {
        pushed: Mutex<Vec<(u64, OutboxItem)>>,
        room: AtomicUsize,
        fills: AtomicBool,
    }

    impl Handover for Outlet {
        fn push(&self, items: Vec<(u64, OutboxItem)>) {
            self.pushed.lock().unwrap().extend(items);
            if self.fills.load(Ordering::Relaxed) {
                self.room.store(0, Ordering::Relaxed);
            }
        }
        fn room(&self) -> usize {
            self.room.load(Ordering::Relaxed)
        }
    }

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
    }

    /// Ten readers due at 09:00 in Baku (05:00 UTC) and the engine's stand-in.
    fn ten_due() -> (tempfile::TempDir, Arc<Tribune>, Arc<Outlet>) {
        let dir = tempfile::tempdir().unwrap();
        let messages = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
        let (clock, _) = Clock::manual(utc("2026-11-25T12:00:00Z"));
        let (app, _) = Tribune::open_with_clock(&dir.path().join("d"), &messages, clock).unwrap();
        let app = Arc::new(app);
        for chat in 1..=10 {
            app.subscribe(&Caller::private(chat), Lang::En).unwrap();
        }
        let outlet = Arc::new(Outlet::default());
        app.connect(outlet.clone(), "tribune_bot".into());
        (dir, app, outlet)
    }

    fn editions_by_chat(outlet: &Outlet) -> Vec<(i64, u64)> {
        let mut seen: Vec<(i64, u64)> =
            outlet.pushed.lock().unwrap().iter().map(|(_, i)| (i.chat_id, i.edition)).collect();
        seen.sort_unstable();
        seen.dedup();
        seen
    }

    /// A round is composed as the engine makes room, in one edition; a reader who falls due
    /// while it is held back gets the next edition, not this one.
    #[test]
    fn a_held_back_round_keeps_its_edition_and_only_the_readers_it_began_with() {
        let (_dir, app, outlet) = ten_due();
        let scheduler = Scheduler::new(app.clone());
        let due = utc("2026-11-26T05:00:00Z");
        let never = AtomicBool::new(false);
        outlet.room.store(4, Ordering::Relaxed);
        outlet.fills.store(true, Ordering::Relaxed);
        let mut round = None;
        let pass = scheduler.pass(due, &mut round, &never).unwrap();
        assert!(matches!(pass, Pass::HeldBack(n) if n > 0), "{pass:?}");
        let round_one = round.expect("the round goes on");
        assert_eq!(round_one.due_until, due.timestamp());
        assert_eq!(editions_by_chat(&outlet).len(), 2, "room 4: two readers' digests");
        // Still no room: nothing more is composed.
        assert_eq!(scheduler.pass(due, &mut round, &never).unwrap(), Pass::HeldBack(0));
        // Reader 11 falls due a minute after the round began.
        app.subscribe(&Caller::private(11), Lang::En).unwrap();
        let mut late = app.store().subscription(11).unwrap().unwrap();
        late.next_due = Some(due.timestamp() + 60);
        app.store().save_subscription(&late).unwrap();
        outlet.fills.store(false, Ordering::Relaxed);
        outlet.room.store(10_000, Ordering::Relaxed);
        let later = due + chrono::Duration::minutes(5);
        assert!(matches!(scheduler.pass(later, &mut round, &never).unwrap(), Pass::Done(_)));
        assert_eq!(round, None, "done");
        let seen = editions_by_chat(&outlet);
        assert_eq!(seen.len(), 11, "each reader once: {seen:?}");
        for (chat, edition) in seen {
            if chat == 11 {
                assert_ne!(edition, round_one.edition, "the late reader makes the next round");
            } else {
                assert_eq!(edition, round_one.edition, "chat {chat} in the round it began with");
            }
        }
        assert_eq!(app.store().first_due().unwrap(), Some(utc("2026-11-27T05:00:00Z").timestamp()));
    }

    /// A stop (the scheduler's task aborted at shutdown) ends a pass before its next batch.
    #[test]
    fn a_stopped_pass_composes_nothing_more() {
        let (_dir, app, outlet) = ten_due();
        outlet.room.store(10_000, Ordering::Relaxed);
        let mut round = None;
        let stopped = AtomicBool::new(true);
        let due = utc("2026-11-26T05:00:00Z");
        let pass = Scheduler::new(app.clone()).pass(due, &mut round, &stopped).unwrap();
        assert_eq!(pass, Pass::HeldBack(0));
        assert!(outlet.pushed.lock().unwrap().is_empty());
        assert_eq!(app.store().first_due().unwrap(), Some(due.timestamp()), "all still due");
    }
}
