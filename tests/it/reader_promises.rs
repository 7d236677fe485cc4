//! Readers' and running-service promises that had no end-to-end test (issue 15): `/read <n>
//! <page>`, the settings card's language buttons, a group administrator demoted between two
//! presses, an expired question swept from a running bot, the daily subscriber census taken
//! by `serve`, and channels named by `@username` in `TRIBUNE_CHANNELS`.

use crate::support::{
    Setup, TIMEOUT, ask, eventually, labels, next, press, spawn_app, spawn_app_with, utc,
};
use telegram_bot_api_emulator::Emulator;
use tribune::{
    content::Lang,
    stats::{StatsReport, day_date},
    store::day_of,
    subscription::{ChatKind, Frequency},
};

const ADMINS_ONLY: &str = "Only this group's administrators can change its subscription.";

fn at(start: &str) -> Setup {
    Setup { clock: Some(utc(start)), ..Setup::default() }
}

/// `/read <n> <page>` opens that page, the same one ▶ leads to, with both arrows.
#[tokio::test]
async fn read_opens_the_page_asked_for() {
    let app = spawn_app().await;
    let user = app.user(12_000, "en");
    let first = ask(&user, "/read 1").await;
    press(&user, &first, "▶");
    let by_arrow = user.wait_for_edit(first.message_id, TIMEOUT).await.unwrap();
    let asked = ask(&user, "/read 1 2").await;
    assert!(asked.plain_text().contains("Page 2 of "), "{}", asked.plain_text());
    assert_eq!(asked.plain_text(), by_arrow.plain_text());
    assert_eq!(labels(&asked)[0], labels(&by_arrow)[0]);
    assert_eq!(labels(&asked)[0].first().map(String::as_str), Some("◀"));
    // In a reader's language: page 2 of the Russian original.
    ask(&user, "/lang ru").await;
    let russian = ask(&user, "/read 2 2").await.plain_text();
    assert!(russian.contains("Страница 2 из "), "{russian}");
    assert_ne!(russian, ask(&user, "/read 2 1").await.plain_text());
    app.stop().await;
}

/// The card's language row sets the language of the chat's digests: the next digest comes
/// in it.
#[tokio::test]
async fn the_settings_card_language_button_sets_the_digests_language() {
    // 08:59 in Baku; the digest goes at 09:00.
    let app = spawn_app_with(at("2026-11-25T04:59:00Z")).await;
    let user = app.user(12_100, "en");
    let card = ask(&user, "/subscribe").await;
    assert!(card.plain_text().contains("Language: English"), "{}", card.plain_text());
    let row = labels(&card).into_iter().find(|r| r.iter().any(|l| l.contains("Русский")));
    assert_eq!(row.unwrap(), ["● English", "Русский", "Azərbaycanca"]);
    press(&user, &card, "Русский");
    let edited = user.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(edited.plain_text().contains("Русский"), "{}", edited.plain_text());
    assert!(!edited.plain_text().contains("Language: English"), "{}", edited.plain_text());
    let row = labels(&edited).into_iter().find(|r| r.iter().any(|l| l.contains("English")));
    assert_eq!(row.unwrap(), ["English", "● Русский", "Azərbaycanca"]);
    assert_eq!(app.tribune.store().subscription(12_100).unwrap().unwrap().lang, Lang::Ru);

    app.set_time(utc("2026-11-25T05:00:00Z"));
    let digest = next(&user).await.plain_text();
    assert!(digest.starts_with("🗞 Tribune · 25 ноябр"), "a Russian digest: {digest}");
    app.stop().await;
}

/// Whether someone administers a group is asked of Telegram at each press: an administrator
/// demoted between two presses of the same card is refused the second.
#[tokio::test]
async fn a_group_admin_demoted_between_presses_is_refused() {
    let app = spawn_app_with(at("2026-11-25T04:00:00Z")).await;
    let group = app.emulator.group(-12_200, "Study circle");
    group.set_admins(&[100]);
    group.send_text("/subscribe");
    let card = group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert!(card.plain_text().starts_with("✅ Subscribed."), "{}", card.plain_text());
    press_in(&group, &card, "Weekly").await;
    let weekly = group.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(weekly.plain_text().contains("every Monday"), "{}", weekly.plain_text());

    // Person 100 is no longer an administrator; someone else is.
    group.set_admins(&[12_201]);
    let answer = press_in(&group, &weekly, "Daily").await;
    assert_eq!(answer.as_deref(), Some(ADMINS_ONLY));
    let sub = app.tribune.store().subscription(-12_200).unwrap().unwrap();
    assert!(matches!(sub.frequency, Frequency::Weekly { .. }), "{:?}", sub.frequency);
    app.stop().await;
}

