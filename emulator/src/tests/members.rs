//! Channels, admins, the bot's membership and group migration, as teloxide reads them.

use teloxide::{
    ApiError as TgApiError, RequestError,
    prelude::*,
    types::{ChatMemberKind, ChatMemberUpdated, UpdateKind, UserId},
};
use tokio::sync::mpsc;

use super::{super::*, WAIT, bot, updates};

fn my_chat_member(update: &Update) -> &ChatMemberUpdated {
    match &update.kind {
        UpdateKind::MyChatMember(change) => change,
        other => panic!("expected my_chat_member, got {other:?}"),
    }
}

fn can_post(kind: &ChatMemberKind) -> Option<bool> {
    match kind {
        ChatMemberKind::Administrator(admin) => Some(admin.can_post_messages),
        _ => None,
    }
}

#[tokio::test]
async fn a_channel_from_adding_the_bot_to_removing_it() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let owner = emulator.user(7, "Owner", None);
    let channel = emulator.channel(-1_000_000_000_100, "News");
    channel.set_admins(&[owner.id()]);
    let id = ChatId(channel.chat_id());
    let outside = bot.send_message(id, "x").await.unwrap_err();
    assert!(outside.to_string().contains("bot is not a member of the channel chat"), "{outside}");

    channel.add_bot_as_admin(7, true);
    let mut offset = 0;
    let got = updates(&bot, &mut offset).await;
    assert_eq!(got.len(), 1, "channels have no new_chat_members message: {got:?}");
    let added = my_chat_member(&got[0]);
    assert!(added.chat.is_channel() && added.from.id == UserId(7));
    assert!(added.old_chat_member.is_left());
    assert_eq!(can_post(&added.new_chat_member.kind), Some(true));
    assert_eq!(added.new_chat_member.user.id, UserId(7_000_000_001));

    let post = bot.send_message(id, "Statement").await.unwrap();
    assert!(post.from.is_none() && post.sender_chat.as_ref().unwrap().id == id);
    assert_eq!(channel.wait_for_messages(1, WAIT).await.unwrap()[0].text, "Statement");
    let me = bot.get_chat_member(id, UserId(7_000_000_001)).await.unwrap();
    assert_eq!(can_post(&me.kind), Some(true));
    let admins = bot.get_chat_administrators(id).await.unwrap();
    assert!(admins[0].is_owner() && admins[0].user.id == UserId(7) && admins.len() == 2);
    let full = bot.get_chat(id).await.unwrap();
    assert!(full.is_channel() && full.title() == Some("News"));

    channel.set_bot_rights(7, false);
    let demoted = updates(&bot, &mut offset).await;
    assert_eq!(can_post(&my_chat_member(&demoted[0]).new_chat_member.kind), Some(false));
    let no_rights = bot.send_message(id, "x").await.unwrap_err();
    assert!(
        matches!(no_rights, RequestError::Api(TgApiError::NotEnoughRightsToPostMessages)),
        "{no_rights:?}"
    );
    channel.remove_bot(7);
    let removed = updates(&bot, &mut offset).await;
    assert!(my_chat_member(&removed[0]).new_chat_member.is_left());
    let gone = bot.send_message(id, "x").await.unwrap_err();
    assert!(gone.to_string().contains("bot is not a member of the channel chat"), "{gone}");
    assert_eq!(channel.messages().len(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn members_admins_and_chats_are_looked_up() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let ann = emulator.user(42, "Ann", Some("en"));
    emulator.user(43, "Bob", None);
    let group = emulator.group(-5, "Readers");
    group.set_admins(&[100, 42]);
    let member = |user| bot.get_chat_member(ChatId(-5), UserId(user));
    assert!(member(100).await.unwrap().is_owner());
    assert!(member(42).await.unwrap().is_administrator());
    assert!(member(43).await.unwrap().is_left());
    assert!(member(7_000_000_001).await.unwrap().is_member());
    let unknown = member(44).await.unwrap_err();
    assert!(matches!(unknown, RequestError::Api(TgApiError::UserNotFound)), "{unknown:?}");
    group.as_member(&emulator.user(43, "Bob", None)).send_text("hello");
    assert!(member(43).await.unwrap().is_member(), "writing in a group makes a member");
    assert_eq!(bot.get_chat_administrators(ChatId(-5)).await.unwrap().len(), 2);

    let full = bot.get_chat(ChatId(-5)).await.unwrap();
    assert!(full.is_group() && full.title() == Some("Readers"));
    let private = bot.get_chat(ChatId(ann.id())).await.unwrap();
    assert!(private.is_private());
    assert!(bot.get_chat_member(ChatId(42), UserId(42)).await.unwrap().is_member());
    let missing = bot.get_chat(ChatId(-6)).await.unwrap_err();
    assert!(matches!(missing, RequestError::Api(TgApiError::ChatNotFound)), "{missing:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_group_adds_and_removes_the_bot() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let group = emulator.group(-5, "Readers");
    let supergroup = emulator.supergroup(-1_001, "Big");
    group.remove_bot(100);
    supergroup.remove_bot(100);
    let mut offset = 0;
    let got = updates(&bot, &mut offset).await;
    let kicked = my_chat_member(&got[0]);
    assert!(kicked.old_chat_member.is_member() && kicked.new_chat_member.is_banned());
    let refused = bot.send_message(ChatId(-5), "x").await.unwrap_err();
    assert!(refused.to_string().contains("bot was kicked from the group chat"), "{refused}");
    let refused = bot.send_message(ChatId(-1_001), "x").await.unwrap_err();
    assert!(
        matches!(refused, RequestError::Api(TgApiError::BotKickedFromSupergroup)),
        "{refused:?}"
    );

    group.add_bot(100);
    let got = updates(&bot, &mut offset).await;
    assert!(my_chat_member(&got[0]).new_chat_member.is_member());
    let UpdateKind::Message(joined) = &got[1].kind else { panic!("{got:?}") };
    assert_eq!(joined.new_chat_members().unwrap()[0].id, UserId(7_000_000_001));
    bot.send_message(ChatId(-5), "back").await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_group_becomes_a_supergroup() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let group = emulator.group(-5, "Readers");
    let supergroup = group.migrate_to_supergroup(-1_005);
    assert_eq!(supergroup.chat_id(), -1_005);
    let mut offset = 0;
    let got = updates(&bot, &mut offset).await;
    let (UpdateKind::Message(to), UpdateKind::Message(from)) = (&got[0].kind, &got[1].kind) else {
        panic!("{got:?}")
    };
    assert_eq!((to.chat.id, to.migrate_to_chat_id()), (ChatId(-5), Some(&ChatId(-1_005))));
    assert_eq!((from.chat.id, from.migrate_from_chat_id()), (ChatId(-1_005), Some(&ChatId(-5))));
    assert!(from.chat.is_supergroup() && from.sender_chat.is_some());

    let moved = bot.send_message(ChatId(-5), "x").await.unwrap_err();
    assert!(matches!(moved, RequestError::MigrateToChatId(ChatId(-1_005))), "{moved:?}");
    bot.send_message(ChatId(-1_005), "here").await.unwrap();
    assert_eq!(supergroup.wait_for_messages(1, WAIT).await.unwrap()[0].text, "here");
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_anonymous_admin_writes_as_the_group() {
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let group = emulator.supergroup(-1_001, "Big");
    group.send_text_as_anonymous_admin("/settings");
    let mut offset = 0;
    let got = updates(&bot, &mut offset).await;
    let UpdateKind::Message(message) = &got[0].kind else { panic!("{got:?}") };
    let from = message.from.as_ref().unwrap();
    assert_eq!((from.id.0, from.username.as_deref()), (1_087_968_824, Some("GroupAnonymousBot")));
    assert_eq!(message.sender_chat.as_ref().unwrap().id, ChatId(-1_001));
    assert!(group.messages().is_empty(), "GroupAnonymousBot is not our bot");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_dispatcher_hears_my_chat_member() {
    let emulator = Emulator::start().await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel::<ChatMemberUpdated>();
    let handler = Update::filter_my_chat_member().endpoint(
        |change: ChatMemberUpdated, tx: mpsc::UnboundedSender<ChatMemberUpdated>| async move {
            let _ = tx.send(change);
            respond(())
        },
    );
    let mut dispatcher =
        Dispatcher::builder(bot(&emulator), handler).dependencies(dptree::deps![tx]).build();
    let token = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });
    emulator.channel(-1_000_000_000_100, "News").add_bot_as_admin(100, true);
    let change = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert!(change.chat.is_channel() && change.new_chat_member.is_administrator());
    let allowed = emulator.with_state(|s| s.updates.allowed.clone()).unwrap_or_default();
    assert!(allowed.iter().any(|kind| kind == "my_chat_member"), "{allowed:?}");
    let stopping = token.shutdown().unwrap();
    emulator.clone().shutdown().await;
    stopping.await;
    running.await.unwrap();
}

#[tokio::test]
async fn get_chat_finds_a_public_channel_by_its_username_in_any_case() {
    use teloxide::types::Recipient;
    let emulator = Emulator::start().await.unwrap();
    let bot = bot(&emulator);
    let channel = emulator.channel(-1_000_000_000_200, "Voice");
    let by_name = |name: &str| bot.get_chat(Recipient::ChannelUsername(name.to_owned()));
    let unnamed = by_name("@voice").await.unwrap_err();
    assert!(unnamed.to_string().contains("chat not found"), "{unnamed}");
    channel.set_username("Voice");
    let full = by_name("@VOICE").await.unwrap();
    assert_eq!(full.id, ChatId(channel.chat_id()));
    assert_eq!(full.username(), Some("Voice"));
    assert!(by_name("@voices").await.is_err());
    emulator.shutdown().await;
}
