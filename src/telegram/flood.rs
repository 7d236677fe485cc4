//! Flood guards on Telegram's side: whose allowance an update counts against and the one
//! notice a flooder gets. (The cap on channel notices to operators is the app's:
//! `app/notices.rs`.)
//!
//! The allowance itself ([`crate::intake::Allowance`]) is checked when an update arrives, in
//! `intake.rs`; this file knows what a Telegram update says about who sent it.

use super::{error::HandlerResult, send};
use crate::{app::Tribune, delivery::Pacer, render::Reply};
use teloxide::{
    prelude::*,
    types::{CallbackQueryId, Message},
};

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
