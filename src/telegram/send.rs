//! Sending a [`Reply`] through teloxide: HTML parse mode, no link previews, inline keyboards.

use crate::{
    delivery::Pacer,
    render::{Button, ButtonKind, OutMessage, Reply},
};
use teloxide::{
    ApiError, RequestError,
    prelude::*,
    types::{InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, MessageId, ParseMode},
};

/// Sends every message of a reply, in order, each in a slot of the shared pacer so that
/// replies and bulk deliveries together stay under Telegram's overall limit.
pub async fn reply(
    bot: &Bot,
    pacer: &Pacer,
    chat: ChatId,
    reply: &Reply,
) -> Result<(), RequestError> {
    for message in &reply.messages {
        let mut request = bot
            .send_message(chat, &message.html)
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if !message.buttons.is_empty() {
            request = request.reply_markup(keyboard(&message.buttons));
        }
        paced(pacer, || request.clone().send()).await?;
    }
    Ok(())
}

/// Most waits for a 429 before a reply is given up (each waits Telegram's `retry_after`).
const REPLY_RETRIES: u32 = 3;
/// A `retry_after` longer than this is not waited out for an interactive reply.
const MAX_REPLY_WAIT: u32 = 30;

/// Runs a request, waiting out Telegram's `retry_after` when it says "too many requests" (a
/// reader who sends commands faster than Telegram lets the bot answer gets the answers late,
/// not never). For requests Telegram's limits do not count (edits, callback answers).
pub(super) async fn with_retry_after<T, F, Fut>(send: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    retrying(None, send).await
}

/// Sends a new message: each attempt takes its place at the shared pacer right before it
/// goes, and a 429 is waited out as in [`with_retry_after`].
pub(super) async fn paced<T, F, Fut>(pacer: &Pacer, send: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    retrying(Some(pacer), send).await
}

async fn retrying<T, F, Fut>(pacer: Option<&Pacer>, mut send: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let mut tries = 0;
    loop {
        if let Some(pacer) = pacer {
            pacer.acquire().await;
        }
        match send().await {
            Err(RequestError::RetryAfter(wait))
                if tries < REPLY_RETRIES && wait.seconds() <= MAX_REPLY_WAIT =>
            {
                tries += 1;
                log::debug!("reply rate-limited; waiting {}s", wait.seconds());
                tokio::time::sleep(wait.duration()).await;
            }
            other => return other,
        }
    }
}

/// Replaces a message's text and buttons (paging). An edit that changes nothing is not an error.
pub async fn edit(
    bot: &Bot,
    chat: ChatId,
    id: MessageId,
    message: &OutMessage,
) -> Result<(), RequestError> {
    let request = bot
        .edit_message_text(chat, id, &message.html)
        .parse_mode(ParseMode::Html)
        .link_preview_options(no_preview())
        .reply_markup(keyboard(&message.buttons));
    match with_retry_after(|| request.clone().send()).await {
        Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Converts buttons; a URL that does not parse is dropped rather than failing the reply.
pub fn keyboard(rows: &[Vec<Button>]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(
        rows.iter().map(|row| row.iter().filter_map(button).collect::<Vec<_>>()),
    )
}

fn button(b: &Button) -> Option<InlineKeyboardButton> {
    Some(match &b.kind {
        ButtonKind::Action(action) => {
            InlineKeyboardButton::callback(b.label.clone(), action.encode())
        }
        ButtonKind::Url(url) => InlineKeyboardButton::url(b.label.clone(), url.parse().ok()?),
        ButtonKind::Share(query) => {
            InlineKeyboardButton::switch_inline_query(b.label.clone(), query.clone())
        }
    })
}

pub fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}
