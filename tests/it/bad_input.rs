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

/// One member floods a group with 300 commands while digests fall due for twenty other
/// subscribers. The allowance is per sender: the flooder is slowed with one notice, another
/// member of the same group is still answered, and the digests go out on time.
#[tokio::test]
async fn a_flood_of_commands_is_slowed_with_one_notice_and_others_are_served() {
    const FLOOD: usize = 300;
    let app =
        spawn_app_with(Setup { clock: Some(utc("2026-11-25T04:00:00Z")), ..Setup::default() })
            .await;
    let subscribers: Vec<_> = (600..620).map(|id| app.user(id, "en")).collect();
    for user in &subscribers {
        app.tribune.subscribe(&Caller::private(user.id()), Lang::En).unwrap();
    }
    let group = app.emulator.group(-700, "Readers");
    let flooder = group.as_member(&app.user(45, "en"));
    let neighbour = group.as_member(&app.user(46, "en"));

    let at_bot = |command: &str| format!("{command}@{}", app.emulator.bot_username());

    let flood_started = Instant::now();
    // The neighbour asks in the middle of the flood, when the group as a whole is far over any
    // allowance: only a per-sender allowance answers them.
    for i in 0..FLOOD {
        if i == FLOOD / 2 {
            neighbour.send_text(&at_bot("/help"));
        }
        flooder.send_text(&at_bot("/slogan"));
    }
    app.set_time(utc("2026-11-25T05:00:00Z"));
    let due = Instant::now();
    for user in &subscribers {
        let digest = next(user).await.plain_text();
        assert!(digest.starts_with("🗞 Tribune · 25 November 2026"), "{digest}");
    }
    // Twenty digests at 30 a second need well under a second. Had each flood command taken a
    // send slot, 300 of them would need ten seconds of the overall pace before the digests'
    // turn. Five seconds from the moment they fell due tells the two apart with room to spare
    // for a busy two-core machine.
    let late = due.elapsed();
    assert!(late < Duration::from_secs(5), "the digests took {late:?} behind the flood");

    // The bot handles one chat's updates in order, so once the neighbour's second command (sent
    // after the flood) is answered, every flood command has been handled.
    neighbour.send_text(&at_bot("/about"));
    let mut answers = Vec::new();
    let answered = |answers: &[String], start: &str| answers.iter().any(|t| t.starts_with(start));
    while !(answered(&answers, "What you can ask") && answered(&answers, "Tribune shares")) {
        let batch = group
            .wait_for_messages(1, TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("the neighbour is answered twice: {e}; got {answers:?}"));
        answers.extend(batch.iter().map(|m| m.plain_text()));
    }
    let handled_within = flood_started.elapsed().as_secs_f64();
    let slogans = answers.iter().filter(|t| t.starts_with("✊ ")).count();
    let notices = answers.iter().filter(|t| t.starts_with(FLOOD_NOTICE)).count();
    assert_eq!(notices, 1, "one notice for the whole flood: {answers:?}");
    // The allowance: a burst of ten, then one a second for as long as the flood was handled.
    let allowance = 10 + handled_within.ceil() as usize;
    assert!(
        (10..=allowance).contains(&slogans),
        "{slogans} of {FLOOD} commands answered within {handled_within:.1} s"
    );
    assert_eq!(answers.len(), slogans + notices + 2, "nothing else: {answers:?}");
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
