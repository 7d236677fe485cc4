//! Who is in a chat and in what role: the bot's standing (which decides
//! what it may do there, and is announced to it as `my_chat_member`),
//! administrators, getChat / getChatMember / getChatAdministrators, and the
//! upgrade of a basic group to a supergroup.

use serde_json::{Value, json};

use super::{
    api::{Method, Params},
    error::ApiError,
    state::{BOT_ID, BotStatus, Chat, ChatKind, Content, Person, State, StoredMessage},
    wire::{self, Standing},
};

/// Telegram's word for a chat's type, as its error descriptions use it.
pub(crate) fn chat_type(kind: &ChatKind) -> &'static str {
    match kind {
        ChatKind::Private { .. } => "private",
        ChatKind::Group { .. } => "group",
        ChatKind::Supergroup { .. } => "supergroup",
        ChatKind::Channel { .. } => "channel",
    }
}

/// Whether the bot may call `method` in `chat`: Telegram's 403s for a bot
/// that is blocked, kicked or not a member, and the 400 of a migrated group.
pub(crate) fn access(chat: &Chat, method: Method) -> Result<(), ApiError> {
    if !method.in_chat() {
        return Ok(());
    }
    if let Some(new_id) = chat.migrated_to {
        return Err(ApiError::migrated(new_id));
    }
    let kind = chat_type(&chat.kind);
    match chat.bot {
        BotStatus::Kicked => return Err(ApiError::kicked(kind)),
        BotStatus::Left => return Err(ApiError::not_member(kind)),
        BotStatus::Member | BotStatus::Admin { can_post_messages: false }
            if kind == "channel" && method.sends_message() =>
        {
            return Err(ApiError::need_channel_rights());
        }
        _ => {}
    }
    if method.sends_message() && chat.blocked {
        return Err(ApiError::blocked_by_user());
    }
    Ok(())
}

fn chat<'s>(state: &'s State, params: &Params) -> Result<&'s Chat, ApiError> {
    state.chats.get(&params.chat_id()?).ok_or_else(ApiError::chat_not_found)
}

/// getChat: a `ChatFullInfo`.
pub(crate) fn get_chat(state: &State, params: &Params) -> Result<Value, ApiError> {
    let chat = chat(state, params)?;
    let username = state.people.get(&chat.id).and_then(|p| p.username.clone());
    Ok(wire::chat_full_info(chat, username.as_deref()))
}

/// getChatMember: where `user_id` stands in the chat.
pub(crate) fn get_chat_member(state: &State, params: &Params) -> Result<Value, ApiError> {
    let chat = chat(state, params)?;
    let user_id = params.int("user_id").ok_or_else(ApiError::user_not_found)?;
    let standing = standing(state, chat, user_id).ok_or_else(ApiError::user_not_found)?;
    Ok(wire::chat_member(&state.person(user_id), standing))
}

/// getChatAdministrators: the creator, the other admins, and the bot if it is one.
pub(crate) fn get_chat_administrators(state: &State, params: &Params) -> Result<Value, ApiError> {
    let chat = chat(state, params)?;
    if matches!(chat.kind, ChatKind::Private { .. }) {
        return Err(ApiError::bad_request("there are no administrators in the private chat"));
    }
    let mut admins: Vec<Value> = chat
        .admins
        .iter()
        .filter_map(|&id| Some(wire::chat_member(&state.person(id), standing(state, chat, id)?)))
        .collect();
    if let BotStatus::Admin { .. } = chat.bot {
        admins.push(wire::chat_member(&Person::bot(), bot_standing(chat)));
    }
    Ok(Value::Array(admins))
}

/// Where `user_id` stands in `chat`; `None` for a user the emulator never met.
fn standing(state: &State, chat: &Chat, user_id: i64) -> Option<Standing> {
    if user_id == BOT_ID {
        return Some(bot_standing(chat));
    }
    let channel = matches!(chat.kind, ChatKind::Channel { .. });
    if chat.admins.first() == Some(&user_id) {
        Some(Standing::Creator)
    } else if chat.admins.contains(&user_id) {
        Some(Standing::Admin { can_post_messages: channel })
    } else if chat.members.contains(&user_id) || chat.id == user_id {
        Some(Standing::Member)
    } else if state.people.contains_key(&user_id) {
        Some(Standing::Left)
    } else {
        None
    }
}

