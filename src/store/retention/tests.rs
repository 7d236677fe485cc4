use super::*;
use crate::{
    broadcast::{Audience, Body, DraftState, JobKind},
    content::Lang,
    message::{OutMessage, OutboxItem},
    store::{DeliveryOutcome, EditionKind},
    subscription::{ChatKind, Subscription},
};
use std::time::Duration;

const DAY: i64 = 86_400;

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

fn retention() -> Retention {
    Retention {
        deliveries: days(14),
        dead_letters: days(7),
        deactivated: days(30),
        records: days(90),
        audit: days(365),
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn item(edition: u64, chat_id: i64) -> OutboxItem {
    OutboxItem {
        edition,
        chat_id,
        kind: ChatKind::Private,
        message: OutMessage { html: "digest".into(), buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    }
}

/// An edition created at `at`, delivered to `chats` (subscribed first).
fn delivered(store: &Store, at: i64, chats: &[i64]) -> u64 {
    let edition = store.new_edition(EditionKind::Digest, at).unwrap();
    for &chat in chats {
        if store.subscription(chat).unwrap().is_none() {
            store.save_subscription(&Subscription::new(chat, ChatKind::Private, Lang::En)).unwrap();
        }
        let (seq, item) = store.enqueue(vec![item(edition, chat)]).unwrap().remove(0);
        assert!(store.mark_sent(seq, &item, 7, at).unwrap());
    }
    edition
}

/// Prunes in steps of `budget` until a step finds nothing; returns the sum and the steps.
fn prune_all(store: &Store, now: i64, budget: usize) -> (Pruned, usize) {
    let mut sum = Pruned::default();
    for steps in 1..1000 {
        let step = store.prune(&retention(), now, budget).unwrap();
        assert!(step.total() <= budget + CHATS_PER_STEP, "a step stays within its budget");
        if step.total() == 0 {
            return (sum, steps);
        }
        sum.chats += step.chats;
        sum.deliveries += step.deliveries;
        sum.editions += step.editions;
        sum.drafts += step.drafts;
        sum.dead_letters += step.dead_letters;
        sum.audit += step.audit;
    }
    panic!("pruning never ends");
}

#[test]
fn the_chat_part_of_a_delivery_key_is_moved_as_opaque_bytes() {
    let mut key = 5u64.to_be_bytes().to_vec();
    key.extend_from_slice(b"any chat part, any length");
    let mut twin = b"any chat part, any length".to_vec();
    twin.extend_from_slice(&5u64.to_be_bytes());
    assert_eq!(keys::chat_edition_of_delivery(&key), Some(twin));
    assert_eq!(keys::chat_edition_of_delivery(b"short"), None);
    // As keys.rs lays them out, with a tag.
    let tag = [7u8; crate::store::seal::TAG_LEN];
    let delivery = keys::delivery_key(5, &tag);
    assert_eq!(keys::chat_edition_of_delivery(&delivery).unwrap(), keys::chat_edition_key(&tag, 5));
}

#[test]
fn delivery_records_go_after_their_period_in_bounded_steps_and_young_ones_stay() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    let chats: Vec<i64> = (0..25).map(|i| 7_000_000_000 + i).collect();
    let old = delivered(&store, t0, &chats);
    let young = delivered(&store, t0 + 10 * DAY, &chats[..3]);
    // A day before the period ends, nothing goes.
    assert_eq!(store.prune(&retention(), t0 + 13 * DAY, 10).unwrap(), Pruned::default());
    let (pruned, steps) = prune_all(&store, t0 + 14 * DAY, 10);
    assert_eq!((pruned.deliveries, steps), (25, 4), "10 + 10 + 5, then a step finding nothing");
    assert!(store.deliveries(old).unwrap().is_empty());
    assert_eq!(store.deliveries(young).unwrap().len(), 3);
    // The index `/stop` reads went with the records: only the young edition's remain.
    let left: Vec<u64> = store
        .t()
        .chat_editions
        .iter()
        .keys()
        .map(|k| keys::chat_edition_edition(&k.unwrap()))
        .collect();
    assert_eq!(left, vec![young; 3]);
    // The edition itself is kept for its own period (operators' `/editions`).
    assert!(store.edition(old).unwrap().is_some());
    assert_eq!(store.trees_naming(chats[10]).unwrap(), ["subs"], "only the subscription");
}

#[test]
fn a_record_written_after_its_edition_was_pruned_goes_with_the_edition() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    let edition = delivered(&store, t0, &[7_100_000_001]);
    prune_all(&store, t0 + 15 * DAY, 1000);
    // A send confirmed late (a job resumed after a long outage) lands behind the cursor.
    let (seq, item) = store.enqueue(vec![item(edition, 7_100_000_001)]).unwrap().remove(0);
    store.mark_sent(seq, &item, 8, t0 + 16 * DAY).unwrap();
    let (pruned, _) = prune_all(&store, t0 + 90 * DAY, 1000);
    assert_eq!((pruned.deliveries, pruned.editions), (1, 1));
    assert!(store.edition(edition).unwrap().is_none());
    assert_eq!(store.t().chat_editions.len(), 0);
}

#[test]
fn editions_jobs_and_drafts_go_after_theirs_but_a_running_job_stays() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    let finished = store
        .start_job(EditionKind::Withdraw, &Job::running(JobKind::Withdraw, 1, t0), |_| Vec::new())
        .unwrap()
        .0;
    store.finish_job(finished).unwrap();
    let running = store
        .start_job(EditionKind::Correct, &Job::running(JobKind::Correct, 1, t0), |_| Vec::new())
        .unwrap()
        .0;
    let draft = Draft {
        operator: 1,
        body: Body::Text { html: "hello".into() },
        audience: Audience::All,
        created_at: t0,
        state: DraftState::Open,
    };
    let draft_id = store.put_draft(&draft).unwrap();
    let young = store.new_edition(EditionKind::Digest, t0 + 2 * DAY).unwrap();
    let (pruned, _) = prune_all(&store, t0 + 90 * DAY, 1000);
    assert_eq!((pruned.editions, pruned.drafts), (1, 1));
    assert!(store.edition(finished).unwrap().is_none() && store.job(finished).unwrap().is_none());
    assert!(store.job(running).unwrap().is_some(), "a running job keeps its edition");
    assert!(store.draft(draft_id).unwrap().is_none());
    assert!(store.edition(young).unwrap().is_some());
}

