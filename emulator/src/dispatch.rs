//! One request under the lock: an injected fault first, then Telegram's rules and
//! limits, then the method itself; a message sent counts for the flood limits.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    commands,
    error::ApiError,
    faults::{self, Injected},
    inline, members, messages,
    method::Method,
    params::Params,
    photos, rules,
    state::State,
    webhook, wire,
};

/// Carries out one request (all but getUpdates, which waits and lives in `api`) as Telegram
/// would, with the faults injected: `None` drops the connection without an answer, and a
/// delay holds the answer back.
pub(crate) fn run(
    state: &mut State,
    method: Method,
    params: &Params,
    chat_id: Option<i64>,
    now: Instant,
) -> (Option<Result<Value, ApiError>>, Option<Duration>) {
    let fault = state.faults.draw(method, chat_id);
    let kind = chat_id.and_then(|id| state.chats.get(&id)).map(|c| &c.kind);
    let delay = match fault.map(|f| faults::resolve(f, kind)) {
        Some(Injected::Answer(error)) => return (Some(Err(error)), None),
        Some(Injected::Drop) => return (None, None),
        Some(Injected::Delay(delay)) => {
            state.stats.delayed += 1;
            Some(delay)
        }
        None => None,
    };
    // The flood limits read the test's manual clock when it has one.
    let now = state.limits_clock.unwrap_or(now);
    let result = rules::check_limits(state, method, params, chat_id, now)
        .and_then(|()| call(state, method, params));
    if result.is_ok() && method.sends_new_message() {
        state.flood.record(chat_id, now);
        if let (Some(keep), Some(chat)) =
            (state.history_limit, chat_id.and_then(|id| state.chats.get_mut(&id)))
        {
            chat.forget_all_but(keep);
        }
    }
    (Some(result), delay)
}

/// Runs one method.
pub(crate) fn call(state: &mut State, method: Method, params: &Params) -> Result<Value, ApiError> {
    match method {
        Method::GetMe => Ok(wire::me()),
        Method::GetWebhookInfo => Ok(webhook::info(state)),
        Method::SetWebhook => webhook::set(state, params),
        Method::DeleteWebhook => webhook::delete(state, params),
        Method::SetMyCommands => commands::set(state, params),
        Method::GetMyCommands => commands::get(state, params),
        Method::DeleteMyCommands => commands::delete(state, params),
        Method::SendMessage => messages::send_message(state, params),
        Method::SendPhoto => photos::send_photo(state, params),
        Method::SendChatAction => messages::send_chat_action(state, params),
        Method::EditMessageText => messages::edit_message_text(state, params),
        Method::EditMessageReplyMarkup => messages::edit_message_reply_markup(state, params),
        Method::DeleteMessage => messages::delete_message(state, params),
        Method::CopyMessage => messages::copy_message(state, params),
        Method::EditMessageCaption => messages::edit_message_caption(state, params),
        Method::GetFile => messages::get_file(state, params),
        Method::AnswerCallbackQuery => messages::answer_callback_query(state, params),
        Method::GetChat => members::get_chat(state, params),
        Method::GetChatMember => members::get_chat_member(state, params),
        Method::GetChatAdministrators => members::get_chat_administrators(state, params),
        Method::AnswerInlineQuery => inline::answer_inline_query(state, params),
        // Dispatched before reaching here; an empty answer is still well-formed.
        Method::GetUpdates => Ok(json!([])),
    }
}
