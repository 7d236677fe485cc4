//! Subscriptions and the due index, kept in step by transactions.

use super::{DUE, GONE, OUTBOX, OutboxItem, Result, SUBS, Store, StoreError, keys, tx_error};
use crate::subscription::Subscription;
use sled::{
    Transactional,
    transaction::{ConflictableTransactionError, TransactionalTree},
};

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

impl Store {
    /// Within a transaction: the subscription stored for `tag`, if any.
    pub(super) fn stored_subscription(
        &self,
        subs: &TransactionalTree,
        tag: &keys::Tag,
    ) -> std::result::Result<Option<Subscription>, ConflictableTransactionError<StoreError>> {
        let key = keys::chat_key(tag);
        match subs.get(key)? {
            None => Ok(None),
            Some(raw) => Ok(Some(self.open_json(SUBS, &key, &raw, "subscription").map_err(abort)?)),
        }
    }

    /// Within a transaction: stores a subscription and moves its due-index entry from the
    /// stored version's due time to the new one, and its `gone` entry likewise.
    pub(super) fn write_subscription(
        &self,
        subs: &TransactionalTree,
        due: &TransactionalTree,
        gone: &TransactionalTree,
        sub: &Subscription,
    ) -> std::result::Result<(), ConflictableTransactionError<StoreError>> {
        let tag = self.tag(sub.chat_id);
        if let Some(old) = self.stored_subscription(subs, &tag)? {
            if let Some(at) = old.next_due {
                due.remove(&keys::due_key(at, &tag))?;
            }
            if let Some(at) = gone_since(&old) {
                gone.remove(&keys::gone_key(at, &tag))?;
            }
        }
        let key = keys::chat_key(&tag);
        subs.insert(&key, self.seal_json(SUBS, &key, sub).map_err(abort)?)?;
        if let Some(at) = sub.next_due {
            let key = keys::due_key(at, &tag);
            due.insert(&key, self.seal(DUE, &key, &sub.chat_id.to_be_bytes()))?;
        }
        if let Some(at) = gone_since(sub) {
            let key = keys::gone_key(at, &tag);
            gone.insert(&key, self.seal(GONE, &key, &sub.chat_id.to_be_bytes()))?;
        }
        Ok(())
    }

