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
use std::sync::Arc;

/// The pause after `failures` failed passes in a row: 1 s, doubling, at most a minute.
fn backoff(failures: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << failures.saturating_sub(1).min(6))
        .min(std::time::Duration::from_secs(60))
}

/// Most digests composed before the batch is flushed and handed over.
const BATCH: usize = 500;
/// How often a round held back by a full engine looks again.
const HELD_BACK_POLL: std::time::Duration = std::time::Duration::from_millis(100);

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

    /// Runs forever: spawn it, and abort it to stop. A store that cannot save (a full or
    /// failing disk) is logged and retried with a growing pause, never a reason to stop.
    pub async fn run(self) {
        let mut failures: u32 = 0;
        // The edition of a round still being composed, held back by a full engine.
        let mut round: Option<u64> = None;
        let mut queued_in_round = 0;
        loop {
            let changed = self.tribune.schedule_changed().notified();
            let now = self.tribune.clock().now();
            let tribune = self.tribune.clone();
            let pass = tokio::task::spawn_blocking(move || {
                let mut round = round;
                Scheduler::new(tribune).pass(now, &mut round).map(|pass| (pass, round))
            })
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::Unwritable(e.to_string())));
            match pass {
                Ok((pass, edition)) => {
                    if failures > 0 {
                        log::info!("the scheduler can save again; digests resume");
                    }
                    failures = 0;
                    round = edition;
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
    /// delivery engine has room. `round` is the edition of the round being composed (made at
    /// its first batch, kept while the round is held back, cleared once it is done).
    pub fn pass(&self, now: DateTime<Utc>, round: &mut Option<u64>) -> Result<Pass> {
        let mut total = 0;
        loop {
            let room = self.tribune.delivery_room();
            if room == 0 {
                return Ok(Pass::HeldBack(total));
            }
            // Readers, not messages: a digest may take two; what does not fit waits on disk.
            let readers = BATCH.min((room / 2).max(1));
            let due = self.tribune.store().due_until(now.timestamp(), readers)?;
            if due.is_empty() {
                *round = None;
                return Ok(Pass::Done(total));
            }
            let edition = match *round {
                Some(e) => e,
                None => *round.insert(
                    self.tribune.store().new_edition(EditionKind::Digest, now.timestamp())?,
                ),
            };
            let mut queued = Vec::new();
            for (_, chat_id) in &due {
                queued.extend(self.compose_one(*chat_id, edition, now)?);
            }
            self.tribune.store().flush()?;
            total += queued.len();
            self.tribune.hand_over(queued);
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
