//! The emulator's world as plain data: people, chats and their messages,
//! with the ids Telegram would give them. `state` holds it, behind one mutex.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use super::{
    html::Parsed,
    keyboard::Keyboard,
    sent::{BotMessage, CallbackAnswer},
};

/// The one token the emulator accepts.
pub(crate) const TOKEN: &str = "7000000001:TRIBUNE-EMULATOR-TOKEN-aaaaaaaa";
/// The bot's own user id (also the numeric part of the token).
pub(crate) const BOT_ID: i64 = 7_000_000_001;
/// The bot's first name.
pub(crate) const BOT_NAME: &str = "Tribune";
/// The bot's username, without '@'.
pub(crate) const BOT_USERNAME: &str = "tribune_test_bot";
/// The user Telegram puts in `from` of anonymous group admins' messages.
pub(crate) const ANONYMOUS_ADMIN_ID: i64 = 1_087_968_824;
/// The person a group or channel starts with, as its creator.
pub(crate) const DEFAULT_MEMBER_ID: i64 = 100;

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

    /// Telegram's stand-in sender for anonymous group administrators.
    pub fn anonymous_admin() -> Person {
        Person {
            id: ANONYMOUS_ADMIN_ID,
            first_name: "Group".to_owned(),
            username: Some("GroupAnonymousBot".to_owned()),
            language_code: None,
            is_bot: true,
        }
    }

    /// A person known only by id (an admin named in a test, say).
    pub fn placeholder(id: i64) -> Person {
        let first_name =
            if id == DEFAULT_MEMBER_ID { "Member".to_owned() } else { format!("User {id}") };
        Person { id, first_name, username: None, language_code: None, is_bot: false }
    }
}

/// What kind of chat, with what Telegram shows about it.
#[derive(Debug, Clone)]
pub(crate) enum ChatKind {
    Private { first_name: String },
    Group { title: String },
    Supergroup { title: String },
    Channel { title: String },
}

impl ChatKind {
    /// The title of a group, supergroup or channel.
    pub fn title(&self) -> Option<&str> {
        match self {
            ChatKind::Private { .. } => None,
            ChatKind::Group { title }
            | ChatKind::Supergroup { title }
            | ChatKind::Channel { title } => Some(title),
        }
    }
}

/// The bot's standing in a chat, which decides what it may do there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BotStatus {
    Member,
    Admin { can_post_messages: bool },
    Left,
    Kicked,
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
    /// Administrators by user id, the creator first (the bot is not listed).
    pub admins: Vec<i64>,
    /// People known to be in the chat (they wrote there or were named).
    pub members: BTreeSet<i64>,
    /// Where the bot stands in this chat.
    pub bot: BotStatus,
    /// A basic group upgraded to this supergroup: sends here fail.
    pub migrated_to: Option<i64>,
    /// A public channel's or group's username, without '@' (getChat finds it by `@username`).
    pub username: Option<String>,
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
            admins: Vec::new(),
            members: BTreeSet::new(),
            bot: BotStatus::Member,
            migrated_to: None,
            username: None,
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

    /// Forgets the oldest messages until at most `keep` are left.
    pub fn forget_all_but(&mut self, keep: usize) {
        while self.messages.len() > keep {
            self.messages.pop_first();
        }
    }

    /// The bot's messages, oldest first, in their latest state.
    pub fn bot_messages(&self) -> impl Iterator<Item = &StoredMessage> {
        self.messages.values().filter(|m| m.is_from_bot())
    }

    /// Bot messages not yet handed to a test; marks them (and their edits) seen.
    pub fn take_new(&mut self) -> Vec<BotMessage> {
        let from = self.seen_up_to;
        let mut out = Vec::new();
        for m in self.messages.range_mut(from + 1..).map(|(_, m)| m).filter(|m| m.is_from_bot()) {
            m.edits_seen = m.edits;
            self.seen_up_to = m.id;
            out.push(m.to_bot_message(self.id));
        }
        out
    }

    /// How many bot messages `take_new` would return.
    pub fn count_new(&self) -> usize {
        self.messages.range(self.seen_up_to + 1..).filter(|(_, m)| m.is_from_bot()).count()
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
    /// A photo a person sent, with an optional caption (`raw` as sent, `parsed` as shown).
    Photo {
        caption: Option<(String, Parsed)>,
    },
    /// A file, with an optional caption (`raw` as sent, `parsed` as shown).
    Document {
        file_id: String,
        file_name: String,
        file_size: usize,
        caption: Option<(String, Parsed)>,
    },
    /// A photo the bot sent, with its bytes and caption.
    SentPhoto(Box<SentPhoto>),
    /// A poll: its `Poll` object.
    Poll(Value),
    /// A service message: these fields are merged into the message object.
    Service(Value),
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
    /// Sent on behalf of the chat itself (`sender_chat`), as anonymous
    /// group admins do; channel posts always are.
    pub as_chat: bool,
    /// Sent by a person through the bot's inline mode.
    pub via_bot: bool,
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
            as_chat: false,
            via_bot: false,
        }
    }

    /// Whether the bot sent it (GroupAnonymousBot is a bot, but not ours).
    pub fn is_from_bot(&self) -> bool {
        self.from.id == BOT_ID
    }

    /// The test-facing view of a bot message.
    pub fn to_bot_message(&self, chat_id: i64) -> BotMessage {
        let (text, parse_mode) = match &self.content {
            Content::Text { raw, parse_mode, .. } => (raw.clone(), parse_mode.clone()),
            Content::Document { caption: Some((raw, _)), .. }
            | Content::Photo { caption: Some((raw, _)) } => (raw.clone(), None),
            Content::SentPhoto(photo) => photo
                .caption
                .as_ref()
                .map(|(raw, mode, _)| (raw.clone(), mode.clone()))
                .unwrap_or_default(),
            Content::Sticker
            | Content::Photo { .. }
            | Content::Poll(_)
            | Content::Document { .. }
            | Content::Service(_) => (String::new(), None),
        };
        let document = match &self.content {
            Content::Document { file_name, .. } => Some(file_name.clone()),
            _ => None,
        };
        let photo = match &self.content {
            Content::SentPhoto(photo) => Some(photo.bytes.to_vec()),
            _ => None,
        };
        BotMessage {
            message_id: self.id,
            chat_id,
            text,
            parse_mode,
            buttons: self.keyboard.as_ref().map(|k| k.rows.clone()).unwrap_or_default(),
            edited: self.edits > 0,
            edits: self.edits,
            disable_link_preview: self.disable_link_preview,
            document,
            photo,
        }
    }
}

/// A photo the bot sent.
#[derive(Debug, Clone)]
pub(crate) struct SentPhoto {
    pub file_id: String,
    pub bytes: Arc<[u8]>,
    pub width: u32,
    pub height: u32,
    /// The caption as sent, its parse mode, and what a user sees.
    pub caption: Option<(String, Option<String>, Parsed)>,
}

/// Seconds since the epoch, as Telegram dates are.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_secs() as i64)
}
