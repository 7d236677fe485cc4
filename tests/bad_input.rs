//! Bad input of every kind gets a short, helpful answer in the reader's language: never a
//! panic, never silence (in private chats; groups are not chattered at).

mod support;

use support::{TIMEOUT, ask, next, spawn_app};

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

#[tokio::test]
async fn a_flood_of_commands_is_slowed_with_one_notice_and_others_are_served() {
    let app = spawn_app().await;
    let flooder = app.user(45, "en");
    let other = app.user(46, "en");
    for _ in 0..40 {
        flooder.send_text("/slogan");
    }
    assert!(
        ask(&other, "/help").await.plain_text().starts_with("What you can ask"),
        "another reader is served"
    );
    // Commands are checked as they are handled, and replies to one chat go out at Telegram's
    // pace, so the allowance refills a little (one a second) while the burst is answered.
    let mut slogans = 0;
    loop {
        let reply = next(&flooder).await.plain_text();
        if reply.starts_with("You are sending messages faster") {
            break;
        }
        assert!(reply.starts_with("✊ "), "{reply}");
        slogans += 1;
    }
    assert!((10..=16).contains(&slogans), "{slogans} of 40 commands answered before the notice");
    // The rest were dropped quietly: nothing more arrives.
    assert!(flooder.wait_for_messages(1, std::time::Duration::from_secs(2)).await.is_err());
    app.stop().await;
}
