//! What operators do: the audit log, content edits made from Telegram, broadcast drafts and
//! bulk jobs (broadcasts, withdrawals, corrections).

use super::{
    AUDIT, DRAFTS, DeliveryOutcome, EDITS, Edition, EditionKind, JOBS, OutboxItem, Result, Store,
    StoreError, from_json, keys, to_json, tx_error, u64_at,
};
use crate::{
    broadcast::{Draft, DraftState, Job, JobState, Progress},
    content::ContentEdit,
};
use serde::{Deserialize, Serialize};
use sled::{
    Transactional,
    transaction::{ConflictableTransactionError, TransactionalTree},
};

/// One thing an operator did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    /// The operator's Telegram user id (operators are named in the configuration).
    pub operator: i64,
    /// What was done, in a few words with ids and counts (never a reader's data).
    pub action: String,
}

/// A content edit as stored: who made it and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEdit {
    pub at: i64,
    pub operator: i64,
    pub edit: ContentEdit,
}

impl Store {
    /// Appends to the audit log, durably, stamped `now` (Unix seconds, the caller's clock).
    pub fn audit(&self, operator: i64, action: impl Into<String>, now: i64) -> Result<()> {
        let _writing = self.writing()?;
        let entry = AuditEntry { at: now, operator, action: action.into() };
        // The operator's id stays in the store (for `/audit`), out of the logs.
        log::info!("operator action: {}", entry.action);
        let key = keys::seq_key(self.next_id()?);
        self.t().audit.insert(key, self.seal_json(AUDIT, &key, &entry)?)?;
        self.sync()?;
        Ok(())
    }

    /// The latest audit entries, newest first.
    pub fn audit_latest(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.t()
            .audit
            .iter()
            .rev()
            .take(limit)
            .map(|e| {
                let (key, raw) = e?;
                self.open_json(AUDIT, &key, &raw, "audit entry")
            })
            .collect()
    }

    /// Content edits in the order they were made.
    pub fn edits(&self) -> Result<Vec<(u64, StoredEdit)>> {
        self.t()
            .edits
            .iter()
            .map(|e| {
                let (key, raw) = e?;
                Ok((u64_at(&key, 0), self.open_json(EDITS, &key, &raw, "content edit")?))
            })
            .collect()
    }

    /// Stores an edit, then the content it produces (flushed by the import). A crash between
    /// the two leaves the edit stored and the old content: the next start combines the files
    /// and the stored edits again, so the edit is served then. If the import fails, the edit
    /// is taken back.
    pub fn save_edit(
        &self,
        edit: &StoredEdit,
        corpus: &crate::content::Corpus,
        hash: u64,
        now: i64,
    ) -> Result<(u64, Vec<super::PrisonerChange>)> {
        let _writing = self.writing()?;
        let seq = self.next_id()?;
        let key = keys::seq_key(seq);
        self.t().edits.insert(key, self.seal_json(EDITS, &key, edit)?)?;
        match self.import(corpus, hash, now) {
            Ok(changes) => Ok((seq, changes)),
            Err(e) => {
                // Keep edits and content in step: the edit did not take.
                let _ = self.t().edits.remove(seq.to_be_bytes());
                Err(e)
            }
        }
    }

    /// Removes an edit and stores the content without it.
    pub fn drop_edit(
        &self,
        seq: u64,
        corpus: &crate::content::Corpus,
        hash: u64,
        now: i64,
    ) -> Result<Vec<super::PrisonerChange>> {
        let _writing = self.writing()?;
        let old = self.t().edits.remove(seq.to_be_bytes())?;
        match self.import(corpus, hash, now) {
            Ok(changes) => Ok(changes),
            Err(e) => {
                if let Some(old) = old {
                    let _ = self.t().edits.insert(seq.to_be_bytes(), old);
                }
                Err(e)
            }
        }
    }

    /// Saves a new broadcast draft and returns its id.
    pub fn put_draft(&self, draft: &Draft) -> Result<u64> {
        let _writing = self.writing()?;
        let id = self.next_id()?;
        let key = keys::seq_key(id);
        self.t().drafts.insert(key, self.seal_json(DRAFTS, &key, draft)?)?;
        self.sync()?;
        Ok(id)
    }

    pub fn draft(&self, id: u64) -> Result<Option<Draft>> {
        let key = keys::seq_key(id);
        self.t().drafts.get(key)?.map(|raw| self.open_json(DRAFTS, &key, &raw, "draft")).transpose()
    }

