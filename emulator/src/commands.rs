//! setMyCommands / getMyCommands / deleteMyCommands, stored per scope and
//! language, and the lookup a Telegram client does to show a user the menu.

use serde_json::{Value, json};

use super::{error::ApiError, params::Params, state::State};

/// A scope in canonical form, e.g. "default" or "chat:-100".
fn scope_key(params: &Params) -> Result<String, ApiError> {
    let Some(scope) = params.json("scope")? else { return Ok("default".to_owned()) };
    let kind = scope.get("type").and_then(Value::as_str).unwrap_or("");
    let id = |key: &str| scope.get(key).map(|v| v.to_string().trim_matches('"').to_owned());
    match kind {
        "default" | "all_private_chats" | "all_group_chats" | "all_chat_administrators" => {
            Ok(kind.to_owned())
        }
        "chat" | "chat_administrators" => match id("chat_id") {
            Some(chat) => Ok(format!("{kind}:{chat}")),
            None => Err(ApiError::bad_request("chat_id is empty")),
        },
        "chat_member" => match (id("chat_id"), id("user_id")) {
            (Some(chat), Some(user)) => Ok(format!("{kind}:{chat}:{user}")),
            _ => Err(ApiError::bad_request("chat_id is empty")),
        },
        _ => Err(ApiError::bad_request("unsupported scope type")),
    }
}

fn language(params: &Params) -> Result<String, ApiError> {
    let code = params.string("language_code").unwrap_or_default();
    let valid = code.is_empty() || code.len() == 2 && code.chars().all(|c| c.is_ascii_lowercase());
    if valid { Ok(code) } else { Err(ApiError::bad_request("invalid language code specified")) }
}

pub(crate) fn set(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let Some(Value::Array(list)) = params.json("commands")? else {
        return Err(ApiError::bad_request("parameter \"commands\" is required"));
    };
    if list.len() > 100 {
        return Err(ApiError::bad_request("BOT_COMMANDS_TOO_MUCH"));
    }
    let mut commands = Vec::new();
    for item in &list {
        let command = item.get("command").and_then(Value::as_str).unwrap_or("");
        let description = item.get("description").and_then(Value::as_str).unwrap_or("");
        let command = command.strip_prefix('/').unwrap_or(command);
        let valid = (1..=32).contains(&command.len())
            && command.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&description.chars().count()) {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        commands.push((command.to_owned(), description.to_owned()));
    }
    let key = (scope_key(params)?, language(params)?);
    if commands.is_empty() {
        state.commands.remove(&key);
    } else {
        state.commands.insert(key, commands);
    }
    Ok(json!(true))
}

pub(crate) fn get(state: &State, params: &Params) -> Result<Value, ApiError> {
    let key = (scope_key(params)?, language(params)?);
    let list = state.commands.get(&key).map(Vec::as_slice).unwrap_or_default();
    Ok(Value::Array(list.iter().map(|(c, d)| json!({ "command": c, "description": d })).collect()))
}

pub(crate) fn delete(state: &mut State, params: &Params) -> Result<Value, ApiError> {
    let key = (scope_key(params)?, language(params)?);
    state.commands.remove(&key);
    Ok(json!(true))
}

/// The menu a user with `language_code` sees in a private chat: Telegram tries
/// all_private_chats then default, each first in the user's language.
pub(crate) fn visible_in_private(
    state: &State,
    language_code: Option<&str>,
) -> Vec<(String, String)> {
    visible(state, None, language_code)
}

/// The menu in one private chat: the chat's own scope first, then as above.
pub(crate) fn visible(
    state: &State,
    chat: Option<i64>,
    language_code: Option<&str>,
) -> Vec<(String, String)> {
    let language = language_code.unwrap_or("");
    let chat_scope = chat.map(|c| format!("chat:{c}"));
    for scope in chat_scope.iter().map(String::as_str).chain(["all_private_chats", "default"]) {
        for lang in [language, ""] {
            if let Some(list) = state.commands.get(&(scope.to_owned(), lang.to_owned())) {
                return list.clone();
            }
        }
    }
    Vec::new()
}
