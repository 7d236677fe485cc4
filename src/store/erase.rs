//! `/stop`: erasing everything stored about a chat in one transaction across the trees that
//! name it, and finding what still names a chat (for tests and checks).
//!
//! Every record about a chat is found through its tag (see `keys.rs`): the subscription, the
//! settings, the due entry, `chat_editions` for delivery records, and the by-chat indexes of
//! the outbox and the dead letters. So `/stop` costs O(that chat's records) whatever the size
//! of the outbox; only the questions waiting for a typed answer (a few, each expiring within
//! 30 minutes) are scanned. It runs off the async workers (see `blocking`).

use super::{
    DEAD, Result, Store, blocking, keys, operator::count_erased, subs::gone_since, tx_error,
};
use sled::Transactional;
use std::collections::BTreeSet;

impl Store {
    /// Erases everything stored about a chat: settings, subscription, due entry, delivery
    /// records, unsent messages, dead letters and questions waiting for an answer (asked in
    /// the chat, of the person whose private chat it is, or about the chat), in one
    /// transaction, so a concurrent send or a crash sees the chat either whole or gone.
    /// Durable when it returns. Returns how many records it read (the cost of `/stop`, which
    /// tests compare across outbox sizes).
    ///
    /// The removed values stay in sled's log until it reclaims the space, but sealed under an
    /// epoch key that the next rotation destroys (see `rotation.rs`).
    ///
    /// sled's transactions cannot scan, so the keys are gathered first and the transaction
    /// re-reads each outbox item and dead letter before removing it. A message queued for the
    /// chat during the scan (a digest composed just before) is caught by scanning again.
    pub fn erase_chat(&self, chat_id: i64) -> Result<usize> {
        blocking(|| self.erase_chat_now(chat_id))
    }

    fn erase_chat_now(&self, chat_id: i64) -> Result<usize> {
        let _writing = self.writing_for(&[chat_id])?;
        let tag = self.tag(chat_id);
        let mut read = 0;
        let mut records = Vec::new();
        for entry in self.t().chat_editions.scan_prefix(keys::chat_prefix(&tag)) {
            records.push(keys::chat_edition_edition(&entry?.0));
            read += 1;
        }
        let mut counted = BTreeSet::new();
        // Once the subscription is gone nothing new is composed for the chat, so a second
        // pass finds at most what was being queued during the first.
        for _ in 0..3 {
            let naming = Naming {
                queued: self.seqs_of(&self.t().outbox_chats, &tag)?,
                dead: self.seqs_of(&self.t().dead_chats, &tag)?,
                questions: self.questions_naming(chat_id)?,
            };
            read += naming.queued.len() + naming.dead.len() + naming.questions.len();
            counted = self.erase_once(chat_id, &tag, &records, &naming, counted)?;
            records.clear();
            // A question naming the chat may have been moved to a new key by a key rotation
            // (bringing the chat it was asked in forward) since it was looked for.
            if self.t().outbox_chats.scan_prefix(keys::chat_prefix(&tag)).next().is_none()
                && self.questions_naming(chat_id)?.is_empty()
            {
                break;
            }
        }
        // The next key rotation shreds what was removed here from sled's log too.
        self.t().meta.insert(super::rotation::SHRED_PENDING_KEY, &[1])?;
        self.sync()?;
        Ok(read)
    }

    /// The sequences a by-chat index lists for `tag`.
    fn seqs_of(&self, index: &sled::Tree, tag: &keys::Tag) -> Result<Vec<u64>> {
        let mut seqs = Vec::new();
        for entry in index.scan_prefix(keys::chat_prefix(tag)) {
            seqs.push(keys::by_chat_seq(&entry?.0));
        }
        Ok(seqs)
    }

