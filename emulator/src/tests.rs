//! The emulator driven by a real teloxide `Bot` over HTTP: every response
//! must deserialize into teloxide's types, errors into its `ApiError`s.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use teloxide::{
    ApiError as TgApiError, RequestError,
    prelude::*,
    types::{
        InlineKeyboardButton, InlineKeyboardMarkup, MediaKind, MessageEntityKind, MessageKind,
        ParseMode, UpdateKind,
    },
};

use super::*;

mod faults;
mod kinds;
mod limits;
mod members;
mod photos;
mod webhook;

const WAIT: Duration = Duration::from_secs(5);

fn bot(emulator: &Emulator) -> Bot {
    Bot::new(emulator.token()).set_api_url(emulator.api_url().parse().unwrap())
}

fn keyboard() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback("Another", "another"),
        InlineKeyboardButton::callback("Full statement", "full:1"),
    ]])
}

/// Fetches pending updates at once, confirming them.
async fn updates(bot: &Bot, offset: &mut i32) -> Vec<Update> {
    let got = bot.get_updates().offset(*offset).timeout(0).await.unwrap();
    if let Some(last) = got.last() {
        *offset = last.id.0 as i32 + 1;
    }
    for u in &got {
        assert!(!matches!(u.kind, UpdateKind::Error(_)), "teloxide could not read {u:?}");
    }
    got
}

#[test]
fn the_handle_can_be_shared_between_tasks() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Emulator>();
    assert_send_sync::<User>();
    assert_send_sync::<Group>();
}

