use super::{launch::Chunk, *};
use crate::{
    broadcast::{Audience, Body, JobKind},
    content::Lang,
    message::OutMessage,
    subscription::{ChatKind, Subscription},
};
use std::{
    collections::HashMap,
    sync::{Arc, Barrier},
};

fn draft() -> Draft {
    Draft {
        operator: 1,
        body: Body::Text { html: "Hello".into() },
        audience: Audience::All,
        created_at: 0,
        state: DraftState::Open,
    }
}

fn job() -> Job {
    Job::running(JobKind::Broadcast, 1, 0)
}

/// What the app makes of a draft for a chat (here: everyone subscribed gets "Hello").
fn item(draft: &Draft, edition: u64, sub: &Subscription) -> Option<OutboxItem> {
    draft.audience.includes(sub).then(|| OutboxItem {
        edition,
        chat_id: sub.chat_id,
        kind: sub.kind,
        message: OutMessage { html: "Hello".into(), buttons: Vec::new() },
        attempts: 0,
        op: Default::default(),
    })
}

/// A store with `n` private chats subscribed (ids 100, 101, …).
fn store_with(dir: &std::path::Path, n: i64) -> Store {
    let store = Store::open(dir).unwrap();
    let subs = (0..n).map(|i| Subscription::new(100 + i, ChatKind::Private, Lang::En));
    assert_eq!(store.load_subscriptions(subs).unwrap(), n as usize);
    store
}

/// Launches `id`, returning the result and the size of each chunk handed over.
fn launch(store: &Store, id: u64) -> (Launch, Vec<usize>) {
    let mut chunks = Vec::new();
    let launched =
        store.launch_draft(id, &job(), &item, &mut |queued| chunks.push(queued.len())).unwrap();
    (launched, chunks)
}

/// How many messages of `edition` each chat has in the outbox.
fn queued_per_chat(store: &Store, edition: u64) -> HashMap<i64, usize> {
    let mut per_chat = HashMap::new();
    for (_, item) in store.outbox().unwrap() {
        assert_eq!(item.edition, edition, "one edition only");
        *per_chat.entry(item.chat_id).or_default() += 1;
    }
    per_chat
}

