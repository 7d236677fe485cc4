//! What the bot sent and answered, as a test reads it: messages in their latest state,
//! answers to button presses and to inline queries.

use super::{
    html::{self, Parsed},
    keyboard::{Button, Keyboard},
};

/// A message the bot sent to a chat, in its latest state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotMessage {
    /// Its id in the chat.
    pub message_id: i32,
    /// The chat it is in.
    pub chat_id: i64,
    /// The text exactly as the bot sent it (raw HTML in HTML mode); a photo's caption.
    pub text: String,
    /// The parse mode it was sent with.
    pub parse_mode: Option<String>,
    /// Inline keyboard rows.
    pub buttons: Vec<Vec<Button>>,
    /// Whether the bot edited it since sending.
    pub edited: bool,
    /// How many times the bot edited it.
    pub edits: u32,
    /// Whether link previews were turned off.
    pub disable_link_preview: bool,
    /// The file name, when it is a document (`text` is then its caption).
    pub document: Option<String>,
    /// The picture, byte for byte, when the bot sent a photo.
    pub photo: Option<Vec<u8>>,
}

impl BotMessage {
    /// The text as a Telegram user sees it: tags removed, entities decoded.
    pub fn plain_text(&self) -> String {
        match &self.parse_mode {
            Some(mode) if mode.eq_ignore_ascii_case("html") => html::strip(&self.text),
            _ => self.text.clone(),
        }
    }

    /// The first button with this label.
    pub fn button(&self, label: &str) -> Option<&Button> {
        self.buttons.iter().flatten().find(|b| b.text == label)
    }
}

/// How the bot answered a callback query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    /// The callback query id.
    pub id: String,
    /// The notification text, if any.
    pub text: Option<String>,
    /// Whether it is an alert rather than a toast.
    pub show_alert: bool,
    /// A URL to open, if any.
    pub url: Option<String>,
}

/// Everything the bot did in a chat that a test had not yet seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// New messages and edited ones, by id, in their latest state.
    pub messages: Vec<BotMessage>,
    /// Answers to callback queries.
    pub answers: Vec<CallbackAnswer>,
}

/// How the bot answered an inline query.
#[derive(Debug, Clone, PartialEq)]
pub struct InlineAnswer {
    pub query_id: String,
    pub results: Vec<InlineArticle>,
    /// The offset to ask for more with; `None` when the bot said there is no more.
    pub next_offset: Option<String>,
    pub cache_time: Option<i64>,
    pub is_personal: bool,
    /// The button above the results: its text and the `/start` parameter it sends.
    pub button: Option<(String, String)>,
}

/// One article result, as the bot sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct InlineArticle {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// The message text exactly as the bot gave it (raw HTML in HTML mode).
    pub text: String,
    pub parse_mode: Option<String>,
    pub buttons: Vec<Vec<Button>>,
    pub disable_link_preview: bool,
    pub(crate) parsed: Parsed,
    pub(crate) keyboard: Option<Keyboard>,
}

impl InlineAnswer {
    /// The result with this id.
    pub fn result(&self, id: &str) -> Option<&InlineArticle> {
        self.results.iter().find(|r| r.id == id)
    }

    /// The results' ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.results.iter().map(|r| r.id.as_str()).collect()
    }
}

impl InlineArticle {
    /// The message text as a recipient sees it: tags removed, entities decoded.
    pub fn plain_text(&self) -> String {
        self.parsed.text.clone()
    }
}
