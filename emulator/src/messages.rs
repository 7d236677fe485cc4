//! The Bot API methods on messages (send, edit, delete, copy; files; answers to button
//! presses), each a plain function of the state and the request parameters, checked the way
//! Telegram checks them and failing with Telegram's own descriptions.

use serde_json::{Value, json};

use super::{
    error::ApiError,
    html::{self, Parsed, Strictness},
    keyboard::{self, Keyboard},
    limits::{MAX_CAPTION_UTF16, MAX_TEXT_UTF16},
    params::Params,
    sent::CallbackAnswer,
    state::State,
    world::{Chat, Content, Person, StoredMessage, unix_now},
};

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
                            markup are exactly the same as a current content and reply markup of the message";

/// sendChatAction: nothing to show, but the chat must exist.
pub(crate) fn send_chat_action(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    chat(state, params)?;
    Ok(json!(true))
}

fn chat<'s>(state: &'s mut State, params: &Params) -> Result<&'s mut Chat, ApiError> {
    let id = params.chat_id()?;
    state.chats.get_mut(&id).ok_or_else(ApiError::chat_not_found)
}

/// Parses and checks text the bot sends or edits in. Markdown and
/// MarkdownV2 are accepted but not parsed: only HTML is emulated.
fn parse_text(
    params: &Params,
    strictness: Strictness,
    too_long: &str,
) -> Result<(String, Option<String>, Parsed), ApiError> {
    let raw = params.string("text").unwrap_or_default();
    let parse_mode = params.string("parse_mode").filter(|m| !m.is_empty());
    if let Some(mode) = &parse_mode
        && !["html", "markdown", "markdownv2"].contains(&mode.to_ascii_lowercase().as_str())
    {
        return Err(ApiError::bad_request(format!("unsupported parse_mode \"{mode}\"")));
    }
    let parsed = html::parse_with_mode(&raw, parse_mode.as_deref(), strictness)
        .map_err(|reason| ApiError::bad_request(format!("can't parse entities: {reason}")))?;
    if parsed.text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if html::utf16_len(&parsed.text) > MAX_TEXT_UTF16 {
        return Err(ApiError::bad_request(too_long));
    }
    Ok((raw, parse_mode, parsed))
}

fn link_preview_disabled(params: &Params) -> Result<bool, ApiError> {
    let options = params.json("link_preview_options")?;
    let disabled = options.as_ref().and_then(|o| o.get("is_disabled")).and_then(Value::as_bool);
    Ok(disabled.unwrap_or(false) || params.flag("disable_web_page_preview"))
}

pub(crate) fn send_message(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let strictness = state.strictness;
    let chat = chat(state, params)?;
    let (raw, parse_mode, parsed) = parse_text(params, strictness, "message is too long")?;
    let keyboard = keyboard::parse(params.json("reply_markup")?)?;
    let reply_to = reply_target(chat, params)?;
    let mut message = StoredMessage::new(Person::bot(), Content::Text { raw, parse_mode, parsed });
    message.keyboard = keyboard;
    message.reply_to = reply_to;
    message.disable_link_preview = link_preview_disabled(params)?;
    let chat_id = chat.id;
    let id = chat.store(message);
    Ok(state.message_json(chat_id, id).unwrap_or(Value::Null))
}

/// The message a new one replies to, from `reply_parameters` or the older
/// `reply_to_message_id`.
fn reply_target(chat: &Chat, params: &Params) -> Result<Option<i32>, ApiError> {
    let reply = params.json("reply_parameters")?;
    let (id, lenient) = match &reply {
        Some(r) => (
            r.get("message_id").and_then(Value::as_i64),
            r.get("allow_sending_without_reply").and_then(Value::as_bool).unwrap_or(false),
        ),
        None => (params.int("reply_to_message_id"), params.flag("allow_sending_without_reply")),
    };
    let Some(id) = id else { return Ok(None) };
    let id = i32::try_from(id).ok().filter(|id| chat.messages.contains_key(id));
    match id {
        Some(id) => Ok(Some(id)),
        None if lenient => Ok(None),
        None => Err(ApiError::bad_request("message to be replied not found")),
    }
}

