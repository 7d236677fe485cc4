//! Errors: the Bot API's error objects as Telegram shapes them, and the
//! errors of the test-side helpers.
//!
//! Description strings are Telegram's own, byte for byte, because bots (and
//! teloxide's `ApiError` parser) match on them.

use std::time::Duration;

use serde_json::{Value, json};

/// A Bot API error: `{"ok":false,"error_code":..,"description":..,"parameters":..}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {description}")]
pub struct ApiError {
    /// HTTP status and `error_code` (400, 401, 403, 404, 409, 429).
    pub code: u16,
    /// Telegram's description, e.g. "Bad Request: chat not found".
    pub description: String,
    /// Extra parameters Telegram attaches to some errors.
    pub parameters: Option<ResponseParameters>,
}

/// The `parameters` object of an error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseParameters {
    /// Flood control: seconds to wait before repeating the request.
    RetryAfter(u32),
    /// The group was upgraded to a supergroup with this id.
    MigrateToChatId(i64),
}

impl ApiError {
    /// A 400 error; `reason` comes after "Bad Request: ".
    pub fn bad_request(reason: impl AsRef<str>) -> ApiError {
        ApiError::new(400, format!("Bad Request: {}", reason.as_ref()))
    }

    /// An error with any code and a full description.
    pub fn new(code: u16, description: impl Into<String>) -> ApiError {
        ApiError { code, description: description.into(), parameters: None }
    }

    /// 401, for any token but the emulator's.
    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized")
    }

    /// 404, for a method the Bot API does not have (or the emulator lacks).
    pub fn not_found() -> ApiError {
        ApiError::new(404, "Not Found")
    }

    /// 429 with `retry_after`: flood control.
    pub fn too_many_requests(retry_after: u32) -> ApiError {
        ApiError {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            parameters: Some(ResponseParameters::RetryAfter(retry_after)),
        }
    }

    /// 403 when the user blocked the bot.
    pub fn blocked_by_user() -> ApiError {
        ApiError::new(403, "Forbidden: bot was blocked by the user")
    }

    /// 409 for a long poll superseded by a newer getUpdates.
    pub fn conflict_get_updates() -> ApiError {
        ApiError::new(
            409,
            "Conflict: terminated by other getUpdates request; \
             make sure that only one bot instance is running",
        )
    }

    /// "Bad Request: chat not found".
    pub fn chat_not_found() -> ApiError {
        ApiError::bad_request("chat not found")
    }

    /// "Bad Request: user not found", for a user the bot never met.
    pub fn user_not_found() -> ApiError {
        ApiError::bad_request("user not found")
    }

    /// 403 for a deleted account.
    pub fn user_deactivated() -> ApiError {
        ApiError::new(403, "Forbidden: user is deactivated")
    }

    /// 403 in a chat the bot was removed from; `chat_type` is "group",
    /// "supergroup" or "channel".
    pub fn kicked(chat_type: &str) -> ApiError {
        ApiError::new(403, format!("Forbidden: bot was kicked from the {chat_type} chat"))
    }

    /// 403 in a chat the bot left (or, for channels, was never added to).
    pub fn not_member(chat_type: &str) -> ApiError {
        ApiError::new(403, format!("Forbidden: bot is not a member of the {chat_type} chat"))
    }

    /// 400 when a channel admin bot lacks the right to post.
    pub fn need_channel_rights() -> ApiError {
        ApiError::bad_request("need administrator rights in the channel chat")
    }

    /// 400 in a basic group that became the supergroup `new_id`.
    pub fn migrated(new_id: i64) -> ApiError {
        ApiError {
            code: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat".to_owned(),
            parameters: Some(ResponseParameters::MigrateToChatId(new_id)),
        }
    }

    /// 500, as Telegram answers when it is having trouble.
    pub fn internal_server_error() -> ApiError {
        ApiError::new(500, "Internal Server Error")
    }

    /// 502, as Telegram's front answers while the back end restarts.
    pub fn bad_gateway() -> ApiError {
        ApiError::new(502, "Bad Gateway")
    }

    /// The response body Telegram sends for this error.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        match self.parameters {
            Some(ResponseParameters::RetryAfter(s)) => {
                body["parameters"] = json!({ "retry_after": s });
            }
            Some(ResponseParameters::MigrateToChatId(id)) => {
                body["parameters"] = json!({ "migrate_to_chat_id": id });
            }
            None => {}
        }
        body
    }
}

/// Why a test-side wait ended without what it waited for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The time ran out; `got` says what had arrived by then.
    #[error("timed out after {waited:?} ({got})")]
    Timeout {
        /// How long the wait lasted.
        waited: Duration,
        /// A short account of what did arrive.
        got: String,
    },
    /// The emulator was shut down while waiting.
    #[error("the emulator was shut down")]
    Shutdown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_have_telegrams_shape() {
        let body = ApiError::too_many_requests(3).to_json();
        assert_eq!(
            body,
            json!({"ok": false, "error_code": 429,
                   "description": "Too Many Requests: retry after 3",
                   "parameters": {"retry_after": 3}})
        );
        let body = ApiError::chat_not_found().to_json();
        assert_eq!(body["description"], "Bad Request: chat not found");
        assert!(body.get("parameters").is_none());
        let body = ApiError::migrated(-100_123).to_json();
        assert_eq!(body["parameters"], json!({"migrate_to_chat_id": -100_123}));
        assert_eq!(ApiError::kicked("group").code, 403);
    }
}
