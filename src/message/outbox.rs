//! What the outbox holds: one message (or copy, edit, deletion) for one chat, and the editions
//! that group them. Plain data shared by the store, which keeps them, the delivery engine,
//! which carries them out, the app, which makes them, and the adapter, which sends them; so
//! they sit below all of these.

use super::OutMessage;
use crate::subscription::ChatKind;
use serde::{Deserialize, Serialize};

/// One message to one chat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub edition: u64,
    pub chat_id: i64,
    pub kind: ChatKind,
    pub message: OutMessage,
    /// Failed attempts so far (network errors, 5xx).
    #[serde(default)]
    pub attempts: u32,
    /// What to do in the chat: send `message` (the default), copy a message, or correct or
    /// withdraw one sent before.
    #[serde(default, skip_serializing_if = "Op::is_send")]
    pub op: Op,
}

/// What an outbox item does in its chat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Send the item's message.
    #[default]
    Send,
    /// Copy a message (text or media, formatting kept) from an operator's chat.
    Copy { from_chat: i64, message_id: i32 },
    /// Replace the text (or, for media, the caption) of a message sent before with the item's
    /// message.
    Edit { message_id: i32, caption: bool },
    /// Delete a message sent before.
    Delete { message_id: i32 },
}

impl Op {
    pub fn is_send(&self) -> bool {
        *self == Op::Send
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EditionKind {
    Digest,
    Alert,
    Broadcast,
    Notice,
    /// Deleting what an earlier edition sent.
    Withdraw,
    /// Editing what an earlier edition sent.
    Correct,
}

/// Something sent to many chats at once: a round of digests, an alert, a broadcast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edition {
    pub kind: EditionKind,
    pub created_at: i64,
}