/// Presses `label` on `message` in a group; the answer's text.
async fn press_in(
    group: &telegram_bot_api_emulator::Group,
    message: &telegram_bot_api_emulator::BotMessage,
    label: &str,
) -> Option<String> {
    let data = message.button(label).unwrap().callback_data.clone().unwrap();
    let id = group.press(message.message_id, &data);
    group.wait_for_answer(&id, TIMEOUT).await.unwrap().text
}

/// A question ("Other time…") left unanswered is forgotten by the running bot once it
/// expires (PRIVACY.md: expired ones are swept once a minute), and a time typed afterwards
/// is not taken as an answer.
#[tokio::test]
async fn an_expired_question_is_swept_from_a_running_bot() {
    let app = spawn_app_with(at("2026-11-25T12:00:00Z")).await;
    let user = app.user(12_300, "en");
    let card = ask(&user, "/subscribe").await;
    press(&user, &card, "Other time…");
    assert!(next(&user).await.plain_text().starts_with("Send the time of day"));
    let store = app.tribune.store().clone();
    let waiting = || store.trees_naming(12_300).unwrap().contains(&"questions".to_string());
    assert!(waiting(), "{:?}", store.trees_naming(12_300).unwrap());

    // 29 minutes: still waiting. 31: gone, without anyone typing anything.
    app.set_time(utc("2026-11-25T12:29:00Z"));
    assert!(waiting(), "swept before it expired");
    app.set_time(utc("2026-11-25T12:31:00Z"));
    eventually(TIMEOUT, "the expired question is swept", || !waiting()).await;

    let late = ask(&user, "7:15").await.plain_text();
    assert!(!late.starts_with("Saved."), "{late}");
    let sub = app.tribune.store().subscription(12_300).unwrap().unwrap();
    assert_eq!(sub.time.to_string(), "09:00");
    app.stop().await;
}

/// `serve` records the subscriber counts once a UTC day on its own, so a day on which no
/// operator asked for `/stats` still has its point on the chart.
#[tokio::test]
async fn serve_takes_the_daily_census_without_anyone_asking() {
    let app = spawn_app_with(Setup {
        clock: Some(utc("2026-11-25T12:00:00Z")),
        operators: vec![900],
        ..Setup::default()
    })
    .await;
    let store = app.tribune.store().clone();
    let first = day_of(app.tribune.clock().unix());
    let active = |day: i64| store.subscriber_history(day, day).unwrap()[0].1.map(|c| c.active());
    eventually(TIMEOUT, "the census of the first day", || active(first).is_some()).await;
    for id in [12_400, 12_401] {
        ask(&app.user(id, "en"), "/subscribe").await;
    }
    app.set_time(utc("2026-11-26T00:05:00Z"));
    eventually(TIMEOUT, "the census of the second day", || active(first + 1).is_some()).await;
    assert_eq!(active(first + 1), Some(2));
    ask(&app.user(12_402, "en"), "/subscribe").await;
    app.set_time(utc("2026-11-27T00:05:00Z"));
    eventually(TIMEOUT, "the census of the third day", || active(first + 2).is_some()).await;
    assert_eq!(active(first + 2), Some(3));
    assert_eq!(active(first), Some(0));

    // What the operator sees: the history starts on the first day, each day as recorded.
    let operator = app.user(900, "en");
    operator.send_text("/stats");
    // The numbers, then the chart.
    let answer = operator.wait_for_messages(2, TIMEOUT).await.unwrap();
    let text = answer[0].plain_text();
    assert!(text.contains(&format!("history starts on {}", day_date(first))), "{text}");
    let report = StatsReport::collect(&store, app.tribune.clock().unix()).unwrap();
    let days = report.chart().days;
    let last: Vec<Option<u64>> = days[days.len() - 3..].iter().map(|d| d.subscribers).collect();
    assert_eq!(last, [Some(0), Some(2), Some(3)]);
    app.stop().await;
}