    /// One transaction of [`Store::erase_chat`]; returns the editions counted so far (each
    /// job counts an erased chat once).
    fn erase_once(
        &self,
        chat_id: i64,
        tag: &keys::Tag,
        records: &[u64],
        naming: &Naming,
        counted: BTreeSet<u64>,
    ) -> Result<BTreeSet<u64>> {
        let chat = keys::chat_key(tag);
        let trees = (
            &self.t().subs,
            &self.t().due,
            &self.t().gone,
            &self.t().chats,
            &self.t().deliveries,
            &self.t().chat_editions,
            &self.t().outbox,
            &self.t().outbox_chats,
            &self.t().dead,
            &self.t().dead_chats,
            &self.t().jobs,
            &self.t().questions,
        );
        trees
            .transaction(
                |(
                    subs,
                    due,
                    gone,
                    chats,
                    deliveries,
                    chat_editions,
                    outbox,
                    outbox_chats,
                    dead_tree,
                    dead_chats,
                    jobs,
                    questions,
                )| {
                    if let Some(sub) = self.stored_subscription(subs, tag)? {
                        subs.remove(&chat)?;
                        if let Some(at) = sub.next_due {
                            due.remove(&keys::due_key(at, tag))?;
                        }
                        if let Some(at) = gone_since(&sub) {
                            gone.remove(&keys::gone_key(at, tag))?;
                        }
                    } else {
                        // Unreadable or absent: removed all the same.
                        subs.remove(&chat)?;
                    }
                    chats.remove(&chat)?;
                    // The editions this chat was part of: a bulk job among them counts the chat
                    // as erased, so its progress still adds up once the records are gone.
                    let mut editions = BTreeSet::new();
                    for &edition in records {
                        deliveries.remove(&keys::delivery_key(edition, tag))?;
                        chat_editions.remove(&keys::chat_edition_key(tag, edition))?;
                        editions.insert(edition);
                    }
                    for &seq in &naming.queued {
                        let key = keys::seq_key(seq);
                        if let Some(raw) = outbox.get(key)?
                            && let Some(item) = self.outbox_item(&key, &raw)
                            && item.chat_id == chat_id
                        {
                            outbox.remove(&key)?;
                            editions.insert(item.edition);
                        }
                        outbox_chats.remove(&keys::by_chat_key(tag, seq))?;
                    }
                    for &seq in &naming.dead {
                        let key = keys::seq_key(seq);
                        if let Some(raw) = dead_tree.get(key)?
                            && self
                                .open_json::<super::DeadLetter>(DEAD, &key, &raw, "dead letter")
                                .is_ok_and(|d| d.item.chat_id == chat_id)
                        {
                            dead_tree.remove(&key)?;
                        }
                        dead_chats.remove(&keys::by_chat_key(tag, seq))?;
                    }
                    for key in &naming.questions {
                        questions.remove(key)?;
                    }
                    let mut counted = counted.clone();
                    for edition in editions {
                        if counted.insert(edition) {
                            count_erased(self, jobs, edition)?;
                        }
                    }
                    Ok(counted)
                },
            )
            .map_err(tx_error)
    }

    /// The trees that still name a chat, looked for with the keys in hand: its id in a key
    /// (eight bytes big-endian, sign bit flipped or not, or its tag under any epoch kept) or
    /// in a value, opened with every epoch kept (the id's eight bytes, or `"chat_id":N`).
    /// After `/stop` there must be none (tests check this). A small id may also match a
    /// sequence number: test with ids no store of the test's size hands out.
    pub fn trees_naming(&self, chat_id: i64) -> Result<Vec<String>> {
        let plain = chat_id.to_be_bytes();
        let flipped = ((chat_id as u64) ^ (1 << 63)).to_be_bytes();
        let tags: Vec<keys::Tag> = self.keys().epochs().iter().map(|e| e.tag(chat_id)).collect();
        let field = format!("\"chat_id\":{chat_id}");
        let names_it = |bytes: &[u8]| {
            bytes.windows(8).any(|w| w == plain || w == flipped)
                || bytes.windows(keys::Tag::default().len()).any(|w| tags.iter().any(|t| t == w))
                || String::from_utf8_lossy(bytes).contains(&field)
        };
        let mut found = Vec::new();
        for name in self.t().db.tree_names() {
            let tree = self.t().db.open_tree(&name)?;
            let shown = String::from_utf8_lossy(&name).into_owned();
            for entry in tree.iter() {
                let (key, raw) = entry?;
                let opened = self.open_any(&shown, &key, &raw);
                if names_it(&key) || names_it(&raw) || opened.is_some_and(|v| names_it(&v)) {
                    found.push(shown);
                    break;
                }
            }
        }
        Ok(found)
    }

