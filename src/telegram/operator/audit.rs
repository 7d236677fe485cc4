//! What operators did and sent: `/audit` (the audit log) and `/editions` (what went out).
//! Every action that changes something writes its audit entry where it is done.

use super::{super::error::HandlerError, env::OpEnv};
use crate::render::{Ctx, Reply, operator as views};

/// Entries `/audit` shows.
const AUDIT_SHOWN: usize = 20;
/// Editions `/editions` shows.
const EDITIONS_SHOWN: usize = 10;

/// The latest entries of the audit log.
pub(super) fn audit(env: &OpEnv<'_>, ctx: &Ctx<'_>) -> Result<Reply, HandlerError> {
    Ok(views::audit(ctx, &env.app.store().audit_latest(AUDIT_SHOWN)?))
}

/// The latest editions: digests, alerts, broadcasts, withdrawals and corrections.
pub(super) fn editions(env: &OpEnv<'_>, ctx: &Ctx<'_>) -> Result<Reply, HandlerError> {
    Ok(views::editions(ctx, &env.app.store().editions_latest(EDITIONS_SHOWN)?))
}