#[test]
fn confirmations_racing_each_other_queue_a_draft_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store_with(dir.path(), 5));
    const DRAFTS: usize = 20;
    const PRESSES: usize = 4;
    let ids: Vec<u64> = (0..DRAFTS).map(|_| store.put_draft(&draft()).unwrap()).collect();
    let barrier = Arc::new(Barrier::new(PRESSES));
    let threads: Vec<_> = (0..PRESSES)
        .map(|_| {
            let (store, ids, barrier) = (store.clone(), ids.clone(), barrier.clone());
            std::thread::spawn(move || {
                ids.iter()
                    .map(|&id| {
                        barrier.wait();
                        launch(&store, id).0
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<Launch>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (i, &id) in ids.iter().enumerate() {
        let started: Vec<u64> = results
            .iter()
            .filter_map(|r| match &r[i] {
                Launch::Started { edition, chats } => {
                    assert_eq!(*chats, 5);
                    Some(*edition)
                }
                Launch::AlreadySent { .. } => None,
                Launch::Discarded => panic!("draft {id} read as discarded"),
            })
            .collect();
        assert_eq!(started.len(), 1, "draft {id} was started {} times", started.len());
        for r in &results {
            if let Launch::AlreadySent { edition } = &r[i] {
                assert_eq!(*edition, started[0], "the loser names the winner's edition");
            }
        }
        let stored = store.draft(id).unwrap().unwrap();
        assert_eq!(stored.state, DraftState::Sent { edition: started[0] });
    }
    assert_eq!(store.outbox_len(), DRAFTS * 5, "each draft queued its five messages once");
}

#[test]
fn a_discarded_draft_is_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 5);
    let id = store.put_draft(&draft()).unwrap();
    assert_eq!(store.discard_draft(id).unwrap(), Some(DraftState::Open));
    assert_eq!(launch(&store, id), (Launch::Discarded, Vec::new()));
    assert_eq!(store.outbox_len(), 0);
    assert_eq!(launch(&store, 999), (Launch::Discarded, Vec::new()));
}

#[test]
fn an_audience_larger_than_a_chunk_is_queued_once_per_chat_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2 * LAUNCH_CHUNK as i64 + 500;
    let store = store_with(dir.path(), n);
    let id = store.put_draft(&draft()).unwrap();
    let (launched, chunks) = launch(&store, id);
    let Launch::Started { edition, chats } = launched else { panic!("{launched:?}") };
    assert_eq!(chats, n as u64);
    assert_eq!(chunks, [LAUNCH_CHUNK, LAUNCH_CHUNK, 500], "handed over a chunk at a time");
    let per_chat = queued_per_chat(&store, edition);
    assert_eq!(per_chat.len(), n as usize);
    assert!(per_chat.values().all(|&c| c == 1), "a chat queued twice");
    let stored = store.job(edition).unwrap().unwrap();
    assert_eq!((stored.total, stored.queueing), (n as u64, None));
    assert_eq!(store.draft(id).unwrap().unwrap().state, DraftState::Sent { edition });
    assert_eq!(launch(&store, id).0, Launch::AlreadySent { edition });
    assert_eq!(store.outbox_len(), n as usize, "confirming again queued nothing");
}

#[test]
fn a_launch_cut_by_a_crash_is_finished_at_the_next_start_once_per_chat() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2 * LAUNCH_CHUNK as i64 + 500;
    let (id, edition) = {
        let store = store_with(dir.path(), n);
        let id = store.put_draft(&draft()).unwrap();
        let edition = store.begin_launch(id, &job()).unwrap().unwrap();
        let Chunk::Queued { queued, done: false } = store.queue_chunk(edition, &item).unwrap()
        else {
            panic!("the first chunk is not the last")
        };
        assert_eq!(queued.len(), LAUNCH_CHUNK);
        // The engine sends the whole first chunk before the crash: every chat counted so far
        // is done, yet the job is not.
        for (seq, item) in &queued {
            assert!(store.mark_sent(*seq, item, 1, 0).unwrap());
        }
        store.flush().unwrap();
        // The crash: nothing more is queued before the store is closed.
        let stored = store.job(edition).unwrap().unwrap();
        assert_eq!(stored.total, LAUNCH_CHUNK as u64);
        assert!(stored.queueing.is_some());
        let progress = store.job_progress(edition, &stored).unwrap();
        assert!(!progress.finished(), "a job still queueing is not finished");
        store.finish_job(edition).unwrap();
        assert_eq!(store.job(edition).unwrap().unwrap().state, JobState::Running);
        (id, edition)
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.running_jobs().unwrap().len(), 1, "still running after the restart");
    let mut handed = 0;
    let resumed = store.resume_launches(&item, &mut |queued| handed += queued.len()).unwrap();
    assert_eq!(resumed, [Resumed { edition, draft: id, chats: n as u64 }]);
    assert_eq!(handed, n as usize - LAUNCH_CHUNK);
    let mut per_chat = queued_per_chat(&store, edition);
    for (chat, _) in store.deliveries(edition).unwrap() {
        *per_chat.entry(chat).or_default() += 1;
    }
    assert_eq!(per_chat.len(), n as usize, "every chat queued or sent");
    assert!(per_chat.values().all(|&c| c == 1), "a chat queued twice");
    let stored = store.job(edition).unwrap().unwrap();
    assert_eq!((stored.total, stored.queueing), (n as u64, None));
    assert_eq!(store.draft(id).unwrap().unwrap().state, DraftState::Sent { edition });
    assert!(store.resume_launches(&item, &mut |_| panic!("queued twice")).unwrap().is_empty());
}

/// A launch to 2,500 chats begun, its first chunk queued.
fn first_chunk_queued(dir: &std::path::Path) -> (Store, u64) {
    let store = store_with(dir, 2 * LAUNCH_CHUNK as i64 + 500);
    let id = store.put_draft(&draft()).unwrap();
    let edition = store.begin_launch(id, &job()).unwrap().unwrap();
    assert!(matches!(store.queue_chunk(edition, &item).unwrap(), Chunk::Queued { .. }));
    (store, edition)
}

#[test]
fn a_launch_cancelled_while_queueing_queues_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let (store, edition) = first_chunk_queued(dir.path());
    assert_eq!(store.cancel_job(edition).unwrap(), Some(LAUNCH_CHUNK));
    assert!(matches!(store.queue_chunk(edition, &item).unwrap(), Chunk::Over));
    assert_eq!(store.outbox_len(), 0);
    let stored = store.job(edition).unwrap().unwrap();
    assert_eq!((stored.state, stored.queueing), (JobState::Cancelled, None));
    assert!(
        store.resume_launches(&item, &mut |_| panic!("queued after /cancel")).unwrap().is_empty()
    );
}

