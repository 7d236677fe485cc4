//! getChat / getChatMember / getChatAdministrators: who is in a chat and in what
//! role. The bot's own standing decides what it may do there (`rules`) and changes
//! reach it as `my_chat_member` updates (`State::set_bot_status`).

use serde_json::Value;

use super::{
    error::ApiError,
    params::Params,
    state::State,
    wire::{self, Standing},
    world::{BOT_ID, BotStatus, Chat, ChatKind, Person},
};

fn chat<'s>(state: &'s State, params: &Params) -> Result<&'s Chat, ApiError> {
    state.chats.get(&params.chat_id()?).ok_or_else(ApiError::chat_not_found)
}

/// getChat: a `ChatFullInfo`, of a chat named by id or, for a public chat, by `@username`
/// (compared without regard to case, as Telegram does).
pub(crate) fn get_chat(state: &State, params: &Params) -> Result<Value, ApiError> {
    let by_name = params.string("chat_id").and_then(|s| s.strip_prefix('@').map(str::to_owned));
    let chat = match by_name {
        Some(name) => state
            .chats
            .values()
            .find(|c| c.username.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(&name)))
            .ok_or_else(ApiError::chat_not_found)?,
        None => chat(state, params)?,
    };
    let username = chat
        .username
        .clone()
        .or_else(|| state.people.get(&chat.id).and_then(|p| p.username.clone()));
    Ok(wire::chat_full_info(chat, username.as_deref()))
}

/// getChatMember: where `user_id` stands in the chat.
pub(crate) fn get_chat_member(state: &State, params: &Params) -> Result<Value, ApiError> {
    let chat = chat(state, params)?;
    let user_id = params.int("user_id").ok_or_else(ApiError::user_not_found)?;
    let standing = standing(state, chat, user_id).ok_or_else(ApiError::user_not_found)?;
    Ok(wire::chat_member(&state.person(user_id), standing))
}

/// getChatAdministrators: the creator, the other admins, and the bot if it is one.
pub(crate) fn get_chat_administrators(state: &State, params: &Params) -> Result<Value, ApiError> {
    let chat = chat(state, params)?;
    if matches!(chat.kind, ChatKind::Private { .. }) {
        return Err(ApiError::bad_request("there are no administrators in the private chat"));
    }
    let mut admins: Vec<Value> = chat
        .admins
        .iter()
        .filter_map(|&id| Some(wire::chat_member(&state.person(id), standing(state, chat, id)?)))
        .collect();
    if let BotStatus::Admin { .. } = chat.bot {
        admins.push(wire::chat_member(&Person::bot(), Standing::from(chat.bot)));
    }
    Ok(Value::Array(admins))
}

/// Where `user_id` stands in `chat`; `None` for a user the emulator never met.
fn standing(state: &State, chat: &Chat, user_id: i64) -> Option<Standing> {
    if user_id == BOT_ID {
        return Some(Standing::from(chat.bot));
    }
    let channel = matches!(chat.kind, ChatKind::Channel { .. });
    if chat.admins.first() == Some(&user_id) {
        Some(Standing::Creator)
    } else if chat.admins.contains(&user_id) {
        Some(Standing::Admin { can_post_messages: channel })
    } else if chat.members.contains(&user_id) || chat.id == user_id {
        Some(Standing::Member)
    } else if state.people.contains_key(&user_id) {
        Some(Standing::Left)
    } else {
        None
    }
}
