//! Flood guards on Telegram's side: whose allowance an update counts against, the one notice
//! a flooder gets, and the cap on channel notices to operators.
//!
//! The allowance itself ([`crate::intake::Allowance`]) is checked when an update arrives, in
//! `intake.rs`; this file knows what a Telegram update says about who sent it.

use super::{error::HandlerResult, send};
use crate::{app::Tribune, delivery::Pacer, render::Reply};
use std::sync::Mutex;
use teloxide::{
    prelude::*,
    types::{CallbackQueryId, Message},
};
use tokio::time::{Duration, Instant};

/// Whose allowance a message counts against: its user's, so that one flooder in a group does
/// not silence the others. A message sent on behalf of a chat (an anonymous administrator,
/// whose `from` is Telegram's shared placeholder bot, or a channel) counts against that chat.
pub fn sender(msg: &Message) -> i64 {
    match (&msg.sender_chat, &msg.from) {
        (Some(chat), _) => chat.id.0,
        (None, Some(user)) => user.id.0 as i64,
        (None, None) => msg.chat.id.0,
    }
}

/// Whether Tribune would answer this message (so a flood of it deserves a notice): anything
/// in a private chat, and commands in groups.
pub fn answered(msg: &Message) -> bool {
    msg.chat.is_private() || msg.text().is_some_and(|t| t.starts_with('/'))
}

/// The one notice of a flood, as a short message.
pub async fn notice(
    bot: &Bot,
    app: &Tribune,
    pacer: &Pacer,
    chat: ChatId,
    language_code: Option<&str>,
) -> HandlerResult {
    let lang = app.lang_for(chat.0, language_code);
    let text = app.corpus().ui.get(lang, "flood").to_string();
    send::reply(bot, pacer, chat, &Reply::html(text, Vec::new())).await?;
    Ok(())
}

/// The one notice of a flood of button presses, as the answer to the press.
pub async fn button_notice(
    bot: &Bot,
    app: &Tribune,
    query: CallbackQueryId,
    user: i64,
    language_code: Option<&str>,
) -> HandlerResult {
    let lang = app.lang_for(user, language_code);
    let text = app.corpus().ui.get(lang, "flood").to_string();
    bot.answer_callback_query(query).text(text).await?;
    Ok(())
}

/// Channel notices told one by one per window; beyond it they are counted and summed up.
const CHANNEL_NOTICES: u32 = 5;
const CHANNEL_WINDOW: Duration = Duration::from_secs(600);

/// Caps the notices operators get about channels that add or drop Tribune: a few each ten
/// minutes one by one, the rest summed up in one notice at the end of the window. Adding a
/// bot to a channel costs an attacker nothing, and every notice goes to every operator.
#[derive(Default)]
pub struct ChannelNotices {
    state: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    started: Option<Instant>,
    told: u32,
    held: u32,
}

impl ChannelNotices {
    /// Whether one more notice may go now; if not, it is counted for the summary.
    pub fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        let mut window = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if window.started.is_none_or(|s| now.saturating_duration_since(s) >= CHANNEL_WINDOW) {
            if window.held > 0 {
                // The summary of the last window has not gone yet: this joins it.
                window.held += 1;
                return false;
            }
            *window = Window { started: Some(now), told: 0, held: 0 };
        }
        if window.told < CHANNEL_NOTICES {
            window.told += 1;
            true
        } else {
            window.held += 1;
            false
        }
    }

    /// The notices held back, once their window has ended (then a new window starts).
    pub fn take_summary(&self) -> Option<u32> {
        self.take_summary_at(Instant::now())
    }

    fn take_summary_at(&self, now: Instant) -> Option<u32> {
        let mut window = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ended =
            window.started.is_some_and(|s| now.saturating_duration_since(s) >= CHANNEL_WINDOW);
        if !ended || window.held == 0 {
            return None;
        }
        let held = window.held;
        *window = Window { started: Some(now), told: 0, held: 0 };
        Some(held)
    }
}

/// Hands `summary` the count of held-back channel notices at the end of each window (it
/// tells the operators). Runs until aborted.
pub async fn summarise_channel_notices(
    notices: std::sync::Arc<ChannelNotices>,
    summary: impl Fn(u32) + Send + 'static,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        if let Some(count) = notices.take_summary() {
            summary(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_mass_of_channel_changes_is_five_notices_and_one_summary() {
        let notices = ChannelNotices::default();
        let start = Instant::now();
        let told = (0..5000).filter(|_| notices.allow_at(start)).count();
        assert_eq!(told, CHANNEL_NOTICES as usize);
        assert_eq!(notices.take_summary_at(start + Duration::from_secs(60)), None, "not yet");
        let later = start + CHANNEL_WINDOW;
        assert!(!notices.allow_at(later), "held until the summary goes");
        assert_eq!(notices.take_summary_at(later), Some(4996));
        assert_eq!(notices.take_summary_at(later), None);
        assert!(notices.allow_at(later), "a new window");
    }
}
