//! How a reply becomes a Telegram request: HTML parse mode, no link previews, inline
//! keyboards. Below both the reply sender (`replies.rs`) and `send.rs`.

use crate::render::{Button, ButtonKind, OutMessage};
use teloxide::{
    ApiError, RequestError,
    prelude::*,
    types::{InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, MessageId, ParseMode},
};

/// One message, as Telegram's `sendMessage`.
pub async fn send_message(
    bot: &Bot,
    chat: ChatId,
    message: &OutMessage,
) -> Result<(), RequestError> {
    let mut request = bot
        .send_message(chat, &message.html)
        .parse_mode(ParseMode::Html)
        .link_preview_options(no_preview());
    if !message.buttons.is_empty() {
        request = request.reply_markup(keyboard(&message.buttons));
    }
    request.await.map(|_| ())
}

/// One edit, as Telegram's `editMessageText`; "not modified" is success.
pub async fn edit_message(
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
