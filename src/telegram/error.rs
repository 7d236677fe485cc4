//! The error every handler returns. Here, below every handler module, so that they all import
//! it from one place and `handlers.rs`, which joins them into the tree, stays the top.

/// Whatever stops a handler: a Telegram request that failed, a store that refused a write.
/// dptree's error handler logs it; the reader has usually been told already.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What an endpoint returns.
pub type HandlerResult = Result<(), HandlerError>;
