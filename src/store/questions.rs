//! Questions waiting for a typed answer ("Other time…", "Other zone…"), kept in the store so
//! that an answer typed after a restart is still understood. Each expires; `/stop` erases the
//! ones that name the chat (see `erase.rs`).
//!
//! Key: tag(chat) ++ tag(user) (see `keys.rs`); value, sealed: chat id, user id, question.

use super::{QUESTIONS, Result, Store, StoreError, from_json, keys, to_json};
use crate::subscription::PendingQuestion;

impl Store {
    /// The key of the question `user` was asked in `chat`.
    fn question_key(&self, chat: i64, user: u64) -> [u8; 32] {
        keys::question_key(&self.tag(chat), &self.tag(user as i64))
    }

    /// A question's value: where it was asked, of whom, and what.
    fn seal_question(
        &self,
        key: &[u8],
        chat: i64,
        user: u64,
        q: &PendingQuestion,
    ) -> Result<Vec<u8>> {
        let mut plain = chat.to_be_bytes().to_vec();
        plain.extend_from_slice(&user.to_be_bytes());
        plain.extend_from_slice(&to_json(q)?);
        Ok(self.seal(QUESTIONS, key, &plain))
    }

    fn open_question(&self, key: &[u8], raw: &[u8]) -> Result<(i64, u64, PendingQuestion)> {
        let plain = self.open_sealed(QUESTIONS, key, raw)?;
        if plain.len() < 16 {
            return Err(StoreError::Corrupt("a question".into()));
        }
        let chat = super::i64_at(&plain, 0);
        let user = super::u64_at(&plain, 8);
        Ok((chat, user, from_json(&plain[16..], "question")?))
    }

    /// Remembers that `user` was asked `question` in `chat` (replacing what they were asked
    /// before there), durably.
    pub fn put_question(&self, chat: i64, user: u64, question: &PendingQuestion) -> Result<()> {
        let _writing = self.writing_for(&[chat])?;
        let key = self.question_key(chat, user);
        self.t().questions.insert(key, self.seal_question(&key, chat, user, question)?)?;
        self.sync()
    }

    /// Takes the question `user` was asked in `chat`, unless it expired by `now` (an expired
    /// one is removed all the same). Not flushed: what follows an answer (a saved setting, or
    /// the question asked again) is.
    pub fn take_question(&self, chat: i64, user: u64, now: i64) -> Result<Option<PendingQuestion>> {
        // Asked of every private message: most have no question waiting, and need no write.
        let waiting = self.read_forwarded(chat, || {
            Ok(self.t().questions.contains_key(self.question_key(chat, user))?)
        })?;
        if !waiting {
            return Ok(None);
        }
        let _writing = self.writing_for(&[chat])?;
        // Tagged again under the gate: a key rotation may have begun while it was waited for.
        let key = self.question_key(chat, user);
        let Some(raw) = self.t().questions.remove(key)? else { return Ok(None) };
        match self.open_question(&key, &raw) {
            Ok((_, _, question)) if question.expires_at > now => Ok(Some(question)),
            Ok(_) => Ok(None),
            Err(e) => {
                log::warn!("a stored question does not read ({e}); dropped");
                Ok(None)
            }
        }
    }

    /// Removes every question that expired by `now`; returns how many.
    pub fn forget_expired_questions(&self, now: i64) -> Result<usize> {
        let _writing = self.writing()?;
        let mut expired = Vec::new();
        for entry in self.t().questions.iter() {
            let (key, raw) = entry?;
            let alive = self.open_question(&key, &raw).is_ok_and(|(_, _, q)| q.expires_at > now);
            if !alive {
                expired.push(key);
            }
        }
        for key in &expired {
            self.t().questions.remove(key)?;
        }
        if !expired.is_empty() {
            self.sync()?;
        }
        Ok(expired.len())
    }

    /// The keys of the questions that name `id`: asked in that chat, of that person, or about
    /// that chat's settings (for `/stop`). A scan of the questions waiting, which expire
    /// within 30 minutes: a few, whatever the number of readers.
    pub(super) fn questions_naming(&self, id: i64) -> Result<Vec<sled::IVec>> {
        let mut keys = Vec::new();
        for entry in self.t().questions.iter() {
            let (key, raw) = entry?;
            let names = match self.open_question(&key, &raw) {
                Ok((chat, user, q)) => {
                    chat == id || u64::try_from(id).ok() == Some(user) || q.target == id
                }
                // Unreadable: erased with whoever its key names.
                Err(_) => key.starts_with(&self.tag(id)) || key.ends_with(&self.tag(id)),
            };
            if names {
                keys.push(key);
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::Question;

    fn question(target: i64, expires_at: i64) -> PendingQuestion {
        PendingQuestion { target, question: Question::Time, expires_at }
    }

    #[test]
    fn a_question_outlives_a_restart_until_answered_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_question(5, 5, &question(5, 1_000)).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.take_question(5, 6, 10).unwrap(), None, "another person");
        assert_eq!(store.take_question(5, 5, 10).unwrap(), Some(question(5, 1_000)));
        assert_eq!(store.take_question(5, 5, 10).unwrap(), None, "taken once");
    }

    #[test]
    fn expired_questions_are_not_answered_and_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_question(5, 5, &question(5, 100)).unwrap();
        assert_eq!(store.take_question(5, 5, 100).unwrap(), None);
        store.put_question(-7, 5, &question(-7, 100)).unwrap();
        store.put_question(-7, 8, &question(-7, 200)).unwrap();
        assert_eq!(store.forget_expired_questions(150).unwrap(), 1);
        assert_eq!(store.take_question(-7, 5, 150).unwrap(), None);
        assert_eq!(store.take_question(-7, 8, 150).unwrap(), Some(question(-7, 200)));
    }

    #[test]
    fn questions_naming_a_chat_or_person_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_question(5, 5, &question(5, 100)).unwrap();
        // Person 5 configures channel -100 from their private chat, and a group's settings.
        store.put_question(5, 5, &question(-100, 100)).unwrap();
        store.put_question(-7, 5, &question(-7, 100)).unwrap();
        store.put_question(-7, 8, &question(-7, 100)).unwrap();
        store.put_question(9, 9, &question(-100, 100)).unwrap();
        assert_eq!(store.questions_naming(5).unwrap().len(), 2);
        assert_eq!(store.questions_naming(-7).unwrap().len(), 2);
        assert_eq!(store.questions_naming(-100).unwrap().len(), 2);
        assert_eq!(store.questions_naming(42).unwrap().len(), 0);
    }
}
