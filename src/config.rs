//! Configuration from the environment (and `.env`, loaded by `main`), read once and validated.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "reader data is encrypted at rest and needs a key: set TRIBUNE_KEY_FILE to a file holding one (`tribune keygen FILE` writes it; keep it outside the data directory, e.g. on a tmpfs or in systemd's LoadCredential=), or TRIBUNE_PASSPHRASE_FILE to a file holding a passphrase"
    )]
    MissingKey,
    #[error("{name} must be a whole number of seconds from {min} to {max}, not {value:?}")]
    BadSeconds { name: &'static str, value: String, min: u64, max: u64 },
    #[error("set TRIBUNE_KEY_FILE or TRIBUNE_PASSPHRASE_FILE, not both")]
    TwoKeys,
    #[error(
        "{name} ({path}) is inside the data directory: the key must never be stored beside the data it protects; move it elsewhere (a tmpfs, systemd's LoadCredential=)"
    )]
    KeyInDataDir { name: &'static str, path: String },
    #[error("TELOXIDE_TOKEN is not set: get a token from @BotFather and put it in .env")]
    MissingToken,
    #[error(
        "TELOXIDE_TOKEN does not look like a bot token (expected digits, a colon, then at least 30 letters, digits, - or _)"
    )]
    BadToken,
    #[error("TELOXIDE_API_URL is not a valid URL: {0}")]
    BadApiUrl(String),
    #[error("{name} must be a whole number of seconds from 1 to 60, not {value:?}")]
    BadNumber { name: &'static str, value: String },
    #[error(
        "TRIBUNE_RATE_LIMIT must be a number of messages per second from 1 to {max}, not {value:?}"
    )]
    BadRate { value: String, max: u32 },
    #[error("{name} must be a whole number from {min} to {max}, not {value:?}")]
    OutOfRange { name: &'static str, value: String, min: usize, max: usize },
    #[error("TRIBUNE_ADMINS must list Telegram user ids separated by commas, not {0:?}")]
    BadAdmins(String),
    #[error("{name} must be true or false, not {value:?}")]
    BadFlag { name: &'static str, value: String },
    #[error("TRIBUNE_METRICS_ADDR must be an address and port such as 127.0.0.1:9464, not {0:?}")]
    BadMetricsAddr(String),
    #[error(
        "TRIBUNE_METRICS_ADDR must be a loopback address (127.0.0.1 or [::1]), not {0}: the metrics endpoint is for a local agent or a reverse proxy, never the open internet"
    )]
    PublicMetricsAddr(std::net::SocketAddr),
    #[error(
        "TRIBUNE_WEBHOOK_URL must be the public https:// URL Telegram sends updates to (http:// only for 127.0.0.1 or localhost), not {0:?}"
    )]
    BadWebhookUrl(String),
    #[error(
        "TRIBUNE_WEBHOOK_LISTEN must be an address and port to listen on, like 127.0.0.1:8080, not {0:?}"
    )]
    BadWebhookListen(String),
    #[error(
        "TRIBUNE_WEBHOOK_SECRET must be 1 to 256 characters, each a letter, a digit, _ or - (its value is not shown)"
    )]
    BadWebhookSecret,
    #[error("webhook mode needs {0} (see .env.example)")]
    MissingWebhook(&'static str),
    #[error("{name} must be a whole number of days from {min} to 3650, not {value:?}")]
    BadDays { name: &'static str, value: String, min: u64 },
}

/// A bot token. Its `Debug` and `Display` never show it, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Checks the shape Telegram issues: `<bot id>:<secret>`.
    pub fn parse(raw: &str) -> Result<Token, ConfigError> {
        let raw = raw.trim();
        let (id, secret) = raw.split_once(':').ok_or(ConfigError::BadToken)?;
        let ok = !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && secret.len() >= 30
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(Token(raw.to_string())) } else { Err(ConfigError::BadToken) }
    }

    /// The secret itself, for the one place that needs it: building the HTTP client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The secret Telegram sends with every webhook request. Never printed, compared in constant
