//! The place where Telegram's limits and injected faults are decided, before
//! a method runs. Today it knows blocked users; flood control (30 messages a
//! second overall, 1 a second per chat, 20 a minute per group, answered with
//! 429 and `retry_after`) and fault injection slot in here, fed by the
//! request log in the state.

use std::time::Instant;

use super::{api::Method, error::ApiError, state::State};

/// Decides whether `method` on `chat_id` may run now; `Err` is answered as is.
pub(crate) fn check_limits(
    state: &State,
    method: Method,
    chat_id: Option<i64>,
    _now: Instant,
) -> Result<(), ApiError> {
    if method.sends_message()
        && let Some(chat) = chat_id.and_then(|id| state.chats.get(&id))
        && chat.blocked
    {
        return Err(ApiError::blocked_by_user());
    }
    Ok(())
}
