//! Subscriptions and scheduled digests in a private chat, end to end, on a manual clock.

use crate::support::{Setup, TIMEOUT, ask, labels, next, press, spawn_app_with, utc};
use std::time::Duration;
use telegram_bot_api_emulator::BotMessage;
use telegram_bot_api_emulator::{Fault, FaultTarget};
use tribune::{content::Lang, subscription::Frequency};

fn at(start: &str) -> Setup {
    Setup { clock: Some(utc(start)), ..Setup::default() }
}

#[tokio::test]
async fn subscribing_shows_the_card_and_buttons_set_values() {
    // 16:00 in Baku: today's 09:00 has passed.
    let app = spawn_app_with(at("2026-11-25T12:00:00Z")).await;
    let user = app.user(100, "en");
    let card = ask(&user, "/subscribe").await;
    let text = card.plain_text();
    assert!(text.starts_with("✅ Subscribed.\n\n⚙️ Digest settings\n\nWhen: every day, 09:00 (Asia/Baku)\nWhat: slogan, excerpt, prisoner news\nLanguage: English"), "{text}");
    assert!(text.ends_with("Next digest: 26 November 2026, 09:00 (Asia/Baku)."), "{text}");
    assert_eq!(labels(&card)[0], vec!["● Daily", "Weekly", "Off"]);

    press(&user, &card, "Weekly");
    let weekly = user.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(
        weekly.plain_text().contains("When: every Monday, 09:00 (Asia/Baku)"),
        "{}",
        weekly.plain_text()
    );
    assert_eq!(labels(&weekly)[1], vec!["● Mon", "Tue", "Wed", "Thu"]);
    press(&user, &weekly, "Fri");
    let friday = user.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(friday.plain_text().contains("Next digest: 27 November 2026, 09:00 (Asia/Baku)."));
    press(&user, &friday, "Berlin");
    let berlin = user.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(berlin.plain_text().contains("When: every Friday, 09:00 (Europe/Berlin)"));
    press(&user, &berlin, "☑ Slogan");
    let no_slogan = user.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(no_slogan.plain_text().contains("What: excerpt, prisoner news"));
    // Pressing the same (stale) button again sets the same value: nothing toggles back.
    let again = press(&user, &berlin, "☑ Slogan");
    user.wait_for_answer(&again, TIMEOUT).await.unwrap();
    assert!(user.messages().last().unwrap().plain_text().contains("What: excerpt, prisoner news"));
    let sub = app.tribune.store().subscription(100).unwrap().unwrap();
    assert!(!sub.contents.slogan);
    assert_eq!(sub.zone.name(), "Europe/Berlin");
    app.stop().await;
}

#[tokio::test]
async fn any_time_and_zone_can_be_typed() {
    let app = spawn_app_with(at("2026-11-25T12:00:00Z")).await;
    let user = app.user(101, "en");
    let card = ask(&user, "/subscribe").await;
    press(&user, &card, "Other time…");
    assert_eq!(
        next(&user).await.plain_text(),
        "Send the time of day for digests, like 07:30 (24-hour)."
    );
    assert_eq!(
        ask(&user, "quarter past seven").await.plain_text(),
        "“quarter past seven” is not a time of day. Send it like 07:30 (24-hour)."
    );
    let saved = ask(&user, "7:15").await;
    assert_saved_at_0715(&saved);
    press(&user, &saved, "Other zone…");
    next(&user).await;
    assert!(
        ask(&user, "Mars/Olympus")
            .await
            .plain_text()
            .starts_with("I don't know the time zone “Mars/Olympus”.")
    );
    let zoned = ask(&user, "america/new york").await;
    assert!(
        zoned.plain_text().contains("When: every day, 07:15 (America/New_York)"),
        "{}",
        zoned.plain_text()
    );
    assert!(
        zoned.plain_text().contains("Next digest: 25 November 2026, 07:15 (America/New_York).")
    );
    app.stop().await;
}

