//! Load for benchmarks: many people sending at once, cheaply. A flood of a million
//! messages would cost gigabytes kept as chat history; here each message becomes its update
//! and is not kept (the bot never looks back at them), so a benchmark of the bot measures
//! the bot, not the emulator's memory.

use super::{
    Emulator,
    handles::typed,
    html::Parsed,
    world::{Person, StoredMessage},
};

impl Emulator {
    /// Sends each `(chat, from, text)` as a message from person `from` (created with
    /// [`Emulator::user`], or a member of the group `chat`) in `chat`, under one lock and
    /// with one wake-up. The messages get ids and updates like any other but are not kept
    /// in the chat's history. Unknown chats or people are skipped; returns how many were
    /// sent.
    pub fn flood<'a>(&self, messages: impl IntoIterator<Item = (i64, i64, &'a str)>) -> usize {
        let sent = self.with_state(|state| {
            let mut sent = 0;
            for (chat_id, from, text) in messages {
                let Some(person) = state.people.get(&from).cloned() else { continue };
                let Some(chat) = state.chats.get_mut(&chat_id) else { continue };
                chat.members.insert(from);
                let content = typed(Parsed { text: text.to_owned(), entities: Vec::new() });
                let id = chat.store(StoredMessage::new(person, content));
                let json = state.message_json(chat_id, id).unwrap_or_default();
                if let Some(chat) = state.chats.get_mut(&chat_id) {
                    chat.messages.remove(&id);
                }
                state.updates.push("message", json);
                sent += 1;
            }
            sent
        });
        self.notify();
        sent
    }

    /// Registers `ids` as people in private chats with the bot (as [`Emulator::user`]
    /// does, without handles), all named `name` with `language_code`.
    pub fn people(&self, ids: impl IntoIterator<Item = i64>, name: &str, language_code: &str) {
        self.with_state(|state| {
            for id in ids {
                let person = Person {
                    id,
                    first_name: name.to_owned(),
                    username: None,
                    language_code: Some(language_code.to_owned()),
                    is_bot: false,
                };
                let kind = super::world::ChatKind::Private { first_name: name.to_owned() };
                state.chats.entry(id).or_insert_with(|| super::world::Chat::new(id, kind));
                state.people.insert(id, person);
            }
        });
    }
}
