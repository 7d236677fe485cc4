//! Retention: every record about readers has a period, after which the pruning task removes
//! it, a bounded step at a time (never a scan of the whole store, never a long transaction).
//!
//! What each step removes, oldest first (periods in [`Retention`], listed in PRIVACY.md):
//! - chats deactivated longer than the grace period, erased entirely as `/stop` does (found
//!   through the `gone` index, so O(expired));
//! - delivery records (`deliveries` and their `chat_editions` twins) of editions older than
//!   their period, found by the edition's key prefix: the chat's tag in each `chat_editions`
//!   key is taken from the `deliveries` key as it stands (see `keys.rs`), never opened. A
//!   cursor in `meta` (`pruned_deliveries_through`) keeps steps from re-reading editions
//!   already pruned;
//! - editions, their jobs and broadcast drafts older than theirs (any record written for an
//!   edition after its records were pruned goes with it then);
//! - dead letters (with their `dead_chats` index entries) and audit entries older than theirs
//!   (their keys are sequence numbers, so the oldest come first and a step stops at the first
//!   young one).
//!
//! Reader records are sealed (see `seal.rs`): their times are read by opening them under the
//! epoch their header names, and every key is built through `keys.rs`, with tags, never a
//! chat id. What pruning removes stays in sled's log, sealed, until the next key rotation
//! destroys the epoch it was sealed under (see `rotation.rs`).
//!
//! Kept without a period, because they name no reader and stay small: the content and
//! operators' content edits (`content`, `edits`, `prisoner_log`: what Tribune publishes),
//! `meta`, and `stats` (counts per day, a few entries a day). Subscriptions and settings live
//! as long as the reader wants them (`/stop` erases them at once); `due` follows `subs`; the
//! outbox empties as it sends; questions expire after 30 minutes (`questions.rs`).

use super::{AUDIT, DEAD, DRAFTS, GONE, JOBS, Result, SUBS, Store, from_json, keys, u64_at};
use crate::{
    broadcast::{Draft, Job, JobState},
    config::Retention,
};

/// Where delivery records are pruned up to (an edition id), in `meta`.
const DELIVERIES_CURSOR: &[u8] = b"pruned_deliveries_through";
/// In `meta`: how far the subscriptions were searched for chats deactivated before the `gone`
/// index existed (the last key searched), and, once done, [`BACKFILLED`].
pub(super) const BACKFILL_CURSOR: &[u8] = b"gone_backfill";
pub(super) const BACKFILLED: &[u8] = b"done";
/// At most this many chats past their grace period are erased in one step: each is a
/// transaction of its own, with a flush.
const CHATS_PER_STEP: usize = 100;

/// What one step of pruning removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Deactivated chats erased after their grace period.
    pub chats: usize,
    /// Delivery records removed (each with its `chat_editions` entry).
    pub deliveries: usize,
    /// Editions removed, with their jobs.
    pub editions: usize,
    pub drafts: usize,
    pub dead_letters: usize,
    pub audit: usize,
}

impl Pruned {
    /// Records removed in all.
    pub fn total(&self) -> usize {
        self.chats + self.deliveries + self.editions + self.drafts + self.dead_letters + self.audit
    }
}

/// `now - period` in Unix seconds: records stamped at or before it are due.
fn cutoff(now: i64, period: std::time::Duration) -> i64 {
    now.saturating_sub(i64::try_from(period.as_secs()).unwrap_or(i64::MAX))
}

/// How many records the trees that retention bounds hold (for benchmarks and checks: each
/// count reads its whole tree).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retained {
    pub deliveries: usize,
    pub chat_editions: usize,
    pub editions: usize,
    pub jobs: usize,
    pub drafts: usize,
    pub dead_letters: usize,
    pub audit: usize,
    pub gone: usize,
}

impl Store {
    /// What the trees that retention bounds hold now.
    pub fn retained(&self) -> Retained {
        Retained {
            deliveries: self.t().deliveries.len(),
            chat_editions: self.t().chat_editions.len(),
            editions: self.t().editions.len(),
            jobs: self.t().jobs.len(),
            drafts: self.t().drafts.len(),
            dead_letters: self.t().dead.len(),
            audit: self.t().audit.len(),
            gone: self.t().gone.len(),
        }
    }

