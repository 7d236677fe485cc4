//! Operators' numbers: the `/stats` report and chart, the `/health` report, and the daily
//! subscriber snapshot. Plain data gathered from the store and the delivery engine's
//! [`Observer`]; the Telegram adapter and the metrics endpoint only present it.

pub mod chart;
mod font;

use crate::{
    clock::Clock,
    delivery::{ErrorClass, Observer},
    intake::IntakeHealth,
    store::{DayDeliveries, Result, Store, SubscriberCensus, SubscriberCounts, day_of},
};
use chrono::DateTime;
use std::time::Duration;

/// Days in the chart.
pub const CHART_DAYS: i64 = 30;
/// Days listed in the `/stats` text.
pub const TEXT_DAYS: i64 = 7;

/// Everything `/stats` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsReport {
    pub census: SubscriberCensus,
    /// The last [`CHART_DAYS`] days, oldest first, today last.
    pub deliveries: Vec<DayDeliveries>,
    pub history: Vec<(i64, Option<SubscriberCounts>)>,
}

impl StatsReport {
    /// Gathers the report for the UTC day of `now`, taking today's subscriber snapshot
    /// first if the day has none yet. Past days show their snapshot (taken early that day);
    /// today shows the count now.
    pub fn collect(store: &Store, now: i64) -> Result<StatsReport> {
        let today = day_of(now);
        store.snapshot_subscribers(today)?;
        let first = today - CHART_DAYS + 1;
        let census = store.subscriber_census();
        let mut history = store.subscriber_history(first, today)?;
        if let Some(last) = history.last_mut() {
            last.1 = Some(census.counts);
        }
        Ok(StatsReport { census, deliveries: store.deliveries_by_day(first, today)?, history })
    }

    /// The chart's data: active subscribers and deliveries per day.
    pub fn chart(&self) -> chart::Chart {
        let days = self
            .deliveries
            .iter()
            .zip(&self.history)
            .map(|(d, (_, subs))| chart::ChartDay {
                label: day_label(d.day),
                subscribers: subs.map(|s| s.active()),
                sent: d.sent,
                failed: d.failed,
                retried: d.retried,
            })
            .collect();
        chart::Chart { title: format!("TRIBUNE: LAST {CHART_DAYS} DAYS (UTC)"), days }
    }

    /// The last [`TEXT_DAYS`] days, newest first.
    pub fn recent(&self) -> impl Iterator<Item = &DayDeliveries> {
        self.deliveries.iter().rev().take(TEXT_DAYS as usize)
    }
}

/// `MM-DD` of a day number.
pub fn day_label(day: i64) -> String {
    DateTime::from_timestamp(day * crate::store::DAY_SECS, 0)
        .map_or_else(|| "?".into(), |t| t.format("%m-%d").to_string())
}

/// `YYYY-MM-DD` of a day number.
pub fn day_date(day: i64) -> String {
    DateTime::from_timestamp(day * crate::store::DAY_SECS, 0)
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d").to_string())
}

/// Everything `/health` and the metrics endpoint show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// Messages waiting in the outbox (queued or in flight).
    pub outbox: usize,
    pub dead_letters: usize,
    /// When Telegram last confirmed a bulk message (Unix seconds).
    pub last_delivery: Option<i64>,
    /// Errors of the last hour, in [`ErrorClass::ALL`] order.
    pub errors_last_hour: [u64; 4],
    /// When the next digest is due (Unix seconds).
    pub next_digest: Option<i64>,
    pub uptime: Duration,
    pub engine_running: bool,
    /// Whether the store can still save (a failed flush: a full or failing disk).
    pub store_saves: bool,
    /// Sends since midnight UTC, by outcome.
    pub today: DayDeliveries,
    /// Whether updates arrive and are answered, and what waits or was dropped.
    pub updates: IntakeHealth,
}

impl HealthReport {
    /// Gathers the report as of `now` (Unix seconds, the app's clock).
    pub fn collect(store: &Store, observer: &Observer, now: i64) -> Result<HealthReport> {
        let today = day_of(now);
        Ok(HealthReport {
            outbox: store.outbox_len(),
            dead_letters: store.dead_letter_count(),
            last_delivery: store.last_sent()?,
            errors_last_hour: observer.errors_last_hour(),
            next_digest: store.first_due()?,
            uptime: observer.uptime(),
            engine_running: observer.engine_running(),
            store_saves: !store.cannot_save(),
            today: store.deliveries_by_day(today, today)?.pop().unwrap_or_default(),
            updates: observer.intake().snapshot(),
        })
    }

    /// Error counts with their classes.
    pub fn errors(&self) -> impl Iterator<Item = (ErrorClass, u64)> + '_ {
        ErrorClass::ALL.into_iter().zip(self.errors_last_hour)
    }
}

/// Takes a subscriber snapshot for each new UTC day by `clock`, checking every `every` by that
/// same clock (so under a manual clock a new day is seen when the clock reaches it). Runs
/// forever: spawn it and abort it to stop.
pub async fn snapshot_daily(store: Store, clock: Clock, every: Duration) {
    let every = chrono::TimeDelta::from_std(every).unwrap_or(chrono::TimeDelta::days(1));
    loop {
        match store.snapshot_subscribers(day_of(clock.unix())) {
            Ok(true) => log::info!("recorded today's subscriber counts"),
            Ok(false) => {}
            Err(e) => log::error!("cannot record today's subscriber counts: {e}"),
        }
        clock.sleep_until(clock.now() + every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        content::Lang,
        store::{DAY_SECS, Tally},
        subscription::{ChatKind, Subscription},
    };

    #[test]
    fn the_report_covers_thirty_days_and_starts_the_history_today() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.save_subscription(&Subscription::new(1, ChatKind::Private, Lang::En)).unwrap();
        let now = 20_000 * DAY_SECS + 3600;
        // Yesterday's snapshot stays as it was taken; today counts now.
        store.snapshot_subscribers(19_999).unwrap();
        store.save_subscription(&Subscription::new(2, ChatKind::Private, Lang::En)).unwrap();
        store.count_delivery(Tally::Sent, now).unwrap();
        store.count_delivery(Tally::Sent, now - 2 * DAY_SECS).unwrap();
        let report = StatsReport::collect(&store, now).unwrap();
        assert_eq!(report.deliveries.len(), 30);
        assert_eq!(report.deliveries.last().unwrap().sent, 1);
        let chart = report.chart();
        assert_eq!(chart.days.len(), 30);
        assert_eq!(chart.days.iter().filter(|d| d.subscribers.is_some()).count(), 2);
        assert_eq!(chart.days[28].subscribers, Some(1));
        assert_eq!(chart.days[29].subscribers, Some(2));
        assert_eq!(chart.days[27].sent, 1);
        let recent: Vec<i64> = report.recent().map(|d| d.day).collect();
        assert_eq!(recent, (19_994..=20_000).rev().collect::<Vec<_>>());
        assert_eq!(day_label(20_000), "10-04");
        assert_eq!(day_date(20_000), "2024-10-04");
    }
}