/// time.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Telegram's rule: 1 to 256 characters of `A-Z`, `a-z`, `0-9`, `_` and `-`.
    pub fn parse(raw: &str) -> Result<WebhookSecret, ConfigError> {
        let raw = raw.trim();
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if (1..=256).contains(&raw.len()) && raw.bytes().all(allowed) {
            Ok(WebhookSecret(raw.to_string()))
        } else {
            Err(ConfigError::BadWebhookSecret)
        }
    }

    /// The secret itself, for the one place that needs it: `setWebhook`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the secret. Every byte of the secret is looked at whatever `given`
    /// is, so the time taken does not tell an attacker how much of a guess was right.
    pub fn matches(&self, given: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        let mut diff = u8::from(given.len() != expected.len());
        for (i, byte) in expected.iter().enumerate() {
            diff |= byte ^ given.get(i).copied().unwrap_or(0);
        }
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Webhook mode (`serve --webhook`): Telegram posts updates to `url`, a reverse proxy
/// forwards them to `listen`.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The public URL given to Telegram (`TRIBUNE_WEBHOOK_URL`); its path is the path served.
    pub url: reqwest::Url,
    /// Where Tribune listens (`TRIBUNE_WEBHOOK_LISTEN`, default 127.0.0.1:8080).
    pub listen: SocketAddr,
    pub secret: WebhookSecret,
    /// How often Telegram is asked whether the webhook is still set and delivering
    /// (`TRIBUNE_WEBHOOK_CHECK_SECS`, 1–600, default 60): a webhook is quiet whenever readers
    /// are, so this is how `/health` tells a quiet bot from one Telegram no longer reaches.
    pub check_every: Duration,
}

impl Webhook {
    /// The webhook settings, when `TRIBUNE_WEBHOOK_URL` is set.
    pub fn from_env() -> Result<Option<Webhook>, ConfigError> {
        let Some(raw) = var("TRIBUNE_WEBHOOK_URL") else { return Ok(None) };
        let url = reqwest::Url::parse(raw.trim())
            .ok()
            .filter(|u| match u.scheme() {
                "https" => true,
                "http" => matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
                _ => false,
            })
            .ok_or_else(|| ConfigError::BadWebhookUrl(raw.clone()))?;
        let listen = var("TRIBUNE_WEBHOOK_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError::BadWebhookListen(listen.clone()))?;
        let secret = var("TRIBUNE_WEBHOOK_SECRET")
            .ok_or(ConfigError::MissingWebhook("TRIBUNE_WEBHOOK_SECRET"))?;
        let secret = WebhookSecret::parse(&secret)?;
        let check_every = match var("TRIBUNE_WEBHOOK_CHECK_SECS") {
            None => Duration::from_secs(60),
            Some(value) => match value.trim().parse::<u64>() {
                Ok(n @ 1..=600) => Duration::from_secs(n),
                _ => {
                    let (min, max) = (1, 600);
                    let name = "TRIBUNE_WEBHOOK_CHECK_SECS";
                    return Err(ConfigError::OutOfRange { name, value, min, max });
                }
            },
        };
        Ok(Some(Webhook { url, listen, secret, check_every }))
    }
}

/// Everything `serve` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub token: Token,
    /// The Bot API server; `None` means Telegram's own.
    pub api_url: Option<reqwest::Url>,
    pub data_dir: PathBuf,
    pub messages_dir: PathBuf,
    /// How long one long poll for updates waits.
    pub poll_timeout: Duration,
    /// Messages per second overall (Telegram: 30; up to 1000 with paid broadcasts).
    pub rate_limit: u32,
    /// Send bulk messages with `allow_paid_broadcast` (charged in Telegram Stars).
    pub paid_broadcast: bool,
    /// Telegram user ids of the operators.
    pub admins: Vec<i64>,
    /// Channels to post in, by id or `@username`.
    pub channels: Vec<String>,
    /// Where to serve `/health` and `/metrics` (loopback only); `None`: no endpoint.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Webhook settings, when `TRIBUNE_WEBHOOK_URL` is set (used by `serve --webhook`).
    pub webhook: Option<Webhook>,
    /// What bounds interactive work; each `None` keeps the intake's default.
    pub intake: IntakeLimits,
    /// Where the key that seals reader data comes from.
    pub key: KeySource,
    /// How long after a `/stop` the keys rotate (`TRIBUNE_SHRED_AFTER_SECS`, default an hour).
    pub shred_after: Duration,
    /// How often the keys rotate anyway (`TRIBUNE_ROTATE_EVERY_SECS`, default a day).
    pub rotate_every: Duration,
    /// How long each kind of record is kept (`TRIBUNE_KEEP_*_DAYS`).
    pub retention: Retention,
}

