//! Telegram's limits hold at the moment of sending, whatever the bot's runtime does. Its two
//! workers are stalled on purpose, again and again (a blocking sleep of a few hundred
//! milliseconds, as a slow fsync or a long computation on a worker would), while a fan-out, a
//! reader with several messages, a group and interactive replies go out. The emulator, with
//! Telegram's limits enforced and a strict one message a second per private chat, must never
//! answer 429, and its log of arrivals must show no window over a limit.
//!
//! The emulator runs on a runtime of its own, as Telegram runs on servers of its own: the
//! stalls must not hold up the clock that counts arrivals, or a stall would bunch arrivals on
//! the emulator's side that the bot had sent apart.

use crate::support::{Setup, TIMEOUT, spawn_app_with};
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};
use telegram_bot_api_emulator::{Emulator, Limits as TelegramLimits, RequestRecord};
use tribune::{
    render::OutMessage,
    store::{EditionKind, OutboxItem, unix_now},
    subscription::ChatKind,
};

const READERS: i64 = 240;
const FIRST_READER: i64 = 20_001;
const BUSY_READER: i64 = 30_001;
const TO_THE_BUSY_READER: usize = 5;
const GROUP: i64 = -40_001;
const TO_THE_GROUP: usize = 4;
const ASKING_READER: i64 = 30_002;
/// How long the workers are blocked, and how often.
const STALL: Duration = Duration::from_millis(400);
const CYCLE: Duration = Duration::from_millis(1700);

#[test]
fn stalls_of_the_bots_runtime_never_put_sends_closer_than_telegram_allows() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let telegram = runtime(1);
    let emulator = telegram.block_on(Emulator::start()).expect("start the emulator");
    emulator.set_limits(TelegramLimits { private_burst: 1, ..TelegramLimits::telegram() });
    let bot = runtime(2);
    let stalls = bot.block_on(fan_out_under_stalls(emulator.clone()));
    drop(bot);
    telegram.block_on(emulator.clone().shutdown());

    let stats = emulator.stats();
    assert_eq!(stats.too_many_requests, 0, "the emulator had to refuse sends");
    assert!(stalls >= 6, "the runtime was stalled only {stalls} times");
    let sends: Vec<RequestRecord> =
        emulator.request_log().into_iter().filter(|r| r.method == "sendMessage").collect();
    let expected = READERS as usize + TO_THE_BUSY_READER + TO_THE_GROUP;
    assert!(sends.len() >= expected, "only {} sends arrived", sends.len());

    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    let tightest = ms(sends.windows(31).map(|w| w[30].at - w[0].at).min());
    let closest = ms(sends.windows(2).map(|w| w[1].at - w[0].at).min());
    eprintln!(
        "pacing under stalls: {stalls} stalls, {} sends, tightest 31 arrivals {tightest:.1} ms, \
         closest two {closest:.1} ms",
        sends.len()
    );
    // Overall: 30 a second, so any 31 arrivals in a row span more than a second.
    for window in sends.windows(31) {
        let span = window[30].at - window[0].at;
        assert!(span > Duration::from_secs(1), "31 sends arrived within {span:?}");
    }
    // Each chat: a private chat 1 a second, a group 20 a minute (one every 3 s keeps any
    // minute under 20).
    let mut by_chat: HashMap<i64, Vec<&RequestRecord>> = HashMap::new();
    for send in &sends {
        by_chat.entry(send.chat_id.expect("a chat id")).or_default().push(send);
    }
    for (chat, arrivals) in &by_chat {
        let least = if *chat < 0 { Duration::from_secs(3) } else { Duration::from_secs(1) };
        for pair in arrivals.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(gap >= least, "two sends to chat {chat} arrived {gap:?} apart");
        }
    }
    assert_eq!(by_chat[&BUSY_READER].len(), TO_THE_BUSY_READER);
    assert_eq!(by_chat[&GROUP].len(), TO_THE_GROUP);
}

/// Queues the fan-out, stalls the runtime until it is delivered, and returns how many stalls
/// there were.
async fn fan_out_under_stalls(emulator: Emulator) -> u32 {
    let readers: Vec<_> = (0..READERS)
        .map(|i| emulator.user(FIRST_READER + i, "Reader", Some("en")))
        .chain([emulator.user(BUSY_READER, "Reader", Some("en"))])
        .collect();
    let group = emulator.group(GROUP, "Readers' circle");
    let asking = emulator.user(ASKING_READER, "Reader", Some("en"));
    let app = spawn_app_with(Setup { emulator: Some(emulator.clone()), ..Setup::default() }).await;

    let stop = Arc::new(AtomicBool::new(false));
    let stalls = Arc::new(AtomicU32::new(0));
    // Both workers are blocked together for STALL, then the runtime runs freely for a while:
    // long enough for a second of sends after each stall, which is where sends that a stall
    // bunched together would put 31 into one second.
    let start = tokio::time::Instant::now();
    let stallers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, stalls) = (stop.clone(), stalls.clone());
            tokio::spawn(async move {
                let mut cycle = 1;
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep_until(start + CYCLE * cycle).await;
                    std::thread::sleep(STALL);
                    stalls.fetch_add(1, Ordering::SeqCst);
                    cycle += 1;
                }
            })
        })
        .collect();

    let store = app.tribune.store().clone();
    let edition = store.new_edition(EditionKind::Broadcast, unix_now()).expect("an edition");
    let item = |chat_id: i64, kind: ChatKind, text: String| OutboxItem {
        edition,
        chat_id,
        kind,
        message: OutMessage { html: text, buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    };
    let mut items: Vec<_> = (0..READERS)
        .map(|i| item(FIRST_READER + i, ChatKind::Private, "Free them all".into()))
        .collect();
    items.extend((1..=TO_THE_BUSY_READER).map(|n| {
        item(BUSY_READER, ChatKind::Private, format!("Part {n} of {TO_THE_BUSY_READER}"))
    }));
    items.extend(
        (1..=TO_THE_GROUP).map(|n| item(GROUP, ChatKind::Group, format!("Group post {n}"))),
    );
    app.bot.engine().push(store.enqueue(items).expect("queued"));

    // A reader asks for things meanwhile; the answers share the pacer with the fan-out. The
    // reader asks about once a second: faster, and Telegram's limit for the chat would answer
    // a reply with a 429 (which the bot waits out, and this test would count).
    for _ in 0..3 {
        asking.send_text("/slogan");
        asking.wait_for_messages(1, TIMEOUT).await.expect("an answer to /slogan");
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    assert!(app.bot.engine().wait_idle(Duration::from_secs(60)).await, "fan-out did not finish");
    stop.store(true, Ordering::SeqCst);
    for staller in stallers {
        staller.await.expect("a staller");
    }

    for reader in &readers[..READERS as usize] {
        assert_eq!(reader.messages().len(), 1, "reader {} got the wrong count", reader.id());
    }
    let busy: Vec<String> =
        readers[READERS as usize].messages().iter().map(|m| m.text.clone()).collect();
    let expected: Vec<String> =
        (1..=TO_THE_BUSY_READER).map(|n| format!("Part {n} of {TO_THE_BUSY_READER}")).collect();
    assert_eq!(busy, expected, "the busy reader's messages, in order");
    assert_eq!(group.messages().len(), TO_THE_GROUP);
    app.stop_bot().await;
    stalls.load(Ordering::SeqCst)
}

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a runtime")
}
