use super::*;
use crate::{
    message::OutMessage,
    store::{DeliveryOutcome, EditionKind, OutboxItem, Store},
    subscription::{ChatKind, Subscription},
};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::time::Instant;

/// Runs while a send is in flight (as if a reader acted then), given the chat.
type Hook = Box<dyn Fn(i64) + Send>;

/// A transport that records sends and fails on cue.
#[derive(Clone, Default)]
struct Fake {
    sent: Arc<Mutex<Vec<(i64, Instant, String)>>>,
    script: Arc<Mutex<HashMap<i64, VecDeque<SendError>>>>,
    during: Arc<Mutex<Option<Hook>>>,
}

impl Fake {
    fn during(&self, hook: impl Fn(i64) + Send + 'static) {
        *self.during.lock().unwrap() = Some(Box::new(hook));
    }

    fn fail(&self, chat: i64, errors: impl IntoIterator<Item = SendError>) {
        self.script.lock().unwrap().entry(chat).or_default().extend(errors);
    }

    fn sends_to(&self, chat: i64) -> Vec<Instant> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _, _)| *c == chat)
            .map(|(_, t, _)| *t)
            .collect()
    }

    fn order(&self) -> Vec<i64> {
        self.sent.lock().unwrap().iter().map(|(c, _, _)| *c).collect()
    }
}

impl Transport for Fake {
    async fn send(
        &self,
        chat_id: i64,
        message: &OutMessage,
        _paid: bool,
    ) -> Result<i32, SendError> {
        if let Some(hook) = self.during.lock().unwrap().as_ref() {
            hook(chat_id);
        }
        if let Some(error) =
            self.script.lock().unwrap().get_mut(&chat_id).and_then(VecDeque::pop_front)
        {
            return Err(error);
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push((chat_id, Instant::now(), message.html.clone()));
        Ok(sent.len() as i32)
    }
}

struct Setup {
    store: Store,
    fake: Fake,
    engine: Engine<Fake>,
    events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    _dir: tempfile::TempDir,
}

fn setup(limits: Limits) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let fake = Fake::default();
    let pacer = Arc::new(Pacer::new(&limits));
    let (engine, events) = Engine::new(store.clone(), fake.clone(), limits, pacer);
    tokio::spawn(engine.clone().run());
    Setup { store, fake, engine, events, _dir: dir }
}

