//! Counts for operators: deliveries per day and a daily snapshot of subscriber numbers.
//!
//! Only numbers live here, never a chat id: the `stats` tree cannot say who received what.
//! Delivery counters are added with sled's merge operator, so the delivery engine's many
//! concurrent sends never conflict on a counter (a transaction would retry under contention);
//! they are flushed with the delivery records they count.

use super::{Result, Store, from_json, to_json, u64_at};
use crate::subscription::ChatKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Seconds in a UTC day: a day number is Unix seconds divided by this.
pub const DAY_SECS: i64 = 86_400;

const DELIVERY_PREFIX: u8 = b'd';
const SNAPSHOT_PREFIX: u8 = b's';
const LAST_SENT_KEY: &[u8] = b"last_sent";

/// What a delivery counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tally {
    /// A message Telegram confirmed.
    Sent,
    /// A message given up on (after retries, or refused as malformed).
    Failed,
    /// A send that will be tried again (a temporary failure or a 429).
    Retried,
    /// A send refused because the chat is gone; the chat was deactivated.
    Deactivated,
}

impl Tally {
    const ALL: [Tally; 4] = [Tally::Sent, Tally::Failed, Tally::Retried, Tally::Deactivated];

    fn byte(self) -> u8 {
        match self {
            Tally::Sent => 0,
            Tally::Failed => 1,
            Tally::Retried => 2,
            Tally::Deactivated => 3,
        }
    }
}

/// One UTC day's delivery counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayDeliveries {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
    pub deactivated: u64,
}

impl DayDeliveries {
    fn add(&mut self, tally: Tally, n: u64) {
        match tally {
            Tally::Sent => self.sent += n,
            Tally::Failed => self.failed += n,
            Tally::Retried => self.retried += n,
            Tally::Deactivated => self.deactivated += n,
        }
    }
}

/// Subscribers by kind, active (digests possible) or deactivated (the chat is gone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberCounts {
    pub users_active: u64,
    pub users_deactivated: u64,
    pub groups_active: u64,
    pub groups_deactivated: u64,
    pub channels_active: u64,
    pub channels_deactivated: u64,
}

impl SubscriberCounts {
    pub fn active(&self) -> u64 {
        self.users_active + self.groups_active + self.channels_active
    }

    pub fn deactivated(&self) -> u64 {
        self.users_deactivated + self.groups_deactivated + self.channels_deactivated
    }

    pub fn total(&self) -> u64 {
        self.active() + self.deactivated()
    }

    /// Active and deactivated subscribers of one kind.
    pub fn of(&self, kind: ChatKind) -> (u64, u64) {
        match kind {
            ChatKind::Private => (self.users_active, self.users_deactivated),
            ChatKind::Group => (self.groups_active, self.groups_deactivated),
            ChatKind::Channel => (self.channels_active, self.channels_deactivated),
        }
    }

    fn count(&mut self, kind: ChatKind, active: bool) {
        let slot = match (kind, active) {
            (ChatKind::Private, true) => &mut self.users_active,
            (ChatKind::Private, false) => &mut self.users_deactivated,
            (ChatKind::Group, true) => &mut self.groups_active,
            (ChatKind::Group, false) => &mut self.groups_deactivated,
            (ChatKind::Channel, true) => &mut self.channels_active,
            (ChatKind::Channel, false) => &mut self.channels_deactivated,
        };
        *slot += 1;
    }
}

/// The subscribers now: by kind and state, and by the language their digests are in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscriberCensus {
    pub counts: SubscriberCounts,
    /// Language code → subscribers (active or not).
    pub by_lang: BTreeMap<String, u64>,
}

/// The day number of a Unix time (UTC).
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(DAY_SECS)
}

fn delivery_key(day: i64, tally: Tally) -> [u8; 6] {
    let day = (day.max(0) as u32).to_be_bytes();
    [DELIVERY_PREFIX, day[0], day[1], day[2], day[3], tally.byte()]
}

