//! Injected faults reach teloxide as the errors Telegram's would.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use teloxide::{ApiError as TgApiError, RequestError, prelude::*, types::MessageId};

use super::{super::*, WAIT, bot};

fn api_error(result: Result<Message, RequestError>) -> TgApiError {
    match result {
        Err(RequestError::Api(error)) => error,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn faults_reach_teloxide_as_its_errors() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    emulator.user(42, "Ann", None);
    emulator.set_limits(Limits::off());
    let send = || bot.send_message(ChatId(42), "hi");

    emulator.inject(FaultTarget::Chat(42), Fault::Blocked, Some(1));
    assert_eq!(api_error(send().await), TgApiError::BotBlocked);
    send().await.expect("a counted fault runs out");

    emulator.inject(FaultTarget::Chat(42), Fault::Deactivated, Some(1));
    assert_eq!(api_error(send().await), TgApiError::UserDeactivated);
    emulator.inject(FaultTarget::All, Fault::ChatNotFound, Some(1));
    assert_eq!(api_error(send().await), TgApiError::ChatNotFound);
    emulator.inject(FaultTarget::Chat(42), Fault::Kicked, Some(1));
    assert_eq!(api_error(send().await), TgApiError::BotBlocked, "kicked from a private chat");

    emulator.inject(FaultTarget::Chat(42), Fault::TopicClosed, Some(1));
    let refused = api_error(send().await);
    assert_eq!(refused, TgApiError::Unknown("Bad Request: TOPIC_CLOSED".into()));
    emulator.inject(FaultTarget::Chat(42), Fault::TooManyRequests(7), Some(1));
    let flood = send().await.unwrap_err();
    assert!(matches!(&flood, RequestError::RetryAfter(s) if s.seconds() == 7), "{flood:?}");

    // Until cleared; edits fail too, lookups do not.
    emulator.inject(FaultTarget::Chat(42), Fault::Blocked, None);
    for _ in 0..3 {
        assert_eq!(api_error(send().await), TgApiError::BotBlocked);
    }
    let edit = bot.edit_message_text(ChatId(42), MessageId(1), "x").await;
    assert_eq!(api_error(edit), TgApiError::BotBlocked);
    bot.get_chat(ChatId(42)).await.unwrap();
    emulator.clear_faults();
    send().await.unwrap();

    let stats = emulator.stats();
    assert_eq!(stats.too_many_requests, 1);
    assert_eq!(stats.sent, 2);
    assert_eq!(stats.errors, 10);
    emulator.shutdown().await;
}

#[tokio::test]
async fn kicked_and_migrated_per_chat_kind() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    emulator.group(-5, "Readers");
    emulator.supergroup(-1_001, "Big");
    emulator.channel(-1_002, "News").add_bot_as_admin(100, true);
    for (chat, kicked) in [
        (-5, TgApiError::Unknown("Forbidden: bot was kicked from the group chat".into())),
        (-1_001, TgApiError::BotKickedFromSupergroup),
        (-1_002, TgApiError::Unknown("Forbidden: bot is not a member of the channel chat".into())),
    ] {
        emulator.inject(FaultTarget::Chat(chat), Fault::Kicked, Some(1));
        assert_eq!(api_error(bot.send_message(ChatId(chat), "x").await), kicked);
    }

    emulator.inject(FaultTarget::Chat(-5), Fault::Migrate(-1_003), Some(1));
    let moved = bot.send_message(ChatId(-5), "x").await.unwrap_err();
    let RequestError::MigrateToChatId(new_id) = moved else { panic!("{moved:?}") };
    assert_eq!(new_id, ChatId(-1_003));
    let there = bot.send_message(new_id, "here").await.unwrap();
    assert!(there.chat.is_supergroup());
    assert_eq!(there.chat.title(), Some("Readers"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn server_errors_have_telegrams_status_and_body() {
    // teloxide waits 10 s after any 5xx before returning it, so these are
    // checked on the wire.
    let emulator = Emulator::start().await.unwrap();
    emulator.user(42, "Ann", None);
    let url = format!("{}bot{}/sendMessage", emulator.api_url(), emulator.token());
    let http = reqwest::Client::new();
    for (fault, status, description) in [
        (Fault::ServerError, 500, "Internal Server Error"),
        (Fault::BadGateway, 502, "Bad Gateway"),
    ] {
        emulator.inject(FaultTarget::All, fault, Some(1));
        let response =
            http.post(&url).json(&json!({"chat_id": 42, "text": "x"})).send().await.unwrap();
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"ok": false, "error_code": status, "description": description}));
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_a_network_error_and_nothing_is_sent() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let user = emulator.user(42, "Ann", None);
    emulator.inject(FaultTarget::Chat(42), Fault::DropConnection, Some(1));
    let dropped = bot.send_message(ChatId(42), "lost").await.unwrap_err();
    assert!(matches!(dropped, RequestError::Network(_)), "{dropped:?}");
    assert!(user.messages().is_empty());
    let sent = bot.send_message(ChatId(42), "again").await.unwrap();
    assert_eq!(sent.id.0, 1);
    assert_eq!(emulator.stats().dropped, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_delay_answers_late_but_sends_at_once() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let user = emulator.user(42, "Ann", None);
    emulator.inject(FaultTarget::Chat(42), Fault::Delay(Duration::from_millis(300)), Some(1));
    let started = Instant::now();
    let send = tokio::spawn({
        let bot = bot.clone();
        async move { bot.send_message(ChatId(42), "slow").await }
    });
    assert_eq!(user.wait_for_messages(1, WAIT).await.unwrap()[0].text, "slow");
    send.await.unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());

    // A long delay does not hold up shutdown.
    emulator.inject(FaultTarget::Chat(42), Fault::Delay(Duration::from_secs(60)), None);
    let stuck = tokio::spawn(async move { bot.send_message(ChatId(42), "stuck").await });
    user.wait_for_messages(1, WAIT).await.unwrap();
    let started = Instant::now();
    emulator.shutdown().await;
    stuck.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

/// The outcome of each of 40 sends, as text, under a seeded campaign.
async fn campaign(seed: u64) -> Vec<String> {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    emulator.set_limits(Limits::off());
    emulator.inject_random(
        seed,
        0.5,
        vec![Fault::Blocked, Fault::ChatNotFound, Fault::TooManyRequests(1)],
    );
    let mut outcomes = Vec::new();
    for id in 1..=40 {
        emulator.user(id, "Reader", None);
        let result = bot.send_message(ChatId(id), "news").await;
        outcomes.push(result.map_or_else(|e| e.to_string(), |_| "ok".to_owned()));
    }
    emulator.shutdown().await;
    outcomes
}

#[tokio::test]
async fn a_random_campaign_is_reproducible() {
    let first = campaign(42).await;
    assert_eq!(first, campaign(42).await);
    let failed = first.iter().filter(|o| *o != "ok").count();
    assert!((8..=32).contains(&failed), "{failed} of 40: {first:?}");
    assert_ne!(first, campaign(43).await);
}
