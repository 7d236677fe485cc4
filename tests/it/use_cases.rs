//! Use cases whose decision moved into `app/`, end to end: the one operator command set behind
//! one check, resuming the schedule that was chosen, the group language needing its
//! administrators, and the withdrawal window decided by the one clock.

use crate::support::{
    Setup, TIMEOUT, TestApp, ask, eventually, labels, next, press, spawn_app_with, utc,
};
use telegram_bot_api_emulator::BotMessage;
use tribune::{content::Lang, render::OPERATOR_COMMANDS, subscription::Frequency};

const OPERATOR: i64 = 900;
const REFUSED: &str = "This command is for Tribune's operators.";
const ADMINS_ONLY: &str = "Only this group's administrators can change its subscription.";

fn at(start: &str) -> Setup {
    Setup { clock: Some(utc(start)), operators: vec![OPERATOR], ..Setup::default() }
}

#[tokio::test]
async fn operator_lists_every_operator_command_and_a_reader_is_refused_each() {
    let app = spawn_app_with(at("2026-11-25T12:00:00Z")).await;
    let operator = app.user(OPERATOR, "en");
    let help = ask(&operator, "/operator").await.plain_text();
    for command in OPERATOR_COMMANDS.iter().filter(|c| **c != "operator") {
        assert!(help.lines().any(|l| l.starts_with(&format!("/{command} "))), "/{command}: {help}");
    }
    for (i, command) in OPERATOR_COMMANDS.iter().enumerate() {
        // One reader per command, so the flood allowance never answers instead.
        let reader = app.user(700 + i as i64, "en");
        assert_eq!(ask(&reader, &format!("/{command}")).await.plain_text(), REFUSED, "{command}");
    }
    assert_eq!(app.emulator.requests("sendPhoto"), 0, "no chart for a reader");
    app.stop().await;
}

/// Presses `label` on the card in place and returns the card as it was edited.
async fn set(user: &telegram_bot_api_emulator::User, card: &BotMessage, label: &str) -> BotMessage {
    press(user, card, label);
    user.wait_for_edit(card.message_id, TIMEOUT).await.expect("the card is edited")
}

#[tokio::test]
async fn unsubscribe_then_subscribe_resumes_the_weekly_schedule_chosen() {
    // Wednesday, 16:00 in Baku.
    let app = spawn_app_with(at("2026-11-25T12:00:00Z")).await;
    let user = app.user(710, "en");
    let card = ask(&user, "/subscribe").await;
    let weekly = set(&user, &card, "Weekly").await;
    assert!(weekly.plain_text().contains("When: every Monday, 09:00 (Asia/Baku)"));
    let at_nine_pm = set(&user, &weekly, "21:00").await;
    assert!(
        at_nine_pm.plain_text().contains("When: every Monday, 21:00 (Asia/Baku)"),
        "{}",
        at_nine_pm.plain_text()
    );
    let off = ask(&user, "/unsubscribe").await.plain_text();
    assert!(off.contains("Your settings are kept: /subscribe resumes them"), "{off}");

    let resumed = ask(&user, "/subscribe").await.plain_text();
    assert!(resumed.contains("When: every Monday, 21:00 (Asia/Baku)"), "{resumed}");
    assert!(resumed.contains("Next digest: 30 November 2026, 21:00 (Asia/Baku)."), "{resumed}");
    let monday_nine_pm = utc("2026-11-30T17:00:00Z");
    let sub = app.tribune.store().subscription(710).unwrap().unwrap();
    assert_eq!(sub.frequency, Frequency::Weekly { day: chrono::Weekday::Mon });
    assert_eq!(app.tribune.store().first_due().unwrap(), Some(monday_nine_pm.timestamp()));

    app.set_time(monday_nine_pm);
    let digest = next(&user).await.plain_text();
    assert!(digest.starts_with("🗞 Tribune · 30 November 2026"), "{digest}");
    app.stop().await;
}

