//! What the store's unit tests share.

use super::{OutboxItem, Store};
use crate::{
    content::Lang,
    subscription::{ChatKind, Subscription},
};

/// A private chat subscribed (due at 100) with one digest queued for it.
pub(super) fn subscribed_with_queued_item(store: &Store, chat: i64) -> (u64, OutboxItem) {
    let mut sub = Subscription::new(chat, ChatKind::Private, Lang::En);
    sub.next_due = Some(100);
    store.save_subscription(&sub).unwrap();
    let item = OutboxItem {
        edition: 1,
        chat_id: chat,
        kind: ChatKind::Private,
        message: crate::message::OutMessage { html: "digest".into(), buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    };
    store.enqueue(vec![item]).unwrap().remove(0)
}
