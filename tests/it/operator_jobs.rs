//! Operators' promises that had no end-to-end test (issue 15): `/cancel <edition>` stops the
//! edition named and no other, two operators pressing Send send once, `/addslogan` with a
//! language, `/audit` shows the latest 20, and `/correct` deletes the further parts of a
//! message that was sent in several.

use crate::support::{
    Setup, TIMEOUT, TestApp, ask, copy_dir, eventually, messages_dir, next, press, spawn_app_with,
    utc,
};
use std::time::Duration;
use telegram_bot_api_emulator::{BotMessage, User};
use tribune::{app::Caller, content::Lang, delivery::Limits};

const OPERATOR: i64 = 900;
const SECOND_OPERATOR: i64 = 901;

async fn operator_app(limits: Limits) -> (TestApp, User) {
    let setup = Setup { operators: vec![OPERATOR, SECOND_OPERATOR], limits, ..Setup::default() };
    let app = spawn_app_with(setup).await;
    let operator = app.user(OPERATOR, "en");
    (app, operator)
}

/// `n` readers with ids from `first` on, each with a private chat and a daily subscription.
fn readers(app: &TestApp, first: i64, n: i64) -> Vec<i64> {
    (first..first + n)
        .inspect(|&id| {
            app.user(id, "en");
            app.tribune.subscribe(&Caller::private(id), Lang::En).unwrap();
        })
        .collect()
}

/// The bot's next `n` messages to `user`, however they are batched; fails if more came.
async fn next_messages(user: &User, n: usize) -> Vec<BotMessage> {
    let mut got = Vec::new();
    while got.len() < n {
        got.extend(user.wait_for_messages(1, TIMEOUT).await.expect("the bot did not answer"));
    }
    assert_eq!(got.len(), n, "{:?}", got.iter().map(BotMessage::plain_text).collect::<Vec<_>>());
    got
}

/// `/broadcast text` and Send on its card (to everyone): the progress message and the edition.
async fn broadcast(app: &TestApp, operator: &User, text: &str) -> (BotMessage, u64) {
    operator.send_text(&format!("/broadcast {text}"));
    let [preview, card] = <[BotMessage; 2]>::try_from(next_messages(operator, 2).await).unwrap();
    assert_eq!(preview.plain_text(), text, "the preview");
    press(operator, &card, "Send");
    let progress = next(operator).await;
    assert!(progress.plain_text().contains("Done:"), "{}", progress.plain_text());
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    assert!(progress.plain_text().contains(&format!("edition {edition}")), "{edition}");
    (progress, edition)
}

/// How many messages reading `text` the chat has.
fn copies(app: &TestApp, chat: i64, text: &str) -> usize {
    app.emulator.chat_messages(chat).iter().filter(|m| m.plain_text() == text).count()
}

/// The current text of one of the operator's messages (a progress message edited in place).
fn current(operator: &User, message_id: i32) -> String {
    operator.messages().into_iter().find(|m| m.message_id == message_id).unwrap().plain_text()
}