/// Where the key that seals reader data at rest comes from (never the data directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `TRIBUNE_KEY_FILE`: 32 bytes, raw or as 64 hex digits.
    File(PathBuf),
    /// `TRIBUNE_PASSPHRASE_FILE`: a passphrase (its first line), stretched with Argon2id.
    Passphrase(PathBuf),
}

impl KeySource {
    /// The key's source from the environment: exactly one of the two variables, naming a
    /// file outside the data directory.
    pub fn from_env() -> Result<KeySource, ConfigError> {
        let source = match (var("TRIBUNE_KEY_FILE"), var("TRIBUNE_PASSPHRASE_FILE")) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoKeys),
            (None, None) => return Err(ConfigError::MissingKey),
            (Some(file), None) => KeySource::File(PathBuf::from(file)),
            (None, Some(file)) => KeySource::Passphrase(PathBuf::from(file)),
        };
        let data_dir = Paths::from_env().data_dir;
        if source.is_inside(&data_dir) {
            let path = source.path().display().to_string();
            return Err(ConfigError::KeyInDataDir { name: source.var(), path });
        }
        Ok(source)
    }

    /// The variable that names it.
    pub fn var(&self) -> &'static str {
        match self {
            KeySource::File(_) => "TRIBUNE_KEY_FILE",
            KeySource::Passphrase(_) => "TRIBUNE_PASSPHRASE_FILE",
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            KeySource::File(p) | KeySource::Passphrase(p) => p,
        }
    }

    /// Whether the file lies in `dir` (compared as absolute paths, links resolved where they
    /// exist).
    pub fn is_inside(&self, dir: &Path) -> bool {
        inside(self.path(), dir)
    }
}

/// Whether `path` lies in `dir`, comparing absolute forms (links resolved where they exist).
pub fn inside(path: &Path, dir: &Path) -> bool {
    let absolute = |p: &Path| {
        std::fs::canonicalize(p).ok().or_else(|| {
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let parent = std::fs::canonicalize(parent).ok()?;
            Some(parent.join(p.file_name()?))
        })
    };
    match (absolute(path), absolute(dir)) {
        (Some(path), Some(dir)) => path.starts_with(dir),
        _ => false,
    }
}

/// The intake's bounds an operator may change (`TRIBUNE_INTAKE_*`): how many updates are
/// handled at once, how many may wait in all and in one chat. They bound its memory, whatever
/// the number of accounts sending. `None` keeps the intake's own default (8, 5,000, 16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeLimits {
    pub workers: Option<usize>,
    pub queue: Option<usize>,
    pub per_chat: Option<usize>,
}

impl IntakeLimits {
    /// Reads `TRIBUNE_INTAKE_WORKERS` (1–64), `TRIBUNE_INTAKE_QUEUE` (100–100,000) and
    /// `TRIBUNE_INTAKE_PER_CHAT` (1–100).
    pub fn from_env() -> Result<IntakeLimits, ConfigError> {
        Ok(IntakeLimits {
            workers: bounded("TRIBUNE_INTAKE_WORKERS", var("TRIBUNE_INTAKE_WORKERS"), 1, 64)?,
            queue: bounded("TRIBUNE_INTAKE_QUEUE", var("TRIBUNE_INTAKE_QUEUE"), 100, 100_000)?,
            per_chat: bounded("TRIBUNE_INTAKE_PER_CHAT", var("TRIBUNE_INTAKE_PER_CHAT"), 1, 100)?,
        })
    }
}

const DAY: u64 = 24 * 3600;

/// How long Tribune keeps each kind of record before the pruning task removes it (PRIVACY.md
/// lists them). Every period is counted on the app's clock from the record's own time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Delivery records (which chat got which edition, and Telegram's message ids): what a
    /// withdrawal (Telegram allows 48 hours) and a correction need. Corrections are taken for
    /// as long as these are kept. `TRIBUNE_KEEP_DELIVERIES_DAYS`, default 14, at least 2.
    pub deliveries: Duration,
    /// Dead letters (messages given up on, with the reason). `TRIBUNE_KEEP_DEAD_LETTERS_DAYS`,
    /// default 7.
    pub dead_letters: Duration,
    /// Chats that blocked the bot, left or removed it: erased entirely (as `/stop` does) this
    /// long after. `TRIBUNE_KEEP_DEACTIVATED_DAYS`, default 30.
    pub deactivated: Duration,
    /// Editions, operators' jobs and broadcast drafts (no reader data): `/editions` and job
    /// progress read them. `TRIBUNE_KEEP_RECORDS_DAYS`, default 90, never shorter than
    /// `deliveries`.
    pub records: Duration,
    /// The audit log of what operators did. `TRIBUNE_KEEP_AUDIT_DAYS`, default 365.
    pub audit: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        let days = |n| Duration::from_secs(n * DAY);
        Retention {
            deliveries: days(14),
            dead_letters: days(7),
            deactivated: days(30),
            records: days(90),
            audit: days(365),
        }
    }
}

