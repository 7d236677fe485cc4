//! Fan-out through the local Bot API emulator: how close the delivery engine gets to
//! Telegram's limits, how fast the bot goes with no limits at all, and how teloxide's own
//! `Throttle` adaptor does on the same job.
//!
//! Everything runs in this process and talks to 127.0.0.1 only: the emulator (with Telegram's
//! flood limits, answering 429 when one is broken), the real engine, the real
//! `TelegramTransport` over teloxide, and a sled store in a temporary directory.
//!
//! Rates are measured where Telegram would see them, from the emulator's request log: first
//! to last, (sends - 1) / (last send - first send), and sustained, the least-squares slope of
//! sends over time, which is fair to a sender that sends in bursts (see BENCHMARKS.md).
//!
//! Scenarios: (a) limits on at 30 msg/s, (b) paid broadcast at 1000 msg/s, (b0) the pacer
//! alone at 1000 msg/s, (c) limits off, (c0) limits off without HTTP, (d) teloxide's
//! `Throttle`, awaiting each send (d1) and spawning them all (d2).
//!
//! `cargo bench --bench fanout` runs every scenario; `cargo bench --bench fanout -- a d` runs
//! some. `FANOUT_N` sets the chats of (a) and (d) (600), `FANOUT_PAID_N` of (b) (5000),
//! `FANOUT_OFF_N` of (c) and (c0) (20000).

mod common;

use common::memory;

use std::{
    env,
    sync::Arc,
    time::{Duration, Instant},
};
use telegram_bot_api_emulator::{Emulator, Limits as EmulatorLimits};
use teloxide::{
    adaptors::throttle::Limits as ThrottleLimits, prelude::*, requests::RequesterExt,
    types::ParseMode,
};
use tokio::task::JoinSet;
use tribune::{
    delivery::{Engine, Limits, Pacer, SAFETY, SendError, StatsSnapshot, Transport},
    render::OutMessage,
    store::{EditionKind, OutboxItem, Store, unix_now},
    subscription::ChatKind,
    telegram::transport::TelegramTransport,
};

/// Private chat ids start here, so they look like real user ids.
const FIRST_CHAT: i64 = 100_000_000;

