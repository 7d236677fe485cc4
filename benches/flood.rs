//! Flood: Tribune under the attacks of issue 14, as the real `tribune serve` process (the
//! release build) against the local Bot API emulator with Telegram's limits on.
//!
//! Every phase starts a fresh bot on a store of 300 subscribers; the operator broadcasts to
//! them as the flood begins; probes ask throughout: a known subscriber every 5 s (`/help`),
//! a fresh account every 10 s. Phases: the baseline (no flood); a burst of 5,000 fresh
//! accounts × 20 commands; 1,000 `/start` a second from 10,000 accounts for 60 s (going on
//! while the bot gets its SIGTERM); one
//! account sending 5 commands a second in a group for 60 s (Telegram allows the bot 20
//! messages a minute there); and the burst again from 50,000 accounts, for memory.
//!
//! Measured where Telegram would see it (the emulator): the probes' waits, the broadcast's
//! rate against the pacer's (30 msg/s at `SAFETY`, 99 %), the longest time between a getUpdates
//! answer and the next request, the longest an update waited to be fetched, 429s; from the
//! process: peak RSS (VmHWM) and the time SIGTERM takes; from its metrics: the oldest reply
//! (its update's arrival to Telegram taking it) and what was dropped.
//!
//! `cargo bench --bench flood` runs every phase; `cargo bench --bench flood -- burst group`
//! runs some (baseline, burst, sustained, group, burst50k). `FLOOD_RUNS` repeats (1);
//! `FLOOD_LOG` is the bot's `RUST_LOG` (warn), and with `FLOOD_DEBUG` set each phase's log is
//! kept as /tmp/flood-<phase>.log.

mod common;
mod flooding;

use flooding::{Bot, OPERATOR, SUBSCRIBER_BASE, probe, quantile};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use telegram_bot_api_emulator::{Emulator, User};
use tokio::task::JoinSet;

const SUBSCRIBERS: i64 = 300;
const PACER_RATE: f64 = 30.0 * tribune::delivery::SAFETY;
const FLOOD_BASE: i64 = 10_000_000;
const FRESH_BASE: i64 = 90_000_000;
const GROUP: i64 = -4_000_000_001;
const HELP: &str = "What you can ask";
const PROBE_WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
enum Flood {
    None,
    Burst { accounts: i64, each: usize },
    Sustained { accounts: i64, per_second: usize, secs: u64 },
    Group { per_second: usize, secs: u64 },
}

struct Figures {
    name: &'static str,
    known: Vec<Option<Duration>>,
    fresh: Vec<Option<Duration>>,
    fresh_after_burst: Option<Option<Duration>>,
    broadcast: Option<Duration>,
    poll_gap: Duration,
    update_wait: Duration,
    too_many: u64,
    oldest_reply: Option<u64>,
    dropped: Vec<(&'static str, Option<u64>)>,
    sent: u64,
    rss: f64,
    sigterm: Duration,
    clean: bool,
    /// Lines the bot logged at ERROR.
    errors: usize,
    /// CPU seconds the bot used during the phase.
    cpu: f64,
    /// From the press of Send until the flood was all fetched (Telegram's queue was empty).
    fetched: Option<Duration>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("FLOOD_DEBUG").is_ok() {
        let _ = env_logger::builder().is_test(false).try_init();
    }
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let runs: usize = std::env::var("FLOOD_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let phases = [
        ("baseline", Flood::None, 20),
        ("burst", Flood::Burst { accounts: 5_000, each: 20 }, 30),
        ("sustained", Flood::Sustained { accounts: 10_000, per_second: 1_000, secs: 60 }, 60),
        ("group", Flood::Group { per_second: 5, secs: 60 }, 60),
        ("burst50k", Flood::Burst { accounts: 50_000, each: 20 }, 30),
    ];
    for run in 1..=runs {
        for (name, flood, secs) in phases {
            if wanted(name) {
                let figures = phase(name, flood, Duration::from_secs(secs)).await;
                report(run, &figures);
            }
        }
    }
}

async fn phase(name: &'static str, flood: Flood, length: Duration) -> Figures {
    let (emulator, emulator_runtime) = flooding::emulator().await;
    let subscribers: Vec<User> = (1..=SUBSCRIBERS)
        .map(|i| emulator.user(SUBSCRIBER_BASE + i, "Reader", Some("en")))
        .collect();
    let operator = emulator.user(OPERATOR, "Operator", Some("en"));
    let bot = Bot::start(&emulator, SUBSCRIBERS).await;

    // The broadcast starts as the flood does.
    let text = format!("Flood bench broadcast ({name})");
    operator.send_text(&format!("/broadcast {text}"));
    let card = operator.wait_for_messages(2, Duration::from_secs(30)).await.expect("a card");
    let send = card[1].button("✅ Send").and_then(|b| b.callback_data.clone()).expect("Send");
    operator.press(card[1].message_id, &send);
    let pressed = Instant::now();
    let cpu0 = bot.cpu_seconds();
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let (emulator, stop) = (emulator.clone(), stop.clone());
        // A thread of its own: the emulator's HTTP side keeps the runtime's workers.
        tokio::task::spawn_blocking(move || run_flood(&emulator, flood, &stop))
    };
    let fetched = {
        let emulator = emulator.clone();
        let flooding = flooding.abort_handle();
        tokio::spawn(async move {
            while !flooding.is_finished() || emulator.pending_updates() > 100 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            pressed.elapsed()
        })
    };
    let reached = {
        let (subscribers, text) = (subscribers.clone(), text.clone());
        tokio::spawn(async move {
            broadcast_done(&subscribers, &text, pressed, Duration::from_secs(120)).await
        })
    };

