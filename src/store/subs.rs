//! Subscriptions and the due index, kept in step by transactions.

use super::{OutboxItem, Result, Store, StoreError, from_json, key2, to_json, tx_error, u64_at};
use crate::subscription::Subscription;
use sled::{
    Transactional,
    transaction::{ConflictableTransactionError, TransactionalTree},
};

/// Due time (Unix seconds, never negative here) then chat id, both big-endian. The chat id's
/// sign bit is flipped so that negative ids (groups, channels) sort before positive ones and a
/// range up to `(t, i64::MAX)` holds every chat due at `t`.
pub(super) fn due_key(due: i64, chat_id: i64) -> [u8; 16] {
    key2((due.max(0) as u64).to_be_bytes(), ((chat_id as u64) ^ (1 << 63)).to_be_bytes())
}

/// The `gone` index: when a chat was deactivated, then the chat, laid out as the due index
/// (so whatever the due index's chat part becomes, this follows), oldest first.
pub(super) fn gone_key(at: i64, chat_id: i64) -> [u8; 16] {
    due_key(at, chat_id)
}

/// The chat of a due-index or `gone` key.
pub(super) fn due_chat(key: &[u8]) -> i64 {
    (u64_at(key, 8) ^ (1 << 63)) as i64
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// What committing a composed digest did.
#[derive(Debug, PartialEq)]
pub enum Committed {
    /// Saved, with these messages queued.
    Queued(Vec<(u64, OutboxItem)>),
    /// The chat was erased meanwhile: nothing written.
    Erased,
    /// The subscription changed meanwhile: nothing written; compose again.
    Changed,
}

/// When a deactivated subscription's grace period started, if it is in the `gone` index.
pub(super) fn gone_since(sub: &Subscription) -> Option<i64> {
    if sub.active { None } else { sub.deactivated_at }
}

/// Within a transaction: stores a subscription and moves its due-index entry from the stored
/// version's due time to the new one, and its `gone` entry likewise.
fn write_subscription(
    subs: &TransactionalTree,
    due: &TransactionalTree,
    gone: &TransactionalTree,
    sub: &Subscription,
    json: &[u8],
) -> std::result::Result<(), ConflictableTransactionError<StoreError>> {
    let chat = sub.chat_id.to_be_bytes();
    if let Some(old) = subs.get(chat)? {
        let old: Subscription = from_json(&old, "subscription").map_err(abort)?;
        if let Some(at) = old.next_due {
            due.remove(&due_key(at, old.chat_id))?;
        }
        if let Some(at) = gone_since(&old) {
            gone.remove(&gone_key(at, old.chat_id))?;
        }
    }
    subs.insert(&chat, json)?;
    if let Some(at) = sub.next_due {
        due.insert(&due_key(at, sub.chat_id), &[])?;
    }
    if let Some(at) = gone_since(sub) {
        gone.insert(&gone_key(at, sub.chat_id), &[])?;
    }
    Ok(())
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
        self.sync()?;
        Ok(())
    }

    /// Saves a subscription and moves its due-index entry in one transaction, unflushed.
    pub(super) fn put_subscription(&self, sub: &Subscription) -> Result<()> {
        let _writing = self.writing()?;
        let json = to_json(sub)?;
        (&self.subs, &self.due, &self.gone)
            .transaction(|(subs, due, gone)| {
                write_subscription(subs, due, gone, sub, &json)?;
                Ok(())
            })
            .map_err(tx_error)
    }

    /// Loads many subscriptions at once (migrations, benchmarks): batched writes to the
    /// subscription and due trees, one flush at the end. Existing entries with the same chat
    /// id are overwritten, but their old due entries are not removed: use on fresh stores.
    pub fn load_subscriptions(
        &self,
        subs: impl IntoIterator<Item = Subscription>,
    ) -> Result<usize> {
        let _writing = self.writing()?;
        let mut count = 0;
        let mut sub_batch = sled::Batch::default();
        let mut due_batch = sled::Batch::default();
        let mut gone_batch = sled::Batch::default();
        for sub in subs {
            sub_batch.insert(&sub.chat_id.to_be_bytes(), to_json(&sub)?);
            if let Some(at) = sub.next_due {
                due_batch.insert(&due_key(at, sub.chat_id), &[]);
            }
            if let Some(at) = gone_since(&sub) {
                gone_batch.insert(&gone_key(at, sub.chat_id), &[]);
            }
            count += 1;
            // Small batches, each flushed: sled keeps a big unflushed batch's pages in memory
            // (a million subscriptions in batches of 10,000 left 6 GB; see BENCHMARKS.md).
            if count % 1_000 == 0 {
                self.subs.apply_batch(std::mem::take(&mut sub_batch))?;
                self.due.apply_batch(std::mem::take(&mut due_batch))?;
                self.gone.apply_batch(std::mem::take(&mut gone_batch))?;
                self.sync()?;
            }
        }
        self.subs.apply_batch(sub_batch)?;
        self.due.apply_batch(due_batch)?;
        self.gone.apply_batch(gone_batch)?;
        self.sync()?;
        Ok(count)
    }

    /// Records a composed digest in one transaction: the subscription's new state (rotation,
    /// next due time) and the messages in the outbox. Not flushed: the caller flushes once per
    /// batch, before anything is sent.
    ///
    /// `read` is the subscription as it was read for composing. Writes nothing when the stored
    /// one is no longer that: `/stop` erased the chat meanwhile (writing it back would subscribe
    /// the chat again), or the reader changed a setting (writing it back would undo the change;
    /// the digest is composed again from the new settings).
    pub fn commit_digest(
        &self,
        read: &Subscription,
        sub: &Subscription,
        items: &[OutboxItem],
    ) -> Result<Committed> {
        let _writing = self.writing()?;
        let json = to_json(sub)?;
        let mut queued = Vec::with_capacity(items.len());
        for item in items {
            queued.push((self.next_id()?, item.clone(), to_json(item)?));
        }
        let outcome = (&self.subs, &self.due, &self.gone, &self.outbox)
            .transaction(|(subs, due, gone, outbox)| {
                let Some(raw) = subs.get(sub.chat_id.to_be_bytes())? else {
                    return Ok(Committed::Erased);
                };
                let stored: Subscription = from_json(&raw, "subscription").map_err(abort)?;
                if stored != *read {
                    return Ok(Committed::Changed);
                }
                write_subscription(subs, due, gone, sub, &json)?;
                for (seq, _, raw) in &queued {
                    outbox.insert(&seq.to_be_bytes(), raw.as_slice())?;
                }
                Ok(Committed::Queued(Vec::new()))
            })
            .map_err(tx_error)?;
        Ok(match outcome {
            Committed::Queued(_) => {
                Committed::Queued(queued.into_iter().map(|(seq, item, _)| (seq, item)).collect())
            }
            other => other,
        })
    }

    /// Chats due at or before `until` (Unix seconds), earliest first, at most `limit`.
    pub fn due_until(&self, until: i64, limit: usize) -> Result<Vec<(i64, i64)>> {
        let end = due_key(until, i64::MAX);
        let mut found = Vec::new();
        for entry in self.due.range(..=end.as_slice()).take(limit) {
            let (key, _) = entry?;
            found.push((u64_at(&key, 0) as i64, due_chat(&key)));
        }
        Ok(found)
    }

    /// When the earliest digest is due, if any is scheduled.
    pub fn first_due(&self) -> Result<Option<i64>> {
        Ok(self.due.first()?.map(|(key, _)| u64_at(&key, 0) as i64))
    }

    /// Marks a chat gone (blocked the bot, was deleted, removed the bot) at `now`: no more
    /// digests, kept for counts until the retention's grace period has passed (then erased as
    /// by `/stop`). Returns whether it was active.
    pub fn deactivate(&self, chat_id: i64, now: i64) -> Result<bool> {
        let _writing = self.writing()?;
        // Read and written in one transaction: a chat erased by `/stop` meanwhile stays erased,
        // and a setting changed meanwhile is kept.
        let was = (&self.subs, &self.due, &self.gone)
            .transaction(|(subs, due, gone)| {
                let Some(raw) = subs.get(chat_id.to_be_bytes())? else { return Ok(false) };
                let mut sub: Subscription = from_json(&raw, "subscription").map_err(abort)?;
                let was = sub.active;
                if !was && sub.deactivated_at.is_some() {
                    // Gone already: the grace period runs from the first time.
                    return Ok(false);
                }
                sub.active = false;
                sub.next_due = None;
                sub.deactivated_at = Some(now);
                let json = to_json(&sub).map_err(abort)?;
                write_subscription(subs, due, gone, &sub, &json)?;
                Ok(was)
            })
            .map_err(tx_error)?;
        self.sync()?;
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
        let _writing = self.writing()?;
        let settings = self.chats.get(from.to_be_bytes())?;
        let sub = self.subscription(from)?;
        (&self.chats, &self.subs, &self.due, &self.gone)
            .transaction(|(chats, subs, due, gone)| {
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
                    if let Some(at) = gone_since(sub) {
                        gone.remove(&gone_key(at, from))?;
                        gone.insert(&gone_key(at, to), &[])?;
                    }
                    let mut moved = sub.clone();
                    moved.chat_id = to;
                    subs.insert(&to.to_be_bytes(), to_json(&moved).map_err(abort)?)?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        content::Lang, store::testing::subscribed_with_queued_item, subscription::ChatKind,
    };

    #[test]
    fn the_due_index_holds_groups_and_users_alike() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for (chat, due) in [(5, 100), (-1_001_234, 100), (7, 101), (-9, 99)] {
            let mut sub = Subscription::new(
                chat,
                if chat < 0 { ChatKind::Group } else { ChatKind::Private },
                Lang::En,
            );
            sub.next_due = Some(due);
            store.save_subscription(&sub).unwrap();
        }
        assert_eq!(store.due_until(100, 10).unwrap(), vec![(99, -9), (100, -1_001_234), (100, 5)]);
        assert_eq!(store.first_due().unwrap(), Some(99));
    }

    #[test]
    fn a_setting_changed_while_a_digest_is_composed_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (_, item) = subscribed_with_queued_item(&store, 490_049);
        let read = store.subscription(490_049).unwrap().unwrap();
        let mut changed = read.clone();
        changed.lang = Lang::Ru;
        store.save_subscription(&changed).unwrap();
        let mut composed = read.clone();
        composed.next_due = Some(300);
        let before = store.outbox_len();
        let committed = store.commit_digest(&read, &composed, std::slice::from_ref(&item)).unwrap();
        assert_eq!(committed, Committed::Changed);
        assert_eq!(store.subscription(490_049).unwrap().unwrap(), changed);
        assert_eq!(store.outbox_len(), before, "nothing queued from the old settings");
        // Composed again from what is stored, it commits.
        let mut again = changed.clone();
        again.next_due = Some(300);
        let committed = store.commit_digest(&changed, &again, &[item]).unwrap();
        assert!(matches!(committed, Committed::Queued(q) if q.len() == 1));
        assert_eq!(store.subscription(490_049).unwrap().unwrap(), again);
    }

    // Regression: a digest composed from a subscription read before `/stop` wrote the
    // subscription back when committed, subscribing the erased chat again.
    #[test]
    fn a_digest_composed_before_stop_is_not_committed_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (_, item) = subscribed_with_queued_item(&store, 480_048);
        let read_before_stop = store.subscription(480_048).unwrap().unwrap();
        store.erase_chat(480_048).unwrap();
        let mut composed = read_before_stop.clone();
        composed.next_due = Some(200);
        let committed = store.commit_digest(&read_before_stop, &composed, &[item]).unwrap();
        assert_eq!(committed, Committed::Erased);
        assert_eq!(store.trees_naming(480_048).unwrap(), Vec::<String>::new());
        assert_eq!(store.first_due().unwrap(), None);
    }
}
