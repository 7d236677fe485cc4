//! Replies waiting to be sent, in memory: the interactive counterpart of the outbox, whose
//! items are durable and whose engine sends bulk. A reply is worth nothing late, so nothing
//! here survives a restart, and a reply not sent within its deadline is dropped.
//!
//! - A chat's replies go in order, one at a time, and within the chat's own limit
//!   ([`Window`]: a few a second in a private chat, twenty a minute in a group), so the bot
//!   never earns a 429 by answering one chat too fast, and a chat over its limit waits
//!   without holding anything or anyone: the sender moves on to other chats.
//! - Known chats first; among chats of a class, the one ready first.
//! - Bounded by class: a full class refuses new replies. The intake keeps the unknown class
//!   short by not handling unknown work while its replies wait (see `Pool`'s gate).
//! - A 429 puts the reply back with the time Telegram gave ([`Outgoing::deferred`]).

use super::Class;
use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, VecDeque},
    time::Duration,
};
use tokio::time::Instant;

/// At most `sends` messages to one chat within any `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub sends: usize,
    pub within: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingConfig {
    /// Replies waiting, at most, per class.
    pub capacity: usize,
    /// Replies waiting for one chat, at most.
    pub per_chat: usize,
    /// A private chat's limit.
    pub private: Window,
    /// A group's or channel's limit.
    pub many: Window,
}

impl Default for OutgoingConfig {
    /// Telegram allows short bursts in a private chat (its emulator, like Telegram in
    /// practice, refuses a fourth message within a second) and 20 messages a minute in a
    /// group; the group window keeps two of those for digests and broadcasts.
    fn default() -> OutgoingConfig {
        OutgoingConfig {
            capacity: 2_000,
            per_chat: 32,
            private: Window { sends: 3, within: Duration::from_millis(1_050) },
            many: Window { sends: 18, within: Duration::from_secs(61) },
        }
    }
}

/// What the sender should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<M> {
    /// Send `op` to `chat`; report the result with `sent`, `deferred` or `failed`.
    Send { chat: i64, class: Class, op: M, counts: bool, deadline: Instant },
    /// Nothing may go before this moment.
    Wait(Instant),
    /// Nothing waits.
    Idle,
}

pub struct Outgoing<M> {
    config: OutgoingConfig,
    chats: HashMap<i64, Lane<M>>,
    /// Chats with replies and none in flight, by class, by the moment they may go.
    ready: [BinaryHeap<Reverse<(Instant, u64, i64)>>; 2],
    next_token: u64,
    waiting: [usize; 2],
    stale: u64,
    swept: Instant,
}

struct Lane<M> {
    items: VecDeque<Item<M>>,
    busy: bool,
    /// Matches the lane's one live entry in `ready`; older entries are skipped.
    token: u64,
    /// Not before this (a 429's `retry_after`).
    not_before: Instant,
    /// The moments of the last sends that count, oldest first, at most the window's size.
    recent: VecDeque<Instant>,
    window: Window,
}

struct Item<M> {
    op: M,
    class: Class,
    counts: bool,
    deadline: Instant,
}

impl<M: Clone> Outgoing<M> {
    pub fn new(config: OutgoingConfig) -> Outgoing<M> {
        Outgoing {
            config,
            chats: HashMap::new(),
            ready: Default::default(),
            next_token: 0,
            waiting: [0; 2],
            stale: 0,
            swept: Instant::now(),
        }
    }

    /// Queues `op` for `chat` (a group or channel when `many`), to be sent by `deadline` or
    /// not at all. `counts`: a new message, which Telegram's limits count (an edit does not).
    /// `false` when it was refused (its class or its chat is full).
    pub fn push(
        &mut self,
        chat: i64,
        class: Class,
        many: bool,
        deadline: Instant,
        op: M,
        counts: bool,
    ) -> bool {
        if self.waiting[class.index()] >= self.config.capacity {
            return false;
        }
        let window = if many { self.config.many } else { self.config.private };
        let now = Instant::now();
        let lane = self.chats.entry(chat).or_insert_with(|| Lane {
            items: VecDeque::new(),
            busy: false,
            token: 0,
            not_before: now,
            recent: VecDeque::new(),
            window,
        });
        if lane.items.len() >= self.config.per_chat {
            return false;
        }
        lane.items.push_back(Item { op, class, counts, deadline });
        self.waiting[class.index()] += 1;
        // A known reply behind unknown ones lifts the whole lane (they go in order).
        if !lane.busy && (lane.items.len() == 1 || class == Class::Known) {
            self.schedule(chat, now);
        }
        true
    }

    /// Replies waiting (or in flight) in `class`.
    pub fn waiting(&self, class: Class) -> usize {
        self.waiting[class.index()]
    }

    /// Whether `chat` has replies waiting or in flight.
    pub fn pending(&self, chat: i64) -> bool {
        self.chats.get(&chat).is_some_and(|l| l.busy || !l.items.is_empty())
    }

    /// Replies dropped because their deadline passed, since the last call.
    pub fn take_stale(&mut self) -> u64 {
        std::mem::take(&mut self.stale)
    }

    /// Chats remembered (with replies, or sends recent enough to count against their limit).
    pub fn chats(&self) -> usize {
        self.chats.len()
    }

