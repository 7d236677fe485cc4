//! What Tribune sends, whatever carries it: a message's HTML and its buttons, and what each
//! button and deep link asks for (`action`). Rendering makes them (`render`), the outbox keeps
//! them (`store`), the delivery engine and the Telegram adapter send them, so they sit below
//! all of these.

mod action;
mod outbox;

pub use action::{Action, CALLBACK_LIMIT, SettingsStep, Start};
pub use outbox::{Edition, EditionKind, Op, OutboxItem};

use serde::{Deserialize, Serialize};

/// One message: Telegram HTML (escaped where it was made) and rows of buttons.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutMessage {
    pub html: String,
    pub buttons: Vec<Vec<Button>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub kind: ButtonKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ButtonKind {
    /// Stored as its callback data, so stored messages keep working as actions evolve.
    Action(#[serde(with = "action_data")] Action),
    Url(String),
    /// Opens inline mode in a chat of the reader's choice with this query.
    Share(String),
}

impl Button {
    pub fn action(label: impl Into<String>, action: Action) -> Button {
        Button { label: label.into(), kind: ButtonKind::Action(action) }
    }

    pub fn share(label: impl Into<String>, query: impl Into<String>) -> Button {
        Button { label: label.into(), kind: ButtonKind::Share(query.into()) }
    }
}

mod action_data {
    use super::Action;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(action: &Action, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&action.encode())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let data = String::deserialize(d)?;
        Action::decode(&data).ok_or_else(|| D::Error::custom(format!("bad callback data {data:?}")))
    }
}
