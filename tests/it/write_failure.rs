//! A store that cannot save (a full or failing disk), end to end: new subscriptions and
//! settings are refused with a short localised message, reading goes on, the scheduler logs
//! and retries instead of stopping, and everything works again once writes do.
//!
//! The failure is injected with `Store::fail_writes_for_test`: a real full disk needs a
//! small filesystem, which an unprivileged CI runner cannot mount, and sled refuses all writes
//! after its first I/O error until restarted, so "writes work again" could not be shown.

use crate::support::{Setup, TIMEOUT, ask, eventually, press, spawn_app_with, utc};
use std::time::Duration;

#[tokio::test]
async fn a_store_that_cannot_save_refuses_changes_and_recovers() {
    // 16:00 in Baku; the default digest time is 09:00 Baku time.
    let app =
        spawn_app_with(Setup { clock: Some(utc("2026-11-25T12:00:00Z")), ..Setup::default() })
            .await;
    let store = app.tribune.store().clone();
    let reader = app.user(200, "en");
    let card = ask(&reader, "/subscribe").await;
    assert!(card.plain_text().starts_with("✅ Subscribed."));

    store.fail_writes_for_test(true);
    let newcomer = app.user(201, "en");
    assert_eq!(
        ask(&newcomer, "/subscribe").await.plain_text(),
        "⚠️ Tribune cannot save changes right now. Please try again later."
    );
    assert!(store.subscription(201).unwrap().is_none());
    for (id, lang, expected) in [
        (
            202,
            "ru",
            "⚠️ Tribune сейчас не может сохранить изменения. Пожалуйста, попробуйте позже.",
        ),
        (
            203,
            "az",
            "⚠️ Tribune hazırda dəyişiklikləri yadda saxlaya bilmir. Zəhmət olmasa, bir az sonra yenidən cəhd edin.",
        ),
    ] {
        assert_eq!(ask(&app.user(id, lang), "/subscribe").await.plain_text(), expected);
    }
    // A settings button is refused with the same words, and the setting stays.
    let pressed = press(&reader, &card, "Weekly");
    let answer = reader.wait_for_answer(&pressed, TIMEOUT).await.unwrap();
    assert_eq!(
        answer.text.as_deref(),
        Some("⚠️ Tribune cannot save changes right now. Please try again later.")
    );
    assert_eq!(
        store.subscription(200).unwrap().unwrap().frequency,
        tribune::subscription::Frequency::Daily
    );
    // A language choice is not shown as made when it could not be saved.
    assert_eq!(
        ask(&newcomer, "/lang ru").await.plain_text(),
        "⚠️ Tribune cannot save changes right now. Please try again later."
    );
    assert_eq!(store.chat(201).unwrap().lang, None);
    // "Other time…" cannot be remembered either, and says so.
    let pressed = press(&reader, &card, "Other time…");
    let answer = reader.wait_for_answer(&pressed, TIMEOUT).await.unwrap();
    assert_eq!(
        answer.text.as_deref(),
        Some("⚠️ Tribune cannot save changes right now. Please try again later.")
    );
    // Reading needs no writes and goes on, typed searches too (no question is waiting).
    assert!(ask(&newcomer, "/slogan").await.plain_text().starts_with("✊ "));
    assert!(ask(&newcomer, "/prisoners").await.plain_text().contains("Ulvi Hasanli"));
    assert!(ask(&newcomer, "Hasanli").await.plain_text().contains("Ulvi Hasanli"));

    // The digest falls due while nothing can be saved: the scheduler tries, fails and tries
    // again (two failed passes prove it went on), and nothing was sent meanwhile.
    let (before, seen) = (app.tribune.scheduler_failures(), reader.messages().len());
    app.set_time(utc("2026-11-26T05:01:00Z"));
    let tribune = app.tribune.clone();
    eventually(TIMEOUT, "two failed scheduler passes", || {
        tribune.scheduler_failures() >= before + 2
    })
    .await;
    assert_eq!(reader.messages().len(), seen, "no digest can be queued without saving it first");

    store.fail_writes_for_test(false);
    let digest = reader.wait_for_messages(1, Duration::from_secs(20)).await.unwrap();
    assert!(digest[0].plain_text().starts_with("🗞 Tribune · "), "{}", digest[0].plain_text());
    assert!(ask(&newcomer, "/subscribe").await.plain_text().starts_with("✅ Subscribed."));
    assert!(store.subscription(201).unwrap().is_some());
    app.stop().await;
}