    /// A value opened with whichever epoch kept opens it, if any does.
    fn open_any(&self, tree: &str, key: &[u8], raw: &[u8]) -> Option<Vec<u8>> {
        self.keys().epochs().iter().find_map(|e| e.open(tree, key, raw))
    }
}

/// What [`Store::erase_chat`] found naming the chat, outside its transaction (sled's
/// transactions cannot scan).
struct Naming {
    queued: Vec<u64>,
    dead: Vec<u64>,
    questions: Vec<sled::IVec>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        content::Lang, store::testing::subscribed_with_queued_item, subscription::ChatKind,
    };
    use crate::{message::OutboxItem, subscription::Subscription};

    #[test]
    fn erasing_a_chat_leaves_nothing_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut sub = Subscription::new(42, ChatKind::Private, Lang::En);
        sub.next_due = Some(100);
        store.save_subscription(&sub).unwrap();
        store.set_chat_lang(42, Lang::Ru).unwrap();
        let item = |text: &str| OutboxItem {
            edition: 1,
            chat_id: 42,
            kind: ChatKind::Private,
            message: crate::message::OutMessage { html: text.into(), buttons: Vec::new() },
            attempts: 0,
            op: Default::default(),
        };
        let queued = store.enqueue(vec![item("sent"), item("failed"), item("waiting")]).unwrap();
        store.mark_sent(queued[0].0, &queued[0].1, 7, 0).unwrap();
        let failed = super::super::DeliveryOutcome::Failed;
        store.mark_failed(queued[1].0, &queued[1].1, failed, Some("bad"), 0).unwrap();
        let asked = |target| crate::subscription::PendingQuestion {
            target,
            question: crate::subscription::Question::Zone,
            expires_at: i64::MAX,
        };
        store.put_question(42, 42, &asked(42)).unwrap();
        store.put_question(-5, 42, &asked(-5)).unwrap();
        store.put_question(-5, 43, &asked(-5)).unwrap();
        store.erase_chat(42).unwrap();
        assert_eq!(store.take_question(-5, 43, 0).unwrap(), Some(asked(-5)), "another's");
        assert!(store.subscription(42).unwrap().is_none());
        assert_eq!(store.chat(42).unwrap(), super::super::ChatSettings::default());
        assert_eq!(store.first_due().unwrap(), None);
        assert_eq!(store.outbox_len(), 0);
        assert!(store.deliveries(1).unwrap().is_empty());
        assert!(store.dead_letters().unwrap().is_empty());
        assert_eq!(store.trees_naming(42).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn trees_naming_finds_a_chat_in_keys_values_and_the_due_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (seq, item) = subscribed_with_queued_item(&store, 777_000_001);
        store.mark_sent(seq, &item, 5, 0).unwrap();
        let mut named = store.trees_naming(777_000_001).unwrap();
        named.sort();
        assert_eq!(named, ["chat_editions", "deliveries", "due", "subs"]);
    }

    // Regression: a retry of a send in flight during `/stop` put the erased item back in the
    // outbox, so the chat was sent to again after asking to be forgotten.
    #[test]
    fn a_retry_recorded_after_stop_does_not_bring_the_item_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (seq, mut item) = subscribed_with_queued_item(&store, 430_043);
        store.erase_chat(430_043).unwrap();
        item.attempts += 1;
        assert!(!store.update_item(seq, &item).unwrap(), "reported as gone");
        assert!(!store.is_queued(seq).unwrap());
        assert_eq!(store.trees_naming(430_043).unwrap(), Vec::<String>::new());
    }

    // Regression: a send confirmed after `/stop` wrote a delivery record naming the chat.
    #[test]
    fn a_send_confirmed_after_stop_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (seq, item) = subscribed_with_queued_item(&store, 440_044);
        store.erase_chat(440_044).unwrap();
        assert!(!store.mark_sent(seq, &item, 9, 0).unwrap(), "reported as gone");
        let failed = super::super::DeliveryOutcome::Failed;
        assert!(!store.mark_failed(seq, &item, failed, Some("bad"), 0).unwrap());
        assert!(store.deliveries(1).unwrap().is_empty());
        assert!(store.dead_letters().unwrap().is_empty());
        assert_eq!(store.trees_naming(440_044).unwrap(), Vec::<String>::new());
    }

    // A send that arrives after its broadcast was cancelled is in the chat: withdrawing the
    // broadcast must find it. Only an erased chat's records are left unwritten.
    #[test]
    fn a_send_confirmed_after_its_job_was_cancelled_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (seq, item) = subscribed_with_queued_item(&store, 445_044);
        store.t().outbox.remove(seq.to_be_bytes()).unwrap(); // what cancelling the job does
        let failed = super::super::DeliveryOutcome::Failed;
        assert!(!store.mark_failed(seq, &item, failed, Some("bad"), 0).unwrap());
        assert!(store.dead_letters().unwrap().is_empty(), "a cancelled failure is no dead letter");
        assert!(store.mark_sent(seq, &item, 9, 0).unwrap());
        let records = store.deliveries(1).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!((records[0].0, records[0].1.message_ids.clone()), (445_044, vec![9]));
    }

    #[test]
    fn an_item_still_queued_is_updated_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (seq, mut item) = subscribed_with_queued_item(&store, 450_045);
        item.attempts = 2;
        assert!(store.update_item(seq, &item).unwrap());
        assert_eq!(store.outbox().unwrap(), vec![(seq, item.clone())]);
        assert!(store.mark_sent(seq, &item, 9, 0).unwrap());
        assert_eq!(store.deliveries(1).unwrap()[0].1.message_ids, vec![9]);
        assert_eq!(store.outbox_len(), 0);
    }

    #[test]
    fn stop_counts_a_chat_once_per_job_and_leaves_other_chats_alone() {
        use crate::broadcast::{Job, JobKind};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (_, leaving) = subscribed_with_queued_item(&store, 460_046);
        let staying = OutboxItem { chat_id: 470_047, ..leaving.clone() };
        let job = Job::running(JobKind::Withdraw, 1, 0);
        let for_edition = |edition| {
            let with = |item: &OutboxItem| OutboxItem { edition, ..item.clone() };
            vec![with(&leaving), with(&leaving), with(&staying)]
        };
        let (edition, queued) =
            store.start_job(super::super::EditionKind::Withdraw, &job, for_edition).unwrap();
        // One of the leaving chat's two messages is done: a record and a queued item remain.
        assert!(store.mark_sent(queued[0].0, &queued[0].1, 3, 0).unwrap());
        store.erase_chat(460_046).unwrap();
        assert_eq!(store.job(edition).unwrap().unwrap().erased, 1);
        assert_eq!(store.trees_naming(460_046).unwrap(), Vec::<String>::new());
        let left: Vec<i64> = store.outbox().unwrap().iter().map(|(_, i)| i.chat_id).collect();
        // The first item of `subscribed_with_queued_item` (edition 1) was erased too.
        assert_eq!(left, vec![470_047]);
    }

    // A setting changed while a digest was composed was overwritten by the composed state.
}
