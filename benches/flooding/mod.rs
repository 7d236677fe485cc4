//! The flood bench's parts: the real `tribune serve` process against an emulator (its peak
//! memory, metrics and SIGTERM), the subscribers it starts with, and the probes.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use telegram_bot_api_emulator::{Emulator, User};
use tribune::{
    content::Lang,
    store::{Store, unix_now},
    subscription::{ChatKind, Subscription},
};

pub const OPERATOR: i64 = 900;
pub const SUBSCRIBER_BASE: i64 = 100_000;

/// A running `tribune serve` (the release build `cargo bench` makes), killed if dropped.
pub struct Bot {
    child: Child,
    metrics: String,
    pub log: PathBuf,
    _data: tempfile::TempDir,
}

impl Bot {
    /// Starts `serve` on a fresh store holding `subscribers` private subscriptions (their
    /// digests not due for a day), with the operator, the metrics endpoint and Telegram's
    /// limits; returns once it polls.
    pub async fn start(emulator: &Emulator, subscribers: i64) -> Bot {
        let data = tempfile::tempdir().expect("a temporary directory");
        let store_dir = data.path().join("data");
        {
            let store = Store::open(&store_dir).expect("a store");
            let subs = (1..=subscribers).map(|i| {
                let mut sub = Subscription::new(SUBSCRIBER_BASE + i, ChatKind::Private, Lang::En);
                sub.next_due = Some(unix_now() + 86_400);
                sub
            });
            store.load_subscriptions(subs).expect("subscriptions");
            store.flush().expect("flush");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = data.path().join("serve.log");
        let messages = Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
        let child = Command::new(env!("CARGO_BIN_EXE_tribune"))
            .arg("serve")
            .env("TELOXIDE_TOKEN", emulator.token())
            .env("TELOXIDE_API_URL", emulator.api_url())
            .env("TRIBUNE_DATA_DIR", &store_dir)
            .env("TRIBUNE_KEY_FILE", crate::common::test_key_file(data.path()))
            .env("TRIBUNE_MESSAGES_DIR", messages)
            .env("TRIBUNE_ADMINS", OPERATOR.to_string())
            .env("TRIBUNE_METRICS_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", std::env::var("FLOOD_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("tribune serve");
        let bot =
            Bot { child, metrics: format!("http://127.0.0.1:{port}/metrics"), log, _data: data };
        emulator
            .wait_for_requests("getUpdates", 1, Duration::from_secs(30))
            .await
            .expect("the bot polls");
        bot
    }

    /// The process's peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// CPU seconds the process used so far (user + system).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// One sample of the metrics endpoint (without labels), if it answers.
    pub async fn metric(&self, name: &str) -> Option<u64> {
        let text = reqwest::get(&self.metrics).await.ok()?.text().await.ok()?;
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }

    /// A labelled sample, e.g. `tribune_intake_dropped_total{reason="flood"}`.
    pub async fn labelled(&self, sample: &str) -> Option<u64> {
        let text = reqwest::get(&self.metrics).await.ok()?.text().await.ok()?;
        text.lines()
            .find(|l| l.starts_with(sample))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }

    /// SIGTERM; how long until it exited, and whether it exited 0 (within 30 s, else killed).
    pub async fn terminate(mut self) -> (Duration, bool) {
        let pid = self.child.id().to_string();
        let started = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (started.elapsed(), status.success());
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                return (started.elapsed(), false);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Keeps the emulator's runtime running until dropped.
pub struct Runtime(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

/// An emulator on a runtime (two threads) of its own, as Telegram is not in the bot's
/// machine: the bench's own work (probes, checking the broadcast, injecting the flood) then
/// does not delay the emulator's answers, nor the moment it notes a request's arrival, which
/// its limits go by.
pub async fn emulator() -> (Emulator, Runtime) {
    let (started, emulator) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let _ = started.send(Emulator::start().await.expect("an emulator"));
            let _ = stopped.await;
        });
    });
    (emulator.await.expect("the emulator started"), Runtime(Some(stop)))
}

/// Sends `text` as `user` and waits (at most `timeout`) for a reply starting with `expect`;
/// how long it took, or `None`.
pub async fn probe(user: &User, text: &str, expect: &str, timeout: Duration) -> Option<Duration> {
    user.take_new();
    let asked = Instant::now();
    user.send_text(text);
    loop {
        let left = timeout.checked_sub(asked.elapsed())?;
        let got = user.wait_for_messages(1, left).await.ok()?;
        if got.iter().any(|m| m.plain_text().starts_with(expect)) {
            return Some(asked.elapsed());
        }
    }
}

/// The `q`-quantile of `values` (unanswered probes count as longer than any answer).
pub fn quantile(values: &[Option<Duration>], q: f64) -> Option<Duration> {
    let mut sorted: Vec<Duration> =
        values.iter().map(|v| v.unwrap_or(Duration::from_secs(3600))).collect();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).copied().filter(|d| *d < Duration::from_secs(3600))
}
