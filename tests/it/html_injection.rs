//! Content and chat titles full of `<`, `>`, `&` and `"` reach readers as the very characters
//! written, in every place they are shown. The emulator parses HTML as Telegram does, so a
//! reply with an unescaped `<` would be refused there and never arrive; a title like `<b>x</b>`
//! that escaped nothing would arrive, but bold, and the literal comparisons below would fail.

use crate::support;

use crate::support::{Setup, TIMEOUT, ask, labels, messages_dir, next, press, spawn_app_with, utc};
use std::path::Path;
use telegram_bot_api_emulator::User;

const TITLE: &str = r#"Tags <b>bold</b> & "quotes" <i"#;
const PARAGRAPH: &str = r#"Fish & chips < caviar > bread, "she said" <a href="https://evil.example">click</a> &amp; <unclosed"#;
const SLOGAN: &str = r#"Down with <tyranny> & "lies"!"#;
const NAME: &str = r#"Ann <b>"Bo"</b> & Co"#;
const NOTE: &str = r#"Held <i>since</i> March & "counting" <"#;
const CHANNEL: &str = r#"<b>Loud</b> & "Co" <"#;
const OPERATOR: i64 = 900;

/// One statement, one slogan and one prisoner, each written with characters HTML treats
/// specially; the interface strings are the repository's.
fn hostile_messages(dir: &Path) {
    support::copy_dir(&messages_dir().join("ui"), &dir.join("ui"));
    std::fs::create_dir_all(dir.join("statements")).unwrap();
    let quote = format!("Our friend {NAME} was taken at dawn.");
    let statement = format!(
        "+++\nid = \"hostile\"\norganisation = {org:?}\ndate = \"2024-03-08\"\nsource = {source:?}\n\
         kind = \"statement\"\noriginal_language = \"en\"\n\n[title]\nen = {TITLE:?}\n+++\n\n\
         === en ===\n\n{PARAGRAPH}\n\n{quote}\n\n{SLOGAN}\n",
        org = r#"Bread & <Roses> "Union""#,
        source = r#"A test <source> & "more""#,
    );
    std::fs::write(dir.join("statements/hostile.md"), statement).unwrap();
    let slogans = format!(
        "[[slogan]]\nid = \"tyranny\"\nstatement = \"hostile\"\nlang = \"en\"\ntext = {SLOGAN:?}\n"
    );
    std::fs::write(dir.join("slogans.toml"), slogans).unwrap();
    let prisoners = format!(
        "[[prisoner]]\nid = \"ann-bo\"\nname = {NAME:?}\ngroup = \"activist\"\n\
         affiliation = \"Bread & <Roses>\"\nstatement = \"hostile\"\nquote = {quote:?}\n\
         status = \"imprisoned\"\nsince = \"2024-03\"\nnote = {NOTE:?}\n"
    );
    std::fs::write(dir.join("prisoners.toml"), prisoners).unwrap();
}

async fn spawn_hostile(messages: &Path) -> support::TestApp {
    hostile_messages(messages);
    spawn_app_with(Setup {
        clock: Some(utc("2026-11-25T04:00:00Z")),
        operators: vec![OPERATOR],
        messages_dir: Some(messages.to_path_buf()),
        ..Setup::default()
    })
    .await
}

fn assert_shows(text: &str, literal: &str, where_: &str) {
    assert!(text.contains(literal), "{where_} does not show {literal:?} literally:\n{text}");
}

/// No request was refused, other than by the flood limits: a message with broken HTML would
/// be a 400 "can't parse entities".
fn assert_nothing_refused(app: &support::TestApp) {
    let stats = app.emulator.stats();
    assert_eq!(stats.errors - stats.too_many_requests, 0, "refused requests: {stats:?}");
}

async fn says(user: &User, command: &str) -> String {
    ask(user, command).await.plain_text()
}

#[tokio::test]
async fn commands_show_markup_in_content_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_hostile(dir.path()).await;
    let reader = app.user(70, "en");

    assert_shows(&says(&reader, "/slogan").await, SLOGAN, "/slogan");

    let read = says(&reader, "/read hostile").await;
    for literal in [TITLE, PARAGRAPH, SLOGAN, NAME] {
        assert_shows(&read, literal, "/read");
    }

    let prisoner = says(&reader, "/prisoner ann-bo").await;
    assert_shows(&prisoner, NAME, "/prisoner");
    assert_shows(&prisoner, NOTE, "/prisoner");

    assert_shows(&says(&reader, "/prisoners").await, NAME, "/prisoners");

    // The list of statements offers each by its title.
    let statements = says(&reader, "/statements").await;
    assert_shows(&statements, TITLE, "/statements");
    assert_nothing_refused(&app);
    app.stop().await;
}