fn item(edition: u64, chat: i64, kind: ChatKind, text: &str) -> OutboxItem {
    OutboxItem {
        edition,
        chat_id: chat,
        kind,
        message: OutMessage { html: text.into(), buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    }
}

fn queue(s: &Setup, items: Vec<OutboxItem>) -> u64 {
    let edition = items.first().map_or(0, |i| i.edition);
    let queued = s.store.enqueue(items).unwrap();
    s.engine.push(queued);
    edition
}

const IDLE: Duration = Duration::from_secs(3600);

#[tokio::test(start_paused = true)]
async fn delivers_everything_and_records_message_ids() {
    let s = setup(Limits::telegram(30.0, false));
    let edition = s.store.new_edition(EditionKind::Digest, 0).unwrap();
    queue(&s, (1..=50).map(|chat| item(edition, chat, ChatKind::Private, "hello")).collect());
    assert!(s.engine.wait_idle(IDLE).await);
    assert_eq!(s.fake.order().len(), 50);
    assert_eq!(s.store.outbox_len(), 0);
    let records = s.store.deliveries(edition).unwrap();
    assert_eq!(records.len(), 50);
    assert!(
        records.iter().all(|(_, r)| r.outcome == DeliveryOutcome::Sent && r.message_ids.len() == 1)
    );
}

#[tokio::test(start_paused = true)]
async fn keeps_the_overall_pace_and_each_chats_pace() {
    let s = setup(Limits::telegram(30.0, false));
    let mut items: Vec<OutboxItem> =
        (1..=60).map(|chat| item(1, chat, ChatKind::Private, "x")).collect();
    items.extend((0..3).map(|i| item(1, 1, ChatKind::Private, &format!("again {i}"))));
    items.extend((0..3).map(|i| item(1, -100, ChatKind::Group, &format!("group {i}"))));
    queue(&s, items);
    assert!(s.engine.wait_idle(IDLE).await);
    let times: Vec<Instant> = s.fake.sent.lock().unwrap().iter().map(|(_, t, _)| *t).collect();
    // No 1-second window holds more than 30 sends.
    for (i, t) in times.iter().enumerate() {
        let in_window =
            times[i..].iter().take_while(|u| u.duration_since(*t) < Duration::from_secs(1)).count();
        assert!(in_window <= 30, "{in_window} sends within one second");
    }
    for pair in s.fake.sends_to(1).windows(2) {
        assert!(
            pair[1].duration_since(pair[0]) >= Duration::from_secs(1),
            "private chat paced at 1/s"
        );
    }
    for pair in s.fake.sends_to(-100).windows(2) {
        assert!(pair[1].duration_since(pair[0]) >= Duration::from_secs(3), "group paced at 20/min");
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_group_does_not_hold_up_other_chats() {
    let s = setup(Limits::telegram(30.0, false));
    let mut items: Vec<OutboxItem> =
        (0..5).map(|i| item(1, -100, ChatKind::Group, &format!("g{i}"))).collect();
    items.extend((1..=10).map(|chat| item(1, chat, ChatKind::Private, "p")));
    queue(&s, items);
    assert!(s.engine.wait_idle(IDLE).await);
    let order = s.fake.order();
    let second_group_send = order.iter().enumerate().filter(|(_, c)| **c == -100).nth(1).unwrap().0;
    let last_private = order.iter().rposition(|c| *c > 0).unwrap();
    assert!(
        last_private < second_group_send,
        "every private chat was served before the group's second message: {order:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limits_and_temporary_failures_are_retried() {
    let s = setup(Limits::telegram(30.0, false));
    s.fake.fail(1, [SendError::RetryAfter(5)]);
    s.fake.fail(2, [SendError::Transient("502".into()), SendError::Transient("timeout".into())]);
    let started = Instant::now();
    queue(&s, vec![item(1, 1, ChatKind::Private, "a"), item(1, 2, ChatKind::Private, "b")]);
    assert!(s.engine.wait_idle(IDLE).await);
    assert!(
        s.fake.sends_to(1)[0].duration_since(started) >= Duration::from_secs(5),
        "retry_after honoured"
    );
    assert_eq!(s.fake.sends_to(2).len(), 1);
    let stats = s.engine.stats();
    assert_eq!((stats.sent, stats.rate_limited, stats.retried, stats.failed), (2, 1, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn endless_temporary_failures_end_in_the_dead_letters() {
    let s = setup(Limits::telegram(30.0, false));
    s.fake.fail(
        3,
        (0..MAX_ATTEMPTS).map(|_| SendError::Transient("500 Internal Server Error".into())),
    );
    s.fake.fail(4, [SendError::Malformed("can't parse entities".into())]);
    queue(&s, vec![item(7, 3, ChatKind::Private, "a"), item(7, 4, ChatKind::Private, "b")]);
    assert!(s.engine.wait_idle(IDLE).await);
    let dead = s.store.dead_letters().unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].item.chat_id, 3);
    assert_eq!(dead[1].error, "can't parse entities");
    assert_eq!(s.store.outbox_len(), 0);
    assert_eq!(s.engine.stats().failed, 2);
}

#[tokio::test(start_paused = true)]
async fn gone_chats_are_deactivated_and_reported() {
    let mut s = setup(Limits::telegram(30.0, false));
    let mut sub = Subscription::new(5, ChatKind::Private, crate::content::Lang::En);
    sub.next_due = Some(1_000);
    s.store.save_subscription(&sub).unwrap();
    s.fake.fail(5, [SendError::Gone("Forbidden: bot was blocked by the user".into())]);
    queue(&s, vec![item(9, 5, ChatKind::Private, "a"), item(9, 5, ChatKind::Private, "b")]);
    assert!(s.engine.wait_idle(IDLE).await);
    assert!(!s.store.subscription(5).unwrap().unwrap().active);
    assert_eq!(s.store.due_until(i64::MAX, 10).unwrap(), vec![], "no longer scheduled");
    assert_eq!(s.store.deliveries(9).unwrap()[0].1.outcome, DeliveryOutcome::Deactivated);
    assert!(s.fake.order().is_empty(), "the second message was not tried");
    assert_eq!(
        s.events.recv().await,
        Some(Event::ChatGone {
            chat_id: 5,
            kind: ChatKind::Private,
            reason: "Forbidden: bot was blocked by the user".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn migrated_groups_move_and_get_their_messages() {
    let mut s = setup(Limits::telegram(30.0, false));
    s.store
        .save_subscription(&Subscription::new(-50, ChatKind::Group, crate::content::Lang::En))
        .unwrap();
    s.fake.fail(-50, [SendError::Migrated(-1_000_050)]);
    queue(&s, vec![item(2, -50, ChatKind::Group, "one"), item(2, -50, ChatKind::Group, "two")]);
    assert!(s.engine.wait_idle(IDLE).await);
    assert_eq!(s.fake.sends_to(-1_000_050).len(), 2);
    assert!(s.store.subscription(-50).unwrap().is_none());
    assert_eq!(s.store.subscription(-1_000_050).unwrap().unwrap().chat_id, -1_000_050);
    assert_eq!(s.events.recv().await, Some(Event::ChatMigrated { from: -50, to: -1_000_050 }));
}

#[tokio::test(start_paused = true)]
async fn a_restart_resumes_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.enqueue((1..=5).map(|c| item(1, c, ChatKind::Private, "x")).collect()).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let fake = Fake::default();
    let limits = Limits::telegram(30.0, false);
    let (engine, _events) =
        Engine::new(store.clone(), fake.clone(), limits, Arc::new(Pacer::new(&limits)));
    assert_eq!(engine.load_outbox().unwrap(), (5, false));
    tokio::spawn(engine.clone().run());
    assert!(engine.wait_idle(IDLE).await);
    assert_eq!(fake.order(), vec![1, 2, 3, 4, 5]);
    engine.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn every_outcome_is_counted_for_the_day_and_errors_for_the_hour() {
    let s = setup(Limits::telegram(30.0, false));
    s.store
        .save_subscription(&Subscription::new(3, ChatKind::Private, crate::content::Lang::En))
        .unwrap();
    s.fake.fail(1, [SendError::Transient("connection reset".into())]);
    s.fake.fail(2, [SendError::Malformed("can't parse entities".into())]);
    s.fake.fail(3, [SendError::Gone("bot was blocked by the user".into())]);
    s.fake.fail(4, [SendError::RetryAfter(1)]);
    queue(&s, (1..=5).map(|chat| item(1, chat, ChatKind::Private, "x")).collect());
    assert!(s.engine.wait_idle(IDLE).await);
    let today = crate::store::day_of(crate::store::unix_now());
    let counted = s.store.deliveries_by_day(today, today).unwrap()[0];
    assert_eq!(
        (counted.sent, counted.failed, counted.retried, counted.deactivated),
        (3, 1, 2, 1),
        "sent to 1, 4 and 5; 2 failed; 1 and 4 retried; 3 gone"
    );
    assert!(s.store.last_sent().unwrap().is_some());
    // rate-limited, transient, gone, malformed
    assert_eq!(s.engine.observer().errors_last_hour(), [1, 1, 1, 1]);
    assert!(s.engine.observer().engine_running());
}

/// A subscriber whose chat `/stop` erases while its digest is being sent.
fn stop_during_the_send(s: &Setup, chat: i64) {
    let sub = Subscription::new(chat, ChatKind::Private, crate::content::Lang::En);
    s.store.save_subscription(&sub).unwrap();
    let store = s.store.clone();
    s.fake.during(move |to| {
        if to == chat {
            store.erase_chat(chat).unwrap();
        }
    });
}

// Regression: the retry of a send that failed while `/stop` ran put the erased item back in
// the outbox, and the retry reached the chat that had asked to be forgotten.
#[tokio::test(start_paused = true)]
async fn a_send_that_fails_during_stop_is_not_retried() {
    let s = setup(Limits::telegram(30.0, false));
    stop_during_the_send(&s, 800_008);
    s.fake.fail(800_008, [SendError::Transient("timeout".into())]);
    queue(&s, vec![item(1, 800_008, ChatKind::Private, "digest")]);
    assert!(s.engine.wait_idle(IDLE).await);
    assert!(s.fake.sends_to(800_008).is_empty(), "a retry reached the erased chat");
    assert_eq!(s.store.outbox_len(), 0);
    assert_eq!(s.store.trees_naming(800_008).unwrap(), Vec::<String>::new());
}

// Regression: a send confirmed after `/stop` wrote a delivery record naming the erased chat.
#[tokio::test(start_paused = true)]
async fn a_send_confirmed_during_stop_leaves_no_record() {
    let s = setup(Limits::telegram(30.0, false));
    stop_during_the_send(&s, 900_009);
    let edition = queue(&s, vec![item(1, 900_009, ChatKind::Private, "digest")]);
    assert!(s.engine.wait_idle(IDLE).await);
    assert_eq!(s.fake.sends_to(900_009).len(), 1, "the send in flight went out");
    assert!(s.store.deliveries(edition).unwrap().is_empty());
    assert_eq!(s.store.trees_naming(900_009).unwrap(), Vec::<String>::new());
}

/// A restart that finds more in the outbox than the engine holds, and a broadcast handed over
/// beyond it: the engine never holds more than `held`, reads the rest back in order, and every
/// item arrives once, each chat's in the order queued.
#[tokio::test(start_paused = true)]
async fn beyond_what_it_holds_items_wait_on_disk_and_all_arrive_once_in_order() {
    const HELD: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // 100 items left by a "crash": chat 1000 has five of them, spread through the outbox.
    let crash: Vec<OutboxItem> = (0..100)
        .map(|i| {
            let chat = if i % 20 == 3 { 1000 } else { i + 1 };
            item(1, chat, ChatKind::Private, &format!("crash {i}"))
        })
        .collect();
    store.enqueue(crash).unwrap();
    let fake = Fake::default();
    let limits = Limits { held: HELD, ..Limits::off() };
    let (engine, _events) =
        Engine::new(store.clone(), fake.clone(), limits, Arc::new(Pacer::new(&limits)));
    assert_eq!(engine.load_outbox().unwrap(), (HELD, true), "only what it holds is read");
    assert_eq!(engine.pending(), HELD);
    assert_eq!(engine.room(), 0, "no room while items wait on disk");
    let most = Arc::new(Mutex::new(0));
    {
        let (engine, most) = (engine.clone(), most.clone());
        fake.during(move |_| {
            let mut most = most.lock().unwrap();
            *most = (*most).max(engine.pending());
        });
    }
    tokio::spawn(engine.clone().run());
    // A broadcast of 300 more, handed over in three pushes while the first are being sent.
    for wave in 0..3 {
        let items = (0..100)
            .map(|i| {
                let chat = if i % 25 == 7 { 1000 } else { 10_000 + wave * 100 + i };
                item(2, chat, ChatKind::Private, &format!("broadcast {wave} {i}"))
            })
            .collect();
        let queued = store.enqueue(items).unwrap();
        engine.push(queued);
        tokio::task::yield_now().await;
    }
    assert!(engine.wait_idle(IDLE).await);
    assert!(*most.lock().unwrap() <= HELD, "held at most {HELD}, saw {}", most.lock().unwrap());
    let sent = fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 400, "every item sent");
    let texts: std::collections::HashSet<&str> = sent.iter().map(|(_, _, t)| t.as_str()).collect();
    assert_eq!(texts.len(), 400, "none sent twice");
    let to_one: Vec<&str> =
        sent.iter().filter(|(c, _, _)| *c == 1000).map(|(_, _, t)| t.as_str()).collect();
    let mut expected: Vec<String> =
        (0..100).filter(|i| i % 20 == 3).map(|i| format!("crash {i}")).collect();
    for wave in 0..3 {
        expected.extend((0..100).filter(|i| i % 25 == 7).map(|i| format!("broadcast {wave} {i}")));
    }
    assert_eq!(to_one, expected, "one chat's items in the order queued");
    assert!(store.outbox_is_empty());
    assert_eq!(engine.room(), HELD, "all room once idle");
    engine.shutdown(Duration::from_secs(1)).await;
}

/// Room is what the engine may still take while it holds half or less, and none above half,
/// so producers wait for a gap worth filling.
#[tokio::test(start_paused = true)]
async fn room_opens_only_below_half() {
    let limits = Limits { held: 10, ..Limits::telegram(30.0, false) };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let fake = Fake::default();
    let (engine, _events) =
        Engine::new(store.clone(), fake.clone(), limits, Arc::new(Pacer::new(&limits)));
    assert_eq!(engine.room(), 10);
    let queued = store.enqueue((1..=5).map(|c| item(1, c, ChatKind::Private, "x")).collect());
    engine.push(queued.unwrap());
    assert_eq!(engine.room(), 5, "half held: the other half is room");
    let queued = store.enqueue((6..=6).map(|c| item(1, c, ChatKind::Private, "x")).collect());
    engine.push(queued.unwrap());
    assert_eq!(engine.room(), 0, "more than half held: no room");
}

/// Items erased while the engine held them (a cancelled broadcast, readers' `/stop`) leave
/// without taking a place at the pacer: what comes after them goes at once, not after the
/// seconds their sends would have taken.
#[tokio::test(start_paused = true)]
async fn erased_items_do_not_spend_the_pace() {
    let s = setup(Limits::telegram(30.0, false));
    let started = Instant::now();
    queue(&s, (1..=150).map(|chat| item(5, chat, ChatKind::Private, "cancelled")).collect());
    queue(&s, vec![item(6, 1000, ChatKind::Private, "after")]);
    for chat in 1..=150 {
        s.store.erase_chat(chat).unwrap();
    }
    assert!(s.engine.wait_idle(IDLE).await);
    assert_eq!(s.fake.order(), vec![1000], "only the item still queued is sent");
    let after = s.fake.sends_to(1000)[0] - started;
    assert!(after < Duration::from_secs(1), "sent after {after:?}; 150 paced sends take 5 s");
}

/// While confirmations cannot be flushed (a failing disk), the engine sends at most
/// `MAX_UNFLUSHED` (plus the sends already under way) and then waits for the disk, rather
/// than run on with records only in memory; once the disk takes them, the rest go, once each.
#[tokio::test(start_paused = true)]
async fn sends_wait_while_confirmations_cannot_reach_the_disk() {
    use super::engine::MAX_UNFLUSHED;
    let limits = Limits::off();
    let s = setup(limits);
    let n = MAX_UNFLUSHED + 300;
    queue(&s, (1..=n as i64).map(|chat| item(1, chat, ChatKind::Private, "x")).collect());
    s.store.fail_writes_for_test(true);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sent = s.fake.order().len();
    assert!(
        (MAX_UNFLUSHED..MAX_UNFLUSHED + limits.concurrency).contains(&sent),
        "{sent} sent with nothing flushed"
    );
    s.store.fail_writes_for_test(false);
    assert!(s.engine.wait_idle(IDLE).await);
    assert_eq!(s.fake.order().len(), n, "the rest once the disk is back, each once");
}
