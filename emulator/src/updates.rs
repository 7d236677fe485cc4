//! The update queue: what people did, waiting for the bot's getUpdates,
//! confirmed by offset and filtered by `allowed_updates` as Telegram does.

use serde_json::{Value, json};

use super::state::State;

/// An update waiting to be fetched and confirmed.
#[derive(Debug, Clone)]
pub(crate) struct QueuedUpdate {
    pub id: u32,
    /// The field name: "message", "edited_message", "callback_query", ...
    pub kind: &'static str,
    pub payload: Value,
}

impl QueuedUpdate {
    pub fn to_json(&self) -> Value {
        let mut update = json!({ "update_id": self.id });
        update[self.kind] = self.payload.clone();
        update
    }
}

impl State {
    /// Queues an update of `kind` and returns its id.
    pub fn enqueue(&mut self, kind: &'static str, payload: Value) -> u32 {
        let id = self.next_update_id;
        self.next_update_id += 1;
        log::debug!("emulator: queued update {id} ({kind})");
        self.updates.push_back(QueuedUpdate { id, kind, payload });
        id
    }

    /// Forgets updates the bot confirmed with `offset`, as Telegram does:
    /// a positive offset confirms every update below it, a negative one keeps
    /// only the last `-offset` updates.
    pub fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.updates.retain(|u| i64::from(u.id) >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while self.updates.len() > keep {
                self.updates.pop_front();
            }
        }
    }

    /// Up to `limit` deliverable updates; updates of kinds the bot did not
    /// ask for are dropped, as Telegram never produces them.
    pub fn deliverable(&mut self, limit: usize) -> Vec<Value> {
        let allowed = if self.every_kind { None } else { self.allowed_updates.clone() };
        self.updates.retain(|u| is_allowed(allowed.as_deref(), u.kind));
        self.updates.iter().take(limit).map(QueuedUpdate::to_json).collect()
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

    fn state_with(n: usize) -> State {
        let mut s = State::new();
        for _ in 0..n {
            s.enqueue("message", json!({}));
        }
        s
    }

    #[test]
    fn positive_offset_confirms_earlier_updates() {
        let mut s = state_with(3);
        s.confirm(3);
        assert_eq!(s.updates.iter().map(|u| u.id).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn negative_offset_keeps_the_last_ones() {
        let mut s = state_with(3);
        s.confirm(-1);
        assert_eq!(s.updates.iter().map(|u| u.id).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn allowed_updates_filter_and_drop() {
        let mut s = state_with(1);
        s.enqueue("callback_query", json!({}));
        s.allowed_updates = Some(vec!["callback_query".to_owned()]);
        let got = s.deliverable(100);
        assert_eq!(got.len(), 1);
        assert!(got[0].get("callback_query").is_some());
        assert_eq!(s.updates.len(), 1);
    }
}