impl Retention {
    /// The periods set in the environment, defaults for the others.
    pub fn from_env() -> Result<Retention, ConfigError> {
        let d = Retention::default();
        let deliveries = days("TRIBUNE_KEEP_DELIVERIES_DAYS", d.deliveries, 2)?;
        let records = days("TRIBUNE_KEEP_RECORDS_DAYS", d.records, 1)?;
        Ok(Retention {
            deliveries,
            dead_letters: days("TRIBUNE_KEEP_DEAD_LETTERS_DAYS", d.dead_letters, 1)?,
            deactivated: days("TRIBUNE_KEEP_DEACTIVATED_DAYS", d.deactivated, 1)?,
            // An edition outliving its records is harmless; records outliving their edition
            // could no longer be found by age.
            records: records.max(deliveries),
            audit: days("TRIBUNE_KEEP_AUDIT_DAYS", d.audit, 1)?,
        })
    }
}

/// A whole number within `min..=max`, if set.
fn bounded(
    name: &'static str,
    value: Option<String>,
    min: usize,
    max: usize,
) -> Result<Option<usize>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(ConfigError::OutOfRange { name, value, min, max }),
    }
}

/// A number of days from `min` to ten years, or `default` when unset.
fn days(name: &'static str, default: Duration, min: u64) -> Result<Duration, ConfigError> {
    parse_days(name, var(name), default, min)
}

fn parse_days(
    name: &'static str,
    raw: Option<String>,
    default: Duration,
    min: u64,
) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(default),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(n) if (min..=3650).contains(&n) => Ok(Duration::from_secs(n * DAY)),
            _ => Err(ConfigError::BadDays { name, value, min }),
        },
    }
}

/// The parts of the configuration that do not involve Telegram (used by `check`, `import`, `demo`).
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub messages_dir: PathBuf,
}

impl Paths {
    pub fn from_env() -> Paths {
        Paths {
            data_dir: var("TRIBUNE_DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from),
            messages_dir: var("TRIBUNE_MESSAGES_DIR")
                .map_or_else(|| PathBuf::from("messages"), PathBuf::from),
        }
    }
}

impl Config {
    /// The configuration, or the first problem with it (what `serve` stops on).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::check_env().map_err(|mut problems| problems.remove(0))
    }

