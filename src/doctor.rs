//! `tribune doctor`: checks what `serve` needs, and says in plain words what is wrong.

use crate::{
    config::{Paths, Token},
    content,
    store::{Store, StoreError},
};
use std::time::Duration;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub ok: bool,
    pub text: String,
}

fn ok(text: impl Into<String>) -> Finding {
    Finding { ok: true, text: text.into() }
}

fn problem(text: impl Into<String>) -> Finding {
    Finding { ok: false, text: text.into() }
}

/// Runs every check, in the order `serve` needs them.
pub async fn examine(paths: &Paths) -> Vec<Finding> {
    let mut findings = Vec::new();
    let token = match std::env::var("TELOXIDE_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
        None => {
            findings.push(problem(
                "TELOXIDE_TOKEN is not set: get a token from @BotFather and put it in .env",
            ));
            None
        }
        Some(raw) => match Token::parse(&raw) {
            Ok(token) => {
                findings.push(ok("the token has the shape of a bot token"));
                Some(token)
            }
            Err(e) => {
                findings.push(problem(e.to_string()));
                None
            }
        },
    };
    let api_url = std::env::var("TELOXIDE_API_URL").ok().filter(|u| !u.trim().is_empty());
    let api = match api_url.as_deref().map(reqwest::Url::parse) {
        None => Some(reqwest::Url::parse("https://api.telegram.org/").expect("a valid URL")),
        Some(Ok(url)) => Some(url),
        Some(Err(e)) => {
            findings.push(problem(format!("TELOXIDE_API_URL is not a valid URL: {e}")));
            None
        }
    };
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
    findings.push(match Store::open(&paths.data_dir) {
        Ok(store) => ok(format!(
            "data directory {}: {} subscriptions, {} messages waiting to be sent",
            paths.data_dir.display(),
            store.subscription_count(),
            store.outbox_len()
        )),
        Err(StoreError::Open { .. }) if paths.data_dir.join("db").exists() => ok(format!(
            "data directory {} is in use by a running Tribune (fine if it is this one)",
            paths.data_dir.display()
        )),
        Err(e) => problem(format!("data directory {}: {e}", paths.data_dir.display())),
    });
    if let (Some(token), Some(api)) = (token, api) {
        findings.push(reach(&token, api).await);
    }
    findings
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
