//! Hostile and odd input, generated: no parser panics, and whatever a reader types, every
//! reply is valid Telegram HTML within Telegram's limits. Bounded (proptest's default 256
//! cases a property) so it runs in CI.

mod support;

use proptest::prelude::*;
use teloxide::utils::command::BotCommands;
use tribune::{
    content::{Corpus, Lang, load_dir, parse::parse_files},
    emulator::check_html,
    render::{self, Action, ButtonKind, CALLBACK_LIMIT, Ctx, Reply, Start, html::visible_len},
    telegram::commands::Command,
};

fn corpus() -> &'static Corpus {
    static CORPUS: std::sync::OnceLock<Corpus> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| load_dir(&support::messages_dir()).unwrap().corpus)
}

/// Text a reader might send: HTML-ish, RTL, zero-width, emoji, Cyrillic, Azerbaijani, digits.
fn reader_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("<b>".to_string()),
        Just("</a>".to_string()),
        Just("&amp;".to_string()),
        Just("&".to_string()),
        Just("\"".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{200b}".to_string()),
        Just("\u{fe0f}".to_string()),
        Just("🙂".to_string()),
        Just("مرحبا".to_string()),
        Just("İnqilabın".to_string()),
        Just("ПАРТИИ".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("1".to_string()),
        Just("99999999999999999999".to_string()),
        "[a-z]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn assert_sendable(reply: &Reply) {
    for message in &reply.messages {
        assert!(visible_len(&message.html) <= 4096, "too long: {}", visible_len(&message.html));
        assert!(!message.html.trim().is_empty(), "an empty message");
        if let Err(reason) = check_html(&message.html) {
            panic!("Telegram would refuse {:?}: {reason}", message.html);
        }
        for button in message.buttons.iter().flatten() {
            if let ButtonKind::Action(action) = &button.kind {
                assert!(action.encode().len() <= CALLBACK_LIMIT);
            }
        }
    }
}

proptest! {
    #[test]
    fn every_view_answers_any_input_with_sendable_html(args in reader_text(), lang in 0usize..3) {
        let ctx = Ctx { corpus: corpus(), lang: Lang::ALL[lang], bot_username: "tribune_bot", seed: 7 };
        for reply in [
            render::excerpt(&ctx, &args),
            render::search(&ctx, &args),
            render::prisoner(&ctx, &args),
            render::prisoners(&ctx, &args),
            render::read(&ctx, &args),
            render::lang(&ctx, &args),
            render::start(&ctx, &args),
            render::unknown_command(&ctx, &args),
        ] {
            assert_sendable(&reply);
        }
    }

    #[test]
    fn callback_data_and_deep_links_never_panic(data in ".{0,80}") {
        if let Some(action) = Action::decode(&data) {
            prop_assert_eq!(Action::decode(&action.encode()), Some(action.clone()));
            let ctx = Ctx { corpus: corpus(), lang: Lang::En, bot_username: "tribune_bot", seed: 1 };
            if let Some(reply) = render::on_action(&ctx, &action) {
                assert_sendable(&reply);
            }
        }
        let _ = Start::decode(&data);
        if let Some(item) = render::shared_item(&data) {
            prop_assert_eq!(render::shared_item(&item.encode()), Some(item));
        }
    }

    #[test]
    fn inline_mode_answers_any_query_with_sendable_results(
        query in reader_text(),
        offset in prop_oneof![Just(String::new()), "[0-9]{1,3}", ".{0,12}"],
        lang in 0usize..3,
    ) {
        let ctx = Ctx { corpus: corpus(), lang: Lang::ALL[lang], bot_username: "tribune_bot", seed: 3 };
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let page = render::inline(&ctx, &query, &offset, today);
        prop_assert!(page.results.len() <= render::INLINE_PAGE);
        prop_assert!(page.next_offset.as_ref().is_none_or(|o| o.len() <= 64));
        let mut ids = std::collections::HashSet::new();
        for r in &page.results {
            prop_assert!(!r.id.is_empty() && r.id.len() <= 64 && ids.insert(r.id.clone()));
            prop_assert!(!r.title.trim().is_empty());
            assert_sendable(&Reply::html(r.html.clone(), r.buttons.clone()));
            prop_assert_eq!(Reply::html(r.html.clone(), Vec::new()).messages.len(), 1);
        }
    }

    #[test]
    fn commands_parse_or_fail_without_panicking(text in "/?[a-z]{0,12}(@[a-z_]{0,12})? ?.{0,60}") {
        let _ = Command::parse(&text, "tribune_bot");
    }

    #[test]
    fn the_content_parser_reports_problems_instead_of_panicking(
        statement in ".{0,400}",
        slogans in ".{0,200}",
        prisoners in ".{0,200}",
    ) {
        let files = vec![
            ("statements/x.md".to_string(), format!("+++\n{statement}")),
            ("slogans.toml".to_string(), slogans),
            ("prisoners.toml".to_string(), prisoners),
            ("ui/en.toml".to_string(), String::new()),
            ("ui/ru.toml".to_string(), String::new()),
            ("ui/az.toml".to_string(), String::new()),
        ];
        if let Err(problems) = parse_files(&files) {
            prop_assert!(!problems.is_empty());
        }
    }
}