/// The bot's own message named by `chat_id` + `message_id`, for editing.
fn editable<'s>(state: &'s mut State, params: &Params) -> Result<&'s mut StoredMessage, ApiError> {
    if params.get("inline_message_id").is_some() {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let Some(message_id) = params.int("message_id") else {
        return Err(ApiError::bad_request("message identifier is not specified"));
    };
    let chat = chat(state, params)?;
    let message = i32::try_from(message_id)
        .ok()
        .and_then(|id| chat.messages.get_mut(&id))
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if !message.is_from_bot() {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    Ok(message)
}

fn mark_edited(message: &mut StoredMessage) {
    message.edits += 1;
    message.edit_date = Some(unix_now());
}

pub(crate) fn edit_message_text(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let strictness = state.strictness;
    let message = editable(state, params)?;
    let Content::Text { parsed: old, .. } = &message.content else {
        return Err(ApiError::bad_request("there is no text in the message to edit"));
    };
    let (raw, parse_mode, parsed) = parse_text(params, strictness, "MESSAGE_TOO_LONG")?;
    // Without reply_markup an edit removes the keyboard, as in Telegram.
    let keyboard = keyboard::parse(params.json("reply_markup")?)?;
    if *old == parsed && same_keyboard(&message.keyboard, &keyboard) {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    message.content = Content::Text { raw, parse_mode, parsed };
    message.keyboard = keyboard;
    message.disable_link_preview = link_preview_disabled(params)?;
    mark_edited(message);
    let (chat_id, id) = (params.chat_id()?, message.id);
    Ok(state.message_json(chat_id, id).unwrap_or(Value::Null))
}

pub(crate) fn edit_message_reply_markup(
    state: &mut State,
    params: &Params,
) -> Result<Value, ApiError> {
    let keyboard = keyboard::parse(params.json("reply_markup")?)?;
    let message = editable(state, params)?;
    if same_keyboard(&message.keyboard, &keyboard) {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    message.keyboard = keyboard;
    mark_edited(message);
    let (chat_id, id) = (params.chat_id()?, message.id);
    Ok(state.message_json(chat_id, id).unwrap_or(Value::Null))
}

fn same_keyboard(old: &Option<Keyboard>, new: &Option<Keyboard>) -> bool {
    old.as_ref().map(|k| &k.json) == new.as_ref().map(|k| &k.json)
}

pub(crate) fn delete_message(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let Some(message_id) = params.int("message_id") else {
        return Err(ApiError::bad_request("message identifier is not specified"));
    };
    let chat = chat(state, params)?;
    let removed = i32::try_from(message_id).ok().and_then(|id| chat.messages.remove(&id));
    match removed {
        Some(_) => Ok(json!(true)),
        None => Err(ApiError::bad_request("message to delete not found")),
    }
}

/// copyMessage: the message's content (text, media, caption) sent again by the bot, without a
/// link to the original. Service messages cannot be copied.
pub(crate) fn copy_message(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let from_chat = params
        .int("from_chat_id")
        .ok_or_else(|| ApiError::bad_request("from_chat_id is not specified"))?;
    let message_id = params
        .int("message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let original = state
        .chats
        .get(&from_chat)
        .ok_or_else(ApiError::chat_not_found)?
        .messages
        .get(&i32::try_from(message_id).unwrap_or(0))
        .ok_or_else(|| ApiError::bad_request("message to copy not found"))?
        .content
        .clone();
    if matches!(original, Content::Service(_)) {
        return Err(ApiError::bad_request("message can't be copied"));
    }
    let chat = chat(state, params)?;
    let keyboard = keyboard::parse(params.json("reply_markup")?)?;
    let mut message = StoredMessage::new(Person::bot(), original);
    message.keyboard = keyboard;
    let id = chat.store(message);
    Ok(json!({ "message_id": id }))
}

/// editMessageCaption: only messages with media (here a document or a photo) have a caption.
pub(crate) fn edit_message_caption(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let strictness = state.strictness;
    let raw = params.string("caption").unwrap_or_default();
    let parse_mode = params.string("parse_mode").filter(|m| !m.is_empty());
    let parsed = html::parse_with_mode(&raw, parse_mode.as_deref(), strictness)
        .map_err(|reason| ApiError::bad_request(format!("can't parse entities: {reason}")))?;
    if html::utf16_len(&parsed.text) > MAX_CAPTION_UTF16 {
        return Err(ApiError::bad_request("MESSAGE_CAPTION_TOO_LONG"));
    }
    let message = editable(state, params)?;
    let (Content::Document { caption, .. } | Content::Photo { caption }) = &mut message.content
    else {
        return Err(ApiError::bad_request("there is no caption in the message to edit"));
    };
    if caption.as_ref().map(|(_, p)| p) == Some(&parsed) {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    *caption = (!parsed.text.is_empty()).then_some((raw, parsed));
    mark_edited(message);
    let (chat_id, id) = (params.chat_id()?, message.id);
    Ok(state.message_json(chat_id, id).unwrap_or(Value::Null))
}

/// getFile: a path to download a file people sent.
pub(crate) fn get_file(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let file_id = params.string("file_id").unwrap_or_default();
    let (path, bytes) =
        state.documents.get(&file_id).ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    Ok(json!({
        "file_id": file_id,
        "file_unique_id": format!("u{file_id}"),
        "file_size": bytes.len(),
        "file_path": path,
    }))
}

pub(crate) fn answer_callback_query(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "query is too old and response timeout expired or query ID is invalid",
        )
    };
    let id = params.string("callback_query_id").unwrap_or_default();
    let record = state.callbacks.get_mut(&id).filter(|r| !r.answered).ok_or_else(invalid)?;
    record.answered = true;
    let chat_id = record.chat_id;
    let answer = CallbackAnswer {
        id,
        text: params.string("text").filter(|t| !t.is_empty()),
        show_alert: params.flag("show_alert"),
        url: params.string("url"),
    };
    if let Some(chat) = state.chats.get_mut(&chat_id) {
        chat.answers.push(answer);
    }
    Ok(json!(true))
}

#[cfg(test)]
mod tests;
