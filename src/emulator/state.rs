//! The emulator's world: chats, their messages, the update queue, callback
//! queries, commands and the request log. Plain data behind one mutex; the
//! methods here never block and never await.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

use super::{
    handles::{BotMessage, CallbackAnswer},
    html::{Parsed, Strictness},
    keyboard::Keyboard,
    wire,
};

/// The bot's own user id (also the numeric part of the token).
pub(crate) const BOT_ID: i64 = 7_000_000_001;
/// The bot's first name.
pub(crate) const BOT_NAME: &str = "Tribune";
/// The bot's username, without '@'.
pub(crate) const BOT_USERNAME: &str = "tribune_test_bot";

/// A Telegram user (a person or the bot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
    pub is_bot: bool,
}

impl Person {
    pub fn bot() -> Person {
        Person {
            id: BOT_ID,
            first_name: BOT_NAME.to_owned(),
            username: Some(BOT_USERNAME.to_owned()),
            language_code: None,
            is_bot: true,
        }
    }
}

/// What kind of chat, with what Telegram shows about it.
#[derive(Debug, Clone)]
pub(crate) enum ChatKind {
    Private { first_name: String },
    Group { title: String },
    Supergroup { title: String },
}

/// One chat the emulator knows.
#[derive(Debug)]
pub(crate) struct Chat {
    pub id: i64,
    pub kind: ChatKind,
    /// Ids increase from 1 per chat, shared by the bot's and people's messages.
    pub next_message_id: i32,
    pub messages: BTreeMap<i32, StoredMessage>,
    /// The newest bot message id already handed to a test (`take_new`).
    pub seen_up_to: i32,
    pub answers: Vec<CallbackAnswer>,
    /// How many of `answers` were already handed over by a wait for activity.
    pub answers_seen: usize,
    /// A private chat whose user blocked the bot.
    pub blocked: bool,
}

impl Chat {
    pub fn new(id: i64, kind: ChatKind) -> Chat {
        Chat {
            id,
            kind,
            next_message_id: 1,
            messages: BTreeMap::new(),
            seen_up_to: 0,
            answers: Vec::new(),
            answers_seen: 0,
            blocked: false,
        }
    }

    /// Stores a message under the next id and returns that id.
    pub fn store(&mut self, mut message: StoredMessage) -> i32 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        message.id = id;
        self.messages.insert(id, message);
        id
    }

    /// The bot's messages, oldest first, in their latest state.
    pub fn bot_messages(&self) -> impl Iterator<Item = &StoredMessage> {
        self.messages.values().filter(|m| m.from.is_bot)
    }

    /// Bot messages not yet handed to a test; marks them (and their edits) seen.
    pub fn take_new(&mut self) -> Vec<BotMessage> {
        let from = self.seen_up_to;
        let mut out = Vec::new();
        for m in self.messages.range_mut(from + 1..).map(|(_, m)| m).filter(|m| m.from.is_bot) {
            m.edits_seen = m.edits;
            self.seen_up_to = m.id;
            out.push(m.to_bot_message(self.id));
        }
        out
    }

    /// How many bot messages `take_new` would return.
    pub fn count_new(&self) -> usize {
        self.messages.range(self.seen_up_to + 1..).filter(|(_, m)| m.from.is_bot).count()
    }
}

/// What a message carries.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// `raw` as sent; `parsed` is what a user sees.
    Text {
        raw: String,
        parse_mode: Option<String>,
        parsed: Parsed,
    },
    Sticker,
    Photo,
}

/// A message as the emulator remembers it.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub id: i32,
    pub date: i64,
    pub from: Person,
    pub content: Content,
    pub keyboard: Option<Keyboard>,
    pub edit_date: Option<i64>,
    /// How often it was edited, and how many of those edits a test has seen.
    pub edits: u32,
    pub edits_seen: u32,
    pub disable_link_preview: bool,
    pub reply_to: Option<i32>,
}

impl StoredMessage {
    pub fn new(from: Person, content: Content) -> StoredMessage {
        StoredMessage {
            id: 0,
            date: unix_now(),
            from,
            content,
            keyboard: None,
            edit_date: None,
            edits: 0,
            edits_seen: 0,
            disable_link_preview: false,
            reply_to: None,
        }
    }