/// `TRIBUNE_CHANNELS` may name a public channel by `@username` (any case): it is found with
/// getChat and registered at start; a name that finds nothing is logged and skipped.
#[tokio::test]
async fn channels_named_by_username_are_registered_at_start() {
    let emulator = Emulator::start().await.unwrap();
    let channel = emulator.channel(-1_001_240_000, "Street Voice");
    channel.set_username("streetvoice");
    channel.set_admins(&[12_500]);
    channel.add_bot_as_admin(12_500, true);
    // That update went to an earlier run: only the configuration tells this one of the channel.
    confirm_updates(&emulator).await;
    let app = spawn_app_with(Setup {
        emulator: Some(emulator),
        channels: vec!["@StreetVoice".into(), "@nosuchchannel".into()],
        ..at("2026-11-25T04:00:00Z")
    })
    .await;
    let sub = app.tribune.store().subscription(-1_001_240_000).unwrap().expect("registered");
    assert_eq!(sub.kind, ChatKind::Channel);
    let channels = app.tribune.store().subscriptions().filter(|s| s.kind == ChatKind::Channel);
    assert_eq!(channels.count(), 1, "the unknown name registered nothing");
    // Its administrator sets it up from a private chat.
    let admin = app.user(12_500, "en");
    let list = ask(&admin, "/channels").await;
    assert_eq!(labels(&list), vec![vec!["📣 Street Voice"]]);
    app.stop().await;
}

/// Takes and confirms every update waiting, as an earlier run of the bot would have.
async fn confirm_updates(emulator: &Emulator) {
    let url = format!("{}bot{}/getUpdates", emulator.api_url(), emulator.token());
    let http = reqwest::Client::new();
    let body: serde_json::Value =
        http.post(&url).json(&serde_json::json!({})).send().await.unwrap().json().await.unwrap();
    let last = body["result"].as_array().unwrap().iter().filter_map(|u| u["update_id"].as_i64());
    let offset = last.max().expect("the bot's promotion is an update") + 1;
    let confirm = serde_json::json!({ "offset": offset, "timeout": 0 });
    http.post(&url).json(&confirm).send().await.unwrap();
    assert_eq!(emulator.pending_updates(), 0);
}

/// README: notices to operators about channels adding or removing Tribune come 5 per ten
/// minutes, then one summary (adding a bot to a channel costs an attacker nothing).
#[tokio::test]
async fn channel_notices_are_five_per_ten_minutes_then_one_summary() {
    let app = spawn_app_with(Setup {
        clock: Some(utc("2026-11-25T04:00:00Z")),
        operators: vec![900],
        ..Setup::default()
    })
    .await;
    let operator = app.user(900, "en");
    for i in 0..7 {
        let channel = app.emulator.channel(-1_001_250_000 - i, &format!("Channel {i}"));
        channel.add_bot_as_admin(100, true);
    }
    let store = app.tribune.store().clone();
    eventually(TIMEOUT, "all seven channels are registered", || {
        store.subscriptions().filter(|s| s.kind == ChatKind::Channel).count() == 7
    })
    .await;
    let told = operator.wait_for_messages(5, TIMEOUT).await.unwrap();
    assert!(told.iter().all(|m| m.plain_text().starts_with("📣 Tribune can now post")));

    // Ten minutes later (and the half-minute check), the two held back are summed up.
    app.set_time(utc("2026-11-25T04:10:31Z"));
    let summary = next(&operator).await.plain_text();
    assert!(summary.starts_with("📣 2 more channels added or removed Tribune"), "{summary}");
    let all: Vec<String> = operator.messages().iter().map(|m| m.plain_text()).collect();
    assert_eq!(all.len(), 6, "five notices and the summary: {all:?}");
    app.stop().await;
}

/// README: `@<bot>` alone offers the slogan of the day and five prisoner cards, "a different
/// five each day".
#[tokio::test]
async fn an_empty_inline_query_offers_a_different_five_prisoners_each_day() {
    let app = spawn_app_with(at("2026-11-25T04:00:00Z")).await;
    let prisoners = |results: &[telegram_bot_api_emulator::InlineArticle]| {
        let mut ids: Vec<String> =
            results.iter().filter(|r| r.id.starts_with("p_")).map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    let today = app.user(12_600, "en").inline_query("", TIMEOUT).await.unwrap();
    let first = prisoners(&today.results);
    assert_eq!(first.len(), 5, "{first:?}");
    // Another reader the same day: the same five.
    let again = app.user(12_601, "en").inline_query("", TIMEOUT).await.unwrap();
    assert_eq!(prisoners(&again.results), first);
    app.set_time(utc("2026-11-26T04:00:00Z"));
    let tomorrow = app.user(12_602, "en").inline_query("", TIMEOUT).await.unwrap();
    let second = prisoners(&tomorrow.results);
    assert_eq!(second.len(), 5, "{second:?}");
    // Thirteen are held: two days running share no one.
    assert!(second.iter().all(|id| !first.contains(id)), "{first:?} then {second:?}");
    app.stop().await;
}
