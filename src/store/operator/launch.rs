//! Launching a broadcast without holding its audience: one small transaction marks the draft
//! sent and writes its edition and job (marked as still queueing), then the audience is
//! queued a chunk at a time, each chunk in its own transaction with the job's progress and
//! flushed before it is handed to the engine. Memory and sled's write set are bounded by a
//! chunk, not by the audience (a million readers would otherwise be a gigabyte and a
//! transaction of a million writes).
//!
//! A crash between chunks leaves the job marked as queueing with the last subscription
//! queued: the next start finishes it from there ([`Store::resume_launches`]), so every chat
//! of the audience is queued once. Subscriptions are read in key order, which is stable
//! while the key epoch is: a key rotation moves every subscription to a new key, so a launch
//! and a rotation wait for each other (the write gate's `walking` and `rotating`), and a
//! launch whose first chunk comes after a rotation starts in the new order. Should the epoch still change
//! between two chunks (a launch interrupted by a crash and a rotation finished at the next
//! open), the broadcast is cut short where it stood (logged, its total the chats queued)
//! rather than risk a second message to a chat.

use super::super::{DRAFTS, JOBS, OutboxItem, Result, SUBS, Store, keys, tx_error, u64_at};
use crate::{
    broadcast::{Draft, DraftState, Job, JobState, Queueing},
    store::{Edition, EditionKind, to_json},
    subscription::Subscription,
};
use sled::{Transactional, transaction::ConflictableTransactionError};
use std::ops::Bound;

/// Chats queued (and handed to the engine) per transaction.
pub const LAUNCH_CHUNK: usize = 1_000;

/// Subscriptions read per chunk at most (an audience of channels among a million people
/// would otherwise read them all while holding the write gate).
const SCAN_LIMIT: usize = 10 * LAUNCH_CHUNK;

/// What confirming a draft did.
#[derive(Debug, PartialEq)]
pub enum Launch {
    /// Queued as this edition, to this many chats (each handed over as its chunk was
    /// queued).
    Started { edition: u64, chats: u64 },
    /// Confirmed before: nothing queued again.
    AlreadySent { edition: u64 },
    /// Cancelled before confirmation, or unknown.
    Discarded,
}

/// A broadcast whose queueing a crash interrupted, finished at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resumed {
    pub edition: u64,
    /// The draft it sends.
    pub draft: u64,
    /// The chats of its job now.
    pub chats: u64,
}

/// The message a draft makes for a subscription in its edition, `None` when the chat is not
/// in its audience. The app's, so that the store knows nothing of message bodies.
pub type MakeItem<'a> = &'a dyn Fn(&Draft, u64, &Subscription) -> Option<OutboxItem>;

/// Hands a chunk, durable in the outbox, to the delivery engine.
pub type HandOver<'a> = &'a mut dyn FnMut(Vec<(u64, OutboxItem)>);

/// What queueing one chunk did.
#[derive(Debug)]
pub(super) enum Chunk {
    /// These were queued; `done` when the audience is all queued.
    Queued { queued: Vec<(u64, OutboxItem)>, done: bool },
    /// Nothing more to queue: finished before, cancelled, or cut short.
    Over,
}

impl Store {
    /// Confirms a draft: marks it sent with its edition and job in one transaction (so
    /// confirming twice, two presses or two operators, queues once), then queues its
    /// audience chunk by chunk, handing each to `hand_over` once it is durable.
    pub fn launch_draft(
        &self,
        id: u64,
        job: &Job,
        item: MakeItem<'_>,
        hand_over: HandOver<'_>,
    ) -> Result<Launch> {
        let edition = match self.begin_launch(id, job)? {
            Ok(edition) => edition,
            Err(other) => return Ok(other),
        };
        let chats = self.queue_launch(edition, item, hand_over)?;
        Ok(Launch::Started { edition, chats })
    }