    /// The test-facing view of a bot message.
    pub fn to_bot_message(&self, chat_id: i64) -> BotMessage {
        let (text, parse_mode) = match &self.content {
            Content::Text { raw, parse_mode, .. } => (raw.clone(), parse_mode.clone()),
            Content::Sticker | Content::Photo => (String::new(), None),
        };
        BotMessage {
            message_id: self.id,
            chat_id,
            text,
            parse_mode,
            buttons: self.keyboard.as_ref().map(|k| k.rows.clone()).unwrap_or_default(),
            edited: self.edits > 0,
            disable_link_preview: self.disable_link_preview,
        }
    }
}

/// An update waiting to be fetched and confirmed.
#[derive(Debug, Clone)]
pub(crate) struct QueuedUpdate {
    pub id: u32,
    /// The field name: "message", "edited_message", "callback_query", ...
    pub kind: &'static str,
    pub payload: Value,
}

impl QueuedUpdate {
    pub fn to_json(&self) -> Value {
        let mut update = json!({ "update_id": self.id });
        update[self.kind] = self.payload.clone();
        update
    }
}

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

/// Everything, behind the one mutex of the emulator.
#[derive(Debug)]
pub(crate) struct State {
    pub chats: HashMap<i64, Chat>,
    pub updates: VecDeque<QueuedUpdate>,
    pub next_update_id: u32,
    /// Update kinds the bot asked for; `None` means Telegram's default set.
    pub allowed_updates: Option<Vec<String>>,
    /// Bumped by every getUpdates, so an older long poll knows it was superseded.
    pub poll_generation: u64,
    pub callbacks: HashMap<String, CallbackRecord>,
    pub next_callback: u64,
    /// Commands by (scope key, language code).
    pub commands: HashMap<(String, String), Vec<(String, String)>>,
    pub requests: Vec<RequestRecord>,
    pub strictness: Strictness,
    pub shutdown: bool,
}

impl State {
    pub fn new() -> State {
        State {
            chats: HashMap::new(),
            updates: VecDeque::new(),
            next_update_id: 1,
            allowed_updates: None,
            poll_generation: 0,
            callbacks: HashMap::new(),
            next_callback: 1,
            commands: HashMap::new(),
            requests: Vec::new(),
            strictness: Strictness::RejectBareAmpersand,
            shutdown: false,
        }
    }

    /// Queues an update of `kind` and returns its id.
    pub fn enqueue(&mut self, kind: &'static str, payload: Value) -> u32 {
        let id = self.next_update_id;
        self.next_update_id += 1;
        log::debug!("emulator: queued update {id} ({kind})");
        self.updates.push_back(QueuedUpdate { id, kind, payload });
        id
    }

    /// Forgets updates the bot confirmed with `offset`, as Telegram does:
    /// a positive offset confirms every update below it, a negative one keeps
    /// only the last `-offset` updates.
    pub fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.updates.retain(|u| i64::from(u.id) >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while self.updates.len() > keep {
                self.updates.pop_front();
            }
        }
    }

    /// Up to `limit` deliverable updates; updates of kinds the bot did not
    /// ask for are dropped, as Telegram never produces them.
    pub fn deliverable(&mut self, limit: usize) -> Vec<Value> {
        let allowed = self.allowed_updates.clone();
        self.updates.retain(|u| is_allowed(allowed.as_deref(), u.kind));
        self.updates.iter().take(limit).map(QueuedUpdate::to_json).collect()
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
}

/// Whether an update kind passes `allowed_updates`; by default everything
/// but chat_member, message_reaction and message_reaction_count.
fn is_allowed(allowed: Option<&[String]>, kind: &str) -> bool {
    match allowed {
        Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
        _ => !matches!(kind, "chat_member" | "message_reaction" | "message_reaction_count"),
    }
}

/// Seconds since the epoch, as Telegram dates are.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(n: usize) -> State {
        let mut s = State::new();
        for _ in 0..n {
            s.enqueue("message", json!({}));
        }
        s
    }

    #[test]
    fn positive_offset_confirms_earlier_updates() {
        let mut s = state_with(3);
        s.confirm(3);
        assert_eq!(s.updates.iter().map(|u| u.id).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn negative_offset_keeps_the_last_ones() {
        let mut s = state_with(3);
        s.confirm(-1);
        assert_eq!(s.updates.iter().map(|u| u.id).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn allowed_updates_filter_and_drop() {
        let mut s = state_with(1);
        s.enqueue("callback_query", json!({}));
        s.allowed_updates = Some(vec!["callback_query".to_owned()]);
        let got = s.deliverable(100);
        assert_eq!(got.len(), 1);
        assert!(got[0].get("callback_query").is_some());
        assert_eq!(s.updates.len(), 1);
    }
}
