//! Operators: broadcasts with live progress, cancel, withdraw and correct, content edits from
//! Telegram, the audit log — and refusals for everyone else.

use crate::support;

use crate::support::{Setup, TIMEOUT, TestApp, ask, eventually, next, press, spawn_app_with};
use std::time::Duration;
use telegram_bot_api_emulator::{BotMessage, User};
use tribune::{
    app::Caller,
    content::{Lang, Status},
    delivery::Limits,
    subscription::ChatKind,
};

const OPERATOR: i64 = 900;
const REFUSED: &str = "This command is for Tribune's operators.";

async fn operator_app(limits: Limits) -> (TestApp, User) {
    let app = spawn_app_with(Setup { operators: vec![OPERATOR], limits, ..Setup::default() }).await;
    let operator = app.user(OPERATOR, "en");
    (app, operator)
}

/// `n` readers with ids from `first` on, each with a private chat and a daily subscription.
fn readers(app: &TestApp, first: i64, n: i64) -> Vec<i64> {
    (first..first + n)
        .inspect(|&id| {
            app.user(id, "en");
            app.tribune.subscribe(&Caller::private(id), Lang::En).unwrap();
        })
        .collect()
}

/// Readers, a group and a channel, all subscribed; returns their chat ids.
async fn audience(app: &TestApp, operator: &User, users: i64) -> Vec<i64> {
    let mut chats = readers(app, 5000, users);
    app.emulator.group(-4100, "Circle");
    app.tribune.subscribe(&Caller::chat_itself(-4100, ChatKind::Group), Lang::En).unwrap();
    chats.push(-4100);
    let channel = app.emulator.channel(-1_001_234_500, "Voice");
    channel.add_bot_as_admin(100, true);
    // The bot tells the operators it may post in a new channel.
    let notice = next(operator).await;
    assert!(notice.plain_text().contains("Voice"), "{}", notice.plain_text());
    eventually(TIMEOUT, "the channel is registered", || {
        app.tribune.store().subscription(-1_001_234_500).unwrap().is_some_and(|s| s.active)
    })
    .await;
    chats.push(-1_001_234_500);
    chats
}

/// `/broadcast text`, then Send on its card (to everyone); returns the progress message.
async fn send_broadcast(operator: &User, text: &str) -> BotMessage {
    operator.send_text(&format!("/broadcast {text}"));
    let preview = next(operator).await;
    assert_eq!(preview.plain_text(), text);
    let card = next(operator).await;
    confirm(operator, &card).await
}

/// Presses Send on a broadcast card; returns the progress message that follows.
async fn confirm(operator: &User, card: &BotMessage) -> BotMessage {
    press(operator, card, "Send");
    let progress = next(operator).await;
    assert!(progress.plain_text().contains("Done:"), "{}", progress.plain_text());
    progress
}

/// The newest edition.
fn edition(app: &TestApp) -> u64 {
    app.tribune.store().editions_latest(1).unwrap()[0].0
}

fn texts(app: &TestApp, chat: i64) -> Vec<String> {
    app.emulator.chat_messages(chat).iter().map(BotMessage::plain_text).collect()
}