    /// A chat's subscription, if it has one.
    pub fn subscription(&self, chat_id: i64) -> Result<Option<Subscription>> {
        let (key, raw) = self.read_forwarded(chat_id, || {
            let key = keys::chat_key(&self.tag(chat_id));
            Ok((key, self.t().subs.get(key)?))
        })?;
        match raw {
            None => Ok(None),
            Some(raw) => match self.open_json(SUBS, &key, &raw, "subscription") {
                Ok(sub) => Ok(Some(sub)),
                Err(e) => {
                    // Unreadable state must not lock a chat out: it can subscribe afresh.
                    log::warn!("a stored subscription does not read ({e}); treating it as absent");
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
        let _writing = self.writing_for(&[sub.chat_id])?;
        (&self.t().subs, &self.t().due, &self.t().gone)
            .transaction(|(subs, due, gone)| {
                self.write_subscription(subs, due, gone, sub)?;
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
            let tag = self.tag(sub.chat_id);
            let key = keys::chat_key(&tag);
            sub_batch.insert(&key, self.seal_json(SUBS, &key, &sub)?);
            if let Some(at) = sub.next_due {
                let key = keys::due_key(at, &tag);
                due_batch.insert(&key, self.seal(DUE, &key, &sub.chat_id.to_be_bytes()));
            }
            if let Some(at) = gone_since(&sub) {
                let key = keys::gone_key(at, &tag);
                gone_batch.insert(&key, self.seal(GONE, &key, &sub.chat_id.to_be_bytes()));
            }
            count += 1;
            // Small batches, each flushed: sled keeps a big unflushed batch's pages in memory
            // (a million subscriptions in batches of 10,000 left 6 GB; see BENCHMARKS.md).
            if count % 1_000 == 0 {
                self.t().subs.apply_batch(std::mem::take(&mut sub_batch))?;
                self.t().due.apply_batch(std::mem::take(&mut due_batch))?;
                self.t().gone.apply_batch(std::mem::take(&mut gone_batch))?;
                self.sync()?;
            }
        }
        self.t().subs.apply_batch(sub_batch)?;
        self.t().due.apply_batch(due_batch)?;
        self.t().gone.apply_batch(gone_batch)?;
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
        let _writing = self.writing_for(&[sub.chat_id])?;
        let mut queued = Vec::with_capacity(items.len());
        for item in items {
            queued.push((self.next_id()?, item.clone()));
        }
        let tag = self.tag(sub.chat_id);
        let outcome = (
            &self.t().subs,
            &self.t().due,
            &self.t().gone,
            &self.t().outbox,
            &self.t().outbox_chats,
        )
            .transaction(|(subs, due, gone, outbox, outbox_chats)| {
                let Some(stored) = self.stored_subscription(subs, &tag)? else {
                    return Ok(Committed::Erased);
                };
                if stored != *read {
                    return Ok(Committed::Changed);
                }
                self.write_subscription(subs, due, gone, sub)?;
                for (seq, item) in &queued {
                    self.put_item(outbox, outbox_chats, *seq, item)?;
                }
                Ok(Committed::Queued(Vec::new()))
            })
            .map_err(tx_error)?;
        Ok(match outcome {
            Committed::Queued(_) => Committed::Queued(queued),
            other => other,
        })
    }

    /// Within a transaction: queues `item` as `seq`, with its entry in the by-chat index.
    pub(super) fn put_item(
        &self,
        outbox: &TransactionalTree,
        outbox_chats: &TransactionalTree,
        seq: u64,
        item: &OutboxItem,
    ) -> std::result::Result<(), ConflictableTransactionError<StoreError>> {
        let key = keys::seq_key(seq);
        outbox.insert(&key, self.seal_json(OUTBOX, &key, item).map_err(abort)?)?;
        outbox_chats.insert(&keys::by_chat_key(&self.tag(item.chat_id), seq), &[])?;
        Ok(())
    }

    /// Chats due at or before `until` (Unix seconds), earliest first, at most `limit`.
    pub fn due_until(&self, until: i64, limit: usize) -> Result<Vec<(i64, i64)>> {
        let end = keys::due_end(until);
        let mut found = Vec::new();
        for entry in self.t().due.range(..end.as_slice()).take(limit) {
            let (key, raw) = entry?;
            let chat = self.open_sealed(DUE, &key, &raw)?;
            let chat = chat.as_slice().try_into().map(i64::from_be_bytes);
            let chat = chat.map_err(|_| StoreError::Corrupt("a due entry".into()))?;
            found.push((keys::due_time(&key), chat));
        }
        Ok(found)
    }

    /// When the earliest digest is due, if any is scheduled.
    pub fn first_due(&self) -> Result<Option<i64>> {
        Ok(self.t().due.first()?.map(|(key, _)| keys::due_time(&key)))
    }

    /// Marks a chat gone (blocked the bot, was deleted, removed the bot) at `now`: no more
    /// digests, kept for counts until the retention's grace period has passed (then erased as
    /// by `/stop`). Returns whether it was active.
    pub fn deactivate(&self, chat_id: i64, now: i64) -> Result<bool> {
        let _writing = self.writing_for(&[chat_id])?;
        let tag = self.tag(chat_id);
        // Read and written in one transaction: a chat erased by `/stop` meanwhile stays erased,
        // and a setting changed meanwhile is kept.
        let was = (&self.t().subs, &self.t().due, &self.t().gone)
            .transaction(|(subs, due, gone)| {
                let Some(mut sub) = self.stored_subscription(subs, &tag)? else {
                    return Ok(false);
                };
                let was = sub.active;
                if !was && sub.deactivated_at.is_some() {
                    // Gone already: the grace period runs from the first time.
                    return Ok(false);
                }
                sub.active = false;
                sub.next_due = None;
                sub.deactivated_at = Some(now);
                self.write_subscription(subs, due, gone, &sub)?;
                Ok(was)
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(was)
    }

    /// Every subscription, each once, for walks that queue messages or keep counts: a key
    /// rotation waits for the walk to end, and the walk for a rotation under way to end (a
    /// rotation moves every subscription to a new key, see `rotation/mod.rs`). Not to be
    /// started inside a write.
    pub fn each_subscription(&self) -> impl Iterator<Item = Subscription> + '_ {
        let walking = self.gate.walking();
        self.subscriptions().inspect(move |_| {
            let _ = &walking;
        })
    }

    /// Every subscription (for a quick look); unreadable ones are skipped with a warning.
    /// While a key rotation runs, one may be seen twice or not at all: for exact walks,
    /// [`Store::each_subscription`].
    pub fn subscriptions(&self) -> impl Iterator<Item = Subscription> + '_ {
        self.t().subs.iter().filter_map(|entry| {
            let (key, raw) = entry.ok()?;
            self.open_json(SUBS, &key, &raw, "subscription")
                .map_err(|e| log::warn!("skipping a subscription: {e}"))
                .ok()
        })
    }

    pub fn subscription_count(&self) -> usize {
        self.t().subs.len()
    }

    /// Moves everything about a group to its new supergroup id, atomically and durably.
    pub fn migrate_chat(&self, from: i64, to: i64) -> Result<()> {
        let _writing = self.writing_for(&[from, to])?;
        let settings = self.t().chats.get(keys::chat_key(&self.tag(from)))?;
        let settings = match settings {
            Some(_) => Some(self.chat(from)?),
            None => None,
        };
        let sub = self.subscription(from)?;
        let (old, new) = (self.tag(from), self.tag(to));
        (&self.t().chats, &self.t().subs, &self.t().due, &self.t().gone)
            .transaction(|(chats, subs, due, gone)| {
                if let Some(settings) = &settings {
                    chats.remove(&keys::chat_key(&old))?;
                    let key = keys::chat_key(&new);
                    chats.insert(
                        &key,
                        self.seal_chat_settings(&key, to, settings).map_err(abort)?,
                    )?;
                }
                if let Some(sub) = &sub {
                    subs.remove(&keys::chat_key(&old))?;
                    if let Some(at) = sub.next_due {
                        due.remove(&keys::due_key(at, &old))?;
                    }
                    if let Some(at) = gone_since(sub) {
                        gone.remove(&keys::gone_key(at, &old))?;
                    }
                    let mut moved = sub.clone();
                    moved.chat_id = to;
                    self.write_subscription(subs, due, gone, &moved)?;
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
        // In time order; chats due at the same second come in their tags' order.
        let mut due = store.due_until(100, 10).unwrap();
        assert_eq!(due.remove(0), (99, -9));
        due.sort();
        assert_eq!(due, vec![(100, -1_001_234), (100, 5)]);
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
