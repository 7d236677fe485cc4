//! Update kinds a bot meets besides text and buttons: polls and votes, poll state changes
//! (`Emulator::poll_state`), and (in `chats`) channel posts and their edits. Telegram hands a
//! bot only the kinds it asked for in `allowed_updates`; `Emulator::deliver_every_update_kind`
//! hands over all of them, so a test can prove the bot survives kinds it did not ask for.

use serde_json::{Value, json};

use super::{handles::Conversation, wire, world::Content};

/// A `Poll` object: open, anonymous, a regular poll, with these vote counts.
pub(crate) fn poll_json(id: &str, question: &str, options: &[(&str, u32)], closed: bool) -> Value {
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
    let id = conversation.shared().with_state(|s| {
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
        self.shared().with_state(|s| s.updates.push("poll_answer", answer));
        self.shared().notify();
    }
}