#[test]
fn dead_letters_and_audit_entries_go_after_theirs() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    let chat = 7_200_000_001;
    store.save_subscription(&Subscription::new(chat, ChatKind::Private, Lang::En)).unwrap();
    for at in [t0, t0 + DAY] {
        let (seq, item) = store.enqueue(vec![item(1, chat)]).unwrap().remove(0);
        store.mark_failed(seq, &item, DeliveryOutcome::Failed, Some("refused"), at).unwrap();
        store.audit(1, "did something", at).unwrap();
    }
    let (pruned, _) = prune_all(&store, t0 + 7 * DAY, 1000);
    assert_eq!((pruned.dead_letters, pruned.audit), (1, 0));
    assert_eq!(store.dead_letters().unwrap().len(), 1);
    let (pruned, _) = prune_all(&store, t0 + 366 * DAY, 1000);
    assert_eq!((pruned.dead_letters, pruned.audit), (1, 2));
    assert!(store.dead_letters().unwrap().is_empty());
    assert!(store.audit_latest(10).unwrap().is_empty());
    assert_eq!(store.t().dead_chats.len(), 0, "the by-chat index went with the dead letters");
}

#[test]
fn the_gone_index_is_sealed_and_follows_a_key_rotation() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    let chat: i64 = 7_500_000_001;
    store.save_subscription(&Subscription::new(chat, ChatKind::Private, Lang::En)).unwrap();
    assert!(store.deactivate(chat, t0).unwrap());
    // Its key holds the time and the chat's tag, its value the id sealed: no id in the clear.
    let (key, raw) = store.t().gone.first().unwrap().unwrap();
    let plain = chat.to_be_bytes();
    let flipped = ((chat as u64) ^ (1 << 63)).to_be_bytes();
    for bytes in [&key[..], &raw[..]] {
        assert!(!bytes.windows(8).any(|w| w == plain || w == flipped));
    }
    assert_eq!(&key[8..], &store.tag(chat)[..]);
    // A backfill left half-way starts over after a rotation: its place was an old tag.
    store.t().meta.insert(super::BACKFILL_CURSOR, &store.tag(chat)[..]).unwrap();
    store.rotate_keys().unwrap();
    assert!(store.t().meta.get(super::BACKFILL_CURSOR).unwrap().is_none());
    let (key, _) = store.t().gone.first().unwrap().unwrap();
    assert_eq!(&key[8..], &store.tag(chat)[..], "tagged anew");
    assert_eq!(prune_all(&store, t0 + 30 * DAY - 1, 1000).0.chats, 0);
    assert_eq!(prune_all(&store, t0 + 30 * DAY, 1000).0.chats, 1);
    assert_eq!(store.trees_naming(chat).unwrap(), Vec::<String>::new());
    assert_eq!(store.t().gone.len(), 0);
}