fn snapshot_key(day: i64) -> [u8; 5] {
    let day = (day.max(0) as u32).to_be_bytes();
    [SNAPSHOT_PREFIX, day[0], day[1], day[2], day[3]]
}

/// The `stats` tree's merge operator: delivery counters add, the last-sent time keeps the
/// latest. Anything else is replaced.
pub(super) fn merge(key: &[u8], old: Option<&[u8]>, new: &[u8]) -> Option<Vec<u8>> {
    let old = old.map_or(0, |raw| u64_at(raw, 0));
    let new_value = u64_at(new, 0);
    let merged = if key == LAST_SENT_KEY {
        old.max(new_value)
    } else if key.first() == Some(&DELIVERY_PREFIX) {
        old.saturating_add(new_value)
    } else {
        return Some(new.to_vec());
    };
    Some(merged.to_be_bytes().to_vec())
}

impl Store {
    /// Adds one to a delivery counter of the day of `at` (Unix seconds). Not flushed: the
    /// engine flushes with the delivery records.
    pub fn count_delivery(&self, tally: Tally, at: i64) -> Result<()> {
        let _writing = self.writing()?;
        self.t().stats.merge(delivery_key(day_of(at), tally), 1u64.to_be_bytes())?;
        if tally == Tally::Sent {
            self.t().stats.merge(LAST_SENT_KEY, (at.max(0) as u64).to_be_bytes())?;
        }
        Ok(())
    }

    /// When Telegram last confirmed a bulk message (Unix seconds), if ever.
    pub fn last_sent(&self) -> Result<Option<i64>> {
        Ok(self.t().stats.get(LAST_SENT_KEY)?.map(|raw| u64_at(&raw, 0) as i64))
    }

    /// Delivery counts for every day from `first` to `last` (day numbers), zeros included.
    pub fn deliveries_by_day(&self, first: i64, last: i64) -> Result<Vec<DayDeliveries>> {
        let mut days: Vec<DayDeliveries> =
            (first..=last).map(|day| DayDeliveries { day, ..Default::default() }).collect();
        let start = delivery_key(first, Tally::Sent);
        let end = delivery_key(last, Tally::Deactivated);
        for entry in self.t().stats.range(start..=end) {
            let (key, raw) = entry?;
            let day = i64::from(u32::from_be_bytes([key[1], key[2], key[3], key[4]]));
            let Some(tally) = Tally::ALL.into_iter().find(|t| Some(&t.byte()) == key.get(5)) else {
                continue;
            };
            if let Some(slot) = days.get_mut((day - first) as usize) {
                slot.add(tally, u64_at(&raw, 0));
            }
        }
        Ok(days)
    }

    /// Delivery counts over every day recorded (for counters that only grow).
    pub fn delivery_totals(&self) -> Result<DayDeliveries> {
        let mut total = DayDeliveries::default();
        for entry in self.t().stats.scan_prefix([DELIVERY_PREFIX]) {
            let (key, raw) = entry?;
            if let Some(tally) = Tally::ALL.into_iter().find(|t| Some(&t.byte()) == key.get(5)) {
                total.add(tally, u64_at(&raw, 0));
            }
        }
        Ok(total)
    }

    /// Counts the subscribers now (one pass over the subscriptions). While a key rotation
    /// runs a chat may be counted twice or not at all: fine for a look, not for the record
    /// of the day, which [`Store::snapshot_subscribers`] counts exactly.
    pub fn subscriber_census(&self) -> SubscriberCensus {
        census_of(self.subscriptions())
    }

    /// Records today's subscriber counts unless the day already has them. Returns whether it
    /// wrote. The history starts the first day this runs: earlier days are not invented.
    pub fn snapshot_subscribers(&self, day: i64) -> Result<bool> {
        if self.t().stats.contains_key(snapshot_key(day))? {
            return Ok(false);
        }
        // Counted before the write begins (an exact walk waits for a key rotation under way).
        let counts = census_of(self.each_subscription()).counts;
        let _writing = self.writing()?;
        if self.t().stats.contains_key(snapshot_key(day))? {
            return Ok(false);
        }
        self.t().stats.insert(snapshot_key(day), to_json(&counts)?)?;
        self.sync()?;
        Ok(true)
    }

