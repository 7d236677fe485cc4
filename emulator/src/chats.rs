//! Acting as the administrators of groups and channels: naming admins,
//! adding and removing the bot, upgrading a group to a supergroup, and
//! writing as an anonymous admin. Every change the bot would hear of
//! becomes an update, as in Telegram.

use std::time::Duration;

use super::{
    error::WaitError,
    handles::{Conversation, Group},
    html::Parsed,
    kinds,
    sent::BotMessage,
    world::{BotStatus, ChatKind, Content, Person},
};

/// A channel, where only the bot's posts are seen. The bot is not in it
/// until an admin adds it ([`Channel::add_bot_as_admin`]); until then
/// posting fails with "Forbidden: bot is not a member of the channel chat".
#[derive(Clone)]
pub struct Channel(Conversation);

impl Channel {
    pub(crate) fn new(conversation: Conversation) -> Channel {
        Channel(conversation)
    }

    /// The channel's id.
    pub fn chat_id(&self) -> i64 {
        self.0.chat_id()
    }

    /// Names the administrators, the creator first (people, not the bot).
    pub fn set_admins(&self, user_ids: &[i64]) {
        set_admins(&self.0, user_ids);
    }

    /// Makes the channel public as `@username` (given without '@'): getChat then finds it
    /// by that name, as Telegram does for a public channel.
    pub fn set_username(&self, username: &str) {
        let chat_id = self.chat_id();
        self.0.shared().with_state(|s| {
            let chat = s.chats.get_mut(&chat_id).expect("registered chat");
            chat.username = Some(username.trim_start_matches('@').to_owned());
        });
    }

    /// `by_user` makes the bot an administrator (a `my_chat_member` update).
    pub fn add_bot_as_admin(&self, by_user: i64, can_post_messages: bool) {
        self.set_bot(by_user, BotStatus::Admin { can_post_messages });
    }

    /// `by_user` changes the bot's rights (an update, if they change).
    pub fn set_bot_rights(&self, by_user: i64, can_post_messages: bool) {
        self.set_bot(by_user, BotStatus::Admin { can_post_messages });
    }

    /// `by_user` removes the bot: it has "left", and posting fails with
    /// "Forbidden: bot is not a member of the channel chat".
    pub fn remove_bot(&self, by_user: i64) {
        self.set_bot(by_user, BotStatus::Left);
    }

    fn set_bot(&self, by_user: i64, status: BotStatus) {
        set_bot(&self.0, by_user, status);
    }

    /// The creator posts `text` in the channel: a `channel_post` update (a bot that is an
    /// administrator of a channel receives its posts). Returns the post's id.
    pub fn post_text(&self, text: &str) -> i32 {
        let parsed = Parsed { text: text.to_owned(), entities: Vec::new() };
        let content = Content::Text { raw: text.to_owned(), parse_mode: None, parsed };
        self.0.post_update(self.0.sender().clone(), true, content, "channel_post")
    }

    /// The creator edits a post: an `edited_channel_post` update.
    pub fn edit_post(&self, post_id: i32, new_text: &str) {
        self.0.edit_update(post_id, new_text, "edited_channel_post");
    }

    /// The creator posts a poll in the channel (a `channel_post` update). Returns the poll id.
    pub fn post_poll(&self, question: &str, options: &[&str]) -> String {
        kinds::post_poll(&self.0, question, options, "channel_post")
    }

    /// Every post of the bot in this channel, oldest first, latest state.
    pub fn messages(&self) -> Vec<BotMessage> {
        self.0.messages()
    }

    /// The bot's newest post.
    pub fn last_message(&self) -> Option<BotMessage> {
        self.0.last_message()
    }

    /// Posts not yet returned by `take_new` or a wait, without waiting.
    pub fn take_new(&self) -> Vec<BotMessage> {
        self.0.take_new()
    }

    /// Waits until the bot posted at least `n_new` messages not yet taken,
    /// and returns all of them.
    pub async fn wait_for_messages(
        &self,
        n_new: usize,
        timeout: Duration,
    ) -> Result<Vec<BotMessage>, WaitError> {
        self.0.wait_for_messages(n_new, timeout).await
    }
}

impl Group {
    /// Names the administrators, the creator first (people, not the bot).
    pub fn set_admins(&self, user_ids: &[i64]) {
        set_admins(self, user_ids);
    }

    /// `by_user` adds the bot: a `my_chat_member` update and a
    /// `new_chat_members` message (nothing, if the bot is already in).
    pub fn add_bot(&self, by_user: i64) {
        set_bot(self, by_user, BotStatus::Member);
    }

    /// `by_user` removes the bot: it is "kicked", and sending fails with
    /// "Forbidden: bot was kicked from the group chat" (or supergroup).
    pub fn remove_bot(&self, by_user: i64) {
        set_bot(self, by_user, BotStatus::Kicked);
    }

    /// Upgrades this basic group to the supergroup `new_id`, by the hand of
    /// the member this handle acts as: the old group gets a message with
    /// `migrate_to_chat_id`, the supergroup one with `migrate_from_chat_id`,
    /// and sending to the old id then fails with the migration error.
    ///
    /// # Panics
    /// If this is not a basic group, or `new_id` is taken: a mistake in the test.
    pub fn migrate_to_supergroup(&self, new_id: i64) -> Group {
        let (old_id, by) = (self.chat_id(), self.sender().id);
        self.shared().with_state(|s| {
            let kind = s.chats.get(&old_id).map(|c| &c.kind);
            assert!(matches!(kind, Some(ChatKind::Group { .. })), "{old_id} is not a basic group");
            assert!(!s.chats.contains_key(&new_id), "chat {new_id} already exists");
            s.migrate(old_id, new_id, by);
        });
        self.shared().notify();
        Group::new(self.shared().clone(), new_id, self.sender().clone())
    }

    /// Writes as an anonymous administrator: `from` is GroupAnonymousBot and
    /// `sender_chat` the group itself.
    pub fn send_text_as_anonymous_admin(&self, text: &str) -> i32 {
        let parsed = Parsed { text: text.to_owned(), entities: Vec::new() };
        let content = Content::Text { raw: text.to_owned(), parse_mode: None, parsed };
        self.post_as(Person::anonymous_admin(), true, content)
    }
}

fn set_admins(chat: &Conversation, user_ids: &[i64]) {
    let chat_id = chat.chat_id();
    chat.shared().with_state(|s| {
        let chat = s.chats.get_mut(&chat_id).expect("registered chat");
        chat.admins = user_ids.to_vec();
        chat.members.extend(user_ids);
    });
}

fn set_bot(chat: &Conversation, by_user: i64, status: BotStatus) {
    let chat_id = chat.chat_id();
    chat.shared().with_state(|s| s.set_bot_status(chat_id, by_user, status));
    chat.shared().notify();
}
