//! A year in minutes: daily digests to `YEAR_N` subscribers (10 000) for `YEAR_DAYS` simulated
//! days (365), 1 % of them sending `/stop` each day and as many new ones subscribing, every
//! digest sent through the delivery engine to the Bot API emulator (limits off) and confirmed
//! in the store, and the retention's pruning run each day. Each simulated month it prints the
//! store's size on disk (that day's, and the month's lowest and highest), what its trees hold
//! and the serving process's memory; with `YEAR_LIVE=1` also the live bytes as sled counts
//! them (which reads every page: a burst of memory of its own).
//!
//! Tribune runs in a child process as `serve` runs it (`serve::start` on a manual clock), so
//! its memory is its own; the emulator, which keeps every message it was sent, runs in this
//! process. `cargo bench --bench year`; `YEAR_N` and `YEAR_DAYS` for a quicker run;
//! `YEAR_IDLE_MS` pauses each simulated day that long (time for sled's own reclaiming),
//! `YEAR_KEEP=1` keeps the data directory, `RUST_LOG=tribune=info` shows Tribune's log.

mod common;

use std::{
    collections::VecDeque,
    env,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};
use telegram_bot_api_emulator::{Emulator, Limits as EmulatorLimits};
use tribune::{
    app::{Caller, PRUNE_STEP, Tribune},
    content::Lang,
    delivery::Limits,
    schedule::Clock,
    serve::{self, ServeOptions},
};

use common::BoxError;

/// Messages the emulator keeps in each chat.
const HISTORY: usize = 4;
const DAY: i64 = 86_400;
const FIRST_ROUND: i64 = common::FIRST_DUE;
const FIRST_CHAT: i64 = common::FIRST_READER;
const CHILD_DIR: &str = "YEAR_CHILD_DIR";

fn main() -> Result<(), BoxError> {
    // As `tribune` does at start (src/allocator.rs): the figures are those of the product.
    tribune::allocator::tune();
    let n = env_usize("YEAR_N", 10_000);
    let days = env_usize("YEAR_DAYS", 365);
    if let Some(dir) = env::var_os(CHILD_DIR) {
        return child(Path::new(&dir), n, days);
    }
    println!("year: {n} subscribers, {days} days, 1 % churn a day; {} cores", cores());
    let root = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let emulator = runtime.block_on(async {
        let emulator = Emulator::start().await?;
        emulator.set_limits(EmulatorLimits::off());
        // This process measures nothing of its own, but a year of digests kept as chat
        // history would fill the machine's memory: the last few of each chat are enough.
        emulator.set_history_limit(Some(HISTORY));
        Ok::<_, BoxError>(emulator)
    })?;
    // Everyone who will ever subscribe.
    for i in 0..n + churn(n) * days {
        emulator.user(FIRST_CHAT + i as i64, "Reader", Some("en"));
    }
    let started = Instant::now();
    let status = common::this_bench_again()?
        .env(CHILD_DIR, root.path().join("data"))
        .env("YEAR_N", n.to_string())
        .env("YEAR_DAYS", days.to_string())
        .env("YEAR_API", emulator.api_url())
        .env("YEAR_TOKEN", emulator.token())
        .status()?;
    println!(
        "emulator: {} messages sent in {:.0} s",
        emulator.stats().sent,
        started.elapsed().as_secs_f64()
    );
    runtime.block_on(emulator.shutdown());
    if env::var_os("YEAR_KEEP").is_some() {
        println!("data kept in {}", root.keep().display());
    }
    if !status.success() {
        return Err(format!("the serving process failed: {status}").into());
    }
    Ok(())
}

fn churn(n: usize) -> usize {
    n.div_ceil(100)
}

