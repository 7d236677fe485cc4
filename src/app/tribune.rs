//! `Tribune`, the running service: the store, the current content, the clock and the
//! operators, and the choices that need them together (which language a chat reads in).

use crate::{
    content::{self, ContentEdit, Corpus, Lang, Problem},
    schedule::{self, Clock},
    store::{PrisonerChange, Store, StoreError, StoredEdit, unix_now},
    subscription::{Change, ChatKind, Frequency, PendingQuestion, Question, Subscription},
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::Duration,
};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no content to serve: {0}")]
    NoContent(content::ContentError),
}

/// How the content at start-up was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentSource {
    /// The files changed since the last import and were imported.
    Imported,
    /// The files are what the store already holds.
    Unchanged,
    /// The files are broken; the store's previous content is served.
    KeptPrevious,
}

/// Shared state of a running Tribune.
pub struct Tribune {
    store: Store,
    corpus: RwLock<Arc<Corpus>>,
    clock: Clock,
    /// Woken whenever a due time may have moved earlier, so the scheduler re-reads the index.
    schedule_changed: Notify,
    operators: Vec<i64>,
    messages_dir: PathBuf,
    /// Content edits are read, combined and stored one at a time (two operators at once would
    /// otherwise each store a corpus without the other's edit).
    editing: std::sync::Mutex<()>,
    /// Status-change alerts are queued one pass at a time (so none is queued twice).
    alerting: std::sync::Mutex<()>,
}

impl Tribune {
    /// Opens the store and brings its content up to date with `messages_dir`.
    ///
    /// Broken files never take the bot down when the store has content: the error is logged
    /// with every `file:line` and the previous content is served.
    pub fn open(
        data_dir: &Path,
        messages_dir: &Path,
    ) -> Result<(Tribune, ContentSource), AppError> {
        let store = Store::open(data_dir)?;
        let (corpus, source) = sync_content(&store, messages_dir)?;
        let tribune = Tribune {
            store,
            corpus: RwLock::new(Arc::new(corpus)),
            clock: Clock::System,
            schedule_changed: Notify::new(),
            operators: Vec::new(),
            messages_dir: messages_dir.to_path_buf(),
            editing: std::sync::Mutex::new(()),
            alerting: std::sync::Mutex::new(()),
        };
        Ok((tribune, source))
    }

    /// Uses another clock (tests move a manual one).
    pub fn with_clock(mut self, clock: Clock) -> Tribune {
        self.clock = clock;
        self
    }