/// A group subscribed by its creator (an administrator), with an English digest due at 09:00
/// Baku time, and a member who is not an administrator.
async fn group_with_member(
    app: &TestApp,
) -> (telegram_bot_api_emulator::Group, telegram_bot_api_emulator::Group) {
    let group = app.emulator.group(-4701, "Readers' circle");
    group.set_admins(&[100]);
    group.send_text("/subscribe");
    let card = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert!(card.plain_text().starts_with("✅ Subscribed."), "{}", card.plain_text());
    let member = app.user(720, "en");
    (group.clone(), group.as_member(&member))
}

#[tokio::test]
async fn in_a_group_only_administrators_change_the_language_of_its_digests() {
    // 08:00 in Baku; the group's digest goes at 09:00.
    let app = spawn_app_with(at("2026-11-25T04:00:00Z")).await;
    let (group, member) = group_with_member(&app).await;

    member.send_text("/lang@tribune_test_bot ru");
    let refused = member.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert_eq!(refused.plain_text(), ADMINS_ONLY);
    // The chooser is shown to anyone; its buttons are not for anyone.
    member.send_text("/lang@tribune_test_bot");
    let chooser = member.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert_eq!(labels(&chooser)[0], vec!["English", "Русский", "Azərbaycanca"]);
    let data = chooser.button("Русский").unwrap().callback_data.clone().unwrap();
    let pressed = member.press(chooser.message_id, &data);
    let answer = member.wait_for_answer(&pressed, TIMEOUT).await.unwrap();
    assert_eq!(answer.text.as_deref(), Some(ADMINS_ONLY));
    assert_eq!(app.tribune.lang_for(-4701, None), Lang::En);
    assert_eq!(app.tribune.store().subscription(-4701).unwrap().unwrap().lang, Lang::En);

    app.set_time(utc("2026-11-25T05:00:00Z"));
    let digest = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0).plain_text();
    assert!(digest.starts_with("🗞 Tribune · 25 November 2026"), "still English: {digest}");

    // An administrator may, by command or by button.
    group.send_text("/lang ru");
    let set = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0).plain_text();
    assert!(!set.contains("administrators"), "{set}");
    assert_eq!(app.tribune.store().subscription(-4701).unwrap().unwrap().lang, Lang::Ru);
    let pressed = group.press(
        chooser.message_id,
        &chooser.button("English").unwrap().callback_data.clone().unwrap(),
    );
    let answer = group.wait_for_answer(&pressed, TIMEOUT).await.unwrap();
    assert_ne!(answer.text.as_deref(), Some(ADMINS_ONLY));
    eventually(TIMEOUT, "the administrator's button set English", || {
        app.tribune.store().subscription(-4701).unwrap().is_some_and(|s| s.lang == Lang::En)
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_48_hour_withdrawal_window_is_decided_by_the_app_s_clock() {
    let app = spawn_app_with(at("2026-11-25T04:00:00Z")).await;
    let operator = app.user(OPERATOR, "en");
    let reader = app.user(730, "en");
    ask(&reader, "/subscribe").await;
    operator.send_text("/broadcast Meeting on Friday");
    assert_eq!(next(&operator).await.plain_text(), "Meeting on Friday");
    let card = next(&operator).await;
    press(&operator, &card, "Send");
    assert!(next(&operator).await.plain_text().contains("Done:"));
    assert_eq!(next(&reader).await.plain_text(), "Meeting on Friday");
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    // Stamped by the app's clock, as `/editions` shows.
    let editions = ask(&operator, "/editions").await.plain_text();
    assert!(
        editions.contains(&format!("{edition} · broadcast · 2026-11-25 04:00 UTC")),
        "{editions}"
    );

    // 48 hours and a second later by the same clock, Telegram would refuse the deletion.
    app.set_time(utc("2026-11-27T04:00:01Z"));
    let old = ask(&operator, &format!("/withdraw {edition}")).await.plain_text();
    assert!(old.starts_with("Telegram lets bots delete their messages only within 48"), "{old}");
    let kept = app.emulator.chat_messages(730);
    assert!(kept.iter().any(|m| m.plain_text() == "Meeting on Friday"), "not withdrawn");
    app.stop().await;
}
