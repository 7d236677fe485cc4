//! The bounded queue of admitted work, by chat.
//!
//! - A chat's work is handled in order, one piece at a time (a typed answer after its
//!   question), so work waits in its chat's lane; chats with work and no piece in hand wait
//!   in the ready list of their class.
//! - Known chats are served before unknown ones.
//! - Adaptive LIFO: while the oldest ready chat has waited less than `lifo_after`, chats are
//!   served first come, first served; beyond that the queue is overloaded and the chat that
//!   became ready last is served first, so the people asking now are answered now and the
//!   backlog, which would only be answered late, ages out.
//! - Work older than `max_age` is dropped when it is reached.
//! - Bounded: at `capacity`, either the oldest unknown work gives way ([`Overflow::Shed`],
//!   for long polling, which must keep fetching) or the new work is refused
//!   ([`Overflow::Refuse`], for a webhook, whose sender retries a 503 later). A chat holds at
//!   most `per_chat` pieces; beyond it its oldest is dropped.

use super::{Class, Dropped, MAX_AGE};
use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};
use tokio::time::Instant;

/// The queue's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Pieces of work waiting, at most.
    pub capacity: usize,
    /// Pieces of work waiting in one chat, at most.
    pub per_chat: usize,
    /// Older work is dropped, not handled.
    pub max_age: Duration,
    /// Once the oldest ready chat has waited this long, the newest is served first.
    pub lifo_after: Duration,
}

impl Default for QueueConfig {
    /// 5,000 updates are about 10 MB; Telegram hands over 100 at a time.
    fn default() -> QueueConfig {
        QueueConfig {
            capacity: 5_000,
            per_chat: 16,
            max_age: MAX_AGE,
            lifo_after: Duration::from_millis(500),
        }
    }
}

/// What happens when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// The oldest unknown work gives way.
    Shed,
    /// The new work is refused.
    Refuse,
}

/// What became of work offered to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Queued,
    /// Queued; this many older pieces gave way.
    QueuedShedding(usize),
    /// Full: not queued.
    Refused,
}

pub struct Queue<T> {
    config: QueueConfig,
    chats: HashMap<i64, Lane<T>>,
    /// Chats with work and none in hand, by class, in the order they became ready.
    ready: [VecDeque<(i64, Instant)>; 2],
    queued: usize,
    /// Dropped since the last [`Queue::take_dropped`], by reason.
    dropped: Vec<(Dropped, u64)>,
}

struct Lane<T> {
    items: VecDeque<(Instant, T)>,
    busy: bool,
    class: Class,
}

impl<T> Queue<T> {
    pub fn new(config: QueueConfig) -> Queue<T> {
        Queue {
            config,
            chats: HashMap::new(),
            ready: Default::default(),
            queued: 0,
            dropped: Vec::new(),
        }
    }

    /// Work waiting (not in hand).
    pub fn len(&self) -> usize {
        self.queued
    }

    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Offers `item` of `chat`, which arrived `at`. A chat keeps the class of its first piece
    /// while it has work.
    pub fn push(
        &mut self,
        chat: i64,
        class: Class,
        at: Instant,
        item: T,
        overflow: Overflow,
    ) -> Admission {
        let mut shed = 0;
        if self.queued >= self.config.capacity {
            if overflow == Overflow::Refuse {
                return Admission::Refused;
            }
            let victim = match class {
                Class::Unknown => [Class::Unknown].as_slice(),
                Class::Known => [Class::Unknown, Class::Known].as_slice(),
            }
            .iter()
            .copied()
            .find(|c| !self.ready[c.index()].is_empty());
            match victim {
                Some(victim) => {
                    self.shed_oldest(victim);
                    shed += 1;
                }
                None => {
                    self.count(Dropped::Full, 1);
                    return Admission::Refused;
                }
            }
        }
        let per_chat = self.config.per_chat.max(1);
        let lane = self.chats.entry(chat).or_insert_with(|| Lane {
            items: VecDeque::new(),
            busy: false,
            class,
        });
        let was_ready = !lane.busy && !lane.items.is_empty();
        let overflowed = lane.items.len() >= per_chat;
        if overflowed {
            lane.items.pop_front();
        }
        lane.items.push_back((at, item));
        let newly_ready = (!was_ready && !lane.busy).then_some(lane.class);
        if overflowed {
            shed += 1;
            self.count(Dropped::Full, 1);
        } else {
            self.queued += 1;
        }
        if let Some(class) = newly_ready {
            self.ready[class.index()].push_back((chat, Instant::now()));
        }
        if shed > 0 { Admission::QueuedShedding(shed) } else { Admission::Queued }
    }