#[test]
fn a_deactivated_chat_is_erased_after_its_grace_period_unless_it_came_back() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    let (gone, back) = (7_300_000_001, 7_300_000_002);
    delivered(&store, t0, &[gone, back]);
    store.set_chat_lang(gone, Lang::Ru).unwrap();
    assert!(store.deactivate(gone, t0).unwrap());
    assert!(store.deactivate(back, t0).unwrap());
    // Deactivated again later (another failed send): the grace period runs from the first.
    assert!(!store.deactivate(gone, t0 + 20 * DAY).unwrap());
    let mut returned = store.subscription(back).unwrap().unwrap();
    returned.resume();
    store.save_subscription(&returned).unwrap();
    assert_eq!(prune_all(&store, t0 + 30 * DAY - 1, 1000).0.chats, 0);
    assert_eq!(store.subscriber_census().counts.deactivated(), 1, "kept for counts meanwhile");
    assert_eq!(prune_all(&store, t0 + 30 * DAY, 1000).0.chats, 1);
    assert_eq!(store.trees_naming(gone).unwrap(), Vec::<String>::new());
    assert!(store.subscription(back).unwrap().is_some_and(|s| s.active));
    assert_eq!(store.t().gone.len(), 0);
}

#[test]
fn a_migrated_group_keeps_its_grace_period_under_its_new_id() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    let (old, new) = (-4_000_000_001, -1_004_000_000_001);
    store.save_subscription(&Subscription::new(old, ChatKind::Group, Lang::En)).unwrap();
    store.deactivate(old, t0).unwrap();
    store.migrate_chat(old, new).unwrap();
    assert_eq!(prune_all(&store, t0 + 30 * DAY, 1000).0.chats, 1);
    assert!(store.subscription(new).unwrap().is_none());
    assert_eq!(store.trees_naming(new).unwrap(), Vec::<String>::new());
}

#[test]
fn chats_deactivated_before_the_gone_index_get_their_grace_period_from_the_upgrade() {
    let (_dir, store) = store();
    let t0 = 1_000 * DAY;
    // As an earlier Tribune left them: inactive, no time, not in the index.
    let old: Vec<i64> = (0..5).map(|i| 7_400_000_000 + i).collect();
    for &chat in &old {
        let mut sub = Subscription::new(chat, ChatKind::Private, Lang::En);
        sub.active = false;
        store.put_subscription(&sub).unwrap();
    }
    store
        .save_subscription(&Subscription::new(7_400_000_009, ChatKind::Private, Lang::En))
        .unwrap();
    store.t().meta.remove(super::BACKFILL_CURSOR).unwrap();
    // Two subscriptions a step: three steps see all six, a fourth marks the search done.
    for _ in 0..4 {
        assert_eq!(store.prune(&retention(), t0, 2).unwrap(), Pruned::default());
    }
    assert_eq!(store.t().meta.get(super::BACKFILL_CURSOR).unwrap().unwrap(), super::BACKFILLED);
    assert_eq!(store.t().gone.len(), 5);
    assert_eq!(prune_all(&store, t0 + 30 * DAY - 1, 1000).0.chats, 0);
    assert_eq!(prune_all(&store, t0 + 30 * DAY, 1000).0.chats, 5);
    assert_eq!(store.subscription_count(), 1, "the active one stays");
}