/// The serving process: subscribers, then a round a day with churn and pruning.
fn child(data: &Path, n: usize, days: usize) -> Result<(), BoxError> {
    // What Tribune logs (a compaction, a rotation) when RUST_LOG asks for it.
    if env::var_os("RUST_LOG").is_some() {
        let _ = env_logger::try_init();
    }
    let api = env::var("YEAR_API")?;
    let token = env::var("YEAR_TOKEN")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let start = chrono::DateTime::from_timestamp(FIRST_ROUND - 3600, 0).ok_or("a time")?;
        let (clock, manual) = Clock::manual(start);
        let (app, _) = Tribune::open_with_clock(data, &common::messages_dir(), clock)?;
        let app = Arc::new(app);
        let mut readers: VecDeque<i64> = VecDeque::new();
        let mut next_id = FIRST_CHAT;
        for _ in 0..n {
            app.subscribe(&Caller::private(next_id), Lang::En).map_err(|e| format!("{e:?}"))?;
            readers.push_back(next_id);
            next_id += 1;
        }
        let bot = teloxide::Bot::new(token).set_api_url(api.parse()?);
        let options = ServeOptions {
            limits: Limits::off(),
            poll_timeout: Duration::from_secs(1),
            ..ServeOptions::default()
        };
        let handle = serve::start(bot, app.clone(), options).await?;
        let store = app.store().clone();
        let idle = Duration::from_millis(env_usize("YEAR_IDLE_MS", 0) as u64);
        let mut peak_rss: f64 = 0.0;
        let started = Instant::now();
        // The disk is read every day: sled frees space a segment at a time, so a day's figure
        // is one point of a saw; the month's lowest and highest tell its trend.
        let (mut low, mut high) = (f64::INFINITY, 0.0f64);
        println!(
            "{:>4} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "day",
            "readers",
            "disk MiB",
            "low",
            "high",
            "live MiB",
            "deliver.",
            "editions",
            "gone",
            "RSS MiB",
            "HWM MiB",
            "heap MiB",
            "free MiB",
            "wall s"
        );
        for day in 0..days as i64 {
            let round = FIRST_ROUND + day * DAY;
            manual.set(chrono::DateTime::from_timestamp(round, 0).ok_or("a time")?);
            let deadline = Instant::now() + Duration::from_secs(600);
            while store.first_due()?.is_some_and(|t| t <= round) || !store.outbox_is_empty() {
                if Instant::now() > deadline {
                    return Err(format!("day {day}: the round did not finish in 10 minutes").into());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            handle.engine().wait_idle(Duration::from_secs(60)).await;
            // 1 % leave with /stop, as many arrive.
            for _ in 0..churn(n) {
                if let Some(leaving) = readers.pop_front() {
                    app.stop(&Caller::private(leaving)).map_err(|e| format!("{e:?}"))?;
                }
                app.subscribe(&Caller::private(next_id), Lang::En).map_err(|e| format!("{e:?}"))?;
                readers.push_back(next_id);
                next_id += 1;
            }
            // What the pruning task does at each tick of the app's clock, to the end, and the
            // compaction it then does if the store's files have grown.
            while app.prune_step(PRUNE_STEP)?.total() > 0 {}
            store.compact_if_grown()?;
            if idle > Duration::ZERO {
                tokio::time::sleep(idle).await;
            }
            let (rss, hwm) = common::memory();
            peak_rss = peak_rss.max(rss);
            let disk = mib(store.size_on_disk()?);
            (low, high) = (low.min(disk), high.max(disk));
            let last = day + 1 == days as i64;
            if day % 30 == 0 || last {
                let counts = store.retained();
                // sled counts its live pages by reading every one: a burst of memory that
                // would show in the peak, so only when asked.
                let live = if env::var_os("YEAR_LIVE").is_some() {
                    format!("{:.1}", mib(store.live_bytes()?))
                } else {
                    "-".to_string()
                };
                let (heap, free) = common::heap();
                println!(
                    "{:>4} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>10} {:>10} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7.0}",
                    day + 1,
                    store.subscription_count(),
                    disk,
                    low,
                    high,
                    live,
                    counts.deliveries,
                    counts.editions,
                    counts.gone,
                    rss,
                    hwm,
                    heap,
                    free,
                    started.elapsed().as_secs_f64()
                );
                (low, high) = (f64::INFINITY, 0.0);
            }
        }
        println!(
            "after {days} days: store {:.1} MiB on disk ({:.1} MiB of files), highest RSS seen {peak_rss:.1} MiB, VmHWM {:.1} MiB (target < 200 MiB)",
            store.size_on_disk()? as f64 / (1024.0 * 1024.0),
            common::dir_size(data) as f64 / (1024.0 * 1024.0),
            common::memory().1
        );
        handle.shutdown().await;
        Ok::<_, BoxError>(())
    })
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