#[tokio::test]
async fn get_me_and_an_html_message_with_a_keyboard() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let me = bot.get_me().await.unwrap();
    assert_eq!(me.username(), "tribune_test_bot");
    assert_eq!(me.id.0, 7_000_000_001);
    assert!(me.supports_inline_queries && me.can_join_groups);

    let user = emulator.user(42, "Ann", Some("en"));
    let sent = bot
        .send_message(ChatId(42), "<b>Free</b> them &amp; <a href=\"https://example.org\">all</a>")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard())
        .await
        .unwrap();
    assert_eq!(sent.id.0, 1);
    assert_eq!(sent.text(), Some("Free them & all"));
    let kinds: Vec<_> = sent.entities().unwrap().iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds[0], MessageEntityKind::Bold);
    assert!(
        matches!(&kinds[1], MessageEntityKind::TextLink { url } if url.as_str() == "https://example.org/")
    );
    assert_eq!(sent.reply_markup().unwrap().inline_keyboard[0].len(), 2);

    let got = user.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(got[0].text, "<b>Free</b> them &amp; <a href=\"https://example.org\">all</a>");
    assert_eq!(got[0].plain_text(), "Free them & all");
    assert_eq!(got[0].button("Full statement").unwrap().callback_data.as_deref(), Some("full:1"));
    assert_eq!(emulator.requests("sendMessage"), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn telegrams_errors_reach_teloxide() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    emulator.user(42, "Ann", None);
    let too_long = bot.send_message(ChatId(42), "a".repeat(4097)).await.unwrap_err();
    assert!(matches!(too_long, RequestError::Api(TgApiError::MessageIsTooLong)), "{too_long:?}");
    assert!(too_long.to_string().contains("message is too long"));
    let unknown = bot.send_message(ChatId(43), "hi").await.unwrap_err();
    assert!(matches!(unknown, RequestError::Api(TgApiError::ChatNotFound)), "{unknown:?}");
    let bad_html =
        bot.send_message(ChatId(42), "1 < 2").parse_mode(ParseMode::Html).await.unwrap_err();
    assert!(
        matches!(bad_html, RequestError::Api(TgApiError::CantParseEntities(_))),
        "{bad_html:?}"
    );
    let data = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("x", "d".repeat(65))]]);
    let bad_data = bot.send_message(ChatId(42), "x").reply_markup(data).await.unwrap_err();
    assert!(matches!(bad_data, RequestError::Api(TgApiError::ButtonDataInvalid)), "{bad_data:?}");
    let wrong_token = Bot::new("1:wrong").set_api_url(emulator.api_url().parse().unwrap());
    let unauthorized = wrong_token.get_me().await.unwrap_err();
    assert!(
        matches!(unauthorized, RequestError::Api(TgApiError::InvalidToken)),
        "{unauthorized:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_user_writes() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let user = emulator.user(42, "Ann", Some("ru"));
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(30).await }
    });
    emulator.wait_for_requests("getUpdates", 1, WAIT).await.unwrap();
    let started = Instant::now();
    let id = user.send_text("/start@tribune_test_bot now");
    let got = poll.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    let UpdateKind::Message(message) = &got[0].kind else { panic!("{got:?}") };
    assert_eq!(message.id.0, id);
    assert_eq!(message.text(), Some("/start@tribune_test_bot now"));
    let from = message.from.as_ref().unwrap();
    assert_eq!((from.id.0, from.language_code.as_deref()), (42, Some("ru")));
    let entity = &message.entities().unwrap()[0];
    assert_eq!(
        (entity.kind.clone(), entity.offset, entity.length),
        (MessageEntityKind::BotCommand, 0, 23)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn pressing_a_button_sends_a_callback_query() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let user = emulator.user(42, "Ann", None);
    let sent = bot.send_message(ChatId(42), "Pick").reply_markup(keyboard()).await.unwrap();
    let query_id = user.press(sent.id.0, "another");
    let mut offset = 0;
    let got = updates(&bot, &mut offset).await;
    let UpdateKind::CallbackQuery(query) = &got[0].kind else { panic!("{got:?}") };
    assert_eq!(query.id.0, query_id);
    assert_eq!(query.data.as_deref(), Some("another"));
    assert_eq!(query.from.id.0, 42);
    assert_eq!(query.regular_message().unwrap().id, sent.id);

    bot.answer_callback_query(query.id.clone()).text("Done").await.unwrap();
    let answer = user.wait_for_answer(&query_id, WAIT).await.unwrap();
    assert_eq!((answer.text.as_deref(), answer.show_alert), (Some("Done"), false));
    let twice = bot.answer_callback_query(query.id.clone()).await.unwrap_err();
    assert!(twice.to_string().contains("query is too old"), "{twice}");

    bot.edit_message_text(ChatId(42), sent.id, "Picked").await.unwrap();
    let edited = user.wait_for_edit(sent.id.0, WAIT).await.unwrap();
    assert_eq!((edited.text.as_str(), edited.edited), ("Picked", true));
    assert!(edited.buttons.is_empty(), "an edit without markup removes the keyboard");
    let same = bot.edit_message_text(ChatId(42), sent.id, "Picked").await.unwrap_err();
    assert!(matches!(same, RequestError::Api(TgApiError::MessageNotModified)), "{same:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn stickers_photos_edits_and_groups_are_readable() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let user = emulator.user(42, "Ann", None);
    let group = emulator.group(-5, "Readers").as_member(&user);
    let supergroup = emulator.supergroup(-1_001_234_567_890, "Big");
    user.send_sticker();
    user.send_photo();
    let text = user.send_text("typo");
    user.edit_text(text, "fixed");
    group.send_text("/excerpt");
    supergroup.send_text("hello");
    let mut offset = 0;
    let got = updates(&bot, &mut offset).await;
    let media = |u: &Update| match &u.kind {
        UpdateKind::Message(m) | UpdateKind::EditedMessage(m) => match &m.kind {
            MessageKind::Common(c) => c.media_kind.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert!(matches!(media(&got[0]), MediaKind::Sticker(_)));
    assert!(matches!(media(&got[1]), MediaKind::Photo(_)));
    assert!(matches!(&got[3].kind, UpdateKind::EditedMessage(m) if m.text() == Some("fixed")));
    let UpdateKind::Message(in_group) = &got[4].kind else { panic!() };
    assert!(in_group.chat.is_group() && in_group.from.as_ref().unwrap().id.0 == 42);
    let UpdateKind::Message(in_super) = &got[5].kind else { panic!() };
    assert!(in_super.chat.is_supergroup());
    bot.send_message(ChatId(-5), "Here").await.unwrap();
    assert_eq!(group.wait_for_messages(1, WAIT).await.unwrap()[0].text, "Here");
    // Confirmed updates are gone.
    assert!(updates(&bot, &mut offset).await.is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_a_pending_long_poll() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let poll = tokio::spawn(async move { bot.get_updates().timeout(60).await });
    emulator.wait_for_requests("getUpdates", 1, WAIT).await.unwrap();
    let started = Instant::now();
    emulator.shutdown().await;
    let got = poll.await.unwrap().unwrap();
    assert!(got.is_empty());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_newer_poll_supersedes_an_older_one() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(30).await }
    });
    emulator.wait_for_requests("getUpdates", 1, WAIT).await.unwrap();
    let second = bot.get_updates().timeout(0).await.unwrap();
    assert!(second.is_empty());
    let conflict = first.await.unwrap().unwrap_err();
    assert!(
        matches!(conflict, RequestError::Api(TgApiError::TerminatedByOtherGetUpdates)),
        "{conflict:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn commands_blocking_and_plain_http() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    bot.set_my_commands([teloxide::types::BotCommand::new("start", "Start")]).await.unwrap();
    assert_eq!(emulator.my_commands(Some("en")), vec![("start".to_owned(), "Start".to_owned())]);
    assert_eq!(bot.get_my_commands().await.unwrap()[0].command, "start");

    let user = emulator.user(42, "Ann", None);
    user.block_bot();
    let blocked = bot.send_message(ChatId(42), "hi").await.unwrap_err();
    assert!(matches!(blocked, RequestError::Api(TgApiError::BotBlocked)), "{blocked:?}");
    user.send_text("/start");
    assert!(bot.send_message(ChatId(42), "hi").await.is_ok(), "writing again unblocks");

    // Telegram also takes GET with a query string and form bodies.
    let base = format!("{}bot{}", emulator.api_url(), emulator.token());
    let http = reqwest::Client::new();
    let get: Value = http.get(format!("{base}/getme")).send().await.unwrap().json().await.unwrap();
    assert_eq!(get["result"]["username"], "tribune_test_bot");
    let form = http
        .post(format!("{base}/sendMessage"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("chat_id=42&text=a%20%26%20b&reply_markup=%7B%22inline_keyboard%22%3A%5B%5D%7D")
        .send()
        .await
        .unwrap();
    let form: Value = form.json().await.unwrap();
    assert_eq!(form["result"]["text"], "a & b");
    let missing = http.post(format!("{base}/sendAudio")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body, json!({"ok": false, "error_code": 404, "description": "Not Found"}));
    emulator.shutdown().await;
}

#[tokio::test]
async fn teloxides_dispatcher_runs_against_the_emulator() {
    let emulator = Emulator::start().await.unwrap();
    let handler = Update::filter_message().endpoint(|bot: Bot, message: Message| async move {
        bot.send_message(message.chat.id, "pong").await?;
        respond(())
    });
    let mut dispatcher = Dispatcher::builder(bot(&emulator), handler).build();
    let token = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });
    let user = emulator.user(42, "Ann", None);
    user.send_text("ping");
    assert_eq!(user.wait_for_messages(1, WAIT).await.unwrap()[0].text, "pong");
    assert!(emulator.requests("getWebhookInfo") >= 1);
    let started = Instant::now();
    // Stop the dispatcher first; the emulator's shutdown releases its long poll.
    let stopping = token.shutdown().unwrap();
    emulator.clone().shutdown().await;
    stopping.await;
    running.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}
