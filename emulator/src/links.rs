//! The links Telegram accepts: in `<a href>` (a bare domain gets "http://",
//! a link it cannot use is silently dropped) and on URL buttons (refused with
//! BUTTON_URL_INVALID). Candidates are checked with the same URL parser
//! teloxide uses, so every link the emulator echoes back is readable.

use reqwest::Url;

/// The link a `<a href>` yields, or `None` if Telegram would drop it.
pub(crate) fn text_link(href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() || href.chars().any(char::is_whitespace) {
        return None;
    }
    let lower = href.to_ascii_lowercase();
    if lower.starts_with("tg:") || lower.starts_with("ton:") {
        return Url::parse(href).is_ok().then(|| href.to_owned());
    }
    let full = if lower.starts_with("http://") || lower.starts_with("https://") {
        href.to_owned()
    } else if href.contains("://") {
        return None;
    } else {
        format!("http://{href}")
    };
    let url = Url::parse(&full).ok()?;
    let host = url.host_str()?;
    (host.contains('.') || host == "localhost").then_some(full)
}

/// Whether a URL button's link is one Telegram accepts: http(s) with a host,
/// or tg://.
pub(crate) fn is_button_url(url: &str) -> bool {
    if url.chars().any(char::is_whitespace) {
        return false;
    }
    match Url::parse(url) {
        Ok(parsed) => match parsed.scheme() {
            "http" | "https" => parsed.host_str().is_some_and(|h| !h.is_empty()),
            "tg" => url.len() > "tg://".len(),
            _ => false,
        },
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_links_are_completed_or_dropped() {
        assert_eq!(text_link("example.com/a").as_deref(), Some("http://example.com/a"));
        assert_eq!(text_link(" https://t.me/x ").as_deref(), Some("https://t.me/x"));
        assert_eq!(text_link("tg://user?id=1").as_deref(), Some("tg://user?id=1"));
        assert_eq!(text_link("not a url"), None);
        assert_eq!(text_link("word"), None);
        assert_eq!(text_link("ftp://x.org"), None);
    }

    #[test]
    fn button_urls_need_http_or_tg() {
        assert!(is_button_url("https://example.org"));
        assert!(is_button_url("tg://resolve?domain=x"));
        assert!(!is_button_url("example.org"));
        assert!(!is_button_url("https://"));
        assert!(!is_button_url("javascript:alert(1)"));
    }
}
