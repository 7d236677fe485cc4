//! Key rotation, which makes `/stop` hold on disk (crypto-shredding), without stopping the
//! bot while it runs.
//!
//! sled is log-structured: a removed record stays in its log until the segment is reclaimed,
//! so erasing a chat's records does not erase them from the disk. They are sealed, though,
//! under the current epoch's keys. A rotation makes a new epoch, moves every live reader
//! record under it (values re-sealed, lookup tags computed anew, index entries moved with the
//! records they index), flushes, and then removes the old epoch from the keyring file
//! (replaced atomically). From then on what `/stop` removed is, in sled's log, ciphertext
//! under a key that exists nowhere, and tags under a MAC key that exists nowhere: unreadable
//! and unlinkable even with the master key.
//!
//! Incremental: reads and writes go on while the records are moved. Only the switch to the
//! new epoch and the removal of the old one hold the write gate, each for a moment. Meanwhile
//! a chat's records may still be under its old tag, so every use of a chat's records first
//! brings them forward ([`Store::forward`], in `forward.rs`): a few lookups, and a move in
//! one transaction when there is something to move. New records are written under the new
//! epoch only. The pass then walks each reader tree in batches, bringing forward the chats
//! of the records it finds under an older epoch, and re-sealing in place what is keyed by a
//! sequence (outbox, dead letters, operators' records). Last, it sweeps the by-chat indexes
//! of entries left under an old tag.
//!
//! What walks the subscriptions in key order to queue messages (a broadcast's launch, the
//! prisoner alerts) or to count them (the daily census) would see a chat twice, or miss it,
//! while its key moves: such walks and a rotation wait for each other (the write gate's
//! `walking` and `rotating`).
//!
//! Cut short (a crash, `kill -9`), the keyring still holds both epochs, the old one not yet
//! removed: the next open finishes the rotation (each record says in its header which epoch
//! sealed it, so only the rest is done).

mod forward;

use super::{
    AUDIT, CHATS, DEAD, DELIVERIES, DRAFTS, DUE, EDITS, GONE, JOBS, OUTBOX, QUESTIONS, Result,
    SUBS, Store, blocking, keys,
    seal::{EpochKeys, epoch_of},
    tx_error,
};
use sled::Transactional;
use std::collections::BTreeSet;

/// Records moved per batch: bounded memory whatever the store's size.
const BATCH: usize = 1_000;
/// Records read per batch at most (most are under the new epoch already late in a pass).
const SCAN: usize = 10 * BATCH;
/// Set by `/stop` until the next rotation has shredded what it erased.
pub(super) const SHRED_PENDING_KEY: &[u8] = b"shred_pending";

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// The epoch reader data is sealed under now.
    pub epoch: u32,
    /// Records moved under it (index entries not counted).
    pub resealed: usize,
}

/// The trees keyed by a chat's tag, and how to find the chat in a record's plain value.
const TAGGED: [&str; 6] = [CHATS, SUBS, DUE, GONE, DELIVERIES, QUESTIONS];

impl Store {
    /// Rotates the epoch keys: a new epoch, every reader record moved under it, the old
    /// epochs removed from the keyring. Reads and writes go on meanwhile (off the async
    /// workers); it waits for a broadcast being queued to be queued, and such walks wait for
    /// it.
    pub fn rotate_keys(&self) -> Result<Rotation> {
        blocking(|| self.rotate_now(true))
    }

    /// Whether a `/stop` erased records that no rotation has shredded yet.
    pub fn shred_pending(&self) -> Result<bool> {
        Ok(self.t().meta.contains_key(SHRED_PENDING_KEY)?)
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
        let mut rotating = self.gate.rotating();
        let rotated = self.rotate_under(begin);
        // A pass that failed half-way leaves records under two epochs: walks wait until a
        // rotation finishes (the task tries again within a minute).
        if self.keys().epochs().len() == 1 {
            rotating.finished();
        }
        rotated
    }

