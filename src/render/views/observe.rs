//! What operators read: `/stats` (subscribers and deliveries) and `/health` (the delivery
//! engine now). Numbers only; nothing here names a chat.

use crate::{
    intake::{Dropped, IntakeHealth},
    render::{Ctx, Reply},
    stats::{HealthReport, StatsReport, day_date},
    store::DAY_SECS,
    subscription::ChatKind,
};
use chrono::DateTime;

/// `/stats`: subscribers by kind, language and state, and the last days' deliveries.
pub fn stats(ctx: &Ctx, report: &StatsReport) -> Reply {
    let counts = &report.census.counts;
    let kinds: Vec<String> = [
        (ChatKind::Private, "stats.kind.users"),
        (ChatKind::Group, "stats.kind.groups"),
        (ChatKind::Channel, "stats.kind.channels"),
    ]
    .into_iter()
    .map(|(kind, key)| {
        let (active, deactivated) = counts.of(kind);
        ctx.f(
            "stats.kind_line",
            &[
                ("kind", &ctx.t(key)),
                ("active", &active.to_string()),
                ("deactivated", &deactivated.to_string()),
            ],
        )
    })
    .collect();
    let langs: Vec<String> = report
        .census
        .by_lang
        .iter()
        .map(|(code, n)| format!("{} {n}", crate::render::html::escape(code)))
        .collect();
    let langs = if langs.is_empty() { ctx.t("stats.none") } else { langs.join(" · ") };
    let days: Vec<String> = report
        .recent()
        .map(|d| {
            ctx.f(
                "stats.day_line",
                &[
                    ("date", &day_date(d.day)),
                    ("sent", &d.sent.to_string()),
                    ("failed", &d.failed.to_string()),
                    ("retried", &d.retried.to_string()),
                    ("deactivated", &d.deactivated.to_string()),
                ],
            )
        })
        .collect();
    let mut text = ctx.f(
        "stats.text",
        &[
            ("total", &counts.total().to_string()),
            ("active", &counts.active().to_string()),
            ("deactivated", &counts.deactivated().to_string()),
            ("kinds", &kinds.join("\n")),
            ("langs", &langs),
            ("days", &days.join("\n")),
        ],
    );
    let first_snapshot = report.history.iter().find(|(_, s)| s.is_some()).map(|(day, _)| *day);
    if let Some(day) =
        first_snapshot.filter(|_| report.history.first().is_some_and(|h| h.1.is_none()))
    {
        text.push_str("\n\n");
        text.push_str(&ctx.f("stats.history_from", &[("date", &day_date(day))]));
    }
    Reply::html(text, Vec::new())
}

/// The chart's caption (at most 1024 characters: a short, fixed text and two numbers).
pub fn stats_caption(ctx: &Ctx, report: &StatsReport) -> String {
    let counts = &report.census.counts;
    let sent: u64 = report.deliveries.iter().map(|d| d.sent).sum();
    ctx.f("stats.caption", &[("active", &counts.active().to_string()), ("sent", &sent.to_string())])
}

/// `/health`: the outbox, dead letters, the last delivery, recent errors, the next digest.
pub fn health(ctx: &Ctx, report: &HealthReport, now: i64) -> Reply {
    let errors: Vec<(&str, String)> =
        report.errors().map(|(class, n)| (class.name(), n.to_string())).collect();
    let errors: Vec<(&str, &str)> = errors.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let last = match report.last_delivery {
        Some(at) => ctx.f("health.ago", &[("time", &utc(at)), ("ago", &duration(ctx, now - at))]),
        None => ctx.t("health.never"),
    };
    let next = match report.next_digest {
        Some(at) => ctx.f("health.in", &[("time", &utc(at)), ("in", &duration(ctx, at - now))]),
        None => ctx.t("health.none_scheduled"),
    };
    let engine = ctx.t(if report.engine_running { "health.running" } else { "health.stopped" });
    let today = &report.today;
    let text = ctx.f(
        "health.text",
        &[
            ("engine", &engine),
            ("outbox", &report.outbox.to_string()),
            ("dead", &report.dead_letters.to_string()),
            ("last", &last),
            ("errors", &ctx.f("health.errors", &errors)),
            ("next", &next),
            ("uptime", &duration(ctx, report.uptime.as_secs() as i64)),
            ("sent", &today.sent.to_string()),
            ("failed", &today.failed.to_string()),
            ("retried", &today.retried.to_string()),
            ("deactivated", &today.deactivated.to_string()),
        ],
    );
    Reply::html(format!("{text}\n{}", updates(ctx, &report.updates)), Vec::new())
}

/// Whether updates arrive, what waits, what was dropped under flood, and handler failures.
fn updates(ctx: &Ctx, updates: &IntakeHealth) -> String {
    let state = ctx.t(if updates.flowing { "health.flowing" } else { "health.stuck" });
    let seconds = updates.last_answer_age.map_or_else(|| "?".into(), |a| a.as_secs().to_string());
    let dropped =
        |why: Dropped| updates.dropped().find(|(d, _)| *d == why).map_or(0, |(_, n)| n).to_string();
    ctx.f(
        "health.updates",
        &[
            ("state", &state),
            ("seconds", &seconds),
            ("queued", &updates.queued.to_string()),
            ("replies", &updates.replies.to_string()),
            ("flood", &dropped(Dropped::Flood)),
            ("full", &dropped(Dropped::Full)),
            ("stale", &dropped(Dropped::Stale)),
            ("late", &dropped(Dropped::StaleReply)),
            ("panics", &updates.panics.to_string()),
            ("timeouts", &updates.timeouts.to_string()),
        ],
    )
}

fn utc(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// A span as days, hours and minutes (negative spans count as zero).
fn duration(ctx: &Ctx, secs: i64) -> String {
    let secs = secs.max(0);
    let (days, hours, minutes) = (secs / DAY_SECS, secs % DAY_SECS / 3600, secs % 3600 / 60);
    let n = |v: i64| v.to_string();
    if days > 0 {
        ctx.f("health.days", &[("days", &n(days)), ("hours", &n(hours))])
    } else if hours > 0 {
        ctx.f("health.hours", &[("hours", &n(hours)), ("minutes", &n(minutes))])
    } else {
        ctx.f("health.minutes", &[("minutes", &n(minutes))])
    }
}
