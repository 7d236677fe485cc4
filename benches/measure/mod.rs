//! What the fan-out bench measures, always where Telegram would see it: the emulator's request
//! log (the arrival `Instant` of every sendMessage) and its counters (messages accepted, 429s
//! answered). Every sender, Tribune's engine or a peer in another process, is measured by the
//! same code, so the ratios compare like with like.

use std::time::{Duration, Instant};
use telegram_bot_api_emulator::Emulator;

/// What one scenario measured.
pub struct Figures {
    /// Messages asked for.
    pub asked: usize,
    /// Messages the emulator accepted.
    pub sent: u64,
    /// sendMessage requests that reached the emulator (429s included).
    pub requests: usize,
    pub too_many_requests: u64,
    pub other_errors: u64,
    /// First to last send, as the emulator saw them.
    pub span: Option<Duration>,
    /// Least-squares slope of sends over time: the sustained rate, fair to bursty senders.
    pub slope: Option<f64>,
    /// Arrival times of every sendMessage, sorted.
    pub arrivals: Vec<Instant>,
    /// From handing over the work to its end, as the sender saw it.
    pub wall: Duration,
    /// Whether everything finished before the timeout.
    pub finished: bool,
    /// What the sender itself said, printed last.
    pub note: Option<String>,
}

impl Figures {
    /// What the emulator saw of `asked` messages sent in `wall`.
    pub fn from_emulator(
        emulator: &Emulator,
        asked: usize,
        wall: Duration,
        finished: bool,
    ) -> Figures {
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
            note: None,
        }
    }

    /// First to last: (sends - 1) / (last send - first send).
    pub fn rate(&self) -> Option<f64> {
        let span = self.span?.as_secs_f64();
        (self.sent > 1 && span > 0.0).then(|| (self.sent - 1) as f64 / span)
    }

    pub fn print(&self, name: &str, target: Option<f64>) {
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
            if self.finished { "" } else { "; TIMED OUT or FAILED" },
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
        if let Some(note) = &self.note {
            println!("   {note}");
        }
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

/// The two conditions compared: Telegram's limits at 30 msg/s, and no limits at all (neither
/// the emulator's nor the sender's own).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    At30,
    Off,
}

/// Tribune against each peer that ran, as ratios of msg/s and of 429s.
#[derive(Default)]
pub struct Comparison {
    pub tribune_at_30: Option<Figures>,
    pub tribune_off: Option<Figures>,
    peers: Vec<(Condition, &'static str, Figures)>,
}

impl Comparison {
    pub fn add(&mut self, condition: Condition, peer: &'static str, figures: Figures) {
        self.peers.push((condition, peer, figures));
    }

    /// One line per peer and condition where both Tribune and the peer ran.
    pub fn print(&self) {
        let mut lines = Vec::new();
        for wanted in [Condition::At30, Condition::Off] {
            let (tribune, label) = match wanted {
                Condition::At30 => (&self.tribune_at_30, "at 30 msg/s"),
                Condition::Off => (&self.tribune_off, "limits off"),
            };
            let Some(tribune) = tribune else { continue };
            for (_, name, peer) in self.peers.iter().filter(|(c, _, _)| *c == wanted) {
                lines.push(format!("   {label}, Tribune / {name}: {}", compare(tribune, peer)));
            }
        }
        if !lines.is_empty() {
            println!("comparison (emulator's log and counters, each side measured the same way):");
            lines.iter().for_each(|l| println!("{l}"));
        }
    }
}

/// "msg/s 0.981 sustained (0.945 first-to-last); 429s 0 vs 0".
fn compare(tribune: &Figures, peer: &Figures) -> String {
    let rate = |t: Option<f64>, p: Option<f64>| match (t, p) {
        (Some(t), Some(p)) if p > 0.0 => format!("{:.3}", t / p),
        _ => format!(
            "n/a ({} vs {})",
            t.map_or("n/a".into(), |t| format!("{t:.2}")),
            p.map_or("n/a".into(), |p| format!("{p:.2}"))
        ),
    };
    let (t, p) = (tribune.too_many_requests, peer.too_many_requests);
    let too_many = if p == 0 {
        format!("{t} vs {p}")
    } else {
        format!("{:.2} ({t} / {p})", t as f64 / p as f64)
    };
    format!(
        "msg/s {} sustained ({} first-to-last); 429s {too_many}",
        rate(tribune.slope, peer.slope),
        rate(tribune.rate(), peer.rate())
    )
}
