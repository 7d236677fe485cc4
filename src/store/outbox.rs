//! The outbox, delivery records, editions, dead letters and the prisoner-status log.
//!
//! An outbox item is durable before it is sent and removed in the same transaction that
//! records Telegram's confirmation, so a crash loses nothing: at worst a message in flight at
//! the crash is sent again.

use super::{
    DEAD, DELIVERIES, OUTBOX, Result, Store, StoreError, from_json, i64_at, keys, to_json,
    tx_error, u64_at,
};
use crate::content::Status;
// Shared by the layers above the store (the app, the engine, the adapter): they live below it.
pub use crate::message::{Edition, EditionKind, Op, OutboxItem};
use serde::{Deserialize, Serialize};
use sled::Transactional;

const ALERTED_KEY: &[u8] = b"alerted_through";

/// Outbox items with the seq each was queued as, in that order.
pub type Queued = Vec<(u64, OutboxItem)>;

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
        self.t().editions.insert(id.to_be_bytes(), to_json(&Edition { kind, created_at: now })?)?;
        Ok(id)
    }

    pub fn edition(&self, id: u64) -> Result<Option<Edition>> {
        self.t().editions.get(id.to_be_bytes())?.map(|raw| from_json(&raw, "edition")).transpose()
    }

    /// Puts messages in the outbox, durably, and returns them with their sequence numbers.
    pub fn enqueue(&self, items: Vec<OutboxItem>) -> Result<Vec<(u64, OutboxItem)>> {
        let _writing = self.writing()?;
        let mut batch = sled::Batch::default();
        let mut index = sled::Batch::default();
        let mut queued = Vec::with_capacity(items.len());
        for item in items {
            let seq = self.next_id()?;
            let key = keys::seq_key(seq);
            batch.insert(&key, self.seal_json(OUTBOX, &key, &item)?);
            index.insert(&keys::by_chat_key(&self.tag(item.chat_id), seq), &[]);
            queued.push((seq, item));
        }
        // The index first: an entry without its item is skipped by `/stop`, an item without its
        // entry would be missed.
        self.t().outbox_chats.apply_batch(index)?;
        self.t().outbox.apply_batch(batch)?;
        self.sync()?;
        Ok(queued)
    }

    /// Every unsent message, in the order it was queued.
    pub fn outbox(&self) -> Result<Vec<(u64, OutboxItem)>> {
        let mut items = Vec::new();
        for entry in self.t().outbox.iter() {
            let (key, raw) = entry?;
            match self.open_json(OUTBOX, &key, &raw, "outbox item") {
                Ok(item) => items.push((u64_at(&key, 0), item)),
                Err(e) => log::error!("skipping an unreadable outbox item: {e}"),
            }
        }
        Ok(items)
    }

    /// At most `limit` unsent messages from `seq` on, in the order they were queued (what the
    /// delivery engine reads back when it has room), and the seq the next page starts at
    /// (`None`: this one reached the end).
    pub fn outbox_from(&self, seq: u64, limit: usize) -> Result<(Queued, Option<u64>)> {
        let mut items = Vec::new();
        let mut scanned = 0;
        let mut last = seq;
        for entry in self.t().outbox.range(keys::seq_key(seq)..).take(limit) {
            let (key, raw) = entry?;
            scanned += 1;
            last = u64_at(&key, 0);
            match self.open_json(OUTBOX, &key, &raw, "outbox item") {
                Ok(item) => items.push((last, item)),
                Err(e) => log::error!("skipping an unreadable outbox item: {e}"),
            }
        }
        Ok((items, (scanned == limit && limit > 0).then(|| last.saturating_add(1))))
    }

    /// The unsent messages queued for one chat, in the order queued: through the by-chat
    /// index, so O(that chat's items) whatever the outbox holds.
    pub fn queued_for(&self, chat_id: i64) -> Result<Queued> {
        self.read_forwarded(chat_id, || {
            let tag = self.tag(chat_id);
            let mut items = Vec::new();
            for entry in self.t().outbox_chats.scan_prefix(keys::chat_prefix(&tag)) {
                let seq = keys::by_chat_seq(&entry?.0);
                let key = keys::seq_key(seq);
                if let Some(raw) = self.t().outbox.get(key)?
                    && let Some(item) = self.outbox_item(&key, &raw)
                {
                    items.push((seq, item));
                }
            }
            Ok(items)
        })
    }

    /// The outbox item queued as `seq`, if it is still there and reads.
    pub(super) fn outbox_item(&self, key: &[u8], raw: &[u8]) -> Option<OutboxItem> {
        self.open_json(OUTBOX, key, raw, "outbox item").ok()
    }

    /// How many items wait: a walk over the whole outbox (sled counts by iterating), so for
    /// reports, not for loops; [`Store::outbox_is_empty`] is the cheap question.
    pub fn outbox_len(&self) -> usize {
        self.t().outbox.len()
    }

    /// Whether nothing waits in the outbox: one step of an iterator, whatever it holds.
    pub fn outbox_is_empty(&self) -> bool {
        self.t().outbox.is_empty()
    }

    /// Whether an item is still waiting (it may have been erased by `/stop`).
    pub fn is_queued(&self, seq: u64) -> Result<bool> {
        Ok(self.t().outbox.contains_key(keys::seq_key(seq))?)
    }

    /// Saves an item's changed state (attempt count, new chat id after a migration), only if
    /// it is still queued: `/stop` or a cancelled job may have removed it while it was being
    /// sent, and writing it back would send again to a chat that asked to be forgotten.
    /// Returns whether the item was still there (and so was updated).
    pub fn update_item(&self, seq: u64, item: &OutboxItem) -> Result<bool> {
        let _writing = self.writing_for(&[item.chat_id])?;
        let key = keys::seq_key(seq);
        let sealed = self.seal_json(OUTBOX, &key, item)?;
        let tag = self.tag(item.chat_id);
        (&self.t().outbox, &self.t().outbox_chats)
            .transaction(|(outbox, outbox_chats)| {
                let Some(raw) = outbox.get(key)? else { return Ok(false) };
                // A migrated chat's item moves to its new id in the index too.
                if let Some(old) = self.outbox_item(&key, &raw)
                    && old.chat_id != item.chat_id
                {
                    for tag in self.tags(old.chat_id) {
                        outbox_chats.remove(&keys::by_chat_key(&tag, seq))?;
                    }
                }
                outbox_chats.insert(&keys::by_chat_key(&tag, seq), &[])?;
                outbox.insert(&key, sealed.as_slice())?;
                Ok(true)
            })
            .map_err(tx_error)
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
        let _writing = self.writing_for(&[item.chat_id])?;
        let tag = self.tag(item.chat_id);
        let delivery_key = keys::delivery_key(item.edition, &tag);
        let chat_key = keys::chat_edition_key(&tag, item.edition);
        let seq_key = keys::seq_key(seq);
        let index_key = keys::by_chat_key(&tag, seq);
        let letter = dead
            .map(|error| {
                let letter = DeadLetter { item: item.clone(), error: error.to_string(), at: now };
                self.seal_json(DEAD, &seq_key, &letter)
            })
            .transpose()?;
        let trees = (
            &self.t().outbox,
            &self.t().outbox_chats,
            &self.t().deliveries,
            &self.t().chat_editions,
            &self.t().dead,
            &self.t().dead_chats,
            &self.t().subs,
        );
        trees
            .transaction(
                |(outbox, outbox_chats, deliveries, chat_editions, dead_tree, dead_chats, subs)| {
                    // No longer queued: either `/stop` erased the chat (its subscription went in
                    // the same transaction, and nothing may name the chat again), or the job was
                    // cancelled while this was in flight. A message that did arrive then is still
                    // recorded, so that withdrawing the cancelled broadcast deletes it too.
                    outbox_chats.remove(&index_key)?;
                    if outbox.remove(&seq_key)?.is_none()
                        && !(outcome == DeliveryOutcome::Sent
                            && subs.get(keys::chat_key(&tag))?.is_some())
                    {
                        return Ok(false);
                    }
                    let fresh = DeliveryRecord { outcome, message_ids: Vec::new(), at: now };
                    let mut record = match deliveries.get(delivery_key)? {
                        Some(raw) => {
                            self.open_delivery(&delivery_key, &raw).map_or(fresh, |(_, r)| r)
                        }
                        None => fresh,
                    };
                    // A partly delivered edition stays "sent"; a failure only wins when nothing arrived.
                    if record.message_ids.is_empty() || outcome == DeliveryOutcome::Sent {
                        record.outcome = outcome;
                    }
                    record.message_ids.extend(message_id);
                    record.at = now;
                    let sealed = self
                        .seal_delivery(&delivery_key, item.chat_id, &record)
                        .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                    deliveries.insert(&delivery_key, sealed)?;
                    chat_editions.insert(&chat_key, &[])?;
                    if let Some(letter) = &letter {
                        dead_tree.insert(&seq_key, letter.as_slice())?;
                        dead_chats.insert(&index_key, &[])?;
                    }
                    Ok(true)
                },
            )
            .map_err(tx_error)
    }

    /// A delivery record's value: the chat id (8 bytes) and the record, sealed.
    fn seal_delivery(&self, key: &[u8], chat: i64, record: &DeliveryRecord) -> Result<Vec<u8>> {
        let mut plain = chat.to_be_bytes().to_vec();
        plain.extend_from_slice(&to_json(record)?);
        Ok(self.seal(DELIVERIES, key, &plain))
    }

    fn open_delivery(&self, key: &[u8], raw: &[u8]) -> Result<(i64, DeliveryRecord)> {
        let plain = self.open_sealed(DELIVERIES, key, raw)?;
        if plain.len() < 8 {
            return Err(StoreError::Corrupt("a delivery record".into()));
        }
        Ok((i64_at(&plain, 0), from_json(&plain[8..], "delivery record")?))
    }

    /// Every chat an edition reached or tried to reach.
    pub fn deliveries(&self, edition: u64) -> Result<Vec<(i64, DeliveryRecord)>> {
        let mut found = Vec::new();
        for entry in self.t().deliveries.scan_prefix(keys::edition_prefix(edition)) {
            let (key, raw) = entry?;
            found.push(self.open_delivery(&key, &raw)?);
        }
        Ok(found)
    }

    /// Dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        self.t()
            .dead
            .iter()
            .map(|entry| {
                let (key, raw) = entry?;
                self.open_json(DEAD, &key, &raw, "dead letter")
            })
            .collect()
    }

    /// The prisoner-log position up to which alerts were queued.
    pub fn alerted_through(&self) -> Result<u64> {
        Ok(self.t().meta.get(ALERTED_KEY)?.map_or(0, |raw| u64_at(&raw, 0)))
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
            queued.push((self.next_id()?, item));
        }
        (&self.t().outbox, &self.t().outbox_chats, &self.t().meta)
            .transaction(|(outbox, outbox_chats, meta)| {
                for (seq, item) in &queued {
                    self.put_item(outbox, outbox_chats, *seq, item)?;
                }
                meta.insert(ALERTED_KEY, &through.to_be_bytes())?;
                Ok(())
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(queued)
    }

    /// The newest prisoner-log sequence number (0 when empty).
    pub fn prisoner_log_head(&self) -> Result<u64> {
        Ok(self.t().prisoner_log.last()?.map_or(0, |(key, _)| u64_at(&key, 0)))
    }

    /// Changes logged after `seen`, oldest first.
    pub fn prisoner_changes_after(&self, seen: u64) -> Result<Vec<(u64, PrisonerChange)>> {
        let start = (seen + 1).to_be_bytes();
        let mut found = Vec::new();
        for entry in self.t().prisoner_log.range(start..) {
            let (key, raw) = entry?;
            found.push((u64_at(&key, 0), from_json(&raw, "prisoner change")?));
        }
        Ok(found)
    }
}
