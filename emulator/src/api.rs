//! The HTTP face of the emulator: `{api_url}/bot{token}/{method}` over axum,
//! and the dispatch of each request through faults, Telegram's rules and
//! limits, to the method handlers; every request is counted in the stats.

use std::time::{Duration, Instant};

use axum::{
    Json, Router,
    body::Bytes,
    extract::DefaultBodyLimit,
    extract::{ConnectInfo, Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::any,
};
use serde_json::{Value, json};

pub(crate) use super::params::Params;
use super::{
    Emulator,
    connection::Cut,
    error::ApiError,
    faults::{self, Injected},
    limits::{check_limits, record_sent},
    methods,
    stats::Ending,
};

/// The Bot API methods the emulator implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    GetMe,
    GetUpdates,
    GetWebhookInfo,
    SetWebhook,
    DeleteWebhook,
    SetMyCommands,
    GetMyCommands,
    DeleteMyCommands,
    SendMessage,
    SendPhoto,
    SendChatAction,
    EditMessageText,
    EditMessageReplyMarkup,
    DeleteMessage,
    CopyMessage,
    EditMessageCaption,
    GetFile,
    AnswerCallbackQuery,
    GetChat,
    GetChatMember,
    GetChatAdministrators,
    AnswerInlineQuery,
}

impl Method {
    pub(crate) const ALL: [Method; 22] = [
        Method::GetMe,
        Method::GetUpdates,
        Method::GetWebhookInfo,
        Method::SetWebhook,
        Method::DeleteWebhook,
        Method::SetMyCommands,
        Method::GetMyCommands,
        Method::DeleteMyCommands,
        Method::SendMessage,
        Method::SendPhoto,
        Method::SendChatAction,
        Method::EditMessageText,
        Method::EditMessageReplyMarkup,
        Method::DeleteMessage,
        Method::CopyMessage,
        Method::EditMessageCaption,
        Method::GetFile,
        Method::AnswerCallbackQuery,
        Method::GetChat,
        Method::GetChatMember,
        Method::GetChatAdministrators,
        Method::AnswerInlineQuery,
    ];

    /// The canonical name, as the Bot API documents it.
    pub fn name(self) -> &'static str {
        match self {
            Method::GetMe => "getMe",
            Method::GetUpdates => "getUpdates",
            Method::GetWebhookInfo => "getWebhookInfo",
            Method::SetWebhook => "setWebhook",
            Method::DeleteWebhook => "deleteWebhook",
            Method::SetMyCommands => "setMyCommands",
            Method::GetMyCommands => "getMyCommands",
            Method::DeleteMyCommands => "deleteMyCommands",
            Method::SendMessage => "sendMessage",
            Method::SendPhoto => "sendPhoto",
            Method::SendChatAction => "sendChatAction",
            Method::EditMessageText => "editMessageText",
            Method::EditMessageReplyMarkup => "editMessageReplyMarkup",
            Method::DeleteMessage => "deleteMessage",
            Method::CopyMessage => "copyMessage",
            Method::EditMessageCaption => "editMessageCaption",
            Method::GetFile => "getFile",
            Method::AnswerCallbackQuery => "answerCallbackQuery",
            Method::GetChat => "getChat",
            Method::GetChatMember => "getChatMember",
            Method::GetChatAdministrators => "getChatAdministrators",
            Method::AnswerInlineQuery => "answerInlineQuery",
        }
    }

    /// Method names are case-insensitive in the Bot API.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Whether the method posts into a chat (and so meets blocks).
    pub fn sends_message(self) -> bool {
        matches!(
            self,
            Method::SendMessage | Method::SendPhoto | Method::SendChatAction | Method::CopyMessage
        )
    }

    /// Whether the method posts a new message (and so counts for the flood
    /// limits). copyMessage and the like belong here once the emulator has
    /// them.
    pub fn sends_new_message(self) -> bool {
        matches!(self, Method::SendMessage | Method::SendPhoto | Method::CopyMessage)
    }

    /// Whether the method changes a message already sent.
    pub fn edits_message(self) -> bool {
        matches!(
            self,
            Method::EditMessageText | Method::EditMessageReplyMarkup | Method::EditMessageCaption
        )
    }

    /// Whether the method acts in its `chat_id`, so the bot must be there.
    pub fn in_chat(self) -> bool {
        self.sends_message()
            || self.edits_message()
            || matches!(
                self,
                Method::DeleteMessage
                    | Method::GetChat
                    | Method::GetChatMember
                    | Method::GetChatAdministrators
            )
    }
}

/// The routes: every HTTP method on `/{bot<token>}/{method}`, and Telegram's
/// 404 for anything else.
pub(crate) fn router(emulator: Emulator) -> Router {
    Router::new()
        .route("/{bot}/{method}", any(handle))
        .route("/file/{bot}/{*path}", axum::routing::get(download))
        // Telegram takes uploads up to 50 MB; the methods check their own limits.
        .layer(DefaultBodyLimit::max(50 * 1024 * 1024))
        .fallback(|| async { reply(Err(ApiError::not_found())) })
        .with_state(emulator)
}

/// How a request ends.
enum Outcome {
    Answer(Result<Value, ApiError>),
    /// Close the connection without answering.
    Drop,
}