    fn rotate_under(&self, begin: bool) -> Result<Rotation> {
        let mut pending = None;
        if begin {
            // A moment with no write in flight: every write from here on seals and tags under
            // the new epoch, so what the pass finds under the old one is all there is to move.
            let _hold = self.gate.exclusive();
            self.keyring_mut().begin_epoch(&self.dir)?;
            // What `/stop` erased before now is shredded by this rotation; a `/stop` from now
            // on sets the flag again, for the next one.
            pending = self.t().meta.remove(SHRED_PENDING_KEY)?;
        }
        let resealed = match self.move_all() {
            Ok(n) => n,
            Err(e) => {
                if let Some(flag) = pending {
                    let _ = self.t().meta.insert(SHRED_PENDING_KEY, flag);
                }
                return Err(e);
            }
        };
        let epoch = {
            let _hold = self.gate.exclusive();
            self.t().db.flush()?;
            let mut keyring = self.keyring_mut();
            keyring.retire_old(&self.dir)?;
            keyring.current().id
        };
        self.t().db.flush()?;
        log::info!("keys rotated: reader data sealed under epoch {epoch} ({resealed} records)");
        Ok(Rotation { epoch, resealed })
    }

    fn keyring_mut(&self) -> std::sync::RwLockWriteGuard<'_, super::keyring::Keyring> {
        self.keyring.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves every record sealed under an older epoch, then sweeps the by-chat indexes.
    fn move_all(&self) -> Result<usize> {
        let mut done = 0;
        for name in TAGGED {
            done += self.move_tagged(name)?;
        }
        for name in [OUTBOX, DEAD, AUDIT, EDITS, DRAFTS, JOBS] {
            done += self.reseal_in_place(name)?;
        }
        self.sweep_indexes()?;
        // A search for chats deactivated before the `gone` index, left half-way, kept its
        // place as a tag of the old epoch: it starts over (it only adds what is missing).
        if self
            .t()
            .meta
            .get(super::retention::BACKFILL_CURSOR)?
            .is_some_and(|c| c != super::retention::BACKFILLED)
        {
            self.t().meta.remove(super::retention::BACKFILL_CURSOR)?;
        }
        Ok(done)
    }

    /// The next batch of records of `tree` from `start` on that are not under the current
    /// epoch, and where the batch after it starts (`None`: this one reached the end).
    #[allow(clippy::type_complexity)]
    fn stale_batch(
        &self,
        tree: &sled::Tree,
        start: &[u8],
    ) -> Result<(Vec<(sled::IVec, sled::IVec)>, Option<Vec<u8>>)> {
        let now = self.keys().current().id;
        let mut stale = Vec::new();
        let mut scanned = 0;
        for entry in tree.range(start..) {
            let (key, raw) = entry?;
            scanned += 1;
            if epoch_of(&raw) != Some(now) {
                stale.push((key.clone(), raw));
            }
            if stale.len() == BATCH || scanned == SCAN {
                let mut next = key.to_vec();
                next.push(0);
                return Ok((stale, Some(next)));
            }
        }
        Ok((stale, None))
    }

    /// Moves the records of a tree keyed by a chat's tag: each batch's chats brought forward
    /// whole, then what that did not reach (a record no other leads to) moved on its own.
    fn move_tagged(&self, name: &str) -> Result<usize> {
        let tree = self.tree(name);
        let mut done = 0;
        let mut start = Vec::new();
        loop {
            let (stale, next) = self.stale_batch(&tree, &start)?;
            let mut chats = BTreeSet::new();
            for (key, raw) in &stale {
                if let Ok(plain) = self.open_sealed(name, key, raw)
                    && let Some(chat) = chat_in(name, &plain)
                {
                    chats.insert(chat);
                }
            }
            for chat in chats {
                self.forward(chat)?;
            }
            for (key, raw) in &stale {
                self.move_alone(name, key, raw)?;
            }
            // A flush a batch: sled keeps every log buffer it sealed in memory until it is
            // written, and a pass that outruns the disk piled up 126 MB of them in the year
            // bench (heaptrack); waiting for each batch's bytes bounds that to one batch.
            self.t().db.flush()?;
            done += stale.len();
            match next {
                Some(next) => start = next,
                None => return Ok(done),
            }
        }
    }

