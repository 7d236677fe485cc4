//! A million subscribers: the memory of the processes that matter, each measured on its own.
//!
//! 1. Setup (this process, not measured): the content imported, then `MILLION_N` subscriptions
//!    (1 000 000) written with batched writes (`Store::load_subscriptions`), all due at the
//!    same minute.
//! 2. **A digest round in the serving process**: a child process runs Tribune as `serve` does
//!    (`serve::start`: scheduler, delivery engine, pruning, intake) on a manual clock, against
//!    the Bot API emulator of this process with limits off and the pacer off. The clock is
//!    moved to the due minute: every subscriber's digest is composed, committed to the outbox,
//!    sent, and confirmed in the store. The child prints its own peak RSS (VmHWM).
//! 3. **`tribune backup FILE`** (the real binary, no Tribune serving: it opens the store) and
//! 4. **`tribune restore FILE`** into a new directory: their peak RSS is read from
//!    `/proc/<pid>/status` (VmHWM, monotonic) every 10 ms while they run.
//!
//! `cargo bench --bench million`; `MILLION_N=100000` for a quick run, `MILLION_ROUND=0` to
//! measure only the backup and the restore (the round of a million takes about 11 minutes),
//! `MILLION_ROTATE=1` to time a key rotation in the serving process after the round. The child
//! then compacts the store as the next pruning pass would (timed), and logs what `RUST_LOG`
//! asks for (`RUST_LOG=tribune::store::compact=info`: every compaction, with how long writes
//! waited).

mod common;

use std::{
    env,
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};
use telegram_bot_api_emulator::{Emulator, Limits as EmulatorLimits};
use tribune::{
    app::Tribune,
    content::Lang,
    delivery::Limits,
    schedule::Clock,
    serve::{self, ServeOptions},
    store::Store,
    subscription::{ChatKind, Subscription},
};

use common::BoxError;

/// The due minute of every reader.
/// Messages the emulator keeps in each chat.
const HISTORY: usize = 4;
const DUE: i64 = common::FIRST_DUE;
const FIRST_CHAT: i64 = common::FIRST_READER;
const TARGET_MIB: f64 = 512.0;

/// Set in the child that serves the round: the data directory.
const CHILD_DIR: &str = "MILLION_CHILD_DIR";

fn main() -> Result<(), BoxError> {
    // As `tribune` does at start (src/allocator.rs): the figures are those of the product.
    tribune::allocator::tune();
    if let Some(dir) = env::var_os(CHILD_DIR) {
        return child_round(Path::new(&dir));
    }
    let n = env::var("MILLION_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000usize);
    let root = tempfile::tempdir()?;
    let data = root.path().join("data");
    println!("million: {n} subscribers; {} cores", cores());

    let started = Instant::now();
    setup(&data, n)?;
    println!(
        "setup: {n} subscriptions loaded in {:.1} s; store {:.0} MiB on disk",
        started.elapsed().as_secs_f64(),
        mib(common::dir_size(&data))
    );

    if env::var("MILLION_ROUND").is_ok_and(|v| v == "0") {
        println!("digest round skipped (MILLION_ROUND=0)");
    } else {
        round(&data, n)?;
    }
    backup_and_restore(root.path(), &data)
}

/// Step 2: the digest round in a child process, against an emulator in this one.
fn round(data: &Path, n: usize) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let emulator = runtime.block_on(async {
        let emulator = Emulator::start().await?;
        emulator.set_limits(EmulatorLimits::off());
        // A million digests kept as chat history would take gigabytes in this process: the
        // last few of each chat are enough (the bench counts sends in the emulator's stats).
        emulator.set_history_limit(Some(HISTORY));
        Ok::<_, BoxError>(emulator)
    })?;
    for i in 0..n {
        emulator.user(FIRST_CHAT + i as i64, "Reader", Some("en"));
    }
    let mut round = common::this_bench_again()?;
    round
        .env(CHILD_DIR, data)
        .env("MILLION_N", n.to_string())
        .env("MILLION_API", emulator.api_url())
        .env("MILLION_TOKEN", emulator.token());
    let (status, peak, wall) = measured(&mut round)?;
    if !status {
        return Err("the serving process failed".into());
    }
    let sent = emulator.stats().sent;
    report("digest round in the serving process", peak, wall);
    println!("  the emulator counted {sent} messages sent");
    runtime.block_on(emulator.shutdown());
    drop(runtime);
    println!("store after the round: {:.0} MiB on disk", mib(common::dir_size(data)));
    Ok(())
}

/// Steps 3 and 4: the real `tribune backup` and `tribune restore`.
fn backup_and_restore(root: &Path, data: &Path) -> Result<(), BoxError> {
    let file = root.join("million.backup");
    let (ok, peak, wall) = measured(tribune(data).arg("backup").arg(&file))?;
    if !ok {
        return Err("tribune backup failed".into());
    }
    report("tribune backup", peak, wall);
    println!("  backup file: {:.0} MiB", mib(std::fs::metadata(&file)?.len()));
    let restored = root.join("restored");
    let (ok, peak, wall) = measured(tribune(&restored).arg("restore").arg(&file))?;
    if !ok {
        return Err("tribune restore failed".into());
    }
    report("tribune restore", peak, wall);
    println!("  restored store: {:.0} MiB on disk", mib(common::dir_size(&restored)));
    Ok(())
}

