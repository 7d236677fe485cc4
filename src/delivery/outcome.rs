//! What the engine does with each send's outcome: record it, pace the chat, retry, move a
//! migrated group, or deactivate a chat that is gone.

use super::{
    ErrorClass, SendError, Transport,
    engine::{Event, Inner, MAX_ATTEMPTS, MAX_BACKOFF},
};
use crate::{
    store::{DeliveryOutcome, OutboxItem, Tally},
    subscription::ChatKind,
};
use std::{cmp::Reverse, sync::atomic::Ordering, time::Duration};
use tokio::{sync::oneshot, time::Instant};

impl<T: Transport> Inner<T> {
    /// Sends one item and deals with the outcome. `admitted` is told once the send has its
    /// place at the pacer, so the engine's loop can hand out the next.
    pub(super) async fn deliver(&self, seq: u64, item: OutboxItem, admitted: oneshot::Sender<()>) {
        let chat = item.chat_id;
        // Not further ahead of the disk than the group commit allows.
        self.wait_for_disk().await;
        // Erased or cancelled while it waited in the engine: gone at once, without taking a
        // place at the pacer (a cancelled broadcast's held items must not cost minutes of
        // everyone else's rate).
        if !self.store.is_queued(seq).unwrap_or(true) {
            let _ = admitted.send(());
            self.done(chat, seq, Instant::now());
            return;
        }
        let slot = self.pacer.acquire(super::Lane::Bulk).await;
        let _ = admitted.send(());
        // `/stop` or a cancel may have removed it while it waited (a read of memory: nothing
        // that could wait comes between the pacer's admission and the request).
        if !self.store.is_queued(seq).unwrap_or(true) {
            self.done(chat, seq, Instant::now());
            return;
        }
        let result = self.transport.apply(chat, &item.op, &item.message, self.limits.paid).await;
        drop(slot);
        // The chat's next message waits its gap from Telegram's answer, which came after the
        // message arrived: the chat's own limit holds however late this send left.
        let answered = Instant::now();
        let now = self.clock.unix();
        match result {
            Ok(message_id) => {
                match self.store.mark_sent(seq, &item, message_id, now) {
                    Ok(true) => {}
                    // Erased by `/stop` while in flight: nothing may name the chat now.
                    Ok(false) => log::info!("sent item {seq}, removed meanwhile; not recorded"),
                    Err(e) => log::error!("sent item {seq} but cannot record it: {e}"),
                }
                self.count(Tally::Sent, now);
                self.wrote(1);
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                self.done(chat, seq, answered + self.limits.gap(item.kind));
            }
            Err(SendError::RetryAfter(secs)) => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                self.observer.record(ErrorClass::RateLimited);
                self.count(Tally::Retried, now);
                log::warn!(
                    "Telegram asked to slow down for {secs}s (chat of kind {:?})",
                    item.kind
                );
                let until = Instant::now() + Duration::from_secs(u64::from(secs.max(1)));
                // Paced sends should never see a 429; if one comes anyway (another process
                // with the same token, a limit we do not know), everything waits it out.
                self.pacer.pause(until);
                self.retry_later(chat, until);
            }
            Err(SendError::Migrated(to)) => self.migrate(chat, to),
            Err(SendError::Gone(reason)) => {
                self.observer.record(ErrorClass::Gone);
                self.count(Tally::Deactivated, now);
                self.gone(chat, item.kind, &reason)
            }
            Err(SendError::Transient(reason)) => {
                self.observer.record(ErrorClass::Transient);
                let mut item = item;
                item.attempts += 1;
                if item.attempts >= MAX_ATTEMPTS {
                    log::error!(
                        "giving up on a message of edition {} after {} attempts: {reason}",
                        item.edition,
                        item.attempts
                    );
                    self.fail(seq, &item, &reason);
                } else {
                    match self.store.update_item(seq, &item) {
                        Ok(true) => {}
                        Ok(false) => {
                            // Erased by `/stop` (or cancelled) during the attempt: no retry.
                            log::info!("temporary failure of item {seq}, removed meanwhile");
                            self.done(chat, seq, Instant::now());
                            return;
                        }
                        Err(e) => log::error!("cannot record a retry: {e}"),
                    }
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    self.count(Tally::Retried, now);
                    log::warn!("temporary failure (attempt {}), retrying: {reason}", item.attempts);
                    let backoff = Duration::from_secs(1 << item.attempts.min(9)).min(MAX_BACKOFF);
                    self.replace_front(chat, seq, item);
                    self.retry_later(chat, Instant::now() + backoff);
                }
            }
            Err(SendError::Malformed(reason)) => {
                self.observer.record(ErrorClass::Malformed);
                log::error!(
                    "BUG: Telegram refused a message of edition {} as malformed: {reason}",
                    item.edition
                );
                self.fail(seq, &item, &reason);
            }
            Err(SendError::Refused(reason)) => {
                self.observer.record(ErrorClass::Malformed);
                log::error!("Telegram refused a message of edition {}: {reason}", item.edition);
                self.fail(seq, &item, &reason);
            }
        }
    }

    /// Adds to the day's counters; a counter that cannot be written is logged, not fatal.
    fn count(&self, tally: Tally, now: i64) {
        if let Err(e) = self.store.count_delivery(tally, now) {
            log::error!("cannot count a delivery: {e}");
        }
    }

    fn fail(&self, seq: u64, item: &OutboxItem, reason: &str) {
        let now = self.clock.unix();
        if let Err(e) =
            self.store.mark_failed(seq, item, DeliveryOutcome::Failed, Some(reason), now)
        {
            log::error!("cannot record a failed delivery: {e}");
        }
        self.count(Tally::Failed, now);
        self.wrote(1);
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        self.done(item.chat_id, seq, Instant::now());
    }

    /// Finishes the front item of a chat and schedules the chat's next one.
    fn done(&self, chat: i64, seq: u64, next_at: Instant) {
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        q.known.remove(&seq);
        if let Some(cq) = q.chats.get_mut(&chat) {
            if cq.items.front().is_some_and(|(s, _)| *s == seq) {
                cq.items.pop_front();
            }
            cq.busy = false;
            cq.ready_at = next_at;
            if cq.items.is_empty() {
                q.chats.remove(&chat);
            } else {
                q.ready.push(Reverse((next_at, chat)));
            }
        }
        let refill = q.wants_refill(self.held());
        drop(q);
        if refill {
            self.refill.notify_one();
        }
        self.wake.notify_one();
        self.idle.notify_waiters();
    }

    fn retry_later(&self, chat: i64, at: Instant) {
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        if let Some(cq) = q.chats.get_mut(&chat) {
            cq.busy = false;
            cq.ready_at = at;
            q.ready.push(Reverse((at, chat)));
        }
        drop(q);
        self.wake.notify_one();
        self.idle.notify_waiters();
    }

    fn replace_front(&self, chat: i64, seq: u64, item: OutboxItem) {
        let mut q = self.lock();
        if let Some(front) = q.chats.get_mut(&chat).and_then(|cq| cq.items.front_mut())
            && front.0 == seq
        {
            front.1 = item;
        }
    }

    /// Moves the chat's subscription and queued items to the supergroup, then resends.
    fn migrate(&self, from: i64, to: i64) {
        log::info!("a group moved to a supergroup; moving its subscription");
        if let Err(e) = self.store.migrate_chat(from, to) {
            log::error!("cannot move a migrated group's subscription: {e}");
        }
        // The group's items still on disk (beyond what the engine holds) move too.
        match self.store.queued_for(from) {
            Ok(waiting) => {
                let held: Vec<u64> = waiting
                    .iter()
                    .map(|(seq, _)| *seq)
                    .filter(|seq| self.lock().known.contains(seq))
                    .collect();
                for (seq, mut item) in waiting {
                    if held.contains(&seq) {
                        continue;
                    }
                    item.chat_id = to;
                    if let Err(e) = self.store.update_item(seq, &item) {
                        log::error!("cannot move a queued message to the supergroup: {e}");
                    }
                }
            }
            Err(e) => log::error!("cannot read what waits for a migrated group: {e}"),
        }
        let mut q = self.lock();
        q.in_flight = q.in_flight.saturating_sub(1);
        if let Some(mut cq) = q.chats.remove(&from) {
            for (seq, item) in cq.items.iter_mut() {
                item.chat_id = to;
                // An item erased meanwhile stays gone; `deliver` skips it.
                if let Err(e) = self.store.update_item(*seq, item) {
                    log::error!("cannot move a queued message to the supergroup: {e}");
                }
            }
            cq.busy = false;
            let now = Instant::now();
            cq.ready_at = now;
            match q.chats.get_mut(&to) {
                Some(existing) => existing.items.extend(cq.items),
                None => {
                    q.chats.insert(to, cq);
                }
            }
            q.ready.push(Reverse((now, to)));
        }
        drop(q);
        let _ = self.events.send(Event::ChatMigrated { from, to });
        self.wake.notify_one();
    }

    /// Deactivates a chat that will not take messages and drops what was queued for it.
    fn gone(&self, chat: i64, kind: ChatKind, reason: &str) {
        match self.store.deactivate(chat, self.clock.unix()) {
            Ok(true) => {
                self.stats.deactivated.fetch_add(1, Ordering::Relaxed);
                log::info!("a {kind:?} chat will not take messages ({reason}); deactivated");
            }
            Ok(false) => {}
            Err(e) => log::error!("cannot deactivate a chat: {e}"),
        }
        let mut items = {
            let mut q = self.lock();
            q.in_flight = q.in_flight.saturating_sub(1);
            q.chats.remove(&chat).map(|cq| Vec::from(cq.items)).unwrap_or_default()
        };
        // The chat's items still on disk (beyond what the engine holds) go too. All stay
        // `known` until recorded, so a read of the outbox meanwhile does not take them in.
        match self.store.queued_for(chat) {
            Ok(waiting) => {
                let mut q = self.lock();
                for (seq, item) in waiting {
                    if q.known.insert(seq) {
                        items.push((seq, item));
                    }
                }
            }
            Err(e) => log::error!("cannot read what waits for a chat that is gone: {e}"),
        }
        let now = self.clock.unix();
        for (seq, item) in &items {
            if let Err(e) =
                self.store.mark_failed(*seq, item, DeliveryOutcome::Deactivated, None, now)
            {
                log::error!("cannot record an undeliverable message: {e}");
            }
        }
        self.wrote(items.len().max(1));
        let refill = {
            let mut q = self.lock();
            for (seq, _) in &items {
                q.known.remove(seq);
            }
            q.wants_refill(self.held())
        };
        if refill {
            self.refill.notify_one();
        }
        let _ =
            self.events.send(Event::ChatGone { chat_id: chat, kind, reason: reason.to_string() });
        self.wake.notify_one();
        self.idle.notify_waiters();
    }
}
