//! What can stop a use case outright (a request refused is a `Refusal`, not an error).

use crate::{content, store::StoreError};

/// The store failed, or there is no content to serve.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no content to serve: {0}")]
    NoContent(content::ContentError),
}
