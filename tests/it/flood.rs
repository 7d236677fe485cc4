//! Under attack: forged input and floods cost the attacker's own updates, never anyone
//! else's. What a reader sees while Tribune is flooded from one group, by inline queries,
//! or by a forged button, and what a flooder sees (one notice per flood).

use crate::support::{Setup, TIMEOUT, ask, next, spawn_app, spawn_app_with};
use std::time::{Duration, Instant};

const FLOOD_NOTICE: &str = "You are sending messages faster";

/// The forged settings press that once stopped the bot for everyone (callback data slicing
/// inside "€"): it gets an answer, and the next reader is answered as usual. Were a handler
/// to panic on it, the intake would cost that press only (unit-tested in `intake::pool`).
#[tokio::test]
async fn a_forged_settings_press_is_refused_and_the_next_reader_is_answered() {
    let app = spawn_app().await;
    let forger = app.user(31, "en");
    let welcome = ask(&forger, "/start").await;
    let press = forger.press(welcome.message_id, &format!("S:{}:t:a€", forger.id()));
    let answer = forger.wait_for_answer(&press, TIMEOUT).await.expect("the press is answered");
    assert!(answer.text.is_some_and(|t| t.contains("expired")), "a forged button is stale");
    let reader = app.user(32, "en");
    let help = ask(&reader, "/help").await;
    assert!(help.plain_text().starts_with("What you can ask"), "{}", help.plain_text());
    let health = app.bot.observer().intake().snapshot();
    assert_eq!(health.panics, 0);
    assert!(health.flowing, "updates still arrive");
    app.stop().await;
}

/// Ten members of one group send ten commands each, at once: a hundred replies are owed to
/// one group, which Telegram lets have twenty a minute. Tribune sends that group what its
/// limit allows and nothing that earns a 429 (the group's other replies wait their turn
/// without holding anything, and are dropped after a minute), and a reader in a private
/// chat, asking just after, is answered at once. Before the reply queue, the group got
/// twenty and then a 429 for each further reply; a 429 of under 30 s put the group's worker
/// to sleep, which is how a sustained group flood stopped the dispatcher in issue 14.
#[tokio::test]
async fn a_flooded_group_does_not_hold_up_a_private_reader() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let app = spawn_app().await;
    let group = app.emulator.group(-7100, "Crowd");
    let members: Vec<_> = (0..10).map(|i| group.as_member(&app.user(7200 + i, "en"))).collect();
    let command = format!("/slogan@{}", app.emulator.bot_username());
    for _ in 0..10 {
        for member in &members {
            member.send_text(&command);
        }
    }
    group.wait_for_messages(1, TIMEOUT).await.expect("the group is answered");
    let reader = app.user(7300, "en");
    for _ in 0..3 {
        let asked = Instant::now();
        let help = ask(&reader, "/help").await;
        assert!(help.plain_text().starts_with("What you can ask"));
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "the reader waited {:?}",
            asked.elapsed()
        );
    }
    let in_group = group.messages().len();
    assert!(in_group <= 18, "{in_group} messages to one group within a minute");
    assert_eq!(app.emulator.stats().too_many_requests, 0, "no 429");
    app.stop().await;
}

/// One member floods a group: the allowance is theirs, not the group's, so they get ten
/// answers and one notice, and a neighbour asking in the middle of the flood is answered.
#[tokio::test]
async fn one_flooder_in_a_group_is_told_once_and_the_neighbour_is_answered() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let app = spawn_app().await;
    let group = app.emulator.group(-7150, "Readers");
    let flooder = group.as_member(&app.user(7151, "en"));
    let neighbour = group.as_member(&app.user(7152, "en"));
    let at_bot = |command: &str| format!("{command}@{}", app.emulator.bot_username());
    for i in 0..30 {
        if i == 15 {
            neighbour.send_text(&at_bot("/help"));
        }
        flooder.send_text(&at_bot("/slogan"));
    }
    let mut answers = Vec::new();
    while answers.len() < 12 {
        let got = group.wait_for_messages(1, TIMEOUT).await.expect("the group is answered");
        answers.extend(got.iter().map(|m| m.plain_text()));
    }
    let count = |start: &str| answers.iter().filter(|t| t.starts_with(start)).count();
    assert_eq!(count("✊ "), 10, "{answers:?}");
    assert_eq!(count(FLOOD_NOTICE), 1, "{answers:?}");
    assert_eq!(count("What you can ask"), 1, "{answers:?}");
    app.stop().await;
}

