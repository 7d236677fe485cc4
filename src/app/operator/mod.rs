//! Operators' use cases, one file for each thing an operator does: broadcasts with their
//! drafts and `/cancel` (`broadcast`), withdrawing and correcting what was sent (`changes`),
//! content edits and statement files (`content`), and what operators read: the audit log,
//! editions, `/stats`, `/health` and the progress of jobs (`records`).
//!
//! Every one of them takes an [`Operator`], which only [`Tribune::operator`] makes: the one
//! check behind every operator command and button, by Telegram user id against
//! `TRIBUNE_ADMINS`, in a private chat (callback data never says who may press it). Every
//! action that changes something is written to the audit log.

mod broadcast;
mod changes;
mod content;
mod records;

pub use broadcast::{Cancelled, Discarded, Prepared, Sent};
pub use changes::ChangeOutcome;
pub use content::{EditOutcome, MAX_STATEMENT_BYTES};
pub use records::JobStatus;

use super::{
    caller::{Caller, Refusal, unavailable},
    tribune::Tribune,
};

/// Someone who passed the operator check, for one request.
#[derive(Debug)]
pub struct Operator {
    id: i64,
}

impl Operator {
    /// Their Telegram user id.
    pub fn id(&self) -> i64 {
        self.id
    }
}

impl Tribune {
    /// The one check behind every operator command and button: the caller is one of the
    /// operators, and asks in a private chat (operators' work, and the audit log's ids, are
    /// not for a group's eyes; a broadcast's copied message must come from a chat that cannot
    /// move or vanish under it).
    pub fn operator(&self, caller: &Caller) -> Result<Operator, Refusal> {
        let Some(id) = caller.user.filter(|&user| self.is_operator(user)) else {
            log::info!("refused an operator command or button from a non-operator");
            return Err(Refusal::OperatorsOnly);
        };
        if !caller.is_private() {
            return Err(Refusal::PrivateOnly);
        }
        Ok(Operator { id })
    }

    /// Writes an operator's action to the audit log, on the app's clock.
    fn audit(&self, operator: &Operator, action: String) -> Result<(), Refusal> {
        self.store.audit(operator.id, action, self.clock.unix()).map_err(unavailable)
    }
}
