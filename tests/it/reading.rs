//! Reading commands end to end: what a reader sees for /start, /excerpt, /slogan,
//! /statements, /read with paging, /search, /lang, /help and /about.

use crate::support::{TIMEOUT, ask, labels, messages_dir, next, press, spawn_app};
use tribune::content::{Lang, load_dir};

#[tokio::test]
async fn start_shows_the_menu_and_its_buttons_work() {
    let app = spawn_app().await;
    let user = app.user(1, "en");
    let menu = ask(&user, "/start").await;
    assert!(
        menu.plain_text().starts_with("Tribune carries the statements"),
        "{}",
        menu.plain_text()
    );
    assert_eq!(
        labels(&menu),
        vec![vec!["📜 Excerpt", "✊ Slogan"], vec!["⛓ Political prisoners", "📚 Statements"]]
    );
    press(&user, &menu, "Statements");
    let list = next(&user).await;
    assert!(list.plain_text().starts_with("Statements (3)"), "{}", list.plain_text());
    press(&user, &menu, "Political prisoners");
    assert!(
        next(&user).await.plain_text().contains("Political prisoners named in the statements: 13")
    );
    app.stop().await;
}

#[tokio::test]
async fn an_excerpt_is_a_verbatim_paragraph_with_its_citation() {
    let app = spawn_app().await;
    let corpus = load_dir(&messages_dir()).unwrap().corpus;
    let user = app.user(2, "en");
    let first = ask(&user, "/excerpt").await;
    let text = first.plain_text();
    let (quote, cite) = text.rsplit_once("\n— ").expect("a citation line");
    let excerpt = corpus
        .excerpts()
        .find(|e| e.text == quote)
        .expect("the quote is a paragraph, word for word");
    let s = excerpt.statement;
    assert_eq!(
        cite,
        format!("{}, {}, about {}", s.title(excerpt.lang), s.organisation, month_year(s))
    );
    assert_eq!(labels(&first), vec![vec!["🔄 Another", "📖 Full statement"], vec!["📤 Share"]]);

    press(&user, &first, "Another");
    let second = next(&user).await;
    assert_ne!(second.plain_text(), text, "Another gives a different passage");
    assert!(second.plain_text().contains("\n— "));

    press(&user, &first, "Full statement");
    let page = next(&user).await;
    assert!(page.plain_text().starts_with(s.title(excerpt.lang)), "{}", page.plain_text());
    assert!(page.plain_text().contains(quote), "the page holds the excerpt");
    app.stop().await;
}

fn month_year(s: &tribune::content::Statement) -> String {
    let months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!("{} {}", months[s.date.month.unwrap() as usize - 1], s.date.year)
}

#[tokio::test]
async fn excerpts_can_be_asked_for_by_words_or_statement() {
    let app = spawn_app().await;
    let user = app.user(3, "en");
    let found = ask(&user, "/excerpt permanent revolution").await;
    assert!(
        found.plain_text().to_lowercase().contains("permanent revolution"),
        "{}",
        found.plain_text()
    );
    let by_number = ask(&user, "/excerpt 3").await;
    assert!(
        by_number
            .plain_text()
            .contains("— Freedom for all political prisoners in Azerbaijan, İnqilabın Sesi")
    );
    let by_id = ask(&user, "/excerpt cpa-izmir-speech").await;
    assert!(
        by_id.plain_text().contains("— Speech at the 23rd International Meeting"),
        "{}",
        by_id.plain_text()
    );
    let none = ask(&user, "/excerpt zzzzqqq").await;
    assert_eq!(
        none.plain_text(),
        "No passage matches “zzzzqqq”. Try other words, or browse /statements."
    );
    app.stop().await;
}

#[tokio::test]
async fn slogans_come_with_their_source_and_another_differs() {
    let app = spawn_app().await;
    let corpus = load_dir(&messages_dir()).unwrap().corpus;
    let user = app.user(4, "en");
    let first = ask(&user, "/slogan").await;
    let text = first.plain_text();
    let slogan = corpus
        .slogans
        .iter()
        .find(|s| text.starts_with(&format!("✊ {}", s.text)))
        .expect("a known slogan");
    let title = corpus.statement(&slogan.statement).unwrap().title(Lang::En);
    assert!(text.contains(&format!("— {title}, ")), "{text}");
    press(&user, &first, "Another slogan");
    let second = next(&user).await;
    assert!(!second.plain_text().starts_with(&format!("✊ {}", slogan.text)));
    app.stop().await;
}

