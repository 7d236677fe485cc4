//! Webhooks, as teloxide sets and reads them.

use std::time::Duration;

use teloxide::{RequestError, prelude::*};

use super::super::*;

#[tokio::test]
async fn a_webhook_excludes_get_updates_until_deleted() {
    let emulator = Emulator::start().await.unwrap();
    let bot = Bot::new(emulator.token()).set_api_url(emulator.api_url().parse().unwrap());
    let url: reqwest::Url = "http://127.0.0.1:9/hook".parse().unwrap();
    let refused = bot.set_webhook(url.clone()).secret_token("no spaces allowed").await;
    assert!(refused.is_err(), "a secret with spaces is refused");
    bot.set_webhook(url.clone()).secret_token("s3cret_-").await.unwrap();
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(info.url.as_ref().map(|u| u.as_str()), Some(url.as_str()));
    match bot.get_updates().await {
        Err(RequestError::Api(e)) => {
            assert!(e.to_string().contains("can't use getUpdates method while webhook is active"))
        }
        other => panic!("getUpdates with a webhook set: {other:?}"),
    }
    // Nobody listens on port 9: the push fails and getWebhookInfo says so.
    emulator.user(1, "Reader", Some("en")).send_text("hello");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let info = bot.get_webhook_info().await.unwrap();
        if info.last_error_message.is_some() {
            assert_eq!(info.pending_update_count, 1, "the update is kept");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no push was tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot.delete_webhook().await.unwrap();
    assert_eq!(emulator.webhook_url(), None);
    assert_eq!(bot.get_updates().await.unwrap().len(), 1, "kept for getUpdates");
    emulator.shutdown().await;
}
