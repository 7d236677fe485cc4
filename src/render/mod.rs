//! Turning the domain into replies: HTML text within Telegram's limits, plus buttons.
//!
//! A [`Reply`] is transport-neutral: the Telegram adapter sends it, the tests read it. Every
//! dynamic string is escaped here, at the point it enters HTML; UI strings from `messages/ui`
//! are trusted HTML written by the project.

pub mod html;
mod views;

pub use crate::message::{
    Action, Button, ButtonKind, CALLBACK_LIMIT, OutMessage, SettingsStep, Start,
};
pub use views::*;

use crate::content::{Corpus, Lang, PartialDate, Statement};

/// One answer to a reader: one or more messages (the last carries the buttons).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    pub messages: Vec<OutMessage>,
    /// A short notice for the button that was pressed (shown as a toast), if any.
    pub notice: Option<String>,
    /// Something the adapter must persist because of this reply.
    pub effect: Option<Effect>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    SetLang(Lang),
}

impl Reply {
    /// A reply of one message, split into several if it is too long (buttons on the last).
    pub fn html(html: String, buttons: Vec<Vec<Button>>) -> Reply {
        Reply::blocks(vec![html], buttons)
    }

    /// A reply made of paragraphs, packed into as few messages as fit.
    pub fn blocks(blocks: Vec<String>, buttons: Vec<Vec<Button>>) -> Reply {
        let blocks: Vec<String> = blocks
            .into_iter()
            .flat_map(|b| {
                if html::visible_len(&b) <= html::MESSAGE_LIMIT {
                    vec![b]
                } else {
                    // Only plain paragraphs can be this long; cut them as text, then escape again.
                    let plain = html::plain_text(&b);
                    html::split_plain(&plain, html::MESSAGE_LIMIT)
                        .iter()
                        .map(|p| html::escape(p))
                        .collect()
                }
            })
            .collect();
        let mut messages: Vec<OutMessage> = html::pack(&blocks, html::MESSAGE_LIMIT)
            .into_iter()
            .map(|html| OutMessage { html, buttons: Vec::new() })
            .collect();
        if let Some(last) = messages.last_mut() {
            last.buttons = buttons;
        }
        Reply { messages, ..Reply::default() }
    }

    pub fn with_notice(mut self, notice: impl Into<String>) -> Reply {
        self.notice = Some(notice.into());
        self
    }
}

/// What every view needs: the content, the reader's language, and a seed for random choices
/// (so views are deterministic under test).
pub struct Ctx<'a> {
    pub corpus: &'a Corpus,
    pub lang: Lang,
    pub bot_username: &'a str,
    pub seed: u64,
}

impl Ctx<'_> {
    /// A UI string (trusted HTML).
    pub fn t(&self, key: &str) -> String {
        self.corpus.ui.get(self.lang, key).to_string()
    }

    /// A UI string with placeholders filled; values must already be escaped.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.corpus.ui.fmt(self.lang, key, args)
    }

    /// A date as a reader says it: "November 2022", "about October 2023".
    pub fn date(&self, date: &PartialDate, approximate: bool) -> String {
        let month = date.month.map(|m| self.t(&format!("month.{m}")));
        let text = match (date.day, month) {
            (Some(day), Some(month)) => format!("{day} {month} {}", date.year),
            (None, Some(month)) => format!("{month} {}", date.year),
            _ => date.year.to_string(),
        };
        if approximate { self.f("date.approx", &[("date", &text)]) } else { text }
    }

    /// "— <i>Title</i>, Organisation, about November 2022": the citation under every quote.
    pub fn citation(&self, statement: &Statement, lang: Lang) -> String {
        self.f(
            "cite",
            &[
                ("title", &html::escape(statement.title(lang))),
                ("organisation", &html::escape(&statement.organisation)),
                ("date", &html::escape(&self.date(&statement.date, statement.date_approximate))),
            ],
        )
    }

    /// A `t.me` deep link that opens `start` in a private chat with the bot.
    pub fn deep_link(&self, start: &Start) -> String {
        format!("https://t.me/{}?start={}", self.bot_username, start.encode())
    }

    /// A pseudo-random index below `len` (never called with 0).
    pub fn pick(&self, len: usize, salt: u64) -> usize {
        let mut x = self.seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        (x % len.max(1) as u64) as usize
    }
}
