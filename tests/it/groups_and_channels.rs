//! Group and channel subscriptions: who may change them, how channels are registered and
//! lost, and how a group that becomes a supergroup keeps its digests.

use crate::support::{Setup, TIMEOUT, ask, eventually, labels, next, press, spawn_app_with, utc};
use tribune::subscription::Frequency;

fn morning() -> Setup {
    // 08:00 in Baku; digests go at 09:00 by default.
    Setup { clock: Some(utc("2026-11-25T04:00:00Z")), operators: vec![900], ..Setup::default() }
}

#[tokio::test]
async fn only_group_administrators_change_the_subscription() {
    let app = spawn_app_with(morning()).await;
    let group = app.emulator.group(-4001, "Readers' circle");
    group.set_admins(&[100]);
    let member = app.user(200, "en");
    let as_member = group.as_member(&member);

    as_member.send_text("/subscribe@tribune_test_bot");
    let refused = as_member.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert_eq!(
        refused.plain_text(),
        "Only this group's administrators can change its subscription."
    );
    assert!(app.tribune.store().subscription(-4001).unwrap().is_none());

    group.send_text("/channels");
    let private_only = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert_eq!(private_only.plain_text(), "Please send /channels in a private chat with me.");
    group.send_text("/subscribe");
    let card = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert!(card.plain_text().starts_with("✅ Subscribed."), "{}", card.plain_text());
    assert!(app.tribune.store().subscription(-4001).unwrap().is_some());

    // A member pressing the admin's buttons changes nothing.
    let data = card.button("Off").expect("Off button").callback_data.clone().unwrap();
    let id = as_member.press(card.message_id, &data);
    let answer = as_member.wait_for_answer(&id, TIMEOUT).await.unwrap();
    assert_eq!(
        answer.text.as_deref(),
        Some("Only this group's administrators can change its subscription.")
    );
    assert_eq!(
        app.tribune.store().subscription(-4001).unwrap().unwrap().frequency,
        Frequency::Daily
    );

    // An anonymous administrator writes as the group itself and is trusted for that reason.
    group.send_text_as_anonymous_admin("/unsubscribe");
    let off = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert!(off.plain_text().starts_with("Digests stopped."), "{}", off.plain_text());
    app.stop().await;
}

#[tokio::test]
async fn the_anonymous_admin_bot_id_alone_is_not_trusted() {
    let app = spawn_app_with(morning()).await;
    let group = app.emulator.group(-4002, "Readers");
    // Someone pretending to be GroupAnonymousBot without writing as the group.
    let impostor = app.emulator.user(1_087_968_824, "Group", None);
    group.as_member(&impostor).send_text("/subscribe");
    let refused = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert_eq!(
        refused.plain_text(),
        "Only this group's administrators can change its subscription."
    );
    app.stop().await;
}

