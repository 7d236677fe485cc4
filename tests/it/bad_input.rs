//! Bad input of every kind gets a short, helpful answer in the reader's language: never a
//! panic, never silence (in private chats; groups are not chattered at).

use crate::support;

use crate::support::{Setup, TIMEOUT, ask, next, spawn_app, spawn_app_with, utc};
use std::time::{Duration, Instant};
use tribune::{app::Caller, content::Lang};

#[tokio::test]
async fn unknown_commands_and_wrong_arguments_are_explained() {
    let app = spawn_app().await;
    let user = app.user(40, "en");
    assert_eq!(
        ask(&user, "/frobnicate now").await.plain_text(),
        "I don't know the command /frobnicate. Send /help for the list."
    );
    assert_eq!(
        ask(&user, "/help me").await.plain_text(),
        "/help needs nothing after it: just send /help."
    );
    assert_eq!(
        ask(&user, "/slogan please").await.plain_text(),
        "/slogan needs nothing after it: just send /slogan."
    );
    assert!(ask(&user, "/read").await.plain_text().starts_with("Which statement? Send /read"));
    assert_eq!(
        ask(&user, "/read 9").await.plain_text(),
        "There is no statement “9”. See the list: /statements."
    );
    let corpus = tribune::content::load_dir(&support::messages_dir()).unwrap().corpus;
    let pages = tribune::render::pages(&corpus.statements[0], tribune::content::Lang::En).len();
    assert_eq!(
        ask(&user, "/read 1 99").await.plain_text(),
        format!("There is no page “99”: this statement has {pages} page(s).")
    );
    assert_eq!(
        ask(&user, "/read 1 two").await.plain_text(),
        format!("There is no page “two”: this statement has {pages} page(s).")
    );
    assert!(ask(&user, "/search").await.plain_text().starts_with("Search for what?"));
    assert_eq!(
        ask(&user, "/lang klingon").await.plain_text(),
        "I don't know the language “klingon”. Choose en, ru or az, e.g. /lang ru."
    );
    app.stop().await;
}

