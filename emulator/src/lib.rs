//! A local Bot API server: real HTTP on 127.0.0.1, Telegram-shaped JSON,
//! Telegram's limits and error descriptions.
//!
//! Telegram is out of reach in tests and in `tribune demo`, so the bot talks
//! to this instead, through teloxide's configurable API URL. Tests act as
//! people through [`User`] and [`Group`] and wait for what the bot sends back.
//! Each emulator binds its own port, so tests stay parallel and hermetic.
//!
//! Telegram's flood limits are on by default ([`Limits`]; [`Emulator::set_limits`]),
//! failures can be injected ([`Emulator::inject`], [`Emulator::inject_random`]),
//! and [`Emulator::stats`] counts what was asked and answered. Groups and
//! channels have admins, and the bot's joining, leaving and rights reach it
//! as `my_chat_member` updates ([`Group::add_bot`], [`Channel::add_bot_as_admin`]).
//!
//! Map: `api` (HTTP and dispatch), `params` (request parameters),
//! `connection` (connections a fault can cut), `methods`, `commands`, `photos` and
//! `members` (the Bot API methods), `inline` (inline queries and answers),
//! `state` (chats, messages, people), `updates` (the update queue),
//! `wire` (JSON objects), `html` (Telegram's HTML parser), `keyboard` and
//! `links` (inline keyboards and the links Telegram accepts), `limits`
//! (Telegram's rules and flood control), `faults` (injected failures),
//! `stats` (counters), `handles` and `chats` (acting as people and admins),
//! `terminal` (the chat of `tribune demo`).
//!
//! To stop a teloxide dispatcher quickly, ask it to shut down, then shut the
//! emulator down: that releases the dispatcher's pending long poll.

mod api;
mod chats;
mod commands;
mod connection;
mod error;
mod faults;
mod handles;
mod html;
mod inline;
mod keyboard;
mod kinds;
mod limits;
mod links;
mod members;
mod methods;
mod params;
mod photos;
mod state;
mod stats;
pub mod terminal;
mod updates;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
    task::JoinHandle,
};

pub use chats::Channel;
pub use error::{ApiError, ResponseParameters, WaitError};
pub use faults::{Fault, FaultTarget};
pub use handles::{Activity, BotMessage, CallbackAnswer, Conversation, Group, User};
pub use html::Strictness;
pub use inline::{InlineAnswer, InlineArticle};

/// Checks `html` as Telegram's HTML parse mode would (strictly: a bare `&` is refused too);
/// `Err` is Telegram's reason. For tests that check what the bot would send.
pub fn check_html(html: &str) -> Result<(), String> {
    html::parse(html, Strictness::RejectBareAmpersand).map(|_| ())
}
pub use keyboard::Button;
pub use limits::Limits;
pub use state::RequestRecord;
pub use stats::Stats;
pub use terminal::run_terminal;
pub use webhook::SECRET_HEADER;

use state::{BOT_ID, BOT_USERNAME, BotStatus, Chat, ChatKind, DEFAULT_MEMBER_ID, Person, State};

/// The one token the emulator accepts.
const TOKEN: &str = "7000000001:TRIBUNE-EMULATOR-TOKEN-aaaaaaaa";

/// A running emulator. Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Bumped after every change, to wake long polls and waiting tests.
    changes: watch::Sender<u64>,
    addr: SocketAddr,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl Emulator {
    /// Binds 127.0.0.1 on a free port and serves the Bot API there.
    pub async fn start() -> std::io::Result<Emulator> {
        debug_assert!(TOKEN.starts_with(&BOT_ID.to_string()));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (changes, _) = watch::channel(0);
        let emulator = Emulator {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new()),
                changes,
                addr,
                server: Mutex::new(None),
            }),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let service =
            api::router(emulator.clone()).into_make_service_with_connect_info::<connection::Cut>();
        let listener = connection::Listener(listener);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, service).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                log::error!("emulator: server failed: {error}");
            }
        });
        *lock(&emulator.inner.server) = Some((stop, task));
        log::debug!("emulator: listening on {addr}");
        Ok(emulator)
    }

    /// The base URL to give teloxide (`Bot::set_api_url`), ending in '/'.
    pub fn api_url(&self) -> String {
        format!("http://{}/", self.inner.addr)
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
        User::new(self.clone(), person)
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

    fn register_group(&self, chat_id: i64, kind: ChatKind) -> Group {
        assert!(chat_id < 0, "group chat ids are negative, got {chat_id}");
        let member = self.register_chat(chat_id, kind, BotStatus::Member);
        Group::new(self.clone(), chat_id, member)
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

    /// What the emulator served so far.
    pub fn stats(&self) -> Stats {
        self.with_state(|s| s.stats.clone())
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

    /// How strictly HTML is checked (default: a bare '&' is rejected).
    pub fn set_strictness(&self, strictness: Strictness) {
        self.with_state(|s| s.strictness = strictness);
    }

    /// Stops the server; in-flight long polls and waits return first.
    pub async fn shutdown(self) {
        self.with_state(|s| s.shutdown = true);
        self.notify();
        let server = lock(&self.inner.server).take();
        if let Some((stop, mut task)) = server {
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
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut lock(&self.inner.state))
    }

    /// Wakes everything waiting for a change.
    fn notify(&self) {
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn record(&self, method: &str, chat_id: Option<i64>) {
        let record =
            state::RequestRecord { method: method.to_owned(), chat_id, at: Instant::now() };
        self.with_state(|s| s.requests.push(record));
        self.notify();
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
        match self.wait_until(deadline, |s| (count(s) >= n).then_some(())).await {
            Some(()) => Ok(()),
            None => Err(WaitError::Timeout {
                waited: timeout,
                got: format!("{} of {n} {method} request(s)", self.requests(method)),
            }),
        }
    }

    /// Re-checks `check` after every change until it yields, or `None` at
    /// the deadline. Subscribing before checking means no change is missed.
    async fn wait_until<T>(
        &self,
        deadline: tokio::time::Instant,
        mut check: impl FnMut(&mut State) -> Option<T>,
    ) -> Option<T> {
        let mut changes = self.inner.changes.subscribe();
        loop {
            if let Some(value) = self.with_state(&mut check) {
                return Some(value);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives as long as `self`; a timeout ends the wait.
                Ok(Err(_)) | Err(_) => return self.with_state(&mut check),
            }
        }
    }
}

/// Locks a mutex, going on after a panic elsewhere (the state stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
