//! Acting as people: a user in a private chat, a member in a group. Each
//! action becomes an update for the bot; each wait watches what the bot sent
//! back, without sleeping.

use std::{ops::Deref, sync::Arc, time::Duration};

use super::{
    error::WaitError,
    html::{self, Entity, EntityKind, Parsed, Strictness},
    sent::{Activity, BotMessage, CallbackAnswer},
    shared::Shared,
    state::CallbackRecord,
    wire,
    world::{Chat, Content, Person, StoredMessage, unix_now},
};

/// What a person typed: a leading `/command` gets the bot_command entity a client adds.
pub(crate) fn typed(mut parsed: Parsed) -> Content {
    if parsed.text.starts_with('/') {
        let length = html::utf16_len(parsed.text.split_whitespace().next().unwrap_or(""));
        parsed.entities.insert(0, Entity { kind: EntityKind::BotCommand, offset: 0, length });
    }
    Content::Text { raw: parsed.text.clone(), parse_mode: None, parsed }
}

/// A person acting in one chat. [`User`] and [`Group`] deref to it.
#[derive(Clone)]
pub struct Conversation {
    shared: Arc<Shared>,
    chat_id: i64,
    sender: Person,
}

/// A user in a private chat with the bot (the chat id is the user id).
#[derive(Clone)]
pub struct User(Conversation);

/// A group chat, acting through one member.
#[derive(Clone)]
pub struct Group(Conversation);

impl Deref for User {
    type Target = Conversation;
    fn deref(&self) -> &Conversation {
        &self.0
    }
}

impl Deref for Group {
    type Target = Conversation;
    fn deref(&self) -> &Conversation {
        &self.0
    }
}

impl User {
    pub(crate) fn new(shared: Arc<Shared>, person: Person) -> User {
        User(Conversation::new(shared, person.id, person))
    }

    /// The user's id (also the chat id).
    pub fn id(&self) -> i64 {
        self.sender.id
    }

    /// Blocks the bot: sending to this chat then fails with 403, until the
    /// user writes again (as in Telegram).
    pub fn block_bot(&self) {
        self.with_chat(|chat| chat.blocked = true);
    }
}

impl Group {
    pub(crate) fn new(shared: Arc<Shared>, chat_id: i64, sender: Person) -> Group {
        Group(Conversation::new(shared, chat_id, sender))
    }

    /// The same group, acting as `user` (a group starts with a default
    /// member, id 100, "Member").
    pub fn as_member(&self, user: &User) -> Group {
        Group::new(self.shared.clone(), self.chat_id, user.sender.clone())
    }
}

impl Conversation {
    pub(crate) fn new(shared: Arc<Shared>, chat_id: i64, sender: Person) -> Conversation {
        Conversation { shared, chat_id, sender }
    }

    /// The emulator's state, which this handle acts on.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The person this handle acts as.
    pub(crate) fn sender(&self) -> &Person {
        &self.sender
    }

    /// The chat this handle acts in.
    pub fn chat_id(&self) -> i64 {
        self.chat_id
    }

    /// Sends a text message; a leading `/command` gets a bot_command entity.
    pub fn send_text(&self, text: &str) -> i32 {
        self.post(typed(Parsed { text: text.to_owned(), entities: Vec::new() }))
    }

    /// Sends formatted text, as a Telegram client does when a person uses bold, italics or
    /// links: `html` is turned into text and entities (it must be valid Telegram HTML).
    pub fn send_html(&self, html: &str) -> i32 {
        let parsed = html::parse_with_mode(html, Some("HTML"), Strictness::Telegram)
            .unwrap_or_else(|e| panic!("send_html needs valid HTML: {e}"));
        self.post(typed(parsed))
    }

    /// Sends a text message that replies to message `reply_to` of this chat.
    pub fn reply_text(&self, reply_to: i32, text: &str) -> i32 {
        let content = typed(Parsed { text: text.to_owned(), entities: Vec::new() });
        let mut message = StoredMessage::new(self.sender.clone(), content);
        message.reply_to = Some(reply_to);
        self.post_message(message, "message")
    }

