//! Flood limits, seen from teloxide and on the wire.

use std::time::Duration;

use serde_json::{Value, json};
use teloxide::{RequestError, prelude::*};

use super::{super::*, WAIT, bot};

fn retry_after(result: &Result<Message, RequestError>) -> Option<u32> {
    match result {
        Err(RequestError::RetryAfter(seconds)) => Some(seconds.seconds()),
        _ => None,
    }
}

#[tokio::test]
async fn thirty_one_users_at_once_meet_exactly_one_429() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    for id in 1..=31 {
        emulator.user(id, "Reader", None);
    }
    // All 31 arrive within the same second, however slow the machine: the limits' clock
    // stands still.
    emulator.freeze_limits_clock();
    let sends: Vec<_> = (1..=31)
        .map(|id| {
            let bot = bot.clone();
            tokio::spawn(async move { bot.send_message(ChatId(id), "news").await })
        })
        .collect();
    let mut results = Vec::new();
    for send in sends {
        results.push(send.await.unwrap());
    }
    let refused: Vec<u32> = results.iter().filter_map(retry_after).collect();
    assert_eq!(refused, [1], "{results:?}");
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 30);
    let stats = emulator.stats();
    assert_eq!((stats.sent, stats.too_many_requests, stats.errors), (30, 1, 1));
    assert_eq!(stats.per_method["sendMessage"], 31);
    // A second later the window has room again.
    emulator.advance_limits_clock(Duration::from_millis(999));
    assert_eq!(retry_after(&bot.send_message(ChatId(31), "again").await), Some(1));
    emulator.advance_limits_clock(Duration::from_millis(1));
    bot.send_message(ChatId(31), "again").await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_group_takes_twenty_a_minute() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let group = emulator.group(-5, "Readers");
    bot.send_message(ChatId(-5), "one").await.unwrap();
    bot.send_message(ChatId(-5), "two, within the second").await.unwrap();
    for n in 3..=20 {
        bot.send_message(ChatId(-5), format!("{n}")).await.unwrap();
    }
    let refused = bot.send_message(ChatId(-5), "21").await;
    let seconds = retry_after(&refused).unwrap_or_else(|| panic!("{refused:?}"));
    assert!((1..=60).contains(&seconds), "{seconds}");
    assert_eq!(group.wait_for_messages(20, WAIT).await.unwrap().len(), 20);
    // Other chats are not held up by a busy group.
    emulator.user(42, "Ann", None);
    bot.send_message(ChatId(42), "hi").await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_private_burst_then_telegrams_exact_429() {
    let emulator = Emulator::start().await.unwrap();
    let user = emulator.user(42, "Ann", None);
    let url = format!("{}bot{}/sendMessage", emulator.api_url(), emulator.token());
    let http = reqwest::Client::new();
    let send = || http.post(&url).json(&json!({"chat_id": 42, "text": "part"})).send();
    emulator.freeze_limits_clock();
    for _ in 0..3 {
        assert_eq!(send().await.unwrap().status(), 200);
    }
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    let n = body["parameters"]["retry_after"].as_u64().unwrap();
    assert!(n >= 1);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 429,
               "description": format!("Too Many Requests: retry after {n}"),
               "parameters": {"retry_after": n}})
    );
    // Edits and chat actions are not counted.
    let id = user.wait_for_messages(3, WAIT).await.unwrap()[0].message_id;
    let bot = bot(&emulator);
    bot.edit_message_text(ChatId(42), teloxide::types::MessageId(id), "edited").await.unwrap();
    bot.send_chat_action(ChatId(42), teloxide::types::ChatAction::Typing).await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn paid_broadcasts_and_limits_off() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    for id in 1..=32 {
        emulator.user(id, "Reader", None);
    }
    emulator.freeze_limits_clock();
    for id in 1..=30 {
        bot.send_message(ChatId(id), "news").await.unwrap();
    }
    let paid = bot.send_message(ChatId(31), "news").allow_paid_broadcast(true).await;
    let unpaid = bot.send_message(ChatId(32), "news").await;
    assert!(paid.is_ok(), "{paid:?}");
    assert!(retry_after(&unpaid).is_some(), "{unpaid:?}");
    emulator.set_limits(Limits::off());
    for _ in 0..5 {
        bot.send_message(ChatId(1), "more").await.unwrap();
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_one_is_a_strict_one_a_second() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    emulator.set_limits(Limits { private_burst: 1, ..Limits::telegram() });
    emulator.user(50, "Strict", None);
    bot.send_message(ChatId(50), "one").await.unwrap();
    assert!(retry_after(&bot.send_message(ChatId(50), "two").await).is_some());
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_history_limit_keeps_only_the_newest_messages_of_each_chat() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    emulator.user(1, "Reader", None);
    emulator.user(2, "Other", None);
    emulator.set_limits(Limits::off());
    emulator.set_history_limit(Some(2));
    let first = bot.send_message(ChatId(1), "one").await.unwrap();
    for text in ["two", "three"] {
        bot.send_message(ChatId(1), text).await.unwrap();
    }
    bot.send_message(ChatId(2), "elsewhere").await.unwrap();
    let kept: Vec<String> = emulator.chat_messages(1).into_iter().map(|m| m.text).collect();
    assert_eq!(kept, ["two", "three"]);
    assert_eq!(emulator.chat_messages(2).len(), 1, "each chat has its own history");
    // The forgotten message is answered as one that never was.
    let edit = bot.edit_message_text(ChatId(1), first.id, "edited").await;
    assert!(edit.unwrap_err().to_string().contains("message to edit not found"));
    // Without a limit, every message is kept again.
    emulator.set_history_limit(None);
    bot.send_message(ChatId(1), "four").await.unwrap();
    assert_eq!(emulator.chat_messages(1).len(), 3);
    assert_eq!(emulator.stats().sent, 5);
    emulator.shutdown().await;
}