/// Waits until the operator's progress message says the job is over; returns its text.
async fn progress_over(operator: &User) -> String {
    let mut last = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if let Some(m) = operator.messages().into_iter().rev().find(|m| m.text.contains("Done:")) {
            last = m.plain_text();
            if last.contains("finished") || last.contains("cancelled") {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the progress message did not finish: {last}");
}

#[tokio::test]
async fn everyone_else_is_refused_every_operator_command_and_button() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    let reader = app.user(200, "en");
    for (i, command) in [
        "/operator",
        "/broadcast Hello",
        "/cancel",
        "/withdraw 1",
        "/correct 1 text",
        "/editions",
        "/addslogan x y",
        "/setprisoner ulvi-hasanli released",
        "/edits",
        "/audit",
        "/stats",
        "/health",
    ]
    .into_iter()
    .enumerate()
    {
        // One reader per command, so the flood allowance never answers instead.
        let asker = app.user(300 + i as i64, "en");
        assert_eq!(ask(&asker, command).await.plain_text(), REFUSED, "{command}");
    }
    // A real draft, then a reader forging its Send button: refused, nothing sent.
    app.tribune.subscribe(&Caller::private(200), Lang::En).unwrap();
    reader.send_text("/start");
    next(&reader).await;
    operator.send_text("/broadcast Forged?");
    let _preview = next(&operator).await;
    let card = next(&operator).await;
    // Every button of the real card, forged by the reader: the audience, Send and Cancel.
    let forged: Vec<String> =
        card.buttons.iter().flatten().filter_map(|b| b.callback_data.clone()).collect();
    assert_eq!(forged.len(), 6, "{:?}", card.buttons);
    let draft_id: u64 = forged
        .iter()
        .find_map(|d| d.strip_prefix("bs:"))
        .and_then(|id| id.parse().ok())
        .expect("a Send button names its draft");
    for data in forged.iter().rev() {
        let id = reader.press(reader.last_message().unwrap().message_id, data);
        let answer = reader.wait_for_answer(&id, TIMEOUT).await.unwrap();
        assert_eq!(answer.text.as_deref(), Some(REFUSED), "{data}");
    }
    // A reader's document is not content: nothing changes, whatever it holds.
    let before = app.tribune.corpus();
    let statement = support::messages_dir().join("statements/voice-of-revolution-founding.md");
    let file = std::fs::read_to_string(statement).unwrap().replace("a", "o");
    reader.send_document("founding.md", file.as_bytes(), None);
    let answer = next(&reader).await.plain_text();
    assert!(!answer.contains("Saved"), "{answer}");
    assert_eq!(*app.tribune.corpus(), *before);
    assert!(app.tribune.store().edits().unwrap().is_empty());
    // The forged presses changed nothing: the draft is open, for everyone, and unsent.
    let draft = app.tribune.store().draft(draft_id).unwrap().unwrap();
    assert_eq!(draft.state, tribune::broadcast::DraftState::Open);
    assert_eq!(draft.audience, tribune::broadcast::Audience::All);
    assert!(!texts(&app, 200).iter().any(|t| t.contains("Forged?")));
    assert_eq!(app.tribune.store().outbox_len(), 0);
    let audit = app.tribune.store().audit_latest(10).unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, [format!("prepared broadcast draft {draft_id}")], "only the operator's");
    app.stop().await;
}

#[tokio::test]
async fn a_broadcast_reaches_users_groups_and_channels_once() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    // Operators have their commands in their own menu; readers do not.
    let menu = app.emulator.menu_in_chat(OPERATOR, Some("en"));
    assert!(menu.iter().any(|(c, _)| c == "broadcast"), "{menu:?}");
    assert!(!app.emulator.menu_in_chat(5000, Some("en")).iter().any(|(c, _)| c == "broadcast"));
    let chats = audience(&app, &operator, 3).await;
    operator.send_html("/broadcast <b>Rally</b> at noon &amp; bring &lt;friends&gt;");
    let preview = next(&operator).await;
    assert_eq!(preview.plain_text(), "Rally at noon & bring <friends>");
    assert_eq!(preview.text, "<b>Rally</b> at noon &amp; bring &lt;friends&gt;");
    let card = next(&operator).await;
    assert!(card.plain_text().contains("Everyone — 5 chat(s)"), "{}", card.plain_text());
    assert!(card.button("People (3)").is_some() && card.button("Groups (1)").is_some());
    assert!(card.button("Channels (1)").is_some());

    // Choosing an audience updates the card in place; then back to everyone.
    press(&operator, &card, "People");
    let edited = operator.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(edited.plain_text().contains("People — 3 chat(s)"), "{}", edited.plain_text());
    press(&operator, &edited, "Everyone");
    let edited = operator.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();

    // Two presses of Send: one broadcast.
    let send = edited.button("✅ Send").unwrap().callback_data.clone().unwrap();
    let first = operator.press(card.message_id, &send);
    let second = operator.press(card.message_id, &send);
    operator.wait_for_answer(&first, TIMEOUT).await.unwrap();
    let again = operator.wait_for_answer(&second, TIMEOUT).await.unwrap();
    let final_progress = progress_over(&operator).await;
    assert!(final_progress.contains("finished"), "{final_progress}");
    assert!(final_progress.contains("Done: 5 · failed: 0 · chat gone: 0 of 5"), "{final_progress}");
    for chat in &chats {
        let got = texts(&app, *chat);
        let copies = app
            .emulator
            .chat_messages(*chat)
            .iter()
            .filter(|m| m.text == "<b>Rally</b> at noon &amp; bring &lt;friends&gt;")
            .count();
        assert_eq!(copies, 1, "chat {chat} got {got:?}");
    }
    // The second press said so, whichever order the two were handled in.
    let answers = [operator.callback_answers()[0].text.clone(), again.text.clone()];
    assert!(answers.iter().flatten().any(|t| t.contains("already sent")), "{answers:?}");
    let audit = app.tribune.store().audit_latest(5).unwrap();
    assert!(audit[0].action.starts_with("broadcast edition"), "{audit:?}");
    assert_eq!(audit[0].operator, OPERATOR);
    let actions: Vec<&str> = audit[1..].iter().map(|a| a.action.as_str()).collect();
    assert!(actions[0].ends_with("audience: all") && actions[1].ends_with("audience: users"));
    assert!(actions[2].starts_with("prepared broadcast draft"), "{actions:?}");
    app.stop().await;
}