/// "Other time…" and "Other zone…" wait in the store: an answer typed after a restart is
/// understood; one typed after the question expired is not taken as a setting; `/stop`
/// erases a waiting question with the rest of the chat.
#[tokio::test]
async fn a_question_outlives_a_restart_until_it_expires() {
    let data = tempfile::tempdir().unwrap();
    let setup = |emulator, now: &str| Setup {
        clock: Some(utc(now)),
        data_dir: Some(data.path().to_path_buf()),
        emulator,
        ..Setup::default()
    };
    let app = spawn_app_with(setup(None, "2026-11-25T12:00:00Z")).await;
    let user = app.user(103, "en");
    let card = ask(&user, "/subscribe").await;
    press(&user, &card, "Other time…");
    assert!(next(&user).await.plain_text().starts_with("Send the time of day"));
    let emulator = app.stop_bot().await;

    let app = spawn_app_with(setup(Some(emulator), "2026-11-25T12:05:00Z")).await;
    let saved = ask(&user, "7:15").await;
    assert_saved_at_0715(&saved);
    assert_eq!(app.tribune.store().subscription(103).unwrap().unwrap().time.to_string(), "07:15");
    press(&user, &saved, "Other zone…");
    next(&user).await;
    let emulator = app.stop_bot().await;

    // Half an hour later the question has expired: the zone typed now is a search, not a
    // setting.
    let app = spawn_app_with(setup(Some(emulator), "2026-11-25T12:36:00Z")).await;
    let late = ask(&user, "Europe/Berlin").await;
    assert!(!late.plain_text().starts_with("Saved."), "{}", late.plain_text());
    assert_eq!(app.tribune.store().subscription(103).unwrap().unwrap().zone.name(), "Asia/Baku");

    press(&user, &saved, "Other zone…");
    next(&user).await;
    ask(&user, "/stop").await;
    assert_eq!(app.tribune.store().trees_naming(103).unwrap(), Vec::<String>::new());
    app.stop().await;
}

/// The card shown after 07:15 was typed as the digest time, in Baku's zone.
fn assert_saved_at_0715(saved: &BotMessage) {
    let text = saved.plain_text();
    let expected = "Saved.\n\n⚙️ Digest settings\n\nWhen: every day, 07:15 (Asia/Baku)";
    assert!(text.starts_with(expected), "{text}");
}

#[tokio::test]
async fn digests_arrive_at_the_local_time_and_rotate() {
    // 08:59 in Baku.
    let app = spawn_app_with(at("2026-11-25T04:59:00Z")).await;
    let user = app.user(102, "en");
    ask(&user, "/subscribe").await;
    app.set_time(utc("2026-11-25T04:59:59Z"));
    app.set_time(utc("2026-11-25T05:00:00Z"));
    let first = next(&user).await;
    assert!(
        first.plain_text().starts_with("🗞 Tribune · 25 November 2026\n\n✊ "),
        "{}",
        first.plain_text()
    );
    assert!(first.plain_text().contains("⛓ Political prisoners: 13 behind bars"));
    app.set_time(utc("2026-11-26T05:00:00Z"));
    let second = next(&user).await;
    assert!(second.plain_text().starts_with("🗞 Tribune · 26 November 2026"));
    assert!(
        second.plain_text().contains("No changes since your last digest"),
        "the list is sent once, then changes"
    );
    let quote =
        |text: &str| text.split("\n— ").next().unwrap().rsplit("\n\n").next().unwrap().to_string();
    assert_ne!(quote(&first.plain_text()), quote(&second.plain_text()), "another excerpt");
    app.stop().await;
}

#[tokio::test]
async fn after_downtime_one_digest_catches_up() {
    let app = spawn_app_with(at("2026-11-25T04:00:00Z")).await;
    let user = app.user(103, "en");
    ask(&user, "/subscribe").await;
    // Three slots pass at once (as if Tribune had been down).
    app.set_time(utc("2026-11-28T06:00:00Z"));
    let digest = next(&user).await;
    assert!(digest.plain_text().starts_with("🗞 Tribune · 28 November 2026"));
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    assert_eq!(user.messages().len(), 2, "the card and one digest");
    let sub = app.tribune.store().subscription(103).unwrap().unwrap();
    assert_eq!(sub.next_due, Some(utc("2026-11-29T05:00:00Z").timestamp()));
    app.stop().await;
}

#[tokio::test]
async fn unsubscribe_keeps_settings_and_stop_erases_everything() {
    let app = spawn_app_with(at("2026-11-25T04:00:00Z")).await;
    let user = app.user(104, "en");
    ask(&user, "/subscribe").await;
    ask(&user, "/lang ru").await;
    assert_eq!(
        app.tribune.store().subscription(104).unwrap().unwrap().lang,
        Lang::Ru,
        "digests follow /lang"
    );
    let off = ask(&user, "/unsubscribe").await;
    assert_eq!(
        off.plain_text(),
        "Сводки остановлены. Настройки сохранены: /subscribe возобновит сводки, /stop сотрёт всё."
    );
    let sub = app.tribune.store().subscription(104).unwrap().unwrap();
    assert_eq!((sub.frequency, sub.next_due), (Frequency::Off, None));
    app.set_time(utc("2026-11-26T06:00:00Z"));
    let resumed = ask(&user, "/subscribe").await;
    assert!(
        resumed.plain_text().contains("Язык: Русский"),
        "settings kept: {}",
        resumed.plain_text()
    );
    assert_eq!(
        ask(&user, "/stop now").await.plain_text(),
        "После /stop ничего писать не нужно: просто отправьте /stop."
    );
    assert!(app.tribune.store().subscription(104).unwrap().is_some(), "nothing erased on a guess");
    let stopped = ask(&user, "/stop").await;
    assert_eq!(
        stopped.plain_text(),
        "Готово: всё, что Tribune хранил об этом чате, стёрто. Чтобы вернуться, отправьте /start в любое время."
    );
    assert!(app.tribune.store().subscription(104).unwrap().is_none());
    assert_eq!(app.tribune.store().chat(104).unwrap().lang, None);
    assert_eq!(app.tribune.store().first_due().unwrap(), None);
    assert_eq!(
        ask(&user, "/settings").await.plain_text(),
        "This chat has no subscription. Send /subscribe to get digests.",
        "back to Telegram's language after /stop"
    );
    app.stop().await;
}

