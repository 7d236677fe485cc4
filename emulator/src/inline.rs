//! answerInlineQuery: the bot's answer to an inline query (a user typing `@bot words`, see
//! `inline_user`), checked against Telegram's limits and errors.
//!
//! Telegram's rules kept here: a query is answered once and only while fresh
//! ([`QUERY_TTL`]); at most 50 results with unique ids of 1 to 64 bytes; articles need a
//! title and a message text of 1 to 4096 characters that parses in its parse mode; buttons as
//! on any message; `next_offset` at most 64 bytes; a results button's start parameter is 1 to
//! 64 of `A-Za-z0-9_-`. Only articles with text content are accepted (the bot this was
//! written for sends nothing else); other result types are refused as RESULT_TYPE_INVALID.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    error::ApiError,
    html::{self, Strictness},
    keyboard,
    limits::MAX_TEXT_UTF16,
    params::Params,
    sent::{InlineAnswer, InlineArticle},
    state::State,
};

/// Most results one answer may carry.
pub const MAX_RESULTS: usize = 50;
/// Longest result id and `next_offset`, in bytes.
pub const MAX_ID_BYTES: usize = 64;
/// How long a query can be answered. Telegram does not publish its figure; an answer that
/// comes later than this is useless to a user who is typing anyway.
pub const QUERY_TTL: Duration = Duration::from_secs(15);

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

#[cfg(test)]
mod tests;
