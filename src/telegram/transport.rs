//! The delivery engine's [`Transport`] over teloxide: sends with HTML and buttons, and sorts
//! Telegram's errors into the classes the engine acts on.

use super::send::{keyboard, no_preview};
use crate::{
    delivery::{SendError, Transport},
    message::{Op, OutMessage},
};
use teloxide::{
    ApiError, RequestError,
    prelude::*,
    types::{MessageId, ParseMode},
};

pub struct TelegramTransport {
    bot: Bot,
}

impl TelegramTransport {
    pub fn new(bot: Bot) -> TelegramTransport {
        TelegramTransport { bot }
    }
}

impl Transport for TelegramTransport {
    async fn send(&self, chat_id: i64, message: &OutMessage, paid: bool) -> Result<i32, SendError> {
        let mut request = self
            .bot
            .send_message(ChatId(chat_id), &message.html)
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if !message.buttons.is_empty() {
            request = request.reply_markup(keyboard(&message.buttons));
        }
        if paid {
            request = request.allow_paid_broadcast(true);
        }
        request.await.map(|sent| sent.id.0).map_err(classify)
    }

    async fn apply(
        &self,
        chat_id: i64,
        op: &Op,
        message: &OutMessage,
        paid: bool,
    ) -> Result<i32, SendError> {
        let chat = ChatId(chat_id);
        match *op {
            Op::Send => self.send(chat_id, message, paid).await,
            Op::Copy { from_chat, message_id } => {
                let mut request =
                    self.bot.copy_message(chat, ChatId(from_chat), MessageId(message_id));
                if paid {
                    request = request.allow_paid_broadcast(true);
                }
                request.await.map(|copied| copied.0).map_err(classify)
            }
            Op::Edit { message_id, caption } => {
                let id = MessageId(message_id);
                let result = if caption {
                    self.bot
                        .edit_message_caption(chat, id)
                        .caption(&message.html)
                        .parse_mode(ParseMode::Html)
                        .await
                        .map(drop)
                } else {
                    self.bot
                        .edit_message_text(chat, id, &message.html)
                        .parse_mode(ParseMode::Html)
                        .link_preview_options(no_preview())
                        .await
                        .map(drop)
                };
                match result {
                    // Already says this: the correction is in place.
                    Err(RequestError::Api(ApiError::MessageNotModified)) | Ok(()) => Ok(message_id),
                    Err(e) => Err(classify(e)),
                }
            }
            Op::Delete { message_id } => {
                match self.bot.delete_message(chat, MessageId(message_id)).await {
                    // Already gone (deleted by the chat): what a withdrawal wants.
                    Ok(_) | Err(RequestError::Api(ApiError::MessageToDeleteNotFound)) => {
                        Ok(message_id)
                    }
                    Err(e) => Err(classify(e)),
                }
            }
        }
    }
}

/// Sorts a teloxide error into a delivery class.
pub fn classify(error: RequestError) -> SendError {
    match error {
        RequestError::RetryAfter(seconds) => SendError::RetryAfter(seconds.seconds().max(1)),
        RequestError::MigrateToChatId(to) => SendError::Migrated(to.0),
        RequestError::Network(e) => SendError::Transient(e.to_string()),
        RequestError::Io(e) => SendError::Transient(e.to_string()),
        // A non-JSON answer is what a proxy in front of Telegram says when it is down.
        RequestError::InvalidJson { .. } => {
            SendError::Transient("the Bot API answered with something that is not JSON".into())
        }
        RequestError::Api(api) => classify_api(api),
    }
}

fn classify_api(api: ApiError) -> SendError {
    let text = api.to_string();
    match api {
        ApiError::BotBlocked
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::UserDeactivated
        | ApiError::ChatNotFound
        | ApiError::GroupDeactivated
        | ApiError::NotEnoughRightsToPostMessages => SendError::Gone(text),
        ApiError::CantParseEntities(_) | ApiError::MessageIsTooLong => SendError::Malformed(text),
        ApiError::Unknown(description) => {
            let lower = description.to_lowercase();
            if [
                "internal server error",
                "bad gateway",
                "service unavailable",
                "gateway timeout",
                "too many requests",
            ]
            .iter()
            .any(|m| lower.contains(m))
            {
                SendError::Transient(description)
            } else if lower.starts_with("forbidden:") {
                SendError::Gone(description)
            } else {
                SendError::Refused(description)
            }
        }
        _ => SendError::Refused(text),
    }
}
