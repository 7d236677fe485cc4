//! Every kind of update a bot can meet, end to end: channel posts and their edits (in a
//! channel where the bot is an administrator), polls and votes, stickers, photos, edited
//! messages, huge texts, odd Unicode, commands for other bots and unknown commands. Each gets a
//! sensible answer or is ignored quietly; the bot never stops and still answers /start.
//!
//! Telegram hands a bot only the update kinds it asks for, and Tribune asks only for those it
//! handles; the emulator is told to hand over every kind anyway, so these tests prove the
//! bot copes with kinds it did not ask for.

use crate::support::{TIMEOUT, TestApp, ask, eventually, next, spawn_app};
use telegram_bot_api_emulator::{BotMessage, User, check_html};

const WELCOME: &str = "Tribune carries the statements";
const NON_TEXT: &str = "I only read text. Send /help to see what I can do.";
const TOO_LONG: &str = "That is too long for me: use at most 200 characters.";

/// An app whose emulator hands the bot every update kind, once the bot has asked for its own.
async fn app_taking_every_kind() -> TestApp {
    let app = spawn_app().await;
    app.emulator.wait_for_requests("getUpdates", 1, TIMEOUT).await.unwrap();
    app.emulator.deliver_every_update_kind(true);
    app
}

/// Waits until the bot fetched everything queued, then proves it still answers /start.
async fn still_answers(app: &TestApp, user: &User) {
    let emulator = app.emulator.clone();
    eventually(TIMEOUT, "every update fetched", || emulator.pending_updates() == 0).await;
    assert!(ask(user, "/start").await.plain_text().starts_with(WELCOME));
    assert!(!app.bot.is_finished(), "the dispatcher is still running");
}

fn assert_sendable(message: &BotMessage) {
    assert!(!message.plain_text().trim().is_empty(), "an empty answer");
    if let Err(reason) = check_html(&message.text) {
        panic!("Telegram would refuse {:?}: {reason}", message.text);
    }
}

#[tokio::test]
async fn tribune_does_not_ask_for_kinds_it_does_not_handle() {
    let app = spawn_app().await;
    app.emulator.wait_for_requests("getUpdates", 1, TIMEOUT).await.unwrap();
    for kind in ["message", "edited_message", "callback_query", "my_chat_member"] {
        assert!(app.emulator.would_deliver(kind), "{kind} is asked for");
    }
    for kind in ["channel_post", "edited_channel_post", "poll", "poll_answer"] {
        assert!(!app.emulator.would_deliver(kind), "{kind} is not asked for");
    }
    app.stop().await;
}

#[tokio::test]
async fn channel_posts_and_their_edits_are_ignored_quietly() {
    let app = app_taking_every_kind().await;
    let user = app.user(801, "en");
    let channel = app.emulator.channel(-1_000_000_000_801, "Our channel");
    channel.add_bot_as_admin(100, true);
    still_answers(&app, &user).await;
    let before = channel.messages().len();
    let post = channel.post_text("/start");
    channel.post_text("/subscribe@tribune_test_bot");
    channel.post_text("Statement of the day");
    channel.post_poll("Which statement next?", &["First", "Second"]);
    channel.edit_post(post, "/stop");
    still_answers(&app, &user).await;
    assert_eq!(channel.messages().len(), before, "nothing is posted in reply to a post");
    let sub = app.tribune.store().subscription(channel.chat_id()).unwrap().expect("registered");
    assert!(sub.active, "a post of /stop erased nothing");
    app.stop().await;
}

