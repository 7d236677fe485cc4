//! Scheduler scale: a million subscriptions in the store, due times spread uniformly over
//! a day, and how long it takes to find who is due in one minute.
//!
//! The scheduler reads the `due` index (due time ++ chat id, big-endian) from its start, and
//! moves each chat it handled to its next due time. This bench does the same, minus composing
//! and sending: for each of `SCHED_MINUTES` consecutive minutes from the earliest due time it
//! times `due_until(end of the minute)`, then moves every chat found one day on with
//! `commit_digest` (no messages) and one flush, as the runner does per batch.
//!
//! It runs twice over the same store: in the process that bulk-loaded it
//! (`Store::load_subscriptions`), then in a fresh child process that only opens it, as a
//! restarted server would. sled keeps much of what a bulk load wrote in memory, so the two
//! memory figures differ by an order of magnitude (see BENCHMARKS.md).
//!
//! `cargo bench --bench scheduler`; `SCHED_N` sets the subscriptions (1 000 000) and
//! `SCHED_MINUTES` the minutes queried (20).

mod common;

use std::{
    env,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};
use tribune::{
    content::Lang,
    store::Store,
    subscription::{ChatKind, LocalTime, Subscription},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DAY: i64 = 86_400;
/// Asia/Baku, the default zone, is UTC+4 all year.
const BAKU_OFFSET: i64 = 4 * 3600;

fn main() -> Result<(), BoxError> {
    // As `tribune` does at start (src/allocator.rs): the figures are those of the product.
    tribune::allocator::tune();
    let minutes = env_usize("SCHED_MINUTES", 20).max(1);
    if let Some(dir) = env::var_os(SERVE_DIR) {
        return serve(Path::new(&dir), minutes);
    }
    let n = env_usize("SCHED_N", 1_000_000);
    let dir = tempfile::tempdir()?;
    println!("scheduler: {n} subscriptions, {minutes} minutes; {} cores", cores());
    print_memory("at start");

    let store = Store::open(dir.path())?;
    // Midnight UTC tomorrow: every due time lies in the next day.
    let day_start = (tribune::store::unix_now() / DAY + 1) * DAY;
    let started = Instant::now();
    let loaded = store.load_subscriptions(subscriptions(n, day_start))?;
    let load_time = started.elapsed();
    println!(
        "load: {loaded} subscriptions in {:.2} s ({:.0} per second)",
        load_time.as_secs_f64(),
        loaded as f64 / load_time.as_secs_f64()
    );
    println!("size on disk: {:.1} MiB", mib(store.size_on_disk()?));
    print_memory("after loading");
    query_minutes(&store, minutes, n)?;
    print_memory("after the queries");
    drop(store);

    // A server restarted on the same data: what it costs to hold a million subscribers
    // without the bulk load's leftovers.
    println!("-- a fresh process on the same store --");
    let status = Command::new(env::current_exe()?)
        .env(SERVE_DIR, dir.path())
        .env("SCHED_N", n.to_string())
        .env("SCHED_MINUTES", minutes.to_string())
        .status()?;
    if !status.success() {
        return Err(format!("the fresh process failed: {status}").into());
    }
    Ok(())
}

/// Set for the child process that opens the loaded store afresh.
const SERVE_DIR: &str = "SCHED_SERVE_DIR";

/// The child: open the store, then query and move on the next minutes, as a restarted server.
fn serve(dir: &Path, minutes: usize) -> Result<(), BoxError> {
    let n = env_usize("SCHED_N", 1_000_000);
    let started = Instant::now();
    let store = Store::open(dir)?;
    let first = store.first_due()?;
    println!(
        "open + first_due: {:.2} s (first due at {} s of the day)",
        started.elapsed().as_secs_f64(),
        first.map_or(-1, |f| f.rem_euclid(DAY))
    );
    print_memory("after opening");
    query_minutes(&store, minutes, n)?;
    println!("size on disk: {:.1} MiB", mib(store.size_on_disk()?));
    print_memory("after the queries (VmHWM: the peak of this process)");
    Ok(())
}

/// For each of `minutes` consecutive minutes from the earliest due time: times `due_until`
/// for the minute, then moves the chats found one day on (untimed in the query figure).
fn query_minutes(store: &Store, minutes: usize, n: usize) -> Result<(), BoxError> {
    let first = store.first_due()?.ok_or("no subscription is due")?;
    let minute_start = first - first.rem_euclid(60);
    let mut queries = Vec::with_capacity(minutes);
    let mut moves = Vec::with_capacity(minutes);
    let mut counts = Vec::with_capacity(minutes);
    for k in 0..minutes as i64 {
        // Everything before this minute was moved on, as the runner would have.
        let until = minute_start + 60 * (k + 1) - 1;
        let started = Instant::now();
        let due = store.due_until(until, usize::MAX)?;
        queries.push(started.elapsed());
        counts.push(due.len());
        let started = Instant::now();
        move_on(store, &due)?;
        moves.push(started.elapsed());
    }
    let first_query = queries[0];
    let (median, max) = median_max(&mut queries);
    println!(
        "due_until for one minute: median {:.3} ms, max {:.3} ms, first {:.3} ms ({minutes} minutes)",
        ms(median),
        ms(max),
        ms(first_query)
    );
    counts.sort_unstable();
    println!(
        "due per minute: min {}, median {}, max {} (expected about {:.0})",
        counts[0],
        counts[counts.len() / 2],
        counts[counts.len() - 1],
        n as f64 / 1440.0
    );
    let (median, max) = median_max(&mut moves);
    println!(
        "moving a minute's chats one day on (commit_digest each, one flush): \
         median {:.1} ms, max {:.1} ms",
        ms(median),
        ms(max)
    );
    Ok(())
}

/// `n` subscriptions with due times uniform over the day from `day_start`, deterministic.
fn subscriptions(n: usize, day_start: i64) -> impl Iterator<Item = Subscription> {
    let mut rng = SplitMix(0x5eed);
    (0..n).map(move |i| {
        let r = rng.next();
        // One chat in twenty is a group; the rest are private chats.
        let (chat_id, kind) = if r % 20 == 0 {
            (-1_000_000_000_000 - i as i64, ChatKind::Group)
        } else {
            (100_000_000 + i as i64, ChatKind::Private)
        };
        let lang = Lang::ALL[(r >> 8) as usize % Lang::ALL.len()];
        let offset = ((r >> 16) % DAY as u64) as i64;
        let due = day_start + offset;
        let local = (offset + BAKU_OFFSET).rem_euclid(DAY);
        let mut sub = Subscription::new(chat_id, kind, lang);
        sub.time = LocalTime::parse(&format!("{}:{:02}", local / 3600, local % 3600 / 60))
            .expect("a valid time of day");
        sub.next_due = Some(due);
        sub.last_digest = Some(due - DAY);
        sub
    })
}

/// What the runner does with each chat it found due, minus composing and sending.
fn move_on(store: &Store, due: &[(i64, i64)]) -> Result<(), BoxError> {
    for &(at, chat) in due {
        let read = store.subscription(chat)?.ok_or("a due chat has no subscription")?;
        let mut sub = read.clone();
        sub.last_digest = Some(at);
        sub.next_due = Some(at + DAY);
        store.commit_digest(&read, &sub, &[])?;
    }
    store.flush()?;
    Ok(())
}

/// A small, fast, deterministic generator (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn median_max(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort_unstable();
    (times[times.len() / 2], times[times.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn env_usize(name: &str, default: usize) -> usize {
    env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn print_memory(when: &str) {
    let (rss, hwm) = common::memory();
    println!("memory {when}: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
}