#[tokio::test]
async fn channels_register_themselves_and_are_set_up_from_a_private_chat() {
    let app = spawn_app_with(morning()).await;
    let operator = app.user(900, "en");
    let admin = app.user(300, "en");
    let stranger = app.user(301, "en");
    let channel = app.emulator.channel(-1_001_500, "Voice of the Street");
    channel.set_admins(&[300]);
    channel.add_bot_as_admin(300, true);
    let notice = next(&operator).await;
    assert_eq!(
        notice.plain_text(),
        "📣 Tribune can now post in the channel “Voice of the Street” (-1001500). Its administrators set it up with /channels."
    );
    let sub = app.tribune.store().subscription(-1_001_500).unwrap().expect("registered");
    assert_eq!(sub.frequency, Frequency::Off, "nothing is posted until an administrator chooses");

    assert!(
        ask(&stranger, "/channels")
            .await
            .plain_text()
            .starts_with("You administer no channel Tribune can post in.")
    );
    let list = ask(&admin, "/channels").await;
    assert_eq!(labels(&list), vec![vec!["📣 Voice of the Street"]]);
    press(&admin, &list, "Voice of the Street");
    let card = next(&admin).await;
    assert!(
        card.plain_text().starts_with("⚙️ Digest settings for Voice of the Street\n\nWhen: off"),
        "{}",
        card.plain_text()
    );
    press(&admin, &card, "Daily");
    let daily = admin.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(
        daily.plain_text().contains("Next digest: 25 November 2026, 09:00 (Asia/Baku)."),
        "{}",
        daily.plain_text()
    );

    // A forged button for the channel from someone who does not administer it.
    let forged = format!("S:{}:f:off", -1_001_500);
    let own = ask(&stranger, "/help").await;
    let id = stranger.press(own.message_id, &forged);
    assert_eq!(
        stranger.wait_for_answer(&id, TIMEOUT).await.unwrap().text.as_deref(),
        Some("Only this group's administrators can change its subscription.")
    );
    assert_eq!(
        app.tribune.store().subscription(-1_001_500).unwrap().unwrap().frequency,
        Frequency::Daily
    );

    // The digest is posted in the channel, with links rather than buttons that would post.
    app.set_time(utc("2026-11-25T05:00:00Z"));
    let post = channel.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert!(post.plain_text().starts_with("🗞 Tribune · 25 November 2026"));
    assert!(post.buttons.iter().flatten().all(|b| {
        b.url.as_deref().is_some_and(|u| u.starts_with("https://t.me/tribune_test_bot?start="))
    }));

    // Losing the right to post deactivates the channel and tells the operators.
    channel.remove_bot(300);
    let lost = next(&operator).await;
    assert_eq!(
        lost.plain_text(),
        "⚠️ Tribune can no longer post in the channel “Voice of the Street” (-1001500); its digests are stopped."
    );
    assert!(!app.tribune.store().subscription(-1_001_500).unwrap().unwrap().active);
    app.stop().await;
}

#[tokio::test]
async fn a_group_that_becomes_a_supergroup_keeps_its_subscription() {
    let app = spawn_app_with(morning()).await;
    let group = app.emulator.group(-4003, "Study group");
    group.send_text("/subscribe");
    group.wait_for_messages(1, TIMEOUT).await.unwrap();
    let supergroup = group.migrate_to_supergroup(-1_004_003);
    let store = app.tribune.store().clone();
    eventually(TIMEOUT, "the subscription moved", || {
        store.subscription(-1_004_003).unwrap().is_some()
    })
    .await;
    assert!(app.tribune.store().subscription(-4003).unwrap().is_none());
    app.set_time(utc("2026-11-25T05:00:00Z"));
    let digest = supergroup.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert!(digest.plain_text().starts_with("🗞 Tribune · 25 November 2026"));
    app.stop().await;
}

#[tokio::test]
async fn a_migration_found_while_sending_moves_the_subscription_and_resends() {
    let app = spawn_app_with(morning()).await;
    let group = app.emulator.group(-4004, "Old group");
    group.send_text("/subscribe");
    group.wait_for_messages(1, TIMEOUT).await.unwrap();
    // The group was upgraded without Tribune seeing the service message.
    let supergroup = group.migrate_to_supergroup(-1_004_004);
    app.set_time(utc("2026-11-25T05:00:00Z"));
    let digest = supergroup.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert!(digest.plain_text().starts_with("🗞 Tribune · 25 November 2026"));
    assert!(app.tribune.store().subscription(-1_004_004).unwrap().is_some());
    app.stop().await;
}

#[tokio::test]
async fn channels_named_in_the_configuration_are_registered_at_start() {
    let emulator = telegram_bot_api_emulator::Emulator::start().await.unwrap();
    let channel = emulator.channel(-1_001_700, "Configured");
    channel.add_bot_as_admin(100, true);
    let app = spawn_app_with(Setup {
        emulator: Some(emulator),
        channels: vec!["-1001700".into()],
        ..morning()
    })
    .await;
    let sub = app
        .tribune
        .store()
        .subscription(-1_001_700)
        .unwrap()
        .expect("registered from the configuration");
    assert_eq!(sub.kind, tribune::subscription::ChatKind::Channel);
    app.stop().await;
}
