//! The running service, independent of transport: `Tribune` (the store, the content being
//! served, the clock and the operators, and the choices that need them together) and the
//! `Scheduler`, which composes the digests and alerts that fall due with that content and
//! hands them to the delivery engine.

mod scheduler;
mod tribune;

pub use scheduler::Scheduler;
pub use tribune::*;
