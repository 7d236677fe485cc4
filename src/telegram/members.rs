//! The bot's own membership as Telegram reports it (`my_chat_member`), group → supergroup
//! migrations, channels the delivery engine finds gone, and another process polling with
//! this bot's token: each told to the app (`app/chats.rs`), which decides what follows.

use super::{access, error::HandlerResult, subscribe::channel_title};
use crate::{
    app::{Membership, Tribune},
    delivery::Event,
    subscription::ChatKind,
};
use std::sync::Arc;
use teloxide::{
    ApiError, RequestError, error_handlers::ErrorHandler, prelude::*, types::ChatMemberUpdated,
};

pub async fn on_my_chat_member(app: Arc<Tribune>, update: ChatMemberUpdated) -> HandlerResult {
    let member = &update.new_chat_member;
    app.membership_changed(&Membership {
        chat: update.chat.id.0,
        kind: access::kind_of(&update.chat),
        title: update.chat.title().unwrap_or_default().to_string(),
        can_post: member.can_post_messages(),
        present: member.is_present(),
    })?;
    Ok(())
}

/// A group became a supergroup: its subscription moves with it.
pub async fn on_migration(app: Arc<Tribune>, msg: Message) -> HandlerResult {
    if let Some(to) = msg.migrate_to_chat_id() {
        app.chat_migrated(msg.chat.id.0, to.0)?;
    }
    Ok(())
}

/// Tells the app what the delivery engine reports (with a lost channel's title, which only
/// Telegram knows).
pub async fn forward_events(
    bot: Bot,
    app: Arc<Tribune>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
) {
    while let Some(event) = events.recv().await {
        if let Event::ChatGone { chat_id, kind: ChatKind::Channel, .. } = event {
            let title = channel_title(&bot, chat_id).await;
            app.channel_gone(chat_id, &title);
        }
    }
}

/// Handles errors of the long poll. "Terminated by other getUpdates" means another process
/// polls with the same token; the app logs it loudly and tells the operators.
pub fn polling_errors(
    app: Arc<Tribune>,
) -> Arc<impl ErrorHandler<RequestError> + Send + Sync + use<>> {
    Arc::new(move |error: RequestError| {
        let app = app.clone();
        async move {
            if matches!(error, RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) {
                app.another_process_polls();
            } else {
                log::warn!("polling for updates failed: {error}");
            }
        }
    })
}
