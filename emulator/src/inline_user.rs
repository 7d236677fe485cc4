//! Inline mode, as a user: typing `@bot words` in any chat (an `inline_query` update),
//! waiting for the bot's answer (checked in `inline`), and picking a result, which then
//! appears in a chat as the user's message "via @bot".

use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    error::WaitError,
    handles::{Conversation, User},
    sent::{BotMessage, InlineAnswer},
    state::InlineQueryRecord,
    wire,
    world::{Content, StoredMessage},
};

/// Telegram cuts what a user types inline to this many characters.
pub const MAX_QUERY_CHARS: usize = 256;

impl User {
    /// Types `@bot query` (cut to Telegram's 256 characters) in some chat: an `inline_query`
    /// update asking for the page at `offset` ("" for the first). Returns the query id.
    pub fn send_inline_query(&self, query: &str, offset: &str) -> String {
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let from = self.sender().clone();
        let shared = self.shared();
        let id = shared.with_state(|state| {
            let id = format!("{}{:07}", from.id.unsigned_abs(), state.next_inline_query);
            state.next_inline_query += 1;
            let record = InlineQueryRecord { from: from.id, at: Instant::now(), answer: None };
            state.inline_queries.insert(id.clone(), record);
            let json = json!({
                "id": id,
                "from": wire::user(&from),
                "query": query,
                "offset": offset,
                "chat_type": "private",
            });
            state.updates.push("inline_query", json);
            id
        });
        shared.notify();
        id
    }

    /// Waits for the bot's answer to the inline query `id`.
    pub async fn wait_for_inline_answer(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<InlineAnswer, WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let answer = self
            .shared()
            .wait_until(deadline, |state| {
                if state.shutdown {
                    return Some(Err(WaitError::Shutdown));
                }
                state.inline_queries.get(id)?.answer.clone().map(Ok)
            })
            .await;
        answer.unwrap_or_else(|| {
            Err(WaitError::Timeout {
                waited: timeout,
                got: format!("no answer to inline query {id}"),
            })
        })
    }

    /// Types `@bot query` and waits for the first page of results.
    pub async fn inline_query(
        &self,
        query: &str,
        timeout: Duration,
    ) -> Result<InlineAnswer, WaitError> {
        self.inline_page(query, "", timeout).await
    }

    /// Asks for the page at `offset` (a previous answer's `next_offset`) and waits for it.
    pub async fn inline_page(
        &self,
        query: &str,
        offset: &str,
        timeout: Duration,
    ) -> Result<InlineAnswer, WaitError> {
        let id = self.send_inline_query(query, offset);
        self.wait_for_inline_answer(&id, timeout).await
    }

    /// Picks result `result_id` of `answer` and sends it into the chat `to`: it appears there
    /// as this user's message "via @bot", and reaches the bot as a message update. Returns the
    /// message as the chat's members see it.
    ///
    /// # Panics
    /// If the answer has no such result, or it answered another user's query: test mistakes.
    pub fn send_inline_result(
        &self,
        to: &Conversation,
        answer: &InlineAnswer,
        result_id: &str,
    ) -> BotMessage {
        let result = answer
            .result(result_id)
            .unwrap_or_else(|| panic!("no result {result_id:?} in {:?}", answer.ids()));
        let from = self.sender().clone();
        let shared = self.shared();
        let chat_id = to.chat_id();
        let message = shared.with_state(|state| {
            let asked_by = state.inline_queries.get(&answer.query_id).map(|r| r.from);
            assert_eq!(asked_by, Some(from.id), "the answer is to another user's query");
            let chat = state.chats.get_mut(&chat_id).expect("registered chat");
            chat.blocked = false;
            chat.members.insert(from.id);
            let content = Content::Text {
                raw: result.text.clone(),
                parse_mode: result.parse_mode.clone(),
                parsed: result.parsed.clone(),
            };
            let mut stored = StoredMessage::new(from, content);
            stored.keyboard = result.keyboard.clone();
            stored.disable_link_preview = result.disable_link_preview;
            stored.via_bot = true;
            let message = stored.to_bot_message(chat_id);
            let id = chat.store(stored);
            let json = state.message_json(chat_id, id).unwrap_or_default();
            state.updates.push("message", json);
            BotMessage { message_id: id, ..message }
        });
        shared.notify();
        message
    }
}

impl Conversation {
    /// Messages people sent into this chat through the bot's inline mode, oldest first.
    pub fn messages_via_bot(&self) -> Vec<BotMessage> {
        let chat_id = self.chat_id();
        self.shared().with_state(|state| {
            let chat = state.chats.get(&chat_id).expect("registered chat");
            chat.messages
                .values()
                .filter(|m| m.via_bot)
                .map(|m| m.to_bot_message(chat_id))
                .collect()
        })
    }
}
