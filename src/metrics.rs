//! The optional metrics endpoint (`TRIBUNE_METRICS_ADDR`): `GET /health` and `GET /metrics`
//! (Prometheus text format) on a loopback address, for a local monitoring agent.
//!
//! Only loopback: the numbers are harmless, but an open port on a public address invites
//! scans, and a reverse proxy or an agent on the same host is the normal setup. The subscriber
//! gauges need a pass over every subscription, so they are cached for a minute.

use crate::{
    clock::Clock,
    delivery::{ErrorClass, Observer},
    intake::IntakeHealth,
    stats::HealthReport,
    store::{Store, SubscriberCounts},
};
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use std::{
    fmt::Write,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// How long subscriber counts are reused between scrapes.
const CENSUS_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// The running endpoint. Stop it with [`MetricsServer::shutdown`].
pub struct MetricsServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

struct Shared {
    store: Store,
    observer: Arc<Observer>,
    /// The app's clock, so "today" here is the day `/health` means.
    clock: Clock,
    census: Mutex<Option<(Instant, SubscriberCounts)>>,
}

/// Starts serving on `addr` (port 0 picks a free port; see [`MetricsServer::addr`]).
pub async fn serve(
    addr: SocketAddr,
    store: Store,
    observer: Arc<Observer>,
    clock: Clock,
) -> Result<MetricsServer, MetricsError> {
    let listener =
        TcpListener::bind(addr).await.map_err(|source| MetricsError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| MetricsError::Bind { addr, source })?;
    let shared = Arc::new(Shared { store, observer, clock, census: Mutex::new(None) });
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(shared);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            log::error!("the metrics endpoint failed: {e}");
        }
    });
    Ok(MetricsServer { addr, stop, task })
}

impl MetricsServer {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening (a scrape in progress is given a second to finish).
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(1), &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// 200 when the store answers and can save, the delivery engine runs and updates arrive; 503 otherwise,
/// with the reason (a monitor restarting on 503 then restarts a bot that stopped hearing
/// its readers, which is what a stuck update loop looks like from outside).
async fn health(State(shared): State<Arc<Shared>>) -> Response {
    match HealthReport::collect(&shared.store, &shared.observer, shared.clock.unix()) {
        Ok(report) if !report.engine_running => unavailable("the delivery engine is not running"),
        Ok(report) if !report.updates.flowing => unavailable("updates are not arriving"),
        Ok(report) if !report.store_saves => unavailable(
            "the store cannot save changes (a full or failing disk): restart Tribune once there is space",
        ),
        Ok(report) => (
            StatusCode::OK,
            axum::Json(json!({
                "status": "ok",
                "outbox": report.outbox,
                "dead_letters": report.dead_letters,
                "last_delivery": report.last_delivery,
                "errors_last_hour": ErrorClass::ALL
                    .iter()
                    .zip(report.errors_last_hour)
                    .map(|(class, n)| (class.name(), n))
                    .collect::<std::collections::BTreeMap<_, _>>(),
                "uptime_seconds": report.uptime.as_secs(),
                "updates": {
                    "last_answer_seconds_ago": report.updates.last_answer_age.map(|a| a.as_secs()),
                    "waiting": report.updates.queued,
                    "replies_waiting": report.updates.replies,
                    "dropped": report.updates
                        .dropped()
                        .map(|(why, n)| (why.name(), n))
                        .collect::<std::collections::BTreeMap<_, _>>(),
                    "handler_panics": report.updates.panics,
                },
            })),
        )
            .into_response(),
        Err(e) => {
            log::error!("health check: the store does not answer: {e}");
            unavailable("the store does not answer")
        }
    }
}

fn unavailable(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({ "status": "unavailable", "reason": reason })),
    )
        .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match render(&shared) {
        Ok(text) => {
            ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
        }
        Err(e) => {
            log::error!("metrics: the store does not answer: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer\n").into_response()
        }
    }
}

fn census(shared: &Shared) -> SubscriberCounts {
    let mut cached = shared.census.lock().unwrap_or_else(|p| p.into_inner());
    match *cached {
        Some((at, counts)) if at.elapsed() < CENSUS_TTL => counts,
        _ => {
            let counts = shared.store.subscriber_census().counts;
            *cached = Some((Instant::now(), counts));
            counts
        }
    }
}

