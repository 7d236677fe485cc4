//! The bot's own membership: channels that make it an administrator are registered; chats
//! that remove it, or take away its right to post, are deactivated and operators are told.
//! Also group → supergroup migrations.

use super::{flood::ChannelNotices, subscribe::channel_title};
use crate::{
    app::Tribune,
    delivery::Event,
    delivery::Push,
    render::{OutMessage, html::escape},
    store::{EditionKind, Op, OutboxItem},
    subscription::ChatKind,
};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use teloxide::{
    ApiError, RequestError, error_handlers::ErrorHandler, prelude::*, types::ChatMemberUpdated,
};

use super::error::HandlerResult;

pub async fn on_my_chat_member(
    app: Arc<Tribune>,
    push: Push,
    notices: Arc<ChannelNotices>,
    update: ChatMemberUpdated,
) -> HandlerResult {
    let chat = update.chat.id.0;
    let member = &update.new_chat_member;
    if update.chat.is_channel() {
        let title = update.chat.title().unwrap_or_default().to_string();
        if member.can_post_messages() {
            if app.register_channel(chat)? {
                log::info!("registered a channel Tribune may post in");
                if notices.allow() {
                    notify_operators(&app, &push, "channels.added", &title, chat)?;
                }
            }
        } else if app.store().deactivate(chat)? {
            log::info!("a channel took away Tribune's right to post; deactivated");
            if notices.allow() {
                notify_operators(&app, &push, "channels.lost", &title, chat)?;
            }
        }
    } else if !member.is_present() && app.store().deactivate(chat)? {
        log::info!("Tribune was removed from a group; its subscription is deactivated");
    }
    Ok(())
}

/// A group became a supergroup: its subscription moves with it.
pub async fn on_migration(app: Arc<Tribune>, msg: Message) -> HandlerResult {
    if let Some(to) = msg.migrate_to_chat_id() {
        app.store().migrate_chat(msg.chat.id.0, to.0)?;
        log::info!("a group became a supergroup; its subscription moved");
    }
    Ok(())
}

/// Reacts to what the delivery engine reports.
pub async fn forward_events(
    bot: Bot,
    app: Arc<Tribune>,
    push: Push,
    notices: Arc<ChannelNotices>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
) {
    while let Some(event) = events.recv().await {
        if let Event::ChatGone { chat_id, kind: ChatKind::Channel, .. } = event
            && notices.allow()
        {
            let title = channel_title(&bot, chat_id).await;
            if let Err(e) = notify_operators(&app, &push, "channels.lost", &title, chat_id) {
                log::error!("cannot tell the operators about a lost channel: {e}");
            }
        }
    }
}

/// Queues a notice about a channel to every operator, in each one's language.
pub fn notify_operators(
    app: &Tribune,
    push: &Push,
    key: &str,
    title: &str,
    chat: i64,
) -> crate::store::Result<()> {
    notify_operators_with(app, push, key, &[("title", &escape(title)), ("id", &chat.to_string())])
}

/// Queues the UI string `key` (placeholders filled with already-escaped `args`) to every
/// operator, in each one's language, through the outbox.
pub fn notify_operators_with(
    app: &Tribune,
    push: &Push,
    key: &str,
    args: &[(&str, &str)],
) -> crate::store::Result<()> {
    if app.operators().is_empty() {
        log::warn!("no operators configured (TRIBUNE_ADMINS) to tell: {key}");
        return Ok(());
    }
    let corpus = app.corpus();
    let edition = app.store().new_edition(EditionKind::Notice, app.clock().now().timestamp())?;
    let items = app
        .operators()
        .iter()
        .map(|&operator| {
            let html = corpus.ui.fmt(app.lang_for(operator, None), key, args);
            let message = OutMessage { html, buttons: Vec::new() };
            OutboxItem {
                edition,
                chat_id: operator,
                kind: ChatKind::Private,
                message,
                attempts: 0,
                op: Op::Send,
            }
        })
        .collect();
    push(app.store().enqueue(items)?);
    Ok(())
}

/// Handles errors of the long poll. "Terminated by other getUpdates" means another process
/// polls with the same token (two instances would each see half the updates): it is logged
/// loudly and the operators are told, at most once every ten minutes.
pub fn polling_errors(
    app: Arc<Tribune>,
    push: Push,
) -> Arc<impl ErrorHandler<RequestError> + Send + Sync + use<>> {
    let last_told: Arc<Mutex<Option<Instant>>> = Arc::default();
    Arc::new(move |error: RequestError| {
        let (app, push, last_told) = (app.clone(), push.clone(), last_told.clone());
        async move {
            if !matches!(error, RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) {
                log::warn!("polling for updates failed: {error}");
                return;
            }
            log::error!(
                "another process is receiving this bot's updates (same token): stop it, or revoke the token"
            );
            let due = {
                let mut last = last_told.lock().unwrap_or_else(|p| p.into_inner());
                let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(600));
                if due {
                    *last = Some(Instant::now());
                }
                due
            };
            if due && let Err(e) = notify_operators_with(&app, &push, "conflict", &[]) {
                log::error!("cannot tell the operators about the conflict: {e}");
            }
        }
    })
}