    /// One step of pruning at `now`: removes at most about `budget` records (and at most
    /// [`CHATS_PER_STEP`] chats), flushed before it returns. Call again while it removes
    /// something: a step that removed fewer than `budget` found nothing more that was due.
    pub fn prune(&self, retention: &Retention, now: i64, budget: usize) -> Result<Pruned> {
        self.backfill_gone(now, budget)?;
        let mut pruned = Pruned {
            chats: self.erase_gone(cutoff(now, retention.deactivated))?,
            ..Pruned::default()
        };
        let mut left = budget.saturating_sub(pruned.chats);
        let _writing = self.writing()?;
        pruned.deliveries = self.prune_deliveries(cutoff(now, retention.deliveries), &mut left)?;
        (pruned.editions, pruned.deliveries) = {
            let (editions, more) =
                self.prune_editions(cutoff(now, retention.records), &mut left)?;
            (editions, pruned.deliveries + more)
        };
        pruned.drafts = self.prune_drafts(cutoff(now, retention.records), &mut left)?;
        pruned.dead_letters =
            self.prune_dead_letters(cutoff(now, retention.dead_letters), &mut left)?;
        pruned.audit = self.prune_audit(cutoff(now, retention.audit), &mut left)?;
        if pruned.total() > pruned.chats {
            self.sync()?;
        }
        Ok(pruned)
    }

    /// Gives chats deactivated by an earlier Tribune (no `deactivated_at`, not in the `gone`
    /// index) their grace period from `now`: `budget` subscriptions a step, from a cursor,
    /// until every one was seen once.
    fn backfill_gone(&self, now: i64, budget: usize) -> Result<()> {
        let from = match self.t().meta.get(BACKFILL_CURSOR)? {
            Some(raw) if raw == BACKFILLED => return Ok(()),
            Some(raw) => std::ops::Bound::Excluded(raw.to_vec()),
            None => std::ops::Bound::Unbounded,
        };
        let mut last = None;
        // The cursor is a tag: a key rotation, which tags every chat anew, starts the search
        // over (see `rotation.rs`).
        for entry in self.t().subs.range((from, std::ops::Bound::Unbounded)).take(budget) {
            let (key, raw) = entry?;
            if let Ok(mut sub) = self.open_json::<crate::subscription::Subscription>(
                SUBS,
                &key,
                &raw,
                "subscription",
            ) && !sub.active
                && sub.deactivated_at.is_none()
            {
                // As it is now (the walk may read an older copy of the tree: a compaction
                // swaps them): a chat that came back meanwhile stays as it is.
                if let Some(current) = self.subscription(sub.chat_id)?
                    && !current.active
                    && current.deactivated_at.is_none()
                {
                    sub = current;
                    sub.deactivated_at = Some(now);
                    self.put_subscription(&sub)?;
                }
            }
            last = Some(key);
        }
        let _writing = self.writing()?;
        match last {
            Some(key) => self.t().meta.insert(BACKFILL_CURSOR, key)?,
            None => self.t().meta.insert(BACKFILL_CURSOR, BACKFILLED)?,
        };
        Ok(())
    }

    /// Erases the chats deactivated at or before `until`, as `/stop` would. The chat id is in
    /// the `gone` entry's value, sealed.
    fn erase_gone(&self, until: i64) -> Result<usize> {
        let end = keys::gone_end(until);
        let expired: Vec<(sled::IVec, sled::IVec)> = self
            .t()
            .gone
            .range(..end.as_slice())
            .take(CHATS_PER_STEP)
            .collect::<std::result::Result<_, _>>()?;
        for (key, raw) in &expired {
            match self.open_sealed(GONE, key, raw).map(|plain| super::i64_at(&plain, 0)) {
                Ok(chat) => {
                    self.erase_chat(chat)?;
                }
                Err(e) => log::warn!("removing an entry of the gone index that does not read: {e}"),
            }
            // Erasing removes the entry with the subscription; one whose subscription no
            // longer reads would otherwise come back at every step.
            let _writing = self.writing()?;
            self.t().gone.remove(key)?;
        }
        Ok(expired.len())
    }

    /// Removes the delivery records of editions created at or before `until`, oldest first,
    /// from the cursor on.
    fn prune_deliveries(&self, until: i64, left: &mut usize) -> Result<usize> {
        let from = self.t().meta.get(DELIVERIES_CURSOR)?.map_or(0, |raw| u64_at(&raw, 0) + 1);
        let mut removed = 0;
        for entry in self.t().editions.range(from.to_be_bytes()..) {
            let (key, raw) = entry?;
            // An edition that does not read has no age: its records stay for its metadata's
            // turn, which removes it anyway.
            let created =
                from_json::<super::Edition>(&raw, "edition").map_or(i64::MAX, |e| e.created_at);
            if created > until || *left == 0 {
                break;
            }
            let (count, done) = self.remove_deliveries(&key, left)?;
            removed += count;
            if !done {
                break;
            }
            self.t().meta.insert(DELIVERIES_CURSOR, &key)?;
        }
        Ok(removed)
    }

