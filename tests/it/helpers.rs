//! The support helpers hold what tests/README.md promises: `next` fails on a message more
//! than expected, `moved_on` on anything the bot sent before its proof, and the gate keeps a
//! timing test alone. (Each is checked by making it fail.)

use crate::support::{self, gate};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use telegram_bot_api_emulator::Emulator;
use teloxide::{prelude::*, types::ChatId};

/// A second client of the emulator, sending as the bot.
fn as_the_bot(emulator: &Emulator) -> Bot {
    Bot::new(emulator.token()).set_api_url(emulator.api_url().parse().unwrap())
}

#[tokio::test]
#[should_panic(expected = "expected 1 message(s) from the bot, got 2")]
async fn next_fails_when_the_bot_sent_one_more() {
    let emulator = Emulator::start().await.unwrap();
    let user = emulator.user(90_001, "Reader", Some("en"));
    let bot = as_the_bot(&emulator);
    bot.send_message(ChatId(90_001), "the answer").await.unwrap();
    bot.send_message(ChatId(90_001), "a second answer").await.unwrap();
    support::next(&user).await;
}

#[tokio::test]
async fn next_n_takes_exactly_n() {
    let emulator = Emulator::start().await.unwrap();
    let user = emulator.user(90_002, "Reader", Some("en"));
    let bot = as_the_bot(&emulator);
    bot.send_message(ChatId(90_002), "one").await.unwrap();
    bot.send_message(ChatId(90_002), "two").await.unwrap();
    let both = support::next_n(&user, 2).await;
    assert_eq!(both.iter().map(|m| m.plain_text()).collect::<Vec<_>>(), ["one", "two"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "the bot had sent more")]
async fn moved_on_fails_when_something_came_after_the_answer() {
    let app = support::spawn_app().await;
    let user = app.user(90_003, "en");
    support::ask(&user, "/slogan").await;
    // A late second reply, after the one `ask` took.
    as_the_bot(&app.emulator).send_message(ChatId(90_003), "late").await.unwrap();
    support::moved_on(&user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_on_passes_when_the_bot_sent_nothing_more() {
    let app = support::spawn_app().await;
    let user = app.user(90_004, "en");
    support::ask(&user, "/slogan").await;
    support::moved_on(&user).await;
    app.stop().await;
}

#[test]
fn a_shared_pass_waits_for_the_exclusive_one() {
    let alone = gate::exclusive();
    let released = Arc::new(AtomicBool::new(false));
    let sharer = std::thread::spawn({
        let released = released.clone();
        move || {
            let _pass = gate::shared();
            released.load(Ordering::SeqCst)
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(!sharer.is_finished(), "a shared pass was given while the exclusive one was held");
    released.store(true, Ordering::SeqCst);
    drop(alone);
    assert!(sharer.join().unwrap(), "the shared pass came only after the release");
}