    /// Finishes queueing the broadcasts a crash interrupted (at start, before anything else
    /// writes). Returns what each came to.
    pub fn resume_launches(
        &self,
        item: MakeItem<'_>,
        hand_over: HandOver<'_>,
    ) -> Result<Vec<Resumed>> {
        let mut pending = Vec::new();
        for entry in self.t().jobs.iter() {
            let (key, raw) = entry?;
            let job: Job = self.open_json(JOBS, &key, &raw, "job")?;
            if let Some(at) = job.queueing {
                pending.push((u64_at(&key, 0), at.draft));
            }
        }
        let mut resumed = Vec::with_capacity(pending.len());
        for (edition, draft) in pending {
            let chats = self.queue_launch(edition, item, hand_over)?;
            resumed.push(Resumed { edition, draft, chats });
        }
        Ok(resumed)
    }

    /// Queues chunk after chunk until none is left; returns the job's chats.
    fn queue_launch(
        &self,
        edition: u64,
        item: MakeItem<'_>,
        hand_over: HandOver<'_>,
    ) -> Result<u64> {
        // No key rotation re-orders the subscriptions from here to the last chunk.
        let _walking = self.gate.walking();
        while let Chunk::Queued { queued, done } = self.queue_chunk(edition, item)? {
            hand_over(queued);
            if done {
                break;
            }
        }
        Ok(self.job(edition)?.map_or(0, |job| job.total))
    }

