//! Every key layout of the reader trees, in one place. A chat or person id never appears in a
//! key: its place holds `tag(id)`, 16 bytes of HMAC under the current epoch (see `seal.rs`).
//! Integers are big-endian, so iteration order is numeric order.

use super::seal::TAG_LEN;

/// The lookup tag of a chat or person id under the current epoch.
pub type Tag = [u8; TAG_LEN];

/// `chats`, `subs`: tag(chat).
pub fn chat_key(chat: &Tag) -> Tag {
    *chat
}

/// `due`: due time (Unix seconds, never negative here) ++ tag(chat). The value is the chat id,
/// sealed: the scheduler reads who is due in time order at O(due).
pub fn due_key(due: i64, chat: &Tag) -> [u8; 8 + TAG_LEN] {
    join(&(due.max(0) as u64).to_be_bytes(), chat)
}

/// The due time of a `due` key.
pub fn due_time(key: &[u8]) -> i64 {
    super::u64_at(key, 0) as i64
}

/// The first `due` key after every chat due at `until`.
pub fn due_end(until: i64) -> [u8; 8 + TAG_LEN] {
    let mut key = [0xff; 8 + TAG_LEN];
    key[..8].copy_from_slice(&(until.max(0) as u64).to_be_bytes());
    key
}

/// `gone`: deactivation time (Unix seconds) ++ tag(chat), laid out as `due`; the value is the
/// chat id, sealed. Deactivated chats oldest first, so those past their grace period are found
/// in O(expired).
pub fn gone_key(at: i64, chat: &Tag) -> [u8; 8 + TAG_LEN] {
    due_key(at, chat)
}

/// The first `gone` key after every chat deactivated at `until`.
pub fn gone_end(until: i64) -> [u8; 8 + TAG_LEN] {
    due_end(until)
}

/// `outbox`, `dead`, `drafts`, `jobs`, `audit`, `edits`, `editions`: a sequence or id.
pub fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// `outbox_chats`, `dead_chats`: tag(chat) ++ sequence → empty, so `/stop` finds a chat's
/// queued items and dead letters in O(its own).
pub fn by_chat_key(chat: &Tag, seq: u64) -> [u8; TAG_LEN + 8] {
    join(chat, &seq.to_be_bytes())
}

/// The sequence of a `by_chat_key`.
pub fn by_chat_seq(key: &[u8]) -> u64 {
    super::u64_at(key, TAG_LEN)
}

/// `deliveries`: edition ++ tag(chat); the value holds the chat id and the record, sealed.
pub fn delivery_key(edition: u64, chat: &Tag) -> [u8; 8 + TAG_LEN] {
    join(&edition.to_be_bytes(), chat)
}

/// The `chat_editions` key of the delivery record at `delivery_key` (edition ++ tag →
/// tag ++ edition), built from the key's bytes as they stand, so pruning by edition needs no
/// record opened. `None` for a key too short to hold an edition.
pub fn chat_edition_of_delivery(delivery_key: &[u8]) -> Option<Vec<u8>> {
    let (edition, chat) = (delivery_key.get(..8)?, delivery_key.get(8..)?);
    Some([chat, edition].concat())
}

/// The prefix of every `deliveries` key of one edition.
pub fn edition_prefix(edition: u64) -> [u8; 8] {
    edition.to_be_bytes()
}

/// The prefix of every key of one chat in `chat_editions`, `outbox_chats` and `dead_chats`.
pub fn chat_prefix(chat: &Tag) -> Tag {
    *chat
}

/// `chat_editions`: tag(chat) ++ edition → empty, so `/stop` finds a chat's records.
pub fn chat_edition_key(chat: &Tag, edition: u64) -> [u8; TAG_LEN + 8] {
    join(chat, &edition.to_be_bytes())
}

/// The edition of a `chat_edition_key`.
pub fn chat_edition_edition(key: &[u8]) -> u64 {
    super::u64_at(key, TAG_LEN)
}

/// `questions`: tag(chat) ++ tag(user); the value holds both ids and the question, sealed.
pub fn question_key(chat: &Tag, user: &Tag) -> [u8; 2 * TAG_LEN] {
    join(chat, user)
}

fn join<const N: usize>(a: &[u8], b: &[u8]) -> [u8; N] {
    let mut key = [0; N];
    key[..a.len()].copy_from_slice(a);
    key[a.len()..].copy_from_slice(b);
    key
}