/// A digest of realistic size and markup (about 700 characters of HTML).
const DIGEST: &str = "<b>Daily digest</b>\n\n<i>«Freedom for all political prisoners!»</i>\n\n\
The statement calls on the authorities to end the prosecution of journalists, to release \
everyone detained for peaceful protest, and to allow independent observers into the courts \
where their cases are heard. It names the people still held and asks readers to share their \
names, because public attention is what keeps them safe. <b>Read it, share it, sign it.</b>\n\n\
<a href=\"https://example.org/statements/1\">Read the full statement</a>";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let wanted: Vec<String> = env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let runs = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let n = env_usize("FANOUT_N", 600);
    let paid_n = env_usize("FANOUT_PAID_N", 5000);
    let off_n = env_usize("FANOUT_OFF_N", 20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!("fanout: {} cores, {}", cores(), cpu_model());
    runtime.block_on(async {
        let mut tribune_rate = None;
        let mut throttle_rate = None;
        if runs("a") {
            let limits = Limits::telegram(30.0, false);
            let fig = engine_fanout(EmulatorLimits::telegram(), limits, n).await?;
            fig.print("a  engine, limits on (30 msg/s)", Some(30.0));
            tribune_rate = Some((fig.rate(), fig.slope));
        }
        if runs("b") {
            let limits = Limits::telegram(1000.0, true);
            let fig = engine_fanout(EmulatorLimits::telegram(), limits, paid_n).await?;
            fig.print("b  engine, paid broadcast (1000 msg/s)", Some(1000.0));
        }
        if runs("b0") {
            pacer_alone(Limits::telegram(1000.0, true), paid_n).await;
        }
        if runs("c") {
            let fig = engine_fanout(EmulatorLimits::off(), Limits::off(), off_n).await?;
            fig.print("c  engine, limits off (bot + emulator ceiling)", None);
            verdict_over_1000(fig.rate());
        }
        if runs("c0") {
            let fig = engine_without_http(off_n).await?;
            fig.print("c0 engine, limits off, no HTTP (engine + store ceiling)", None);
            verdict_over_1000(fig.rate());
        }
        if runs("d") {
            let seq_n = n.min(60);
            let seq = throttle_fanout(seq_n, false).await?;
            seq.print("d1 teloxide Throttle, sequential awaits", Some(30.0));
            let conc = throttle_fanout(n, true).await?;
            conc.print("d2 teloxide Throttle, all sends spawned at once", Some(30.0));
            let best = if seq.slope >= conc.slope { &seq } else { &conc };
            throttle_rate = Some((best.rate(), best.slope));
        }
        if let (Some((t, ts)), Some((d, ds))) = (tribune_rate, throttle_rate) {
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => format!("{:.3}", a / b),
                _ => "n/a".to_string(),
            };
            println!(
                "ratio Tribune(a) / Throttle(best of d): {} first-to-last, {} sustained",
                ratio(t, d),
                ratio(ts, ds)
            );
        }
        Ok::<(), BoxError>(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(5));
    let (rss, hwm) = memory();
    println!("memory at the end: VmRSS {rss:.1} MiB, peak VmHWM {hwm:.1} MiB (emulator included)");
    Ok(())
}

/// What one scenario measured.
struct Figures {
    /// Messages asked for.
    asked: usize,
    /// Messages the emulator accepted.
    sent: u64,
    /// sendMessage requests that reached the emulator (429s included).
    requests: usize,
    too_many_requests: u64,
    other_errors: u64,
    /// First to last send, as the emulator saw them.
    span: Option<Duration>,
    /// Least-squares slope of sends over time: the sustained rate, fair to bursty senders.
    slope: Option<f64>,
    /// Arrival times of every sendMessage, sorted.
    arrivals: Vec<Instant>,
    /// From handing over the work to its end, as the sender saw it.
    wall: Duration,
    /// Whether everything finished before the timeout.
    finished: bool,
}

impl Figures {
    fn rate(&self) -> Option<f64> {
        let span = self.span?.as_secs_f64();
        (self.sent > 1 && span > 0.0).then(|| (self.sent - 1) as f64 / span)
    }

    fn print(&self, name: &str, target: Option<f64>) {
        let show = |rate: Option<f64>| {
            let Some(r) = rate else { return "n/a".to_string() };
            match target {
                Some(t) => format!("{r:.2} msg/s = {:.1}% of {t}", 100.0 * r / t),
                None => format!("{r:.2} msg/s"),
            }
        };
        println!(
            "{name}: sent {}/{} ({} requests), {:.2} s first-to-last, {:.2} s wall; \
             429s: {}; other errors: {}{}",
            self.sent,
            self.asked,
            self.requests,
            self.span.unwrap_or_default().as_secs_f64(),
            self.wall.as_secs_f64(),
            self.too_many_requests,
            self.other_errors,
            if self.finished { "" } else { "; TIMED OUT" },
        );
        println!(
            "   rate first-to-last: {}; sustained (slope): {}",
            show(self.rate()),
            show(self.slope)
        );
        // Telegram counts sends in a sliding second: `limit + 1` arrivals closer together
        // than 1 s break it. How close did they come?
        if let Some(limit) = target.map(|t| t as usize)
            && let Some(tightest) = tightest(&self.arrivals, limit + 1)
        {
            println!(
                "   tightest {} consecutive arrivals: {:.1} ms (under 1000 ms breaks the limit)",
                limit + 1,
                tightest.as_secs_f64() * 1000.0
            );
        }
    }
}

fn verdict_over_1000(rate: Option<f64>) {
    let verdict = match rate {
        Some(r) if r > 1000.0 => format!("yes, {:.1}x", r / 1000.0),
        Some(_) => "NO".to_string(),
        None => "n/a".to_string(),
    };
    println!("   exceeds 1000 msg/s: {verdict}");
}

/// An emulator with `n` private chats registered.
async fn emulator_with_chats(limits: EmulatorLimits, n: usize) -> Result<Emulator, BoxError> {
    let emulator = Emulator::start().await?;
    emulator.set_limits(limits);
    for i in 0..n {
        emulator.user(chat(i), "Reader", Some("en"));
    }
    Ok(emulator)
}

fn chat(i: usize) -> i64 {
    FIRST_CHAT + i as i64
}

fn bot_for(emulator: &Emulator) -> Result<Bot, BoxError> {
    Ok(Bot::new(emulator.token()).set_api_url(emulator.api_url().parse()?))
}

/// A store with one broadcast edition queued for `n` private chats.
fn queued_store(
    dir: &std::path::Path,
    n: usize,
) -> Result<(Store, Vec<(u64, OutboxItem)>), BoxError> {
    let store = Store::open(dir)?;
    let edition = store.new_edition(EditionKind::Broadcast, unix_now())?;
    let message = OutMessage { html: DIGEST.to_string(), buttons: Vec::new() };
    let items = (0..n)
        .map(|i| OutboxItem {
            edition,
            chat_id: chat(i),
            kind: ChatKind::Private,
            message: message.clone(),
            attempts: 0,
            op: Default::default(),
        })
        .collect();
    let queued = store.enqueue(items)?;
    Ok((store, queued))
}

/// The real engine, transport and store, sending one message to each of `n` chats.
async fn engine_fanout(
    emulator_limits: EmulatorLimits,
    limits: Limits,
    n: usize,
) -> Result<Figures, BoxError> {
    let emulator = emulator_with_chats(emulator_limits, n).await?;
    let dir = tempfile::tempdir()?;
    let (store, queued) = queued_store(dir.path(), n)?;
    let transport = TelegramTransport::new(bot_for(&emulator)?);
    let timeout = expected_time(limits, n);
    let (wall, finished, _) = run_engine(store, transport, limits, queued, timeout).await;
    let figures = emulator_figures(&emulator, n, wall, finished);
    emulator.shutdown().await;
    Ok(figures)
}

/// Room for the expected duration twice over, plus start-up.
fn expected_time(limits: Limits, n: usize) -> Duration {
    let rate = limits.per_second.unwrap_or(500.0);
    Duration::from_secs_f64(30.0 + 2.0 * n as f64 / rate)
}

/// Runs an engine until it has sent `queued` (or the timeout), then stops it.
async fn run_engine<T: Transport>(
    store: Store,
    transport: T,
    limits: Limits,
    queued: Vec<(u64, OutboxItem)>,
    timeout: Duration,
) -> (Duration, bool, StatsSnapshot) {
    let pacer = Arc::new(Pacer::new(&limits));
    let (engine, _events) = Engine::new(store, transport, limits, pacer);
    let task = tokio::spawn(engine.clone().run());
    let started = Instant::now();
    engine.push(queued);
    let finished = engine.wait_idle(timeout).await;
    let wall = started.elapsed();
    let stats = engine.stats();
    engine.shutdown(Duration::from_secs(5)).await;
    if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
        eprintln!("the engine did not stop within 5 s of shutdown");
    }
    (wall, finished, stats)
}

