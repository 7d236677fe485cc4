//! Key rotation, which makes `/stop` hold on disk (crypto-shredding).
//!
//! sled is log-structured: a removed record stays in its log until the segment is reclaimed,
//! so erasing a chat's records does not erase them from the disk. They are sealed, though,
//! under the current epoch's keys. A rotation makes a new epoch, re-seals every live reader
//! record under it (values re-sealed, tags computed anew, the by-chat indexes rebuilt), flushes,
//! and then removes the old epoch from the keyring file (replaced atomically). From then on
//! what `/stop` removed is, in sled's log, ciphertext under a key that exists nowhere, and
//! tags under a MAC key that exists nowhere: unreadable and unlinkable even with the master key.
//!
//! A rotation holds the write gate (no write runs) and the keyring (lookups wait) until it is
//! done: readers wait for it rather than miss a record re-tagged meanwhile. Its cost is one
//! pass over the reader trees; `Store::rotate_keys` reports how many records it re-sealed.
//! Cut short (a crash, `kill -9`), the keyring still holds both epochs, the old one not yet
//! removed: the next open finishes the rotation (each record says in its header which epoch
//! sealed it, so only the rest is done).

use super::{
    AUDIT, CHATS, DEAD, DELIVERIES, DRAFTS, DUE, EDITS, GONE, JOBS, OUTBOX, QUESTIONS, Result,
    SUBS, Store, blocking,
    keyring::Keyring,
    keys,
    seal::{EpochKeys, epoch_of},
};

/// Records re-sealed per batch: bounded memory whatever the store's size.
const BATCH: usize = 1_000;
/// Set by `/stop` until the next rotation has shredded what it erased.
pub(super) const SHRED_PENDING_KEY: &[u8] = b"shred_pending";

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// The epoch reader data is sealed under now.
    pub epoch: u32,
    /// Records re-sealed (index entries rebuilt not counted).
    pub resealed: usize,
}

impl Store {
    /// Rotates the epoch keys: a new epoch, every reader record re-sealed under it, the old
    /// epochs removed from the keyring. Blocks writes and lookups while it runs (off the async
    /// workers).
    pub fn rotate_keys(&self) -> Result<Rotation> {
        blocking(|| self.rotate_now(true))
    }

    /// Whether a `/stop` erased records that no rotation has shredded yet.
    pub fn shred_pending(&self) -> Result<bool> {
        Ok(self.meta.contains_key(SHRED_PENDING_KEY)?)
    }

    /// Finishes a rotation cut short (the keyring holds more than one epoch), at open.
    pub(super) fn finish_interrupted_rotation(&self) -> Result<()> {
        if self.keys().epochs().len() > 1 {
            log::warn!("a key rotation was cut short; finishing it");
            self.rotate_now(false)?;
        }
        Ok(())
    }

    fn rotate_now(&self, begin: bool) -> Result<Rotation> {
        let _hold = self.gate.exclusive();
        let mut keyring = self.keyring.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if begin {
            keyring.begin_epoch(&self.dir)?;
        }
        // Cleared before the pass: a `/stop` during it cannot happen (the gate), and what was
        // erased before is shredded by this rotation.
        let pending = self.meta.remove(SHRED_PENDING_KEY)?;
        let resealed = match self.reseal_all(&keyring) {
            Ok(n) => n,
            Err(e) => {
                if let Some(flag) = pending {
                    let _ = self.meta.insert(SHRED_PENDING_KEY, flag);
                }
                return Err(e);
            }
        };
        self.db.flush()?;
        keyring.retire_old(&self.dir)?;
        self.db.flush()?;
        let epoch = keyring.current().id;
        log::info!("keys rotated: reader data sealed under epoch {epoch} ({resealed} records)");
        Ok(Rotation { epoch, resealed })
    }

