//! Inline mode: a user types `@bot words` (an `inline_query` update), the bot answers with
//! answerInlineQuery (checked against Telegram's limits and errors), and the user may pick a
//! result, which then appears in a chat as the user's message "via @bot".
//!
//! Telegram's rules kept here: a query is answered once and only while fresh
//! ([`QUERY_TTL`]); at most 50 results with unique ids of 1 to 64 bytes; articles need a
//! title and a message text of 1 to 4096 characters that parses in its parse mode; buttons as
//! on any message; `next_offset` at most 64 bytes; a results button's start parameter is 1 to
//! 64 of `A-Za-z0-9_-`. Only articles with text content are accepted (Tribune sends nothing
//! else); other result types are refused as RESULT_TYPE_INVALID.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    api::Params,
    error::{ApiError, WaitError},
    handles::{BotMessage, Conversation, User},
    html::{self, Parsed, Strictness},
    keyboard::{self, Button, Keyboard},
    methods::MAX_TEXT_UTF16,
    state::{Content, Person, State, StoredMessage},
    wire,
};

/// Most results one answer may carry.
pub const MAX_RESULTS: usize = 50;
/// Longest result id and `next_offset`, in bytes.
pub const MAX_ID_BYTES: usize = 64;
/// How long a query can be answered. Telegram does not publish its figure; an answer that
/// comes later than this is useless to a user who is typing anyway.
pub const QUERY_TTL: Duration = Duration::from_secs(15);
/// Telegram cuts what a user types inline to this many characters.
pub const MAX_QUERY_CHARS: usize = 256;

/// An inline query a user made, and the bot's answer once it came.
#[derive(Debug, Clone)]
pub(crate) struct InlineQueryRecord {
    pub from: i64,
    pub at: Instant,
    pub answer: Option<InlineAnswer>,
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
    parsed: Parsed,
    keyboard: Option<Keyboard>,
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

/// answerInlineQuery.
pub(crate) fn answer_inline_query(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let id = params.string("inline_query_id").unwrap_or_default();
    let record = state
        .inline_queries
        .get(&id)
        .filter(|r| r.answer.is_none())
        .ok_or_else(|| ApiError::bad_request("QUERY_ID_INVALID"))?;
    if record.at.elapsed() > QUERY_TTL {
        return Err(ApiError::bad_request(
            "query is too old and response timeout expired or query ID is invalid",
        ));
    }
    let results = match params.json("results")? {
        Some(Value::Array(results)) => results,
        None => Vec::new(),
        Some(_) => return Err(ApiError::bad_request("can't parse inline query results")),
    };
    if results.len() > MAX_RESULTS {
        return Err(ApiError::bad_request("RESULTS_TOO_MUCH"));
    }
    let strictness = state.strictness;
    let mut articles: Vec<InlineArticle> = Vec::with_capacity(results.len());
    for result in &results {
        let article = article(result, strictness)?;
        if articles.iter().any(|a| a.id == article.id) {
            return Err(ApiError::bad_request("RESULT_ID_DUPLICATE"));
        }
        articles.push(article);
    }
    let next_offset = params.string("next_offset").filter(|o| !o.is_empty());
    if next_offset.as_ref().is_some_and(|o| o.len() > MAX_ID_BYTES) {
        return Err(ApiError::bad_request("NEXT_OFFSET_INVALID"));
    }
    let button = match params.json("button")? {
        None => None,
        Some(b) => Some(results_button(&b)?),
    };
    let answer = InlineAnswer {
        query_id: id.clone(),
        results: articles,
        next_offset,
        cache_time: params.int("cache_time"),
        is_personal: params.flag("is_personal"),
        button,
    };
    if let Some(record) = state.inline_queries.get_mut(&id) {
        record.answer = Some(answer);
    }
    Ok(json!(true))
}

fn article(result: &Value, strictness: Strictness) -> Result<InlineArticle, ApiError> {
    let bad = |reason: &str| ApiError::bad_request(reason);
    let string = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    if string(result, "type").as_deref() != Some("article") {
        return Err(bad("RESULT_TYPE_INVALID"));
    }
    let id = string(result, "id").unwrap_or_default();
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(bad("RESULT_ID_INVALID"));
    }
    let title = string(result, "title").unwrap_or_default();
    if title.trim().is_empty() {
        return Err(bad("ARTICLE_TITLE_EMPTY"));
    }
    let Some(content) = result.get("input_message_content").filter(|c| c.is_object()) else {
        return Err(bad("SEND_MESSAGE_TYPE_INVALID"));
    };
    let text = string(content, "message_text").unwrap_or_default();
    let parse_mode = string(content, "parse_mode").filter(|m| !m.is_empty());
    let parsed = html::parse_with_mode(&text, parse_mode.as_deref(), strictness)
        .map_err(|reason| bad(&format!("can't parse entities: {reason}")))?;
    if parsed.text.trim().is_empty() {
        return Err(bad("MESSAGE_EMPTY"));
    }
    if html::utf16_len(&parsed.text) > MAX_TEXT_UTF16 {
        return Err(bad("MESSAGE_TOO_LONG"));
    }
    let keyboard = keyboard::parse(result.get("reply_markup").cloned())?;
    let disable_link_preview = content
        .get("link_preview_options")
        .and_then(|o| o.get("is_disabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(InlineArticle {
        id,
        title,
        description: string(result, "description"),
        text,
        parse_mode,
        buttons: keyboard.as_ref().map(|k| k.rows.clone()).unwrap_or_default(),
        disable_link_preview,
        parsed,
        keyboard,
    })
}

fn results_button(button: &Value) -> Result<(String, String), ApiError> {
    let text = button.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("SWITCH_PM_TEXT_EMPTY"));
    }
    let start = button.get("start_parameter").and_then(Value::as_str).unwrap_or_default();
    let valid = (1..=MAX_ID_BYTES).contains(&start.len())
        && start.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ApiError::bad_request("START_PARAM_INVALID"));
    }
    Ok((text.to_owned(), start.to_owned()))
}

impl User {
    /// Types `@bot query` (cut to Telegram's 256 characters) in some chat: an `inline_query`
    /// update asking for the page at `offset` ("" for the first). Returns the query id.
    pub fn send_inline_query(&self, query: &str, offset: &str) -> String {
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let from = self.sender().clone();
        let emulator = self.emulator();
        let id = emulator.with_state(|state| {
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
            state.enqueue("inline_query", json);
            id
        });
        emulator.notify();
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
            .emulator()
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
        let emulator = self.emulator();
        let chat_id = to.chat_id();
        let message = emulator.with_state(|state| {
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
            state.enqueue("message", json);
            BotMessage { message_id: id, ..message }
        });
        emulator.notify();
        message
    }
}

impl Conversation {
    /// Messages people sent into this chat through the bot's inline mode, oldest first.
    pub fn messages_via_bot(&self) -> Vec<BotMessage> {
        let chat_id = self.chat_id();
        self.emulator().with_state(|state| {
            let chat = state.chats.get(&chat_id).expect("registered chat");
            chat.messages
                .values()
                .filter(|m| m.via_bot)
                .map(|m| m.to_bot_message(chat_id))
                .collect()
        })
    }
}

/// The `via_bot` field of a message sent through inline mode.
pub(crate) fn via_bot() -> Value {
    wire::user(&Person::bot())
}

#[cfg(test)]
mod tests;