#[tokio::test]
async fn cancel_stops_a_broadcast_midway() {
    // Slow limits so the broadcast is still running when it is cancelled.
    let (app, operator) = operator_app(Limits::telegram(4.0, false)).await;
    let chats = readers(&app, 6000, 30);
    send_broadcast(&operator, "Slowly").await;
    let delivered = |app: &TestApp| {
        chats.iter().filter(|c| texts(app, **c).iter().any(|t| t == "Slowly")).count()
    };
    eventually(TIMEOUT, "a few delivered", || delivered(&app) >= 3).await;
    let answer = ask(&operator, "/cancel").await;
    // The answer to /cancel may come before or after a progress update; find it.
    let cancelled = if answer.plain_text().contains("cancelled") {
        answer.plain_text()
    } else {
        progress_over(&operator).await
    };
    assert!(cancelled.contains("cancelled"), "{cancelled}");
    // Once the engine has nothing queued or in flight, nothing more can arrive; had the
    // cancel stopped nothing, the engine would have sent all 30 by then.
    assert!(app.bot.engine().wait_idle(Duration::from_secs(30)).await, "the engine never idled");
    let sent = delivered(&app);
    assert!(sent < 30, "cancel stopped nothing: {sent}");
    let last = progress_over(&operator).await;
    assert!(last.contains(&format!("not sent: {} of 30", 30 - sent)), "{last} (sent {sent})");
    assert_eq!(app.tribune.store().outbox_len(), 0);
    let again = ask(&operator, "/cancel").await.plain_text();
    assert!(again.contains("Nothing is running"), "{again}");
    assert_eq!(delivered(&app), sent, "messages kept going after the cancel");
    let audit = app.tribune.store().audit_latest(1).unwrap().remove(0).action;
    assert_eq!(
        audit,
        format!("cancelled edition {} ({} messages not sent)", edition(&app), 30 - sent)
    );
    app.stop().await;
}

