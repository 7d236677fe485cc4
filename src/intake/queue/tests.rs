use super::*;

fn queue(capacity: usize) -> Queue<u32> {
    Queue::new(QueueConfig { capacity, per_chat: 4, ..QueueConfig::default() })
}

fn any(_: Class) -> bool {
    true
}

fn take_all(q: &mut Queue<u32>, now: Instant) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some((chat, _, _, item)) = q.pop(now, any) {
        out.push(item);
        q.done(chat);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn first_come_first_served_while_nobody_waits_long() {
    let mut q = queue(100);
    let now = Instant::now();
    for (chat, item) in [(1, 10), (2, 20), (3, 30)] {
        q.push(chat, Class::Unknown, now, item, Overflow::Shed);
    }
    assert_eq!(take_all(&mut q, now), vec![10, 20, 30]);
    assert_eq!(q.chats(), 0, "finished chats are forgotten");
}

#[tokio::test(start_paused = true)]
async fn known_chats_go_first() {
    let mut q = queue(100);
    let now = Instant::now();
    q.push(1, Class::Unknown, now, 10, Overflow::Shed);
    q.push(2, Class::Unknown, now, 20, Overflow::Shed);
    q.push(3, Class::Known, now, 30, Overflow::Shed);
    assert_eq!(take_all(&mut q, now), vec![30, 10, 20]);
}

#[tokio::test(start_paused = true)]
async fn under_overload_the_newest_chat_is_served_first() {
    let mut q = queue(100);
    for chat in 1..=5 {
        q.push(chat, Class::Unknown, Instant::now(), chat as u32, Overflow::Shed);
        tokio::time::advance(Duration::from_millis(200)).await;
    }
    // The oldest has waited a second: overloaded, newest first.
    let (chat, ..) = q.pop(Instant::now(), any).unwrap();
    assert_eq!(chat, 5);
    q.done(chat);
    let (chat, ..) = q.pop(Instant::now(), any).unwrap();
    assert_eq!(chat, 4);
}

#[tokio::test(start_paused = true)]
async fn a_chat_is_handled_in_order_one_piece_at_a_time() {
    let mut q = queue(100);
    let now = Instant::now();
    for item in [1, 2, 3] {
        q.push(7, Class::Unknown, now, item, Overflow::Shed);
    }
    q.push(8, Class::Unknown, now, 80, Overflow::Shed);
    let (chat, _, _, first) = q.pop(now, any).unwrap();
    assert_eq!((chat, first), (7, 1));
    let (other, _, _, item) = q.pop(now, any).unwrap();
    assert_eq!((other, item), (8, 80), "chat 7 is in hand: the next chat goes");
    assert!(q.pop(now, any).is_none(), "nothing else may go while 7 and 8 are in hand");
    q.done(7);
    assert_eq!(q.pop(now, any).map(|p| p.3), Some(2));
}

#[tokio::test(start_paused = true)]
async fn work_older_than_a_minute_is_dropped_not_handled() {
    let mut q = queue(100);
    let start = Instant::now();
    q.push(1, Class::Unknown, start, 1, Overflow::Shed);
    q.push(2, Class::Known, start, 2, Overflow::Shed);
    tokio::time::advance(MAX_AGE + Duration::from_millis(1)).await;
    q.push(3, Class::Unknown, Instant::now(), 3, Overflow::Shed);
    assert_eq!(take_all(&mut q, Instant::now()), vec![3]);
    assert_eq!(q.take_dropped(), vec![(Dropped::Stale, 2)]);
    assert!(q.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_sheds_the_oldest_unknown_work_and_never_grows() {
    let mut q = queue(10);
    let now = Instant::now();
    q.push(-1, Class::Known, now, 0, Overflow::Shed);
    for chat in 1..=1000 {
        q.push(chat, Class::Unknown, now, chat as u32, Overflow::Shed);
        assert!(q.len() <= 10);
    }
    assert!(q.chats() <= 10);
    let served = take_all(&mut q, now);
    assert_eq!(served[0], 0, "the known chat kept its place");
    assert_eq!(&served[1..], &(992..=1000).collect::<Vec<u32>>()[..], "the newest stayed");
    assert_eq!(q.take_dropped(), vec![(Dropped::Full, 991)]);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_of_known_work_refuses_unknown_work() {
    let mut q = queue(2);
    let now = Instant::now();
    q.push(1, Class::Known, now, 1, Overflow::Shed);
    q.push(2, Class::Known, now, 2, Overflow::Shed);
    assert_eq!(q.push(3, Class::Unknown, now, 3, Overflow::Shed), Admission::Refused);
    assert_eq!(q.push(4, Class::Known, now, 4, Overflow::Shed), Admission::QueuedShedding(1));
    assert_eq!(take_all(&mut q, now), vec![2, 4]);
}

#[tokio::test(start_paused = true)]
async fn refusing_overflow_queues_nothing_more_when_full() {
    let mut q = queue(2);
    let now = Instant::now();
    assert_eq!(q.push(1, Class::Unknown, now, 1, Overflow::Refuse), Admission::Queued);
    assert_eq!(q.push(2, Class::Unknown, now, 2, Overflow::Refuse), Admission::Queued);
    assert_eq!(q.push(3, Class::Known, now, 3, Overflow::Refuse), Admission::Refused);
    assert_eq!(q.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn one_chat_holds_at_most_its_share_and_keeps_its_newest() {
    let mut q = queue(100);
    let now = Instant::now();
    for item in 0..50 {
        q.push(9, Class::Unknown, now, item, Overflow::Shed);
    }
    assert_eq!(q.len(), 4);
    assert_eq!(take_all(&mut q, now), vec![46, 47, 48, 49]);
}

#[tokio::test(start_paused = true)]
async fn a_class_that_may_not_be_taken_waits() {
    let mut q = queue(100);
    let now = Instant::now();
    q.push(1, Class::Unknown, now, 1, Overflow::Shed);
    q.push(2, Class::Known, now, 2, Overflow::Shed);
    let known_only = |c: Class| c == Class::Known;
    assert_eq!(q.pop(now, known_only).map(|p| p.3), Some(2));
    assert!(q.pop(now, known_only).is_none());
    assert_eq!(q.pop(now, any).map(|p| p.3), Some(1));
}

#[tokio::test(start_paused = true)]
async fn clearing_drops_what_waits_but_not_what_is_in_hand() {
    let mut q = queue(100);
    let now = Instant::now();
    q.push(1, Class::Unknown, now, 1, Overflow::Shed);
    q.push(1, Class::Unknown, now, 2, Overflow::Shed);
    q.push(2, Class::Unknown, now, 3, Overflow::Shed);
    let (chat, ..) = q.pop(now, any).unwrap();
    assert_eq!(q.clear(), 2);
    q.done(chat);
    assert!(q.pop(now, any).is_none());
    assert_eq!(q.chats(), 0);
}

/// Under overload a chat that was just served goes behind every other ready chat, however
/// much it has queued: one turn per chat while the newest are served first.
#[tokio::test(start_paused = true)]
async fn under_overload_a_chat_just_served_waits_for_the_others() {
    let mut q = queue(100);
    for chat in 2..=4 {
        q.push(chat, Class::Unknown, Instant::now(), 10 * chat as u32, Overflow::Shed);
        tokio::time::advance(Duration::from_millis(300)).await;
    }
    for item in 0..4 {
        q.push(1, Class::Unknown, Instant::now(), item, Overflow::Shed);
    }
    let mut order = Vec::new();
    while let Some((chat, ..)) = q.pop(Instant::now(), any) {
        order.push(chat);
        q.done(chat);
    }
    assert_eq!(order, vec![1, 4, 3, 2, 1, 1, 1], "newest first, and no chat twice in a row");
}
