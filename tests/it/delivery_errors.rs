//! Each class of Telegram error during a digest fan-out, through the emulator's faults.

use crate::support::{Setup, TIMEOUT, ask, spawn_app_with, utc};
use std::time::Duration;
use telegram_bot_api_emulator::{Fault, FaultTarget};
use tribune::{
    render::OutMessage,
    store::{DeliveryOutcome, EditionKind, OutboxItem},
    subscription::ChatKind,
};

fn morning() -> Setup {
    Setup { clock: Some(utc("2026-11-25T04:00:00Z")), ..Setup::default() }
}

const DIGEST_TIME: &str = "2026-11-25T05:00:00Z";

#[tokio::test]
async fn blocked_kicked_and_missing_chats_are_deactivated_and_counted() {
    let app = spawn_app_with(morning()).await;
    let blocked = app.user(501, "en");
    let deactivated = app.user(502, "en");
    let missing = app.user(503, "en");
    let fine = app.user(504, "en");
    for user in [&blocked, &deactivated, &missing, &fine] {
        ask(user, "/subscribe").await;
    }
    blocked.block_bot();
    app.emulator.inject(FaultTarget::Chat(502), Fault::Deactivated, None);
    app.emulator.inject(FaultTarget::Chat(503), Fault::ChatNotFound, None);
    app.set_time(utc(DIGEST_TIME));
    fine.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let store = app.tribune.store();
    for chat in [501, 502, 503] {
        assert!(!store.subscription(chat).unwrap().unwrap().active, "{chat} deactivated");
    }
    assert!(store.subscription(504).unwrap().unwrap().active);
    assert_eq!(app.bot.engine().stats().deactivated, 3);
    assert_eq!(
        store.first_due().unwrap(),
        Some(utc("2026-11-26T05:00:00Z").timestamp()),
        "only the live chat is scheduled"
    );
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_network_errors_and_slow_answers_are_retried_until_delivered() {
    let app = spawn_app_with(morning()).await;
    let limited = app.user(511, "en");
    let dropped = app.user(512, "en");
    let slow = app.user(513, "en");
    for user in [&limited, &dropped, &slow] {
        ask(user, "/subscribe").await;
    }
    app.emulator.inject(FaultTarget::Chat(511), Fault::TooManyRequests(2), Some(1));
    app.emulator.inject(FaultTarget::Chat(512), Fault::DropConnection, Some(2));
    app.emulator.inject(FaultTarget::Chat(513), Fault::Delay(Duration::from_millis(300)), Some(1));
    app.set_time(utc(DIGEST_TIME));
    for user in [&limited, &dropped, &slow] {
        let digest = user.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
        assert!(digest.plain_text().starts_with("🗞 Tribune · 25 November 2026"));
    }
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let stats = app.bot.engine().stats();
    assert_eq!((stats.sent, stats.rate_limited, stats.retried, stats.failed), (3, 1, 2, 0));
    app.stop().await;
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let app = spawn_app_with(morning()).await;
    let user = app.user(521, "en");
    ask(&user, "/subscribe").await;
    app.emulator.inject(FaultTarget::Chat(521), Fault::BadGateway, Some(1));
    app.set_time(utc(DIGEST_TIME));
    // teloxide waits 10 s after a 5xx before reporting it; then the engine backs off 2 s.
    let digest = user.wait_for_messages(1, Duration::from_secs(30)).await.unwrap().remove(0);
    assert!(digest.plain_text().starts_with("🗞 Tribune"));
    assert_eq!(app.bot.engine().stats().retried, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_message_is_a_bug_reported_once_not_retried() {
    let app = spawn_app_with(morning()).await;
    let user = app.user(531, "en");
    let store = app.tribune.store();
    let edition = store.new_edition(EditionKind::Notice, 0).unwrap();
    let broken = OutboxItem {
        edition,
        chat_id: 531,
        kind: ChatKind::Private,
        message: OutMessage { html: "<b>unclosed".into(), buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    };
    let queued = store.enqueue(vec![broken]).unwrap();
    app.bot.engine().push(queued);
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let dead = store.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].error.contains("Can't find end tag corresponding to start tag \"b\""),
        "{}",
        dead[0].error
    );
    assert_eq!(store.deliveries(edition).unwrap()[0].1.outcome, DeliveryOutcome::Failed);
    assert_eq!(app.emulator.stats().per_method.get("sendMessage").copied(), Some(1), "tried once");
    assert!(user.messages().is_empty());
    app.stop().await;
}