fn bot_standing(chat: &Chat) -> Standing {
    match chat.bot {
        BotStatus::Member => Standing::Member,
        BotStatus::Admin { can_post_messages } => Standing::Admin { can_post_messages },
        BotStatus::Left => Standing::Left,
        BotStatus::Kicked => Standing::Kicked,
    }
}

impl State {
    /// Changes the bot's standing in `chat_id` by the hand of `by`, and tells
    /// the bot with a `my_chat_member` update (and, when it joins a group,
    /// the `new_chat_members` message Telegram also sends). No change, no update.
    pub(crate) fn set_bot_status(&mut self, chat_id: i64, by: i64, status: BotStatus) {
        let by = self.person(by);
        let Some(chat) = self.chats.get_mut(&chat_id).filter(|c| c.bot != status) else { return };
        let old = wire::chat_member(&Person::bot(), bot_standing(chat));
        let was_in = matches!(chat.bot, BotStatus::Member | BotStatus::Admin { .. });
        chat.bot = status;
        chat.members.insert(by.id);
        let new = wire::chat_member(&Person::bot(), bot_standing(chat));
        let update = wire::chat_member_updated(chat, &by, old, new);
        let joins_group = !was_in
            && matches!(status, BotStatus::Member | BotStatus::Admin { .. })
            && !matches!(chat.kind, ChatKind::Channel { .. });
        self.enqueue("my_chat_member", update);
        if joins_group {
            let joined = json!({ "new_chat_members": [wire::user(&Person::bot())] });
            self.post_service(chat_id, by, false, joined);
        }
    }

    /// Stores a service message in `chat_id` and queues it as an update.
    pub(crate) fn post_service(
        &mut self,
        chat_id: i64,
        from: Person,
        as_chat: bool,
        fields: Value,
    ) {
        let Some(chat) = self.chats.get_mut(&chat_id) else { return };
        let mut message = StoredMessage::new(from, Content::Service(fields));
        message.as_chat = as_chat;
        let id = chat.store(message);
        let json = self.message_json(chat_id, id).unwrap_or_default();
        self.enqueue("message", json);
    }

    /// Creates the supergroup `new_id` (unless it exists) with the title,
    /// people and bot standing of the group `old`, as an upgrade keeps them.
    pub(crate) fn ensure_supergroup(&mut self, old: Option<i64>, new_id: i64) {
        if self.chats.contains_key(&new_id) {
            return;
        }
        let old = old.and_then(|id| self.chats.get(&id));
        let title = old.and_then(|c| c.kind.title()).unwrap_or("Supergroup").to_owned();
        let mut chat = Chat::new(new_id, ChatKind::Supergroup { title });
        if let Some(old) = old {
            chat.admins.clone_from(&old.admins);
            chat.members.clone_from(&old.members);
            if let BotStatus::Admin { .. } = old.bot {
                chat.bot = old.bot;
            }
        }
        self.chats.insert(new_id, chat);
    }

    /// Upgrades the group `old_id` to the supergroup `new_id`, by the hand of
    /// `by`: the two service messages Telegram sends, then the old id refuses.
    pub(crate) fn migrate(&mut self, old_id: i64, new_id: i64, by: i64) {
        self.ensure_supergroup(Some(old_id), new_id);
        let by = self.person(by);
        self.post_service(old_id, by, false, json!({ "migrate_to_chat_id": new_id }));
        let anonymous = Person::anonymous_admin();
        self.post_service(new_id, anonymous, true, json!({ "migrate_from_chat_id": old_id }));
        if let Some(old) = self.chats.get_mut(&old_id) {
            old.migrated_to = Some(new_id);
        }
    }
}
