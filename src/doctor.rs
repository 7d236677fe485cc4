//! `tribune doctor`: checks what `serve` needs, and says in plain words what is wrong.

use crate::{
    config::{Config, ConfigError, KeySource, Paths, Token},
    content,
    store::{Secret, Store, StoreError, keyring::Keyring},
};
use std::{path::Path, time::Duration};

/// How a finding counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// Worth knowing, but `serve` will manage (a data directory it will create).
    Note,
    /// `serve` would stop or misbehave: doctor fails.
    Problem,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
}

fn ok(text: impl Into<String>) -> Finding {
    Finding { level: Level::Ok, text: text.into() }
}

fn note(text: impl Into<String>) -> Finding {
    Finding { level: Level::Note, text: text.into() }
}

fn problem(text: impl Into<String>) -> Finding {
    Finding { level: Level::Problem, text: text.into() }
}

/// Runs every check, in the order `serve` needs them. Nothing is created or changed: a store
/// is opened only where one already is.
pub async fn examine(paths: &Paths) -> Vec<Finding> {
    let mut findings = Vec::new();
    // The same validation as `serve`, but every problem at once. No message names the token.
    let problems = Config::check_env().err().unwrap_or_default();
    let token_wrong =
        problems.iter().any(|e| matches!(e, ConfigError::MissingToken | ConfigError::BadToken));
    if !token_wrong {
        findings.push(ok("the token has the shape of a bot token"));
    }
    if problems.iter().all(|e| matches!(e, ConfigError::MissingToken | ConfigError::BadToken)) {
        findings.push(ok("the other settings are valid"));
    }
    findings.extend(problems.iter().map(|e| problem(e.to_string())));
    findings.push(match content::load_dir(&paths.messages_dir) {
        Ok(loaded) => ok(format!(
            "content in {}: {} statements, {} slogans, {} prisoners",
            paths.messages_dir.display(),
            loaded.corpus.statements.len(),
            loaded.corpus.slogans.len(),
            loaded.corpus.prisoners.len()
        )),
        Err(e) => problem(format!("content in {}: {e}", paths.messages_dir.display())),
    });
    // The key's problems are among the settings' above; here, whether it opens the store.
    let secret = KeySource::from_env().ok().map(|source| Secret::load(&source));
    let secret = match secret {
        Some(Ok(secret)) => Some(secret),
        Some(Err(e)) => {
            findings.push(problem(e.to_string()));
            None
        }
        None => None,
    };
    findings.push(data_dir(&paths.data_dir, secret.as_ref()));
    let token = std::env::var("TELOXIDE_TOKEN").ok().and_then(|t| Token::parse(&t).ok());
    let api = match std::env::var("TELOXIDE_API_URL").ok().filter(|u| !u.trim().is_empty()) {
        None => reqwest::Url::parse("https://api.telegram.org/").ok(),
        Some(url) => reqwest::Url::parse(&url).ok(),
    };
    if let (Some(token), Some(api)) = (token, api) {
        findings.push(reach(&token, api).await);
    }
    findings
}

/// What `serve` will find in the data directory, without creating anything there: whether
/// the key opens its keyring (checked against the canary before sled is opened), then what
/// the store holds.
fn data_dir(dir: &Path, secret: Option<&Secret>) -> Finding {
    let shown = dir.display();
    let metadata = match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return note(format!(
                "data directory {shown} does not exist yet; serve will create it"
            ));
        }
        Err(e) => return problem(format!("data directory {shown} cannot be read: {e}")),
        Ok(metadata) => metadata,
    };
    if !metadata.is_dir() {
        return problem(format!(
            "data directory {shown} is a file, not a directory: point TRIBUNE_DATA_DIR elsewhere"
        ));
    }
    if metadata.permissions().readonly() {
        return problem(format!("data directory {shown} is read-only: serve cannot write there"));
    }
    if !crate::store::sled_dir(dir).join("db").exists() {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return problem(format!("data directory {shown} cannot be read: {e}")),
        };
        // As the store sees it: `lost+found` is what a freshly formatted volume holds.
        let occupied = entries.flatten().any(|e| e.file_name() != "lost+found");
        return if occupied {
            problem(format!(
                "data directory {shown} holds other files and no Tribune store: serve will refuse it; use an empty or new directory"
            ))
        } else {
            note(format!("data directory {shown} is empty; serve will create the store there"))
        };
    }
    let Some(secret) = secret else {
        return problem(format!("data directory {shown}: not checked without a key"));
    };
    if !Keyring::exists(dir) {
        return note(format!(
            "data directory {shown} has no keyring: written before encryption, its reader data will be sealed at the next start of serve (or damaged: restore a backup)"
        ));
    }
    if let Err(e) = Keyring::load(dir, secret) {
        return problem(format!("data directory {shown}: {e}"));
    }
    match Store::open_keyed(dir, secret) {
        Ok(store) => ok(format!(
            "data directory {shown}: {} subscriptions, {} messages waiting to be sent; {} opens its keyring",
            store.subscription_count(),
            store.outbox_len(),
            secret.var()
        )),
        Err(StoreError::Open { .. }) => ok(format!(
            "data directory {shown} is in use by a running Tribune (fine if it is this one)"
        )),
        Err(e) => problem(format!("data directory {shown}: {e}")),
    }
}

/// Asks the Bot API who the bot is.
async fn reach(token: &Token, api: reqwest::Url) -> Finding {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(client) => client,
        Err(e) => return problem(format!("cannot make an HTTP client: {e}")),
    };
    let host = api.host_str().unwrap_or("the Bot API").to_string();
    // As teloxide builds it: `<api>/bot<token>/getMe` (joining a relative URL would read
    // "bot<id>:" as a scheme).
    let mut url = api;
    match url.path_segments_mut() {
        Ok(mut segments) => {
            segments.pop_if_empty().push(&format!("bot{}", token.expose())).push("getMe");
        }
        Err(()) => return problem("TELOXIDE_API_URL cannot have a path (is it an http(s) URL?)"),
    }
    match client.get(url).send().await {
        Err(e) if e.is_timeout() => problem(format!("{host} did not answer within 10 seconds")),
        // The error's text would contain the URL, and so the token: say only what kind it is.
        Err(e) if e.is_connect() => {
            problem(format!("cannot connect to {host} (network or address wrong?)"))
        }
        Err(e) => problem(format!("the request to {host} failed: {}", e.without_url())),
        Ok(response) => {
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            match body["result"]["username"].as_str() {
                Some(name) if status.is_success() => ok(format!("{host} knows the bot as @{name}")),
                _ if status.as_u16() == 401 || status.as_u16() == 404 => problem(format!(
                    "{host} does not accept the token: revoke or copy it again from @BotFather"
                )),
                _ => problem(format!(
                    "{host} answered {status}: {}",
                    body["description"].as_str().unwrap_or("no description")
                )),
            }
        }
    }
}