#[tokio::test]
async fn inline_results_show_markup_in_content_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_hostile(dir.path()).await;
    let reader = app.user(71, "en");

    let answer = reader.inline_query("tyranny", TIMEOUT).await.expect("an inline answer");
    let slogan = answer.result("s_tyranny").unwrap_or_else(|| panic!("{:?}", answer.ids()));
    assert_shows(&slogan.plain_text(), SLOGAN, "an inline slogan");

    let answer = reader.inline_query("Ann", TIMEOUT).await.expect("an inline answer");
    let card = answer.result("p_ann-bo").unwrap_or_else(|| panic!("{:?}", answer.ids()));
    // Result titles are plain text: shown as they are, not escaped twice.
    assert_shows(&card.title, NAME, "an inline result's title");
    assert!(!card.title.contains("&amp;") && !card.title.contains("&lt;"), "{}", card.title);
    assert_shows(&card.plain_text(), NAME, "an inline prisoner card");
    assert_nothing_refused(&app);
    app.stop().await;
}

#[tokio::test]
async fn a_digest_shows_markup_in_content_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_hostile(dir.path()).await;
    let reader = app.user(72, "en");
    ask(&reader, "/subscribe").await;
    app.set_time(utc("2026-11-25T05:00:00Z"));
    let digest = next(&reader).await.plain_text();
    assert!(digest.starts_with("🗞 Tribune · 25 November 2026"), "{digest}");
    assert_shows(&digest, SLOGAN, "a digest");
    assert_shows(&digest, NAME, "a digest");
    assert_nothing_refused(&app);
    app.stop().await;
}

#[tokio::test]
async fn a_channel_title_with_markup_is_shown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_hostile(dir.path()).await;
    let operator = app.user(OPERATOR, "en");
    let admin = app.user(300, "en");
    let channel = app.emulator.channel(-1_001_600, CHANNEL);
    channel.set_admins(&[300]);
    channel.add_bot_as_admin(300, true);
    let notice = next(&operator).await.plain_text();
    assert_shows(&notice, &format!("“{CHANNEL}” (-1001600)"), "the channel-added notice");

    let list = ask(&admin, "/channels").await;
    assert_eq!(labels(&list), vec![vec![format!("📣 {CHANNEL}")]], "button labels are plain text");
    press(&admin, &list, CHANNEL);
    let card = next(&admin).await.plain_text();
    assert_shows(&card, &format!("Digest settings for {CHANNEL}"), "the channel's settings card");
    assert_nothing_refused(&app);
    app.stop().await;
}

#[tokio::test]
async fn what_operators_type_is_shown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_hostile(dir.path()).await;
    let operator = app.user(OPERATOR, "en");
    let reader = app.user(73, "en");
    // A slogan taken word for word from the statement, and a prisoner's note, both typed.
    let slogan = r#"Fish & chips < caviar > bread, "she said""#;
    let saved = says(&operator, &format!("/addslogan hostile {slogan}")).await;
    assert!(saved.starts_with("✅ Saved: slogan"), "{saved}");
    let note = r#"Moved to <prison> & "waiting""#;
    let saved = says(&operator, &format!("/setprisoner ann-bo transferred 2026-11 {note}")).await;
    assert!(saved.starts_with("✅ Saved: prisoner"), "{saved}");

    let answer = reader.inline_query("caviar", TIMEOUT).await.expect("an inline answer");
    let found =
        answer.results.iter().map(|r| r.plain_text()).find(|t| t.contains("caviar > bread"));
    assert_shows(&found.unwrap_or_else(|| panic!("{:?}", answer.ids())), slogan, "a typed slogan");
    let card = says(&reader, "/prisoner ann-bo").await;
    assert_shows(&card, note, "a typed note");
    let audit = says(&operator, "/audit").await;
    assert_shows(&audit, "content edit: slogan fish-chips-caviar-bread-she-said", "the audit");
    assert_nothing_refused(&app);
    app.stop().await;
}

/// Content problems shown to an operator name files and quote lines: escaped, they are
/// HTML that Telegram accepts (a unit test in `render` checks the escaping itself).
#[test]
fn content_problems_are_html_telegram_accepts() {
    let corpus = tribune::content::load_dir(&messages_dir()).unwrap().corpus;
    let ctx = tribune::render::Ctx {
        corpus: &corpus,
        lang: tribune::content::Lang::En,
        bot_username: "b",
        seed: 0,
    };
    let problems: Vec<tribune::content::Problem> = (1..=20)
        .map(|line| tribune::content::Problem {
            file: "statements/<x>.md".into(),
            line,
            message: "bad & <b>".into(),
        })
        .collect();
    let reply = tribune::render::operator::edit_problems(&ctx, &problems);
    let html = &reply.messages[0].html;
    assert!(html.contains("bad &amp; &lt;b&gt;"), "{html}");
    telegram_bot_api_emulator::check_html(html).unwrap_or_else(|e| panic!("{e}: {html}"));
}
