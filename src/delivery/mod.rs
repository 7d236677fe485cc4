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
pub use limiter::{Lane, Limits, Pacer, SAFETY};
pub use observer::{ErrorClass, Observer};
pub use transport::{SendError, Transport};

/// Hands items already durable in the outbox to the engine ([`Engine::push`]), for whoever
/// queues bulk sends (the scheduler, operators' jobs) without holding the engine itself.
pub type Push = std::sync::Arc<dyn Fn(Vec<(u64, crate::store::OutboxItem)>) + Send + Sync>;

#[cfg(test)]
mod tests;
