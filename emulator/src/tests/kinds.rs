//! Update kinds besides text and buttons, as teloxide reads them.

use teloxide::types::{Update, UpdateKind};

use super::super::*;

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
    let updates = emulator.with_state(|s| s.updates.deliverable(100));
    let kinds: Vec<UpdateKind> = updates
        .into_iter()
        // From text, as teloxide reads a response (its `Update` does not read a `Value`).
        .map(|u| serde_json::from_str::<Update>(&u.to_string()).expect("teloxide reads it").kind)
        .collect();
    assert!(matches!(&kinds[0], UpdateKind::Message(m) if m.poll().is_some()), "{:?}", kinds[0]);
    assert!(matches!(&kinds[1], UpdateKind::PollAnswer(a) if a.option_ids == vec![1]));
    assert!(matches!(&kinds[2], UpdateKind::Poll(p) if p.is_closed && p.total_voter_count == 1));
    assert!(matches!(&kinds[3], UpdateKind::ChannelPost(m) if m.text() == Some("hello")));
    assert!(
        matches!(&kinds[4], UpdateKind::EditedChannelPost(m) if m.text() == Some("hello again"))
    );
    assert_eq!(kinds.len(), 5);
    emulator.shutdown().await;
}
