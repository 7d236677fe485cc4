use super::*;
use std::sync::atomic::AtomicBool;

fn pool(workers: usize) -> (Pool<u32>, Arc<Gauges>) {
    let gauges = Arc::new(Gauges::default());
    let config = PoolConfig { workers, timeout: Duration::from_secs(5), ..PoolConfig::default() };
    (Pool::new(config, gauges.clone()), gauges)
}

/// Waits (on the paused clock) until `condition` holds.
async fn until(mut condition: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the condition never held");
}

/// A handler that panics on some updates (as `Action::decode` once did on forged callback
/// data): every other update, before and after, is still handled, and the workers live on.
#[tokio::test(start_paused = true)]
async fn a_panicking_handler_costs_its_update_only() {
    let (pool, gauges) = pool(2);
    let handled = Arc::new(Mutex::new(Vec::new()));
    let seen = handled.clone();
    pool.start(move |item: u32, _meta| {
        let seen = seen.clone();
        async move {
            if item % 3 == 0 {
                panic!("forged input {item}");
            }
            seen.lock().unwrap().push(item);
        }
    });
    for item in 1..=30 {
        pool.offer(i64::from(item % 4), Class::Unknown, Instant::now(), item, Overflow::Shed);
    }
    until(|| gauges.snapshot().handled + gauges.snapshot().panics == 30).await;
    let mut handled = handled.lock().unwrap().clone();
    handled.sort();
    assert_eq!(handled, (1..=30).filter(|i| i % 3 != 0).collect::<Vec<_>>());
    assert_eq!(gauges.snapshot().panics, 10);
    assert!(pool.alive(), "the workers survived every panic");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_handler_is_abandoned_and_its_chat_goes_on() {
    let (pool, gauges) = pool(1);
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    pool.start(move |item: u32, _meta| {
        let flag = flag.clone();
        async move {
            if item == 1 {
                std::future::pending::<()>().await;
            }
            flag.store(true, Ordering::SeqCst);
        }
    });
    pool.offer(7, Class::Known, Instant::now(), 1, Overflow::Shed);
    pool.offer(7, Class::Known, Instant::now(), 2, Overflow::Shed);
    until(|| done.load(Ordering::SeqCst)).await;
    assert_eq!(gauges.snapshot().timeouts, 1);
}

/// The workers are the cap: with two of them, never more than two pieces are handled at once,
/// and the rest waits in the bounded queue.
#[tokio::test(start_paused = true)]
async fn no_more_work_in_flight_than_workers() {
    let (pool, gauges) = pool(2);
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), most.clone());
    pool.start(move |_item: u32, _meta| {
        let (n, m) = (n.clone(), m.clone());
        async move {
            let at = n.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(at, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            n.fetch_sub(1, Ordering::SeqCst);
        }
    });
    for chat in 0..20 {
        pool.offer(chat, Class::Unknown, Instant::now(), 0, Overflow::Shed);
    }
    until(|| gauges.snapshot().handled == 20).await;
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_closed_gate_holds_unknown_work_until_woken() {
    let (pool, gauges) = pool(1);
    let open = Arc::new(AtomicBool::new(false));
    let gate_open = open.clone();
    pool.set_gate(Arc::new(move |class| class == Class::Known || gate_open.load(Ordering::SeqCst)));
    pool.start(|_item: u32, _meta| async {});
    pool.offer(1, Class::Unknown, Instant::now(), 0, Overflow::Shed);
    pool.offer(2, Class::Known, Instant::now(), 0, Overflow::Shed);
    until(|| gauges.snapshot().handled == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(gauges.snapshot().handled, 1, "unknown work waits while the gate is shut");
    assert_eq!(pool.queued(), 1);
    open.store(true, Ordering::SeqCst);
    pool.wake();
    until(|| gauges.snapshot().handled == 2).await;
}

#[tokio::test(start_paused = true)]
async fn stopping_drops_what_waits_and_ends_within_the_grace() {
    let (pool, gauges) = pool(1);
    pool.start(|_item: u32, _meta| std::future::pending::<()>());
    for chat in 0..10 {
        pool.offer(chat, Class::Unknown, Instant::now(), 0, Overflow::Shed);
    }
    until(|| pool.queued() == 9).await;
    let started = Instant::now();
    pool.stop(Duration::from_secs(2)).await;
    assert!(started.elapsed() <= Duration::from_secs(2));
    assert!(!pool.alive());
    let shutdown = gauges.snapshot().dropped().find(|(d, _)| *d == Dropped::Shutdown).unwrap().1;
    assert_eq!(shutdown, 9);
    assert_eq!(pool.offer(1, Class::Known, Instant::now(), 0, Overflow::Shed), Admission::Refused);
}