/// Two broadcasts run at once; `/cancel <first>` stops the first and only it: the second
/// reaches every reader, the first's unsent messages leave the outbox.
#[tokio::test]
async fn cancel_with_an_edition_stops_that_job_and_no_other() {
    // A slow pace, so that both are still running when the operator cancels.
    let (app, operator) = operator_app(Limits::telegram(4.0, false)).await;
    let chats = readers(&app, 11_000, 24);
    let (first_progress, first) = broadcast(&app, &operator, "First call").await;
    let (second_progress, second) = broadcast(&app, &operator, "Second call").await;
    assert!(second > first);

    // Without an edition, /cancel would stop the newest (the second): name the first.
    let answer = ask(&operator, &format!("/cancel {first}")).await.plain_text();
    assert!(answer.contains(&format!("Broadcast, edition {first} — ⏹ cancelled")), "{answer}");
    let nothing = ask(&operator, "/cancel 424242").await.plain_text();
    assert_eq!(nothing, "There is no edition 424242. /editions lists them.");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !current(&operator, second_progress.message_id).contains("finished") {
        assert!(tokio::time::Instant::now() < deadline, "the second broadcast never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let done = current(&operator, second_progress.message_id);
    assert!(done.contains("Done: 24 · failed: 0 · chat gone: 0 of 24"), "{done}");
    for &chat in &chats {
        assert_eq!(copies(&app, chat, "Second call"), 1, "chat {chat}");
    }
    let reached = chats.iter().filter(|&&c| copies(&app, c, "First call") == 1).count();
    assert!(reached < 24, "the first broadcast was not stopped: it reached all 24");
    let stopped = current(&operator, first_progress.message_id);
    assert!(stopped.contains("cancelled"), "{stopped}");
    assert!(stopped.contains(&format!("not sent: {} of 24", 24 - reached)), "{stopped}");
    assert_eq!(app.tribune.store().outbox_len(), 0);
    let audit: Vec<String> =
        app.tribune.store().audit_latest(10).unwrap().into_iter().map(|a| a.action).collect();
    let cancelled: Vec<&String> = audit.iter().filter(|a| a.starts_with("cancelled")).collect();
    assert_eq!(
        cancelled,
        [&format!("cancelled edition {first} ({} messages not sent)", 24 - reached)],
        "{audit:?}"
    );
    app.stop().await;
}

/// Two operators press Send on the same draft at the same moment (the second on a stale
/// screen, or a forwarded card): one broadcast, each reader gets it once, and one of the two
/// is told it was already sent.
#[tokio::test]
async fn two_operators_pressing_send_broadcast_once() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    let chats = readers(&app, 11_100, 3);
    let other = app.user(SECOND_OPERATOR, "en");
    operator.send_text("/broadcast Together");
    let card = next_messages(&operator, 2).await.remove(1);
    let send = card.button("✅ Send").unwrap().callback_data.clone().unwrap();
    // The other operator needs a message of the bot's to press a button on.
    let own = ask(&other, "/editions").await;
    let pressed = [operator.press(card.message_id, &send), other.press(own.message_id, &send)];
    let answers = [
        operator.wait_for_answer(&pressed[0], TIMEOUT).await.unwrap().text,
        other.wait_for_answer(&pressed[1], TIMEOUT).await.unwrap().text,
    ];
    eventually(TIMEOUT, "every reader has the broadcast", || {
        chats.iter().all(|&c| copies(&app, c, "Together") >= 1)
    })
    .await;
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    for &chat in &chats {
        assert_eq!(copies(&app, chat, "Together"), 1, "chat {chat}");
    }
    let told: Vec<_> = answers.iter().flatten().filter(|t| t.contains("already sent")).collect();
    assert_eq!(told.len(), 1, "{answers:?}");
    let audit = app.tribune.store().audit_latest(10).unwrap();
    let sent = audit.iter().filter(|a| a.action.starts_with("broadcast edition")).count();
    assert_eq!(sent, 1, "{audit:?}");
    let editions = app.tribune.store().editions_latest(10).unwrap();
    assert_eq!(editions.len(), 1, "one edition");
    app.stop().await;
}

/// `/addslogan <statement> [lang] <text>`: the words are checked against the statement in the
/// language given, and the slogan is stored in that language; without one, in the
/// statement's original language.
#[tokio::test]
async fn addslogan_checks_and_keeps_the_language_given() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    let corpus = app.tribune.corpus();
    // Written in Russian, translated into English.
    let statement = corpus.statement("cpa-izmir-speech").unwrap();
    assert_eq!(statement.original_language, Lang::Ru);
    let six = |lang| -> String {
        let paragraph = statement
            .paragraphs(lang)
            .iter()
            .find(|p| p.text.split(' ').count() > 8 && !p.text.contains('\n'))
            .unwrap();
        paragraph.text.split(' ').take(6).collect::<Vec<_>>().join(" ")
    };
    let (english, russian) = (six(Lang::En), six(Lang::Ru));

    // English words, no language: checked against the Russian original, and refused.
    let refused = ask(&operator, &format!("/addslogan cpa-izmir-speech {english}")).await;
    assert!(refused.plain_text().contains("not word for word"), "{}", refused.plain_text());
    let saved = ask(&operator, &format!("/addslogan cpa-izmir-speech en {english}")).await;
    assert!(saved.plain_text().starts_with("✅ Saved: slogan"), "{}", saved.plain_text());
    let slogan = app.tribune.corpus().slogans.last().unwrap().clone();
    assert_eq!((slogan.text.as_str(), slogan.lang), (english.as_str(), Lang::En));
    // Russian words with no language are the original's.
    let saved = ask(&operator, &format!("/addslogan cpa-izmir-speech {russian}")).await;
    assert!(saved.plain_text().starts_with("✅ Saved: slogan"), "{}", saved.plain_text());
    let slogan = app.tribune.corpus().slogans.last().unwrap().clone();
    assert_eq!((slogan.text.as_str(), slogan.lang), (russian.as_str(), Lang::Ru));
    // A language the words are not in is refused.
    let wrong = ask(&operator, &format!("/addslogan cpa-izmir-speech ru {english}")).await;
    assert!(wrong.plain_text().contains("not word for word"), "{}", wrong.plain_text());
    assert_eq!(app.tribune.store().edits().unwrap().len(), 2);
    app.stop().await;
}

