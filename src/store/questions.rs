//! Questions waiting for a typed answer ("Other time…", "Other zone…"), kept in the store so
//! that an answer typed after a restart is still understood. Each expires; `/stop` erases the
//! ones that name the chat (see `subs.rs`).

use super::{Result, Store, from_json, key2, to_json};
use crate::subscription::PendingQuestion;

/// The key of the question `user` was asked in `chat`: chat id ++ user id.
fn key(chat: i64, user: u64) -> [u8; 16] {
    key2(chat.to_be_bytes(), user.to_be_bytes())
}

impl Store {
    /// Remembers that `user` was asked `question` in `chat` (replacing what they were asked
    /// before there), durably.
    pub fn put_question(&self, chat: i64, user: u64, question: &PendingQuestion) -> Result<()> {
        let _writing = self.writing()?;
        self.questions.insert(key(chat, user), to_json(question)?)?;
        self.sync()
    }

    /// Takes the question `user` was asked in `chat`, unless it expired by `now` (an expired
    /// one is removed all the same). Not flushed: what follows an answer (a saved setting, or
    /// the question asked again) is.
    pub fn take_question(&self, chat: i64, user: u64, now: i64) -> Result<Option<PendingQuestion>> {
        // Asked of every private message: most have no question waiting, and need no write.
        if !self.questions.contains_key(key(chat, user))? {
            return Ok(None);
        }
        let _writing = self.writing()?;
        let Some(raw) = self.questions.remove(key(chat, user))? else { return Ok(None) };
        match from_json::<PendingQuestion>(&raw, "question") {
            Ok(question) if question.expires_at > now => Ok(Some(question)),
            Ok(_) => Ok(None),
            Err(e) => {
                log::warn!("a stored question does not parse ({e}); dropped");
                Ok(None)
            }
        }
    }

    /// Removes every question that expired by `now`; returns how many.
    pub fn forget_expired_questions(&self, now: i64) -> Result<usize> {
        let _writing = self.writing()?;
        let mut expired = Vec::new();
        for entry in self.questions.iter() {
            let (key, raw) = entry?;
            let alive = from_json::<PendingQuestion>(&raw, "question")
                .is_ok_and(|question| question.expires_at > now);
            if !alive {
                expired.push(key);
            }
        }
        for key in &expired {
            self.questions.remove(key)?;
        }
        if !expired.is_empty() {
            self.sync()?;
        }
        Ok(expired.len())
    }

    /// The keys of the questions that name `id`: asked in that chat, of that person, or about
    /// that chat's settings (for `/stop`).
    pub(super) fn questions_naming(&self, id: i64) -> Result<Vec<sled::IVec>> {
        let mut keys = Vec::new();
        for entry in self.questions.iter() {
            let (key, raw) = entry?;
            let asked_in = key.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
            let asked = key.get(8..16).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
            let about = from_json::<PendingQuestion>(&raw, "question").ok().map(|q| q.target);
            if asked_in == Some(id) || asked == u64::try_from(id).ok() || about == Some(id) {
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