    let mut probes = JoinSet::new();
    let started = Instant::now();
    let mut tick = 0u64;
    while started.elapsed() < length {
        if tick % 5 == 0 {
            let user = subscribers[(tick / 5 % 5) as usize].clone();
            probes.spawn(async move { (true, probe(&user, "/help", HELP, PROBE_WAIT).await) });
        }
        if tick % 10 == 0 {
            let user = emulator.user(FRESH_BASE + tick as i64, "Fresh", Some("en"));
            probes.spawn(async move { (false, probe(&user, "/help", HELP, PROBE_WAIT).await) });
        }
        tick += 1;
        tokio::time::sleep_until((started + Duration::from_secs(tick)).into()).await;
    }
    // The sustained flood goes on through SIGTERM: the stop is measured under flood.
    let sustained = matches!(flood, Flood::Sustained { .. });
    let fetched = if sustained { None } else { fetched.await.ok() };
    // After a burst, once it is fetched: is a fresh account answered within 5 s?
    let fresh_after_burst = match flood {
        Flood::Burst { .. } => {
            while emulator.pending_updates() > 100 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }

            let user = emulator.user(FRESH_BASE - 1, "Fresh", Some("en"));
            Some(probe(&user, "/help", HELP, PROBE_WAIT).await)
        }
        _ => None,
    };
    let cpu = bot.cpu_seconds() - cpu0;
    let (mut known, mut fresh) = (Vec::new(), Vec::new());
    while let Some(Ok((is_known, wait))) = probes.join_next().await {
        if is_known { known.push(wait) } else { fresh.push(wait) }
    }
    let broadcast = reached.await.ok().flatten();
    let stats = emulator.stats();
    let mut dropped = Vec::new();
    for reason in ["flood", "full", "stale", "stale_reply"] {
        let sample = format!("tribune_intake_dropped_total{{reason=\"{reason}\"}}");
        dropped.push((reason, bot.labelled(&sample).await));
    }
    let oldest_reply = bot.metric("tribune_reply_oldest_milliseconds").await;
    let rss = bot.peak_rss_mib();
    let log = bot.log.clone();
    if std::env::var("FLOOD_DEBUG").is_ok() {
        eprintln!("DEBUG log at {}", log.display());
        let _ = std::fs::copy(&log, format!("/tmp/flood-{name}.log"));
    }
    let (sigterm, clean) = bot.terminate().await;
    stop.store(true, Ordering::Release);
    let _ = flooding.await;
    let errors = std::fs::read_to_string(&log).unwrap_or_default();
    let errors = errors.lines().filter(|l| l.contains(" ERROR ")).count();
    emulator.shutdown().await;
    drop(emulator_runtime);
    Figures {
        name,
        known,
        fresh,
        fresh_after_burst,
        broadcast,
        poll_gap: stats.longest_poll_gap,
        update_wait: stats.longest_update_wait,
        too_many: stats.too_many_requests,
        oldest_reply,
        dropped,
        sent: stats.sent,
        rss,
        sigterm,
        clean,
        errors,
        cpu,
        fetched,
    }
}