    /// Sends a file (a document) with an optional caption; the bot can fetch it with getFile.
    pub fn send_document(&self, file_name: &str, bytes: &[u8], caption: Option<&str>) -> i32 {
        let file_id = self.shared.with_state(|state| {
            let n = state.documents.len() + 1;
            let file_id = format!("doc-{n}-{}", self.chat_id.unsigned_abs());
            state
                .documents
                .insert(file_id.clone(), (format!("documents/file_{n}"), bytes.to_vec()));
            file_id
        });
        let caption =
            caption.map(|c| (c.to_owned(), Parsed { text: c.to_owned(), entities: Vec::new() }));
        self.post(Content::Document {
            file_id,
            file_name: file_name.to_owned(),
            file_size: bytes.len(),
            caption,
        })
    }

    /// Sends a sticker (a message without text).
    pub fn send_sticker(&self) -> i32 {
        self.post(Content::Sticker)
    }

    /// Sends a photo (a message without text).
    pub fn send_photo(&self) -> i32 {
        self.post(Content::Photo { caption: None })
    }

    /// Sends a photo with a caption (plain text).
    pub fn send_photo_with_caption(&self, caption: &str) -> i32 {
        let parsed = Parsed { text: caption.to_owned(), entities: Vec::new() };
        self.post(Content::Photo { caption: Some((caption.to_owned(), parsed)) })
    }

    fn post(&self, content: Content) -> i32 {
        self.post_as(self.sender.clone(), false, content)
    }

    /// Posts a message from `from`; `as_chat` sends it on behalf of the chat.
    pub(crate) fn post_as(&self, from: Person, as_chat: bool, content: Content) -> i32 {
        self.post_update(from, as_chat, content, "message")
    }

    /// Posts a message from `from` as an update of `kind` ("message", "channel_post").
    pub(crate) fn post_update(
        &self,
        from: Person,
        as_chat: bool,
        content: Content,
        kind: &'static str,
    ) -> i32 {
        let mut message = StoredMessage::new(from, content);
        message.as_chat = as_chat;
        self.post_message(message, kind)
    }

    fn post_message(&self, message: StoredMessage, kind: &'static str) -> i32 {
        let from = message.from.clone();
        let id = self.shared.with_state(|state| {
            let chat = state
                .chats
                .get_mut(&self.chat_id)
                .expect("handles exist only for registered chats");
            // Writing to a bot one blocked unblocks it.
            chat.blocked = false;
            if !from.is_bot {
                chat.members.insert(from.id);
            }
            let id = chat.store(message);
            let json = state.message_json(self.chat_id, id).unwrap_or_default();
            state.updates.push(kind, json);
            id
        });
        self.shared.notify();
        id
    }

    /// Edits one of this person's text messages (an `edited_message` update).
    ///
    /// # Panics
    /// If there is no such message from this person: a mistake in the test.
    pub fn edit_text(&self, message_id: i32, new_text: &str) {
        self.edit_update(message_id, new_text, "edited_message");
    }

    /// Edits one of this person's text messages, as an update of `kind`.
    pub(crate) fn edit_update(&self, message_id: i32, new_text: &str, kind: &'static str) {
        self.shared.with_state(|state| {
            let chat = state.chats.get_mut(&self.chat_id).expect("registered chat");
            let message = chat
                .messages
                .get_mut(&message_id)
                .filter(|m| m.from.id == self.sender.id)
                .unwrap_or_else(|| panic!("no message {message_id} of this person to edit"));
            let parsed = Parsed { text: new_text.to_owned(), entities: Vec::new() };
            message.content = Content::Text { raw: new_text.to_owned(), parse_mode: None, parsed };
            message.edits += 1;
            message.edit_date = Some(unix_now());
            let json = state.message_json(self.chat_id, message_id).unwrap_or_default();
            state.updates.push(kind, json);
        });
        self.shared.notify();
    }

    /// Presses an inline button: a `callback_query` update carrying `data`
    /// (any data: a client can send what it likes). Returns the query id.
    pub fn press(&self, message_id: i32, callback_data: &str) -> String {
        let id = self.shared.with_state(|state| {
            let query_id = format!("{}{:06}", self.chat_id.unsigned_abs(), state.next_callback);
            state.next_callback += 1;
            let message = state.message_json(self.chat_id, message_id);
            let chat = state.chats.get(&self.chat_id).expect("registered chat");
            let json = wire::callback_query(
                &query_id,
                &self.sender,
                chat,
                message,
                message_id,
                callback_data,
            );
            let record = CallbackRecord { chat_id: self.chat_id, answered: false };
            state.callbacks.insert(query_id.clone(), record);
            state.updates.push("callback_query", json);
            query_id
        });
        self.shared.notify();
        id
    }