    /// The configuration, or every problem with it (what `tribune doctor` lists). Each setting
    /// is checked by itself, so one mistake does not hide the next.
    pub fn check_env() -> Result<Config, Vec<ConfigError>> {
        let mut problems = Vec::new();
        let token = Config::keep(
            &mut problems,
            var("TELOXIDE_TOKEN").ok_or(ConfigError::MissingToken).and_then(|t| Token::parse(&t)),
        );
        let api_url = Config::keep(
            &mut problems,
            var("TELOXIDE_API_URL")
                .map(|u| reqwest::Url::parse(&u).map_err(|e| ConfigError::BadApiUrl(e.to_string())))
                .transpose(),
        );
        let poll_timeout = Config::keep(&mut problems, poll_timeout());
        let paid_broadcast = Config::keep(&mut problems, paid_broadcast());
        // With an unreadable TRIBUNE_PAID_BROADCAST, only a rate no setting allows is wrong.
        let rate_limit = Config::keep(&mut problems, rate_limit(paid_broadcast.unwrap_or(true)));
        let admins = Config::keep(&mut problems, admins());
        let metrics_addr = Config::keep(
            &mut problems,
            var("TRIBUNE_METRICS_ADDR").map(|raw| metrics_addr(&raw)).transpose(),
        );
        let webhook = Config::keep(&mut problems, Webhook::from_env());
        let intake = Config::keep(&mut problems, IntakeLimits::from_env());
        let key = Config::keep(&mut problems, KeySource::from_env());
        let shred_after =
            Config::keep(&mut problems, seconds("TRIBUNE_SHRED_AFTER_SECS", 3600, 1..=86_400));
        let rotate_every = Config::keep(
            &mut problems,
            seconds("TRIBUNE_ROTATE_EVERY_SECS", 86_400, 60..=30 * 86_400),
        );
        let retention = Config::keep(&mut problems, Retention::from_env());
        let channels = var("TRIBUNE_CHANNELS")
            .map(|list| {
                list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
            })
            .unwrap_or_default();
        let Paths { data_dir, messages_dir } = Paths::from_env();
        match (
            token,
            api_url,
            poll_timeout,
            paid_broadcast,
            rate_limit,
            admins,
            metrics_addr,
            webhook,
            intake,
            key,
            shred_after,
            rotate_every,
            retention,
        ) {
            (
                Some(token),
                Some(api_url),
                Some(poll_timeout),
                Some(paid_broadcast),
                Some(rate_limit),
                Some(admins),
                Some(metrics_addr),
                Some(webhook),
                Some(intake),
                Some(key),
                Some(shred_after),
                Some(rotate_every),
                Some(retention),
            ) => Ok(Config {
                token,
                api_url,
                data_dir,
                messages_dir,
                poll_timeout,
                rate_limit,
                paid_broadcast,
                admins,
                channels,
                metrics_addr,
                webhook,
                intake,
                key,
                shred_after,
                rotate_every,
                retention,
            }),
            _ => Err(problems),
        }
    }

    fn keep<T>(problems: &mut Vec<ConfigError>, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|e| problems.push(e)).ok()
    }
}

/// A number of seconds in `range`, or `default` when the variable is not set.
fn seconds(
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    match var(name) {
        None => Ok(Duration::from_secs(default)),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Duration::from_secs(n)),
            _ => {
                Err(ConfigError::BadSeconds { name, value, min: *range.start(), max: *range.end() })
            }
        },
    }
}

fn poll_timeout() -> Result<Duration, ConfigError> {
    match var("TRIBUNE_POLL_TIMEOUT_SECS") {
        None => Ok(Duration::from_secs(10)),
        Some(value) => match value.parse::<u64>() {
            Ok(n @ 1..=60) => Ok(Duration::from_secs(n)),
            _ => Err(ConfigError::BadNumber { name: "TRIBUNE_POLL_TIMEOUT_SECS", value }),
        },
    }
}

fn paid_broadcast() -> Result<bool, ConfigError> {
    match var("TRIBUNE_PAID_BROADCAST").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => {
            Err(ConfigError::BadFlag { name: "TRIBUNE_PAID_BROADCAST", value: other.to_string() })
        }
    }
}

fn rate_limit(paid_broadcast: bool) -> Result<u32, ConfigError> {
    let max = if paid_broadcast { 1000 } else { 30 };
    match var("TRIBUNE_RATE_LIMIT") {
        None => Ok(30),
        Some(value) => match value.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::BadRate { value, max }),
        },
    }
}

fn admins() -> Result<Vec<i64>, ConfigError> {
    match var("TRIBUNE_ADMINS") {
        None => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<i64>().ok().filter(|id| *id > 0))
            .collect::<Option<Vec<i64>>>()
            .ok_or(ConfigError::BadAdmins(list.clone())),
    }
}