/// How the send of the digest in flight at `/stop` ends.
enum SendEnds {
    /// Telegram answers it: the send is confirmed after `/stop`.
    Answered,
    /// The connection is cut without an answer, as when the request times out: the send
    /// failed (as far as Tribune knows) after `/stop`.
    Cut,
}

/// `/stop` while the chat's digest is in flight: the emulator holds the send's answer until
/// `/stop` has been answered, then answers it or cuts it (no race with a fixed delay). Once
/// the engine is idle, the chat got that one digest and nothing more, and no tree names it.
async fn stop_while_the_digest_is_in_flight(chat: i64, ends: SendEnds) {
    let app = spawn_app_with(at("2026-11-25T04:00:00Z")).await;
    let user = app.user(chat, "en");
    ask(&user, "/subscribe").await;
    app.emulator.inject(FaultTarget::Chat(chat), Fault::Delay(Duration::from_secs(300)), Some(1));
    app.set_time(utc("2026-11-25T05:00:00Z"));
    // The emulator shows a delayed message at once and answers the send later.
    let digest = next(&user).await;
    assert!(digest.plain_text().starts_with("🗞 Tribune · "), "{}", digest.plain_text());
    ask(&user, "/stop").await;
    assert!(app.bot.engine().pending() > 0, "the digest was no longer in flight at /stop");
    match ends {
        SendEnds::Answered => app.emulator.release_delayed(),
        SendEnds::Cut => app.emulator.cut_delayed(),
    }
    assert!(app.bot.engine().wait_idle(TIMEOUT).await, "the engine did not settle");
    let digests = app
        .emulator
        .chat_messages(chat)
        .iter()
        .filter(|m| m.plain_text().starts_with("🗞 Tribune · "))
        .count();
    assert_eq!(digests, 1, "only the digest in flight at /stop reached the chat");
    assert_eq!(app.tribune.store().trees_naming(chat).unwrap(), Vec::<String>::new());
    app.stop().await;
}

// Regression: a send that timed out while `/stop` ran was retried, to the erased chat.
#[tokio::test]
async fn a_digest_failing_while_stop_runs_is_not_retried() {
    stop_while_the_digest_is_in_flight(3_000_107, SendEnds::Cut).await;
}

// Regression: a send confirmed after `/stop` wrote a delivery record naming the erased chat.
#[tokio::test]
async fn a_digest_confirmed_after_stop_leaves_no_record() {
    stop_while_the_digest_is_in_flight(3_000_108, SendEnds::Answered).await;
}

/// A round to more readers than the delivery engine holds is composed as it is sent: the
/// scheduler waits for room rather than composing every digest at once, and still makes one
/// edition that reaches every reader, each getting one digest.
#[tokio::test]
async fn a_round_larger_than_the_engine_holds_is_one_edition_sent_once_to_each() {
    const READERS: i64 = 60;
    let limits = tribune::delivery::Limits { held: 8, ..tribune::delivery::Limits::off() };
    let app = spawn_app_with(Setup { limits, ..at("2026-11-25T04:00:00Z") }).await;
    let users: Vec<_> = (0..READERS).map(|i| app.user(5_000_000_000 + i, "en")).collect();
    for user in &users {
        ask(user, "/subscribe").await;
    }
    app.set_time(utc("2026-11-25T05:00:00Z"));
    for user in &users {
        let digest = next(user).await;
        assert!(digest.plain_text().starts_with("🗞 Tribune · 25 November 2026"));
    }
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    for user in &users {
        assert_eq!(user.messages().len(), 2, "the card and one digest");
    }
    let store = app.tribune.store();
    let (edition, _, reached) = store.editions_latest(1).unwrap().remove(0);
    assert_eq!(reached, READERS as usize, "one edition reached all");
    assert_eq!(store.deliveries(edition).unwrap().len(), READERS as usize);
    assert!(store.outbox_is_empty());
    app.stop().await;
}
