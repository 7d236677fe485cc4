//! Dates as the content writes them: as precise as is known.

use crate::content::PartialDate;

/// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<PartialDate, String> {
    let bad = || format!("bad date {s:?}: write YYYY, YYYY-MM or YYYY-MM-DD");
    let mut parts = s.trim().split('-');
    let year: u16 =
        parts.next().filter(|p| p.len() == 4).and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let month: Option<u8> = match parts.next() {
        None => None,
        Some(p) => Some(p.parse().ok().filter(|m| (1..=12).contains(m)).ok_or_else(bad)?),
    };
    let day: Option<u8> = match parts.next() {
        None => None,
        Some(p) => Some(p.parse().ok().filter(|d| (1..=31).contains(d)).ok_or_else(bad)?),
    };
    if parts.next().is_some() || !(1900..=2100).contains(&year) {
        return Err(bad());
    }
    if let (Some(m), Some(d)) = (month, day) {
        let days = days_in_month(year, m);
        if u32::from(d) > days {
            return Err(format!("no such date {s:?}: {year}-{m:02} has {days} days"));
        }
    }
    Ok(PartialDate { year, month, day })
}

/// Days in a month of the proleptic Gregorian calendar (`month` is 1..=12).
fn days_in_month(year: u16, month: u8) -> u32 {
    use chrono::{Datelike, NaiveDate};
    let (y, m) = (i32::from(year), u32::from(month));
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(31, |last| last.day())
}