/// Sends the phase's flood (returns when the last of it is sent). Runs on a thread of its own.
fn run_flood(emulator: &Emulator, flood: Flood, stop: &AtomicBool) {
    const COMMANDS: [&str; 5] = ["/start", "/help", "/slogan", "/prisoners", "/search freedom"];
    let pace = |started: Instant, at: Duration| {
        std::thread::sleep((started + at).saturating_duration_since(Instant::now()));
    };
    match flood {
        Flood::None => {}
        Flood::Burst { accounts, each } => {
            emulator.people(FLOOD_BASE..FLOOD_BASE + accounts, "Troll", "en");
            // In slices of 500 with a breath between: one lock held for the whole burst would
            // stall the emulator (and so the bot's requests) for a second, which Telegram
            // does not do.
            let ids: Vec<i64> = (FLOOD_BASE..FLOOD_BASE + accounts).collect();
            for round in 0..each {
                let command = COMMANDS[round % COMMANDS.len()];
                for slice in ids.chunks(500) {
                    emulator.flood(slice.iter().map(|&id| (id, id, command)));
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        Flood::Sustained { accounts, per_second, secs } => {
            emulator.people(FLOOD_BASE..FLOOD_BASE + accounts, "Troll", "en");
            let started = Instant::now();
            let batch = per_second / 100;
            let mut next = FLOOD_BASE;
            // Until told to stop (the bot has been stopped under it), at most `secs` and a
            // minute.
            for step in 0..(secs + 60) * 100 {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let ids: Vec<i64> = (0..batch as i64)
                    .map(|i| FLOOD_BASE + (next - FLOOD_BASE + i) % accounts)
                    .collect();
                next = ids.last().map_or(next, |l| l + 1);
                emulator.flood(ids.iter().map(|&id| (id, id, "/start")));
                pace(started, Duration::from_millis(10 * (step + 1)));
            }
        }
        Flood::Group { per_second, secs } => {
            let group = emulator.group(GROUP, "Flooded");
            let flooder = group.as_member(&emulator.user(FLOOD_BASE, "Troll", Some("en")));
            let command = format!("/slogan@{}", emulator.bot_username());
            let started = Instant::now();
            for step in 0..secs * per_second as u64 {
                flooder.send_text(&command);
                pace(started, Duration::from_millis(1000 * (step + 1) / per_second as u64));
            }
        }
    }
}

/// How long the broadcast took to reach every subscriber (from the press of Send).
async fn broadcast_done(
    subscribers: &[User],
    text: &str,
    pressed: Instant,
    within: Duration,
) -> Option<Duration> {
    let mut waiting: Vec<&User> = subscribers.iter().collect();
    while pressed.elapsed() < within {
        waiting.retain(|u| !u.messages().iter().any(|m| m.plain_text() == text));
        if waiting.is_empty() {
            return Some(pressed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".into(), |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn report(run: usize, f: &Figures) {
    let p99 = quantile(&f.known, 0.99);
    let answered = f.fresh.iter().filter(|w| w.is_some()).count();
    let rate = f.broadcast.map(|d| SUBSCRIBERS as f64 / d.as_secs_f64());
    println!("\n== run {run}, {} ==", f.name);
    println!(
        "known subscriber's reply: p50 {}, p99 {}, max {} over {} probes, {} unanswered  [p99 ≤ 2 s: {}]",
        ms(quantile(&f.known, 0.5)),
        ms(p99),
        ms(quantile(&f.known, 1.0)),
        f.known.len(),
        f.known.iter().filter(|w| w.is_none()).count(),
        mark(p99.is_some_and(|p| p <= Duration::from_secs(2))),
    );
    println!(
        "fresh accounts answered: {answered} of {} within {} s (median {})",
        f.fresh.len(),
        PROBE_WAIT.as_secs(),
        ms(quantile(&f.fresh.iter().filter(|w| w.is_some()).copied().collect::<Vec<_>>(), 0.5)),
    );
    if let Some(after) = f.fresh_after_burst {
        println!(
            "fresh account after the burst: {}  [≤ 5 s: {}]",
            ms(after),
            mark(after.is_some_and(|a| a <= Duration::from_secs(5)))
        );
    }
    println!(
        "broadcast to {SUBSCRIBERS}: {} ({} msg/s, {:.0} % of the pacer's {PACER_RATE:.2})  [≥ 50 %: {}]",
        ms(f.broadcast),
        rate.map_or("—".into(), |r| format!("{r:.1}")),
        rate.map_or(0.0, |r| 100.0 * r / PACER_RATE),
        mark(rate.is_some_and(|r| r >= PACER_RATE / 2.0)),
    );
    println!(
        "longest pause between getUpdates: {}  [≤ 2 s: {}]; longest an update waited to be fetched: {}",
        ms(Some(f.poll_gap)),
        mark(f.poll_gap <= Duration::from_secs(2)),
        ms(Some(f.update_wait)),
    );
    let oldest = f.oldest_reply.map(Duration::from_millis);
    let late = oldest.map(|o| o + f.update_wait);
    println!(
        "oldest reply: {} after its update arrived, at most {} after its command  [≤ 60 s: {}]",
        ms(oldest),
        ms(late),
        mark(late.is_some_and(|l| l <= Duration::from_secs(60))),
    );
    let dropped: Vec<String> = f
        .dropped
        .iter()
        .map(|(why, n)| format!("{why} {}", n.map_or("?".into(), |n| n.to_string())))
        .collect();
    println!("dropped: {}; messages sent: {}", dropped.join(", "), f.sent);
    println!(
        "429s: {}  [0: {}]; peak RSS: {:.0} MiB  [≤ 300: {}]; SIGTERM: {}, exit {}  [≤ 10 s: {}]",
        f.too_many,
        mark(f.too_many == 0),
        f.rss,
        mark(f.rss <= 300.0),
        ms(Some(f.sigterm)),
        if f.clean { "0" } else { "non-zero" },
        mark(f.sigterm <= Duration::from_secs(10) && f.clean),
    );
    println!(
        "flood fetched {} after the press; bot CPU {:.1} s over the phase",
        ms(f.fetched),
        f.cpu
    );
    if f.errors > 0 {
        println!("the bot logged {} error line(s)", f.errors);
    }
}