/// The Prometheus text exposition of the current numbers.
fn render(shared: &Shared) -> crate::store::Result<String> {
    let report = HealthReport::collect(&shared.store, &shared.observer, shared.clock.unix())?;
    let totals = shared.store.delivery_totals()?;
    let counts = census(shared);
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let plain = |v: u64| vec![(String::new(), v)];
    metric(
        "tribune_outbox_depth",
        "gauge",
        "Messages waiting in the outbox.",
        &plain(report.outbox as u64),
    );
    metric(
        "tribune_dead_letters",
        "gauge",
        "Messages given up on, kept for operators.",
        &plain(report.dead_letters as u64),
    );
    let outcomes = [
        ("sent", totals.sent),
        ("failed", totals.failed),
        ("retried", totals.retried),
        ("deactivated", totals.deactivated),
    ];
    let sends: Vec<(String, u64)> =
        outcomes.iter().map(|(o, v)| (format!("{{outcome=\"{o}\"}}"), *v)).collect();
    metric(
        "tribune_sends_total",
        "counter",
        "Bulk sends by outcome, since the store's stats began.",
        &sends,
    );
    let mut subscribers = Vec::new();
    for (kind, (active, deactivated)) in [
        ("users", (counts.users_active, counts.users_deactivated)),
        ("groups", (counts.groups_active, counts.groups_deactivated)),
        ("channels", (counts.channels_active, counts.channels_deactivated)),
    ] {
        subscribers.push((format!("{{kind=\"{kind}\",state=\"active\"}}"), active));
        subscribers.push((format!("{{kind=\"{kind}\",state=\"deactivated\"}}"), deactivated));
    }
    metric(
        "tribune_subscribers",
        "gauge",
        "Subscribers by kind and state (refreshed at most once a minute).",
        &subscribers,
    );
    metric(
        "tribune_last_delivery_timestamp_seconds",
        "gauge",
        "When Telegram last confirmed a bulk message (0: never).",
        &plain(report.last_delivery.unwrap_or(0).max(0) as u64),
    );
    let errors: Vec<(String, u64)> =
        report.errors().map(|(class, n)| (format!("{{class=\"{}\"}}", class.name()), n)).collect();
    metric("tribune_errors_last_hour", "gauge", "Send errors in the last hour, by class.", &errors);
    metric(
        "tribune_next_digest_timestamp_seconds",
        "gauge",
        "When the next digest is due (0: none scheduled).",
        &plain(report.next_digest.unwrap_or(0).max(0) as u64),
    );
    metric(
        "tribune_uptime_seconds",
        "gauge",
        "Seconds since the delivery engine started.",
        &plain(report.uptime.as_secs()),
    );
    metric(
        "tribune_engine_up",
        "gauge",
        "1 while the delivery engine runs.",
        &plain(u64::from(report.engine_running)),
    );
    intake_metrics(&mut metric, &report.updates);
    Ok(out)
}

/// The update loop's liveness and the interactive backlog.
fn intake_metrics(metric: &mut impl FnMut(&str, &str, &str, &[(String, u64)]), u: &IntakeHealth) {
    let plain = |v: u64| vec![(String::new(), v)];
    metric(
        "tribune_updates_flowing",
        "gauge",
        "1 while updates arrive (the update source runs and answered recently).",
        &plain(u64::from(u.flowing)),
    );
    metric(
        "tribune_updates_last_answer_age_seconds",
        "gauge",
        "Seconds since getUpdates last answered (or the webhook last received an update).",
        &plain(u.last_answer_age.map_or(u64::MAX, |a| a.as_secs())),
    );
    metric(
        "tribune_intake_waiting",
        "gauge",
        "Updates admitted and waiting for a worker.",
        &plain(u.queued as u64),
    );
    metric(
        "tribune_replies_waiting",
        "gauge",
        "Interactive replies waiting to be sent.",
        &plain(u.replies as u64),
    );
    metric("tribune_intake_admitted_total", "counter", "Updates admitted.", &plain(u.admitted));
    metric("tribune_intake_handled_total", "counter", "Updates handled.", &plain(u.handled));
    let dropped: Vec<(String, u64)> =
        u.dropped().map(|(why, n)| (format!("{{reason=\"{}\"}}", why.name()), n)).collect();
    metric(
        "tribune_intake_dropped_total",
        "counter",
        "Updates and replies dropped, by reason (flood, full, stale, stale_reply, shutdown).",
        &dropped,
    );
    metric(
        "tribune_reply_oldest_milliseconds",
        "gauge",
        "The oldest a reply was when Telegram took it, from its update's arrival (since start).",
        &plain(u.oldest_reply.as_millis() as u64),
    );
    metric(
        "tribune_handler_panics_total",
        "counter",
        "Updates whose handling panicked (each cost that update only).",
        &plain(u.panics),
    );
    metric(
        "tribune_handler_timeouts_total",
        "counter",
        "Updates whose handling was abandoned after the timeout.",
        &plain(u.timeouts),
    );
}