    /// Every message the bot has in this chat, oldest first, latest state.
    pub fn messages(&self) -> Vec<BotMessage> {
        self.with_chat(|chat| chat.bot_messages().map(|m| m.to_bot_message(chat.id)).collect())
    }

    /// The bot's newest message in this chat.
    pub fn last_message(&self) -> Option<BotMessage> {
        self.messages().pop()
    }

    /// Bot messages not yet returned by `take_new` or a wait, without waiting.
    pub fn take_new(&self) -> Vec<BotMessage> {
        self.with_chat(Chat::take_new)
    }

    /// How the bot answered callback queries from this chat, in order.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.with_chat(|chat| chat.answers.clone())
    }

    /// Waits until the bot has sent at least `n_new` messages not yet taken,
    /// and returns all of them.
    pub async fn wait_for_messages(
        &self,
        n_new: usize,
        timeout: Duration,
    ) -> Result<Vec<BotMessage>, WaitError> {
        self.wait(timeout, |chat| (chat.count_new() >= n_new).then(|| chat.take_new()))
            .await
            .map_err(|e| self.explain(e, &format!("waiting for {n_new} new bot message(s)")))
    }

    /// Waits for an edit of `message_id` not yet seen (an edit made before
    /// this call counts, so there is no race with the action causing it).
    pub async fn wait_for_edit(
        &self,
        message_id: i32,
        timeout: Duration,
    ) -> Result<BotMessage, WaitError> {
        self.wait(timeout, |chat| {
            let m = chat.messages.get_mut(&message_id).filter(|m| m.edits > m.edits_seen)?;
            m.edits_seen = m.edits;
            Some(m.to_bot_message(chat.id))
        })
        .await
        .map_err(|e| self.explain(e, &format!("waiting for an edit of message {message_id}")))
    }

    /// Waits until the bot answered the callback query `id`.
    pub async fn wait_for_answer(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<CallbackAnswer, WaitError> {
        self.wait(timeout, |chat| chat.answers.iter().find(|a| a.id == id).cloned())
            .await
            .map_err(|e| self.explain(e, &format!("waiting for an answer to query {id}")))
    }

    /// Waits until the bot sent, edited or answered anything not yet seen,
    /// and returns all of it.
    pub async fn wait_for_activity(&self, timeout: Duration) -> Result<Activity, WaitError> {
        self.wait(timeout, take_activity).await
    }

    fn with_chat<T>(&self, f: impl FnOnce(&mut Chat) -> T) -> T {
        self.shared.with_state(|s| f(s.chats.get_mut(&self.chat_id).expect("registered chat")))
    }

    async fn wait<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&mut Chat) -> Option<T>,
    ) -> Result<T, WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let outcome = self
            .shared
            .wait_until(deadline, |state| {
                if state.shutdown {
                    return Some(Err(WaitError::Shutdown));
                }
                check(state.chats.get_mut(&self.chat_id)?).map(Ok)
            })
            .await;
        outcome.unwrap_or(Err(WaitError::Timeout { waited: timeout, got: String::new() }))
    }

    /// Fills a timeout with what the chat holds, for a readable failure.
    fn explain(&self, error: WaitError, what: &str) -> WaitError {
        let WaitError::Timeout { waited, .. } = error else { return error };
        let got = self.with_chat(|chat| {
            let new = chat.count_new();
            let last = chat.bot_messages().last().map(|m| m.to_bot_message(chat.id).plain_text());
            format!("{what}; {new} new; the bot's last message: {last:?}")
        });
        WaitError::Timeout { waited, got }
    }
}

fn take_activity(chat: &mut Chat) -> Option<Activity> {
    let edited = chat.bot_messages().any(|m| m.id <= chat.seen_up_to && m.edits > m.edits_seen);
    if chat.count_new() == 0 && !edited && chat.answers.len() == chat.answers_seen {
        return None;
    }
    let mut messages: Vec<BotMessage> = Vec::new();
    for m in chat.messages.values_mut().filter(|m| m.is_from_bot() && m.id <= chat.seen_up_to) {
        if m.edits > m.edits_seen {
            m.edits_seen = m.edits;
            messages.push(m.to_bot_message(chat.id));
        }
    }
    messages.extend(chat.take_new());
    let answers = chat.answers[chat.answers_seen..].to_vec();
    chat.answers_seen = chat.answers.len();
    Some(Activity { messages, answers })
}