#[tokio::test]
async fn withdraw_and_correct_reach_every_chat() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    let chats = audience(&app, &operator, 2).await;
    send_broadcast(&operator, "Meeting on Fridy").await;
    progress_over(&operator).await;
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    let editions = ask(&operator, "/editions").await.plain_text();
    assert!(editions.contains(&format!("{edition} · broadcast")), "{editions}");
    assert!(editions.contains("4 chat(s)"), "{editions}");

    let started = ask(&operator, &format!("/correct {edition} Meeting on Friday")).await;
    assert!(started.plain_text().contains("Correction of edition"), "{}", started.plain_text());
    let done = progress_over(&operator).await;
    assert!(done.contains("Correction of edition") && done.contains("Done: 4"), "{done}");
    for chat in &chats {
        assert_eq!(texts(&app, *chat), vec!["Meeting on Friday".to_string()], "chat {chat}");
    }

    let started = ask(&operator, &format!("/withdraw {edition}")).await;
    assert!(started.plain_text().contains("Withdrawal of edition"), "{}", started.plain_text());
    eventually(TIMEOUT, "withdrawn everywhere", || {
        chats.iter().all(|c| app.emulator.chat_messages(*c).is_empty())
    })
    .await;
    let audit: Vec<String> =
        app.tribune.store().audit_latest(5).unwrap().into_iter().map(|a| a.action).collect();
    assert!(audit[0].starts_with(&format!("withdraw edition {edition} in 4 chats")), "{audit:?}");
    assert!(audit[1].starts_with(&format!("correct edition {edition} in 4 chats")), "{audit:?}");
    assert!(ask(&operator, "/withdraw 999999").await.plain_text().contains("no edition 999999"));
    // Bad input gets a clear answer, not a guess.
    let bare = ask(&operator, "/withdraw").await.plain_text();
    assert_eq!(bare, "Give the edition to withdraw: /withdraw edition. /editions lists them.");
    let bare = ask(&operator, "/correct").await.plain_text();
    assert!(bare.starts_with("Give the edition and the corrected text"), "{bare}");
    let nonsense = ask(&operator, "/withdraw soon").await.plain_text();
    assert!(nonsense.contains("There is no edition soon."), "{nonsense}");
    app.stop().await;
}