    /// Removes up to `left` delivery records of one edition; returns how many and whether none
    /// is left.
    fn remove_deliveries(&self, edition: &[u8], left: &mut usize) -> Result<(usize, bool)> {
        let keys: Vec<sled::IVec> = self
            .t()
            .deliveries
            .scan_prefix(keys::edition_prefix(u64_at(edition, 0)))
            .keys()
            .take(*left + 1)
            .collect::<std::result::Result<_, _>>()?;
        let done = keys.len() <= *left;
        let keys = &keys[..keys.len().min(*left)];
        // The index entries go first: a crash between the two batches leaves records that the
        // next step finds again by their edition, never an index entry nothing leads to.
        let mut index = sled::Batch::default();
        let mut records = sled::Batch::default();
        for key in keys {
            if let Some(twin) = keys::chat_edition_of_delivery(key) {
                index.remove(twin);
            }
            records.remove(key.clone());
        }
        self.t().chat_editions.apply_batch(index)?;
        self.t().deliveries.apply_batch(records)?;
        *left -= keys.len();
        Ok((keys.len(), done))
    }

    /// Removes editions (and their jobs) created at or before `until`, with any delivery
    /// record still left of them; a job still running keeps its edition.
    fn prune_editions(&self, until: i64, left: &mut usize) -> Result<(usize, usize)> {
        let (mut editions, mut records) = (0, 0);
        for entry in self.t().editions.iter() {
            let (key, raw) = entry?;
            let created =
                from_json::<super::Edition>(&raw, "edition").map_or(i64::MIN, |e| e.created_at);
            if created > until || *left == 0 {
                break;
            }
            let running = self
                .t()
                .jobs
                .get(&key)?
                .and_then(|raw| self.open_json::<Job>(JOBS, &key, &raw, "job").ok())
                .is_some_and(|job| job.state == JobState::Running);
            if running {
                continue;
            }
            let (count, done) = self.remove_deliveries(&key, left)?;
            records += count;
            if !done || *left == 0 {
                break;
            }
            self.t().jobs.remove(&key)?;
            self.t().editions.remove(&key)?;
            editions += 1;
            *left -= 1;
        }
        Ok((editions, records))
    }

    /// Removes broadcast drafts created at or before `until` (sent, discarded or left open).
    fn prune_drafts(&self, until: i64, left: &mut usize) -> Result<usize> {
        // Draft ids are sequence numbers: the oldest come first.
        self.prune_by_age(&self.t().drafts, DRAFTS, until, left, |plain| {
            Some((from_json::<Draft>(plain, "draft").ok()?.created_at, None))
        })
    }

    /// Removes dead letters given up on at or before `until`, with their `dead_chats` entries.
    fn prune_dead_letters(&self, until: i64, left: &mut usize) -> Result<usize> {
        self.prune_by_age(&self.t().dead, DEAD, until, left, |plain| {
            let dead = from_json::<super::DeadLetter>(plain, "dead letter").ok()?;
            Some((dead.at, Some(dead.item.chat_id)))
        })
    }

    /// Removes audit entries made at or before `until`.
    fn prune_audit(&self, until: i64, left: &mut usize) -> Result<usize> {
        self.prune_by_age(&self.t().audit, AUDIT, until, left, |plain| {
            Some((from_json::<super::AuditEntry>(plain, "audit entry").ok()?.at, None))
        })
    }

    /// Removes entries from the front of a tree of sealed records keyed by sequence number
    /// while they are stamped at or before `until`, stopping at the first younger one.
    /// `stamped` reads an opened record's time and, for a tree with a by-chat index
    /// (`dead_chats`), its chat, whose index entry goes in the same batch. An entry that does
    /// not open or read has no age and goes too: it could never be shown (an index entry left
    /// behind leads nowhere, and the next rotation rebuilds the index).
    fn prune_by_age(
        &self,
        tree: &sled::Tree,
        name: &str,
        until: i64,
        left: &mut usize,
        stamped: impl Fn(&[u8]) -> Option<(i64, Option<i64>)>,
    ) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut index = sled::Batch::default();
        let mut removed = 0;
        for entry in tree.iter() {
            if *left == 0 {
                break;
            }
            let (key, raw) = entry?;
            let read = self.open_sealed(name, &key, &raw).ok().and_then(|plain| stamped(&plain));
            if let Some((at, chat)) = read {
                if at > until {
                    break;
                }
                if let Some(chat) = chat {
                    for tag in self.tags(chat) {
                        index.remove(&keys::by_chat_key(&tag, u64_at(&key, 0)));
                    }
                }
            }
            batch.remove(key);
            removed += 1;
            *left -= 1;
        }
        if name == DEAD {
            self.t().dead_chats.apply_batch(index)?;
        }
        tree.apply_batch(batch)?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
