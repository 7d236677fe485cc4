//! The update queue: what people did, waiting for the bot's getUpdates,
//! confirmed by offset and filtered by `allowed_updates` as Telegram does.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// An update waiting to be fetched and confirmed.
#[derive(Debug, Clone)]
pub(crate) struct QueuedUpdate {
    pub id: u32,
    /// The field name: "message", "edited_message", "callback_query", ...
    pub kind: &'static str,
    pub payload: Value,
    /// When it was queued (for [`UpdateQueue::longest_wait`]).
    pub at: Instant,
}

impl QueuedUpdate {
    pub fn to_json(&self) -> Value {
        let mut update = json!({ "update_id": self.id });
        update[self.kind] = self.payload.clone();
        update
    }
}

/// The updates not yet confirmed, and which kinds the bot asked for.
#[derive(Debug)]
pub(crate) struct UpdateQueue {
    pending: VecDeque<QueuedUpdate>,
    next_id: u32,
    /// Update kinds the bot asked for; `None` means Telegram's default set.
    pub allowed: Option<Vec<String>>,
    /// Hand over every update kind, whatever the bot asked for in `allowed_updates`.
    pub every_kind: bool,
    /// The longest an update waited between being queued and first handed to the bot.
    pub longest_wait: Duration,
    /// Updates up to this id have been handed over at least once.
    handed: u32,
}

impl Default for UpdateQueue {
    fn default() -> UpdateQueue {
        UpdateQueue {
            pending: VecDeque::new(),
            next_id: 1,
            allowed: None,
            every_kind: false,
            longest_wait: Duration::ZERO,
            handed: 0,
        }
    }
}

impl UpdateQueue {
    /// Queues an update of `kind` and returns its id.
    pub fn push(&mut self, kind: &'static str, payload: Value) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        log::debug!("emulator: queued update {id} ({kind})");
        self.pending.push_back(QueuedUpdate { id, kind, payload, at: Instant::now() });
        id
    }

    /// Forgets updates the bot confirmed with `offset`, as Telegram does:
    /// a positive offset confirms every update below it, a negative one keeps
    /// only the last `-offset` updates.
    pub fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            // Ids only grow along the queue: confirming is popping from the front, so a
            // backlog of a million costs nothing per poll.
            while self.pending.front().is_some_and(|u| i64::from(u.id) < offset) {
                self.pending.pop_front();
            }
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while self.pending.len() > keep {
                self.pending.pop_front();
            }
        }
    }

    /// Up to `limit` deliverable updates; updates of kinds the bot did not
    /// ask for are dropped, as Telegram never produces them. Only the front of the
    /// queue is looked at, however long it is.
    pub fn deliverable(&mut self, limit: usize) -> Vec<Value> {
        let allowed = if self.every_kind { None } else { self.allowed.clone() };
        let mut out = Vec::new();
        let mut index = 0;
        let now = Instant::now();
        while out.len() < limit && index < self.pending.len() {
            let update = &self.pending[index];
            if !is_allowed(allowed.as_deref(), update.kind) {
                self.pending.remove(index);
                continue;
            }
            if update.id > self.handed {
                self.handed = update.id;
                self.longest_wait = self.longest_wait.max(now.duration_since(update.at));
            }
            out.push(update.to_json());
            index += 1;
        }
        out
    }

    /// Forgets the update `id`, delivered to a webhook (as a confirmed one is).
    pub fn forget(&mut self, id: u64) {
        self.pending.retain(|u| u64::from(u.id) != id);
    }

    /// Drops every pending update (`drop_pending_updates`).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// How many updates are pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// The newest update, as the bot would get it.
    #[cfg(test)]
    pub fn last(&self) -> Option<Value> {
        self.pending.back().map(QueuedUpdate::to_json)
    }
}

/// Whether an update kind passes `allowed_updates`; by default everything
/// but chat_member, message_reaction and message_reaction_count.
pub(crate) fn is_allowed(allowed: Option<&[String]>, kind: &str) -> bool {
    match allowed {
        Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
        _ => !matches!(kind, "chat_member" | "message_reaction" | "message_reaction_count"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_with(n: usize) -> UpdateQueue {
        let mut q = UpdateQueue::default();
        for _ in 0..n {
            q.push("message", json!({}));
        }
        q
    }

    fn ids(q: &UpdateQueue) -> Vec<u32> {
        q.pending.iter().map(|u| u.id).collect()
    }

    #[test]
    fn positive_offset_confirms_earlier_updates() {
        let mut q = queue_with(3);
        q.confirm(3);
        assert_eq!(ids(&q), vec![3]);
    }

    #[test]
    fn negative_offset_keeps_the_last_ones() {
        let mut q = queue_with(3);
        q.confirm(-1);
        assert_eq!(ids(&q), vec![3]);
    }

    #[test]
    fn allowed_updates_filter_and_drop() {
        let mut q = queue_with(1);
        q.push("callback_query", json!({}));
        q.allowed = Some(vec!["callback_query".to_owned()]);
        let got = q.deliverable(100);
        assert_eq!(got.len(), 1);
        assert!(got[0].get("callback_query").is_some());
        assert_eq!(q.len(), 1);
    }
}
