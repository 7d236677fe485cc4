//! When a prisoner's status changes in the content, chats that chose prisoner news get an
//! alert, and their next digest says what changed.

use crate::support;

use crate::support::{Setup, TIMEOUT, ask, copy_dir, messages_dir, next, spawn_app_with, utc};

#[tokio::test]
async fn a_release_is_announced_to_prisoner_news_readers_only() {
    let dir = tempfile::tempdir().unwrap();
    let messages = dir.path().join("messages");
    copy_dir(&messages_dir(), &messages);
    let data = dir.path().join("data");
    let setup = |emulator| Setup {
        clock: Some(utc("2026-11-25T04:00:00Z")),
        data_dir: Some(data.clone()),
        messages_dir: Some(messages.clone()),
        emulator,
        ..Setup::default()
    };
    let app = spawn_app_with(setup(None)).await;
    let reader = app.user(601, "en");
    let quiet = app.user(602, "en");
    ask(&reader, "/subscribe").await;
    let card = ask(&quiet, "/subscribe").await;
    support::press(&quiet, &card, "No prisoners");
    quiet.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    let emulator = app.stop_bot().await;

    // The operator records a release in the files; Tribune imports them at start.
    let path = messages.join("prisoners.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("id = \"tofig-yagublu\"").unwrap();
    let released = format!(
        "{}{}",
        &text[..start],
        text[start..].replacen("status = \"imprisoned\"", "status = \"released\"", 1)
    );
    std::fs::write(&path, released).unwrap();

    let app = spawn_app_with(setup(Some(emulator))).await;
    let alert = next(&reader).await;
    assert_eq!(alert.plain_text(), "⛓ Status change: Tofig Yagublu — released.");
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    assert_eq!(quiet.messages().len(), 1, "no alert for a chat without prisoner news");

    app.set_time(utc("2026-11-25T05:00:00Z"));
    let digest = next(&reader).await;
    assert!(
        digest.plain_text().contains("⛓ Political prisoners: 12 behind bars"),
        "{}",
        digest.plain_text()
    );
    assert!(digest.plain_text().contains("• Tofig Yagublu — released"));
    app.set_time(utc("2026-11-26T05:00:00Z"));
    let later = next(&reader).await;
    assert!(
        later.plain_text().contains(
            "No changes since your last digest: 12 political prisoners are still behind bars."
        ),
        "{}",
        later.plain_text()
    );

    // A restart does not announce the same change twice.
    let emulator = app.stop_bot().await;
    let app = spawn_app_with(setup(Some(emulator))).await;
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    assert_eq!(
        reader.messages().iter().filter(|m| m.plain_text().starts_with("⛓ Status change")).count(),
        1
    );
    app.stop().await;
}
