//! Who is asking, and what may they do. The adapter gathers what only Telegram knows (who sent
//! the update, in which kind of chat, on whose behalf, and whether Telegram says they
//! administer a chat) into a [`Caller`]; every use case decides with it here, never trusting
//! callback data to say who pressed a button.

use crate::subscription::ChatKind;

/// Telegram's stand-in sender for anonymous group administrators. Its id is shared by every
/// anonymous admin of every group, so it proves nothing by itself.
pub const ANONYMOUS_ADMIN_BOT: i64 = 1_087_968_824;

/// Who is asking, as Telegram told the adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The Telegram user who sent the message or pressed the button, if Telegram named one.
    pub user: Option<i64>,
    /// The chat it happened in (for a button, the chat of the message that carries it).
    pub chat: i64,
    /// That chat's kind.
    pub kind: ChatKind,
    /// The message was sent on behalf of `chat` itself: only its administrators can do that
    /// (an anonymous administrator).
    pub as_chat: bool,
    /// The chats Telegram said `user` administers, among those it was asked about for this
    /// request (nothing is remembered between requests).
    pub administers: Vec<i64>,
}

impl Caller {
    /// A person in their private chat with the bot (whose id is theirs).
    pub fn private(user: i64) -> Caller {
        Caller::in_chat(user, ChatKind::Private, Some(user))
    }

    /// `user` in `chat`, with nothing known yet about their rights there.
    pub fn in_chat(chat: i64, kind: ChatKind, user: Option<i64>) -> Caller {
        Caller { user, chat, kind, as_chat: false, administers: Vec::new() }
    }

    /// A group writing as itself: an anonymous administrator.
    pub fn chat_itself(chat: i64, kind: ChatKind) -> Caller {
        Caller { as_chat: true, ..Caller::in_chat(chat, kind, Some(ANONYMOUS_ADMIN_BOT)) }
    }

    /// What Telegram answered about the chats this user administers.
    pub fn administering(mut self, chats: impl IntoIterator<Item = i64>) -> Caller {
        self.administers.extend(chats);
        self
    }

    /// Whether Telegram may be asked if this caller administers `chat`: only a real person
    /// can (the anonymous-admin bot's answer would mean nothing), and only in a group or a
    /// channel (negative ids; a private chat has no administrators). The adapter asks exactly
    /// these questions.
    pub fn could_administer(&self, chat: i64) -> bool {
        chat < 0 && self.user.is_some_and(|u| u != ANONYMOUS_ADMIN_BOT)
    }

    /// Whether this caller may change `target`'s subscription: a private chat's own person;
    /// a group's administrators (Telegram says so, or they write as the group); a channel's
    /// administrators from their own private chat with the bot.
    pub fn may_manage(&self, target: i64) -> bool {
        let admin = self.could_administer(target) && self.administers.contains(&target);
        if target == self.chat {
            return self.kind == ChatKind::Private || self.as_chat || admin;
        }
        self.kind == ChatKind::Private && self.user == Some(self.chat) && admin
    }

    /// Whether this happens in a private chat.
    pub fn is_private(&self) -> bool {
        self.kind == ChatKind::Private
    }
}

/// Why a request was not carried out. The adapter answers each with its short, localised
/// message (as a reply to a command, as a notice on a pressed button).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only the chat's administrators may change it (`admins.only`).
    #[error("only the chat's administrators may")]
    AdminsOnly,
    /// Only operators may (`op.refused`).
    #[error("only operators may")]
    OperatorsOnly,
    /// Only in a private chat (`private.only`).
    #[error("only in a private chat")]
    PrivateOnly,
    /// What the button or question names is gone (`stale_button`).
    #[error("what this names is gone")]
    Stale,
    /// The store could not read or save it (`store.unavailable`); the log says why.
    #[error("the store is unavailable")]
    Unavailable,
}

/// The store failed on a chat's request: logged with its cause, answered with
/// [`Refusal::Unavailable`].
pub(super) fn unsaved(e: impl std::fmt::Display) -> Refusal {
    log::error!("cannot save a chat's change, refusing it: {e}");
    Refusal::Unavailable
}

/// The store failed on an operator's request: the same.
pub(super) fn unavailable(e: impl std::fmt::Display) -> Refusal {
    log::error!("cannot carry out an operator's request: {e}");
    Refusal::Unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: i64 = -100;
    const CHANNEL: i64 = -200;

    #[test]
    fn a_private_chat_is_its_own_person_s() {
        assert!(Caller::private(7).may_manage(7));
        // A private chat's card cannot reach another person's chat.
        assert!(!Caller::private(7).may_manage(8));
    }

    #[test]
    fn a_group_is_managed_by_its_administrators_only() {
        let member = Caller::in_chat(GROUP, ChatKind::Group, Some(7));
        assert!(!member.may_manage(GROUP));
        assert!(member.clone().administering([GROUP]).may_manage(GROUP));
        // Administering another chat says nothing about this one.
        assert!(!member.administering([CHANNEL]).may_manage(GROUP));
        assert!(Caller::chat_itself(GROUP, ChatKind::Group).may_manage(GROUP));
        assert!(!Caller::in_chat(GROUP, ChatKind::Group, None).may_manage(GROUP));
    }

    #[test]
    fn the_anonymous_admin_bot_id_alone_proves_nothing() {
        let impostor = Caller::in_chat(GROUP, ChatKind::Group, Some(ANONYMOUS_ADMIN_BOT))
            .administering([GROUP]);
        assert!(!impostor.could_administer(GROUP));
        assert!(!impostor.may_manage(GROUP));
    }

    #[test]
    fn a_channel_is_managed_from_its_administrator_s_private_chat() {
        let admin = Caller::private(7).administering([CHANNEL]);
        assert!(admin.may_manage(CHANNEL));
        assert!(!Caller::private(7).may_manage(CHANNEL));
        // Not from a group, even by an administrator of both.
        let in_group =
            Caller::in_chat(GROUP, ChatKind::Group, Some(7)).administering([GROUP, CHANNEL]);
        assert!(!in_group.may_manage(CHANNEL));
        // A forged private chat id that is not the presser's.
        let forged = Caller { chat: 8, ..admin };
        assert!(!forged.may_manage(CHANNEL));
    }
}