    /// The Telegram user ids of the organisation's operators.
    pub fn with_operators(mut self, operators: Vec<i64>) -> Tribune {
        self.operators = operators;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn operators(&self) -> &[i64] {
        &self.operators
    }

    pub fn schedule_changed(&self) -> &Notify {
        &self.schedule_changed
    }

    /// Subscribes a chat (or resumes its digests), keeping any settings it had.
    pub fn subscribe(
        &self,
        chat_id: i64,
        kind: ChatKind,
        lang: Lang,
    ) -> Result<Subscription, AppError> {
        let mut sub = self
            .store
            .subscription(chat_id)?
            .unwrap_or_else(|| Subscription::new(chat_id, kind, lang));
        sub.active = true;
        if sub.frequency == Frequency::Off {
            sub.frequency = Frequency::Daily;
        }
        self.reschedule(&mut sub)?;
        Ok(sub)
    }

    /// Applies one settings change; `None` when the chat has no subscription.
    pub fn change_subscription(
        &self,
        chat_id: i64,
        change: Change,
    ) -> Result<Option<Subscription>, AppError> {
        let Some(mut sub) = self.store.subscription(chat_id)? else { return Ok(None) };
        change.apply(&mut sub);
        self.reschedule(&mut sub)?;
        Ok(Some(sub))
    }

    /// Registers a channel the bot may post in, with digests off until an administrator sets
    /// them up; reactivates one that was deactivated. Returns whether anything changed.
    pub fn register_channel(&self, chat_id: i64) -> Result<bool, AppError> {
        match self.store.subscription(chat_id)? {
            Some(sub) if sub.active => Ok(false),
            Some(mut sub) => {
                sub.active = true;
                self.reschedule(&mut sub)?;
                Ok(true)
            }
            None => {
                let mut sub = Subscription::new(chat_id, ChatKind::Channel, Lang::En);
                sub.frequency = Frequency::Off;
                self.reschedule(&mut sub)?;
                Ok(true)
            }
        }
    }

    /// Computes the next due time from now and saves, durably.
    fn reschedule(&self, sub: &mut Subscription) -> Result<(), AppError> {
        sub.next_due = if sub.receives_digests() {
            schedule::next_due(sub.frequency, sub.time, sub.zone, self.clock.now())
                .map(|t| t.timestamp())
        } else {
            None
        };
        self.store.save_subscription(sub)?;
        self.schedule_changed.notify_one();
        Ok(())
    }

    /// Remembers, durably (an answer typed after a restart is still understood), that `user`
    /// was asked in `chat` to type a setting of `target`'s; it waits [`QUESTION_WAITS`].
    pub fn ask(
        &self,
        chat: i64,
        user: u64,
        target: i64,
        question: Question,
    ) -> Result<(), AppError> {
        let expires_at = self.clock.now().timestamp() + QUESTION_WAITS.as_secs() as i64;
        self.store.put_question(chat, user, &PendingQuestion { target, question, expires_at })?;
        Ok(())
    }

    /// The question `user` was asked in `chat` and has not answered yet, unless it expired;
    /// it is answered now (asking again is [`Tribune::ask`]).
    pub fn take_question(&self, chat: i64, user: u64) -> Result<Option<PendingQuestion>, AppError> {
        Ok(self.store.take_question(chat, user, self.clock.now().timestamp())?)
    }

    /// Whether a Telegram user is one of the organisation's operators.
    pub fn is_operator(&self, user_id: i64) -> bool {
        self.operators.contains(&user_id)
    }

    /// Whether Tribune knows this chat: it has a subscription (active, paused or deactivated)
    /// or is an operator's. The intake answers known chats first under flood; one store
    /// lookup, cheap enough for every update.
    pub fn is_known_chat(&self, chat_id: i64) -> bool {
        self.is_operator(chat_id) || matches!(self.store.subscription(chat_id), Ok(Some(_)))
    }

    /// Applies a content edit made from Telegram: `messages/` plus every stored edit plus this
    /// one must parse and check as a whole, else nothing changes and the problems are returned
    /// (with file and line). On success the edit and the new content are stored durably and
    /// served at once; the prisoner-status changes it made are returned for alerts.
    pub fn apply_edit(
        &self,
        operator: i64,
        edit: ContentEdit,
    ) -> Result<Result<Vec<PrisonerChange>, Vec<Problem>>, AppError> {
        let _editing = self.editing.lock().unwrap_or_else(|p| p.into_inner());
        let mut edits: Vec<ContentEdit> =
            self.store.edits()?.into_iter().map(|(_, e)| e.edit).collect();
        edits.push(edit.clone());
        let (corpus, hash) = match self.combined(&edits)? {
            Ok(done) => done,
            Err(problems) => return Ok(Err(problems)),
        };
        let stored = StoredEdit { at: unix_now(), operator, edit };
        let (_, changes) = self.store.save_edit(&stored, &corpus, hash)?;
        self.set_corpus(corpus);
        Ok(Ok(changes))
    }

    /// Removes a stored edit (by its number in `/edits`), serving the content without it.
    /// `Ok(Err(..))` when the rest no longer checks without it; `Ok(Ok(None))` when there is no
    /// such edit.
    pub fn drop_edit(
        &self,
        seq: u64,
    ) -> Result<Result<Option<Vec<PrisonerChange>>, Vec<Problem>>, AppError> {
        let _editing = self.editing.lock().unwrap_or_else(|p| p.into_inner());
        let all = self.store.edits()?;
        if !all.iter().any(|(s, _)| *s == seq) {
            return Ok(Ok(None));
        }
        let edits: Vec<ContentEdit> =
            all.into_iter().filter(|(s, _)| *s != seq).map(|(_, e)| e.edit).collect();
        let (corpus, hash) = match self.combined(&edits)? {
            Ok(done) => done,
            Err(problems) => return Ok(Err(problems)),
        };
        let changes = self.store.drop_edit(seq, &corpus, hash)?;
        self.set_corpus(corpus);
        Ok(Ok(Some(changes)))
    }

    fn combined(
        &self,
        edits: &[ContentEdit],
    ) -> Result<Result<(Corpus, u64), Vec<Problem>>, AppError> {
        let files = match content::parse::read_files(&self.messages_dir) {
            Ok(files) => files,
            Err(content::ContentError::Invalid(problems)) => return Ok(Err(problems)),
            Err(e) => return Err(AppError::NoContent(e)),
        };
        Ok(content::edits::apply(&files, edits))
    }

    fn set_corpus(&self, corpus: Corpus) {
        *self.corpus.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(corpus);
    }

    /// Held while status-change alerts are composed and queued.
    pub fn alerting(&self) -> std::sync::MutexGuard<'_, ()> {
        self.alerting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The content being served now.
    pub fn corpus(&self) -> Arc<Corpus> {
        self.corpus.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The language a chat reads in: its own choice, else its Telegram language, else English.
    pub fn lang_for(&self, chat_id: i64, telegram_code: Option<&str>) -> Lang {
        match self.store.chat(chat_id) {
            Ok(settings) => settings.lang,
            Err(e) => {
                log::error!("cannot read chat settings: {e}");
                None
            }
        }
        .unwrap_or_else(|| Lang::from_telegram(telegram_code))
    }
}

/// How long a question of the settings card ("Other time…") waits for its typed answer.
pub const QUESTION_WAITS: Duration = Duration::from_secs(30 * 60);

/// Forgets the questions that expired unanswered, every `every`: they hold the id of the
/// person who was asked, which is kept no longer than needed. Runs until the task is dropped.
pub async fn forget_expired_questions(app: Arc<Tribune>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match app.store.forget_expired_questions(app.clock.now().timestamp()) {
            Ok(0) => {}
            Ok(n) => log::debug!("forgot {n} unanswered question(s)"),
            Err(e) => log::warn!("cannot forget expired questions: {e}"),
        }
    }
}

/// Imports `messages_dir`, with the operators' stored edits on top, into the store when either
/// changed; returns the content to serve.
pub fn sync_content(
    store: &Store,
    messages_dir: &Path,
) -> Result<(Corpus, ContentSource), AppError> {
    let edits: Vec<ContentEdit> = store.edits()?.into_iter().map(|(_, e)| e.edit).collect();
    let combined = content::parse::read_files(messages_dir).and_then(|files| {
        content::edits::apply(&files, &edits).map_err(content::ContentError::Invalid)
    });
    match combined {
        Ok((corpus, hash)) => {
            if store.content_hash()? == Some(hash)
                && let Some((stored, _)) = store.corpus()?
            {
                return Ok((stored, ContentSource::Unchanged));
            }
            store.import(&corpus, hash)?;
            log::info!(
                "imported content: {} statements, {} slogans, {} prisoners ({} edit(s) from Telegram on top)",
                corpus.statements.len(),
                corpus.slogans.len(),
                corpus.prisoners.len(),
                edits.len()
            );
            Ok((corpus, ContentSource::Imported))
        }
        Err(error) => match store.corpus()? {
            Some((corpus, _)) => {
                log::error!(
                    "content in {} (with {} edit(s) made from Telegram) is not valid; serving the previous content. {error}",
                    messages_dir.display(),
                    edits.len()
                );
                Ok((corpus, ContentSource::KeptPrevious))
            }
            None => Err(AppError::NoContent(error)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_messages(to: &Path) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
        for sub in ["", "statements", "ui"] {
            std::fs::create_dir_all(to.join(sub)).unwrap();
            for entry in std::fs::read_dir(from.join(sub)).unwrap().flatten() {
                if entry.file_type().unwrap().is_file() {
                    std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
                }
            }
        }
    }

    #[test]
    fn imports_once_then_only_when_files_change() {
        let dir = tempfile::tempdir().unwrap();
        let messages = dir.path().join("messages");
        copy_messages(&messages);
        let store = Store::open(&dir.path().join("data")).unwrap();
        assert_eq!(sync_content(&store, &messages).unwrap().1, ContentSource::Imported);
        assert_eq!(sync_content(&store, &messages).unwrap().1, ContentSource::Unchanged);
        let slogans = messages.join("slogans.toml");
        let edited =
            std::fs::read_to_string(&slogans).unwrap() + "\n# a comment changes the fingerprint\n";
        std::fs::write(&slogans, edited).unwrap();
        assert_eq!(sync_content(&store, &messages).unwrap().1, ContentSource::Imported);
    }

    #[test]
    fn broken_files_keep_the_previous_content() {
        let dir = tempfile::tempdir().unwrap();
        let messages = dir.path().join("messages");
        copy_messages(&messages);
        let data = dir.path().join("data");
        // The first instance is dropped (closing the store) before the second opens it.
        let before = {
            let (app, source) = Tribune::open(&data, &messages).unwrap();
            assert_eq!(source, ContentSource::Imported);
            app.corpus()
        };
        std::fs::write(messages.join("prisoners.toml"), "[[prisoner]]\nid = \"broken\"\n").unwrap();
        let (app, source) = Tribune::open(&data, &messages).unwrap();
        assert_eq!(source, ContentSource::KeptPrevious);
        assert_eq!(*app.corpus(), *before);
    }

    #[test]
    fn broken_files_with_an_empty_store_are_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let messages = dir.path().join("messages");
        copy_messages(&messages);
        std::fs::write(messages.join("slogans.toml"), "[[slogan]]\nid = 5\n").unwrap();
        let error =
            Tribune::open(&dir.path().join("data"), &messages).err().expect("no content to serve");
        let text = error.to_string();
        assert!(
            text.starts_with("no content to serve: 1 problem(s) in the content:\nslogans.toml:2:"),
            "{text}"
        );
    }
}