/// The content imported, then `n` subscriptions due at [`DUE`], in batched writes.
fn setup(data: &Path, n: usize) -> Result<(), BoxError> {
    drop(Tribune::open(data, &common::messages_dir())?);
    let store = open_released(data)?;
    store.load_subscriptions((0..n).map(|i| {
        let mut sub = Subscription::new(FIRST_CHAT + i as i64, ChatKind::Private, Lang::En);
        sub.next_due = Some(DUE);
        sub
    }))?;
    store.flush()?;
    Ok(())
}

/// The child: Tribune serving on a manual clock against the parent's emulator, one round.
fn child_round(data: &Path) -> Result<(), BoxError> {
    // What Tribune logs (a compaction, a rotation) when RUST_LOG asks for it.
    if env::var_os("RUST_LOG").is_some() {
        let _ = env_logger::try_init();
    }
    let n: usize = env::var("MILLION_N")?.parse()?;
    let api = env::var("MILLION_API")?;
    let token = env::var("MILLION_TOKEN")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let start = chrono::DateTime::from_timestamp(DUE - 60, 0).ok_or("a time")?;
        let (clock, manual) = Clock::manual(start);
        let (app, _) = Tribune::open_with_clock(data, &common::messages_dir(), clock)?;
        let app = Arc::new(app);
        let bot = teloxide::Bot::new(token).set_api_url(api.parse()?);
        let options = ServeOptions {
            limits: Limits::off(),
            poll_timeout: Duration::from_secs(1),
            ..ServeOptions::default()
        };
        let handle = serve::start(bot, app.clone(), options).await?;
        print_memory("serving, before the round");
        let started = Instant::now();
        manual.set(chrono::DateTime::from_timestamp(DUE, 0).ok_or("a time")?);
        // Composed once no one is due any more; sent once the engine is idle after that.
        let store = app.store().clone();
        let deadline = Instant::now() + Duration::from_secs(3600);
        while store.first_due()?.is_some_and(|t| t <= DUE) || !store.outbox_is_empty() {
            if Instant::now() > deadline {
                return Err("the round did not finish within an hour".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        handle.engine().wait_idle(Duration::from_secs(600)).await;
        let wall = started.elapsed();
        let (edition, _, reached) = store.editions_latest(1)?.remove(0);
        println!(
            "round: edition {edition} reached {reached} of {n} chats in {:.1} s ({:.0} per second)",
            wall.as_secs_f64(),
            reached as f64 / wall.as_secs_f64()
        );
        print_memory("serving, after the round (VmHWM: the peak of this process)");
        if env::var("MILLION_ROTATE").is_ok_and(|v| v == "1") {
            // A key rotation (crypto-shredding after `/stop`), incremental (the bot reads and
            // writes meanwhile): how long it takes with every reader's records, and its cost.
            let started = Instant::now();
            let rotation = store.rotate_keys()?;
            println!(
                "key rotation: {} records re-sealed in {:.1} s (index entries not counted)",
                rotation.resealed,
                started.elapsed().as_secs_f64()
            );
            print_memory("serving, after the rotation");
        }
        // The next pruning pass (a minute later) compacts the store if its files have grown:
        // how long writes wait for that copy, and what it costs, in the serving process.
        let started = Instant::now();
        match store.compact_if_grown()? {
            Some(done) => println!(
                "compaction after the round: {:.0} MiB of files -> {:.0} MiB in {:.1} s (writes wait meanwhile)",
                mib(done.before),
                mib(done.after),
                started.elapsed().as_secs_f64()
            ),
            None => println!("compaction after the round: not needed"),
        }
        print_memory("serving, after the compaction");
        handle.shutdown().await;
        Ok::<_, BoxError>(())
    })
}

/// `tribune` with `TRIBUNE_DATA_DIR` set, and the public test key (the one the store was made
/// with) in a key file beside the data directory.
fn tribune(data: &Path) -> Command {
    let beside = data.parent().unwrap_or(Path::new("."));
    let mut command = Command::new(env!("CARGO_BIN_EXE_tribune"));
    command
        .env("TRIBUNE_KEY_FILE", common::test_key_file(beside))
        .env("TRIBUNE_DATA_DIR", data)
        .env("TRIBUNE_MESSAGES_DIR", common::messages_dir())
        .env("RUST_LOG", "warn");
    command
}

/// Runs a child to its end, reading its VmHWM every 10 ms: (success, peak MiB, wall time).
fn measured(command: &mut Command) -> Result<(bool, f64, Duration), BoxError> {
    let started = Instant::now();
    let mut child = command.spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak: f64 = 0.0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        {
            peak = peak.max(kb / 1024.0);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok((status.success(), peak, started.elapsed()))
}

fn report(what: &str, peak: f64, wall: Duration) {
    let met = if peak < TARGET_MIB { "met" } else { "NOT met" };
    println!(
        "{what}: peak RSS {peak:.1} MiB in {:.1} s (target < {TARGET_MIB} MiB: {met})",
        wall.as_secs_f64()
    );
}

fn open_released(dir: &Path) -> Result<Store, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(store) => return Ok(store),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.into()),
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn print_memory(when: &str) {
    let (rss, hwm) = common::memory();
    println!("memory {when}: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
}
