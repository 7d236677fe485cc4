//! The one thing delivery needs from Telegram: send a message, or say why not, by class.

use crate::{message::OutMessage, store::Op};
use std::future::Future;

/// Sends one message to one chat and returns Telegram's message id.
pub trait Transport: Send + Sync + 'static {
    fn send(
        &self,
        chat_id: i64,
        message: &OutMessage,
        paid: bool,
    ) -> impl Future<Output = Result<i32, SendError>> + Send;

    /// Carries out an outbox item's operation; returns the id of the message concerned.
    /// Transports that only send refuse the other operations.
    fn apply(
        &self,
        chat_id: i64,
        op: &Op,
        message: &OutMessage,
        paid: bool,
    ) -> impl Future<Output = Result<i32, SendError>> + Send {
        async move {
            match op {
                Op::Send => self.send(chat_id, message, paid).await,
                other => Err(SendError::Refused(format!("this transport cannot {other:?}"))),
            }
        }
    }
}

/// Why a send failed, in the classes the engine treats differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 429: wait this many seconds.
    #[error("too many requests: retry after {0}s")]
    RetryAfter(u32),
    /// The group became a supergroup with this id.
    #[error("the chat moved to {0}")]
    Migrated(i64),
    /// Blocked, kicked, deactivated, not found: the chat will not take messages.
    #[error("the chat is gone: {0}")]
    Gone(String),
    /// 5xx, network errors, timeouts: worth retrying.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Telegram refused the message itself ("can't parse entities", "message is too long"):
    /// a bug in Tribune, never retried.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Any other refusal: not retried.
    #[error("refused: {0}")]
    Refused(String),
}