#[tokio::test]
async fn html_in_input_is_shown_as_text_not_markup() {
    let app = spawn_app().await;
    let user = app.user(41, "en");
    let reply = ask(&user, "/search <b>bold</b> & <a href=x>").await;
    assert_eq!(
        reply.plain_text(),
        "Nothing matches “<b>bold</b> & <a href=x>”. Try fewer or other words."
    );
    assert!(reply.text.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=x&gt;"));
    app.stop().await;
}

#[tokio::test]
async fn a_ten_thousand_character_message_is_refused_politely() {
    let app = spawn_app().await;
    let user = app.user(42, "en");
    let huge = "revolution ".repeat(910);
    assert!(huge.chars().count() > 10_000);
    assert_eq!(
        ask(&user, &huge).await.plain_text(),
        "That is too long for me: use at most 200 characters."
    );
    assert_eq!(
        ask(&user, &format!("/search {huge}")).await.plain_text(),
        "That is too long for me: use at most 200 characters."
    );
    app.stop().await;
}

#[tokio::test]
async fn stickers_photos_and_edits_get_an_answer() {
    let app = spawn_app().await;
    let user = app.user(43, "ru");
    user.send_sticker();
    assert_eq!(
        next(&user).await.plain_text(),
        "Я понимаю только текст. Отправьте /help, чтобы узнать, что я умею."
    );
    user.send_photo();
    assert!(next(&user).await.plain_text().starts_with("Я понимаю только текст"));
    let id = user.send_text("/slogan");
    next(&user).await;
    user.edit_text(id, "/prisoners");
    assert!(next(&user).await.plain_text().contains("отредактированные"), "edits are answered");
    app.stop().await;
}

#[tokio::test]
async fn forged_and_stale_buttons_change_nothing() {
    let app = spawn_app().await;
    let user = app.user(44, "en");
    let page = ask(&user, "/read 1").await;
    for data in [
        "r:voice-of-revolution-founding:en:0",
        "c:nobody",
        "zzz",
        "r:no-such-statement:en:1",
        "y:voice-of-revolution-founding:en:0:1",
    ] {
        let id = user.press(page.message_id, data);
        let answer = user.wait_for_answer(&id, TIMEOUT).await.unwrap();
        assert_eq!(
            answer.text.as_deref(),
            Some("This button has expired. Send the command again."),
            "{data}"
        );
    }
    assert_eq!(user.messages().len(), 1, "nothing was sent or edited");
    assert!(!user.messages()[0].edited);
    app.stop().await;
}

#[tokio::test]
async fn groups_are_not_chattered_at() {
    let app = spawn_app().await;
    let group = app.emulator.group(-500, "Readers");
    group.send_text("hello everyone");
    group.send_text("/frobnicate@someone_else_bot");
    group.send_text("/slogan@tribune_test_bot");
    let replies = group.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(
        replies[0].plain_text().starts_with("✊ "),
        "only the command addressed to us is answered"
    );
    app.stop().await;
}

const FLOOD_NOTICE: &str = "You are sending messages faster";

/// Three hundred fresh accounts send ten commands each, all at once: every account stays
/// within its own allowance, so only a cap on interactive work as a whole, subscribers
/// served first and bulk's share of the send budget keep Tribune useful. Meanwhile twenty
/// subscribers' digests fall due and one of them asks for help: they are answered in
/// seconds, not after the three thousand (at 30 messages a second, 100 s), and the flood
/// earns no 429. Before the fair intake the subscriber and the digests waited behind the
/// whole flood.
#[tokio::test]
async fn a_flood_from_many_accounts_leaves_subscribers_answered_and_digests_on_time() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    const ACCOUNTS: i64 = 300;
    const EACH: usize = 10;
    let app =
        spawn_app_with(Setup { clock: Some(utc("2026-11-25T04:00:00Z")), ..Setup::default() })
            .await;
    let subscribers: Vec<_> = (600..620).map(|id| app.user(id, "en")).collect();
    for user in &subscribers {
        app.tribune.subscribe(&Caller::private(user.id()), Lang::En).unwrap();
    }
    let flooders: Vec<_> = (20_000..20_000 + ACCOUNTS).map(|id| app.user(id, "en")).collect();
    for _ in 0..EACH {
        for flooder in &flooders {
            flooder.send_text("/slogan");
        }
    }
    // The flood is being answered: the bot is busy with it when the subscribers come.
    let first = flooders[0].wait_for_messages(1, TIMEOUT).await.expect("the flood is answered");
    assert!(first[0].plain_text().starts_with("✊ "), "{}", first[0].plain_text());

    app.set_time(utc("2026-11-25T05:00:00Z"));
    let due = Instant::now();
    let reader = &subscribers[0];
    reader.send_text("/help");
    let mut answered = None;
    while answered.is_none() {
        let got = reader.wait_for_messages(1, TIMEOUT).await.expect("the subscriber is answered");
        if got.iter().any(|m| m.plain_text().starts_with("What you can ask")) {
            answered = Some(due.elapsed());
        }
    }
    let answered = answered.unwrap();
    assert!(answered < Duration::from_secs(3), "the subscriber waited {answered:?}");
    for user in &subscribers {
        let digest = user
            .messages()
            .into_iter()
            .find(|m| m.plain_text().starts_with("🗞 Tribune · 25 November 2026"));
        if digest.is_none() {
            let got = user.wait_for_messages(1, TIMEOUT).await.expect("a digest");
            assert!(got[0].plain_text().starts_with("🗞 Tribune"), "{}", got[0].plain_text());
        }
    }
    // Twenty digests at half of 30 a second take under two seconds; five leaves room for a
    // busy machine and still tells them from digests queued behind the flood (100 s).
    let late = due.elapsed();
    assert!(late < Duration::from_secs(5), "the digests took {late:?} behind the flood");
    let answered_flood: usize = flooders.iter().map(|f| f.messages().len()).sum();
    assert!(answered_flood < ACCOUNTS as usize * EACH, "the flood was not all answered");
    assert_eq!(app.emulator.stats().too_many_requests, 0, "no 429 under the flood");
    app.stop().await;
}

/// Editing one message over and over is a flood too: the edits count against the allowance.
#[tokio::test]
async fn a_flood_of_edits_is_slowed_with_one_notice() {
    let app = spawn_app().await;
    let user = app.user(47, "en");
    let started = Instant::now();
    let id = user.send_text("/slogan");
    for i in 0..60 {
        user.edit_text(id, &format!("/slogan {i}"));
    }
    let mut answered = 0;
    loop {
        let reply = next(&user).await.plain_text();
        if reply.starts_with(FLOOD_NOTICE) {
            break;
        }
        answered += 1;
    }
    let allowance = 10 + started.elapsed().as_secs_f64().ceil() as usize;
    assert!(answered <= allowance, "{answered} of 61 answered before the notice");
    app.stop().await;
}
