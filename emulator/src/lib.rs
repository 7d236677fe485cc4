//! A local Bot API server: real HTTP on 127.0.0.1, Telegram-shaped JSON,
//! Telegram's limits and error descriptions.
//!
//! Telegram is out of reach in tests, so a bot talks to this instead, through
//! teloxide's configurable API URL. Tests act as people through [`User`], [`Group`]
//! and [`Channel`] and wait for what the bot sends back. Each emulator binds its
//! own port, so tests stay parallel and hermetic. See README.md for an example.
//!
//! Telegram's flood limits are on by default ([`Limits`]; [`Emulator::set_limits`]),
//! failures can be injected ([`Emulator::inject`], [`Emulator::inject_random`]),
//! and [`Emulator::stats`] counts what was asked and answered. Groups and
//! channels have admins, and the bot's joining, leaving and rights reach it
//! as `my_chat_member` updates ([`Group::add_bot`], [`Channel::add_bot_as_admin`]).
//!
//! The modules stand in layers, each using only those below it (from the top):
//!
//! - `emulator` (the [`Emulator`]) and `terminal` (a chat in a terminal);
//! - acting as people: `handles` (users and groups), with `chats` (admins and channels),
//!   `kinds` (polls), `inline_user` (inline mode) and `load` (floods, for benchmarks) on it; beside them, HTTP: `api`
//!   (routes, getUpdates' long poll, injected delays and cut connections) and `push` (the
//!   webhook pusher);
//! - `dispatch`: one request under the lock, through an injected fault and Telegram's
//!   rules (`rules`) to a Bot API method: `messages`, `commands`, `photos`, `members`,
//!   `inline`, `webhook`; and `shared`, the state behind its mutex with the signal that
//!   wakes whoever waits;
//! - `state`: everything the emulator knows, and the changes Telegram announces as updates;
//! - plain data: `wire` (Telegram's JSON), `faults` (injected failures), `world` (people,
//!   chats, messages), `sent` (what a test reads back), `html` (Telegram's HTML parser),
//!   `keyboard`, `params`, `links`, `limits`, `updates` (the update queue), `method`,
//!   `connection`, `stats`, `error`.
//!
//! To stop a teloxide dispatcher quickly, ask it to shut down, then shut the
//! emulator down: that releases the dispatcher's pending long poll.

mod api;
mod chats;
mod commands;
mod connection;
mod dispatch;
mod emulator;
mod error;
mod faults;
mod handles;
mod html;
mod inline;
mod inline_user;
mod keyboard;
mod kinds;
mod limits;
mod links;
mod load;
mod members;
mod messages;
mod method;
mod params;
mod photos;
mod push;
mod rules;
mod sent;
mod shared;
mod state;
mod stats;
mod terminal;
mod updates;
mod webhook;
mod wire;
mod world;

#[cfg(test)]
mod tests;

pub use chats::Channel;
pub use emulator::Emulator;
pub use error::{ApiError, ResponseParameters, WaitError};
pub use faults::{Fault, FaultTarget};
pub use handles::{Conversation, Group, User};
pub use html::Strictness;
pub use keyboard::Button;
pub use limits::Limits;
pub use sent::{Activity, BotMessage, CallbackAnswer, InlineAnswer, InlineArticle};
pub use state::RequestRecord;
pub use stats::Stats;
pub use terminal::run_terminal;
pub use webhook::SECRET_HEADER;

/// Checks `html` as Telegram's HTML parse mode would (strictly: a bare `&` is refused too);
/// `Err` is Telegram's reason. For tests that check what the bot would send.
pub fn check_html(html: &str) -> Result<(), String> {
    html::parse(html, Strictness::RejectBareAmpersand).map(|_| ())
}