    /// Moves one record under the current epoch's key, if it is still there as it was read;
    /// a record already there under the new key (written since) wins. A delivery record's
    /// `chat_editions` entry moves with it. A record no kept epoch opens cannot be read by
    /// anyone: it is dropped, with a warning.
    fn move_alone(&self, name: &str, key: &[u8], raw: &[u8]) -> Result<()> {
        let _writing = self.writing()?;
        let now = self.keys().current().clone();
        let plain = self.open_sealed(name, key, raw).ok();
        let moved = plain.as_ref().and_then(|plain| {
            let new_key = rekey(&now, name, key, plain)?;
            Some((now.seal(name, &new_key, plain), new_key))
        });
        if plain.is_none() {
            log::warn!("dropping a record in {name} that no key opens");
        } else if moved.is_none() {
            log::warn!("dropping a record in {name} that does not read");
        }
        let index = (name == DELIVERIES).then(|| {
            let edition = super::u64_at(key, 0);
            let old_tag: keys::Tag =
                key.get(8..).and_then(|t| t.try_into().ok()).unwrap_or_default();
            let new_tag = plain.as_ref().map(|p| now.tag(super::i64_at(p, 0)));
            (
                keys::chat_edition_key(&old_tag, edition),
                new_tag.map(|t| keys::chat_edition_key(&t, edition)),
            )
        });
        (&self.tree(name), &self.t().chat_editions)
            .transaction(|(tree, chat_editions)| {
                if tree.get(key)?.as_deref() != Some(raw) {
                    return Ok(());
                }
                tree.remove(key)?;
                if let Some((sealed, new_key)) = &moved
                    && tree.get(new_key)?.is_none()
                {
                    tree.insert(new_key.as_slice(), sealed.as_slice())?;
                }
                if let Some((old, new)) = &index {
                    chat_editions.remove(old.as_slice())?;
                    if let Some(new) = new {
                        chat_editions.insert(new.as_slice(), &[])?;
                    }
                }
                Ok(())
            })
            .map_err(tx_error)
    }

    /// Re-seals under the current epoch the records of a tree keyed by a sequence, each only
    /// if it did not change meanwhile (a change is written under the current epoch). An
    /// outbox item's or dead letter's chat is brought forward first: its by-chat index entry
    /// moves to the new tag.
    fn reseal_in_place(&self, name: &str) -> Result<usize> {
        let tree = self.tree(name);
        let mut done = 0;
        let mut start = Vec::new();
        loop {
            let (stale, next) = self.stale_batch(&tree, &start)?;
            let now = self.keys().current().clone();
            for (key, raw) in &stale {
                let Ok(plain) = self.open_sealed(name, key, raw) else {
                    log::warn!("dropping a record in {name} that no key opens");
                    let _ = tree.compare_and_swap(key, Some(raw), None::<&[u8]>)?;
                    continue;
                };
                if let Some(chat) = chat_queued(name, &plain) {
                    self.forward(chat)?;
                }
                let _writing = self.writing()?;
                let sealed = now.seal(name, key, &plain);
                // Changed or removed meanwhile: the change is under the new epoch already.
                let _ = tree.compare_and_swap(key, Some(raw), Some(sealed))?;
            }
            self.t().db.flush()?;
            done += stale.len();
            match next {
                Some(next) => start = next,
                None => return Ok(done),
            }
        }
    }

