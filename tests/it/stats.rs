//! `/stats` and `/health`: operators get the numbers (and a PNG chart) that the store holds;
//! anyone else is refused and nothing is read or sent.

use crate::support;

use crate::support::{Setup, TIMEOUT, ask, spawn_app_with, utc};
use tribune::{
    stats::{StatsReport, chart, day_date},
    store::day_of,
};

const OPERATOR: i64 = 900;

fn morning() -> Setup {
    // 08:00 in Baku; digests go at 09:00 by default.
    Setup {
        clock: Some(utc("2026-11-25T04:00:00Z")),
        operators: vec![OPERATOR],
        ..Setup::default()
    }
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[tokio::test]
async fn operators_see_counts_that_match_the_store_and_a_chart() {
    let app = spawn_app_with(morning()).await;
    let (ann, boris, gone) = (app.user(601, "en"), app.user(602, "ru"), app.user(603, "en"));
    for reader in [&ann, &boris, &gone] {
        ask(reader, "/subscribe").await;
    }
    let group = app.emulator.group(-4001, "Readers' circle");
    group.send_text("/subscribe");
    group.wait_for_messages(1, TIMEOUT).await.unwrap();
    gone.block_bot();

    // The digests go out; one chat is gone and gets deactivated.
    let before = ann.messages().len() + boris.messages().len() + group.messages().len();
    app.set_time(utc("2026-11-25T05:00:00Z"));
    support::eventually(TIMEOUT, "the blocked chat is deactivated", || {
        app.tribune.store().subscription(603).unwrap().is_some_and(|s| !s.active)
    })
    .await;
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let digests = ann.messages().len() + boris.messages().len() + group.messages().len() - before;
    assert!(digests >= 3, "{digests}");
    ann.take_new();
    group.take_new();

    // A reader asking is refused, and no photo is sent anywhere.
    for command in ["/stats", "/health"] {
        let refused = ask(&ann, command).await;
        assert_eq!(refused.plain_text(), "This command is for Tribune's operators.");
    }
    assert_eq!(app.emulator.requests("sendPhoto"), 0);

    let operator = app.user(OPERATOR, "en");
    let text = ask(&operator, "/stats").await.plain_text();
    // Today by the app's one clock, which stamps deliveries as it stamps everything else.
    let now = app.tribune.clock().unix();
    let today = day_of(now);
    let store = app.tribune.store();
    let counted = store.deliveries_by_day(today, today).unwrap()[0];
    assert_eq!(counted.sent, digests as u64, "every digest message was counted once");
    assert_eq!((counted.failed, counted.retried, counted.deactivated), (0, 0, 1));
    let census = store.subscriber_census();
    assert_eq!(census.counts.total(), 4);
    assert!(text.contains("📊 Subscribers: 4 (3 active, 1 deactivated)"), "{text}");
    assert!(text.contains("• Users: 2 active, 1 deactivated"), "{text}");
    assert!(text.contains("• Groups: 1 active, 0 deactivated"), "{text}");
    assert!(text.contains("• Channels: 0 active, 0 deactivated"), "{text}");
    assert!(text.contains("By language: en 3 · ru 1"), "{text}");
    let line = format!("{}: {digests} / 0 / 0 / 1", day_date(today));
    assert!(text.contains(&line), "{line:?} in {text}");
    assert!(text.contains(&format!("{}: 0 / 0 / 0 / 0", day_date(today - 1))), "{text}");
    assert!(text.contains(&format!("history starts on {}", day_date(today))), "{text}");

    let chart = support::next(&operator).await;
    let photo = chart.photo.as_deref().expect("the chart comes as a photo");
    assert_eq!(png_size(photo), (800, 480));
    // The picture is the store's numbers drawn: 30 days, today's bar the digests just sent,
    // today's subscriber point the three active chats, the days before empty.
    let report = StatsReport::collect(store, now).unwrap();
    let drawn = report.chart();
    assert_eq!(drawn.days.len(), 30);
    let last = drawn.days.last().unwrap();
    assert_eq!((last.subscribers, last.sent, last.failed), (Some(3), digests as u64, 0));
    assert!(drawn.days[..29].iter().all(|d| d.sent == 0 && d.subscribers.is_none()));
    assert_eq!(photo, chart::render_png(&drawn).unwrap().as_slice(), "sent = drawn from store");
    let caption = chart.plain_text();
    assert!(caption.contains("(3 today)"), "{caption}");
    assert!(caption.contains(&format!("{digests} in all")), "{caption}");
    assert_eq!(app.emulator.requests("sendPhoto"), 1);

    // In a group, even an operator's counts are not shown to everyone.
    let op_in_group = group.as_member(&operator);
    op_in_group.send_text("/stats@tribune_test_bot");
    let private_only = op_in_group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert_eq!(private_only.plain_text(), "Please send /stats in a private chat with me.");
    assert_eq!(app.emulator.requests("sendPhoto"), 1);
    app.stop().await;
}

#[tokio::test]
async fn health_reports_the_queue_errors_and_next_digest() {
    let app = spawn_app_with(morning()).await;
    let (ann, gone) = (app.user(611, "en"), app.user(612, "en"));
    ask(&ann, "/subscribe").await;
    ask(&gone, "/subscribe").await;
    gone.block_bot();
    let operator = app.user(OPERATOR, "en");

    let before = ask(&operator, "/health").await.plain_text();
    assert!(before.contains("Delivery engine: running"), "{before}");
    assert!(before.contains("Last delivery: none since records began"), "{before}");
    assert!(before.contains("Next digest: 2026-11-25 05:00 UTC"), "{before}");
    assert!(before.contains("gone 0 · malformed 0"), "{before}");

    app.set_time(utc("2026-11-25T05:00:00Z"));
    support::eventually(TIMEOUT, "the blocked chat is deactivated", || {
        app.tribune.store().subscription(612).unwrap().is_some_and(|s| !s.active)
    })
    .await;
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let after = ask(&operator, "/health").await.plain_text();
    assert!(after.contains("Outbox: 0 waiting"), "{after}");
    assert!(after.contains("Dead letters: 0"), "{after}");
    let today = day_date(day_of(app.tribune.clock().unix()));
    assert!(after.contains(&format!("Last delivery: {today} ")), "{after}");
    assert!(after.contains("rate-limited 0 · transient 0 · gone 1 · malformed 0"), "{after}");
    assert!(after.contains("Next digest: 2026-11-26 05:00 UTC"), "{after}");
    assert!(after.contains("deactivated"), "{after}");

    let typo = ask(&operator, "/health now").await.plain_text();
    assert!(typo.contains("/health"), "{typo}");
    app.stop().await;
}
