//! When digests are due: the next local time for a frequency, a time of day and a zone
//! (DST-correct). The clock it is read against is `crate::clock`'s, re-exported here. The
//! scheduler itself, which composes what is due with the app's content, is `app::Scheduler`.
//!
//! Deliberate choices at DST transitions:
//! - a local time that does not exist (skipped by a spring-forward) is sent at the first
//!   valid minute after the gap (02:30 becomes 03:00 in Europe/Berlin on that day);
//! - a local time that happens twice (repeated by a fall-back) is sent once, at its first
//!   occurrence.

pub use crate::clock::{Clock, ManualClock};

use crate::subscription::{Frequency, LocalTime, Zone};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};

/// The first slot strictly after `after`, or `None` when the frequency is off.
pub fn next_due(
    frequency: Frequency,
    time: LocalTime,
    zone: Zone,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let weekday = match frequency {
        Frequency::Off => return None,
        Frequency::Daily => None,
        Frequency::Weekly { day } => Some(day),
    };
    let start = after.with_timezone(&zone.0).date_naive();
    (0..=8)
        .map(|offset| start + Duration::days(offset))
        .filter(|date| weekday.is_none_or(|w| date.weekday() == w))
        .map(|date| resolve(zone, date, time))
        .find(|due| *due > after)
}

/// The UTC instant of a local date and time in a zone, with the DST rules above.
pub fn resolve(zone: Zone, date: NaiveDate, time: LocalTime) -> DateTime<Utc> {
    let mut local = date.and_hms_opt(time.hour(), time.minute(), 0).unwrap_or_default();
    // Gaps are at most a few hours; step through them a minute at a time.
    for _ in 0..(24 * 60) {
        match zone.0.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn at(t: &str) -> LocalTime {
        LocalTime::parse(t).unwrap()
    }

    fn zone(name: &str) -> Zone {
        Zone::parse(name).unwrap()
    }

    #[test]
    fn daily_is_today_if_still_ahead_else_tomorrow() {
        let baku = zone("Asia/Baku"); // UTC+4, no DST
        let due =
            next_due(Frequency::Daily, at("09:00"), baku, utc("2026-11-25T04:59:00Z")).unwrap();
        assert_eq!(due, utc("2026-11-25T05:00:00Z"));
        let due =
            next_due(Frequency::Daily, at("09:00"), baku, utc("2026-11-25T05:00:00Z")).unwrap();
        assert_eq!(due, utc("2026-11-26T05:00:00Z"), "strictly after");
    }

    #[test]
    fn nine_in_berlin_stays_nine_across_both_changes() {
        let berlin = zone("Europe/Berlin");
        // Spring forward on 2026-03-29: 09:00 is UTC+1 before, UTC+2 after.
        assert_eq!(
            next_due(Frequency::Daily, at("09:00"), berlin, utc("2026-03-28T09:00:00Z")).unwrap(),
            utc("2026-03-29T07:00:00Z")
        );
        assert_eq!(
            next_due(Frequency::Daily, at("09:00"), berlin, utc("2026-03-27T09:00:00Z")).unwrap(),
            utc("2026-03-28T08:00:00Z")
        );
        // Fall back on 2026-10-25.
        assert_eq!(
            next_due(Frequency::Daily, at("09:00"), berlin, utc("2026-10-24T08:00:00Z")).unwrap(),
            utc("2026-10-25T08:00:00Z")
        );
    }

    #[test]
    fn a_skipped_hour_moves_to_the_end_of_the_gap() {
        let berlin = zone("Europe/Berlin");
        // 02:30 does not exist on 2026-03-29; the first valid minute is 03:00 CEST = 01:00 UTC.
        let due =
            next_due(Frequency::Daily, at("02:30"), berlin, utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(due, utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn a_repeated_hour_is_sent_once_at_its_first_occurrence() {
        let berlin = zone("Europe/Berlin");
        // 02:30 happens twice on 2026-10-25: first at 00:30 UTC (CEST), again at 01:30 UTC (CET).
        let first =
            next_due(Frequency::Daily, at("02:30"), berlin, utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(first, utc("2026-10-25T00:30:00Z"));
        let next = next_due(Frequency::Daily, at("02:30"), berlin, first).unwrap();
        assert_eq!(next, utc("2026-10-26T01:30:00Z"), "not again an hour later");
    }

    #[test]
    fn weekly_finds_the_weekday_and_off_is_never() {
        let baku = zone("Asia/Baku");
        // 2026-11-25 is a Wednesday.
        let due = next_due(
            Frequency::Weekly { day: Weekday::Fri },
            at("18:00"),
            baku,
            utc("2026-11-25T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(due, utc("2026-11-27T14:00:00Z"));
        let due = next_due(
            Frequency::Weekly { day: Weekday::Wed },
            at("09:00"),
            baku,
            utc("2026-11-25T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(due, utc("2026-12-02T05:00:00Z"), "this week's slot passed: next week");
        assert_eq!(next_due(Frequency::Off, at("09:00"), baku, utc("2026-11-25T10:00:00Z")), None);
    }
}
