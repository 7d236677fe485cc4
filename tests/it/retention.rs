//! Nothing kept forever: delivery records go after their period (and `/withdraw` or
//! `/correct` of an edition that old says so), and a chat that blocked the bot is erased
//! after the grace period, as `/stop` would. Driven by the app's manual clock; the pruning
//! task runs on that clock, as `serve` runs it.

use crate::support::{Setup, TIMEOUT, ask, eventually, spawn_app_with};
use chrono::{DateTime, Duration, Utc};
use tribune::{app::Caller, content::Lang};

const OPERATOR: i64 = 900;

/// 05:00 UTC (when a new reader's digest is due) sixty days ago: the bot drops messages older
/// than five minutes by its clock, so the test's days all lie in the past of the messages the
/// emulator dates now.
fn day0() -> DateTime<Utc> {
    let date = (Utc::now() - Duration::days(60)).date_naive();
    date.and_hms_opt(5, 0, 0).expect("a time").and_utc()
}

#[tokio::test]
async fn old_editions_expire_and_a_blocked_reader_is_erased_after_the_grace_period() {
    let day0 = day0();
    let app = spawn_app_with(Setup {
        operators: vec![OPERATOR],
        clock: Some(day0 - Duration::minutes(1)),
        ..Setup::default()
    })
    .await;
    let operator = app.user(OPERATOR, "en");
    // Realistic ten-digit ids.
    let (staying, leaving) = (7_001_000_001, 7_001_000_002);
    app.user(staying, "en");
    app.tribune.subscribe(&Caller::private(staying), Lang::En).unwrap();
    let reader = app.user(leaving, "en");
    ask(&reader, "/subscribe").await;
    ask(&reader, "/lang ru").await;
    reader.block_bot();

    app.set_time(day0);
    eventually(TIMEOUT, "the blocked reader is deactivated", || {
        app.tribune.store().subscription(leaving).unwrap().is_some_and(|s| !s.active)
    })
    .await;
    eventually(TIMEOUT, "the digest arrives", || !app.emulator.chat_messages(staying).is_empty())
        .await;
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let (edition, _, reached) = app.tribune.store().editions_latest(1).unwrap().remove(0);
    assert_eq!(reached, 2, "one sent, one deactivated");

    // Fifteen days on: the records of where it went are past their 14 days.
    app.set_time(day0 + Duration::days(15));
    for command in [format!("/withdraw {edition}"), format!("/correct {edition} New text")] {
        let answer = ask(&operator, &command).await.plain_text();
        assert_eq!(
            answer,
            format!(
                "Edition {edition} is older than 14 days: Tribune no longer keeps where it was \
                 sent, so it can be neither withdrawn nor corrected."
            )
        );
    }
    eventually(TIMEOUT, "the old edition's records are pruned", || {
        app.tribune.store().deliveries(edition).unwrap().is_empty()
    })
    .await;
    // Within the grace period the blocked reader is still kept (for the counts).
    let mut kept = app.tribune.store().trees_naming(leaving).unwrap();
    kept.sort();
    assert_eq!(kept, ["chats", "gone", "subs"], "its settings, and when it was found gone");

    // Thirty days after it was found gone, nothing names the chat any more.
    app.set_time(day0 + Duration::days(30));
    eventually(TIMEOUT, "the blocked reader is erased", || {
        app.tribune.store().trees_naming(leaving).unwrap().is_empty()
    })
    .await;
    assert!(app.tribune.store().subscription(staying).unwrap().is_some_and(|s| s.active));
    // Coming back, the reader is a stranger: the Russian chosen before is forgotten.
    let newcomer = app.user(7_001_000_003, "en");
    let welcome = ask(&newcomer, "/start").await.plain_text();
    assert_eq!(ask(&reader, "/start").await.plain_text(), welcome);
    app.stop().await;
}