#[tokio::test]
async fn a_copied_document_is_broadcast_and_its_caption_corrected() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    readers(&app, 7001, 1);
    let document = operator.send_document("leaflet.pdf", b"%PDF leaflet", Some("Print and share"));
    // A document an operator sends that is not a statement is refused as content...
    let refusal = next(&operator).await;
    assert!(refusal.plain_text().contains("cannot be used"), "{}", refusal.plain_text());
    // ...but can be broadcast by replying to it.
    operator.reply_text(document, "/broadcast");
    let preview = next(&operator).await;
    assert_eq!(preview.document.as_deref(), Some("leaflet.pdf"));
    let card = next(&operator).await;
    confirm(&operator, &card).await;
    progress_over(&operator).await;
    let got = app.emulator.chat_messages(7001);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].document.as_deref(), Some("leaflet.pdf"));
    assert_eq!(got[0].text, "Print and share");
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    ask(&operator, &format!("/correct {edition} Print, share, discuss")).await;
    eventually(TIMEOUT, "caption corrected", || {
        app.emulator.chat_messages(7001)[0].text == "Print, share, discuss"
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn content_edits_are_checked_kept_across_restarts_and_alert_readers() {
    let data = tempfile::tempdir().unwrap();
    let messages = tempfile::tempdir().unwrap();
    support::copy_dir(&support::messages_dir(), messages.path());
    let setup = || Setup {
        operators: vec![OPERATOR],
        data_dir: Some(data.path().to_path_buf()),
        messages_dir: Some(messages.path().to_path_buf()),
        ..Setup::default()
    };
    let app = spawn_app_with(setup()).await;
    let operator = app.user(OPERATOR, "en");
    let reader = app.user(7100, "en");
    app.tribune.subscribe(&Caller::private(7100), Lang::En).unwrap();
    let before = app.tribune.corpus();

    // A broken statement file: every problem with its line, nothing changed.
    let broken = "+++\nid = \"new-appeal\"\nkind = \"leaflet\"\norganisation = \"X\"\n+++\n=== en ===\ntext\n";
    operator.send_document("new-appeal.md", broken.as_bytes(), None);
    let problems = next(&operator).await.plain_text();
    assert!(problems.starts_with("Nothing changed"), "{problems}");
    // Each problem names its line: `statements/new-appeal.md:3: …` (`kind` is on line 3).
    let lines: Vec<&str> = problems
        .split("statements/new-appeal.md:")
        .skip(1)
        .map(|rest| rest.split(':').next().unwrap())
        .collect();
    assert!(!lines.is_empty(), "{problems}");
    assert!(lines.iter().all(|l| l.parse::<u32>().is_ok_and(|n| n >= 1)), "{problems}");
    assert!(lines.contains(&"3"), "the bad kind is on line 3: {problems}");
    assert_eq!(*app.tribune.corpus(), *before);

    // A good statement file: a new statement readers can open at once.
    let statement = before.statements[0].clone();
    let original = std::fs::read_dir(messages.path().join("statements"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|t| t.contains(&format!("id = \"{}\"", statement.id)))
        .unwrap();
    let first = &statement.paragraphs(Lang::En)[0].text;
    let edited = original.replace(first.as_str(), "A paragraph corrected from Telegram.");
    operator.send_document("fix.md", edited.as_bytes(), None);
    let saved = next(&operator).await.plain_text();
    assert!(saved.starts_with("✅ Saved: statement file"), "{saved}");
    assert_eq!(
        app.tribune.corpus().statement(&statement.id).unwrap().paragraphs(Lang::En)[0].text,
        "A paragraph corrected from Telegram."
    );

    // A slogan must be word for word.
    let invented =
        ask(&operator, &format!("/addslogan {} Words never written", statement.id)).await;
    assert!(invented.plain_text().contains("not word for word"), "{}", invented.plain_text());
    let words: String =
        statement.paragraphs(Lang::En)[2].text.split(' ').take(6).collect::<Vec<_>>().join(" ");
    let added = ask(&operator, &format!("/addslogan {} {words}", statement.id)).await;
    assert!(added.plain_text().starts_with("✅ Saved: slogan"), "{}", added.plain_text());
    assert_eq!(app.tribune.corpus().slogans.last().unwrap().text, words);

    // A prisoner released: saved, and the subscribed reader is alerted.
    let prisoner = before.prisoners.iter().find(|p| p.status == Status::Imprisoned).unwrap();
    let answer =
        ask(&operator, &format!("/setprisoner {} released 2026-11-20 Freed on bail", prisoner.id))
            .await
            .plain_text();
    assert!(answer.contains("✅ Saved: prisoner"), "{answer}");
    assert!(answer.contains("alerts queued for 1"), "{answer}");
    let alert = next(&reader).await.plain_text();
    assert!(alert.to_lowercase().contains("released"), "{alert}");
    let bad = ask(&operator, "/setprisoner nobody released").await.plain_text();
    assert!(bad.contains("no prisoner with id \"nobody\""), "{bad}");
    let command = format!("/setprisoner {} sentenced 2026-13 to 9 years", prisoner.id);
    let bad = ask(&operator, &command).await.plain_text();
    assert_eq!(bad, "2026-13 is not a date: write YYYY, YYYY-MM or YYYY-MM-DD.");

    // Edits survive a restart, even when messages/ changed meanwhile.
    let after_edits = app.tribune.corpus();
    app.stop().await;
    let slogans = messages.path().join("slogans.toml");
    let text = std::fs::read_to_string(&slogans).unwrap() + "\n# changed while stopped\n";
    std::fs::write(&slogans, text).unwrap();
    let app = spawn_app_with(setup()).await;
    assert_eq!(*app.tribune.corpus(), *after_edits);
    let operator = app.user(OPERATOR, "en");
    let listed = ask(&operator, "/edits").await.plain_text();
    assert_eq!(listed.lines().filter(|l| l.contains(" · ")).count(), 3, "{listed}");

    // Dropping the statement edit serves the file's text again.
    let number = app.tribune.store().edits().unwrap()[0].0;
    let dropped = ask(&operator, &format!("/edits drop {number}")).await.plain_text();
    assert!(dropped.contains("removed"), "{dropped}");
    assert_eq!(
        app.tribune.corpus().statement(&statement.id).unwrap().paragraphs(Lang::En)[0].text,
        *first
    );
    let audit = ask(&operator, "/audit").await.plain_text();
    assert!(
        audit.contains("dropped content edit") && audit.contains("content edit: prisoner"),
        "{audit}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_broadcast_interrupted_by_a_restart_finishes_with_a_new_progress_message() {
    let data = tempfile::tempdir().unwrap();
    let setup = |emulator| Setup {
        operators: vec![OPERATOR],
        limits: Limits::telegram(5.0, false),
        data_dir: Some(data.path().to_path_buf()),
        emulator,
        ..Setup::default()
    };
    let app = spawn_app_with(setup(None)).await;
    let operator = app.user(OPERATOR, "en");
    let chats = readers(&app, 8000, 12);
    send_broadcast(&operator, "Through the restart").await;
    let got = |app: &TestApp, chat: i64| {
        texts(app, chat).iter().filter(|t| *t == "Through the restart").count()
    };
    eventually(TIMEOUT, "some delivered", || {
        chats.iter().filter(|c| got(&app, **c) == 1).count() >= 2
    })
    .await;
    let emulator = app.stop_bot().await;
    let app = spawn_app_with(setup(Some(emulator))).await;
    let resumed = next(&operator).await;
    assert!(resumed.plain_text().contains("Broadcast, edition"), "{}", resumed.plain_text());
    let done = progress_over(&operator).await;
    assert!(done.contains("Done: 12 · failed: 0 · chat gone: 0 of 12"), "{done}");
    for &chat in &chats {
        assert_eq!(got(&app, chat), 1, "chat {chat}");
    }
    app.stop().await;
}

#[tokio::test]
async fn operator_commands_are_for_private_chats() {
    let (app, _operator) = operator_app(Limits::telegram(30.0, false)).await;
    let group = app.emulator.group(-4200, "Circle");
    group.set_admins(&[OPERATOR]);
    let operator_in_group = group.as_member(&app.user(OPERATOR, "en"));
    operator_in_group.send_text("/audit@tribune_test_bot");
    let answer = operator_in_group.wait_for_messages(1, TIMEOUT).await.unwrap().remove(0);
    assert_eq!(answer.plain_text(), "Please send /audit in a private chat with me.");

    // A member's bare /cancel, /stats or /edits may be for another bot in the group: Tribune
    // keeps quiet. Named to Tribune, it is refused. A group's updates are handled in order,
    // so the answer to the named one comes after anything the bare ones would have caused.
    let member = group.as_member(&app.user(4201, "en"));
    for bare in ["/cancel", "/stats", "/edits", "/health", "/broadcast now"] {
        member.send_text(bare);
    }
    member.send_text("/stats@tribune_test_bot");
    let answers = member.wait_for_messages(1, TIMEOUT).await.unwrap();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].plain_text(), REFUSED);
    app.stop().await;
}

#[tokio::test]
async fn withdrawing_a_running_broadcast_stops_it_and_a_reader_who_leaves_still_lets_it_finish() {
    let (app, operator) = operator_app(Limits::telegram(4.0, false)).await;
    let chats = readers(&app, 9000, 16);
    // The last reader leaves before the broadcast reaches them: the job still adds up.
    send_broadcast(&operator, "Wrong date").await;
    let leaver = app.user(9015, "en");
    ask(&leaver, "/stop").await;
    let got = |app: &TestApp, chat: i64| texts(app, chat).iter().any(|t| t == "Wrong date");
    eventually(TIMEOUT, "a few reached", || chats.iter().filter(|c| got(&app, **c)).count() >= 3)
        .await;
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    let started = ask(&operator, &format!("/withdraw {edition}")).await.plain_text();
    assert!(started.contains("Withdrawal of edition"), "{started}");
    let done = progress_over(&operator).await;
    assert!(done.contains("Withdrawal") && done.contains("finished"), "{done}");
    // Nothing of the broadcast is left anywhere, and nothing more arrives: once the engine
    // has nothing queued or in flight, a send of the broadcast cannot still come.
    assert!(app.bot.engine().wait_idle(Duration::from_secs(30)).await, "the engine never idled");
    for &chat in &chats {
        assert!(!got(&app, chat), "chat {chat} still shows the withdrawn broadcast");
    }
    let audit = app.tribune.store().audit_latest(1).unwrap().remove(0).action;
    assert!(audit.ends_with("stopping it first"), "{audit}");
    let broadcast = app.tribune.store().job(edition).unwrap().unwrap();
    assert_eq!(broadcast.erased, 1, "the reader who left is counted");
    app.stop().await;
}

#[tokio::test]
async fn a_correction_keeps_its_formatting_however_it_is_typed() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    readers(&app, 9100, 1);
    send_broadcast(&operator, "Meeting on Fridy").await;
    progress_over(&operator).await;
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    operator.send_html(&format!("/correct  {edition}  <b>Meeting on Friday</b>, <i>6 pm</i>"));
    eventually(TIMEOUT, "corrected", || {
        app.emulator.chat_messages(9100)[0].text == "<b>Meeting on Friday</b>, <i>6 pm</i>"
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_digest_round_is_corrected_then_withdrawn_in_every_chat() {
    let app = spawn_app_with(Setup {
        operators: vec![OPERATOR],
        clock: Some(support::utc("2026-11-25T04:59:00Z")),
        ..Setup::default()
    })
    .await;
    let operator = app.user(OPERATOR, "en");
    let mut chats = readers(&app, 7301, 3);
    chats.push(-4300);
    app.emulator.group(-4300, "Circle");
    app.tribune.subscribe(&Caller::chat_itself(-4300, ChatKind::Group), Lang::En).unwrap();
    app.set_time(support::utc("2026-11-25T05:00:00Z"));
    let has_digest = |app: &TestApp, chat: i64| {
        texts(app, chat).iter().any(|t| t.starts_with("🗞 Tribune · 25 November 2026"))
    };
    eventually(TIMEOUT, "every chat has its digest", || chats.iter().all(|c| has_digest(&app, *c)))
        .await;
    // Confirmations are recorded a moment after Telegram's answer.
    assert!(app.bot.engine().wait_idle(TIMEOUT).await);
    let (edition, kind, reached) = app.tribune.store().editions_latest(1).unwrap().remove(0);
    assert_eq!(format!("{:?}", kind.kind), "Digest");
    assert_eq!(reached, 4);

    let started = ask(&operator, &format!("/correct {edition} Today's digest is withdrawn.")).await;
    assert!(started.plain_text().contains("Correction of edition"), "{}", started.plain_text());
    let done = progress_over(&operator).await;
    assert!(done.contains("finished") && done.contains("Done: 4"), "{done}");
    for &chat in &chats {
        assert_eq!(texts(&app, chat), vec!["Today's digest is withdrawn.".to_string()], "{chat}");
    }
    let correction = app.tribune.store().editions_latest(1).unwrap()[0].0;
    // A correction is changed through the edition it corrected.
    let refused = ask(&operator, &format!("/withdraw {correction}")).await.plain_text();
    assert!(refused.contains("is itself a withdrawal or a correction"), "{refused}");

    ask(&operator, &format!("/withdraw {edition}")).await;
    let done = progress_over(&operator).await;
    assert!(done.contains("Withdrawal") && done.contains("finished"), "{done}");
    eventually(TIMEOUT, "withdrawn everywhere", || {
        chats.iter().all(|c| app.emulator.chat_messages(*c).is_empty())
    })
    .await;

    // Two days later Telegram no longer lets the bot delete it: said before anything is tried.
    app.set_time(support::utc("2026-11-27T05:00:01Z"));
    let old = ask(&operator, &format!("/withdraw {edition}")).await.plain_text();
    assert!(old.starts_with("Telegram lets bots delete their messages only within 48"), "{old}");
    assert!(old.contains(&format!("/correct {edition}")), "{old}");
    app.stop().await;
}

#[tokio::test]
async fn progress_is_live_and_edited_at_most_every_three_seconds() {
    let (app, operator) = operator_app(Limits::telegram(4.0, false)).await;
    readers(&app, 9200, 28);
    let progress = send_broadcast(&operator, "Paced").await;
    let started = tokio::time::Instant::now();
    let current =
        || operator.messages().into_iter().find(|m| m.message_id == progress.message_id).unwrap();
    // Watch the message as the operator would, until it says it has finished.
    let mut seen = vec![progress.plain_text()];
    let deadline = started + Duration::from_secs(60);
    while !seen.last().unwrap().contains("finished") {
        assert!(tokio::time::Instant::now() < deadline, "never finished: {seen:?}");
        let text = current().plain_text();
        if *seen.last().unwrap() != text {
            seen.push(text);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let edits = current().edits;
    // The test's clock started after the bot's, so `elapsed` bounds the bot's running time.
    assert!(
        f64::from(edits) <= (elapsed / 3.0).ceil() + 1.0,
        "{edits} edits in {elapsed:.1} s: {seen:?}"
    );
    assert!(edits >= 2, "the progress was not live: {seen:?}");
    // Mid-way it told the rate and the time left.
    let live = seen.iter().find(|t| t.contains("remaining:") && !t.contains("Rate: 0")).unwrap();
    assert!(live.contains("/s · about") && live.contains("left"), "{live}");
    assert!(seen.last().unwrap().contains("Done: 28 · failed: 0 · chat gone: 0 of 28"));
    app.stop().await;
}

#[tokio::test]
async fn a_photo_is_broadcast_and_its_caption_corrected_a_sticker_only_withdrawn() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    readers(&app, 7401, 1);
    let photo = operator.send_photo_with_caption("Poster for Saturday");
    next(&operator).await; // A photo is not content: the bot says what it can do.
    operator.reply_text(photo, "/broadcast");
    let preview = next(&operator).await;
    assert_eq!(preview.text, "Poster for Saturday");
    let card = next(&operator).await;
    confirm(&operator, &card).await;
    progress_over(&operator).await;
    assert_eq!(texts(&app, 7401), vec!["Poster for Saturday".to_string()]);
    assert_eq!(app.emulator.requests("copyMessage"), 2, "the preview and the reader's copy");
    let edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    operator.send_html(&format!("/correct {edition} Poster for <b>Sunday</b>"));
    next(&operator).await;
    // The caption keeps the operator's formatting.
    eventually(TIMEOUT, "caption corrected", || {
        app.emulator.chat_messages(7401)[0].text == "Poster for <b>Sunday</b>"
    })
    .await;

    let sticker = operator.send_sticker();
    next(&operator).await;
    operator.reply_text(sticker, "/broadcast");
    next(&operator).await;
    let card = next(&operator).await;
    confirm(&operator, &card).await;
    progress_over(&operator).await;
    assert_eq!(app.emulator.chat_messages(7401).len(), 2);
    let sticker_edition = app.tribune.store().editions_latest(1).unwrap()[0].0;
    let refused = ask(&operator, &format!("/correct {sticker_edition} text")).await.plain_text();
    assert!(refused.contains("cannot carry a caption"), "{refused}");
    assert!(refused.contains(&format!("/withdraw {sticker_edition}")), "{refused}");
    ask(&operator, &format!("/withdraw {sticker_edition}")).await;
    eventually(TIMEOUT, "the sticker is withdrawn", || app.emulator.chat_messages(7401).len() == 1)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_discarded_draft_sends_nothing_even_if_send_is_pressed_later() {
    let (app, operator) = operator_app(Limits::telegram(30.0, false)).await;
    readers(&app, 7501, 1);
    operator.send_text("/broadcast Not yet");
    next(&operator).await;
    let card = next(&operator).await;
    press(&operator, &card, "Cancel");
    let discarded = operator.wait_for_edit(card.message_id, TIMEOUT).await.unwrap();
    assert!(discarded.buttons.is_empty(), "{:?}", discarded.buttons);
    // The old card's Send, pressed afterwards (or by another operator's stale screen).
    let id = press(&operator, &card, "Send");
    let answer = operator.wait_for_answer(&id, TIMEOUT).await.unwrap();
    assert_eq!(answer.text.as_deref(), Some(discarded.plain_text().as_str()));
    assert!(app.emulator.chat_messages(7501).is_empty());
    assert_eq!(app.tribune.store().outbox_len(), 0);
    let audit = app.tribune.store().audit_latest(1).unwrap().remove(0).action;
    assert!(audit.starts_with("discarded broadcast draft"), "{audit}");
    app.stop().await;
}
