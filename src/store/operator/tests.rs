use super::*;
use crate::{
    broadcast::{Audience, Body, JobKind},
    message::OutMessage,
    subscription::ChatKind,
};
use std::sync::{Arc, Barrier};

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

fn items(edition: u64) -> Vec<OutboxItem> {
    (0..5)
        .map(|chat| OutboxItem {
            edition,
            chat_id: 100 + chat,
            kind: ChatKind::Private,
            message: OutMessage { html: "Hello".into(), buttons: Vec::new() },
            attempts: 0,
            op: Default::default(),
        })
        .collect()
}

#[test]
fn confirmations_racing_each_other_queue_a_draft_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
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
                        store.launch_draft(id, &job(), items).unwrap()
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
                Launch::Started { edition, queued } => {
                    assert_eq!(queued.len(), 5);
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
    let store = Store::open(dir.path()).unwrap();
    let id = store.put_draft(&draft()).unwrap();
    assert_eq!(store.discard_draft(id).unwrap(), Some(DraftState::Open));
    assert!(matches!(store.launch_draft(id, &job(), items).unwrap(), Launch::Discarded));
    assert_eq!(store.outbox_len(), 0);
    assert!(matches!(store.launch_draft(999, &job(), items).unwrap(), Launch::Discarded));
}