#[test]
fn a_chat_erased_after_it_was_read_is_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 5);
    let id = store.put_draft(&draft()).unwrap();
    let erase_102 = |draft: &Draft, edition: u64, sub: &Subscription| {
        if sub.chat_id == 102 {
            // `/stop` between the read and the chunk's transaction.
            store.erase_chat(102).unwrap();
        }
        item(draft, edition, sub)
    };
    let launched = store.launch_draft(id, &job(), &erase_102, &mut |_| {}).unwrap();
    let Launch::Started { edition, chats } = launched else { panic!("{launched:?}") };
    assert_eq!(chats, 4);
    assert!(!queued_per_chat(&store, edition).contains_key(&102));
}

#[test]
fn a_key_rotation_between_chunks_cuts_the_launch_short_without_a_second_message() {
    let dir = tempfile::tempdir().unwrap();
    let (store, edition) = first_chunk_queued(dir.path());
    store.rotate_keys().unwrap();
    assert!(matches!(store.queue_chunk(edition, &item).unwrap(), Chunk::Over));
    let per_chat = queued_per_chat(&store, edition);
    assert_eq!(per_chat.len(), LAUNCH_CHUNK);
    assert!(per_chat.values().all(|&c| c == 1), "a chat queued twice");
    let stored = store.job(edition).unwrap().unwrap();
    assert_eq!((stored.total, stored.queueing), (LAUNCH_CHUNK as u64, None));
}

#[test]
fn a_key_rotation_asked_for_during_a_launch_waits_until_everyone_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 2 * LAUNCH_CHUNK as i64 + 500);
    let id = store.put_draft(&draft()).unwrap();
    let mut rotation = None;
    let mut chunks = 0;
    let launched = store
        .launch_draft(id, &job(), &item, &mut |_| {
            chunks += 1;
            if chunks == 1 {
                let rotating = store.clone();
                rotation = Some(std::thread::spawn(move || rotating.rotate_keys().unwrap()));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            assert_eq!(store.keys().epochs().len(), 1, "no rotation during the launch");
        })
        .unwrap();
    let Launch::Started { edition, chats } = launched else { panic!("{launched:?}") };
    assert_eq!((chats, chunks), (2 * LAUNCH_CHUNK as u64 + 500, 3));
    assert_eq!(rotation.unwrap().join().unwrap().epoch, 2, "it ran once the launch was queued");
    let per_chat = queued_per_chat(&store, edition);
    assert_eq!(per_chat.len(), 2 * LAUNCH_CHUNK + 500);
    assert!(per_chat.values().all(|&c| c == 1), "a chat queued twice");
}

#[test]
fn a_launch_whose_first_chunk_comes_after_a_rotation_queues_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 2 * LAUNCH_CHUNK as i64 + 500);
    let id = store.put_draft(&draft()).unwrap();
    let edition = store.begin_launch(id, &job()).unwrap().unwrap();
    store.rotate_keys().unwrap();
    assert_eq!(store.resume_launches(&item, &mut |_| {}).unwrap().len(), 1);
    let per_chat = queued_per_chat(&store, edition);
    assert_eq!(per_chat.len(), 2 * LAUNCH_CHUNK + 500);
    assert!(per_chat.values().all(|&c| c == 1), "a chat queued twice");
    assert_eq!(store.job(edition).unwrap().unwrap().queueing, None);
}
