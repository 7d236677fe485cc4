//! The use cases' decisions, without Telegram: a `Caller` value in, an outcome or a refusal
//! out, on a manual clock.

use super::*;
use crate::{
    broadcast::{Audience, Body},
    clock::Clock,
    content::Lang,
    message::SettingsStep,
    subscription::{Change, ChatKind, Frequency, Subscription},
};
use chrono::{DateTime, Utc, Weekday};
use std::{path::Path, sync::Arc};

const GROUP: i64 = -100;
const OPERATOR: i64 = 900;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

/// A Tribune on a fresh store and the repository's content, on a manual clock.
fn tribune() -> (tempfile::TempDir, Tribune, Arc<crate::clock::ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let messages = Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
    let (clock, manual) = Clock::manual(at("2026-11-25T12:00:00Z"));
    let (app, _) = Tribune::open_with_clock(&dir.path().join("data"), &messages, clock).unwrap();
    (dir, app.with_operators(vec![OPERATOR]), manual)
}

#[test]
fn a_group_member_changes_nothing_and_an_administrator_may() {
    let (_dir, app, _) = tribune();
    let member = Caller::in_chat(GROUP, ChatKind::Group, Some(7));
    assert_eq!(app.subscribe(&member, Lang::En), Err(Refusal::AdminsOnly));
    assert_eq!(app.set_lang(&member, Lang::Ru), Err(Refusal::AdminsOnly));
    assert_eq!(app.lang_for(GROUP, None), Lang::En, "nothing stored");
    let admin = member.administering([GROUP]);
    app.subscribe(&admin, Lang::En).unwrap();
    assert_eq!(app.set_lang(&admin, Lang::Ru), Ok(()));
    assert_eq!(app.lang_for(GROUP, None), Lang::Ru);
    assert_eq!(app.store().subscription(GROUP).unwrap().unwrap().lang, Lang::Ru);
    // A private chat's own language is its person's to choose.
    assert_eq!(app.set_lang(&Caller::private(7), Lang::Az), Ok(()));
}

#[test]
fn resuming_restores_the_schedule_that_was_chosen() {
    let (_dir, app, _) = tribune();
    let reader = Caller::private(7);
    app.subscribe(&reader, Lang::En).unwrap();
    let monday = SettingsStep::Set(Change::Weekly(Weekday::Mon));
    app.settings_step(&reader, 7, monday).unwrap();
    assert!(app.unsubscribe(&reader).unwrap().is_some());
    let resumed = app.subscribe(&reader, Lang::En).unwrap();
    assert_eq!(resumed.frequency, Frequency::Weekly { day: Weekday::Mon });
    // Monday 30 November, 09:00 in Baku.
    assert_eq!(resumed.next_due, Some(at("2026-11-30T05:00:00Z").timestamp()));
}

#[test]
fn a_settings_button_for_someone_else_s_chat_is_refused() {
    let (_dir, app, _) = tribune();
    app.subscribe(&Caller::private(7), Lang::En).unwrap();
    let forged = app.settings_step(&Caller::private(8), 7, SettingsStep::Set(Change::Off));
    assert_eq!(forged, Err(Refusal::AdminsOnly));
    assert_eq!(app.store().subscription(7).unwrap().unwrap().frequency, Frequency::Daily);
    // A chat with no subscription: the button is stale.
    let stale = app.settings_step(&Caller::private(9), 9, SettingsStep::Open);
    assert_eq!(stale, Err(Refusal::Stale));
}

#[test]
fn channels_are_listed_only_in_a_private_chat_and_only_those_administered() {
    let (_dir, app, _) = tribune();
    app.register_channel(-200).unwrap();
    app.register_channel(-300).unwrap();
    let in_group = Caller::in_chat(GROUP, ChatKind::Group, Some(7));
    assert_eq!(app.channel_candidates(&in_group), Err(Refusal::PrivateOnly));
    let reader = Caller::private(7);
    assert_eq!(app.channel_candidates(&reader).unwrap().len(), 2);
    assert_eq!(app.channels(&reader.administering([-300])), Ok(vec![-300]));
}

