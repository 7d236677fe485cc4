//! Subscriptions and the due index, kept in step by transactions.

use super::{
    OutboxItem, Result, Store, StoreError, from_json, i64_at, key2, to_json, tx_error, u64_at,
};
use crate::subscription::Subscription;
use sled::{Transactional, transaction::ConflictableTransactionError};

/// Telegram's chat ids fit in i64; due times are Unix seconds (never negative here).
fn due_key(due: i64, chat_id: i64) -> [u8; 16] {
    key2((due.max(0) as u64).to_be_bytes(), chat_id.to_be_bytes())
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

impl Store {
    /// A chat's subscription, if it has one.
    pub fn subscription(&self, chat_id: i64) -> Result<Option<Subscription>> {
        match self.subs.get(chat_id.to_be_bytes())? {
            None => Ok(None),
            Some(raw) => match from_json(&raw, "subscription") {
                Ok(sub) => Ok(Some(sub)),
                Err(e) => {
                    // Unreadable state must not lock a chat out: it can subscribe afresh.
                    log::warn!("a stored subscription does not parse ({e}); treating it as absent");
                    Ok(None)
                }
            },
        }
    }

    /// Saves a subscription and moves its due-index entry, atomically and durably.
    pub fn save_subscription(&self, sub: &Subscription) -> Result<()> {
        self.put_subscription(sub)?;
        self.db.flush()?;
        Ok(())
    }

    fn put_subscription(&self, sub: &Subscription) -> Result<()> {
        let json = to_json(sub)?;
        let chat = sub.chat_id.to_be_bytes();
        (&self.subs, &self.due)
            .transaction(|(subs, due)| {
                if let Some(old) = subs.get(chat)? {
                    let old: Subscription = from_json(&old, "subscription").map_err(abort)?;
                    if let Some(at) = old.next_due {
                        due.remove(&due_key(at, old.chat_id))?;
                    }
                }
                subs.insert(&chat, json.as_slice())?;
                if let Some(at) = sub.next_due {
                    due.insert(&due_key(at, sub.chat_id), &[])?;
                }
                Ok(())
            })
            .map_err(tx_error)
    }

    /// Records a composed digest in one transaction: the subscription's new state (rotation,
    /// next due time) and the messages in the outbox. Not flushed: the caller flushes once per
    /// batch, before anything is sent.
    pub fn commit_digest(
        &self,
        sub: &Subscription,
        items: &[OutboxItem],
    ) -> Result<Vec<(u64, OutboxItem)>> {
        let json = to_json(sub)?;
        let mut queued = Vec::with_capacity(items.len());
        for item in items {
            queued.push((self.next_id()?, item.clone(), to_json(item)?));
        }
        let chat = sub.chat_id.to_be_bytes();
        (&self.subs, &self.due, &self.outbox)
            .transaction(|(subs, due, outbox)| {
                if let Some(old) = subs.get(chat)? {
                    let old: Subscription = from_json(&old, "subscription").map_err(abort)?;
                    if let Some(at) = old.next_due {
                        due.remove(&due_key(at, old.chat_id))?;
                    }
                }
                subs.insert(&chat, json.as_slice())?;
                if let Some(at) = sub.next_due {
                    due.insert(&due_key(at, sub.chat_id), &[])?;
                }
                for (seq, _, raw) in &queued {
                    outbox.insert(&seq.to_be_bytes(), raw.as_slice())?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        Ok(queued.into_iter().map(|(seq, item, _)| (seq, item)).collect())
    }

    /// Chats due at or before `until` (Unix seconds), earliest first, at most `limit`.
    pub fn due_until(&self, until: i64, limit: usize) -> Result<Vec<(i64, i64)>> {
        let end = due_key(until, i64::MAX);
        let mut found = Vec::new();
        for entry in self.due.range(..=end.as_slice()).take(limit) {
            let (key, _) = entry?;
            found.push((u64_at(&key, 0) as i64, i64_at(&key, 8)));
        }
        Ok(found)
    }

    /// When the earliest digest is due, if any is scheduled.
    pub fn first_due(&self) -> Result<Option<i64>> {
        Ok(self.due.first()?.map(|(key, _)| u64_at(&key, 0) as i64))
    }

    /// Marks a chat gone (blocked the bot, was deleted, removed the bot): no more digests,
    /// kept for counts. Returns whether it was active.
    pub fn deactivate(&self, chat_id: i64) -> Result<bool> {
        let Some(mut sub) = self.subscription(chat_id)? else { return Ok(false) };
        let was = sub.active;
        sub.active = false;
        sub.next_due = None;
        self.save_subscription(&sub)?;
        Ok(was)
    }

    /// Every subscription (for fan-outs and counts); unreadable ones are skipped with a warning.
    pub fn subscriptions(&self) -> impl Iterator<Item = Subscription> + '_ {
        self.subs.iter().filter_map(|entry| {
            let (_, raw) = entry.ok()?;
            from_json(&raw, "subscription")
                .map_err(|e| log::warn!("skipping a subscription: {e}"))
                .ok()
        })
    }

    pub fn subscription_count(&self) -> usize {
        self.subs.len()
    }

    /// Moves everything about a group to its new supergroup id, atomically and durably.
    pub fn migrate_chat(&self, from: i64, to: i64) -> Result<()> {
        let settings = self.chats.get(from.to_be_bytes())?;
        let sub = self.subscription(from)?;
        (&self.chats, &self.subs, &self.due)
            .transaction(|(chats, subs, due)| {
                if let Some(raw) = &settings {
                    chats.remove(&from.to_be_bytes())?;
                    chats.insert(&to.to_be_bytes(), raw.clone())?;
                }
                if let Some(sub) = &sub {
                    subs.remove(&from.to_be_bytes())?;
                    if let Some(at) = sub.next_due {
                        due.remove(&due_key(at, from))?;
                        due.insert(&due_key(at, to), &[])?;
                    }
                    let mut moved = sub.clone();
                    moved.chat_id = to;
                    subs.insert(&to.to_be_bytes(), to_json(&moved).map_err(abort)?)?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.db.flush()?;
        Ok(())
    }

    /// Erases everything stored about a chat: settings, subscription, due entry, delivery
    /// records and unsent messages. Durable when it returns.
    pub fn erase_chat(&self, chat_id: i64) -> Result<()> {
        let chat = chat_id.to_be_bytes();
        if let Some(sub) = self.subscription(chat_id)?
            && let Some(at) = sub.next_due
        {
            self.due.remove(due_key(at, chat_id))?;
        }
        self.subs.remove(chat)?;
        self.chats.remove(chat)?;
        for entry in self.chat_editions.scan_prefix(chat) {
            let (key, _) = entry?;
            let edition = u64_at(&key, 8);
            self.deliveries.remove(key2(edition.to_be_bytes(), chat))?;
            self.chat_editions.remove(key)?;
        }
        for entry in self.outbox.iter() {
            let (key, raw) = entry?;
            if from_json::<OutboxItem>(&raw, "outbox item")
                .is_ok_and(|item| item.chat_id == chat_id)
            {
                self.outbox.remove(key)?;
            }
        }
        self.db.flush()?;
        Ok(())
    }
}
