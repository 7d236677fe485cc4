//! Update kinds a bot meets besides text and buttons: polls and votes, poll state changes,
//! and (in `chats`) channel posts and their edits. Telegram hands a bot only the kinds it
//! asked for in `allowed_updates`; [`Emulator::deliver_every_update_kind`] hands over all
//! of them, so a test can prove the bot survives kinds it did not ask for.

use serde_json::{Value, json};

use super::{Emulator, handles::Conversation, state::Content, updates::is_allowed, wire};

/// A `Poll` object: open, anonymous, a regular poll, with these vote counts.
fn poll_json(id: &str, question: &str, options: &[(&str, u32)], closed: bool) -> Value {
    let options: Vec<Value> =
        options.iter().map(|(text, votes)| json!({ "text": text, "voter_count": votes })).collect();
    let total: u32 = options.iter().filter_map(|o| o["voter_count"].as_u64()).sum::<u64>() as u32;
    json!({
        "id": id,
        "question": question,
        "options": options,
        "total_voter_count": total,
        "is_closed": closed,
        "is_anonymous": true,
        "type": "regular",
        "allows_multiple_answers": false,
    })
}

/// Posts a poll in `conversation`'s chat as an update of `kind`; returns the poll id.
pub(crate) fn post_poll(
    conversation: &Conversation,
    question: &str,
    options: &[&str],
    kind: &'static str,
) -> String {
    let id = conversation.emulator().with_state(|s| {
        s.next_callback += 1;
        format!("{}{:06}", conversation.chat_id().unsigned_abs(), s.next_callback)
    });
    let counted: Vec<(&str, u32)> = options.iter().map(|o| (*o, 0)).collect();
    let content = Content::Poll(poll_json(&id, question, &counted, false));
    conversation.post_update(conversation.sender().clone(), false, content, kind);
    id
}

impl Conversation {
    /// Sends a poll into the chat (a message without text). Returns the poll id.
    pub fn send_poll(&self, question: &str, options: &[&str]) -> String {
        post_poll(self, question, options, "message")
    }

    /// Votes in a poll: a `poll_answer` update (Telegram sends these only for the bot's own
    /// non-anonymous polls, but a client cannot be trusted to know that).
    pub fn answer_poll(&self, poll_id: &str, option_ids: &[u8]) {
        let answer = json!({
            "poll_id": poll_id,
            "user": wire::user(self.sender()),
            "option_ids": option_ids,
        });
        self.emulator().with_state(|s| s.enqueue("poll_answer", answer));
        self.emulator().notify();
    }
}

impl Emulator {
    /// A poll's new state: a `poll` update.
    pub fn poll_state(&self, poll_id: &str, question: &str, options: &[(&str, u32)], closed: bool) {
        let poll = poll_json(poll_id, question, options, closed);
        self.with_state(|s| s.enqueue("poll", poll));
        self.notify();
    }

    /// Hands over every update kind, whatever the bot asked for in `allowed_updates`
    /// (Telegram does not; this is for proving the bot copes anyway).
    pub fn deliver_every_update_kind(&self, on: bool) {
        self.with_state(|s| s.every_kind = on);
    }

    /// Whether Telegram would hand this update kind ("channel_post", "poll", ...) to the bot,
    /// given the `allowed_updates` of its last getUpdates.
    pub fn would_deliver(&self, kind: &str) -> bool {
        self.with_state(|s| is_allowed(s.allowed_updates.as_deref(), kind))
    }

    /// Updates queued and not yet confirmed by the bot.
    pub fn pending_updates(&self) -> usize {
        self.with_state(|s| s.updates.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::{Update, UpdateKind};

    #[tokio::test]
    async fn polls_votes_and_channel_posts_read_back_as_teloxide_updates() {
        let emulator = Emulator::start().await.unwrap();
        let user = emulator.user(5, "Reader", Some("en"));
        let channel = emulator.channel(-100_500, "News");
        let poll = user.send_poll("Which?", &["a", "b"]);
        user.answer_poll(&poll, &[1]);
        emulator.poll_state(&poll, "Which?", &[("a", 0), ("b", 1)], true);
        let post = channel.post_text("hello");
        channel.edit_post(post, "hello again");
        let updates = emulator.with_state(|s| s.deliverable(100));
        let kinds: Vec<UpdateKind> = updates
            .into_iter()
            // From text, as teloxide reads a response (its `Update` does not read a `Value`).
            .map(|u| {
                serde_json::from_str::<Update>(&u.to_string()).expect("teloxide reads it").kind
            })
            .collect();
        assert!(
            matches!(&kinds[0], UpdateKind::Message(m) if m.poll().is_some()),
            "{:?}",
            kinds[0]
        );
        assert!(matches!(&kinds[1], UpdateKind::PollAnswer(a) if a.option_ids == vec![1]));
        assert!(
            matches!(&kinds[2], UpdateKind::Poll(p) if p.is_closed && p.total_voter_count == 1)
        );
        assert!(matches!(&kinds[3], UpdateKind::ChannelPost(m) if m.text() == Some("hello")));
        assert!(
            matches!(&kinds[4], UpdateKind::EditedChannelPost(m) if m.text() == Some("hello again"))
        );
        assert_eq!(kinds.len(), 5);
        emulator.shutdown().await;
    }
}
