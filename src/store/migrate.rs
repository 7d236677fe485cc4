//! Sealing a store written before encryption (schema 1: chat ids as big-endian keys, values
//! as plain JSON) on its first start with a key.
//!
//! Each entry is converted by itself: the sealed entry written and the plain one removed in
//! one batch. A plain entry is told from a sealed one by its shape (a chat id's 8 bytes where
//! a tag's 16 now stand; JSON's `{` where a sealed value's version byte 1 now stands), so a
//! migration cut short by a crash or `kill -9` is taken up again at the next start, and the
//! schema becomes 2 only once every tree is converted. The keyring is written before the
//! first entry, so the key of a half-migrated store is already the one to use.

use super::{
    AUDIT, CHATS, DEAD, DELIVERIES, DRAFTS, EDITS, JOBS, OUTBOX, QUESTIONS, Result, SUBS, Store,
    keys,
};

/// One entry a converted entry becomes: (tree, key, value).
type Write = (&'static str, Vec<u8>, Vec<u8>);

/// Entries converted per batch: bounded memory whatever the store's size.
const BATCH: usize = 1_000;

impl Store {
    /// Converts every plain entry of the reader trees; returns how many.
    pub(super) fn migrate_from_plaintext(&self) -> Result<usize> {
        log::info!("sealing reader data written before encryption (schema 1 → 2)");
        let mut done = 0;
        done += self.migrate_tree(&self.t().subs.clone(), |key, raw| {
            let chat = id8(key)?;
            let key = keys::chat_key(&self.tag(chat));
            Some(vec![(super::SUBS, key.to_vec(), self.seal(SUBS, &key, raw))])
        })?;
        done += self.migrate_tree(&self.t().chats.clone(), |key, raw| {
            let chat = id8(key)?;
            let key = keys::chat_key(&self.tag(chat));
            let mut plain = chat.to_be_bytes().to_vec();
            plain.extend_from_slice(raw);
            Some(vec![(super::CHATS, key.to_vec(), self.seal(CHATS, &key, &plain))])
        })?;
        done += self.migrate_tree(&self.t().due.clone(), |key, _| {
            if key.len() != 16 {
                return None;
            }
            let chat = (super::u64_at(key, 8) ^ (1 << 63)) as i64;
            let key = keys::due_key(super::u64_at(key, 0) as i64, &self.tag(chat));
            let sealed = self.seal(super::DUE, &key, &chat.to_be_bytes());
            Some(vec![(super::DUE, key.to_vec(), sealed)])
        })?;
        // Written by a build with retention before encryption: laid out as `due`.
        done += self.migrate_tree(&self.t().gone.clone(), |key, _| {
            if key.len() != 16 {
                return None;
            }
            let chat = (super::u64_at(key, 8) ^ (1 << 63)) as i64;
            let key = keys::gone_key(super::u64_at(key, 0) as i64, &self.tag(chat));
            let sealed = self.seal(super::GONE, &key, &chat.to_be_bytes());
            Some(vec![(super::GONE, key.to_vec(), sealed)])
        })?;
        done += self.migrate_tree(&self.t().deliveries.clone(), |key, raw| {
            if key.len() != 16 {
                return None;
            }
            let (edition, chat) = (super::u64_at(key, 0), super::i64_at(key, 8));
            let key = keys::delivery_key(edition, &self.tag(chat));
            let mut plain = chat.to_be_bytes().to_vec();
            plain.extend_from_slice(raw);
            Some(vec![(DELIVERIES, key.to_vec(), self.seal(DELIVERIES, &key, &plain))])
        })?;
        done += self.migrate_tree(&self.t().chat_editions.clone(), |key, _| {
            if key.len() != 16 {
                return None;
            }
            let (chat, edition) = (super::i64_at(key, 0), super::u64_at(key, 8));
            let key = keys::chat_edition_key(&self.tag(chat), edition);
            Some(vec![(super::CHAT_EDITIONS, key.to_vec(), Vec::new())])
        })?;
        done += self.migrate_tree(&self.t().questions.clone(), |key, raw| {
            if key.len() != 16 {
                return None;
            }
            let (chat, user) = (super::i64_at(key, 0), super::u64_at(key, 8));
            let key = keys::question_key(&self.tag(chat), &self.tag(user as i64));
            let mut plain = chat.to_be_bytes().to_vec();
            plain.extend_from_slice(&user.to_be_bytes());
            plain.extend_from_slice(raw);
            Some(vec![(QUESTIONS, key.to_vec(), self.seal(QUESTIONS, &key, &plain))])
        })?;
        for (tree, name, index) in [
            (&self.t().outbox, OUTBOX, Some(super::OUTBOX_CHATS)),
            (&self.t().dead, DEAD, Some(super::DEAD_CHATS)),
            (&self.t().audit, AUDIT, None),
            (&self.t().edits, EDITS, None),
            (&self.t().drafts, DRAFTS, None),
            (&self.t().jobs, JOBS, None),
        ] {
            done += self.migrate_tree(&tree.clone(), |key, raw| {
                if raw.first() != Some(&b'{') {
                    return None;
                }
                let mut writes = vec![(name, key.to_vec(), self.seal(name, key, raw))];
                if let Some(index) = index {
                    let chat = chat_of_item(name, raw)?;
                    let seq = super::u64_at(key, 0);
                    writes.push((
                        index,
                        keys::by_chat_key(&self.tag(chat), seq).to_vec(),
                        Vec::new(),
                    ));
                }
                Some(writes)
            })?;
        }
        self.sync()?;
        log::info!("sealed {done} records written before encryption");
        Ok(done)
    }

    /// Converts the plain entries of `tree`, in batches: `convert` gives the entries to write
    /// (tree, key, value) for a plain entry, or `None` for one already sealed. The plain entry
    /// is removed in the same batch as its sealed one is written.
    fn migrate_tree(
        &self,
        tree: &sled::Tree,
        convert: impl Fn(&[u8], &[u8]) -> Option<Vec<Write>>,
    ) -> Result<usize> {
        let mut done = 0;
        let mut start: Vec<u8> = Vec::new();
        loop {
            let mut writes = Vec::new();
            let mut seen = 0;
            let mut last = None;
            for entry in tree.range(start.clone()..).take(BATCH) {
                let (key, raw) = entry?;
                seen += 1;
                if let Some(new) = convert(&key, &raw) {
                    writes.push((key.to_vec(), new));
                }
                last = Some(key.to_vec());
            }
            // One transaction per batch: a crash keeps each entry either plain or sealed; each
            // batch flushed, so the work done survives a crash and is not done again.
            self.apply_migration(tree, &writes)?;
            self.t().db.flush()?;
            done += writes.len();
            match last {
                Some(mut key) if seen == BATCH => {
                    key.push(0);
                    start = key;
                }
                _ => break,
            }
        }
        Ok(done)
    }

    fn apply_migration(&self, tree: &sled::Tree, writes: &[(Vec<u8>, Vec<Write>)]) -> Result<()> {
        use sled::Transactional;
        if writes.is_empty() {
            return Ok(());
        }
        let name = String::from_utf8_lossy(&tree.name()).into_owned();
        let index_name = match name.as_str() {
            OUTBOX => super::OUTBOX_CHATS,
            DEAD => super::DEAD_CHATS,
            _ => OUTBOX,
        };
        let index = self.t().db.open_tree(index_name)?;
        (tree, &index)
            .transaction(|(tree, index)| {
                for (old, new) in writes {
                    tree.remove(old.as_slice())?;
                    for (into, key, value) in new {
                        let target = if *into == name.as_str() { tree } else { index };
                        target.insert(key.as_slice(), value.as_slice())?;
                    }
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => e.into(),
                sled::transaction::TransactionError::Abort(()) => {
                    super::StoreError::Corrupt("migration".into())
                }
            })
    }
}

/// A schema-1 key that is a chat id (8 bytes); `None` for a tag (already sealed).
fn id8(key: &[u8]) -> Option<i64> {
    (key.len() == 8).then(|| super::i64_at(key, 0))
}

/// The chat a plain outbox item or dead letter is for.
fn chat_of_item(tree: &str, raw: &[u8]) -> Option<i64> {
    if tree == OUTBOX {
        serde_json::from_slice::<super::OutboxItem>(raw).ok().map(|i| i.chat_id)
    } else {
        serde_json::from_slice::<super::DeadLetter>(raw).ok().map(|d| d.item.chat_id)
    }
}