    /// Removes the by-chat index entries that no longer lead to their record under the
    /// current tag (left under an old tag by an item sent or erased meanwhile), a batch at a
    /// time under the write gate: an item and its index entry are written under one hold, so
    /// an entry is never judged between the two.
    fn sweep_indexes(&self) -> Result<()> {
        let t = self.t();
        for (index, which) in
            [(&t.outbox_chats, OUTBOX), (&t.dead_chats, DEAD), (&t.chat_editions, DELIVERIES)]
        {
            let mut start = Vec::new();
            loop {
                let next = {
                    let _hold = self.gate.exclusive();
                    let now = self.keys().current().clone();
                    let mut batch = sled::Batch::default();
                    let mut next = None;
                    for (n, entry) in index.range(start.as_slice()..).enumerate() {
                        let key = entry?.0;
                        if n == BATCH {
                            next = Some(key.to_vec());
                            break;
                        }
                        if !self.index_entry_holds(which, &now, &key)? {
                            batch.remove(key);
                        }
                    }
                    index.apply_batch(batch)?;
                    next
                };
                self.t().db.flush()?;
                match next {
                    Some(next) => start = next,
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Whether an entry of a by-chat index (of the records of `which`: the outbox, dead
    /// letters or delivery records) leads to a record of that chat under its tag.
    fn index_entry_holds(&self, which: &str, now: &EpochKeys, key: &[u8]) -> Result<bool> {
        let Some(tag) = key.get(..keys::Tag::default().len()) else { return Ok(false) };
        if which == DELIVERIES {
            let edition = keys::chat_edition_edition(key);
            let tag: keys::Tag = tag.try_into().unwrap_or_default();
            return Ok(self.t().deliveries.contains_key(keys::delivery_key(edition, &tag))?);
        }
        let t = self.t();
        let (source, name) = if which == OUTBOX { (&t.outbox, OUTBOX) } else { (&t.dead, DEAD) };
        let seq_key = keys::seq_key(keys::by_chat_seq(key));
        let Some(raw) = source.get(seq_key)? else { return Ok(false) };
        let Ok(plain) = self.open_sealed(name, &seq_key, &raw) else { return Ok(false) };
        Ok(chat_queued(name, &plain).is_some_and(|chat| now.tag(chat).as_slice() == tag))
    }

    /// The tree of a reader-data tree name.
    fn tree(&self, name: &str) -> sled::Tree {
        let t = self.t();
        let tree = match name {
            CHATS => &t.chats,
            SUBS => &t.subs,
            DUE => &t.due,
            GONE => &t.gone,
            DELIVERIES => &t.deliveries,
            QUESTIONS => &t.questions,
            OUTBOX => &t.outbox,
            DEAD => &t.dead,
            AUDIT => &t.audit,
            EDITS => &t.edits,
            DRAFTS => &t.drafts,
            _ => &t.jobs,
        };
        tree.clone()
    }
}

/// The chat a record of a tagged tree is about, from its plain value.
fn chat_in(name: &str, plain: &[u8]) -> Option<i64> {
    match name {
        SUBS => serde_json::from_slice::<crate::subscription::Subscription>(plain)
            .ok()
            .map(|s| s.chat_id),
        _ => (plain.len() >= 8).then(|| super::i64_at(plain, 0)),
    }
}

/// The chat an outbox item or a dead letter (their plain values) is for; `None` for another
/// tree's record, or one that does not read.
fn chat_queued(name: &str, plain: &[u8]) -> Option<i64> {
    match name {
        OUTBOX => serde_json::from_slice::<super::OutboxItem>(plain).ok().map(|i| i.chat_id),
        DEAD => serde_json::from_slice::<super::DeadLetter>(plain).ok().map(|d| d.item.chat_id),
        _ => None,
    }
}

/// A tagged record's key under `now`'s tags.
fn rekey(now: &EpochKeys, name: &str, key: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    let chat = chat_in(name, plain)?;
    Some(match name {
        CHATS | SUBS => keys::chat_key(&now.tag(chat)).to_vec(),
        DUE => keys::due_key(keys::due_time(key), &now.tag(chat)).to_vec(),
        GONE => keys::gone_key(keys::due_time(key), &now.tag(chat)).to_vec(),
        DELIVERIES => keys::delivery_key(super::u64_at(key, 0), &now.tag(chat)).to_vec(),
        QUESTIONS => keys::question_key(&now.tag(chat), &now.tag(super::i64_at(plain, 8))).to_vec(),
        _ => return None,
    })
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
            a_reader_with_everything(&store, chat);
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
        let keyring = crate::store::keyring::Keyring::load(
            dir.path(),
            &super::super::Secret::public_test_key(),
        )
        .unwrap();
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
            let (key, raw) = store.t().subs.first().unwrap().unwrap();
            let plain = keyring.epoch(1).unwrap().open(SUBS, &key, &raw).unwrap();
            store.t().subs.remove(&key).unwrap();
            let new_key = keys::chat_key(&now.tag(4_200_000_001));
            store.t().subs.insert(new_key, now.seal(SUBS, &new_key, &plain)).unwrap();
            store.t().db.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.keys().epochs().len(), 1);
        assert!(store.subscription(4_200_000_001).unwrap().is_some());
        assert_eq!(store.due_until(i64::MAX, 10).unwrap(), vec![(100, 4_200_000_001)]);
        assert_eq!(store.outbox().unwrap().len(), 1);
        assert_eq!(store.erase_chat(4_200_000_001).unwrap(), 1, "the index was rebuilt");
    }

    /// A chat with everything a reader can have: settings, a subscription (due at 100), a
    /// delivery record of edition 1, an item queued and a question waiting.
    fn a_reader_with_everything(store: &Store, chat: i64) -> u64 {
        let (seq, item) = subscribed_with_queued_item(store, chat);
        store.mark_sent(seq, &item, 7, 0).unwrap();
        store.set_chat_lang(chat, Lang::Ru).unwrap();
        let question = crate::subscription::PendingQuestion {
            target: chat,
            question: Question::Time,
            expires_at: i64::MAX,
        };
        store.put_question(chat, chat as u64, &question).unwrap();
        store.enqueue(vec![OutboxItem { edition: 2, ..item }]).unwrap()[0].0
    }

    /// As a rotation stands after its first step: the new epoch current, nothing moved yet.
    fn rotation_begun(store: &Store) {
        let _hold = store.gate.exclusive();
        store.keyring_mut().begin_epoch(&store.dir).unwrap();
    }

    #[test]
    fn every_use_of_a_chat_finds_its_records_while_a_rotation_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let chats: Vec<i64> = (1..=8).map(|i| 4_300_000_000 + i).collect();
        let queued: Vec<u64> = chats.iter().map(|&c| a_reader_with_everything(&store, c)).collect();
        rotation_begun(&store);
        // Each chat is first used in a different way.
        assert_eq!(store.chat(chats[0]).unwrap().lang, Some(Lang::Ru));
        assert_eq!(store.subscription(chats[1]).unwrap().unwrap().chat_id, chats[1]);
        assert_eq!(store.queued_for(chats[2]).unwrap().len(), 1);
        assert!(store.take_question(chats[3], chats[3] as u64, 0).unwrap().is_some());
        let mut sub = store.subscription(chats[4]).unwrap().unwrap();
        sub.next_due = Some(200);
        store.save_subscription(&sub).unwrap();
        assert_eq!(store.erase_chat(chats[5]).unwrap(), 3, "delivery, queued item, question");
        let item = store.queued_for(chats[6]).unwrap().remove(0).1;
        assert!(store.mark_sent(queued[6], &item, 8, 0).unwrap());
        assert!(store.deactivate(chats[7], 50).unwrap());
        // Nothing went missing or doubled: one due entry per subscribed chat, at its time.
        let due = store.due_until(i64::MAX, 100).unwrap();
        assert_eq!(due.len(), 6, "{due:?}");
        assert!(due.contains(&(200, chats[4])));
        store.rotate_now(false).unwrap();
        assert_eq!(store.keys().epochs().len(), 1);
        assert_eq!(store.due_until(i64::MAX, 100).unwrap().len(), 6);
        assert_eq!(store.trees_naming(chats[5]).unwrap(), Vec::<String>::new());
        assert_eq!(store.deliveries(2).unwrap().len(), 1, "chat 6's second message");
        for &chat in [chats[0], chats[1], chats[4], chats[6], chats[7]].iter() {
            assert_eq!(store.chat(chat).unwrap().lang, Some(Lang::Ru));
            assert!(store.subscription(chat).unwrap().is_some());
        }
        // And `/stop` still finds every record of a chat through its indexes.
        assert_eq!(store.erase_chat(chats[0]).unwrap(), 3);
        assert_eq!(store.erase_chat(chats[6]).unwrap(), 3, "two delivery records, the question");
        for chat in [chats[0], chats[6]] {
            assert_eq!(store.trees_naming(chat).unwrap(), Vec::<String>::new());
        }
    }

    #[test]
    fn reads_and_writes_go_on_during_a_rotation_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let n = 3_000_i64;
        let first = 4_400_000_000_i64;
        let subs = (0..n).map(|i| {
            let mut sub = crate::subscription::Subscription::new(
                first + i,
                crate::subscription::ChatKind::Private,
                Lang::En,
            );
            sub.next_due = Some(1_000 + i);
            sub
        });
        store.load_subscriptions(subs).unwrap();
        let rotation = {
            let store = store.clone();
            std::thread::spawn(move || store.rotate_keys().unwrap())
        };
        // Until the rotation ends: settings changed, chats erased, subscriptions read.
        let (mut during, mut i) = (0, 0);
        let mut erased = Vec::new();
        while !rotation.is_finished() || i < 200 {
            let chat = first + (i * 7) % n;
            i += 1;
            if erased.contains(&chat) {
                continue;
            }
            if i % 10 == 0 {
                store.erase_chat(chat).unwrap();
                erased.push(chat);
            } else {
                store.set_chat_lang(chat, Lang::Ru).unwrap();
                assert!(store.subscription(chat).unwrap().is_some(), "chat {chat} is missing");
            }
            if store.keys().epochs().len() == 2 {
                during += 1;
            }
        }
        let rotation = rotation.join().unwrap();
        assert!(during > 0, "no write finished while the rotation ran");
        // The pass moved what the writes had not brought forward before it came by.
        assert!(rotation.resealed > 0 && rotation.resealed <= 2 * n as usize);
        assert_eq!(store.subscription_count(), n as usize - erased.len());
        assert_eq!(
            store.due_until(i64::MAX, 2 * n as usize).unwrap().len(),
            store.subscription_count()
        );
        // A scan of the whole store each: the first and the last erased.
        for &chat in [erased[0], erased[erased.len() - 1]].iter() {
            assert_eq!(store.trees_naming(chat).unwrap(), Vec::<String>::new());
        }
        let changed = (0..i).map(|k| first + (k * 7) % n).find(|c| !erased.contains(c)).unwrap();
        assert_eq!(store.chat(changed).unwrap().lang, Some(Lang::Ru));
        assert_eq!(store.chat_count(), store.t().chats.iter().count());
    }

    #[test]
    fn a_stop_that_waits_for_the_epoch_switch_still_erases_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let chat = 4_500_000_001_i64;
        a_reader_with_everything(&store, chat);
        // A write in flight: the switch to the new epoch waits for it, and holds new ones off.
        let write = store.gate.shared();
        let rotation = {
            let store = store.clone();
            std::thread::spawn(move || store.rotate_keys().unwrap())
        };
        while !store.gate.exclusive_waiting() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // `/stop` arrives now and waits behind the switch.
        let stop = {
            let store = store.clone();
            std::thread::spawn(move || store.erase_chat(chat).unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(write);
        assert_eq!(stop.join().unwrap(), 3, "delivery, queued item, question");
        rotation.join().unwrap();
        assert_eq!(store.subscription(chat).unwrap(), None);
        assert_eq!(store.due_until(i64::MAX, 10).unwrap(), Vec::new());
        assert_eq!(store.trees_naming(chat).unwrap(), Vec::<String>::new());
    }
}