    /// Re-seals every record sealed under an older epoch, then rebuilds the by-chat indexes.
    fn reseal_all(&self, keyring: &Keyring) -> Result<usize> {
        let now = keyring.current();
        let chat_of = |plain: &[u8]| super::i64_at(plain, 0);
        let mut done = 0;
        done += self.reseal(&self.chats, CHATS, keyring, |_, plain| {
            Some(keys::chat_key(&now.tag(chat_of(plain))).to_vec())
        })?;
        done += self.reseal(&self.subs, SUBS, keyring, |_, plain| {
            let sub: crate::subscription::Subscription = serde_json::from_slice(plain).ok()?;
            Some(keys::chat_key(&now.tag(sub.chat_id)).to_vec())
        })?;
        done += self.reseal(&self.due, DUE, keyring, |key, plain| {
            Some(keys::due_key(keys::due_time(key), &now.tag(chat_of(plain))).to_vec())
        })?;
        done += self.reseal(&self.gone, GONE, keyring, |key, plain| {
            Some(keys::gone_key(keys::due_time(key), &now.tag(chat_of(plain))).to_vec())
        })?;
        done += self.reseal(&self.deliveries, DELIVERIES, keyring, |key, plain| {
            Some(keys::delivery_key(super::u64_at(key, 0), &now.tag(chat_of(plain))).to_vec())
        })?;
        done += self.reseal(&self.questions, QUESTIONS, keyring, |_, plain| {
            let (chat, user) = (chat_of(plain), super::i64_at(plain, 8));
            Some(keys::question_key(&now.tag(chat), &now.tag(user)).to_vec())
        })?;
        for (tree, name) in [
            (&self.outbox, OUTBOX),
            (&self.dead, DEAD),
            (&self.audit, AUDIT),
            (&self.edits, EDITS),
            (&self.drafts, DRAFTS),
            (&self.jobs, JOBS),
        ] {
            done += self.reseal(tree, name, keyring, |key, _| Some(key.to_vec()))?;
        }
        self.rebuild_indexes(now)?;
        // A search for chats deactivated before the `gone` index, left half-way, kept its
        // place as a tag of the old epoch: it starts over (it only adds what is missing).
        if self
            .meta
            .get(super::retention::BACKFILL_CURSOR)?
            .is_some_and(|c| c != super::retention::BACKFILLED)
        {
            self.meta.remove(super::retention::BACKFILL_CURSOR)?;
        }
        Ok(done)
    }

    /// Re-seals the records of `tree` not sealed under the current epoch, in batches: each
    /// opened with its own epoch, sealed under the current one at the key `rekey` gives.
    /// A record no kept epoch opens cannot be read by anyone: it is dropped, with a warning.
    fn reseal(
        &self,
        tree: &sled::Tree,
        name: &str,
        keyring: &Keyring,
        rekey: impl Fn(&[u8], &[u8]) -> Option<Vec<u8>>,
    ) -> Result<usize> {
        let now = keyring.current();
        let mut done = 0;
        let mut start = Vec::new();
        loop {
            let mut batch = sled::Batch::default();
            let (mut stale, mut last) = (0, None);
            for entry in tree.range(start.clone()..) {
                let (key, raw) = entry?;
                last = Some(key.to_vec());
                if epoch_of(&raw) == Some(now.id) {
                    continue;
                }
                stale += 1;
                let plain = epoch_of(&raw)
                    .and_then(|id| keyring.epoch(id))
                    .and_then(|e: &EpochKeys| e.open(name, &key, &raw));
                batch.remove(&key);
                match plain.and_then(|plain| rekey(&key, &plain).map(|k| (k, plain))) {
                    Some((new_key, plain)) => {
                        batch.insert(new_key.as_slice(), now.seal(name, &new_key, &plain));
                    }
                    None => log::warn!("dropping a record in {name} that no key opens"),
                }
                if stale == BATCH {
                    break;
                }
            }
            tree.apply_batch(batch)?;
            // A flush a batch: sled keeps every log buffer it sealed in memory until it is
            // written, and a pass that outruns the disk piled up 126 MB of them in the year
            // bench (heaptrack); waiting for each batch's bytes bounds that to one batch.
            self.db.flush()?;
            done += stale;
            match last {
                Some(mut key) if stale == BATCH => {
                    key.push(0);
                    start = key;
                }
                _ => return Ok(done),
            }
        }
    }

    /// Empties an index in flushed batches (sled's `clear` removes one key at a time and
    /// leaves every write in memory until something flushes).
    fn clear_flushed(&self, tree: &sled::Tree) -> Result<()> {
        loop {
            let mut batch = sled::Batch::default();
            let mut count = 0;
            for key in tree.iter().keys().take(BATCH) {
                batch.remove(key?);
                count += 1;
            }
            if count == 0 {
                return Ok(());
            }
            tree.apply_batch(batch)?;
            self.db.flush()?;
        }
    }

