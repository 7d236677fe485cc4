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
        pacer.acquire().await;
        let mut request = bot
            .send_message(chat, &message.html)
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if !message.buttons.is_empty() {
            request = request.reply_markup(keyboard(&message.buttons));
        }
        request.await?;
    }
    Ok(())
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
    match request.await {
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
