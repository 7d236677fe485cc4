//! Where Telegram's rules decide whether a request may run, before a method
//! runs: the bot's standing in the chat (blocked, kicked, migrated) and the
//! flood limits of `limits`. Injected faults are decided just before, in `faults`.

use std::time::Instant;

use super::{
    error::ApiError,
    limits::Target,
    method::Method,
    params::Params,
    state::State,
    wire::chat_type,
    world::{BotStatus, Chat, ChatKind},
};

/// Decides whether `method` on `chat_id` may run now; `Err` is answered as is.
pub(crate) fn check_limits(
    state: &mut State,
    method: Method,
    params: &Params,
    chat_id: Option<i64>,
    now: Instant,
) -> Result<(), ApiError> {
    let chat = chat_id.and_then(|id| state.chats.get(&id));
    if let Some(chat) = chat {
        access(chat, method)?;
    }
    if !(method.sends_new_message() && state.limits.enabled) {
        return Ok(());
    }
    let target = match chat {
        Some(c) if matches!(c.kind, ChatKind::Private { .. }) => Target::Private(c.id),
        Some(c) => Target::Public(c.id),
        None => Target::Unknown,
    };
    let paid = params.flag("allow_paid_broadcast");
    state.flood.check(&state.limits, target, paid, now).map_err(ApiError::too_many_requests)
}

/// Whether the bot may call `method` in `chat`: Telegram's 403s for a bot
/// that is blocked, kicked or not a member, and the 400 of a migrated group.
fn access(chat: &Chat, method: Method) -> Result<(), ApiError> {
    if !method.in_chat() {
        return Ok(());
    }
    if let Some(new_id) = chat.migrated_to {
        return Err(ApiError::migrated(new_id));
    }
    let kind = chat_type(&chat.kind);
    match chat.bot {
        BotStatus::Kicked => return Err(ApiError::kicked(kind)),
        BotStatus::Left => return Err(ApiError::not_member(kind)),
        BotStatus::Member | BotStatus::Admin { can_post_messages: false }
            if kind == "channel" && method.sends_message() =>
        {
            return Err(ApiError::need_channel_rights());
        }
        _ => {}
    }
    if method.sends_message() && chat.blocked {
        return Err(ApiError::blocked_by_user());
    }
    Ok(())
}
