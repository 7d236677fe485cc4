//! Everything the emulator knows, behind its one mutex: the world (people,
//! chats and messages), the update queue, callback and inline queries, commands,
//! webhook, limits, faults and the request log; and the changes of the world that
//! Telegram announces to the bot as updates. Plain data: the methods here never
//! block and never await.

use std::{collections::HashMap, sync::Arc, time::Instant};

use serde_json::{Value, json};

use super::{
    faults::Faults,
    html::Strictness,
    limits::{Flood, Limits},
    sent::InlineAnswer,
    stats::Stats,
    updates::UpdateQueue,
    wire::{self, Standing},
    world::{
        ANONYMOUS_ADMIN_ID, BOT_ID, BotStatus, Chat, ChatKind, Content, Person, StoredMessage,
    },
};

/// A callback query a person made, and whether the bot answered it.
#[derive(Debug, Clone)]
pub(crate) struct CallbackRecord {
    pub chat_id: i64,
    pub answered: bool,
}

/// One request the bot made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Canonical method name, e.g. "sendMessage" (or the raw name if unknown).
    pub method: String,
    /// The `chat_id` parameter, when it had a numeric one.
    pub chat_id: Option<i64>,
    /// When it arrived.
    pub at: Instant,
}

/// An inline query a user made, and the bot's answer once it came.
#[derive(Debug, Clone)]
pub(crate) struct InlineQueryRecord {
    pub from: i64,
    pub at: Instant,
    pub answer: Option<InlineAnswer>,
}

/// The webhook a bot set.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    /// When and why the last push failed.
    pub last_error: Option<(i64, String)>,
}

/// Everything, behind the one mutex of the emulator.
#[derive(Debug)]
pub(crate) struct State {
    pub chats: HashMap<i64, Chat>,
    pub updates: UpdateQueue,
    /// Bumped by every getUpdates, so an older long poll knows it was superseded.
    pub poll_generation: u64,
    /// When the last getUpdates was answered (for [`Stats::longest_poll_gap`]).
    pub last_poll_answer: Option<Instant>,
    pub callbacks: HashMap<String, CallbackRecord>,
    pub next_callback: u64,
    /// Commands by (scope key, language code).
    pub commands: HashMap<(String, String), Vec<(String, String)>>,
    pub requests: Vec<RequestRecord>,
    pub strictness: Strictness,
    /// At most this many messages kept in each chat, the oldest forgotten
    /// ([`crate::Emulator::set_history_limit`]); `None`: all, as Telegram does.
    pub history_limit: Option<usize>,
    pub shutdown: bool,
    /// Everyone the emulator has met, by user id (for chat member lookups).
    pub people: HashMap<i64, Person>,
    pub limits: Limits,
    /// Recent successful sends, for the flood limits.
    pub flood: Flood,
    /// When set, the flood limits judge every request as arriving at this moment instead of
    /// when it did (a test's manual clock: [`crate::Emulator::freeze_limits_clock`]).
    pub limits_clock: Option<Instant>,
    /// Bumped to end every delay injected so far ([`crate::Emulator::release_delayed`]);
    /// `release_answers` says whether the released requests are answered or cut.
    pub releases: u64,
    pub release_answers: bool,
    pub faults: Faults,
    pub stats: Stats,
    /// Files people sent, by file id: (file path for downloads, bytes).
    pub documents: HashMap<String, (String, Vec<u8>)>,
    /// Inline queries people made, by query id.
    pub inline_queries: HashMap<String, InlineQueryRecord>,
    pub next_inline_query: u64,
    /// Photos the bot uploaded, by `file_id`, so it can send them again.
    pub files: HashMap<String, Arc<[u8]>>,
    pub next_file: u64,
    /// The webhook the bot set; while set, updates are pushed and getUpdates is refused.
    pub webhook: Option<Webhook>,
    /// Whether a task is pushing updates to the webhook.
    pub webhook_pusher: bool,
}

impl State {
    pub fn new() -> State {
        State {
            chats: HashMap::new(),
            updates: UpdateQueue::default(),
            poll_generation: 0,
            last_poll_answer: None,
            callbacks: HashMap::new(),
            next_callback: 1,
            commands: HashMap::new(),
            requests: Vec::new(),
            strictness: Strictness::RejectBareAmpersand,
            history_limit: None,
            shutdown: false,
            people: HashMap::new(),
            limits: Limits::telegram(),
            flood: Flood::default(),
            limits_clock: None,
            releases: 0,
            release_answers: true,
            faults: Faults::default(),
            stats: Stats::default(),
            documents: HashMap::new(),
            inline_queries: HashMap::new(),
            next_inline_query: 1,
            files: HashMap::new(),
            next_file: 0,
            webhook: None,
            webhook_pusher: false,
        }
    }

