//! Bringing a chat's records forward to the current epoch while a key rotation runs: what
//! every use of a chat's records does first, so that it finds them under the current tag.

use super::super::{
    CHATS, DELIVERIES, QUESTIONS, Result, SUBS, Store, gate::Shared, keys, subs::gone_since,
    tx_error,
};
use crate::subscription::Subscription;
use sled::Transactional;

/// A chat's records under one old tag, found through its indexes.
#[derive(Default)]
struct Found {
    editions: Vec<u64>,
    queued: Vec<u64>,
    dead: Vec<u64>,
    questions: Vec<sled::IVec>,
}

impl Store {
    /// Opens a write about `chats`: the write hold first, then their records brought forward,
    /// so that no epoch switch (which waits for writes to end) comes between the two and what
    /// the write then reads and writes by their tags.
    pub(in crate::store) fn writing_for(&self, chats: &[i64]) -> Result<Shared<'_>> {
        let writing = self.writing()?;
        for &chat in chats {
            self.forward(chat)?;
        }
        Ok(writing)
    }

    /// `read` of a chat's records by its tag, once they are brought forward; again should the
    /// epoch have switched meanwhile (a read holds nothing that keeps it from switching).
    pub(in crate::store) fn read_forwarded<T>(
        &self,
        chat: i64,
        read: impl Fn() -> Result<T>,
    ) -> Result<T> {
        loop {
            let epoch = self.keys().current().id;
            self.forward(chat)?;
            let value = read()?;
            if self.keys().current().id == epoch {
                return Ok(value);
            }
        }
    }

    /// Moves whatever of `chat`'s records a rotation under way has not moved yet under the
    /// current epoch's tag, in one transaction per old epoch. Outside a rotation it only
    /// looks at the keyring. Never inside a transaction; before a write, under its hold
    /// ([`Store::writing_for`]); before a read, through [`Store::read_forwarded`].
    pub(in crate::store) fn forward(&self, chat: i64) -> Result<()> {
        let old: Vec<keys::Tag> = {
            let keys = self.keys();
            if keys.epochs().len() < 2 {
                return Ok(());
            }
            let now = keys.current().id;
            keys.epochs().iter().filter(|e| e.id != now).map(|e| e.tag(chat)).collect()
        };
        for tag in old {
            self.forward_from(chat, &tag)?;
        }
        Ok(())
    }

    fn forward_from(&self, chat: i64, old: &keys::Tag) -> Result<()> {
        let key = keys::chat_key(old);
        let prefix = keys::chat_prefix(old);
        let mut found = Found::default();
        for entry in self.t().chat_editions.scan_prefix(prefix) {
            found.editions.push(keys::chat_edition_edition(&entry?.0));
        }
        for entry in self.t().outbox_chats.scan_prefix(prefix) {
            found.queued.push(keys::by_chat_seq(&entry?.0));
        }
        for entry in self.t().dead_chats.scan_prefix(prefix) {
            found.dead.push(keys::by_chat_seq(&entry?.0));
        }
        for entry in self.t().questions.scan_prefix(prefix) {
            found.questions.push(entry?.0);
        }
        let nothing = found.editions.is_empty()
            && found.queued.is_empty()
            && found.dead.is_empty()
            && found.questions.is_empty()
            && !self.t().chats.contains_key(key)?
            && !self.t().subs.contains_key(key)?;
        if nothing {
            return Ok(());
        }
        let _writing = self.writing()?;
        let now = self.keys().current().clone();
        let new = now.tag(chat);
        let trees = (
            &self.t().chats,
            &self.t().subs,
            &self.t().due,
            &self.t().gone,
            &self.t().deliveries,
            &self.t().chat_editions,
            &self.t().outbox_chats,
            &self.t().dead_chats,
            &self.t().questions,
        );
        trees
            .transaction(
                |(
                    chats,
                    subs,
                    due,
                    gone,
                    deliveries,
                    chat_editions,
                    outbox_chats,
                    dead_chats,
                    questions,
                )| {
                    let new_key = keys::chat_key(&new);
                    // Under both tags (never, as every write brings its chat forward first):
                    // the one under the new tag is the newer.
                    if let Some(raw) = chats.remove(&key)?
                        && chats.get(new_key)?.is_none()
                        && let Ok(plain) = self.open_sealed(CHATS, &key, &raw)
                    {
                        chats.insert(&new_key, now.seal(CHATS, &new_key, &plain))?;
                    }
                    if let Some(raw) = subs.remove(&key)? {
                        match self.open_json::<Subscription>(SUBS, &key, &raw, "subscription") {
                            Ok(sub) => {
                                if let Some(at) = sub.next_due {
                                    due.remove(&keys::due_key(at, old))?;
                                }
                                if let Some(at) = gone_since(&sub) {
                                    gone.remove(&keys::gone_key(at, old))?;
                                }
                                if subs.get(new_key)?.is_none() {
                                    self.write_subscription(subs, due, gone, &sub)?;
                                }
                            }
                            // As `subscription` reads it: absent (the chat can subscribe afresh).
                            Err(e) => log::warn!("dropping a subscription that does not read: {e}"),
                        }
                    }
                    for &edition in &found.editions {
                        let (from, to) =
                            (keys::delivery_key(edition, old), keys::delivery_key(edition, &new));
                        if let Some(raw) = deliveries.remove(&from)?
                            && deliveries.get(to)?.is_none()
                            && let Ok(plain) = self.open_sealed(DELIVERIES, &from, &raw)
                        {
                            deliveries.insert(&to, now.seal(DELIVERIES, &to, &plain))?;
                        }
                        chat_editions.remove(&keys::chat_edition_key(old, edition))?;
                        if deliveries.get(to)?.is_some() {
                            chat_editions.insert(&keys::chat_edition_key(&new, edition), &[])?;
                        }
                    }
                    for (index, seqs) in [(outbox_chats, &found.queued), (dead_chats, &found.dead)]
                    {
                        for &seq in seqs {
                            // Only what is still there: an item sent or erased since the scan
                            // took its entry with it.
                            if index.remove(&keys::by_chat_key(old, seq))?.is_some() {
                                index.insert(&keys::by_chat_key(&new, seq), &[])?;
                            }
                        }
                    }
                    for from in &found.questions {
                        let Some(raw) = questions.remove(from)? else { continue };
                        let Ok(plain) = self.open_sealed(QUESTIONS, from, &raw) else { continue };
                        let user = super::super::i64_at(&plain, 8);
                        let to = keys::question_key(&new, &now.tag(user));
                        if questions.get(to)?.is_none() {
                            questions.insert(&to, now.seal(QUESTIONS, &to, &plain))?;
                        }
                    }
                    Ok(())
                },
            )
            .map_err(tx_error)
    }
}
