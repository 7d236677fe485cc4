//! Telegram-shaped JSON for users, chats, messages and entities, written by
//! hand after the Bot API documentation (not with teloxide's types, so the
//! emulator cannot share a bug with the client it tests). The tests check
//! that teloxide reads every object back.

use serde_json::{Value, json};

use super::{
    html::{Entity, EntityKind, Parsed},
    world::{BotStatus, Chat, ChatKind, Content, Person, SentPhoto, StoredMessage, unix_now},
};

/// Telegram's word for a chat's type, as its objects and error descriptions use it.
pub(crate) fn chat_type(kind: &ChatKind) -> &'static str {
    match kind {
        ChatKind::Private { .. } => "private",
        ChatKind::Group { .. } => "group",
        ChatKind::Supergroup { .. } => "supergroup",
        ChatKind::Channel { .. } => "channel",
    }
}

/// A `User` object.
pub(crate) fn user(person: &Person) -> Value {
    let mut user = json!({
        "id": person.id,
        "is_bot": person.is_bot,
        "first_name": person.first_name,
    });
    if let Some(username) = &person.username {
        user["username"] = json!(username);
    }
    if let Some(language) = &person.language_code {
        user["language_code"] = json!(language);
    }
    user
}

/// The result of getMe.
pub(crate) fn me() -> Value {
    let mut me = user(&Person::bot());
    for (key, value) in [
        ("can_join_groups", true),
        ("can_read_all_group_messages", false),
        ("supports_inline_queries", true),
        ("can_connect_to_business", false),
        ("has_main_web_app", false),
    ] {
        me[key] = json!(value);
    }
    me
}

/// A `Chat` object.
pub(crate) fn chat(chat: &Chat) -> Value {
    let mut json = json!({ "id": chat.id, "type": chat_type(&chat.kind) });
    match &chat.kind {
        ChatKind::Private { first_name } => json["first_name"] = json!(first_name),
        ChatKind::Group { title }
        | ChatKind::Supergroup { title }
        | ChatKind::Channel { title } => {
            json["title"] = json!(title);
        }
    }
    json
}

/// A `ChatFullInfo` object, as getChat returns it.
pub(crate) fn chat_full_info(info: &Chat, username: Option<&str>) -> Value {
    let mut json = chat(info);
    if let Some(username) = username {
        json["username"] = json!(username);
    }
    json["accent_color_id"] = json!(info.id.unsigned_abs() % 7);
    json["max_reaction_count"] = json!(11);
    json["accepted_gift_types"] = json!({
        "unlimited_gifts": true,
        "limited_gifts": true,
        "unique_gifts": true,
        "premium_subscription": true,
    });
    json
}

/// A person's standing in a chat, as a `ChatMember` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Creator,
    Admin { can_post_messages: bool },
    Member,
    Left,
    Kicked,
}

impl From<BotStatus> for Standing {
    /// The bot's standing, from what it may do in the chat.
    fn from(status: BotStatus) -> Standing {
        match status {
            BotStatus::Member => Standing::Member,
            BotStatus::Admin { can_post_messages } => Standing::Admin { can_post_messages },
            BotStatus::Left => Standing::Left,
            BotStatus::Kicked => Standing::Kicked,
        }
    }
}

/// A `ChatMember` object.
pub(crate) fn chat_member(person: &Person, standing: Standing) -> Value {
    let mut json = json!({ "user": user(person) });
    match standing {
        Standing::Creator => {
            json["status"] = json!("creator");
            json["is_anonymous"] = json!(false);
        }
        Standing::Admin { can_post_messages } => {
            json["status"] = json!("administrator");
            for (key, value) in [
                ("can_be_edited", false),
                ("is_anonymous", false),
                ("can_manage_chat", true),
                ("can_change_info", true),
                ("can_delete_messages", true),
                ("can_manage_video_chats", true),
                ("can_invite_users", true),
                ("can_restrict_members", true),
                ("can_promote_members", false),
                ("can_post_stories", false),
                ("can_edit_stories", false),
                ("can_delete_stories", false),
                ("can_post_messages", can_post_messages),
                ("can_edit_messages", can_post_messages),
                ("can_pin_messages", true),
            ] {
                json[key] = json!(value);
            }
        }
        Standing::Member => json["status"] = json!("member"),
        Standing::Left => json["status"] = json!("left"),
        Standing::Kicked => {
            json["status"] = json!("kicked");
            json["until_date"] = json!(0);
        }
    }
    json
}

/// A `ChatMemberUpdated` object: `by` changed someone's standing in `info`.
pub(crate) fn chat_member_updated(info: &Chat, by: &Person, old: Value, new: Value) -> Value {
    json!({
        "chat": chat(info),
        "from": user(by),
        "date": unix_now(),
        "old_chat_member": old,
        "new_chat_member": new,
    })
}

/// A media message's caption and its entities.
fn add_caption(json: &mut Value, parsed: &Parsed) {
    json["caption"] = json!(parsed.text);
    if !parsed.entities.is_empty() {
        json["caption_entities"] = Value::Array(parsed.entities.iter().map(entity).collect());
    }
}

