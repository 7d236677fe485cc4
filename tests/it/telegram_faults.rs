//! The Telegram fault campaign: a digest fan-out while the emulator answers at random (seeded)
//! with 429 bursts, timeouts, dropped connections and slow answers, some readers have blocked
//! the bot, some groups became supergroups, and a few requests meet a 5xx. Every deliverable
//! digest arrives (a timed-out send Telegram carried out arrives twice, nothing else does),
//! every blocked chat is deactivated, every migrated group gets its digest at its new id,
//! nothing is retried forever: the outbox ends empty, and the one dead letter is the digest
//! to a chat that refuses it outright (400, tried once), as the delivery policy says.
//!
//! The random faults hit the first pass of the fan-out and its early retries, then the storm
//! passes (the engine's backoff doubles from 2 s, so a storm that never ends outlasts a test).
//! A timeout here is an answer held longer than the client waits: Telegram carried the send
//! out, the bot retries, the reader gets it twice; so duplicates may not exceed timeouts.
//!
//! The seed and the tally go to stderr directly, so even a plain `cargo test` (which captures
//! what tests print) shows them; `cargo test --test it telegram_faults -- --nocapture` shows
//! the rest of the log too.
//! `TRIBUNE_CAMPAIGN_SEED=<seed>` repeats the same choices of chats and the same fault
//! sequence (which request meets which fault still depends on the order requests arrive in).

use crate::support;

use crate::support::{Rng, Setup, spawn_app_with};
use chrono::{DateTime, Utc};
use std::{io::Write, time::Duration};
use telegram_bot_api_emulator::{Emulator, Fault, FaultTarget, Group, User};
use tribune::{
    content::Lang,
    store::Store,
    subscription::{ChatKind, Subscription},
};

