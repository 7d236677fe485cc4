//! `Tribune`, the running service: the store, the current content, the clock and the
//! operators, where bulk work goes, and the choices that need them together (which language
//! a chat reads in, when a subscription is next due). The use cases are its methods, in the
//! other files of `app/`, one file for each kind of request.

use super::{
    error::AppError,
    import::{ContentSource, sync_content},
};
use crate::{
    clock::Clock,
    config::Retention,
    content::{Corpus, Lang},
    delivery::Handover,
    schedule,
    store::{OutboxItem, Pruned, Store},
    subscription::{ChatKind, Frequency, PendingQuestion, Question, Subscription},
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock, RwLock},
    time::Duration,
};
use tokio::sync::Notify;

/// Where bulk work goes once the delivery engine runs, and the name links point to.
struct Outlet {
    handover: Arc<dyn Handover>,
    bot_username: String,
}

/// Shared state of a running Tribune.
pub struct Tribune {
    pub(super) store: Store,
    corpus: RwLock<Arc<Corpus>>,
    pub(super) clock: Clock,
    /// Woken whenever a due time may have moved earlier, so the scheduler re-reads the index.
    schedule_changed: Notify,
    operators: Vec<i64>,
    pub(super) messages_dir: PathBuf,
    /// Content edits are read, combined and stored one at a time (two operators at once would
    /// otherwise each store a corpus without the other's edit).
    pub(super) editing: Mutex<()>,
    /// Status-change alerts are queued one pass at a time (so none is queued twice).
    pub(super) alerting: Mutex<()>,
    /// Set once by the composition root when the engine runs ([`Tribune::connect`]).
    outlet: OnceLock<Outlet>,
    /// When operators were last told that another process takes this bot's updates.
    pub(super) conflict_told: Mutex<Option<i64>>,
    /// Caps the notices about channels added and lost (a flood of them costs nothing).
    pub(super) channel_notices: super::notices::ChannelNotices,
    /// How long each kind of record is kept (the pruning task and the correction window).
    pub(super) retention: Retention,
    /// Scheduler passes that could not queue what was due (a store that cannot save).
    pub(super) scheduler_failures: std::sync::atomic::AtomicU64,
    /// The active channels as last read, and when (`channel_candidates`).
    pub(super) channels: Mutex<Option<(std::time::Instant, Vec<i64>)>>,
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
        Tribune::open_with_clock(data_dir, messages_dir, Clock::System)
    }

    /// The same on another clock (tests move a manual one), which also stamps the import.
    /// Both open the store with the public test key: `serve` uses [`Tribune::open_keyed`].
    pub fn open_with_clock(
        data_dir: &Path,
        messages_dir: &Path,
        clock: Clock,
    ) -> Result<(Tribune, ContentSource), AppError> {
        let secret = crate::store::Secret::public_test_key();
        Tribune::open_keyed(data_dir, messages_dir, &secret, clock)
    }

    /// Opens the store with the operator's key and brings its content up to date.
    pub fn open_keyed(
        data_dir: &Path,
        messages_dir: &Path,
        secret: &crate::store::Secret,
        clock: Clock,
    ) -> Result<(Tribune, ContentSource), AppError> {
        let store = Store::open_keyed(data_dir, secret)?;
        let (corpus, source) = sync_content(&store, messages_dir, clock.unix())?;
        let tribune = Tribune {
            store,
            corpus: RwLock::new(Arc::new(corpus)),
            clock,
            schedule_changed: Notify::new(),
            operators: Vec::new(),
            messages_dir: messages_dir.to_path_buf(),
            editing: Mutex::new(()),
            alerting: Mutex::new(()),
            outlet: OnceLock::new(),
            conflict_told: Mutex::new(None),
            channel_notices: Default::default(),
            scheduler_failures: Default::default(),
            channels: Mutex::new(None),
            retention: Retention::default(),
        };
        Ok((tribune, source))
    }

    /// Uses another clock (tests move a manual one).
    pub fn with_clock(mut self, clock: Clock) -> Tribune {
        self.clock = clock;
        self
    }

    /// How long records are kept (`TRIBUNE_KEEP_*_DAYS`; defaults otherwise).
    pub fn with_retention(mut self, retention: Retention) -> Tribune {
        self.retention = retention;
        self
    }

    /// How long records are kept.
    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    /// One step of pruning on the app's clock: at most `budget` records removed (see
    /// `store::retention`). Returns what it removed.
    pub fn prune_step(&self, budget: usize) -> Result<Pruned, AppError> {
        Ok(self.store.prune(&self.retention, self.clock.unix(), budget)?)
    }

    /// The Telegram user ids of the organisation's operators.
    pub fn with_operators(mut self, operators: Vec<i64>) -> Tribune {
        self.operators = operators;
        self
    }

    /// Where the bulk work of use cases goes from now on (the delivery engine), and the bot's
    /// username for the links in what they compose. Set once, by the composition root, when
    /// the engine runs; a second call is ignored.
    pub fn connect(&self, handover: Arc<dyn Handover>, bot_username: String) {
        if self.outlet.set(Outlet { handover, bot_username }).is_err() {
            log::warn!("Tribune was connected to a delivery engine twice; keeping the first");
        }
    }

    /// Hands items already durable in the outbox to the engine. Before [`Tribune::connect`]
    /// they wait in the outbox, which the engine loads when it starts.
    pub(super) fn hand_over(&self, queued: Vec<(u64, OutboxItem)>) {
        match self.outlet.get() {
            Some(outlet) => outlet.handover.push(queued),
            None if queued.is_empty() => {}
            None => log::warn!("{} item(s) wait in the outbox for the engine", queued.len()),
        }
    }

    /// How many more items the delivery engine would take in at once (the scheduler composes
    /// a round only as fast as it does); unbounded before [`Tribune::connect`], when all waits
    /// in the outbox for the engine to start.
    pub(super) fn delivery_room(&self) -> usize {
        self.outlet.get().map_or(usize::MAX, |o| o.handover.room())
    }

    /// The bot's username, for deep links (empty before [`Tribune::connect`]).
    pub fn bot_username(&self) -> &str {
        self.outlet.get().map_or("", |o| o.bot_username.as_str())
    }

    /// The one source of "now" for the app, the adapter and what they start.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The operators configured (`TRIBUNE_ADMINS`), for their command menus.
    pub fn operators(&self) -> &[i64] {
        &self.operators
    }

    pub(super) fn is_operator(&self, user: i64) -> bool {
        self.operators.contains(&user)
    }

    pub fn schedule_changed(&self) -> &Notify {
        &self.schedule_changed
    }

    /// The content being served now.
    pub fn corpus(&self) -> Arc<Corpus> {
        self.corpus.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(super) fn set_corpus(&self, corpus: Corpus) {
        *self.corpus.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(corpus);
    }

    /// The store, for the composition root, the control socket and tests. The adapter never
    /// names it (`tests/it/architecture.rs`): what it needs is a use case here.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether an update comes from someone Tribune knows: the chat has a subscription
    /// (active, paused or deactivated) or is an operator's, or the sender is an operator.
    /// The intake answers the known first under flood; one store lookup, cheap enough for
    /// every update.
    pub fn is_known(&self, chat_id: i64, sender: Option<i64>) -> bool {
        self.is_operator(chat_id)
            || sender.is_some_and(|s| self.is_operator(s))
            || matches!(self.store.subscription(chat_id), Ok(Some(_)))
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

    /// Subscribes a chat (or resumes its digests with the settings it had, the frequency
    /// included), without asking who wants it: the use cases check first.
    pub(super) fn subscribe_chat(
        &self,
        chat_id: i64,
        kind: ChatKind,
        lang: Lang,
    ) -> Result<Subscription, AppError> {
        let mut sub = match self.store.subscription(chat_id)? {
            Some(mut sub) => {
                sub.resume();
                sub
            }
            None => Subscription::new(chat_id, kind, lang),
        };
        self.reschedule(&mut sub)?;
        Ok(sub)
    }

    /// Applies one settings change; `None` when the chat has no subscription.
    pub(super) fn change_subscription(
        &self,
        chat_id: i64,
        change: crate::subscription::Change,
    ) -> Result<Option<Subscription>, AppError> {
        let Some(mut sub) = self.store.subscription(chat_id)? else { return Ok(None) };
        change.apply(&mut sub);
        self.reschedule(&mut sub)?;
        Ok(Some(sub))
    }

    /// Registers a channel the bot may post in, with digests off until an administrator sets
    /// them up; reactivates one that was deactivated. Returns whether anything changed. Asked
    /// by Telegram (the bot was made an administrator) or by the configuration.
    pub fn register_channel(&self, chat_id: i64) -> Result<bool, AppError> {
        // Listed by `/channels` at once, not after the list's interval.
        *self.channels.lock().unwrap_or_else(|p| p.into_inner()) = None;
        match self.store.subscription(chat_id)? {
            Some(sub) if sub.active => Ok(false),
            Some(mut sub) => {
                sub.active = true;
                sub.deactivated_at = None;
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
    pub(super) fn ask(
        &self,
        chat: i64,
        user: u64,
        target: i64,
        question: Question,
    ) -> Result<(), AppError> {
        let expires_at = self.clock.unix() + QUESTION_WAITS.as_secs() as i64;
        self.store.put_question(chat, user, &PendingQuestion { target, question, expires_at })?;
        Ok(())
    }
}

/// How long a question of the settings card ("Other time…") waits for its typed answer.
pub const QUESTION_WAITS: Duration = Duration::from_secs(30 * 60);

/// How many records one step of pruning removes at most: each step holds off a backup's
/// snapshot only that long, and flushes once.
pub const PRUNE_STEP: usize = 1000;

/// Removes what is past its retention period, every `every` of the app's clock: steps of [`PRUNE_STEP`] records
/// with a pause between them, until a step finds less than a full one (a backlog, after an
/// upgrade or a long stop, is worked off over the following minutes, never in one go); then
/// compacts the store if its files have grown. Runs until the task is dropped.
pub async fn prune_expired(app: Arc<Tribune>, every: Duration) {
    loop {
        // On the app's clock, so that a manual clock moved past a period prunes at once.
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        app.clock.sleep_until(app.clock.now() + every).await;
        loop {
            // A step's flush blocks off the runtime (see the store's `blocking`).
            match app.prune_step(PRUNE_STEP) {
                Ok(pruned) if pruned.total() == 0 => break,
                Ok(pruned) => {
                    log::debug!("pruned {pruned:?}");
                    if pruned.total() < PRUNE_STEP {
                        break;
                    }
                }
                Err(e) => {
                    log::warn!("cannot prune expired records: {e}");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // What was pruned is still in sled's files: copied out of them once they have grown
        // (see `store/compact.rs`; the writes wait meanwhile, off the runtime's workers).
        if let Err(e) = app.store.compact_if_grown() {
            log::warn!("cannot compact the store (will try again): {e}");
        }
    }
}

/// Forgets the questions that expired unanswered, every `every` by the app's clock: they hold
/// the id of the person who was asked, which is kept no longer than needed. Runs until the
/// task is dropped.
pub async fn forget_expired_questions(app: Arc<Tribune>, every: Duration) {
    let every = chrono::TimeDelta::from_std(every).unwrap_or(chrono::TimeDelta::days(1));
    loop {
        match app.store.forget_expired_questions(app.clock.unix()) {
            Ok(0) => {}
            Ok(n) => log::debug!("forgot {n} unanswered question(s)"),
            Err(e) => log::warn!("cannot forget expired questions: {e}"),
        }
        app.clock.sleep_until(app.clock.now() + every).await;
    }
}

/// When reader data is re-sealed under fresh keys and the old ones destroyed (see
/// `store/rotation.rs`): what `/stop` erased becomes unreadable on disk within `after_stop`
/// (plus one check, at most a minute), and everything else removed (deactivated chats,
/// delivered messages, expired questions) within `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shredding {
    /// How long after a `/stop` the keys are rotated (`TRIBUNE_SHRED_AFTER_SECS`).
    pub after_stop: Duration,
    /// How often they are rotated anyway (`TRIBUNE_ROTATE_EVERY_SECS`).
    pub every: Duration,
}

impl Default for Shredding {
    fn default() -> Shredding {
        Shredding { after_stop: Duration::from_secs(3600), every: Duration::from_secs(86_400) }
    }
}

/// Rotates the keys as `policy` says, on the app's clock. Runs until the task is dropped.
pub async fn rotate_keys(app: Arc<Tribune>, policy: Shredding) {
    let check = (policy.after_stop.min(policy.every) / 2)
        .clamp(Duration::from_millis(200), Duration::from_secs(60));
    let mut tick = tokio::time::interval(check);
    let mut stopped_since: Option<i64> = None;
    let mut last = app.clock.unix();
    loop {
        tick.tick().await;
        let now = app.clock.unix();
        match app.store.shred_pending() {
            Ok(true) => {
                stopped_since.get_or_insert(now);
            }
            Ok(false) => stopped_since = None,
            Err(e) => log::warn!("cannot tell whether a /stop waits to be shredded: {e}"),
        }
        let after_stop = policy.after_stop.as_secs() as i64;
        let due = stopped_since.is_some_and(|t| now - t >= after_stop)
            || now - last >= policy.every.as_secs() as i64;
        if !due {
            continue;
        }
        // Its pass takes a while (minutes at a million readers) and the bot goes on meanwhile:
        // on a blocking thread, not one of the runtime's workers.
        // Then, every record being freshly rewritten, the moment to compact the store if its
        // files have grown (sled does not give back all it could: see `store/compact.rs`).
        let store = app.store.clone();
        let rotated = tokio::task::spawn_blocking(move || {
            let rotated = store.rotate_keys();
            if rotated.is_ok()
                && let Err(e) = store.compact_if_grown()
            {
                log::error!(
                    "cannot compact the store (will try again after the next rotation): {e}"
                );
            }
            rotated
        })
        .await
        .unwrap_or_else(|e| Err(crate::store::StoreError::Unwritable(e.to_string())));
        match rotated {
            Ok(rotation) => {
                log::info!("keys rotated: {} records re-sealed", rotation.resealed);
                (last, stopped_since) = (now, None);
            }
            Err(e) => log::error!("cannot rotate the keys (will try again): {e}"),
        }
    }
}

impl Tribune {
    /// Scheduler passes since start that could not queue what was due (each is logged and
    /// retried with a growing pause): how a test, or an operator reading the log, sees that
    /// digests wait on the store.
    pub fn scheduler_failures(&self) -> u64 {
        self.scheduler_failures.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

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
        assert_eq!(sync_content(&store, &messages, 0).unwrap().1, ContentSource::Imported);
        assert_eq!(sync_content(&store, &messages, 0).unwrap().1, ContentSource::Unchanged);
        let slogans = messages.join("slogans.toml");
        let edited =
            std::fs::read_to_string(&slogans).unwrap() + "\n# a comment changes the fingerprint\n";
        std::fs::write(&slogans, edited).unwrap();
        assert_eq!(sync_content(&store, &messages, 0).unwrap().1, ContentSource::Imported);
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
