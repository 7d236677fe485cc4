//! What Telegram tells about the bot's own place in chats, and the notices it leads to:
//! channels that make it an administrator are registered, chats that remove it (or take away
//! its right to post) are deactivated, a group that becomes a supergroup keeps its
//! subscription, and operators hear about channels and about another process polling with
//! this bot's token. Notices go through the outbox, like everything sent in bulk.

use super::{error::AppError, tribune::Tribune};
use crate::{
    message::{EditionKind, Op, OutMessage, OutboxItem},
    render::html::escape,
    subscription::ChatKind,
};
use std::time::Duration;

/// Operators are told of another process polling at most this often.
const CONFLICT_TOLD_EVERY: Duration = Duration::from_secs(600);

/// What Telegram said about the bot in one chat (a `my_chat_member` update).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub chat: i64,
    pub kind: ChatKind,
    /// The chat's title, for the operators' notice (never stored).
    pub title: String,
    /// Whether the bot may post there (a channel's administrator right).
    pub can_post: bool,
    /// Whether the bot is still in the chat.
    pub present: bool,
}

impl Tribune {
    /// The bot's membership changed. Telegram sends this update itself: there is no one to
    /// check, and only the bot's own membership is acted on.
    pub fn membership_changed(&self, update: &Membership) -> Result<(), AppError> {
        let chat = update.chat;
        if update.kind == ChatKind::Channel {
            if update.can_post {
                if self.register_channel(chat)? {
                    log::info!("registered a channel Tribune may post in");
                    self.tell_about_channel("channels.added", &update.title, chat)?;
                }
            } else if self.store.deactivate(chat, self.clock.unix())? {
                log::info!("a channel took away Tribune's right to post; deactivated");
                self.tell_about_channel("channels.lost", &update.title, chat)?;
            }
        } else if !update.present && self.store.deactivate(chat, self.clock.unix())? {
            log::info!("Tribune was removed from a group; its subscription is deactivated");
        }
        Ok(())
    }

    /// A group became a supergroup: its subscription moves with it.
    pub fn chat_migrated(&self, from: i64, to: i64) -> Result<(), AppError> {
        self.store.migrate_chat(from, to)?;
        log::info!("a group became a supergroup; its subscription moved");
        Ok(())
    }

    /// The delivery engine found a channel gone: operators are told.
    pub fn channel_gone(&self, chat: i64, title: &str) {
        if let Err(e) = self.tell_about_channel("channels.lost", title, chat) {
            log::error!("cannot tell the operators about a lost channel: {e}");
        }
    }

    /// Another process receives this bot's updates (two instances would each see half of
    /// them): logged loudly, and operators are told, at most every ten minutes.
    pub fn another_process_polls(&self) {
        log::error!(
            "another process is receiving this bot's updates (same token): stop it, or revoke the token"
        );
        let now = self.clock.unix();
        let due = {
            let mut told = self.conflict_told.lock().unwrap_or_else(|p| p.into_inner());
            let due = told.is_none_or(|at| now - at >= CONFLICT_TOLD_EVERY.as_secs() as i64);
            if due {
                *told = Some(now);
            }
            due
        };
        if due && let Err(e) = self.notify_operators("conflict", &[]) {
            log::error!("cannot tell the operators about the conflict: {e}");
        }
    }

    /// One channel added or lost, told unless the cap on such notices is reached (then it is
    /// counted for [`Tribune::summarise_channel_notices`]).
    fn tell_about_channel(&self, key: &str, title: &str, chat: i64) -> Result<(), AppError> {
        if !self.channel_notices.allow(self.clock.unix()) {
            return Ok(());
        }
        self.notify_operators(key, &[("title", &escape(title)), ("id", &chat.to_string())])
    }

    /// Tells the operators how many channel notices were held back, once their window has
    /// ended; the composition root calls it every half minute of the app's clock.
    pub fn summarise_channel_notices(&self) {
        if let Some(count) = self.channel_notices.take_summary(self.clock.unix()) {
            let count = count.to_string();
            if let Err(e) = self.notify_operators("channels.many", &[("count", &count)]) {
                log::error!("cannot tell the operators about channel changes: {e}");
            }
        }
    }

    /// Queues the UI string `key` (placeholders filled with already-escaped `args`) to every
    /// operator, in each one's language, through the outbox.
    fn notify_operators(&self, key: &str, args: &[(&str, &str)]) -> Result<(), AppError> {
        if self.operators().is_empty() {
            log::warn!("no operators configured (TRIBUNE_ADMINS) to tell: {key}");
            return Ok(());
        }
        let corpus = self.corpus();
        let edition = self.store.new_edition(EditionKind::Notice, self.clock.unix())?;
        let items = self
            .operators()
            .iter()
            .map(|&operator| {
                let html = corpus.ui.fmt(self.lang_for(operator, None), key, args);
                OutboxItem {
                    edition,
                    chat_id: operator,
                    kind: ChatKind::Private,
                    message: OutMessage { html, buttons: Vec::new() },
                    attempts: 0,
                    op: Op::Send,
                }
            })
            .collect();
        self.hand_over(self.store.enqueue(items)?);
        Ok(())
    }
}