/// A `Message` object (without `reply_to_message`, which the state adds).
/// Channel posts have no `from`; they and anonymous admins' messages carry
/// the chat itself as `sender_chat`.
pub(crate) fn message(chat_info: &Chat, m: &StoredMessage) -> Value {
    let mut json = json!({
        "message_id": m.id,
        "chat": chat(chat_info),
        "date": m.date,
    });
    let channel = matches!(chat_info.kind, ChatKind::Channel { .. });
    if !channel {
        json["from"] = user(&m.from);
    }
    if channel || m.as_chat {
        json["sender_chat"] = chat(chat_info);
    }
    match &m.content {
        Content::Text { parsed, .. } => {
            json["text"] = json!(parsed.text);
            if !parsed.entities.is_empty() {
                json["entities"] = Value::Array(parsed.entities.iter().map(entity).collect());
            }
        }
        Content::Sticker => json["sticker"] = sticker(m.id),
        Content::Photo { caption } => {
            json["photo"] = photo(m.id);
            if let Some((_, parsed)) = caption {
                add_caption(&mut json, parsed);
            }
        }
        Content::Document { file_id, file_name, file_size, caption } => {
            json["document"] = json!({
                "file_id": file_id,
                "file_unique_id": format!("u{file_id}"),
                "file_name": file_name,
                "file_size": file_size,
                "mime_type": "text/markdown",
            });
            if let Some((_, parsed)) = caption {
                add_caption(&mut json, parsed);
            }
        }
        Content::SentPhoto(sent) => {
            json["photo"] = photo_sizes(sent);
            if let Some((_, _, parsed)) = &sent.caption {
                add_caption(&mut json, parsed);
            }
        }
        Content::Poll(poll) => json["poll"] = poll.clone(),
        Content::Service(fields) => {
            for (key, value) in fields.as_object().into_iter().flatten() {
                json[key] = value.clone();
            }
        }
    }
    if m.via_bot {
        // Sent by a person through the bot's inline mode.
        json["via_bot"] = user(&Person::bot());
    }
    if let Some(keyboard) = &m.keyboard {
        json["reply_markup"] = json!({ "inline_keyboard": keyboard.json });
    }
    if let Some(date) = m.edit_date {
        json["edit_date"] = json!(date);
    }
    if m.disable_link_preview {
        json["link_preview_options"] = json!({ "is_disabled": true });
    }
    json
}

/// A message the bot can no longer see: Telegram marks it with date 0.
pub(crate) fn inaccessible_message(chat_info: &Chat, message_id: i32) -> Value {
    json!({ "chat": chat(chat_info), "message_id": message_id, "date": 0 })
}

/// A `MessageEntity` object.
pub(crate) fn entity(e: &Entity) -> Value {
    let (kind, extra) = match &e.kind {
        EntityKind::Bold => ("bold", None),
        EntityKind::Italic => ("italic", None),
        EntityKind::Underline => ("underline", None),
        EntityKind::Strikethrough => ("strikethrough", None),
        EntityKind::Spoiler => ("spoiler", None),
        EntityKind::Code => ("code", None),
        EntityKind::Pre { language } => ("pre", language.as_ref().map(|l| ("language", l))),
        EntityKind::TextLink { url } => ("text_link", Some(("url", url))),
        EntityKind::CustomEmoji { id } => ("custom_emoji", Some(("custom_emoji_id", id))),
        EntityKind::Blockquote => ("blockquote", None),
        EntityKind::ExpandableBlockquote => ("expandable_blockquote", None),
        EntityKind::BotCommand => ("bot_command", None),
    };
    let mut json = json!({ "type": kind, "offset": e.offset, "length": e.length });
    if let Some((key, value)) = extra {
        json[key] = json!(value);
    }
    json
}

/// A `CallbackQuery` object for a press on `message_id` in `chat_info`.
pub(crate) fn callback_query(
    id: &str,
    from: &Person,
    chat_info: &Chat,
    message: Option<Value>,
    message_id: i32,
    data: &str,
) -> Value {
    json!({
        "id": id,
        "from": user(from),
        "message": message.unwrap_or_else(|| inaccessible_message(chat_info, message_id)),
        // Stable per chat, as Telegram's is.
        "chat_instance": format!("{}", chat_info.id.unsigned_abs().wrapping_mul(2_654_435_761)),
        "data": data,
    })
}

fn file(kind: &str, message_id: i32, size: u32) -> Value {
    let id = format!("EMULATOR-{kind}-{message_id}");
    json!({ "file_id": id, "file_unique_id": format!("{kind}{message_id}"), "file_size": size })
}

fn sticker(message_id: i32) -> Value {
    let mut sticker = file("sticker", message_id, 24_000);
    for (key, value) in [
        ("width", json!(512)),
        ("height", json!(512)),
        ("type", json!("regular")),
        ("is_animated", json!(false)),
        ("is_video", json!(false)),
        ("emoji", json!("👍")),
    ] {
        sticker[key] = value;
    }
    sticker
}

fn photo(message_id: i32) -> Value {
    let sizes = [(90, 1_200), (320, 18_000), (1280, 160_000)];
    Value::Array(
        sizes
            .iter()
            .map(|&(side, size)| {
                let mut p = file(&format!("photo{side}"), message_id, size);
                p["width"] = json!(side);
                p["height"] = json!(side);
                p
            })
            .collect(),
    )
}

/// The `photo` array (`PhotoSize` objects, smallest first) of a sent photo: a thumbnail and
/// the picture itself, whose `file_id` sends it again.
fn photo_sizes(photo: &SentPhoto) -> Value {
    let scale = |side: u32| side * 90 / photo.width.max(photo.height).max(1);
    let size = |id: String, w: u32, h: u32, bytes: usize| {
        json!({
            "file_id": id,
            "file_unique_id": format!("u{}", photo.file_id.len() + bytes),
            "width": w.max(1),
            "height": h.max(1),
            "file_size": bytes,
        })
    };
    Value::Array(vec![
        size(format!("{}-thumb", photo.file_id), scale(photo.width), scale(photo.height), 1_000),
        size(photo.file_id.clone(), photo.width, photo.height, photo.bytes.len()),
    ])
}
