//! The outbox, delivery records, editions, dead letters and the prisoner-status log.
//!
//! An outbox item is durable before it is sent and removed in the same transaction that
//! records Telegram's confirmation, so a crash loses nothing: at worst a message in flight at
//! the crash is sent again.

use super::{Result, Store, from_json, i64_at, key2, to_json, tx_error, u64_at};
use crate::content::Status;
// Shared by the layers above the store (the app, the engine, the adapter): they live below it.
pub use crate::message::{Edition, EditionKind, Op, OutboxItem};
use serde::{Deserialize, Serialize};
use sled::Transactional;

const ALERTED_KEY: &[u8] = b"alerted_through";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOutcome {
    Sent,
    /// The chat is gone (blocked, kicked, deleted); its subscription was deactivated.
    Deactivated,
    /// Given up after retries, or refused as malformed; see the dead letters.
    Failed,
}

/// What happened to one edition in one chat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub outcome: DeliveryOutcome,
    /// Telegram's ids of the messages sent, to correct or withdraw them later.
    pub message_ids: Vec<i32>,
    pub at: i64,
}

/// An item given up on, with the reason, for operators to inspect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub item: OutboxItem,
    pub error: String,
    pub at: i64,
}

/// A prisoner's status as it changed between two versions of the content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrisonerChange {
    pub prisoner: String,
    /// `None` when the person is new on the list.
    pub from: Option<Status>,
    pub to: Status,
    pub at: i64,
}

impl Store {
    /// Registers a new edition and returns its id.
    pub fn new_edition(&self, kind: EditionKind, now: i64) -> Result<u64> {
        let _writing = self.writing()?;
        let id = self.next_id()?;
        self.editions.insert(id.to_be_bytes(), to_json(&Edition { kind, created_at: now })?)?;
        Ok(id)
    }

    pub fn edition(&self, id: u64) -> Result<Option<Edition>> {
        self.editions.get(id.to_be_bytes())?.map(|raw| from_json(&raw, "edition")).transpose()
    }

    /// Puts messages in the outbox, durably, and returns them with their sequence numbers.
    pub fn enqueue(&self, items: Vec<OutboxItem>) -> Result<Vec<(u64, OutboxItem)>> {
        let _writing = self.writing()?;
        let mut batch = sled::Batch::default();
        let mut queued = Vec::with_capacity(items.len());
        for item in items {
            let seq = self.next_id()?;
            batch.insert(&seq.to_be_bytes(), to_json(&item)?);
            queued.push((seq, item));
        }
        self.outbox.apply_batch(batch)?;
        self.sync()?;
        Ok(queued)
    }

