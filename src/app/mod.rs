//! The running service, independent of transport: `Tribune` (the store, the content being
//! served, the one clock, the operators, and where bulk work goes) and every use case as one
//! of its methods, each with its own permission check, returning an outcome the adapter
//! renders. The adapter tells who is asking as a [`Caller`]; the decision is made here.
//!
//! - `reader`: subscriptions, settings and their card, typed answers, `/unsubscribe`,
//!   `/stop`, languages, `/channels`;
//! - `chats`: the bot's own membership in chats, migrations, operators' notices (capped by
//!   `notices`);
//! - `operator/`: the operators' check ([`Tribune::operator`]) and their jobs;
//! - `import`: the content served at start-up; `content`: operators' edits on top of it;
//!   `alerts`: status-change alerts;
//! - `scheduler`: the `Scheduler`, which composes the digests that fall due.

mod alerts;
mod caller;
mod chats;
mod content;
mod error;
mod import;
mod notices;
mod operator;
mod reader;
mod scheduler;
mod tribune;

#[cfg(test)]
mod tests;

pub use caller::{ANONYMOUS_ADMIN_BOT, Caller, Refusal};
pub use chats::Membership;
pub use error::AppError;
pub use import::{ContentSource, sync_content};
pub use operator::{
    Cancelled, ChangeOutcome, Discarded, EditOutcome, JobStatus, MAX_STATEMENT_BYTES, Operator,
    Prepared, Sent,
};
pub use reader::{Answered, CardStep};
pub use scheduler::Scheduler;
pub use tribune::{
    PRUNE_STEP, QUESTION_WAITS, Shredding, Tribune, forget_expired_questions, prune_expired,
    rotate_keys,
};
