//! The HTTP face of the emulator: `{api_url}/bot{token}/{method}` over axum. Each request
//! is logged, then carried out under the lock (`dispatch`), or long-polled (getUpdates);
//! injected delays and dropped connections happen here, and every request is counted in
//! the stats.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

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

use super::{
    connection::Cut, dispatch, error::ApiError, method::Method, params::Params, push,
    shared::Shared, state::RequestRecord, stats::Ending, webhook, world::TOKEN,
};

/// The routes: every HTTP method on `/{bot<token>}/{method}`, and Telegram's
/// 404 for anything else.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{bot}/{method}", any(handle))
        .route("/file/{bot}/{*path}", axum::routing::get(download))
        // Telegram takes uploads up to 50 MB; the methods check their own limits.
        .layer(DefaultBodyLimit::max(50 * 1024 * 1024))
        .fallback(|| async { reply(Err(ApiError::not_found())) })
        .with_state(shared)
}

/// How a request ends.
enum Outcome {
    Answer(Result<Value, ApiError>),
    /// Close the connection without answering.
    Drop,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    Path((bot, name)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    // Telegram judges a request by when it arrived: taken here, before the state's lock, which
    // a test acting as thousands of people may hold for a moment.
    let arrived = Instant::now();
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let method = Method::parse(&name);
    let request = Request { bot: &bot, method, name: &name, content_type, arrived };
    let outcome = serve(&shared, &request, query.as_deref(), &body).await;
    let ending = match &outcome {
        Outcome::Answer(Ok(_)) => {
            Ending::Ok { sent: method.is_some_and(Method::sends_new_message) }
        }
        Outcome::Answer(Err(error)) => Ending::Error(error.code),
        Outcome::Drop => Ending::Dropped,
    };
    shared.with_state(|s| s.stats.count(method.map_or(name.as_str(), |m| m.name()), ending));
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
    State(shared): State<Arc<Shared>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if bot.strip_prefix("bot") != Some(TOKEN) {
        return reply(Err(ApiError::unauthorized()));
    }
    let bytes = shared
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

/// What the route says about a request.
#[derive(Clone, Copy)]
struct Request<'a> {
    bot: &'a str,
    method: Option<Method>,
    name: &'a str,
    content_type: &'a str,
    arrived: Instant,
}

async fn serve(
    shared: &Arc<Shared>,
    request: &Request<'_>,
    query: Option<&str>,
    body: &[u8],
) -> Outcome {
    let Request { bot, method, name, content_type, arrived } = *request;
    let Some(token) = bot.strip_prefix("bot") else {
        return Outcome::Answer(Err(ApiError::not_found()));
    };
    if token != TOKEN {
        log::debug!("emulator: {name} refused as unauthorized");
        return Outcome::Answer(Err(ApiError::unauthorized()));
    }
    let params = Params::from_request(query, content_type, body);
    let chat_id = params.as_ref().ok().and_then(|p| p.int("chat_id"));
    record(shared, method.map_or(name, |m| m.name()), chat_id, arrived);
    let Some(method) = method else {
        log::debug!("emulator: unknown method {name}");
        return Outcome::Answer(Err(ApiError::not_found()));
    };
    let params = match params {
        Ok(params) => params,
        Err(error) => return Outcome::Answer(Err(error)),
    };
    if method == Method::GetUpdates {
        return Outcome::Answer(get_updates(shared, &params, arrived).await);
    }
    let (result, delay) =
        shared.with_state(|state| dispatch::run(state, method, &params, chat_id, arrived));
    shared.notify();
    if method == Method::SetWebhook && matches!(result, Some(Ok(_))) {
        push::ensure_pusher(shared);
    }
    match &result {
        Some(Ok(_)) => log::debug!("emulator: {} chat={chat_id:?} ok", method.name()),
        Some(Err(e)) => log::debug!("emulator: {} chat={chat_id:?} -> {e}", method.name()),
        None => log::debug!("emulator: {} chat={chat_id:?} dropped", method.name()),
    }
    if let Some(delay) = delay
        && !hold(shared, delay).await
    {
        return Outcome::Drop;
    }
    result.map_or(Outcome::Drop, Outcome::Answer)
}

/// Waits out an injected delay, until the test releases it, or until the emulator shuts
/// down; whether to answer (a release may cut the connection instead).
async fn hold(shared: &Shared, delay: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + delay;
    let releases = shared.with_state(|state| state.releases);
    shared
        .wait_until(deadline, |state| {
            if state.shutdown {
                Some(true)
            } else if state.releases != releases {
                Some(state.release_answers)
            } else {
                None
            }
        })
        .await
        .unwrap_or(true)
}

/// getUpdates: confirms by offset, then returns at once if anything is
/// pending, else long-polls until an update arrives, the timeout elapses,
/// a newer getUpdates supersedes this one (409) or the emulator shuts down.
async fn get_updates(
    shared: &Shared,
    params: &Params,
    arrived: Instant,
) -> Result<Value, ApiError> {
    let limit = params.int("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(params.int("timeout").unwrap_or(0).max(0) as u64);
    let allowed = match params.json("allowed_updates")? {
        Some(Value::Array(kinds)) => {
            Some(kinds.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        }
        _ => None,
    };
    if shared.with_state(|state| state.webhook.is_some()) {
        return Err(webhook::conflict());
    }
    let generation = shared.with_state(|state| {
        if let Some(answered) = state.last_poll_answer.take() {
            let gap = arrived.saturating_duration_since(answered);
            state.stats.longest_poll_gap = state.stats.longest_poll_gap.max(gap);
        }
        if let Some(offset) = params.int("offset") {
            state.updates.confirm(offset);
        }
        if let Some(allowed) = allowed {
            state.updates.allowed = Some(allowed);
        }
        state.poll_generation += 1;
        state.poll_generation
    });
    // Wakes an older long poll, which then learns it was superseded.
    shared.notify();
    let deadline = tokio::time::Instant::now() + timeout;
    let outcome = shared
        .wait_until(deadline, |state| {
            if state.poll_generation != generation {
                return Some(Err(ApiError::conflict_get_updates()));
            }
            let updates = state.updates.deliverable(limit);
            if !updates.is_empty() || state.shutdown {
                return Some(Ok(Value::Array(updates)));
            }
            None
        })
        .await;
    let answer = outcome.unwrap_or_else(|| Ok(json!([])));
    if answer.is_ok() {
        shared.with_state(|state| state.last_poll_answer = Some(Instant::now()));
    }
    answer
}

/// Logs a request that carried the right token, for the tests' request log.
fn record(shared: &Shared, method: &str, chat_id: Option<i64>, at: Instant) {
    let record = RequestRecord { method: method.to_owned(), chat_id, at };
    shared.with_state(|s| s.requests.push(record));
    shared.notify();
}