fn emulator_figures(emulator: &Emulator, asked: usize, wall: Duration, finished: bool) -> Figures {
    let stats = emulator.stats();
    let mut arrivals: Vec<Instant> = emulator
        .request_log()
        .into_iter()
        .filter(|r| r.method == "sendMessage")
        .map(|r| r.at)
        .collect();
    arrivals.sort_unstable();
    let span = match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) => Some(last.duration_since(*first)),
        _ => None,
    };
    Figures {
        asked,
        sent: stats.sent,
        requests: arrivals.len(),
        slope: slope(&arrivals),
        too_many_requests: stats.too_many_requests,
        other_errors: stats.errors - stats.too_many_requests,
        span,
        arrivals,
        wall,
        finished,
    }
}

/// The shortest time spanned by `count` consecutive arrivals (sorted).
fn tightest(arrivals: &[Instant], count: usize) -> Option<Duration> {
    arrivals.windows(count).map(|w| w[count - 1].duration_since(w[0])).min()
}

/// The least-squares slope of "sends so far" against arrival time, in sends per second.
/// An evenly paced sender and one sending bursts of 30 once a second both get their
/// long-run rate, where first-to-last favours the bursts (the last burst takes no time).
fn slope(arrivals: &[Instant]) -> Option<f64> {
    let first = *arrivals.iter().min()?;
    let mut times: Vec<f64> =
        arrivals.iter().map(|t| t.duration_since(first).as_secs_f64()).collect();
    times.sort_by(f64::total_cmp);
    let n = times.len() as f64;
    let mean_t = times.iter().sum::<f64>() / n;
    let mean_k = (n - 1.0) / 2.0;
    let (mut cov, mut var) = (0.0, 0.0);
    for (k, t) in times.iter().enumerate() {
        cov += (t - mean_t) * (k as f64 - mean_k);
        var += (t - mean_t) * (t - mean_t);
    }
    (var > 0.0).then(|| cov / var)
}

