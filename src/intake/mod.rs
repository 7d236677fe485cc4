//! The intake: what happens to interactive work between its arrival and its answer, whatever
//! carries it. Telegram's adapter turns updates into work for it; nothing here names Telegram.
//!
//! A state with troll farms can send thousands of commands a second from thousands of
//! accounts. Answering them all, in order, means answering nobody in time (a backlog of an
//! hour is answered an hour late) and starving the digests. So, as large services do under
//! overload (Facebook's "Fail at Scale": adaptive LIFO and queue timeouts):
//!
//! - [`Allowance`]: each sender's allowance is checked when the work *arrives*; the excess is
//!   dropped at once, never queued, with one notice per flood. Its memory is bounded: when its
//!   table is full, new senders share one small allowance.
//! - [`Queue`]: bounded; known chats (subscribers, operators) before unknown accounts; a chat's
//!   work in order, one at a time; under overload the newest work first; work older than
//!   [`MAX_AGE`] is dropped, not answered late.
//! - [`Pool`]: a fixed number of workers (the cap on work in flight), each handling one piece
//!   at a time inside `catch_unwind` and a timeout, so a panic or a hang costs that piece only.
//! - [`Outgoing`]: the replies waiting to be sent: per chat in order and within the chat's
//!   own limit, known chats first, dropped once stale; never a sleep that holds a worker.
//! - [`Gauges`]: what `/health` and `/metrics` show of all this.

mod allowance;
mod gauges;
mod outgoing;
mod pool;
mod queue;

pub use allowance::{Allowance, AllowanceConfig, Verdict};
pub use gauges::{Dropped, Gauges, IntakeHealth};
pub use outgoing::{Next, Outgoing, OutgoingConfig, Window};
pub use pool::{Meta, Pool, PoolConfig};
pub use queue::{Admission, Overflow, Queue, QueueConfig};

use std::time::Duration;

/// Work older than this is dropped rather than answered: a reply a minute late is already
/// confusing, and one an hour late (after a flood or an outage) tells a reader nothing but
/// that the bot was overwhelmed.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Whose work it is: known chats (subscribers, operators) are answered first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Known = 0,
    Unknown = 1,
}

impl Class {
    /// Both classes, in the order they are served.
    pub const ALL: [Class; 2] = [Class::Known, Class::Unknown];

    fn index(self) -> usize {
        self as usize
    }

    /// The label used in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Class::Known => "known",
            Class::Unknown => "unknown",
        }
    }
}
