//! Tribune: a Telegram bot that distributes statements.
//!
//! See ARCHITECTURE.md for the map of modules and the invariants between them.

pub mod emulator;