    /// Changes an open draft's audience; `false` if it is no longer open.
    pub fn set_draft_audience(
        &self,
        id: u64,
        audience: crate::broadcast::Audience,
    ) -> Result<bool> {
        let _writing = self.writing()?;
        let key = id.to_be_bytes();
        self.t()
            .drafts
            .transaction(|drafts| {
                let Some(raw) = drafts.get(key)? else { return Ok(false) };
                let mut draft: Draft = self
                    .open_json(DRAFTS, &key, &raw, "draft")
                    .map_err(ConflictableTransactionError::Abort)?;
                if draft.state != DraftState::Open {
                    return Ok(false);
                }
                draft.audience = audience;
                drafts.insert(
                    &key,
                    self.seal_json(DRAFTS, &key, &draft)
                        .map_err(ConflictableTransactionError::Abort)?,
                )?;
                Ok(true)
            })
            .map_err(tx_error)
    }

    /// Discards an open draft; returns its state before.
    pub fn discard_draft(&self, id: u64) -> Result<Option<DraftState>> {
        let _writing = self.writing()?;
        let key = id.to_be_bytes();
        self.t()
            .drafts
            .transaction(|drafts| {
                let Some(raw) = drafts.get(key)? else { return Ok(None) };
                let mut draft: Draft = self
                    .open_json(DRAFTS, &key, &raw, "draft")
                    .map_err(ConflictableTransactionError::Abort)?;
                let before = draft.state;
                if before == DraftState::Open {
                    draft.state = DraftState::Discarded;
                    drafts.insert(
                        &key,
                        self.seal_json(DRAFTS, &key, &draft)
                            .map_err(ConflictableTransactionError::Abort)?,
                    )?;
                }
                Ok(Some(before))
            })
            .map_err(tx_error)
    }

