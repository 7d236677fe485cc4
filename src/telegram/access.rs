//! Who is asking, as Telegram tells it: the facts a [`Caller`] carries to the app, gathered
//! here on every command and button (callback data can be forged, and nothing about rights
//! is remembered). What the facts allow is decided in `app/`, never here.

use crate::{
    app::{Caller, Refusal},
    render::{Ctx, Reply},
    subscription::ChatKind,
};
use teloxide::{
    prelude::*,
    types::{Chat, Me},
};

/// The kind of a chat, as the app knows kinds.
pub fn kind_of(chat: &Chat) -> ChatKind {
    if chat.is_private() {
        ChatKind::Private
    } else if chat.is_channel() {
        ChatKind::Channel
    } else {
        ChatKind::Group
    }
}

/// Who sent `msg`, where, and whether on behalf of the chat itself (an anonymous
/// administrator posts as the group: only administrators can do that).
pub fn of_message(msg: &Message) -> Caller {
    let user = msg.from.as_ref().map(|u| u.id.0 as i64);
    let mut caller = Caller::in_chat(msg.chat.id.0, kind_of(&msg.chat), user);
    caller.as_chat = msg.sender_chat.as_ref().is_some_and(|s| s.id == msg.chat.id);
    caller
}

/// Who pressed a button, in the chat of the message that carries it; `None` when Telegram
/// did not say which message that is (a message sent through inline mode).
pub fn of_press(q: &CallbackQuery) -> Option<Caller> {
    let chat = q.message.as_ref()?.chat();
    Some(Caller::in_chat(chat.id.0, kind_of(chat), Some(q.from.id.0 as i64)))
}

/// Asks Telegram whether the caller administers each of `chats` it could
/// ([`Caller::could_administer`]), and adds what it said to the caller.
pub async fn with_rights(bot: &Bot, caller: Caller, chats: &[i64]) -> Caller {
    let mut administered = Vec::new();
    if let Some(user) = caller.user {
        for &chat in chats.iter().filter(|&&chat| caller.could_administer(chat)) {
            if is_admin(bot, chat, user).await {
                administered.push(chat);
            }
        }
    }
    caller.administering(administered)
}

/// Whether Telegram says `user` administers `chat` (asked each time, never remembered).
async fn is_admin(bot: &Bot, chat: i64, user: i64) -> bool {
    match bot.get_chat_member(ChatId(chat), UserId(user as u64)).await {
        Ok(member) => member.is_privileged(),
        Err(e) => {
            log::warn!("cannot check a member's rights: {e}");
            false
        }
    }
}

/// Whether a command speaks to this bot: anything in a private chat; in a group only a command
/// that names the bot (`/stats@tribune_bot`), since a bare `/stats` there may be another bot's.
pub fn addressed_to_me(msg: &Message, me: &Me) -> bool {
    if msg.chat.is_private() {
        return true;
    }
    let first = msg.text().and_then(|t| t.split_whitespace().next()).unwrap_or_default();
    first.split_once('@').is_some_and(|(_, name)| name.eq_ignore_ascii_case(me.username()))
}

/// The short answer to a refused command; `command` (already escaped) is named where the
/// answer names it ("Please send /channels in a private chat").
pub fn refused(ctx: &Ctx, refusal: Refusal, command: &str) -> Reply {
    Reply::html(answer(ctx, refusal, command), Vec::new())
}

/// The notice on a refused button.
pub fn notice(ctx: &Ctx, refusal: Refusal) -> String {
    answer(ctx, refusal, "")
}

fn answer(ctx: &Ctx, refusal: Refusal, command: &str) -> String {
    match refusal {
        Refusal::AdminsOnly => ctx.t("admins.only"),
        Refusal::OperatorsOnly => ctx.t("op.refused"),
        Refusal::PrivateOnly => ctx.f("private.only", &[("command", command)]),
        Refusal::Stale => ctx.t("stale_button"),
        Refusal::Unavailable => ctx.t("store.unavailable"),
    }
}