/// One account types two hundred inline queries as fast as it can: it is answered up to its
/// inline allowance (thirty at once, three a second), and another reader's query is
/// answered at once.
#[tokio::test]
async fn an_inline_flood_is_capped_and_others_are_answered() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let app = spawn_app().await;
    let flooder = app.user(7400, "en");
    let started = Instant::now();
    for i in 0..200 {
        flooder.send_inline_query(&format!("prisoner {i}"), "");
    }
    let reader = app.user(7401, "en");
    let asked = Instant::now();
    let page = reader.inline_query("prisoners", TIMEOUT).await.expect("the reader is answered");
    assert!(!page.results.is_empty());
    assert!(asked.elapsed() < Duration::from_secs(3), "the reader waited {:?}", asked.elapsed());
    // Everything the flood could earn has been answered once the bot has settled.
    app.settled().await;
    let allowance = 30 + 3 * started.elapsed().as_secs() as usize + 3;
    let answered = app.emulator.requests("answerInlineQuery");
    assert!(answered <= allowance + 1, "{answered} inline answers; allowance {allowance}");

    // The same flood in waves of ten, each handled before the next, so that the queue's
    // bound for one sender (16) caps nothing and only the allowance can.
    let second = app.user(7402, "en");
    let before = app.emulator.requests("answerInlineQuery");
    let started = Instant::now();
    for wave in 0..20 {
        for i in 0..10 {
            second.send_inline_query(&format!("prisoner {wave} {i}"), "");
        }
        app.settled().await;
    }
    let allowance = 30 + 3 * started.elapsed().as_secs() as usize + 3;
    let answered = app.emulator.requests("answerInlineQuery") - before;
    assert!(answered <= allowance, "{answered} of 200 inline answers; allowance {allowance}");
    assert!(answered >= 30, "the allowance's first thirty are answered: {answered}");
    app.stop().await;
}

/// README's promise: a flood gets one notice, and after ten quiet seconds a new flood gets a
/// new one (the allowance has refilled: the reader is as good as new).
#[tokio::test]
async fn after_ten_quiet_seconds_a_new_flood_gets_a_new_notice() {
    let app = spawn_app().await;
    let user = app.user(7500, "en");
    let flood = |user: &telegram_bot_api_emulator::User| {
        for _ in 0..15 {
            user.send_text("/slogan");
        }
    };
    flood(&user);
    let flooded = Instant::now();
    let first = answers_until_notice(&user).await;
    assert_eq!(first, 10, "a burst of ten, then the notice");
    // The scenario is ten seconds of silence; nothing to wait for but the time itself.
    tokio::time::sleep_until((flooded + Duration::from_millis(10_200)).into()).await;
    flood(&user);
    let second = answers_until_notice(&user).await;
    assert_eq!(second, 10, "the allowance refilled and the new flood is told again");
    app.stop().await;
}

/// Counts the answers before the flood notice.
async fn answers_until_notice(user: &telegram_bot_api_emulator::User) -> usize {
    let mut answers = 0;
    loop {
        let reply = next(user).await.plain_text();
        if reply.starts_with(FLOOD_NOTICE) {
            return answers;
        }
        answers += 1;
    }
}

/// `/health` tells operators that updates arrive, what waits and what was dropped.
#[tokio::test]
async fn health_shows_updates_arriving_and_floods_dropped() {
    const OPERATOR: i64 = 7600;
    let app = spawn_app_with(Setup { operators: vec![OPERATOR], ..Setup::default() }).await;
    let flooder = app.user(7601, "en");
    for _ in 0..20 {
        flooder.send_text("/slogan");
    }
    flooder.wait_for_messages(11, TIMEOUT).await.expect("the burst and the notice");
    let operator = app.user(OPERATOR, "en");
    let health = ask(&operator, "/health").await.plain_text();
    assert!(health.contains("Updates: arriving"), "{health}");
    assert!(health.contains("Dropped since start: 10 over a sender's allowance"), "{health}");
    app.stop().await;
}

/// The worst case from outside: a bot that no longer hears Telegram. `/health` on the
/// metrics endpoint says 200 while getUpdates answers, and 503 ("updates are not arriving")
/// once it has not answered for the long poll's timeout and ten seconds, so a monitor can
/// restart it. (It used to answer 200 "ok" with the dispatcher dead.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_updates_stop_arriving() {
    let emulator = telegram_bot_api_emulator::Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut serve = crate::support::serve(&emulator, &data.path().join("data"))
        .env("TRIBUNE_METRICS_ADDR", format!("127.0.0.1:{port}"))
        .spawn();
    let url = format!("http://127.0.0.1:{port}/health");
    let http = reqwest::Client::new();
    let status = || async { http.get(&url).send().await.ok().map(|r| r.status().as_u16()) };
    let deadline = Instant::now() + TIMEOUT;
    while status().await != Some(200) {
        assert!(Instant::now() < deadline, "/health never said 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    emulator.shutdown().await;
    let stopped = Instant::now();
    while status().await != Some(503) {
        assert!(stopped.elapsed() < Duration::from_secs(30), "/health still says 200");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["reason"], "updates are not arriving", "{body}");
    // The poll timeout is 1 s here: 503 within its 11 s of silence, plus a poll's own time.
    assert!(stopped.elapsed() >= Duration::from_secs(10), "{:?}", stopped.elapsed());
    assert!(serve.terminate(Duration::from_secs(10)).await.success());
}