    /// A person by id: one the emulator met, or a placeholder.
    pub fn person(&self, id: i64) -> Person {
        match id {
            BOT_ID => Person::bot(),
            ANONYMOUS_ADMIN_ID => Person::anonymous_admin(),
            _ => self.people.get(&id).cloned().unwrap_or_else(|| Person::placeholder(id)),
        }
    }

    /// The message JSON for a message of a chat, with its reply (one level).
    pub fn message_json(&self, chat_id: i64, message_id: i32) -> Option<Value> {
        let chat = self.chats.get(&chat_id)?;
        let message = chat.messages.get(&message_id)?;
        let mut json = wire::message(chat, message);
        if let Some(reply) = message.reply_to.and_then(|id| chat.messages.get(&id)) {
            json["reply_to_message"] = wire::message(chat, reply);
        }
        Some(json)
    }

    /// Changes the bot's standing in `chat_id` by the hand of `by`, and tells
    /// the bot with a `my_chat_member` update (and, when it joins a group,
    /// the `new_chat_members` message Telegram also sends). No change, no update.
    pub(crate) fn set_bot_status(&mut self, chat_id: i64, by: i64, status: BotStatus) {
        let by = self.person(by);
        let Some(chat) = self.chats.get_mut(&chat_id).filter(|c| c.bot != status) else { return };
        let old = wire::chat_member(&Person::bot(), Standing::from(chat.bot));
        let was_in = matches!(chat.bot, BotStatus::Member | BotStatus::Admin { .. });
        chat.bot = status;
        chat.members.insert(by.id);
        let new = wire::chat_member(&Person::bot(), Standing::from(chat.bot));
        let update = wire::chat_member_updated(chat, &by, old, new);
        let joins_group = !was_in
            && matches!(status, BotStatus::Member | BotStatus::Admin { .. })
            && !matches!(chat.kind, ChatKind::Channel { .. });
        self.updates.push("my_chat_member", update);
        if joins_group {
            let joined = json!({ "new_chat_members": [wire::user(&Person::bot())] });
            self.post_service(chat_id, by, false, joined);
        }
    }

    /// Stores a service message in `chat_id` and queues it as an update.
    pub(crate) fn post_service(
        &mut self,
        chat_id: i64,
        from: Person,
        as_chat: bool,
        fields: Value,
    ) {
        let Some(chat) = self.chats.get_mut(&chat_id) else { return };
        let mut message = StoredMessage::new(from, Content::Service(fields));
        message.as_chat = as_chat;
        let id = chat.store(message);
        let json = self.message_json(chat_id, id).unwrap_or_default();
        self.updates.push("message", json);
    }

    /// Creates the supergroup `new_id` (unless it exists) with the title,
    /// people and bot standing of the group `old`, as an upgrade keeps them.
    pub(crate) fn ensure_supergroup(&mut self, old: Option<i64>, new_id: i64) {
        if self.chats.contains_key(&new_id) {
            return;
        }
        let old = old.and_then(|id| self.chats.get(&id));
        let title = old.and_then(|c| c.kind.title()).unwrap_or("Supergroup").to_owned();
        let mut chat = Chat::new(new_id, ChatKind::Supergroup { title });
        if let Some(old) = old {
            chat.admins.clone_from(&old.admins);
            chat.members.clone_from(&old.members);
            if let BotStatus::Admin { .. } = old.bot {
                chat.bot = old.bot;
            }
        }
        self.chats.insert(new_id, chat);
    }

    /// Upgrades the group `old_id` to the supergroup `new_id`, by the hand of
    /// `by`: the two service messages Telegram sends, then the old id refuses.
    pub(crate) fn migrate(&mut self, old_id: i64, new_id: i64, by: i64) {
        self.ensure_supergroup(Some(old_id), new_id);
        let by = self.person(by);
        self.post_service(old_id, by, false, json!({ "migrate_to_chat_id": new_id }));
        let anonymous = Person::anonymous_admin();
        self.post_service(new_id, anonymous, true, json!({ "migrate_from_chat_id": old_id }));
        if let Some(old) = self.chats.get_mut(&old_id) {
            old.migrated_to = Some(new_id);
        }
    }
}