#[test]
fn the_channel_list_is_read_once_an_interval_and_a_registered_channel_shows_at_once() {
    let (_dir, app, _) = tribune();
    app.register_channel(-200).unwrap();
    let reader = Caller::private(7);
    assert_eq!(app.channel_candidates(&reader).unwrap(), vec![-200]);
    // A channel subscribed by another path than a registration waits for the next read.
    let sub = crate::subscription::Subscription::new(-400, ChatKind::Channel, Lang::En);
    app.store().save_subscription(&sub).unwrap();
    assert_eq!(app.channel_candidates(&reader).unwrap(), vec![-200], "the list just read");
    app.register_channel(-300).unwrap();
    assert_eq!(app.channel_candidates(&reader).unwrap(), vec![-400, -300, -200]);
}

#[test]
fn operators_are_told_of_another_process_at_most_every_ten_minutes_by_the_app_s_clock() {
    let (_dir, app, clock) = tribune();
    app.another_process_polls();
    app.another_process_polls();
    assert_eq!(app.store().outbox_len(), 1, "one notice to the one operator");
    clock.set(at("2026-11-25T12:09:59Z"));
    app.another_process_polls();
    assert_eq!(app.store().outbox_len(), 1);
    clock.set(at("2026-11-25T12:10:00Z"));
    app.another_process_polls();
    assert_eq!(app.store().outbox_len(), 2);
}

#[test]
fn operators_jobs_are_stamped_by_the_app_s_clock() {
    let (_dir, app, _) = tribune();
    let operator = app.operator(&Caller::private(OPERATOR)).unwrap();
    let saved = app.set_prisoner(&operator, "ulvi-hasanli released 2026-11").unwrap();
    assert!(matches!(saved, EditOutcome::Saved { .. }), "{saved:?}");
    let audit = app.audit_log(&operator).unwrap();
    assert_eq!(audit[0].at, at("2026-11-25T12:00:00Z").timestamp());
    let edits = app.store().edits().unwrap();
    assert_eq!(edits[0].1.at, at("2026-11-25T12:00:00Z").timestamp());
}

#[test]
fn only_operators_in_private_chats_pass_the_operators_check() {
    let (_dir, app, _) = tribune();
    assert_eq!(app.operator(&Caller::private(OPERATOR)).unwrap().id(), OPERATOR);
    assert_eq!(app.operator(&Caller::private(901)).unwrap_err(), Refusal::OperatorsOnly);
    let in_group = Caller::in_chat(GROUP, ChatKind::Group, Some(OPERATOR));
    assert_eq!(app.operator(&in_group).unwrap_err(), Refusal::PrivateOnly);
    let nobody = Caller::in_chat(OPERATOR, ChatKind::Private, None);
    assert_eq!(app.operator(&nobody).unwrap_err(), Refusal::OperatorsOnly);
}

#[test]
fn a_broadcast_to_more_chats_than_a_chunk_queues_each_once_and_audits_the_count() {
    let (_dir, app, _) = tribune();
    let n = 2 * crate::store::LAUNCH_CHUNK as i64 + 500;
    let people = (0..n).map(|i| Subscription::new(1_000 + i, ChatKind::Private, Lang::En));
    let groups = (0..10).map(|i| Subscription::new(-1_000 - i, ChatKind::Group, Lang::En));
    app.store().load_subscriptions(people.chain(groups)).unwrap();
    let operator = app.operator(&Caller::private(OPERATOR)).unwrap();
    let body = Body::Text { html: "Hello".into() };
    let Prepared::Draft { id, .. } = app.prepare_broadcast(&operator, Some(body)).unwrap() else {
        panic!("no draft")
    };
    app.choose_audience(&operator, id, Audience::Users).unwrap();
    let Sent::Started { edition } = app.send_draft(&operator, id).unwrap() else {
        panic!("not started")
    };
    let mut chats = std::collections::HashSet::new();
    for (_, item) in app.store().outbox().unwrap() {
        assert_eq!((item.edition, item.message.html.as_str()), (edition, "Hello"));
        assert!(chats.insert(item.chat_id), "chat {} queued twice", item.chat_id);
    }
    assert_eq!(chats.len(), n as usize);
    assert!(chats.iter().all(|&c| c > 0), "only the users");
    assert_eq!(app.store().job(edition).unwrap().unwrap().total, n as u64);
    let audit = app.audit_log(&operator).unwrap();
    assert_eq!(audit[0].action, format!("broadcast edition {edition} to users ({n} chats)"));
    assert_eq!(app.send_draft(&operator, id).unwrap(), Sent::AlreadySent { edition });
    app.resume_broadcasts();
    assert_eq!(app.store().outbox_len(), n as usize, "nothing queued twice");
}
