use super::*;

fn outgoing() -> Outgoing<&'static str> {
    Outgoing::new(OutgoingConfig::default())
}

fn later(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// Sends whatever may go now, reporting each as sent; returns (chat, op) in order.
fn drain_now(out: &mut Outgoing<&'static str>) -> Vec<(i64, &'static str)> {
    let mut sent = Vec::new();
    while let Next::Send { chat, op, .. } = out.next(Instant::now()) {
        out.sent(chat, Instant::now());
        sent.push((chat, op));
    }
    sent
}

#[tokio::test(start_paused = true)]
async fn known_chats_are_answered_first_and_a_chat_in_order() {
    let mut out = outgoing();
    out.push(1, Class::Unknown, false, later(60), "u1", true);
    out.push(2, Class::Known, false, later(60), "k1", true);
    out.push(2, Class::Known, false, later(60), "k2", true);
    assert_eq!(drain_now(&mut out), vec![(2, "k1"), (2, "k2"), (1, "u1")]);
    assert_eq!(out.waiting(Class::Known) + out.waiting(Class::Unknown), 0);
}

#[tokio::test(start_paused = true)]
async fn a_group_gets_eighteen_a_minute_and_waits_without_holding_others() {
    let mut out = outgoing();
    for _ in 0..25 {
        out.push(-100, Class::Unknown, true, later(300), "g", true);
    }
    assert_eq!(drain_now(&mut out).len(), 18, "the group's window is full");
    out.push(5, Class::Unknown, false, later(60), "p", true);
    assert_eq!(drain_now(&mut out), vec![(5, "p")], "a private chat goes meanwhile");
    let Next::Wait(at) = out.next(Instant::now()) else { panic!("the group waits") };
    assert_eq!(at - Instant::now(), Duration::from_secs(61));
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(drain_now(&mut out).len(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_private_chat_gets_three_at_once_then_waits_a_second() {
    let mut out = outgoing();
    for _ in 0..4 {
        out.push(7, Class::Known, false, later(60), "m", true);
    }
    assert_eq!(drain_now(&mut out).len(), 3);
    tokio::time::advance(Duration::from_millis(1_050)).await;
    assert_eq!(drain_now(&mut out).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn edits_do_not_count_against_the_window() {
    let mut out = outgoing();
    for _ in 0..6 {
        out.push(7, Class::Known, false, later(60), "edit", false);
    }
    assert_eq!(drain_now(&mut out).len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_429_puts_the_reply_back_until_retry_after_and_others_go_meanwhile() {
    let mut out = outgoing();
    out.push(1, Class::Known, false, later(60), "a", true);
    out.push(2, Class::Known, false, later(60), "b", true);
    let Next::Send { chat, .. } = out.next(Instant::now()) else { panic!() };
    out.deferred(chat, later(5));
    let other = drain_now(&mut out);
    assert_eq!(other.len(), 1);
    assert_ne!(other[0].0, chat);
    assert!(matches!(out.next(Instant::now()), Next::Wait(_)));
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(drain_now(&mut out), vec![(chat, if chat == 1 { "a" } else { "b" })]);
}

#[tokio::test(start_paused = true)]
async fn a_reply_past_its_deadline_is_dropped_not_sent_late() {
    let mut out = outgoing();
    out.push(1, Class::Unknown, false, later(60), "late", true);
    out.push(2, Class::Unknown, false, later(120), "fresh", true);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(drain_now(&mut out), vec![(2, "fresh")]);
    assert_eq!(out.take_stale(), 1);
    // A 429 longer than the deadline drops it at once.
    out.push(3, Class::Unknown, false, later(10), "x", true);
    let Next::Send { chat, .. } = out.next(Instant::now()) else { panic!() };
    out.deferred(chat, later(30));
    assert_eq!(out.take_stale(), 1);
    assert!(!out.pending(3));
}

#[tokio::test(start_paused = true)]
async fn bounded_by_class_and_by_chat() {
    let config = OutgoingConfig { capacity: 3, per_chat: 2, ..OutgoingConfig::default() };
    let mut out = Outgoing::new(config);
    assert!(out.push(1, Class::Unknown, false, later(60), "a", true));
    assert!(out.push(1, Class::Unknown, false, later(60), "b", true));
    assert!(!out.push(1, Class::Unknown, false, later(60), "c", true), "the chat is full");
    assert!(out.push(2, Class::Unknown, false, later(60), "d", true));
    assert!(!out.push(3, Class::Unknown, false, later(60), "e", true), "the class is full");
    assert!(out.push(3, Class::Known, false, later(60), "f", true), "the other class is not");
}

#[tokio::test(start_paused = true)]
async fn quiet_chats_are_forgotten() {
    let mut out = outgoing();
    for chat in 0..100 {
        out.push(chat, Class::Unknown, false, later(60), "m", true);
    }
    assert_eq!(drain_now(&mut out).len(), 100);
    assert_eq!(out.chats(), 100, "their last sends still count");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(out.next(Instant::now()), Next::Idle);
    assert_eq!(out.chats(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failure_drops_that_reply_or_the_whole_chat() {
    let mut out = outgoing();
    for op in ["a", "b", "c"] {
        out.push(1, Class::Known, false, later(60), op, true);
    }
    let Next::Send { chat, .. } = out.next(Instant::now()) else { panic!() };
    out.failed(chat, false);
    assert_eq!(drain_now(&mut out), vec![(1, "b"), (1, "c")]);
    for op in ["a", "b"] {
        out.push(2, Class::Known, false, later(60), op, true);
    }
    let Next::Send { chat, .. } = out.next(Instant::now()) else { panic!() };
    out.failed(chat, true);
    assert!(!out.pending(2));
    assert_eq!(out.waiting(Class::Known), 0);
}
