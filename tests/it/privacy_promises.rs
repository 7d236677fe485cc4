//! PRIVACY.md, checked in the store a running bot writes: reading stores nothing about the
//! reader; the chat's id and language only after `/lang`; settings only after `/subscribe`;
//! and never names or anything a person writes (commands and search words are handled and
//! forgotten).

use crate::support::{TIMEOUT, ask, next, press, spawn_app};

/// Whether any key or value of any tree of the store holds `needle`.
fn stored(app: &crate::support::TestApp, needle: &str) -> Vec<String> {
    // With the key in hand: the records as Tribune reads them, not their sealed bytes.
    let snapshot = app.tribune.store().snapshot().unwrap();
    let mut found = Vec::new();
    for (tree, key, value) in crate::support::opened_records(&snapshot) {
        for bytes in [&key, &value] {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(tree.clone());
            }
        }
    }
    found
}

#[tokio::test]
async fn reading_stores_nothing_and_nothing_a_reader_writes_is_ever_stored() {
    let app = spawn_app().await;
    const ID: i64 = 13_000;
    // A first name and words that appear nowhere else, to look for in every tree.
    let reader = app.emulator.user(ID, "Zephyrinella", Some("en"));
    let secrets = ["Zephyrinella", "quokkalantern", "marmaladeprism", "velvetorchid"];

    let welcome = ask(&reader, "/start").await;
    press(&reader, &welcome, "Excerpt");
    next(&reader).await;
    ask(&reader, "/search quokkalantern").await;
    // Plain words in a private chat are searched too.
    ask(&reader, "marmaladeprism").await;
    ask(&reader, "/prisoners").await;
    let page = ask(&reader, "/read 1").await;
    press(&reader, &page, "▶");
    reader.wait_for_edit(page.message_id, TIMEOUT).await.unwrap();
    let inline = reader.inline_query("velvetorchid", TIMEOUT).await.unwrap();
    assert!(inline.results.is_empty());
    let store = app.tribune.store();
    assert_eq!(store.trees_naming(ID).unwrap(), Vec::<String>::new(), "reading stored the reader");

    // The chat's id and its language, only after /lang.
    ask(&reader, "/lang ru").await;
    assert_eq!(store.trees_naming(ID).unwrap(), ["chats"]);
    // Settings only after /subscribe; a typed time is a setting, kept as the time it is.
    let card = ask(&reader, "/subscribe").await;
    press(&reader, &card, "Другое время…");
    next(&reader).await;
    ask(&reader, "7:15").await;
    let mut trees = store.trees_naming(ID).unwrap();
    trees.sort();
    assert_eq!(trees, ["chats", "due", "subs"], "the answered question is gone too");

    // The search does find what is stored (the zone of the subscription): a true control.
    assert!(stored(&app, "Asia/Baku").contains(&"subs".to_string()));
    for secret in secrets {
        assert_eq!(stored(&app, secret), Vec::<String>::new(), "{secret:?} was stored");
    }
    app.stop().await;
}
