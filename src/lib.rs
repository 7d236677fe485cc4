//! Tribune: a Telegram bot that distributes statements.
//!
//! See ARCHITECTURE.md for the map of modules and the invariants between them.

pub mod allocator;
pub mod app;
pub mod broadcast;
pub mod clock;
pub mod config;
pub mod content;
pub mod control;
pub mod delivery;
pub mod digest;
pub mod doctor;
pub mod intake;
pub mod message;
pub mod metrics;
pub mod render;
pub mod schedule;
pub mod serve;
pub mod stats;
pub mod store;
pub mod subscription;
pub mod telegram;