    /// Every unsent message, in the order it was queued.
    pub fn outbox(&self) -> Result<Vec<(u64, OutboxItem)>> {
        let mut items = Vec::new();
        for entry in self.outbox.iter() {
            let (key, raw) = entry?;
            match from_json(&raw, "outbox item") {
                Ok(item) => items.push((u64_at(&key, 0), item)),
                Err(e) => log::error!("skipping an unreadable outbox item: {e}"),
            }
        }
        Ok(items)
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Whether an item is still waiting (it may have been erased by `/stop`).
    pub fn is_queued(&self, seq: u64) -> Result<bool> {
        Ok(self.outbox.contains_key(seq.to_be_bytes())?)
    }

    /// Saves an item's changed state (attempt count, new chat id after a migration), only if
    /// it is still queued: `/stop` or a cancelled job may have removed it while it was being
    /// sent, and writing it back would send again to a chat that asked to be forgotten.
    /// Returns whether the item was still there (and so was updated).
    pub fn update_item(&self, seq: u64, item: &OutboxItem) -> Result<bool> {
        let _writing = self.writing()?;
        let raw = to_json(item)?;
        let old =
            self.outbox.fetch_and_update(seq.to_be_bytes(), |old| old.map(|_| raw.clone()))?;
        Ok(old.is_some())
    }

    /// Records a confirmed send and removes the item, in one transaction. Not flushed here:
    /// the delivery engine flushes these in groups, which bounds what a crash can resend.
    /// Returns false, having recorded nothing, when the item was no longer queued (see
    /// [`Store::mark_failed`]).
    pub fn mark_sent(
        &self,
        seq: u64,
        item: &OutboxItem,
        message_id: i32,
        now: i64,
    ) -> Result<bool> {
        self.finish(seq, item, DeliveryOutcome::Sent, Some(message_id), None, now)
    }

    /// Records a message that will not be delivered, and removes it. `dead` carries the
    /// reason for the dead-letter tree (failures, not deactivations).
    ///
    /// Returns false, having recorded nothing, when the item was no longer in the outbox:
    /// `/stop` erased its chat (a record written now would name the chat again) or its job
    /// was cancelled while it was in flight (a send that arrived is still recorded then, see
    /// `finish`).
    pub fn mark_failed(
        &self,
        seq: u64,
        item: &OutboxItem,
        outcome: DeliveryOutcome,
        dead: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        self.finish(seq, item, outcome, None, dead, now)
    }

    fn finish(
        &self,
        seq: u64,
        item: &OutboxItem,
        outcome: DeliveryOutcome,
        message_id: Option<i32>,
        dead: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let _writing = self.writing()?;
        let delivery_key = key2(item.edition.to_be_bytes(), item.chat_id.to_be_bytes());
        let chat_key = key2(item.chat_id.to_be_bytes(), item.edition.to_be_bytes());
        let letter = dead
            .map(|error| {
                to_json(&DeadLetter { item: item.clone(), error: error.to_string(), at: now })
            })
            .transpose()?;
        let chat = item.chat_id.to_be_bytes();
        (&self.outbox, &self.deliveries, &self.chat_editions, &self.dead, &self.subs)
            .transaction(|(outbox, deliveries, chat_editions, dead_tree, subs)| {
                // No longer queued: either `/stop` erased the chat (its subscription went in
                // the same transaction, and nothing may name the chat again), or the job was
                // cancelled while this was in flight. A message that did arrive then is still
                // recorded, so that withdrawing the cancelled broadcast deletes it too.
                if outbox.remove(&seq.to_be_bytes())?.is_none()
                    && !(outcome == DeliveryOutcome::Sent && subs.get(chat)?.is_some())
                {
                    return Ok(false);
                }
                let mut record = match deliveries.get(delivery_key)? {
                    Some(raw) => serde_json::from_slice(&raw).unwrap_or(DeliveryRecord {
                        outcome,
                        message_ids: Vec::new(),
                        at: now,
                    }),
                    None => DeliveryRecord { outcome, message_ids: Vec::new(), at: now },
                };
                // A partly delivered edition stays "sent"; a failure only wins when nothing arrived.
                if record.message_ids.is_empty() || outcome == DeliveryOutcome::Sent {
                    record.outcome = outcome;
                }
                record.message_ids.extend(message_id);
                record.at = now;
                let raw = serde_json::to_vec(&record).unwrap_or_default();
                deliveries.insert(&delivery_key, raw)?;
                chat_editions.insert(&chat_key, &[])?;
                if let Some(letter) = &letter {
                    dead_tree.insert(&seq.to_be_bytes(), letter.as_slice())?;
                }
                Ok(true)
            })
            .map_err(tx_error)
    }

    /// Every chat an edition reached or tried to reach.
    pub fn deliveries(&self, edition: u64) -> Result<Vec<(i64, DeliveryRecord)>> {
        let mut found = Vec::new();
        for entry in self.deliveries.scan_prefix(edition.to_be_bytes()) {
            let (key, raw) = entry?;
            found.push((i64_at(&key, 8), from_json(&raw, "delivery record")?));
        }
        Ok(found)
    }

    /// Dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        self.dead.iter().map(|entry| from_json(&entry?.1, "dead letter")).collect()
    }

    /// The prisoner-log position up to which alerts were queued.
    pub fn alerted_through(&self) -> Result<u64> {
        Ok(self.meta.get(ALERTED_KEY)?.map_or(0, |raw| u64_at(&raw, 0)))
    }

    /// Queues alerts and records how far the prisoner log was announced, in one transaction,
    /// then flushes: alerts are neither lost nor queued twice across a crash.
    pub fn enqueue_alerts(
        &self,
        items: Vec<OutboxItem>,
        through: u64,
    ) -> Result<Vec<(u64, OutboxItem)>> {
        let _writing = self.writing()?;
        let mut queued = Vec::with_capacity(items.len());
        for item in items {
            let raw = to_json(&item)?;
            queued.push((self.next_id()?, item, raw));
        }
        (&self.outbox, &self.meta)
            .transaction(|(outbox, meta)| {
                for (seq, _, raw) in &queued {
                    outbox.insert(&seq.to_be_bytes(), raw.as_slice())?;
                }
                meta.insert(ALERTED_KEY, &through.to_be_bytes())?;
                Ok(())
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(queued.into_iter().map(|(seq, item, _)| (seq, item)).collect())
    }

    /// The newest prisoner-log sequence number (0 when empty).
    pub fn prisoner_log_head(&self) -> Result<u64> {
        Ok(self.prisoner_log.last()?.map_or(0, |(key, _)| u64_at(&key, 0)))
    }

    /// Changes logged after `seen`, oldest first.
    pub fn prisoner_changes_after(&self, seen: u64) -> Result<Vec<(u64, PrisonerChange)>> {
        let start = (seen + 1).to_be_bytes();
        let mut found = Vec::new();
        for entry in self.prisoner_log.range(start..) {
            let (key, raw) = entry?;
            found.push((u64_at(&key, 0), from_json(&raw, "prisoner change")?));
        }
        Ok(found)
    }
}