    /// The oldest piece of the chat that became ready first in `class` gives way.
    fn shed_oldest(&mut self, class: Class) {
        let Some(&(chat, _)) = self.ready[class.index()].front() else { return };
        if let Some(lane) = self.chats.get_mut(&chat) {
            lane.items.pop_front();
            self.queued -= 1;
            if lane.items.is_empty() {
                self.ready[class.index()].pop_front();
                self.chats.remove(&chat);
            }
        }
        self.count(Dropped::Full, 1);
    }

    /// The next piece to handle, if any class `may_take` allows has work: its chat is then
    /// in hand until [`Queue::done`]. Returns the chat, its class, when the piece arrived,
    /// and the piece.
    pub fn pop(
        &mut self,
        now: Instant,
        may_take: impl Fn(Class) -> bool,
    ) -> Option<(i64, Class, Instant, T)> {
        for class in Class::ALL {
            if !may_take(class) {
                continue;
            }
            self.drop_stale_front(class, now);
            while let Some(&(_, since)) = self.ready[class.index()].front() {
                let overloaded = now.saturating_duration_since(since) >= self.config.lifo_after;
                let ready = &mut self.ready[class.index()];
                let (chat, _) = if overloaded { ready.pop_back() } else { ready.pop_front() }
                    .expect("not empty");
                let Some(lane) = self.chats.get_mut(&chat) else { continue };
                let mut stale = 0;
                while lane
                    .items
                    .front()
                    .is_some_and(|(at, _)| now.saturating_duration_since(*at) > self.config.max_age)
                {
                    lane.items.pop_front();
                    stale += 1;
                }
                self.queued -= stale;
                let next = lane.items.pop_front();
                if let Some((at, item)) = next {
                    lane.busy = true;
                    self.queued -= 1;
                    self.count(Dropped::Stale, stale as u64);
                    return Some((chat, class, at, item));
                }
                self.chats.remove(&chat);
                self.count(Dropped::Stale, stale as u64);
            }
        }
        None
    }

    /// Drops the stale work of the chats at the front of `class`'s ready list (the oldest),
    /// so that work nobody will be answered for leaves the queue and its gauge.
    fn drop_stale_front(&mut self, class: Class, now: Instant) {
        let max_age = self.config.max_age;
        while let Some(&(chat, _)) = self.ready[class.index()].front() {
            let Some(lane) = self.chats.get_mut(&chat) else {
                self.ready[class.index()].pop_front();
                continue;
            };
            let before = lane.items.len();
            while lane
                .items
                .front()
                .is_some_and(|(at, _)| now.saturating_duration_since(*at) > max_age)
            {
                lane.items.pop_front();
            }
            let stale = before - lane.items.len();
            let emptied = lane.items.is_empty();
            self.queued -= stale;
            self.count(Dropped::Stale, stale as u64);
            if !emptied {
                return;
            }
            self.ready[class.index()].pop_front();
            self.chats.remove(&chat);
        }
    }

    /// The piece of `chat` in hand is finished: its next piece, if any, may be taken.
    ///
    /// A chat with more work goes to the end of the line: the back while the queue keeps up
    /// (round robin), but the front under overload, where the back is served first; so a
    /// flooder's queued commands do not win turn after turn over others' newest one.
    pub fn done(&mut self, chat: i64) {
        let Some(lane) = self.chats.get_mut(&chat) else { return };
        lane.busy = false;
        if lane.items.is_empty() {
            self.chats.remove(&chat);
            return;
        }
        let ready = &mut self.ready[lane.class.index()];
        let now = Instant::now();
        match ready.front().copied() {
            Some((_, since)) if now.saturating_duration_since(since) >= self.config.lifo_after => {
                ready.push_front((chat, since));
            }
            _ => ready.push_back((chat, now)),
        }
    }

    /// Drops everything waiting (at shutdown); returns how much.
    pub fn clear(&mut self) -> usize {
        let dropped = self.queued;
        self.chats.retain(|_, lane| {
            lane.items.clear();
            lane.busy
        });
        for ready in &mut self.ready {
            ready.clear();
        }
        self.queued = 0;
        dropped
    }

    /// What was dropped since the last call, by reason.
    pub fn take_dropped(&mut self) -> Vec<(Dropped, u64)> {
        std::mem::take(&mut self.dropped)
    }

    fn count(&mut self, why: Dropped, n: u64) {
        if n == 0 {
            return;
        }
        match self.dropped.iter_mut().find(|(w, _)| *w == why) {
            Some((_, total)) => *total += n,
            None => self.dropped.push((why, n)),
        }
    }

    /// Chats with work or a piece in hand (the queue's memory besides the work itself).
    pub fn chats(&self) -> usize {
        self.chats.len()
    }
}

#[cfg(test)]
mod tests;
