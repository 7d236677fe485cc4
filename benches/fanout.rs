//! Fan-out through the local Bot API emulator: how close the delivery engine gets to
//! Telegram's limits, how fast the bot goes with no limits at all, and how its peers do on the
//! same job: teloxide's own `Throttle` adaptor, and Python's aiogram and python-telegram-bot
//! broadcast loops, run as subprocesses against the emulator of this process.
//!
//! Everything talks to 127.0.0.1 only: the emulator (with Telegram's flood limits, answering
//! 429 when one is broken), the real engine, the real `TelegramTransport` over teloxide, and a
//! sled store in a temporary directory. The Python peers run in a venv under
//! `target/bench-venv` with the exact versions of `benches/peers/requirements.txt`, installed
//! from PyPI when missing; without python3 (or when the venv or pip fails) they are skipped
//! with one line saying why, and the rest runs.
//!
//! Rates and 429s are measured where Telegram would see them, from the emulator's request log
//! and counters, the same way for every sender (`measure`): first to last, (sends - 1) / (last
//! send - first send), and sustained, the least-squares slope of sends over time, which is
//! fair to a sender that sends in bursts (see BENCHMARKS.md).
//!
//! Scenarios: (a) limits on at 30 msg/s, (b) paid broadcast at 1000 msg/s, (b0) the pacer
//! alone at 1000 msg/s, (c) limits off, (c0) limits off without HTTP, (d) teloxide's
//! `Throttle`, awaiting each send (d1) and spawning them all (d2), and (d0) teloxide without
//! it, limits off; (e) aiogram's `asyncio.sleep(1/30)` loop, limits on (e1) and, without the
//! sleep, limits off (e0); (f) python-telegram-bot's `AIORateLimiter`, limits on (f1) and,
//! without it, limits off (f0). At the end, Tribune (a, c) against each peer that ran, as
//! ratios of msg/s and of 429s.
//!
//! `cargo bench --bench fanout` runs every scenario; `cargo bench --bench fanout -- a c d e f`
//! runs some. `FANOUT_N` sets the chats of (a), (d1, d2), (e1) and (f1) (600), `FANOUT_PAID_N`
//! of (b) (5000), `FANOUT_OFF_N` of (c) and (c0) (20000), `FANOUT_PEER_OFF_N` of (d0), (e0)
//! and (f0) (3000); `FANOUT_PYTHON` names the Python that makes the venv (python3).

mod common;
mod measure;
mod peers;

use common::memory;
use measure::{Comparison, Condition, Figures};
use peers::{Peer, PythonPeer, python_fanout};