async fn handle(
    State(emulator): State<Emulator>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    Path((bot, name)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let method = Method::parse(&name);
    let outcome =
        serve(&emulator, &bot, method, &name, content_type, query.as_deref(), &body).await;
    let ending = match &outcome {
        Outcome::Answer(Ok(_)) => {
            Ending::Ok { sent: method.is_some_and(Method::sends_new_message) }
        }
        Outcome::Answer(Err(error)) => Ending::Error(error.code),
        Outcome::Drop => Ending::Dropped,
    };
    emulator.with_state(|s| s.stats.count(method.map_or(name.as_str(), |m| m.name()), ending));
    match outcome {
        Outcome::Answer(result) => reply(result),
        Outcome::Drop => {
            cut.cut();
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// A file download, as `getFile`'s `file_path` names it.
async fn download(
    State(emulator): State<Emulator>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if bot.strip_prefix("bot") != Some(emulator.token()) {
        return reply(Err(ApiError::unauthorized()));
    }
    let bytes = emulator
        .with_state(|s| s.documents.values().find(|(p, _)| *p == path).map(|(_, b)| b.clone()));
    match bytes {
        Some(bytes) => bytes.into_response(),
        None => reply(Err(ApiError::not_found())),
    }
}

fn reply(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => Json(json!({ "ok": true, "result": value })).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Json(error.to_json())).into_response()
        }
    }
}

async fn serve(
    emulator: &Emulator,
    bot: &str,
    method: Option<Method>,
    name: &str,
    content_type: &str,
    query: Option<&str>,
    body: &[u8],
) -> Outcome {
    let Some(token) = bot.strip_prefix("bot") else {
        return Outcome::Answer(Err(ApiError::not_found()));
    };
    if token != emulator.token() {
        log::debug!("emulator: {name} refused as unauthorized");
        return Outcome::Answer(Err(ApiError::unauthorized()));
    }
    let params = Params::from_request(query, content_type, body);
    let chat_id = params.as_ref().ok().and_then(|p| p.int("chat_id"));
    emulator.record(method.map_or(name, |m| m.name()), chat_id);
    let Some(method) = method else {
        log::debug!("emulator: unknown method {name}");
        return Outcome::Answer(Err(ApiError::not_found()));
    };
    let params = match params {
        Ok(params) => params,
        Err(error) => return Outcome::Answer(Err(error)),
    };
    if method == Method::GetUpdates {
        return Outcome::Answer(get_updates(emulator, &params).await);
    }
    let (result, delay) = emulator.with_state(|state| {
        let now = Instant::now();
        let fault = state.faults.draw(method, chat_id);
        let delay = match fault.map(|f| faults::resolve(state, f, chat_id)) {
            Some(Injected::Answer(error)) => return (Some(Err(error)), None),
            Some(Injected::Drop) => return (None, None),
            Some(Injected::Delay(delay)) => {
                state.stats.delayed += 1;
                Some(delay)
            }
            None => None,
        };
        let result = check_limits(state, method, &params, chat_id, now)
            .and_then(|()| methods::call(state, method, &params));
        if result.is_ok() && method.sends_new_message() {
            record_sent(state, chat_id, now);
        }
        (Some(result), delay)
    });
    emulator.notify();
    if method == Method::SetWebhook && matches!(result, Some(Ok(_))) {
        super::webhook::ensure_pusher(emulator);
    }
    match &result {
        Some(Ok(_)) => log::debug!("emulator: {} chat={chat_id:?} ok", method.name()),
        Some(Err(e)) => log::debug!("emulator: {} chat={chat_id:?} -> {e}", method.name()),
        None => log::debug!("emulator: {} chat={chat_id:?} dropped", method.name()),
    }
    if let Some(delay) = delay {
        hold(emulator, delay).await;
    }
    result.map_or(Outcome::Drop, Outcome::Answer)
}

/// Waits out an injected delay, or until the emulator shuts down.
async fn hold(emulator: &Emulator, delay: Duration) {
    let deadline = tokio::time::Instant::now() + delay;
    emulator.wait_until(deadline, |state| state.shutdown.then_some(())).await;
}

/// getUpdates: confirms by offset, then returns at once if anything is
/// pending, else long-polls until an update arrives, the timeout elapses,
/// a newer getUpdates supersedes this one (409) or the emulator shuts down.
async fn get_updates(emulator: &Emulator, params: &Params) -> Result<Value, ApiError> {
    let limit = params.int("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(params.int("timeout").unwrap_or(0).max(0) as u64);
    let allowed = match params.json("allowed_updates")? {
        Some(Value::Array(kinds)) => {
            Some(kinds.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        }
        _ => None,
    };
    if emulator.with_state(|state| state.webhook.is_some()) {
        return Err(super::webhook::conflict());
    }
    let generation = emulator.with_state(|state| {
        if let Some(offset) = params.int("offset") {
            state.confirm(offset);
        }
        if let Some(allowed) = allowed {
            state.allowed_updates = Some(allowed);
        }
        state.poll_generation += 1;
        state.poll_generation
    });
    // Wakes an older long poll, which then learns it was superseded.
    emulator.notify();
    let deadline = tokio::time::Instant::now() + timeout;
    let outcome = emulator
        .wait_until(deadline, |state| {
            if state.poll_generation != generation {
                return Some(Err(ApiError::conflict_get_updates()));
            }
            let updates = state.deliverable(limit);
            if !updates.is_empty() || state.shutdown {
                return Some(Ok(Value::Array(updates)));
            }
            None
        })
        .await;
    outcome.unwrap_or_else(|| Ok(json!([])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_case_insensitive() {
        assert_eq!(Method::parse("sendmessage"), Some(Method::SendMessage));
        assert_eq!(Method::parse("sendphoto"), Some(Method::SendPhoto));
        assert_eq!(Method::parse("sendAudio"), None);
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()), Some(m));
        }
    }
}