    /// Rebuilds `outbox_chats`, `dead_chats` and `chat_editions` from the records they index,
    /// with the current epoch's tags.
    fn rebuild_indexes(&self, now: &EpochKeys) -> Result<()> {
        for (index, source, name) in
            [(&self.outbox_chats, &self.outbox, OUTBOX), (&self.dead_chats, &self.dead, DEAD)]
        {
            self.clear_flushed(index)?;
            let mut batch = sled::Batch::default();
            let mut count = 0;
            for entry in source.iter() {
                let (key, raw) = entry?;
                let Some(plain) = now.open(name, &key, &raw) else { continue };
                let chat = if name == OUTBOX {
                    serde_json::from_slice::<super::OutboxItem>(&plain).ok().map(|i| i.chat_id)
                } else {
                    serde_json::from_slice::<super::DeadLetter>(&plain).ok().map(|d| d.item.chat_id)
                };
                if let Some(chat) = chat {
                    batch.insert(&keys::by_chat_key(&now.tag(chat), super::u64_at(&key, 0)), &[]);
                    count += 1;
                    if count % BATCH == 0 {
                        index.apply_batch(std::mem::take(&mut batch))?;
                        self.db.flush()?;
                    }
                }
            }
            index.apply_batch(batch)?;
        }
        self.clear_flushed(&self.chat_editions)?;
        let mut batch = sled::Batch::default();
        let mut count = 0;
        for entry in self.deliveries.iter() {
            let (key, raw) = entry?;
            let Some(plain) = now.open(DELIVERIES, &key, &raw) else { continue };
            let chat = super::i64_at(&plain, 0);
            batch.insert(&keys::chat_edition_key(&now.tag(chat), super::u64_at(&key, 0)), &[]);
            count += 1;
            if count % BATCH == 0 {
                self.chat_editions.apply_batch(std::mem::take(&mut batch))?;
                self.db.flush()?;
            }
        }
        self.chat_editions.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        content::Lang, message::OutboxItem, store::testing::subscribed_with_queued_item,
        subscription::Question,
    };

    #[test]
    fn after_a_rotation_a_stopped_chat_is_gone_even_from_sleds_log_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (stopped, staying) = (4_100_000_001_i64, 4_100_000_002_i64);
        for chat in [stopped, staying] {
            let (seq, item) = subscribed_with_queued_item(&store, chat);
            store.mark_sent(seq, &item, 7, 0).unwrap();
            store.set_chat_lang(chat, Lang::Ru).unwrap();
            let question = crate::subscription::PendingQuestion {
                target: chat,
                question: Question::Time,
                expires_at: i64::MAX,
            };
            store.put_question(chat, chat as u64, &question).unwrap();
            store.enqueue(vec![OutboxItem { chat_id: chat, ..item }]).unwrap();
        }
        let old_tag = store.tag(stopped);
        store.erase_chat(stopped).unwrap();
        assert!(store.shred_pending().unwrap());
        let rotation = store.rotate_keys().unwrap();
        assert_eq!(rotation.epoch, 2);
        assert!(!store.shred_pending().unwrap());
        assert_eq!(store.keys().epochs().len(), 1, "the old epoch is gone");
        assert_ne!(store.tag(stopped), old_tag);
        // The one who stayed is all there, under the new keys.
        let sub = store.subscription(staying).unwrap().unwrap();
        assert_eq!(sub.chat_id, staying);
        assert_eq!(store.chat(staying).unwrap().lang, Some(Lang::Ru));
        assert_eq!(store.due_until(i64::MAX, 10).unwrap(), vec![(100, staying)]);
        assert_eq!(store.deliveries(1).unwrap().len(), 1);
        assert_eq!(store.outbox().unwrap().len(), 1);
        assert!(store.take_question(staying, staying as u64, 0).unwrap().is_some());
        assert_eq!(store.erase_chat(staying).unwrap(), 2, "its records are found by its tag");
        assert_eq!(store.trees_naming(stopped).unwrap(), Vec::<String>::new());
        // And the stopped chat, in sled's files, with the keyring in hand: nothing opens.
        drop(store);
        let keyring = Keyring::load(dir.path(), &super::super::Secret::public_test_key()).unwrap();
        let tags: Vec<_> = keyring.epochs().iter().map(|e| e.tag(stopped)).collect();
        let db = std::fs::read(dir.path().join("db")).unwrap();
        assert!(!tags.iter().any(|t| db.windows(t.len()).any(|w| w == t)));
        assert!(db.windows(old_tag.len()).any(|w| w == old_tag), "the old tag is still in the log");
    }

    #[test]
    fn a_rotation_cut_short_is_finished_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            subscribed_with_queued_item(&store, 4_200_000_001);
            // As if killed after the new epoch was saved and half the records moved.
            let mut keyring = store.keyring.write().unwrap();
            keyring.begin_epoch(dir.path()).unwrap();
            let now = keyring.current().clone();
            let (key, raw) = store.subs.first().unwrap().unwrap();
            let plain = keyring.epoch(1).unwrap().open(SUBS, &key, &raw).unwrap();
            store.subs.remove(&key).unwrap();
            let new_key = keys::chat_key(&now.tag(4_200_000_001));
            store.subs.insert(new_key, now.seal(SUBS, &new_key, &plain)).unwrap();
            store.db.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.keys().epochs().len(), 1);
        assert!(store.subscription(4_200_000_001).unwrap().is_some());
        assert_eq!(store.due_until(i64::MAX, 10).unwrap(), vec![(100, 4_200_000_001)]);
        assert_eq!(store.outbox().unwrap().len(), 1);
        assert_eq!(store.erase_chat(4_200_000_001).unwrap(), 1, "the index was rebuilt");
    }
}