    /// Subscriber snapshots from `first` to `last`: `None` for days without one.
    pub fn subscriber_history(
        &self,
        first: i64,
        last: i64,
    ) -> Result<Vec<(i64, Option<SubscriberCounts>)>> {
        let mut days: Vec<(i64, Option<SubscriberCounts>)> =
            (first..=last).map(|day| (day, None)).collect();
        for entry in self.t().stats.range(snapshot_key(first)..=snapshot_key(last)) {
            let (key, raw) = entry?;
            let day = i64::from(u32::from_be_bytes([key[1], key[2], key[3], key[4]]));
            if let Some(slot) = days.get_mut((day - first) as usize) {
                slot.1 = Some(from_json(&raw, "subscriber snapshot")?);
            }
        }
        Ok(days)
    }

    /// How many dead letters wait for an operator.
    pub fn dead_letter_count(&self) -> usize {
        self.t().dead.len()
    }
}

fn census_of(subs: impl Iterator<Item = crate::subscription::Subscription>) -> SubscriberCensus {
    let mut census = SubscriberCensus::default();
    for sub in subs {
        census.counts.count(sub.kind, sub.active);
        *census.by_lang.entry(sub.lang.code().to_string()).or_default() += 1;
    }
    census
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{content::Lang, subscription::Subscription};

    #[test]
    fn delivery_counters_add_up_per_day_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let day = 20_000;
        let at = day * DAY_SECS + 10;
        {
            let store = Store::open(dir.path()).unwrap();
            for _ in 0..3 {
                store.count_delivery(Tally::Sent, at).unwrap();
            }
            store.count_delivery(Tally::Failed, at).unwrap();
            store.count_delivery(Tally::Retried, at + DAY_SECS).unwrap();
            store.count_delivery(Tally::Deactivated, at + DAY_SECS).unwrap();
            store.count_delivery(Tally::Sent, at - 5).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let days = store.deliveries_by_day(day - 1, day + 1).unwrap();
        assert_eq!(
            days,
            vec![
                DayDeliveries { day: day - 1, ..Default::default() },
                DayDeliveries { day, sent: 4, failed: 1, ..Default::default() },
                DayDeliveries { day: day + 1, retried: 1, deactivated: 1, ..Default::default() },
            ]
        );
        assert_eq!(store.last_sent().unwrap(), Some(at));
        let total = store.delivery_totals().unwrap();
        assert_eq!((total.sent, total.failed, total.retried, total.deactivated), (4, 1, 1, 1));
    }

    #[test]
    fn snapshots_are_taken_once_a_day_and_count_by_kind_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut gone = Subscription::new(-5, ChatKind::Group, Lang::Ru);
        gone.active = false;
        for sub in [
            Subscription::new(1, ChatKind::Private, Lang::En),
            Subscription::new(2, ChatKind::Private, Lang::Az),
            Subscription::new(-1001, ChatKind::Channel, Lang::Az),
            gone,
        ] {
            store.save_subscription(&sub).unwrap();
        }
        let census = store.subscriber_census();
        assert_eq!(census.counts.of(ChatKind::Private), (2, 0));
        assert_eq!(census.counts.of(ChatKind::Group), (0, 1));
        assert_eq!(census.counts.of(ChatKind::Channel), (1, 0));
        assert_eq!(census.by_lang.get("az"), Some(&2));
        assert!(store.snapshot_subscribers(10).unwrap());
        store.save_subscription(&Subscription::new(3, ChatKind::Private, Lang::En)).unwrap();
        assert!(!store.snapshot_subscribers(10).unwrap(), "one snapshot a day");
        let history = store.subscriber_history(9, 11).unwrap();
        assert_eq!(history[0], (9, None));
        assert_eq!(history[1].1.map(|c| c.total()), Some(4));
        assert_eq!(history[2], (11, None));
    }
}
