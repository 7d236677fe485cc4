//! What operators read: the audit log (`/audit`), what went out (`/editions`), the numbers
//! (`/stats`, `/health`), and where each bulk job stands (for its progress message).

use super::{
    super::{
        caller::{Refusal, unavailable},
        tribune::Tribune,
    },
    Operator,
};
use crate::{
    broadcast::{Job, JobState, Progress},
    delivery::Observer,
    stats::{HealthReport, StatsReport},
    store::{AuditEntry, Edition},
};

/// Entries `/audit` shows.
const AUDIT_SHOWN: usize = 20;
/// Editions `/editions` shows.
const EDITIONS_SHOWN: usize = 10;

/// Where a bulk job stands.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    pub edition: u64,
    pub job: Job,
    pub progress: Progress,
}

impl JobStatus {
    /// Whether there is nothing more to follow: every chat handled, or the job stopped.
    pub fn is_over(&self) -> bool {
        self.job.state != JobState::Running || self.progress.finished()
    }
}

impl Tribune {
    /// `/audit`: the latest entries of the audit log.
    pub fn audit_log(&self, _operator: &Operator) -> Result<Vec<AuditEntry>, Refusal> {
        self.store.audit_latest(AUDIT_SHOWN).map_err(unavailable)
    }

    /// `/editions`: the latest editions (digests, alerts, broadcasts, withdrawals and
    /// corrections) with the number of chats each reached.
    pub fn editions(&self, _operator: &Operator) -> Result<Vec<(u64, Edition, usize)>, Refusal> {
        self.store.editions_latest(EDITIONS_SHOWN).map_err(unavailable)
    }

    /// `/stats`: subscribers and deliveries for the UTC day of now, by the app's clock.
    pub fn stats(&self, _operator: &Operator) -> Result<StatsReport, Refusal> {
        StatsReport::collect(&self.store, self.clock.unix()).map_err(unavailable)
    }

    /// `/health`: the outbox, the last delivery, errors of the last hour and the next digest,
    /// with the time it was taken (the app's clock).
    pub fn health(
        &self,
        _operator: &Operator,
        observer: &Observer,
    ) -> Result<(HealthReport, i64), Refusal> {
        let now = self.clock.unix();
        Ok((HealthReport::collect(&self.store, observer, now).map_err(unavailable)?, now))
    }

    /// Where the job of `edition` stands; `None` when there is no such job (or it cannot be
    /// read now). Read for the progress message the adapter keeps in the chat of the
    /// operator who started it, who passed the check then.
    pub fn job_status(&self, edition: u64) -> Option<JobStatus> {
        let read = || -> crate::store::Result<Option<JobStatus>> {
            let Some(job) = self.store.job(edition)? else { return Ok(None) };
            let progress = self.store.job_progress(edition, &job)?;
            Ok(Some(JobStatus { edition, job, progress }))
        };
        read().unwrap_or_else(|e| {
            log::warn!("cannot read the progress of edition {edition}: {e}");
            None
        })
    }

    /// A job whose every chat was handled is marked finished, so it is not followed again.
    pub fn finish_job(&self, edition: u64) {
        if let Err(e) = self.store.finish_job(edition) {
            log::warn!("cannot mark edition {edition} finished: {e}");
        }
    }

    /// Jobs still running (after a restart), with the operator each belongs to, so each gets
    /// a fresh progress message in that operator's chat.
    pub fn running_jobs(&self) -> Vec<(u64, i64)> {
        match self.store.running_jobs() {
            Ok(running) => {
                running.into_iter().map(|(edition, job)| (edition, job.operator)).collect()
            }
            Err(e) => {
                log::error!("cannot read running jobs: {e}");
                Vec::new()
            }
        }
    }
}
