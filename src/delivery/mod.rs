//! The one delivery engine for everything sent in bulk: digests, alerts, broadcasts.
//!
//! Items are written to the store's outbox (and flushed) before they reach the engine, and
//! leave it only when Telegram confirmed them, so nothing is lost when the process dies.
//! The engine never imports teloxide: it sends through the [`Transport`] trait.

mod engine;
mod limiter;
mod observer;
mod outcome;
mod transport;

pub use engine::{Engine, Event, FLUSH_EVERY, MAX_ATTEMPTS, StatsSnapshot};
pub use limiter::{HELD, Lane, Limits, Pacer, SAFETY};
pub use observer::{ErrorClass, Observer};
pub use transport::{SendError, Transport};

/// Where whoever queues bulk sends (the scheduler, operators' jobs) hands them over, without
/// holding the engine itself: [`Engine`] in the running bot.
pub trait Handover: Send + Sync {
    /// Hands over items already durable in the outbox ([`Engine::push`]).
    fn push(&self, items: Vec<(u64, crate::store::OutboxItem)>);
    /// How many more items would be taken in at once rather than wait in the outbox on disk
    /// ([`Engine::room`]): the scheduler composes a round only as fast as this allows.
    fn room(&self) -> usize;
}

#[cfg(test)]
mod tests;
