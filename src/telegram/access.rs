//! Who may change a chat's subscription. Checked on every command and every button press,
//! because callback data can be forged.

use teloxide::{
    prelude::*,
    types::{Chat, User},
};

/// Telegram's stand-in sender for anonymous group administrators. Its id is shared by every
/// anonymous admin of every group, so it proves nothing by itself.
pub const ANONYMOUS_ADMIN_BOT: u64 = 1_087_968_824;

/// Whether the sender of a message in `chat` may manage that chat's subscription.
pub async fn may_manage(
    bot: &Bot,
    chat: &Chat,
    from: Option<&User>,
    sender_chat: Option<&Chat>,
) -> bool {
    if chat.is_private() {
        return true;
    }
    // An anonymous administrator posts as the group itself: only administrators can do that.
    if sender_chat.is_some_and(|s| s.id == chat.id) {
        return true;
    }
    match from {
        Some(user) if user.id.0 != ANONYMOUS_ADMIN_BOT => is_admin(bot, chat.id, user.id).await,
        _ => false,
    }
}

/// Whether `user` administers `chat` (asked of Telegram, never remembered).
pub async fn is_admin(bot: &Bot, chat: ChatId, user: UserId) -> bool {
    if user.0 == ANONYMOUS_ADMIN_BOT {
        return false;
    }
    match bot.get_chat_member(chat, user).await {
        Ok(member) => member.is_privileged(),
        Err(e) => {
            log::warn!("cannot check a member's rights: {e}");
            false
        }
    }
}

/// Whether a button on a card shown in `shown_in` may change `target`'s subscription when
/// pressed by `user`: a chat's own card by its own members with rights, or a channel's card in
/// the private chat of one of the channel's administrators.
pub async fn may_manage_from(bot: &Bot, shown_in: &Chat, user: &User, target: i64) -> bool {
    if target == shown_in.id.0 {
        return may_manage(bot, shown_in, Some(user), None).await;
    }
    shown_in.is_private()
        && shown_in.id.0 == user.id.0 as i64
        && target < 0
        && is_admin(bot, ChatId(target), user.id).await
}

/// Whether a command speaks to this bot: anything in a private chat; in a group only a command
/// that names the bot (`/stats@tribune_bot`), since a bare `/stats` there may be another bot's.
pub fn addressed_to_me(msg: &Message, me: &teloxide::types::Me) -> bool {
    if msg.chat.is_private() {
        return true;
    }
    let first = msg.text().and_then(|t| t.split_whitespace().next()).unwrap_or_default();
    first.split_once('@').is_some_and(|(_, name)| name.eq_ignore_ascii_case(me.username()))
}