const PRIVATE: i64 = 36;
const GROUPS: i64 = 6;
/// The client gives up on a request after this long; an injected delay longer than this is a
/// timeout (Telegram carried the request out, the bot does not know).
const HTTP_TIMEOUT: Duration = Duration::from_secs(3);
const TIMEOUT_DELAY: Duration = Duration::from_millis(3_600);
/// How long the whole fan-out may take: two 5xx cost teloxide 10 s each, then a 2 s backoff.
const FINISH: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_through_random_telegram_faults_delivers_everything_deliverable() {
    // Measures rates or timing: alone on the machine (support::gate).
    let _alone = crate::support::gate::exclusive();
    let seed = Rng::campaign_seed();
    // On stderr itself: libtest captures the print macros, not the stream.
    let _ = writeln!(
        std::io::stderr().lock(),
        "telegram fault campaign: seed {seed} (TRIBUNE_CAMPAIGN_SEED={seed} repeats it)"
    );
    let mut rng = Rng(seed);
    let now = DateTime::parse_from_rfc3339("2026-11-25T05:00:00Z").unwrap().with_timezone(&Utc);
    let emulator = Emulator::start().await.unwrap();
    let users: Vec<User> =
        (1..=PRIVATE).map(|i| emulator.user(70_000 + i, "Reader", Some("en"))).collect();
    let groups: Vec<Group> =
        (1..=GROUPS).map(|i| emulator.group(-70_000 - i, &format!("Group {i}"))).collect();

    // Pick, by the seed, who blocked the bot, which groups moved, who meets a 5xx or a slow
    // (but timely) answer. Each private chat has at most one role.
    let mut order: Vec<usize> = (0..users.len()).collect();
    shuffle(&mut order, &mut rng);
    let blocked: Vec<&User> = order[0..4].iter().map(|&i| &users[i]).collect();
    let server_errors: Vec<&User> = order[4..6].iter().map(|&i| &users[i]).collect();
    let slow: Vec<&User> = order[6..8].iter().map(|&i| &users[i]).collect();
    // A refusal no retry can change: the policy's one case for a dead letter.
    let refused = &users[order[8]];
    let mut group_order: Vec<usize> = (0..groups.len()).collect();
    shuffle(&mut group_order, &mut rng);
    let migrated: Vec<(&Group, i64)> =
        group_order[0..3].iter().map(|&i| (&groups[i], -1_000_000_070_000 - i as i64)).collect();

    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open(data.path()).unwrap();
        let private = users.iter().map(|u| (u.id(), ChatKind::Private));
        let group = groups.iter().map(|g| (g.chat_id(), ChatKind::Group));
        let subs = private.chain(group).map(|(id, kind)| {
            let mut sub = Subscription::new(id, kind, Lang::En);
            sub.next_due = Some(now.timestamp());
            sub
        });
        store.load_subscriptions(subs).unwrap();
    }
    for user in &blocked {
        emulator.inject(FaultTarget::Chat(user.id()), Fault::Blocked, None);
    }
    for user in &server_errors {
        emulator.inject(FaultTarget::Chat(user.id()), Fault::BadGateway, Some(1));
    }
    for user in &slow {
        let delay = Duration::from_millis(300);
        emulator.inject(FaultTarget::Chat(user.id()), Fault::Delay(delay), Some(1));
    }
    emulator.inject(FaultTarget::Chat(refused.id()), Fault::TopicClosed, None);
    for (group, to) in &migrated {
        emulator.inject(FaultTarget::Chat(group.chat_id()), Fault::Migrate(*to), None);
    }
    // A burst of 429s for whatever is sent first, then faults at random.
    let burst = 2 + rng.below(3) as u32;
    emulator.inject(FaultTarget::All, Fault::TooManyRequests(1), Some(burst));
    emulator.inject_random(
        rng.next(),
        0.3,
        vec![
            Fault::TooManyRequests(1),
            Fault::Delay(TIMEOUT_DELAY),
            Fault::DropConnection,
            Fault::DropConnection,
        ],
    );

    let started = std::time::Instant::now();
    let app = spawn_app_with(Setup {
        clock: Some(now),
        data_dir: Some(data.path().to_path_buf()),
        emulator: Some(emulator.clone()),
        http_timeout: Some(HTTP_TIMEOUT),
        ..Setup::default()
    })
    .await;
    let store = app.tribune.store().clone();
    // The storm passes, as Telegram's do: once every chat was tried and some retried, the
    // random faults end. Without that, a chat alone in the queue meets a fault in 30 % of its
    // retries, and the engine's backoff (2, 4, 8, 16… s) can outlast any test.
    let storm = emulator.clone();
    let storm_ends = tokio::spawn(async move {
        let tries = (PRIVATE + GROUPS) as usize + 12;
        let _ = storm.wait_for_requests("sendMessage", tries, FINISH).await;
        storm.end_random_faults();
    });
    support::eventually(support::TIMEOUT, "every digest composed", || {
        store.first_due().unwrap() > Some(now.timestamp())
    })
    .await;
    // Digests reach the outbox before the engine: done is an empty outbox and an idle engine.
    let deadline = tokio::time::Instant::now() + FINISH;
    let mut done = false;
    while !done && tokio::time::Instant::now() < deadline {
        done = store.outbox_len() == 0 && app.bot.engine().wait_idle(Duration::ZERO).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !done {
        panic!(
            "the fan-out did not finish in {FINISH:?} (seed {seed}): engine {:?}, emulator {:?}, in the outbox: {:?}",
            app.bot.engine().stats(),
            emulator.stats(),
            store
                .outbox()
                .unwrap()
                .iter()
                .map(|(_, i)| (i.chat_id, i.attempts))
                .collect::<Vec<_>>()
        );
    }
    let elapsed = started.elapsed();
    storm_ends.abort();
    let engine = app.bot.engine().stats();
    let served = emulator.stats();
    emulator.clear_faults();

    // Deliverable private chats: a digest each; a second one only after a timeout.
    let mut duplicates = 0;
    let undeliverable = |id: i64| id == refused.id() || blocked.iter().any(|b| b.id() == id);
    for user in users.iter().filter(|u| !undeliverable(u.id())) {
        let messages = user.messages();
        assert!(!messages.is_empty(), "chat {} got no digest", user.id());
        assert!(messages.iter().all(|m| m.plain_text().starts_with("🗞 Tribune · ")));
        duplicates += messages.len() - 1;
    }
    for group in &groups {
        let moved = migrated.iter().find(|(g, _)| g.chat_id() == group.chat_id());
        match moved {
            Some((_, to)) => {
                assert!(group.messages().is_empty(), "nothing lands in the old group");
                let supergroup = emulator.supergroup(*to, "moved");
                let messages = supergroup.messages();
                assert!(!messages.is_empty(), "the supergroup {to} got no digest");
                duplicates += messages.len() - 1;
                let sub = store.subscription(*to).unwrap().expect("the subscription moved");
                assert!(sub.active);
                assert!(store.subscription(group.chat_id()).unwrap().is_none());
            }
            None => {
                let messages = group.messages();
                assert!(!messages.is_empty(), "group {} got no digest", group.chat_id());
                duplicates += messages.len() - 1;
            }
        }
    }
    for user in &blocked {
        assert!(user.messages().is_empty());
        let sub = store.subscription(user.id()).unwrap().unwrap();
        assert!(!sub.active, "blocked chat {} deactivated", user.id());
    }
    // Only the explicit slow answers are short of the client's timeout; every other delay is
    // a timeout, and only a timeout can deliver a message twice.
    let timeouts = served.delayed as usize - slow.len();
    let dead = store.dead_letters().unwrap();
    let _ = writeln!(
        std::io::stderr().lock(),
        "telegram fault campaign tally (seed {seed}, {:.1} s): sent {}, 429s answered {} and honoured {}, \
         retries {}, timeouts {timeouts}, dropped connections {}, 5xx {}, deactivated {}, migrated {}, \
         dead letters {}, duplicates {duplicates}",
        elapsed.as_secs_f64(),
        engine.sent,
        served.too_many_requests,
        engine.rate_limited,
        engine.retried,
        served.dropped,
        server_errors.len(),
        engine.deactivated,
        migrated.len(),
        dead.len(),
    );
    assert!(duplicates <= timeouts, "{duplicates} duplicates but only {timeouts} timeouts");
    let deliverable = PRIVATE as u64 - blocked.len() as u64 - 1 + GROUPS as u64;
    assert_eq!(engine.sent, deliverable, "each deliverable digest confirmed once");
    assert_eq!(engine.deactivated, blocked.len() as u64);
    assert_eq!(engine.rate_limited, served.too_many_requests, "every 429 was waited out");
    assert!(served.too_many_requests >= u64::from(burst), "the burst was answered");
    assert!(engine.retried >= served.dropped, "every dropped connection was retried");
    // The refused digest is the one dead letter: tried once, kept, never retried. No other
    // message exhausted its attempts.
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].error.contains("TOPIC_CLOSED"), "{dead:?}");
    assert!(refused.messages().is_empty());
    let tries = emulator.request_log().iter().filter(|r| r.chat_id == Some(refused.id())).count();
    assert_eq!(tries, 1, "a refusal is not retried");
    assert!(store.subscription(refused.id()).unwrap().unwrap().active, "nor is the chat dropped");
    assert_eq!(store.outbox_len(), 0, "the outbox ends empty");
    app.stop().await;
}

/// Fisher–Yates with the campaign's numbers.
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}
