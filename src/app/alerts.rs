//! Status-change alerts: when a prisoner's status changes (an operator's edit, or edited
//! files at start-up), every chat that chose prisoner news hears of it once. Queued by the
//! scheduler at start and by the operators' content edits, through the same method, one pass
//! at a time.

use super::tribune::Tribune;
use crate::{
    digest,
    store::{EditionKind, OutboxItem, Result},
};

impl Tribune {
    /// Queues an alert for every prisoner-status change not yet announced, to every chat
    /// that chose prisoner news. Returns the messages queued.
    pub fn queue_alerts(&self) -> Result<usize> {
        let _alerting = self.alerting.lock().unwrap_or_else(|p| p.into_inner());
        let store = &self.store;
        let through = store.alerted_through()?;
        let changes = store.prisoner_changes_after(through)?;
        let Some(&(head, _)) = changes.last() else { return Ok(0) };
        let corpus = self.corpus();
        let edition = store.new_edition(EditionKind::Alert, self.clock.unix())?;
        let mut items = Vec::new();
        for sub in store.each_subscription().filter(|s| s.receives_alerts()) {
            for (_, change) in &changes {
                if let Some(message) = digest::alert(&corpus, &sub, change, self.bot_username()) {
                    items.push(OutboxItem {
                        edition,
                        chat_id: sub.chat_id,
                        kind: sub.kind,
                        message,
                        attempts: 0,
                        op: Default::default(),
                    });
                }
            }
        }
        let queued = store.enqueue_alerts(items, head)?;
        let count = queued.len();
        self.hand_over(queued);
        Ok(count)
    }
}