#[tokio::test]
async fn polls_votes_stickers_and_photos() {
    let app = app_taking_every_kind().await;
    let user = app.user(802, "en");
    let group = app.emulator.group(-802, "Readers");
    let poll = user.send_poll("Best slogan?", &["One", "Two"]);
    assert_eq!(next(&user).await.plain_text(), NON_TEXT);
    user.answer_poll(&poll, &[0]);
    app.emulator.poll_state(&poll, "Best slogan?", &[("One", 1), ("Two", 0)], true);
    user.send_sticker();
    assert_eq!(next(&user).await.plain_text(), NON_TEXT);
    user.send_photo();
    assert_eq!(next(&user).await.plain_text(), NON_TEXT);
    // In a group, none of these is addressed to the bot.
    group.send_poll("Meet on Friday?", &["Yes", "No"]);
    group.send_sticker();
    group.send_photo();
    group.send_text("/slogan@tribune_test_bot");
    let replies = group.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(replies[0].plain_text().starts_with("✊ "), "only the command is answered");
    still_answers(&app, &user).await;
    assert_eq!(group.messages().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn huge_texts_near_and_beyond_telegrams_limit_are_refused_politely() {
    let app = spawn_app().await;
    let user = app.user(803, "en");
    for text in [
        "a".repeat(4095),
        "a".repeat(4096),
        "a".repeat(4097),
        "revolution ".repeat(1000),
        // 2100 characters, 4200 UTF-16 units: beyond the limit as Telegram counts.
        "🙂".repeat(2100),
        format!("/search {}", "x".repeat(4090)),
    ] {
        let reply = ask(&user, &text).await;
        assert_eq!(reply.plain_text(), TOO_LONG, "for {} characters", text.chars().count());
    }
    // A deep link payload of any length gets the welcome or a polite "link is gone".
    let reply = ask(&user, &format!("/start {}", "p".repeat(4000))).await;
    assert_sendable(&reply);
    let text = reply.plain_text();
    assert!(text.starts_with(WELCOME) || text.starts_with("That link does not lead"), "{text}");
    still_answers(&app, &user).await;
    app.stop().await;
}

#[tokio::test]
async fn odd_unicode_rtl_and_zero_width_characters_get_one_valid_answer_each() {
    let app = spawn_app().await;
    let user = app.user(804, "en");
    for text in [
        "مرحبا بالعالم",
        "\u{200f}שלום\u{200e} revolution",
        "\u{202e}/start",
        "/start\u{200b}",
        "\u{200b}",
        "\u{feff}revolution",
        "e\u{301}\u{301}\u{301}\u{301}",
        "🏳️‍🌈👨‍👩‍👧 ✊🏽",
        "İnqilab ƏLİYEV ı i̇",
        "ПАРТИЯ ё Ё",
        "\u{0}",
        "<b>&amp;</a>\u{2028}\u{2029}",
    ] {
        let reply = ask(&user, text).await;
        assert_sendable(&reply);
    }
    still_answers(&app, &user).await;
    assert_eq!(user.take_new().len(), 0, "one answer each, nothing more");
    app.stop().await;
}

#[tokio::test]
async fn commands_for_other_bots_and_unknown_commands() {
    let app = spawn_app().await;
    let user = app.user(805, "en");
    let group = app.emulator.group(-805, "Readers");
    group.send_text("/start@other_bot");
    group.send_text("/subscribe@other_bot");
    group.send_text("/frobnicate");
    group.send_text("/frobnicate@other_bot");
    group.send_text("/frobnicate@tribune_test_bot");
    let replies = group.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert_eq!(
        replies[0].plain_text(),
        "I don't know the command /frobnicate@tribune_test_bot. Send /help for the list."
    );
    group.send_text("/start@tribune_test_bot");
    let welcome = group.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert!(welcome[0].plain_text().starts_with(WELCOME));
    assert_eq!(group.messages().len(), 2, "the other bots' commands were left alone");
    assert!(app.tribune.store().subscription(-805).unwrap().is_none(), "nobody subscribed");
    for unknown in ["/frobnicate", "/START", "/start_now", "/"] {
        let reply = ask(&user, unknown).await;
        assert_sendable(&reply);
    }
    assert!(ask(&user, "/frobnicate").await.plain_text().starts_with("I don't know the command"));
    still_answers(&app, &user).await;
    app.stop().await;
}

#[tokio::test]
async fn edited_messages_are_answered_in_private_and_ignored_in_groups() {
    let app = app_taking_every_kind().await;
    let user = app.user(806, "en");
    let group = app.emulator.group(-806, "Readers");
    let id = user.send_text("/slogan");
    next(&user).await;
    user.edit_text(id, "/stop");
    assert_eq!(
        next(&user).await.plain_text(),
        "I don't read edited messages: send the command again."
    );
    let said = group.send_text("hello");
    group.edit_text(said, "/stop@tribune_test_bot");
    // The group's updates are handled in order: an answer to the edit would come first.
    let slogan = ask(&group, "/slogan@tribune_test_bot").await.plain_text();
    assert!(slogan.starts_with("✊ "), "an edit in a group is not answered: {slogan}");
    still_answers(&app, &user).await;
    assert_eq!(group.messages().len(), 1, "an edit in a group is not answered");
    app.stop().await;
}
