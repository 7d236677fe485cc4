use super::*;
use crate::content::Ui;

/// With one worker, a blocking call that stayed on it would stop every other task; the
/// ticker must go on while `blocking` waits.
#[test]
fn a_blocking_call_leaves_the_runtime_running() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ticks = runtime.block_on(async {
        let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let during = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let before = ticks.load(Ordering::SeqCst);
            blocking(|| std::thread::sleep(std::time::Duration::from_millis(300)));
            ticks.load(Ordering::SeqCst) - before
        })
        .await
        .unwrap();
        ticker.abort();
        during
    });
    assert!(ticks >= 10, "the runtime ticked only {ticks} times in 300 ms");
}

#[test]
fn blocking_works_outside_a_runtime_and_on_a_current_thread_one() {
    assert_eq!(blocking(|| 7), 7);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(async { blocking(|| 8) }), 8);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let on_a_blocking_thread =
        runtime.block_on(async { tokio::task::spawn_blocking(|| blocking(|| 9)).await });
    assert_eq!(on_a_blocking_thread.unwrap(), 9);
    assert_eq!(runtime.block_on(async { blocking(|| 10) }), 10);
}

fn corpus(text: &str) -> Corpus {
    let slogan = crate::content::Slogan {
        id: "s".into(),
        statement: "x".into(),
        lang: Lang::En,
        text: text.into(),
    };
    Corpus {
        statements: Vec::new(),
        slogans: vec![slogan],
        prisoners: Vec::new(),
        ui: Ui::new(Default::default()),
    }
}

#[test]
fn import_replaces_content_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.corpus().unwrap().is_none());
        store.import(&corpus("one"), 1, 0).unwrap();
        store.import(&corpus("two"), 2, 0).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let (stored, hash) = store.corpus().unwrap().unwrap();
    assert_eq!(stored.slogans[0].text, "two");
    assert_eq!(hash, 2);
}

#[test]
fn chat_settings_are_kept_and_erased() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.chat(42).unwrap().lang, None);
    store.set_chat_lang(42, Lang::Ru).unwrap();
    store.set_chat_lang(-100, Lang::Az).unwrap();
    assert_eq!(store.chat(42).unwrap().lang, Some(Lang::Ru));
    store.erase_chat(42).unwrap();
    assert_eq!(store.chat(42).unwrap(), ChatSettings::default());
    assert_eq!(store.chat_count(), 1);
}

#[test]
fn unreadable_settings_fall_back_to_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.t().chats.insert(7i64.to_be_bytes(), b"not json".to_vec()).unwrap();
    assert_eq!(store.chat(7).unwrap(), ChatSettings::default());
}