    /// Puts the lane of `chat` in its class's ready list at the moment it may next send.
    fn schedule(&mut self, chat: i64, now: Instant) {
        let Some(lane) = self.chats.get_mut(&chat) else { return };
        let Some(front) = lane.items.front() else { return };
        let class = lane.items.iter().map(|i| i.class).min().unwrap_or(front.class);
        let mut at = lane.not_before.max(now);
        if front.counts && lane.recent.len() >= lane.window.sends {
            at = at.max(lane.recent[lane.recent.len() - lane.window.sends] + lane.window.within);
        }
        self.next_token += 1;
        lane.token = self.next_token;
        self.ready[class.index()].push(Reverse((at, lane.token, chat)));
    }

    /// The next reply that may go now, or when to ask again.
    pub fn next(&mut self, now: Instant) -> Next<M> {
        self.sweep(now);
        let mut wait: Option<Instant> = None;
        for class in Class::ALL {
            while let Some(&Reverse((at, token, chat))) = self.ready[class.index()].peek() {
                let live = self
                    .chats
                    .get(&chat)
                    .is_some_and(|l| l.token == token && !l.busy && !l.items.is_empty());
                if !live {
                    self.ready[class.index()].pop();
                    continue;
                }
                if at > now {
                    wait = Some(wait.map_or(at, |w| w.min(at)));
                    break;
                }
                self.ready[class.index()].pop();
                let lane = self.chats.get_mut(&chat).expect("checked above");
                while lane.items.front().is_some_and(|i| i.deadline < now) {
                    let item = lane.items.pop_front().expect("checked");
                    self.waiting[item.class.index()] -= 1;
                    self.stale += 1;
                }
                let Some(front) = lane.items.front() else { continue };
                let (op, item_class, counts, deadline) =
                    (front.op.clone(), front.class, front.counts, front.deadline);
                if counts
                    && lane.recent.len() >= lane.window.sends
                    && lane.recent[lane.recent.len() - lane.window.sends] + lane.window.within > now
                {
                    self.schedule(chat, now);
                    continue;
                }
                lane.busy = true;
                return Next::Send { chat, class: item_class.min(class), op, counts, deadline };
            }
        }
        wait.map_or(Next::Idle, Next::Wait)
    }

    /// The reply in flight to `chat` went at `at`.
    pub fn sent(&mut self, chat: i64, at: Instant) {
        let Some(lane) = self.chats.get_mut(&chat) else { return };
        lane.busy = false;
        if let Some(item) = lane.items.pop_front() {
            self.waiting[item.class.index()] -= 1;
            if item.counts {
                lane.recent.push_back(at);
                while lane.recent.len() > lane.window.sends {
                    lane.recent.pop_front();
                }
            }
        }
        self.schedule(chat, Instant::now());
    }

    /// The reply in flight to `chat` was refused for now: it goes again at `until`, unless
    /// that is past its deadline (then it and whatever else would be as late are dropped).
    pub fn deferred(&mut self, chat: i64, until: Instant) {
        let Some(lane) = self.chats.get_mut(&chat) else { return };
        lane.busy = false;
        lane.not_before = lane.not_before.max(until);
        while lane.items.front().is_some_and(|i| i.deadline < until) {
            let item = lane.items.pop_front().expect("checked");
            self.waiting[item.class.index()] -= 1;
            self.stale += 1;
        }
        self.schedule(chat, Instant::now());
    }

    /// The reply in flight to `chat` failed for good; with `rest`, the chat's other replies
    /// are dropped too (the chat is gone, or blocked the bot).
    pub fn failed(&mut self, chat: i64, rest: bool) {
        let Some(lane) = self.chats.get_mut(&chat) else { return };
        lane.busy = false;
        let n = if rest { lane.items.len() } else { lane.items.len().min(1) };
        for item in lane.items.drain(..n) {
            self.waiting[item.class.index()] -= 1;
        }
        self.schedule(chat, Instant::now());
    }

    /// Drops everything waiting (at shutdown); returns how much.
    pub fn clear(&mut self) -> usize {
        let dropped = self.waiting.iter().sum::<usize>();
        self.chats.retain(|_, lane| lane.busy);
        for lane in self.chats.values_mut() {
            // The one in flight stays until its result comes.
            lane.items.truncate(1);
        }
        for ready in &mut self.ready {
            ready.clear();
        }
        self.waiting = [0; 2];
        for lane in self.chats.values() {
            for item in &lane.items {
                self.waiting[item.class.index()] += 1;
            }
        }
        dropped - self.waiting.iter().sum::<usize>()
    }

    /// Forgets chats with nothing waiting whose last send no longer counts: at most once a
    /// second, so the pass costs nothing under load.
    fn sweep(&mut self, now: Instant) {
        if now.saturating_duration_since(self.swept) < Duration::from_secs(1) {
            return;
        }
        self.swept = now;
        self.chats.retain(|_, lane| {
            lane.busy
                || !lane.items.is_empty()
                || lane.not_before > now
                || lane.recent.back().is_some_and(|at| *at + lane.window.within > now)
        });
    }
}

#[cfg(test)]
mod tests;
