//! The subscription settings card: a summary and buttons that each set one value.

use crate::{
    content::Lang,
    render::{Action, Button, Ctx, Reply, SettingsStep, html::escape},
    subscription::{
        Change, Frequency, LIKELY_TIMES, LIKELY_ZONES, LocalTime, PrisonerNews, Subscription, WEEK,
        Zone, weekday_code,
    },
};
use chrono::{DateTime, Utc, Weekday};

/// The card for `sub`. `title` names a channel when the card is shown in another chat;
/// `notice` is a line above it ("Subscribed.", "Saved.").
pub fn settings_card(
    ctx: &Ctx,
    sub: &Subscription,
    title: Option<&str>,
    notice: Option<String>,
) -> Reply {
    let mut text = notice.map(|n| format!("{n}\n\n")).unwrap_or_default();
    text.push_str(&match title {
        Some(t) => ctx.f("settings.title_channel", &[("title", &escape(t))]),
        None => ctx.t("settings.title"),
    });
    text.push_str("\n\n");
    text.push_str(&summary(ctx, sub));
    text.push_str("\n\n");
    text.push_str(&match sub.next_due.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)) {
        Some(when) if sub.receives_digests() => {
            ctx.f("settings.next", &[("when", &escape(&when_text(ctx, sub.zone, when)))])
        }
        _ => ctx.t("settings.off"),
    });
    Reply::html(text, buttons(ctx, sub))
}

fn summary(ctx: &Ctx, sub: &Subscription) -> String {
    let frequency = match sub.frequency {
        Frequency::Daily => ctx.t("freq.daily"),
        Frequency::Weekly { day } => ctx.f("freq.weekly", &[("day", &weekday(ctx, day))]),
        Frequency::Off => ctx.t("freq.off"),
    };
    let mut contents = Vec::new();
    if sub.contents.slogan {
        contents.push(ctx.t("contents.slogan"));
    }
    if sub.contents.excerpt {
        contents.push(ctx.t("contents.excerpt"));
    }
    match sub.contents.prisoners {
        PrisonerNews::List => contents.push(ctx.t("contents.list")),
        PrisonerNews::Changes => contents.push(ctx.t("contents.changes")),
        PrisonerNews::Off => {}
    }
    if contents.is_empty() {
        contents.push(ctx.t("contents.nothing"));
    }
    ctx.f(
        "settings.summary",
        &[
            ("frequency", &escape(&frequency)),
            ("time", &sub.time.to_string()),
            ("zone", &escape(sub.zone.name())),
            ("contents", &escape(&contents.join(", "))),
            ("lang", sub.lang.native_name()),
        ],
    )
}

/// "26 November 2026, 09:00 (Asia/Baku)".
pub fn when_text(ctx: &Ctx, zone: Zone, when: DateTime<Utc>) -> String {
    let local = when.with_timezone(&zone.0);
    let date = local.date_naive();
    let partial = crate::content::PartialDate {
        year: chrono::Datelike::year(&date) as u16,
        month: Some(chrono::Datelike::month(&date) as u8),
        day: Some(chrono::Datelike::day(&date) as u8),
    };
    format!("{}, {} ({})", ctx.date(&partial, false), local.format("%H:%M"), zone.name())
}

fn weekday(ctx: &Ctx, day: Weekday) -> String {
    ctx.t(&format!("weekday.{}", weekday_code(day)))
}

fn buttons(ctx: &Ctx, sub: &Subscription) -> Vec<Vec<Button>> {
    let chat = sub.chat_id;
    let set = |label: String, change: Change| {
        Button::action(label, Action::Settings { chat, step: SettingsStep::Set(change) })
    };
    let mark = |on: bool, label: String| if on { format!("● {label}") } else { label };
    let check = |on: bool, label: String| format!("{} {label}", if on { "☑" } else { "☐" });
    let weekly_day = match sub.frequency {
        Frequency::Weekly { day } => Some(day),
        _ => None,
    };
    let mut rows = vec![vec![
        set(mark(sub.frequency == Frequency::Daily, ctx.t("btn.daily")), Change::Daily),
        set(
            mark(weekly_day.is_some(), ctx.t("btn.weekly")),
            Change::Weekly(weekly_day.unwrap_or(Weekday::Mon)),
        ),
        set(mark(sub.frequency == Frequency::Off, ctx.t("btn.off")), Change::Off),
    ]];
    if let Some(current) = weekly_day {
        let day_buttons: Vec<Button> = WEEK
            .iter()
            .map(|d| {
                let short = ctx.t(&format!("weekday_short.{}", weekday_code(*d)));
                set(mark(*d == current, short), Change::Weekly(*d))
            })
            .collect();
        rows.push(day_buttons[..4].to_vec());
        rows.push(day_buttons[4..].to_vec());
    }
    let mut times: Vec<Button> = LIKELY_TIMES
        .iter()
        .filter_map(|t| LocalTime::parse(t))
        .map(|t| set(mark(t == sub.time, t.to_string()), Change::Time(t)))
        .collect();
    if !times.iter().any(|b| b.label.starts_with('●')) {
        times.push(set(mark(true, sub.time.to_string()), Change::Time(sub.time)));
    }
    rows.push(times);
    rows.push(vec![Button::action(
        ctx.t("btn.other_time"),
        Action::Settings { chat, step: SettingsStep::AskTime },
    )]);
    let zones: Vec<Button> = LIKELY_ZONES
        .iter()
        .filter_map(|z| Zone::parse(z))
        .map(|z| set(mark(z == sub.zone, short_zone(z)), Change::Zone(z)))
        .collect();
    rows.push(zones[..3].to_vec());
    rows.push(zones[3..].to_vec());
    let mut other_zone = vec![Button::action(
        ctx.t("btn.other_zone"),
        Action::Settings { chat, step: SettingsStep::AskZone },
    )];
    if !LIKELY_ZONES.contains(&sub.zone.name()) {
        other_zone.insert(0, set(mark(true, short_zone(sub.zone)), Change::Zone(sub.zone)));
    }
    rows.push(other_zone);
    rows.push(vec![
        set(
            check(sub.contents.slogan, ctx.t("btn.slogan_item")),
            Change::Slogan(!sub.contents.slogan),
        ),
        set(
            check(sub.contents.excerpt, ctx.t("btn.excerpt_item")),
            Change::Excerpt(!sub.contents.excerpt),
        ),
    ]);
    rows.push(
        [
            (PrisonerNews::Changes, "btn.changes"),
            (PrisonerNews::List, "btn.list"),
            (PrisonerNews::Off, "btn.no_prisoners"),
        ]
        .into_iter()
        .map(|(p, key)| set(mark(sub.contents.prisoners == p, ctx.t(key)), Change::Prisoners(p)))
        .collect(),
    );
    rows.push(
        Lang::ALL
            .iter()
            .map(|l| set(mark(*l == sub.lang, l.native_name().to_string()), Change::Lang(*l)))
            .collect(),
    );
    rows.push(vec![Button::action(
        ctx.t("btn.done"),
        Action::Settings { chat, step: SettingsStep::Done },
    )]);
    rows
}

/// "Baku" for "Asia/Baku": the city is what people recognise.
fn short_zone(zone: Zone) -> String {
    zone.name().rsplit('/').next().unwrap_or(zone.name()).replace('_', " ")
}