use std::{
    env,
    future::Future,
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
    // As `tribune` does at start (src/allocator.rs): the figures are those of the product.
    tribune::allocator::tune();
    let wanted: Vec<String> = env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let runs = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let n = env_usize("FANOUT_N", 600);
    let paid_n = env_usize("FANOUT_PAID_N", 5000);
    let off_n = env_usize("FANOUT_OFF_N", 20_000);
    let peer_off_n = env_usize("FANOUT_PEER_OFF_N", 3000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!("fanout: {} cores, {}", cores(), cpu_model());
    runtime.block_on(async {
        let mut table = Comparison::default();
        if runs("s") {
            sealing_cost(env_usize("FANOUT_SEAL_N", 200_000));
        }
        if runs("r") {
            rotation_cost(env_usize("FANOUT_ROTATE_N", 50_000))?;
        }
        if runs("a") {
            let limits = Limits::telegram(30.0, false);
            let fig = engine_fanout(EmulatorLimits::telegram(), limits, n).await?;
            fig.print("a  engine, limits on (30 msg/s)", Some(30.0));
            table.tribune_at_30 = Some(fig);
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
            table.tribune_off = Some(fig);
        }
        if runs("c0") {
            let fig = engine_without_http(off_n).await?;
            fig.print("c0 engine, limits off, no HTTP (engine + store ceiling)", None);
            verdict_over_1000(fig.rate());
        }
        if runs("d") {
            let seq = teloxide_fanout(EmulatorLimits::telegram(), n.min(60), true, false).await?;
            seq.print("d1 teloxide Throttle, sequential awaits", Some(30.0));
            let conc = teloxide_fanout(EmulatorLimits::telegram(), n, true, true).await?;
            conc.print("d2 teloxide Throttle, all sends spawned at once", Some(30.0));
            let off = teloxide_fanout(EmulatorLimits::off(), peer_off_n, false, true).await?;
            off.print("d0 teloxide without Throttle, all sends spawned at once, limits off", None);
            let best = if seq.slope >= conc.slope { seq } else { conc };
            table.add(Condition::At30, "teloxide Throttle (best of d1, d2)", best);
            table.add(Condition::Off, "teloxide without Throttle (d0)", off);
        }
        if runs("e") || runs("f") {
            python_peers(&mut table, &runs, n, peer_off_n).await?;
        }
        table.print();
        Ok::<(), BoxError>(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(5));
    let (rss, hwm) = memory();
    println!("memory at the end: VmRSS {rss:.1} MiB, peak VmHWM {hwm:.1} MiB (emulator included)");
    Ok(())
}

/// Scenario s: what sealing adds to each message the engine sends, measured alone: the
/// outbox item sealed when queued (with its chat's tag for the by-chat index), opened when
/// read back, and the delivery record sealed when the send is confirmed.
fn sealing_cost(n: usize) {
    use tribune::store::seal::EpochKeys;
    let keys = EpochKeys::generate(1);
    let item = OutboxItem {
        edition: 42,
        chat_id: 5_123_456_789,
        kind: tribune::subscription::ChatKind::Private,
        message: OutMessage { html: "x".repeat(900), buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    };
    let json = serde_json::to_vec(&item).expect("an item serialises");
    let record = br#"{"outcome":"sent","message_ids":[123456],"at":1764000000}"#;
    let started = Instant::now();
    let mut bytes = 0;
    for i in 0..n as u64 {
        let key = i.to_be_bytes();
        let tag = keys.tag(item.chat_id + i as i64);
        let sealed = keys.seal("outbox", &key, &json);
        let opened = keys.open("outbox", &key, &sealed).expect("opens");
        let sealed_record = keys.seal("deliveries", &tag, record);
        bytes += opened.len() + sealed_record.len();
    }
    let per = started.elapsed() / n as u32;
    std::hint::black_box(bytes);
    println!(
        "s  sealing per message ({} B item, {n} messages): {:.2} µs (tag + seal + open + seal record), {:.0} messages/s of one core",
        json.len(),
        per.as_secs_f64() * 1e6,
        1.0 / per.as_secs_f64()
    );
}

/// Scenario r: a key rotation (what makes `/stop` hold on disk) over `n` subscribers, each with
/// a delivery record and a queued message: how long it takes, and how long a reader's write
/// and lookup take while it runs (they go on: the rotation is incremental).
fn rotation_cost(n: usize) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let subs = (0..n).map(|i| {
        let mut sub = tribune::subscription::Subscription::new(
            chat(i),
            ChatKind::Private,
            tribune::content::Lang::En,
        );
        sub.next_due = Some(1_000_000 + i as i64);
        sub
    });
    store.load_subscriptions(subs)?;
    let edition = store.new_edition(EditionKind::Digest, 0)?;
    let item = |i: usize| OutboxItem {
        edition,
        chat_id: chat(i),
        kind: ChatKind::Private,
        message: OutMessage { html: "x".repeat(900), buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    };
    let queued = store.enqueue((0..n).map(item).collect())?;
    for (seq, item) in &queued[..n / 2] {
        store.mark_sent(*seq, item, 1, 0)?;
    }
    store.flush()?;
    let started = Instant::now();
    // A reader using the bot meanwhile: a `/lang` (a durable write) and a settings lookup
    // every 10 ms, each on another chat, timed.
    let rotation = {
        let store = store.clone();
        std::thread::spawn(move || store.rotate_keys())
    };
    let mut waits = Vec::new();
    let mut k = 0;
    while !rotation.is_finished() {
        let asked = Instant::now();
        store.set_chat_lang(chat((k * 7_919) % n), tribune::content::Lang::Ru)?;
        store.chat(chat((k * 7_919 + 1) % n))?;
        waits.push(asked.elapsed());
        k += 1;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let rotation = rotation.join().map_err(|_| "the rotation panicked")??;
    let took = started.elapsed();
    waits.sort();
    let at =
        |q: f64| waits.get(((waits.len() as f64 * q) as usize).min(waits.len().saturating_sub(1)));
    let ms = |d: Option<&std::time::Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "r  key rotation: {} records moved ({n} subscribers, {} queued, {} delivered) in {:.2} s = {:.0} records/s; meanwhile {} write+lookup pairs, p50 {:.1} ms, p99 {:.1} ms, longest {:.1} ms",
        rotation.resealed,
        n - n / 2,
        n / 2,
        took.as_secs_f64(),
        rotation.resealed as f64 / took.as_secs_f64(),
        waits.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(waits.last())
    );
    Ok(())
}

/// Scenarios e (aiogram) and f (python-telegram-bot), when the venv can be had.
async fn python_peers(
    table: &mut Comparison,
    runs: &dyn Fn(&str) -> bool,
    n: usize,
    off_n: usize,
) -> Result<(), BoxError> {
    let python = match tokio::task::spawn_blocking(PythonPeer::prepare).await? {
        Ok(python) => python,
        Err(why) => {
            println!("e, f skipped: the Python peers need python3 with venv and pip: {why}");
            return Ok(());
        }
    };
    let on = EmulatorLimits::telegram();
    let off = EmulatorLimits::off();
    if runs("e") {
        let loop_30 = Peer::Aiogram { interval: 1.0 / 30.0 };
        let at_30 = python_fanout(&python, loop_30, on, n).await?;
        at_30.print("e1 aiogram, loop with asyncio.sleep(1/30)", Some(30.0));
        let no_sleep = python_fanout(&python, Peer::Aiogram { interval: 0.0 }, off, off_n).await?;
        no_sleep.print("e0 aiogram, the same loop without the sleep, limits off", None);
        table.add(Condition::At30, "aiogram, sleep(1/30) loop (e1)", at_30);
        table.add(Condition::Off, "aiogram, loop without the sleep (e0)", no_sleep);
    }
    if runs("f") {
        let at_30 = python_fanout(&python, Peer::Ptb { limiter: true }, on, n).await?;
        at_30.print("f1 python-telegram-bot, AIORateLimiter(), loop", Some(30.0));
        let none = python_fanout(&python, Peer::Ptb { limiter: false }, off, off_n).await?;
        none.print("f0 python-telegram-bot, no rate limiter, loop, limits off", None);
        table.add(Condition::At30, "python-telegram-bot, AIORateLimiter (f1)", at_30);
        table.add(Condition::Off, "python-telegram-bot, no limiter (f0)", none);
    }
    Ok(())
}

fn verdict_over_1000(rate: Option<f64>) {
    let verdict = match rate {
        Some(r) if r > 1000.0 => format!("yes, {:.1}x", r / 1000.0),
        Some(_) => "NO".to_string(),
        None => "n/a".to_string(),
    };
    println!("   exceeds 1000 msg/s: {verdict}");
}

/// What a sender reports when it is done.
struct Sent {
    /// Whether it finished before its timeout (and did not fail).
    finished: bool,
    /// What it said about its own sends, printed after the figures.
    note: Option<String>,
}

/// Starts an emulator with `limits` and `n` private chats, hands it to `send`, and measures
/// what the emulator saw: the one way every scenario with HTTP is measured.
async fn measured<F, Fut>(limits: EmulatorLimits, n: usize, send: F) -> Result<Figures, BoxError>
where
    F: FnOnce(Emulator) -> Fut,
    Fut: Future<Output = Result<Sent, BoxError>>,
{
    let emulator = Emulator::start().await?;
    emulator.set_limits(limits);
    for i in 0..n {
        emulator.user(chat(i), "Reader", Some("en"));
    }
    let started = Instant::now();
    let sent = send(emulator.clone()).await;
    let wall = started.elapsed();
    let mut figures = Figures::from_emulator(&emulator, n, wall, false);
    emulator.shutdown().await;
    let sent = sent?;
    figures.finished = sent.finished;
    figures.note = sent.note;
    Ok(figures)
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
    let dir = tempfile::tempdir()?;
    let (store, queued) = queued_store(dir.path(), n)?;
    measured(emulator_limits, n, |emulator| async move {
        let transport = TelegramTransport::new(bot_for(&emulator)?);
        let timeout = expected_time(limits, n);
        let (_, finished, _) = run_engine(store, transport, limits, queued, timeout).await;
        Ok(Sent { finished, note: None })
    })
    .await
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

/// How fast the pacer alone hands out slots: the engine can go no faster.
async fn pacer_alone(limits: Limits, n: usize) {
    let pacer = Pacer::new(&limits);
    let started = Instant::now();
    for _ in 0..n {
        let _answered_at_once = pacer.acquire(tribune::delivery::Lane::Bulk).await;
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
        note: None,
    })
}

/// What a teloxide user writes by default: `bot.throttle(Limits::default())` (or the bare
/// `Bot` when `throttle` is false) and a loop of `send_message`, either awaiting each send or
/// spawning them all.
async fn teloxide_fanout(
    limits: EmulatorLimits,
    n: usize,
    throttle: bool,
    concurrent: bool,
) -> Result<Figures, BoxError> {
    measured(limits, n, |emulator| async move {
        let bot = bot_for(&emulator)?;
        // Dropping the last handle of a Throttle stops its worker.
        let failed = if throttle {
            send_all(bot.throttle(ThrottleLimits::default()), n, concurrent).await
        } else {
            send_all(bot, n, concurrent).await
        };
        let note =
            (failed > 0).then(|| format!("({failed} sends returned an error to the caller)"));
        Ok(Sent { finished: true, note })
    })
    .await
}

/// Sends DIGEST to the first `n` chats through `bot`; how many sends returned an error.
async fn send_all<R>(bot: R, n: usize, concurrent: bool) -> usize
where
    R: Requester + Clone + Send + Sync + 'static,
{
    let send = move |bot: R, i: usize| async move {
        bot.send_message(ChatId(chat(i)), DIGEST).parse_mode(ParseMode::Html).await.is_ok()
    };
    let mut failed = 0;
    if concurrent {
        let mut sends = JoinSet::new();
        for i in 0..n {
            sends.spawn(send(bot.clone(), i));
        }
        while let Some(result) = sends.join_next().await {
            failed += usize::from(!matches!(result, Ok(true)));
        }
    } else {
        for i in 0..n {
            failed += usize::from(!send(bot.clone(), i).await);
        }
    }
    failed
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
