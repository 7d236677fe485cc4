//! A digest fan-out to 510 chats under Telegram's limits, enforced by the emulator:
//! every chat gets its digest and the emulator never has to answer 429.

use crate::support::{Setup, TIMEOUT, eventually, spawn_app_with};
use chrono::{DateTime, Utc};
use std::time::Duration;
use telegram_bot_api_emulator::Emulator;
use tribune::{
    content::Lang,
    store::Store,
    subscription::{ChatKind, Subscription},
};

const CHATS: i64 = 510;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_chats_get_their_digest_without_a_single_429() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let now = DateTime::parse_from_rfc3339("2026-11-25T05:00:00Z").unwrap().with_timezone(&Utc);
    let emulator = Emulator::start().await.unwrap();
    let users: Vec<_> =
        (1..=CHATS).map(|id| emulator.user(10_000 + id, "Reader", Some("en"))).collect();
    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open(data.path()).unwrap();
        let subs = (1..=CHATS).map(|id| {
            let mut sub = Subscription::new(10_000 + id, ChatKind::Private, Lang::En);
            sub.next_due = Some(now.timestamp());
            sub
        });
        assert_eq!(store.load_subscriptions(subs).unwrap(), CHATS as usize);
    }
    let app = spawn_app_with(Setup {
        clock: Some(now),
        data_dir: Some(data.path().to_path_buf()),
        emulator: Some(emulator.clone()),
        ..Setup::default()
    })
    .await;
    let store = app.tribune.store().clone();
    eventually(TIMEOUT, "every digest composed", || {
        store.first_due().unwrap() > Some(now.timestamp())
    })
    .await;
    // At 30 messages a second, 510 messages take about 17 seconds.
    assert!(app.bot.engine().wait_idle(Duration::from_secs(60)).await, "fan-out did not finish");
    let stats = emulator.stats();
    assert_eq!(stats.too_many_requests, 0, "the emulator had to refuse sends");
    assert_eq!(app.bot.engine().stats().sent, CHATS as u64);
    for user in &users {
        let messages = user.messages();
        assert_eq!(messages.len(), 1, "chat {} got {} digests", user.id(), messages.len());
        assert!(messages[0].plain_text().starts_with("🗞 Tribune · 25 November 2026"));
    }
    app.stop().await;
}
