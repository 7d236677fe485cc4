//! The HTTP face of the emulator: `{api_url}/bot{token}/{method}` over axum,
//! parameters from the query string, a JSON body or a form (as Telegram
//! accepts all three), and the dispatch to method handlers.

use std::time::{Duration, Instant};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::any,
};
use serde_json::{Map, Value, json};

use super::{Emulator, error::ApiError, limits::check_limits, methods};

/// The Bot API methods the emulator implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    GetMe,
    GetUpdates,
    GetWebhookInfo,
    DeleteWebhook,
    SetMyCommands,
    GetMyCommands,
    DeleteMyCommands,
    SendMessage,
    SendChatAction,
    EditMessageText,
    EditMessageReplyMarkup,
    DeleteMessage,
    AnswerCallbackQuery,
}

impl Method {
    const ALL: [Method; 13] = [
        Method::GetMe,
        Method::GetUpdates,
        Method::GetWebhookInfo,
        Method::DeleteWebhook,
        Method::SetMyCommands,
        Method::GetMyCommands,
        Method::DeleteMyCommands,
        Method::SendMessage,
        Method::SendChatAction,
        Method::EditMessageText,
        Method::EditMessageReplyMarkup,
        Method::DeleteMessage,
        Method::AnswerCallbackQuery,
    ];

    /// The canonical name, as the Bot API documents it.
    pub fn name(self) -> &'static str {
        match self {
            Method::GetMe => "getMe",
            Method::GetUpdates => "getUpdates",
            Method::GetWebhookInfo => "getWebhookInfo",
            Method::DeleteWebhook => "deleteWebhook",
            Method::SetMyCommands => "setMyCommands",
            Method::GetMyCommands => "getMyCommands",
            Method::DeleteMyCommands => "deleteMyCommands",
            Method::SendMessage => "sendMessage",
            Method::SendChatAction => "sendChatAction",
            Method::EditMessageText => "editMessageText",
            Method::EditMessageReplyMarkup => "editMessageReplyMarkup",
            Method::DeleteMessage => "deleteMessage",
            Method::AnswerCallbackQuery => "answerCallbackQuery",
        }
    }

    /// Method names are case-insensitive in the Bot API.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Whether the method posts into a chat (and so meets blocks and flood limits).
    pub fn sends_message(self) -> bool {
        matches!(self, Method::SendMessage | Method::SendChatAction)
    }
}

/// The routes: every HTTP method on `/{bot<token>}/{method}`, and Telegram's
/// 404 for anything else.
pub(crate) fn router(emulator: Emulator) -> Router {
    Router::new()
        .route("/{bot}/{method}", any(handle))
        .fallback(|| async { reply(Err(ApiError::not_found())) })
        .with_state(emulator)
}

async fn handle(
    State(emulator): State<Emulator>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    reply(serve(&emulator, &bot, &method, content_type, query.as_deref(), &body).await)
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
    name: &str,
    content_type: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let Some(token) = bot.strip_prefix("bot") else { return Err(ApiError::not_found()) };
    if token != emulator.token() {
        log::debug!("emulator: {name} with a wrong token");
        return Err(ApiError::unauthorized());
    }
    let params = Params::from_request(query, content_type, body);
    let method = Method::parse(name);
    let chat_id = params.as_ref().ok().and_then(|p| p.int("chat_id"));
    emulator.record(method.map_or(name, |m| m.name()), chat_id);
    let Some(method) = method else {
        log::debug!("emulator: unknown method {name}");
        return Err(ApiError::not_found());
    };
    let params = params?;
    let result = if method == Method::GetUpdates {
        get_updates(emulator, &params).await
    } else {
        let result = emulator.with_state(|state| {
            check_limits(state, method, chat_id, Instant::now())?;
            methods::call(state, method, &params)
        });
        emulator.notify();
        result
    };
    match &result {
        Ok(_) => log::debug!("emulator: {} chat={chat_id:?} ok", method.name()),
        Err(e) => log::debug!("emulator: {} chat={chat_id:?} -> {e}", method.name()),
    }
    result
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

/// Request parameters, merged from the query string and the body.
#[derive(Debug, Default)]
pub(crate) struct Params(Map<String, Value>);

impl Params {
    fn from_request(
        query: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        let mut map = Map::new();
        for (key, value) in query.map(form_pairs).unwrap_or_default() {
            map.insert(key, Value::String(value));
        }
        let content_type = content_type.to_ascii_lowercase();
        if content_type.starts_with("application/json") && !body.is_empty() {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(object)) => map.extend(object),
                _ => return Err(ApiError::bad_request("can't parse JSON object")),
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            for (key, value) in form_pairs(&String::from_utf8_lossy(body)) {
                map.insert(key, Value::String(value));
            }
        } else if content_type.starts_with("multipart/") {
            return Err(ApiError::bad_request("the emulator does not accept multipart requests"));
        }
        Ok(Params(map))
    }

    /// Parameters from a JSON object (tests, and handlers calling each other).
    #[cfg(test)]
    pub fn from_json(value: Value) -> Params {
        match value {
            Value::Object(map) => Params(map),
            _ => Params::default(),
        }
    }

    /// A present, non-null parameter.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A string parameter; numbers and booleans are taken as their text.
    pub fn string(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer parameter, given as a number or a numeric string.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A boolean parameter: `true`, "true" or "1".
    pub fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// An object or array parameter, also accepted as a JSON-encoded string.
    pub fn json(&self, key: &str) -> Result<Option<Value>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("can't parse {key} JSON object"))),
            Some(value) => Ok(Some(value.clone())),
        }
    }

    /// The required `chat_id`; a username or garbage names no known chat.
    pub fn chat_id(&self) -> Result<i64, ApiError> {
        if self.get("chat_id").is_none() {
            return Err(ApiError::bad_request("chat_id is empty"));
        }
        self.int("chat_id").ok_or_else(ApiError::chat_not_found)
    }
}

/// Decodes `a=1&b=x%20y` pairs (query strings and form bodies).
fn form_pairs(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_queries_are_decoded() {
        assert_eq!(
            form_pairs("chat_id=-42&text=a+b%26c%F0%9F%98%80&x"),
            vec![
                ("chat_id".to_owned(), "-42".to_owned()),
                ("text".to_owned(), "a b&c😀".to_owned()),
                ("x".to_owned(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn params_merge_query_and_body_and_coerce_types() {
        let p = Params::from_request(
            Some("timeout=5&chat_id=1"),
            "application/json",
            br#"{"chat_id": 7, "reply_markup": "{\"inline_keyboard\":[]}", "flag": true}"#,
        )
        .unwrap();
        assert_eq!(p.int("timeout"), Some(5));
        assert_eq!(p.int("chat_id"), Some(7));
        assert_eq!(p.json("reply_markup").unwrap(), Some(json!({"inline_keyboard": []})));
        assert!(p.flag("flag"));
        assert_eq!(
            Params::default().chat_id().unwrap_err().description,
            "Bad Request: chat_id is empty"
        );
    }

    #[test]
    fn method_names_are_case_insensitive() {
        assert_eq!(Method::parse("sendmessage"), Some(Method::SendMessage));
        assert_eq!(Method::parse("sendPhoto"), None);
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()), Some(m));
        }
    }
}
