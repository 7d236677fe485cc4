//! The `Emulator`: starting and stopping the server, the people and chats a test acts
//! through, what it can read back, and what it can change (limits, strictness, faults).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use super::{
    api,
    chats::Channel,
    commands, connection,
    error::WaitError,
    faults::{Fault, FaultTarget, Faults},
    handles::{Conversation, Group, User},
    html::Strictness,
    kinds,
    limits::Limits,
    sent::BotMessage,
    shared::{Shared, lock},
    state::{RequestRecord, State},
    stats::Stats,
    updates::is_allowed,
    world::{BOT_ID, BOT_USERNAME, BotStatus, Chat, ChatKind, DEFAULT_MEMBER_ID, Person, TOKEN},
};

/// A running emulator. Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

/// The HTTP server's address, and how to stop it.
struct Server {
    addr: SocketAddr,
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl Emulator {
    /// Binds 127.0.0.1 on a free port and serves the Bot API there.
    pub async fn start() -> std::io::Result<Emulator> {
        debug_assert!(TOKEN.starts_with(&BOT_ID.to_string()));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new());
        let (stop, stopped) = oneshot::channel::<()>();
        let service =
            api::router(shared.clone()).into_make_service_with_connect_info::<connection::Cut>();
        let listener = connection::Listener(listener);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, service).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                log::error!("emulator: server failed: {error}");
            }
        });
        let server = Server { addr, running: Mutex::new(Some((stop, task))) };
        log::debug!("emulator: listening on {addr}");
        Ok(Emulator { shared, server: Arc::new(server) })
    }

    /// The base URL to give teloxide (`Bot::set_api_url`), ending in '/'.
    pub fn api_url(&self) -> String {
        format!("http://{}/", self.server.addr)
    }

    /// The bot token the emulator accepts; any other gets 401.
    pub fn token(&self) -> &str {
        TOKEN
    }

    /// The bot's username, without '@'.
    pub fn bot_username(&self) -> &str {
        BOT_USERNAME
    }

    /// A user with a private chat whose id is `user_id` (registered again,
    /// the name and language are updated).
    pub fn user(&self, user_id: i64, first_name: &str, language_code: Option<&str>) -> User {
        let person = Person {
            id: user_id,
            first_name: first_name.to_owned(),
            username: None,
            language_code: language_code.map(str::to_owned),
            is_bot: false,
        };
        self.with_state(|s| {
            let kind = ChatKind::Private { first_name: first_name.to_owned() };
            let chat = s.chats.entry(user_id).or_insert_with(|| Chat::new(user_id, kind.clone()));
            chat.kind = kind;
            s.people.insert(user_id, person.clone());
        });
        User::new(self.shared.clone(), person)
    }

    /// A basic group (`chat_id` must be negative) with the bot in it; it
    /// acts as person 100, "Member", also its creator until `set_admins`.
    pub fn group(&self, chat_id: i64, title: &str) -> Group {
        self.register_group(chat_id, ChatKind::Group { title: title.to_owned() })
    }

    /// A supergroup (ids look like -100xxxxxxxxxx) with the bot in it.
    pub fn supergroup(&self, chat_id: i64, title: &str) -> Group {
        self.register_group(chat_id, ChatKind::Supergroup { title: title.to_owned() })
    }

    /// A channel (`chat_id` negative, like -100xxxxxxxxxx) without the bot;
    /// its creator is person 100 until [`Channel::set_admins`].
    pub fn channel(&self, chat_id: i64, title: &str) -> Channel {
        assert!(chat_id < 0, "channel ids are negative, got {chat_id}");
        let kind = ChatKind::Channel { title: title.to_owned() };
        let creator = self.register_chat(chat_id, kind, BotStatus::Left);
        Channel::new(Conversation::new(self.shared.clone(), chat_id, creator))
    }

    fn register_group(&self, chat_id: i64, kind: ChatKind) -> Group {
        assert!(chat_id < 0, "group chat ids are negative, got {chat_id}");
        let member = self.register_chat(chat_id, kind, BotStatus::Member);
        Group::new(self.shared.clone(), chat_id, member)
    }

    /// Registers a group or channel (a new one with its default creator,
    /// and the bot as given) and returns that creator.
    fn register_chat(&self, chat_id: i64, kind: ChatKind, bot: BotStatus) -> Person {
        let creator = Person::placeholder(DEFAULT_MEMBER_ID);
        self.with_state(|s| {
            s.people.entry(creator.id).or_insert_with(|| creator.clone());
            let chat = s.chats.entry(chat_id).or_insert_with(|| {
                let mut chat = Chat::new(chat_id, kind.clone());
                chat.admins.push(creator.id);
                chat.members.insert(creator.id);
                chat.bot = bot;
                chat
            });
            chat.kind = kind;
        });
        creator
    }

    /// The bot's messages in any chat, oldest first, in their latest state (deleted ones gone).
    pub fn chat_messages(&self, chat_id: i64) -> Vec<BotMessage> {
        self.with_state(|s| {
            s.chats
                .get(&chat_id)
                .map(|c| c.bot_messages().map(|m| m.to_bot_message(chat_id)).collect())
                .unwrap_or_default()
        })
    }

    /// Sets the flood limits (Telegram's by default).
    pub fn set_limits(&self, limits: Limits) {
        self.with_state(|s| s.limits = limits);
    }

    /// Stops the flood limits' clock: from now on they judge every request as arriving at
    /// this moment (until [`Emulator::advance_limits_clock`] or
    /// [`Emulator::thaw_limits_clock`]), so a test of the limits counts the same on a machine
    /// of any speed. Only the limits read it: long polls and injected delays keep real time.
    pub fn freeze_limits_clock(&self) {
        self.with_state(|s| s.limits_clock = Some(std::time::Instant::now()));
    }

    /// Moves the frozen limits clock forward by `by` (freezing it first if it runs).
    pub fn advance_limits_clock(&self, by: Duration) {
        self.with_state(|s| {
            s.limits_clock = Some(s.limits_clock.unwrap_or_else(std::time::Instant::now) + by);
        });
    }

    /// Lets the limits read real time again (sends judged at the frozen time stay counted
    /// then).
    pub fn thaw_limits_clock(&self) {
        self.with_state(|s| s.limits_clock = None);
    }

    /// Ends every injected delay now: the requests held are answered at once (a test decides
    /// when a send in flight completes, instead of racing a fixed delay).
    pub fn release_delayed(&self) {
        self.with_state(|s| {
            s.releases += 1;
            s.release_answers = true;
        });
        self.shared.notify();
    }

    /// Ends every injected delay now by closing the connections held without an answer, as a
    /// client whose request timed out sees it (the message, if it was one, stays delivered).
    pub fn cut_delayed(&self) {
        self.with_state(|s| {
            s.releases += 1;
            s.release_answers = false;
        });
        self.shared.notify();
    }

    /// What the emulator served so far.
    pub fn stats(&self) -> Stats {
        self.with_state(|s| {
            let mut stats = s.stats.clone();
            stats.longest_update_wait = s.updates.longest_wait;
            stats
        })
    }

    /// How many calls of a Bot API method arrived (canonical name, e.g. "sendMessage").
    pub fn requests(&self, method: &str) -> usize {
        self.with_state(|s| s.requests.iter().filter(|r| r.method == method).count())
    }

    /// Every authorised request so far, in order of arrival.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.with_state(|s| s.requests.clone())
    }

    /// The command menu a user with this language sees in a private chat.
    pub fn my_commands(&self, language_code: Option<&str>) -> Vec<(String, String)> {
        self.with_state(|s| commands::visible_in_private(s, language_code))
    }

    /// The command menu a user sees in their private chat `chat_id` (a menu set for that chat
    /// comes first).
    pub fn menu_in_chat(&self, chat_id: i64, language_code: Option<&str>) -> Vec<(String, String)> {
        self.with_state(|s| commands::visible(s, Some(chat_id), language_code))
    }

    /// Keeps at most `keep` messages in each chat, forgetting the oldest as the bot sends more
    /// (`None`, the default: all, as Telegram does). For long benchmarks, whose millions of
    /// digests would otherwise be kept in this process's memory; editing or deleting a
    /// forgotten message is answered as for one that never was.
    pub fn set_history_limit(&self, keep: Option<usize>) {
        self.with_state(|s| s.history_limit = keep);
    }

    /// How strictly HTML is checked (default: a bare '&' is rejected).
    pub fn set_strictness(&self, strictness: Strictness) {
        self.with_state(|s| s.strictness = strictness);
    }

    /// The webhook URL the bot set, if any.
    pub fn webhook_url(&self) -> Option<String> {
        self.with_state(|s| s.webhook.as_ref().map(|w| w.url.clone()))
    }

    /// Makes requests to `target` fail with `fault`: the next `n` of them
    /// with `Some(n)`, all of them until [`Emulator::clear_faults`] with `None`.
    pub fn inject(&self, target: FaultTarget, fault: Fault, times: Option<u32>) {
        if times == Some(0) {
            return;
        }
        self.with_state(|s| {
            if let Fault::Migrate(new_id) = fault {
                let old = match target {
                    FaultTarget::Chat(id) => Some(id),
                    FaultTarget::All => None,
                };
                s.ensure_supergroup(old, new_id);
            }
            s.faults.add(target, fault, times);
        });
    }

    /// Starts a random campaign (replacing an earlier one): each request a
    /// fault can apply to fails with probability `rate`, with a fault picked
    /// from `faults`. The same seed and requests give the same faults.
    pub fn inject_random(&self, seed: u64, rate: f64, faults: Vec<Fault>) {
        self.with_state(|s| {
            for fault in &faults {
                if let Fault::Migrate(new_id) = fault {
                    s.ensure_supergroup(None, *new_id);
                }
            }
            s.faults.start_campaign(seed, rate, faults);
        });
    }

    /// Ends the random campaign, keeping the faults injected for particular requests.
    pub fn end_random_faults(&self) {
        self.with_state(|s| s.faults.end_campaign());
    }

    /// Removes every injected fault and the random campaign.
    pub fn clear_faults(&self) {
        self.with_state(|s| s.faults = Faults::default());
    }

    /// A poll's new state: a `poll` update.
    pub fn poll_state(&self, poll_id: &str, question: &str, options: &[(&str, u32)], closed: bool) {
        let poll = kinds::poll_json(poll_id, question, options, closed);
        self.with_state(|s| s.updates.push("poll", poll));
        self.notify();
    }

    /// Hands over every update kind, whatever the bot asked for in `allowed_updates`
    /// (Telegram does not; this is for proving the bot copes anyway).
    pub fn deliver_every_update_kind(&self, on: bool) {
        self.with_state(|s| s.updates.every_kind = on);
    }

    /// Whether Telegram would hand this update kind ("channel_post", "poll", ...) to the bot,
    /// given the `allowed_updates` of its last getUpdates.
    pub fn would_deliver(&self, kind: &str) -> bool {
        self.with_state(|s| is_allowed(s.updates.allowed.as_deref(), kind))
    }

    /// Updates queued and not yet confirmed by the bot.
    pub fn pending_updates(&self) -> usize {
        self.with_state(|s| s.updates.len())
    }

    /// Waits until at least `n` calls of `method` arrived (e.g. to know a
    /// long poll is in flight, or that the bot registered its commands).
    pub async fn wait_for_requests(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let count = |s: &mut State| s.requests.iter().filter(|r| r.method == method).count();
        match self.shared.wait_until(deadline, |s| (count(s) >= n).then_some(())).await {
            Some(()) => Ok(()),
            None => Err(WaitError::Timeout {
                waited: timeout,
                got: format!("{} of {n} {method} request(s)", self.requests(method)),
            }),
        }
    }

    /// Stops the server; in-flight long polls and waits return first.
    pub async fn shutdown(self) {
        self.with_state(|s| s.shutdown = true);
        self.notify();
        let running = lock(&self.server.running).take();
        if let Some((stop, mut task)) = running {
            let _ = stop.send(());
            // Graceful shutdown waits for open connections; don't wait forever.
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                log::warn!("emulator: server did not stop in 5 s; aborting it");
                task.abort();
            }
        }
        log::debug!("emulator: stopped");
    }

    /// Runs `f` on the state under the lock (never held across an await).
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.shared.with_state(f)
    }

    /// Wakes everything waiting for a change.
    pub(crate) fn notify(&self) {
        self.shared.notify();
    }
}