    /// Starts a withdrawal or correction: its edition, job and messages in one transaction.
    pub fn start_job(
        &self,
        kind: EditionKind,
        job: &Job,
        items: impl Fn(u64) -> Vec<OutboxItem>,
    ) -> Result<(u64, Vec<(u64, OutboxItem)>)> {
        let _writing = self.writing()?;
        let edition = self.next_id()?;
        let mut queued = Vec::new();
        for item in items(edition) {
            queued.push((self.next_id()?, item));
        }
        let edition_raw = to_json(&Edition { kind, created_at: job.started_at })?;
        let job_key = keys::seq_key(edition);
        let job_raw =
            self.seal_json(JOBS, &job_key, &Job { total: chats(&queued), ..job.clone() })?;
        (&self.t().editions, &self.t().jobs, &self.t().outbox, &self.t().outbox_chats)
            .transaction(|(editions, jobs, outbox, outbox_chats)| {
                editions.insert(&edition.to_be_bytes(), edition_raw.as_slice())?;
                jobs.insert(&job_key, job_raw.as_slice())?;
                for (seq, item) in &queued {
                    self.put_item(outbox, outbox_chats, *seq, item)?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok((edition, queued))
    }

    pub fn job(&self, edition: u64) -> Result<Option<Job>> {
        let key = keys::seq_key(edition);
        self.t().jobs.get(key)?.map(|raw| self.open_json(JOBS, &key, &raw, "job")).transpose()
    }

    /// Jobs still running, oldest first. Jobs found finished are marked so.
    pub fn running_jobs(&self) -> Result<Vec<(u64, Job)>> {
        let mut found = Vec::new();
        for entry in self.t().jobs.iter() {
            let (key, raw) = entry?;
            let job: Job = self.open_json(JOBS, &key, &raw, "job")?;
            if job.state != JobState::Running {
                continue;
            }
            let edition = u64_at(&key, 0);
            if self.job_progress(edition, &job)?.finished() {
                self.finish_job(edition)?;
            } else {
                found.push((edition, job));
            }
        }
        Ok(found)
    }

    /// Cancels a job: marks it cancelled and removes its unsent messages from the outbox (the
    /// engine skips what is no longer there). Returns how many messages were not sent.
    pub fn cancel_job(&self, edition: u64) -> Result<Option<usize>> {
        let _writing = self.writing()?;
        // In a transaction against a broadcast's queueing: a chunk queued after this finds
        // the job cancelled and queues nothing; one queued before is removed below.
        let cancelled = self.update_job(edition, |job| {
            let running = job.state == JobState::Running;
            if running {
                job.state = JobState::Cancelled;
            }
            running
        })?;
        if cancelled.is_none() {
            return Ok(None);
        }
        let mut removed = 0;
        for entry in self.t().outbox.iter() {
            let (key, raw) = entry?;
            if let Some(item) = self.outbox_item(&key, &raw)
                && item.edition == edition
                && self.t().outbox.remove(&key)?.is_some()
            {
                for tag in self.tags(item.chat_id) {
                    self.t().outbox_chats.remove(keys::by_chat_key(&tag, u64_at(&key, 0)))?;
                }
                removed += 1;
                // A flush every thousand: sled holds unwritten log buffers in memory.
                if removed % 1_000 == 0 {
                    self.t().db.flush()?;
                }
            }
        }
        self.sync()?;
        Ok(Some(removed))
    }

    /// The latest editions, newest first, with how many chats each reached or tried.
    pub fn editions_latest(&self, limit: usize) -> Result<Vec<(u64, Edition, usize)>> {
        let mut found = Vec::new();
        for entry in self.t().editions.iter().rev().take(limit) {
            let (key, raw) = entry?;
            let id = u64_at(&key, 0);
            let chats = self.t().deliveries.scan_prefix(keys::edition_prefix(id)).count();
            found.push((id, from_json(&raw, "edition")?, chats));
        }
        Ok(found)
    }

    /// Marks a job finished (once every chat is handled and nothing of it is queued).
    pub fn finish_job(&self, edition: u64) -> Result<()> {
        let _writing = self.writing()?;
        self.update_job(edition, |job| {
            // Never while a broadcast is still being queued: its count is not final yet.
            let finish = job.state == JobState::Running && job.queueing.is_none();
            if finish {
                job.state = JobState::Finished;
            }
            finish
        })?;
        Ok(())
    }

    /// Whether any message of `edition` still waits in the outbox.
    pub fn has_queued(&self, edition: u64) -> Result<bool> {
        for entry in self.t().outbox.iter() {
            let (key, raw) = entry?;
            if self.outbox_item(&key, &raw).is_some_and(|i| i.edition == edition) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// How far a job got, counted from its delivery records and the chats erased since. It is
    /// finished only when, besides, nothing of it waits in the outbox (a withdrawal deletes
    /// several messages in one chat; the chat counts once its first is done).
    pub fn job_progress(&self, edition: u64, job: &crate::broadcast::Job) -> Result<Progress> {
        let mut progress = self.progress(edition, job.total)?;
        progress.erased = job.erased;
        // A broadcast still being queued has more to come; otherwise checked only when the
        // counts say done: a scan of the outbox.
        progress.waiting =
            job.queueing.is_some() || (progress.remaining() == 0 && self.has_queued(edition)?);
        Ok(progress)
    }

    /// How far an edition got, counted from its delivery records.
    pub fn progress(&self, edition: u64, total: u64) -> Result<Progress> {
        let mut progress = Progress { total, ..Progress::default() };
        for (_, record) in self.deliveries(edition)? {
            match record.outcome {
                DeliveryOutcome::Sent => progress.sent += 1,
                DeliveryOutcome::Failed => progress.failed += 1,
                DeliveryOutcome::Deactivated => progress.deactivated += 1,
            }
        }
        Ok(progress)
    }
}

/// How many chats a job writes to (a withdrawal may delete several messages in one chat).
fn chats(queued: &[(u64, OutboxItem)]) -> u64 {
    queued.iter().map(|(_, i)| i.chat_id).collect::<std::collections::HashSet<_>>().len() as u64
}

/// Within `/stop`'s transaction: counts the chat erased in the job of `edition`, if it is a
/// job's.
pub(super) fn count_erased(
    store: &Store,
    jobs: &TransactionalTree,
    edition: u64,
) -> std::result::Result<(), ConflictableTransactionError<StoreError>> {
    let key = keys::seq_key(edition);
    if let Some(raw) = jobs.get(key)? {
        let abort = ConflictableTransactionError::Abort;
        let mut job: Job = store.open_json(JOBS, &key, &raw, "job").map_err(abort)?;
        job.erased += 1;
        jobs.insert(&key, store.seal_json(JOBS, &key, &job).map_err(abort)?)?;
    }
    Ok(())
}

mod launch;

pub use launch::{HandOver, LAUNCH_CHUNK, Launch, MakeItem, Resumed};

#[cfg(test)]
mod tests;