    /// Phase one: checks the draft is still open, marks it sent, writes its edition and its
    /// job (queueing, nothing counted yet), flushed. `Err` holds what a draft no longer open
    /// came to.
    pub(super) fn begin_launch(
        &self,
        id: u64,
        job: &Job,
    ) -> Result<std::result::Result<u64, Launch>> {
        let _writing = self.writing()?;
        let Some(draft) = self.draft(id)? else { return Ok(Err(Launch::Discarded)) };
        match draft.state {
            DraftState::Sent { edition } => return Ok(Err(Launch::AlreadySent { edition })),
            DraftState::Discarded => return Ok(Err(Launch::Discarded)),
            DraftState::Open => {}
        }
        let edition = self.next_id()?;
        let edition_raw =
            to_json(&Edition { kind: EditionKind::Broadcast, created_at: job.started_at })?;
        let job_key = keys::seq_key(edition);
        let queueing = Queueing { draft: id, after: Vec::new(), epoch: self.keys().current().id };
        let job = Job { total: 0, queueing: Some(queueing), ..job.clone() };
        let job_raw = self.seal_json(JOBS, &job_key, &job)?;
        let key = id.to_be_bytes();
        let outcome = (&self.t().drafts, &self.t().editions, &self.t().jobs)
            .transaction(|(drafts, editions, jobs)| {
                let abort = ConflictableTransactionError::Abort;
                let Some(raw) = drafts.get(key)? else { return Ok(Err(Launch::Discarded)) };
                let mut draft: Draft =
                    self.open_json(DRAFTS, &key, &raw, "draft").map_err(abort)?;
                match draft.state {
                    DraftState::Sent { edition } => {
                        return Ok(Err(Launch::AlreadySent { edition }));
                    }
                    DraftState::Discarded => return Ok(Err(Launch::Discarded)),
                    DraftState::Open => {}
                }
                draft.state = DraftState::Sent { edition };
                drafts.insert(&key, self.seal_json(DRAFTS, &key, &draft).map_err(abort)?)?;
                editions.insert(&edition.to_be_bytes(), edition_raw.as_slice())?;
                jobs.insert(&job_key, job_raw.as_slice())?;
                Ok(Ok(edition))
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(outcome)
    }

    /// Phase two, one step: queues the next chunk of the audience after where the job says
    /// it stopped, in one transaction with the job's new count and place, flushed. A chat
    /// erased by `/stop` since it was read is left out (the transaction reads its
    /// subscription), and nothing is queued once the job is cancelled.
    pub(super) fn queue_chunk(&self, edition: u64, item: MakeItem<'_>) -> Result<Chunk> {
        let _writing = self.writing()?;
        let Some(job) = self.job(edition)? else { return Ok(Chunk::Over) };
        let Some(at) = job.queueing.clone() else { return Ok(Chunk::Over) };
        if job.state != JobState::Running {
            self.end_queueing(edition, "it was cancelled")?;
            return Ok(Chunk::Over);
        }
        let epoch = self.keys().current().id;
        if at.epoch != epoch && !at.after.is_empty() {
            self.end_queueing(edition, "the keys were rotated meanwhile")?;
            return Ok(Chunk::Over);
        }
        let Some(draft) = self.draft(at.draft)? else {
            self.end_queueing(edition, "its draft is gone")?;
            return Ok(Chunk::Over);
        };
        let from = match at.after.is_empty() {
            true => Bound::Unbounded,
            false => Bound::Excluded(at.after.clone()),
        };
        let (mut made, mut after, mut done, mut scanned) = (Vec::new(), at.after.clone(), true, 0);
        for entry in self.t().subs.range::<Vec<u8>, _>((from, Bound::Unbounded)) {
            let (key, raw) = entry?;
            after = key.to_vec();
            scanned += 1;
            match self.open_json::<Subscription>(SUBS, &key, &raw, "subscription") {
                Ok(sub) => {
                    if let Some(item) = item(&draft, edition, &sub) {
                        made.push((self.next_id()?, item));
                    }
                }
                Err(e) => log::warn!("a broadcast skips a subscription: {e}"),
            }
            if made.len() >= LAUNCH_CHUNK || scanned >= SCAN_LIMIT {
                done = false;
                break;
            }
        }
        let job_key = keys::seq_key(edition);
        let queued = (&self.t().subs, &self.t().jobs, &self.t().outbox, &self.t().outbox_chats)
            .transaction(|(subs, jobs, outbox, outbox_chats)| {
                let abort = ConflictableTransactionError::Abort;
                let Some(raw) = jobs.get(job_key)? else { return Ok(None) };
                let mut job: Job = self.open_json(JOBS, &job_key, &raw, "job").map_err(abort)?;
                if job.state != JobState::Running || job.queueing.as_ref() != Some(&at) {
                    return Ok(None);
                }
                let mut queued = Vec::with_capacity(made.len());
                for (seq, item) in &made {
                    if self.stored_subscription(subs, &self.tag(item.chat_id))?.is_some() {
                        self.put_item(outbox, outbox_chats, *seq, item)?;
                        queued.push((*seq, item.clone()));
                    }
                }
                job.total += queued.len() as u64;
                // Nothing was queued before a rotation: the walk starts in the new key order.
                job.queueing =
                    (!done).then(|| Queueing { after: after.clone(), epoch, ..at.clone() });
                jobs.insert(&job_key, self.seal_json(JOBS, &job_key, &job).map_err(abort)?)?;
                Ok(Some(queued))
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(match queued {
            Some(queued) => Chunk::Queued { queued, done },
            // Cancelled meanwhile: the next step clears the mark.
            None => Chunk::Queued { queued: Vec::new(), done: false },
        })
    }

    /// Ends queueing where it stands: the job keeps the chats queued so far as its total.
    fn end_queueing(&self, edition: u64, why: &str) -> Result<()> {
        let ended = self.update_job(edition, |job| job.queueing.take().is_some())?;
        if let Some(job) = ended {
            log::warn!(
                "broadcast edition {edition} stopped queueing at {} chats: {why}",
                job.total
            );
        }
        self.sync()
    }

    /// Changes a job in one transaction (against `/stop`, `/cancel` and queueing changing it
    /// too): `change` says whether it changed anything. Returns the job written, if any.
    pub(super) fn update_job(
        &self,
        edition: u64,
        change: impl Fn(&mut Job) -> bool,
    ) -> Result<Option<Job>> {
        let key = keys::seq_key(edition);
        self.t()
            .jobs
            .transaction(|jobs| {
                let abort = ConflictableTransactionError::Abort;
                let Some(raw) = jobs.get(key)? else { return Ok(None) };
                let mut job: Job = self.open_json(JOBS, &key, &raw, "job").map_err(abort)?;
                if !change(&mut job) {
                    return Ok(None);
                }
                jobs.insert(&key, self.seal_json(JOBS, &key, &job).map_err(abort)?)?;
                Ok(Some(job))
            })
            .map_err(tx_error)
    }
}