/// Parses the metrics address and refuses anything but loopback.
pub fn metrics_addr(raw: &str) -> Result<std::net::SocketAddr, ConfigError> {
    let addr: std::net::SocketAddr =
        raw.trim().parse().map_err(|_| ConfigError::BadMetricsAddr(raw.to_string()))?;
    if addr.ip().is_loopback() { Ok(addr) } else { Err(ConfigError::PublicMetricsAddr(addr)) }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intake_limits_are_bounded() {
        let read = |value: &str| bounded("TRIBUNE_INTAKE_QUEUE", Some(value.into()), 100, 100_000);
        assert_eq!(read("5000").unwrap(), Some(5000));
        assert_eq!(read(" 100 ").unwrap(), Some(100));
        for bad in ["99", "100001", "-1", "lots", "", "1e4"] {
            let error = read(bad).unwrap_err().to_string();
            assert!(
                error.contains("TRIBUNE_INTAKE_QUEUE") && error.contains("100 to 100000"),
                "{error}"
            );
        }
        assert_eq!(bounded("X", None, 1, 2).unwrap(), None);
    }

    #[test]
    fn retention_periods_are_whole_days_within_bounds() {
        let default = Duration::from_secs(9);
        let parse = |raw: Option<&str>, min| {
            parse_days("TRIBUNE_KEEP_X_DAYS", raw.map(String::from), default, min)
        };
        assert_eq!(parse(None, 1).unwrap(), default);
        assert_eq!(parse(Some(" 3 "), 1).unwrap(), Duration::from_secs(3 * DAY));
        for bad in ["0", "-1", "1.5", "3651", "a week"] {
            assert!(parse(Some(bad), 1).is_err(), "{bad}");
        }
        let e = parse(Some("1"), 2).unwrap_err().to_string();
        assert!(e.contains("TRIBUNE_KEEP_X_DAYS") && e.contains("from 2"), "{e}");
    }

    #[test]
    fn tokens_are_checked_and_never_printed() {
        let token = Token::parse("123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789").unwrap();
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert!(Token::parse("123456").is_err());
        assert!(Token::parse("abc:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789").is_err());
        assert!(Token::parse("1:short").is_err());
    }

    #[test]
    fn the_metrics_address_must_be_loopback() {
        assert_eq!(metrics_addr("127.0.0.1:9464").unwrap().port(), 9464);
        assert!(metrics_addr("[::1]:0").is_ok());
        assert!(matches!(metrics_addr("0.0.0.0:9464"), Err(ConfigError::PublicMetricsAddr(_))));
        assert!(matches!(metrics_addr("192.168.1.5:80"), Err(ConfigError::PublicMetricsAddr(_))));
        assert!(matches!(metrics_addr("localhost"), Err(ConfigError::BadMetricsAddr(_))));
        let error = metrics_addr("0.0.0.0:9464").unwrap_err().to_string();
        assert!(error.starts_with("TRIBUNE_METRICS_ADDR must be a loopback address"), "{error}");
    }

    #[test]
    fn webhook_secrets_follow_telegrams_rule_and_never_print() {
        let secret = WebhookSecret::parse("Abc_123-xyz").unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
        assert!(secret.matches(b"Abc_123-xyz"));
        for wrong in [&b""[..], b"Abc_123-xy", b"Abc_123-xyz0", b"abc_123-xyz", b"Abc_123-xyZ"] {
            assert!(!secret.matches(wrong), "{wrong:?}");
        }
        assert!(WebhookSecret::parse("").is_err());
        assert!(WebhookSecret::parse("has space").is_err());
        assert!(WebhookSecret::parse("ünïcode").is_err());
        assert!(WebhookSecret::parse(&"a".repeat(257)).is_err());
        assert!(WebhookSecret::parse(&"a".repeat(256)).is_ok());
    }

    #[test]
    fn a_whole_config_prints_neither_the_token_nor_the_webhook_secret() {
        let config = Config {
            token: Token::parse("123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789").unwrap(),
            api_url: Some(reqwest::Url::parse("http://127.0.0.1:8081/").unwrap()),
            data_dir: PathBuf::from("data"),
            messages_dir: PathBuf::from("messages"),
            poll_timeout: Duration::from_secs(10),
            rate_limit: 30,
            paid_broadcast: false,
            admins: vec![1],
            channels: Vec::new(),
            metrics_addr: None,
            webhook: Some(Webhook {
                url: reqwest::Url::parse("https://bot.example.org/hook").unwrap(),
                listen: "127.0.0.1:8080".parse().unwrap(),
                secret: WebhookSecret::parse("WebhookSecretValue_42").unwrap(),
                check_every: Duration::from_secs(60),
            }),
            intake: IntakeLimits::default(),
            key: KeySource::File(PathBuf::from("/run/credentials/tribune.service/key")),
            shred_after: Duration::from_secs(3600),
            rotate_every: Duration::from_secs(86_400),
            retention: Retention::default(),
        };
        let printed = format!("{config:?} {config:#?}");
        assert!(printed.contains("bot.example.org"), "the rest is printed: {printed}");
        assert!(!printed.contains("ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"), "{printed}");
        assert!(!printed.contains("WebhookSecretValue_42"), "{printed}");
    }
}