/// How fast the pacer alone hands out slots: the engine can go no faster.
async fn pacer_alone(limits: Limits, n: usize) {
    let pacer = Pacer::new(&limits);
    let started = Instant::now();
    for _ in 0..n {
        pacer.acquire().await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let configured = limits.per_second.unwrap_or(f64::INFINITY);
    let rate = (n.max(1) - 1) as f64 / elapsed;
    println!(
        "b0 Pacer::acquire alone at {configured} msg/s (SAFETY {SAFETY}): {n} slots in {elapsed:.2} s \
         = {rate:.2} per second = {:.1}% of {configured}",
        100.0 * rate / configured
    );
}

/// A transport that answers at once: what the engine and the store cost on their own.
struct NoHttp;

impl Transport for NoHttp {
    async fn send(&self, _chat: i64, _message: &OutMessage, _paid: bool) -> Result<i32, SendError> {
        Ok(1)
    }
}

async fn engine_without_http(n: usize) -> Result<Figures, BoxError> {
    let dir = tempfile::tempdir()?;
    let (store, queued) = queued_store(dir.path(), n)?;
    let limits = Limits::off();
    let (wall, finished, stats) =
        run_engine(store, NoHttp, limits, queued, expected_time(limits, n)).await;
    Ok(Figures {
        asked: n,
        sent: stats.sent,
        requests: 0,
        too_many_requests: 0,
        other_errors: 0,
        span: Some(wall),
        slope: None,
        arrivals: Vec::new(),
        wall,
        finished,
    })
}

/// What a teloxide user writes by default: `bot.throttle(Limits::default())` and a loop of
/// `send_message`, either awaiting each send or spawning them all.
async fn throttle_fanout(n: usize, concurrent: bool) -> Result<Figures, BoxError> {
    let emulator = emulator_with_chats(EmulatorLimits::telegram(), n).await?;
    let bot = bot_for(&emulator)?.throttle(ThrottleLimits::default());
    let started = Instant::now();
    let mut failed = 0usize;
    if concurrent {
        let mut sends = JoinSet::new();
        for i in 0..n {
            let bot = bot.clone();
            sends.spawn(async move {
                bot.send_message(ChatId(chat(i)), DIGEST).parse_mode(ParseMode::Html).await
            });
        }
        while let Some(result) = sends.join_next().await {
            failed += usize::from(!matches!(result, Ok(Ok(_))));
        }
    } else {
        for i in 0..n {
            let result =
                bot.send_message(ChatId(chat(i)), DIGEST).parse_mode(ParseMode::Html).await;
            failed += usize::from(result.is_err());
        }
    }
    let wall = started.elapsed();
    if failed > 0 {
        println!("   ({failed} sends returned an error to the caller)");
    }
    // Dropping the last handle stops the Throttle worker.
    drop(bot);
    let figures = emulator_figures(&emulator, n, wall, true);
    emulator.shutdown().await;
    Ok(figures)
}

fn env_usize(name: &str, default: usize) -> usize {
    env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}