#[tokio::test]
async fn reading_pages_forward_and_back_covers_every_paragraph() {
    let app = spawn_app().await;
    let corpus = load_dir(&messages_dir()).unwrap().corpus;
    let statement = &corpus.statements[0];
    assert_eq!(statement.id, "voice-of-revolution-founding");
    let user = app.user(5, "en");
    let page = ask(&user, "/read 1").await;
    let pages: usize = {
        let header = page.plain_text();
        let line =
            header.lines().find(|l| l.starts_with("Page 1 of ")).expect("page header").to_string();
        line.trim_start_matches("Page 1 of ").parse().unwrap()
    };
    assert!(pages >= 3, "a long statement has several pages");
    assert_eq!(labels(&page)[0], vec!["1/".to_string() + &pages.to_string(), "▶".into()]);
    let mut seen = page.plain_text();
    let mut current = page;
    for n in 2..=pages {
        press(&user, &current, "▶");
        current =
            user.wait_for_edit(current.message_id, TIMEOUT).await.expect("page edited in place");
        assert!(current.plain_text().contains(&format!("Page {n} of {pages}")));
        seen.push_str(&current.plain_text());
    }
    assert_eq!(labels(&current)[0], vec!["◀".to_string(), format!("{pages}/{pages}")]);
    for paragraph in statement.paragraphs(Lang::En) {
        assert!(seen.contains(&paragraph.text), "missing from the pages: {}", paragraph.text);
    }
    press(&user, &current, "◀");
    let back = user.wait_for_edit(current.message_id, TIMEOUT).await.unwrap();
    assert!(back.plain_text().contains(&format!("Page {} of {pages}", pages - 1)));
    assert!(user.messages().iter().all(|m| m.plain_text().encode_utf16().count() <= 4096));
    app.stop().await;
}

#[tokio::test]
async fn russian_readers_get_the_russian_original() {
    let app = spawn_app().await;
    let user = app.user(6, "en");
    let set = ask(&user, "/lang ru").await;
    assert_eq!(set.plain_text(), "Язык: русский.");
    let page = ask(&user, "/read 2").await;
    let text = page.plain_text();
    assert!(text.starts_with("Выступление на 23-й Международной встрече"), "{text}");
    assert!(text.contains("ПАРТИИ В ИЗМИРЕ") && text.contains("Дорогие товарищи!"), "{text}");
    assert_eq!(app.tribune.store().chat(6).unwrap().lang, Some(Lang::Ru));
    // The English translation is one button away.
    press(&user, &page, "English");
    let english = user.wait_for_edit(page.message_id, TIMEOUT).await.unwrap();
    assert!(english.plain_text().contains("Dear comrades!"));
    app.stop().await;
}

#[tokio::test]
async fn telegram_language_is_the_default_and_lang_buttons_switch_it() {
    let app = spawn_app().await;
    let user = app.user(7, "az");
    let help = ask(&user, "/lang").await;
    assert_eq!(labels(&help), vec![vec!["English", "Русский", "Azərbaycanca"]]);
    press(&user, &help, "Русский");
    assert_eq!(next(&user).await.plain_text(), "Язык: русский.");
    let statements = ask(&user, "/statements").await;
    assert!(statements.plain_text().starts_with("Заявления (3)"), "{}", statements.plain_text());
    app.stop().await;
}

#[tokio::test]
async fn search_is_case_and_diacritic_insensitive() {
    let app = spawn_app().await;
    let user = app.user(8, "en");
    let found = ask(&user, "/search inqilabin").await;
    let text = found.plain_text();
    assert!(text.starts_with("Found for “inqilabin”"), "{text}");
    assert!(text.contains("İnqilabın Sesi"), "{text}");
    let person = ask(&user, "/search Həsənli").await;
    assert!(
        person.plain_text().contains("⛓ Ulvi Hasanli — Abzas Media"),
        "{}",
        person.plain_text()
    );
    let russian = ask(&user, "/search интернационализм").await;
    assert!(russian.plain_text().contains("интернационализм"), "{}", russian.plain_text());
    // Plain words in a private chat are a search too.
    let plain = ask(&user, "couriers").await;
    assert!(plain.plain_text().starts_with("Found for “couriers”"));
    app.stop().await;
}

#[tokio::test]
async fn help_about_and_the_command_menu() {
    let app = spawn_app().await;
    let user = app.user(9, "en");
    let help = ask(&user, "/help").await.plain_text();
    for command in tribune::render::COMMANDS {
        assert!(help.contains(&format!("/{command} — ")), "/{command} missing from {help}");
    }
    let about = ask(&user, "/about").await.plain_text();
    assert!(about.contains("Speech at the 23rd International Meeting of Communist and Workers' Parties, Communist Party of Azerbaijan"));
    assert!(about.contains("never stores names"));
    for lang in [None, Some("ru"), Some("az")] {
        let menu = app.emulator.my_commands(lang);
        assert_eq!(menu.len(), 16, "menu for {lang:?}");
        assert_eq!(menu[2].0, "excerpt");
    }
    assert_eq!(app.emulator.my_commands(Some("ru"))[1].1, "Что умеет Tribune");
    app.stop().await;
}
