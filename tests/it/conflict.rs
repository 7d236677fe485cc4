//! A second process polling with the same token is detected and reported to the operators.

use crate::support::{Setup, TIMEOUT, eventually, spawn_app_with};
use std::time::Duration;
use teloxide::{prelude::*, requests::Requester};

#[tokio::test]
async fn another_poller_with_the_same_token_is_reported_to_operators() {
    let app = spawn_app_with(Setup { operators: vec![900], ..Setup::default() }).await;
    let operator = app.user(900, "en");
    let requests = app.emulator.clone();
    eventually(TIMEOUT, "the bot polls", || requests.requests("getUpdates") >= 1).await;
    // Another program with the same token takes over the long poll.
    let intruder =
        Bot::new(app.emulator.token()).set_api_url(app.emulator.api_url().parse().unwrap());
    let poll = tokio::spawn(async move { intruder.get_updates().timeout(2).await });
    let notice =
        operator.wait_for_messages(1, TIMEOUT + Duration::from_secs(5)).await.unwrap().remove(0);
    assert!(
        notice.plain_text().starts_with("⚠️ Another process is receiving this bot's updates"),
        "{}",
        notice.plain_text()
    );
    let _ = poll.await;
    app.stop().await;
}