/// `/audit` shows the latest 20 entries, newest first.
#[tokio::test]
async fn audit_shows_the_latest_twenty_newest_first() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    let now = app.tribune.clock().unix();
    for i in 1..=25 {
        app.tribune.store().audit(OPERATOR, format!("test action {i:02}"), now + i).unwrap();
    }
    let audit = ask(&operator, "/audit").await.plain_text();
    let shown: Vec<&str> =
        audit.lines().filter_map(|l| l.split("test action ").nth(1)).map(|n| n.trim()).collect();
    let expected: Vec<String> = (6..=25).rev().map(|i| format!("{i:02}")).collect();
    assert_eq!(shown, expected, "{audit}");
    app.stop().await;
}

/// A copy of `messages/` whose every paragraph is longer than a Telegram message, so that
/// every excerpt, and the digest that carries it, is sent in several parts.
fn long_paragraphs(to: &std::path::Path) {
    copy_dir(&messages_dir(), to);
    let filler = " Solidarity is our answer.".repeat(180);
    for entry in std::fs::read_dir(to.join("statements")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let (front, body) = text.split_once("\n+++\n").expect("front matter");
        let body: Vec<String> = body
            .lines()
            .map(|line| {
                if line.trim().is_empty() || line.starts_with('#') || line.starts_with("===") {
                    line.to_string()
                } else {
                    format!("{line}{filler}")
                }
            })
            .collect();
        std::fs::write(entry.path(), format!("{front}\n+++\n{}\n", body.join("\n"))).unwrap();
    }
}

/// A digest too long for one message went out in parts; `/correct` edits the first part
/// and deletes the others, so each chat is left with the correction alone.
#[tokio::test]
async fn a_correction_deletes_the_further_parts_of_a_long_message() {
    let messages = tempfile::tempdir().unwrap();
    long_paragraphs(messages.path());
    let app = spawn_app_with(Setup {
        operators: vec![OPERATOR],
        clock: Some(utc("2026-11-25T04:59:00Z")),
        messages_dir: Some(messages.path().to_path_buf()),
        ..Setup::default()
    })
    .await;
    let operator = app.user(OPERATOR, "en");
    let chats = readers(&app, 11_200, 2);
    app.set_time(utc("2026-11-25T05:00:00Z"));
    eventually(TIMEOUT, "the digest went out", || {
        chats.iter().all(|&c| app.emulator.chat_messages(c).len() >= 2)
    })
    .await;
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let parts: Vec<usize> = chats.iter().map(|&c| app.emulator.chat_messages(c).len()).collect();
    assert!(parts.iter().all(|&n| n >= 2), "the digests were sent in {parts:?} parts");
    assert!(app.emulator.chat_messages(chats[0])[0].plain_text().starts_with("🗞 Tribune"));
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;

    let started = ask(&operator, &format!("/correct {edition} Today's digest, corrected.")).await;
    assert!(started.plain_text().contains("Correction of edition"), "{}", started.plain_text());
    eventually(TIMEOUT, "each chat holds the correction alone", || {
        chats.iter().all(|&c| {
            let left: Vec<String> =
                app.emulator.chat_messages(c).iter().map(BotMessage::plain_text).collect();
            left == ["Today's digest, corrected."]
        })
    })
    .await;
    let further: usize = parts.iter().map(|n| n - 1).sum();
    assert_eq!(app.emulator.requests("deleteMessage"), further);
    app.stop().await;
}
