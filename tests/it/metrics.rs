//! `tribune serve` with `TRIBUNE_METRICS_ADDR`: a loopback HTTP endpoint with `/health` and
//! Prometheus `/metrics` whose numbers follow the deliveries; public addresses are refused.

use crate::support;

use crate::support::{Cli, eventually, free_port};
use std::time::Duration;
use telegram_bot_api_emulator::Emulator;
use tribune::{
    content::Lang,
    store::{Store, unix_now},
    subscription::{ChatKind, Subscription},
};

fn serve(emulator: &Emulator, data: &std::path::Path, metrics: &str) -> Cli {
    support::serve(emulator, data).env("TRIBUNE_METRICS_ADDR", metrics)
}

/// The value of one sample line, e.g. `tribune_sends_total{outcome="sent"}`.
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_deliveries() {
    let emulator = Emulator::start().await.unwrap();
    let readers: Vec<_> =
        (1..=3).map(|i| emulator.user(30_000 + i, "Reader", Some("en"))).collect();
    readers[2].block_bot();
    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open(data.path()).unwrap();
        let subs = (1..=3).map(|i| {
            let mut sub = Subscription::new(30_000 + i, ChatKind::Private, Lang::En);
            sub.next_due = Some(unix_now() - 60);
            sub
        });
        store.load_subscriptions(subs).unwrap();
    }
    let port = free_port();
    let mut bot = serve(&emulator, data.path(), &format!("127.0.0.1:{port}")).spawn();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Scrape until the fan-out shows: two sent, one chat gone.
    loop {
        if let Ok(response) = http.get(format!("{base}/metrics")).send().await {
            assert_eq!(response.status(), 200);
            let kind = response.headers()["content-type"].to_str().unwrap().to_string();
            assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
            text = response.text().await.unwrap();
            if sample(&text, "tribune_sends_total{outcome=\"sent\"}") == Some(2)
                && sample(&text, "tribune_sends_total{outcome=\"deactivated\"}") == Some(1)
            {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never showed the fan-out:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually(Duration::from_secs(5), "both readers have their digest", || {
        readers[..2].iter().all(|r| !r.messages().is_empty())
    })
    .await;
    assert!(text.contains("# TYPE tribune_sends_total counter"), "{text}");
    assert_eq!(sample(&text, "tribune_sends_total{outcome=\"failed\"}"), Some(0));
    assert_eq!(sample(&text, "tribune_outbox_depth"), Some(0));
    assert_eq!(sample(&text, "tribune_dead_letters"), Some(0));
    assert_eq!(sample(&text, "tribune_errors_last_hour{class=\"gone\"}"), Some(1));
    assert_eq!(sample(&text, "tribune_errors_last_hour{class=\"rate_limited\"}"), Some(0));
    assert_eq!(sample(&text, "tribune_engine_up"), Some(1));
    let last = sample(&text, "tribune_last_delivery_timestamp_seconds").unwrap() as i64;
    assert!((unix_now() - last).abs() < 60, "{last}");
    let next = sample(&text, "tribune_next_digest_timestamp_seconds").unwrap() as i64;
    assert!(next > unix_now(), "the next digest is tomorrow: {next}");
    // The subscriber gauges are cached for a minute; the first scrape may precede the
    // deactivation, so only the total is certain here.
    let subscribers: u64 = ["active", "deactivated"]
        .iter()
        .filter_map(|s| {
            sample(&text, &format!("tribune_subscribers{{kind=\"users\",state=\"{s}\"}}"))
        })
        .sum();
    assert_eq!(subscribers, 3, "{text}");

    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["outbox"], 0);
    assert_eq!(body["errors_last_hour"]["gone"], 1, "{body}");
    assert_eq!(body["errors_last_hour"]["rate_limited"], 0, "{body}");
    assert_eq!(body["last_delivery"].as_i64(), Some(last), "{body}");
    let missing = http.get(format!("{base}/nothing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let exit = bot.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "{exit:?}");
    assert!(http.get(format!("{base}/health")).send().await.is_err(), "the endpoint stopped");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_public_metrics_address_is_refused() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let output = serve(&emulator, data.path(), "0.0.0.0:9464").run_async().await;
    let stderr = &output.stderr;
    assert!(!output.success());
    assert!(stderr.contains("TRIBUNE_METRICS_ADDR must be a loopback address"), "{stderr}");
    assert_eq!(emulator.requests("getMe"), 0, "nothing started");
    emulator.shutdown().await;
}
