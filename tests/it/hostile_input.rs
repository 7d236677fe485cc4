//! Hostile and odd input, generated: no parser panics, and whatever a reader types, every
//! reply is valid Telegram HTML within Telegram's limits. Bounded (proptest's default 256
//! cases a property) so it runs in CI.

use crate::support;

use proptest::prelude::*;
use telegram_bot_api_emulator::check_html;
use teloxide::utils::command::BotCommands;
use tribune::{
    broadcast::Audience,
    content::{
        Corpus, ExcerptKey, Group, Lang, load_dir,
        parse::{MAX_ID_LEN, parse_files},
    },
    render::{
        self, Action, ButtonKind, CALLBACK_LIMIT, Ctx, Reply, SettingsStep, Start,
        html::visible_len,
    },
    subscription::{Change, LocalTime, PrisonerNews, WEEK, Zone},
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

/// A statement's front matter that is always valid, so generated bodies reach the section and
/// paragraph parser instead of stopping at TOML.
const FRONT: &str = "+++\nid = \"x\"\norganisation = \"Org\"\ndate = \"2024-03-08\"\n\
source = \"Source\"\nkind = \"statement\"\noriginal_language = \"en\"\n\n[title]\nen = \"Title\"\n+++\n";

/// A line of a statement's text: reader-ish text, headings, blank lines (paragraph breaks),
/// huge lines, combining marks, direction overrides and noncharacters.
fn text_line() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => reader_text(),
        1 => "#{1,7} ?.{0,30}",
        2 => Just(String::new()),
        1 => (any::<char>(), 500usize..6000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => "[a-z ]{3000,9000}",
        1 => "[\u{300}-\u{36f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{fff0}-\u{ffff}]{1,20}",
    ]
}

/// A line that breaks a statement's structure: a second or unknown section, a malformed
/// marker, a stray `+++`.
fn structure_line() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "=== en ===",
        "=== xx ===",
        "=== EN ===",
        "===  ===",
        "=== en ru ===",
        "=== === en ===",
        "===",
        "+++",
    ])
    .prop_map(String::from)
}

/// A statement body: an `en` section (its lines also returned, to pick a slogan from),
/// perhaps `ru` and `az` sections, and now and then a line that breaks the structure.
fn statement_body() -> impl Strategy<Value = (String, Vec<String>)> {
    let lines = || prop::collection::vec(text_line(), 0..12);
    (
        lines(),
        prop::option::of(lines()),
        prop::option::of(lines()),
        prop::option::weighted(0.2, (structure_line(), any::<prop::sample::Index>())),
    )
        .prop_map(|(en, ru, az, breaker)| {
            let mut body = vec!["=== en ===".to_string(), String::new()];
            body.extend(en.iter().cloned());
            for (code, lines) in [("ru", ru), ("az", az)] {
                if let Some(lines) = lines {
                    body.extend([String::new(), format!("=== {code} ==="), String::new()]);
                    body.extend(lines);
                }
            }
            if let Some((line, at)) = breaker {
                body.insert(at.index(body.len() + 1), line);
            }
            (body.join("\n"), en)
        })
}

/// A TOML basic string holding `text` exactly.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn ui_files() -> &'static [(String, String)] {
    static UI: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    UI.get_or_init(|| {
        Lang::ALL
            .iter()
            .map(|l| {
                let path = support::messages_dir().join(format!("ui/{}.toml", l.code()));
                (format!("ui/{}.toml", l.code()), std::fs::read_to_string(path).unwrap())
            })
            .collect()
    })
}

fn id() -> impl Strategy<Value = String> {
    prop::string::string_regex(&format!("[a-z0-9-]{{1,{MAX_ID_LEN}}}")).unwrap()
}

fn lang() -> impl Strategy<Value = Lang> {
    prop::sample::select(Lang::ALL.to_vec())
}

fn excerpt_key() -> impl Strategy<Value = ExcerptKey> {
    (id(), lang(), 0usize..=9999).prop_map(|(statement, lang, paragraph)| ExcerptKey {
        statement,
        lang,
        paragraph,
    })
}

fn local_time() -> impl Strategy<Value = LocalTime> {
    (0u32..24, 0u32..60).prop_map(|(h, m)| LocalTime::parse(&format!("{h:02}:{m:02}")).unwrap())
}

fn zone() -> impl Strategy<Value = Zone> {
    prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()).prop_map(Zone)
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Daily),
        Just(Change::Off),
        prop::sample::select(WEEK.to_vec()).prop_map(Change::Weekly),
        local_time().prop_map(Change::Time),
        zone().prop_map(Change::Zone),
        any::<bool>().prop_map(Change::Slogan),
        any::<bool>().prop_map(Change::Excerpt),
        prop::sample::select(vec![PrisonerNews::Off, PrisonerNews::List, PrisonerNews::Changes])
            .prop_map(Change::Prisoners),
        lang().prop_map(Change::Lang),
    ]
}

/// Every action a button can carry, with any valid values.
fn action() -> impl Strategy<Value = Action> {
    let step = prop_oneof![
        change().prop_map(SettingsStep::Set),
        Just(SettingsStep::AskTime),
        Just(SettingsStep::AskZone),
        Just(SettingsStep::Open),
        Just(SettingsStep::Done),
    ];
    let group = prop::option::of(prop::sample::select(Group::ALL.to_vec()));
    prop_oneof![
        Just(Action::Excerpt),
        (excerpt_key(), any::<bool>())
            .prop_map(|(after, same_statement)| Action::AnotherExcerpt { after, same_statement }),
        (id(), lang(), 1usize..=9999).prop_map(|(statement, lang, page)| Action::Read {
            statement,
            lang,
            page
        }),
        (id(), lang()).prop_map(|(statement, lang)| Action::Open { statement, lang }),
        excerpt_key().prop_map(Action::ReadAt),
        prop::option::of(id()).prop_map(|after| Action::AnotherSlogan { after }),
        Just(Action::PrisonerList),
        group.prop_map(Action::Prisoners),
        id().prop_map(Action::Prisoner),
        Just(Action::Statements),
        lang().prop_map(Action::SetLang),
        (any::<i64>().prop_filter("a chat id is not 0", |c| *c != 0), step)
            .prop_map(|(chat, step)| Action::Settings { chat, step }),
        Just(Action::Nothing),
        (any::<u64>(), prop::sample::select(Audience::ALL.to_vec()))
            .prop_map(|(draft, audience)| Action::BroadcastAudience { draft, audience }),
        any::<u64>().prop_map(|draft| Action::BroadcastSend { draft }),
        any::<u64>().prop_map(|draft| Action::BroadcastDiscard { draft }),
    ]
}

/// Every deep link the bot makes, with any valid values.
fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        prop::option::of(prop::sample::select(Group::ALL.to_vec())).prop_map(Start::Prisoners),
        Just(Start::Statements),
        prop::option::of(id()).prop_map(Start::Slogan),
        excerpt_key().prop_map(Start::Excerpt),
        id().prop_map(Start::Prisoner),
        id().prop_map(Start::Read),
    ]
}

/// Callback data that starts like the real thing (a known tag, plausible parts) and then
/// goes wrong: extra or missing parts, signs, leading zeros, huge numbers, odd Unicode.
fn forged_callback_data() -> impl Strategy<Value = String> {
    let tag = prop::sample::select(vec![
        "x", "y", "r", "o", "f", "s", "m", "p", "c", "l", "g", "n", "S", "ba", "bs", "bx",
    ]);
    let part = prop_oneof![
        id(),
        lang().prop_map(|l| l.code().to_string()),
        "[0-9]{0,6}",
        "[+-]?[0-9]{1,21}",
        Just("*".to_string()),
        prop::sample::select(Group::ALL.to_vec()).prop_map(|g| g.code().to_string()),
        prop::sample::select(Audience::ALL.to_vec()).prop_map(|a| a.code().to_string()),
        prop::sample::select(vec!["f", "w", "t", "z", "s", "e", "p", "l", "a", "o", "x"])
            .prop_map(String::from),
        prop::sample::select(vec!["daily", "off", "time", "zone", "mon", "list", "changes"])
            .prop_map(String::from),
        zone().prop_map(|z| z.name().to_string()),
        "[0-9+.: -]{0,6}",
        ".{0,6}",
    ];
    (tag, prop::collection::vec(part, 0..5), prop::sample::select(vec![":", ":", ":", "::", "_"]))
        .prop_map(|(tag, parts, sep)| {
            std::iter::once(tag.to_string()).chain(parts).collect::<Vec<_>>().join(sep)
        })
}

/// A valid action's data with its end cut, changed or extended.
fn tampered_callback_data() -> impl Strategy<Value = String> {
    (action(), any::<prop::sample::Index>(), ".{0,8}").prop_map(|(action, cut, tail)| {
        let data = action.encode();
        let mut end = cut.index(data.len() + 1);
        while !data.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}{tail}", &data[..end])
    })
}

/// Deep-link payloads that start like the real thing.
fn forged_payload() -> impl Strategy<Value = String> {
    let real = prop_oneof![
        start().prop_map(|s| s.encode()),
        prop::sample::select(vec!["g_", "s_", "p_", "r_", "e_", "prisoners", "slogan"])
            .prop_map(String::from),
    ];
    (
        real,
        any::<prop::sample::Index>(),
        prop_oneof!["[a-z0-9_-]{0,12}", ".{0,8}", Just(String::new())],
    )
        .prop_map(|(payload, cut, tail)| {
            let end = cut.index(payload.len() + 1);
            format!("{}{tail}", &payload[..end])
        })
}

fn check_decoded_action(data: &str) -> Result<(), TestCaseError> {
    if let Some(action) = Action::decode(data) {
        let again = action.encode();
        prop_assert!(again.len() <= CALLBACK_LIMIT);
        prop_assert_eq!(Action::decode(&again), Some(action.clone()));
        let ctx = Ctx { corpus: corpus(), lang: Lang::En, bot_username: "tribune_bot", seed: 1 };
        if let Some(reply) = render::on_action(&ctx, &action) {
            assert_sendable(&reply);
        }
    }
    Ok(())
}

/// What a reader might type when asked for a time of day.
fn typed_time() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ ]{0,2}[+-]?[0-9]{0,3}[:.,h ]?[+-]?[0-9]{0,3}[ ]{0,2}",
        "[0-9]{1,2}[:.][0-9]{2}( ?[aApP][mM])?",
        "[0-9]{1,3}[:.][+-]?[0-9]{1,3}",
        "[٠-٩]{2}:[٠-٩]{2}",
        reader_text(),
    ]
}

proptest! {
    #[test]
    fn statements_with_a_hostile_body_parse_or_report_and_render_sendably(
        (body, en) in statement_body(),
        pick in any::<prop::sample::Index>(),
        with_slogan in prop::bool::weighted(0.9),
    ) {
        let statement = format!("{FRONT}\n{body}\n");
        let slogans = match en.get(pick.index(en.len().max(1))) {
            Some(line) if with_slogan => format!(
                "[[slogan]]\nid = \"s\"\nstatement = \"x\"\nlang = \"en\"\ntext = {}\n",
                toml_string(line.trim())
            ),
            _ => String::new(),
        };
        let mut files = vec![
            ("statements/x.md".to_string(), statement),
            ("slogans.toml".to_string(), slogans),
            ("prisoners.toml".to_string(), String::new()),
        ];
        files.extend(ui_files().iter().cloned());
        match parse_files(&files) {
            Ok(corpus) => {
                let statement = &corpus.statements[0];
                let paragraphs = statement.paragraphs(Lang::En);
                prop_assert!(!paragraphs.is_empty());
                prop_assert!(paragraphs.iter().all(|p| !p.text.trim().is_empty()));
                // Whatever the body held, reading it gives messages Telegram accepts.
                for lang in Lang::ALL {
                    let ctx = Ctx { corpus: &corpus, lang, bot_username: "tribune_bot", seed: 5 };
                    assert_sendable(&render::read(&ctx, "x"));
                    assert_sendable(&render::slogan(&ctx, ""));
                    assert_sendable(&render::search(&ctx, "a"));
                }
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                // The front matter is valid, so the body was parsed: a problem inside the front
                // matter can only be about the body's sections (a missing `=== en ===` is
                // reported at `original_language` or at the closing `+++`).
                let closing = FRONT.lines().count();
                for p in &problems {
                    prop_assert!(
                        p.file != "statements/x.md" || p.line >= closing || p.message.contains("==="),
                        "{} blames the valid front matter", p
                    );
                }
            }
        }
    }

    #[test]
    fn every_valid_action_round_trips_within_64_bytes(action in action()) {
        let data = action.encode();
        prop_assert!(data.len() <= CALLBACK_LIMIT, "{} is {} bytes", data, data.len());
        prop_assert_eq!(Action::decode(&data), Some(action));
    }

    #[test]
    fn every_valid_deep_link_round_trips_in_telegrams_alphabet(start in start()) {
        let payload = start.encode();
        prop_assert!(payload.len() <= 64);
        prop_assert!(payload.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        prop_assert_eq!(Start::decode(&payload), Some(start));
    }

    #[test]
    fn forged_and_tampered_callback_data_decode_safely(
        forged in forged_callback_data(),
        tampered in tampered_callback_data(),
    ) {
        check_decoded_action(&forged)?;
        check_decoded_action(&tampered)?;
    }

    #[test]
    fn forged_deep_links_decode_safely_and_open_sendable_replies(payload in forged_payload()) {
        if let Some(start) = Start::decode(&payload) {
            prop_assert_eq!(Start::decode(&start.encode()), Some(start));
        }
        let ctx = Ctx { corpus: corpus(), lang: Lang::En, bot_username: "tribune_bot", seed: 2 };
        assert_sendable(&render::start(&ctx, &payload));
    }

    #[test]
    fn a_typed_time_is_read_exactly_or_refused(text in typed_time()) {
        if let Some(time) = LocalTime::parse(&text) {
            // Accepted only in the shape the prompt asks for: H:MM, HH:MM or HH.MM.
            let trimmed = text.trim();
            let (h, m) = trimmed.split_once([':', '.']).unwrap();
            prop_assert!(
                (1..=2).contains(&h.len()) && m.len() == 2
                    && h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()),
                "{:?} was read as {}", text, time
            );
            prop_assert_eq!((time.hour(), time.minute()), (h.parse().unwrap(), m.parse().unwrap()));
            prop_assert_eq!(LocalTime::parse(&time.to_string()), Some(time));
        }
    }

    #[test]
    fn every_zone_is_found_however_it_is_typed(zone in zone(), lower in any::<bool>()) {
        let typed = zone.name().replace('_', " ");
        let typed = if lower { typed.to_lowercase() } else { typed };
        prop_assert_eq!(Zone::parse(&format!(" {typed} ")).map(Zone::name), Some(zone.name()));
    }

    #[test]
    fn a_typed_zone_is_a_real_zone_or_refused(text in prop_oneof![reader_text(), "[A-Za-z/_ +-]{0,30}"]) {
        if let Some(zone) = Zone::parse(&text) {
            prop_assert!(zone.name().eq_ignore_ascii_case(&text.trim().replace(' ', "_")));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Statement files' front matter and tables: valid TOML with hostile values.

/// A value a content writer (or an attacker with the repository) might put in a field:
/// markup to be escaped, every script and mark, NUL, a placeholder, very long text.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => reader_text(),
        1 => prop::sample::select(vec![
            "<script>alert(1)</script>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "</b><i>",
            "&lt;&gt;&amp;&#0;&#x110000;",
            "{name} {input} {n}",
            "\u{0}\u{1}\u{7f}",
            "\u{202e}gnp.exe",
            "a\u{301}\u{301}\u{301}\u{301}",
            "👨‍👩‍👧‍👦🏳️‍🌈",
            "line one\nline two\r\n",
            "   ",
            "",
            // Dates that are not: no such day, month or year, other digits, other forms.
            "2024-02-30",
            "2023-02-29",
            "2024-13",
            "1899",
            "2101-01-01",
            "２０２４-03",
            "2024-03-08T00:00:00Z",
            "-2024",
            "2024--01",
        ])
        .prop_map(String::from),
        1 => (any::<char>(), 2_000usize..12_000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => "[a-zа-яəığ <>&\"' ]{4000,9000}",
        1 => any::<String>(),
    ]
}

/// What a TOML field slot holds: a good value, a hostile string, a value of the wrong type,
/// nothing, or the key twice.
#[derive(Clone, Debug)]
enum Field {
    Good,
    Hostile(String),
    WrongType(&'static str),
    Missing,
    Twice(String),
}

/// A field's slot. `free` fields take any text (names of organisations, notes, titles):
/// hostile text there is accepted and served. In a `strict` file every other field is good
/// and free ones hold non-blank text, so that a good share of files is accepted and what
/// they hold is served; otherwise any slot can be anything.
fn field(free: bool, strict: bool) -> BoxedStrategy<Field> {
    let text = || hostile_value().prop_filter("not blank", |v| !v.trim().is_empty());
    let wrong = prop::sample::select(vec![
        "5",
        "-9223372036854775808",
        "1e400",
        "inf",
        "nan",
        "true",
        "[1, \"x\"]",
        "{ a = 1 }",
        "1979-05-27T07:32:00Z",
        "2026-02-30",
        "[]",
    ]);
    match (strict, free) {
        (true, false) => Just(Field::Good).boxed(),
        (true, true) => {
            prop_oneof![1 => Just(Field::Good), 3 => text().prop_map(Field::Hostile)].boxed()
        }
        (false, free) => prop_oneof![
            (if free { 1 } else { 3 }) => Just(Field::Good),
            (if free { 4 } else { 2 }) => hostile_value().prop_map(Field::Hostile),
            1 => wrong.prop_map(Field::WrongType),
            1 => Just(Field::Missing),
            1 => hostile_value().prop_map(Field::Twice),
        ]
        .boxed(),
    }
}

/// Slots for fields, free or not, in a file strict or not (70% are).
fn fields(free: &'static [bool]) -> impl Strategy<Value = Vec<Field>> {
    prop::bool::weighted(0.7)
        .prop_flat_map(move |strict| free.iter().map(|&f| field(f, strict)).collect::<Vec<_>>())
}

/// `key = value` lines for a field, as the slot says (`good` is already TOML).
fn toml_field(key: &str, good: &str, slot: &Field) -> String {
    match slot {
        Field::Good => format!("{key} = {good}\n"),
        Field::Hostile(value) if key == "aliases" => format!("{key} = [{}]\n", toml_string(value)),
        Field::Hostile(value) => format!("{key} = {}\n", toml_string(value)),
        Field::WrongType(raw) => format!("{key} = {raw}\n"),
        Field::Missing => String::new(),
        Field::Twice(value) => format!("{key} = {good}\n{key} = {}\n", toml_string(value)),
    }
}

/// A dated statement whose front matter's every field is a slot, with a body naming a
/// prisoner and holding a slogan, so good prisoner and slogan entries point into it.
fn hostile_statement() -> impl Strategy<Value = String> {
    // id, kind, organisation, date, date_approximate, date_note, source, original_language,
    // the English title.
    const FREE: &[bool] = &[false, false, true, false, false, true, true, false, true];
    (fields(FREE), hostile_value()).prop_map(|(slots, paragraph)| {
        let fields = [
            ("id", "\"hostile\""),
            ("kind", "\"statement\""),
            ("organisation", "\"Org\""),
            ("date", "\"2024-03-08\""),
            ("date_approximate", "false"),
            ("date_note", "\"spring\""),
            ("source", "\"https://example.org\""),
            ("original_language", "\"en\""),
        ];
        let mut front: String = fields
            .iter()
            .zip(&slots)
            .map(|((key, good), slot)| toml_field(key, good, slot))
            .collect();
        front.push_str("\n[title]\n");
        front.push_str(&toml_field("en", "\"A title\"", &slots[8]));
        // A paragraph of hostile text, then one every good entry can quote.
        let paragraph = paragraph.replace("+++", "").replace("===", "");
        format!(
            "+++\n{front}+++\n\n=== en ===\n\n{paragraph}\n\nFree Ali Veli, the courier of Baku. Solidarity wins.\n"
        )
    })
}

fn hostile_slogans() -> impl Strategy<Value = String> {
    // The text must be word for word in the statement: no free field.
    prop::collection::vec(fields(&[false; 4]), 0..3).prop_map(|entries| {
        entries
            .iter()
            .enumerate()
            .map(|(i, slots)| {
                let good = [
                    ("id", format!("\"hostile-{i}\"")),
                    ("statement", "\"hostile\"".to_string()),
                    ("lang", "\"en\"".to_string()),
                    ("text", "\"Solidarity wins.\"".to_string()),
                ];
                let body: String = good
                    .iter()
                    .zip(slots)
                    .map(|((key, value), slot)| toml_field(key, value, slot))
                    .collect();
                format!("\n[[slogan]]\n{body}")
            })
            .collect()
    })
}

fn hostile_prisoners() -> impl Strategy<Value = String> {
    // id, name, aliases, group, affiliation, statement, quote, status, since, note.
    const FREE: &[bool] = &[false, false, true, false, true, false, false, false, false, true];
    prop::collection::vec(fields(FREE), 0..3).prop_map(|entries| {
        entries
            .iter()
            .enumerate()
            .map(|(i, slots)| {
                let good = [
                    ("id", format!("\"hostile-{i}\"")),
                    ("name", "\"Ali Veli\"".to_string()),
                    ("aliases", "[\"Əli Vəli\"]".to_string()),
                    ("group", "\"courier-union\"".to_string()),
                    ("affiliation", "\"Couriers' union\"".to_string()),
                    ("statement", "\"hostile\"".to_string()),
                    ("quote", "\"Free Ali Veli\"".to_string()),
                    ("status", "\"imprisoned\"".to_string()),
                    ("since", "\"2024-03\"".to_string()),
                    ("note", "\"Held without charge\"".to_string()),
                ];
                let body: String = good
                    .iter()
                    .zip(slots)
                    .map(|((key, value), slot)| toml_field(key, value, slot))
                    .collect();
                format!("\n[[prisoner]]\n{body}")
            })
            .collect()
    })
}

/// The repository's content with a hostile statement added and hostile entries appended to
/// its tables.
fn hostile_content(statement: &str, slogans: &str, prisoners: &str) -> Vec<(String, String)> {
    static FILES: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    let files = FILES.get_or_init(|| {
        tribune::content::parse::read_files(&support::messages_dir()).expect("the content")
    });
    let mut files = files.clone();
    for (name, text) in &mut files {
        match name.as_str() {
            "slogans.toml" => text.push_str(slogans),
            "prisoners.toml" => text.push_str(prisoners),
            _ => {}
        }
    }
    files.push(("statements/hostile.md".to_string(), statement.to_string()));
    files
}

/// Text without its whitespace: a message's layout may fold a value's line breaks and spaces.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), ..ProptestConfig::default() })]

    /// Valid TOML, hostile values: a corpus or `file:line` problems inside the files, never a
    /// panic; and what is served from an accepted corpus is escaped HTML within 4096.
    #[test]
    fn content_with_hostile_values_parses_or_reports_and_serves_escaped_html(
        statement in hostile_statement(),
        slogans in hostile_slogans(),
        prisoners in hostile_prisoners(),
    ) {
        let files = hostile_content(&statement, &slogans, &prisoners);
        match parse_files(&files) {
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    let text = files.iter().find(|(name, _)| *name == p.file).map(|(_, t)| t);
                    let text = text.unwrap_or_else(|| panic!("{p} names no file"));
                    let lines = text.split('\n').count();
                    prop_assert!((1..=lines).contains(&p.line), "{} is past the end ({} lines)", p, lines);
                    prop_assert!(!p.message.trim().is_empty());
                }
            }
            Ok(corpus) => {
                let hostile = corpus.statements.iter().find(|s| s.id == "hostile");
                for lang in Lang::ALL {
                    let ctx = Ctx { corpus: &corpus, lang, bot_username: "tribune_bot", seed: 11 };
                    let read = render::read(&ctx, "hostile");
                    if let Some(statement) = hostile {
                        // Its title and organisation are on the page as text, escaped.
                        let html: String = read.messages.iter().map(|m| m.html.as_str()).collect();
                        for value in [statement.title(lang), statement.organisation.as_str()] {
                            if value.chars().count() <= 300 {
                                prop_assert!(
                                    squeezed(&html).contains(&squeezed(&render::html::escape(value))),
                                    "{:?} is not on the page as text: {:?}", value, html
                                );
                            }
                        }
                    }
                    assert_sendable(&read);
                    assert_sendable(&render::prisoners(&ctx, ""));
                    assert_sendable(&render::search(&ctx, "Ali Veli"));
                    for prisoner in corpus.prisoners.iter().filter(|p| p.id.starts_with("hostile")) {
                        // The card as its button opens it (`/prisoner` takes a name, not an id).
                        let card = render::on_action(&ctx, &Action::Prisoner(prisoner.id.clone()))
                            .expect("a card");
                        // The hostile text is on the card as text: escaped, whole (when short
                        // enough not to be cut; spaces and line breaks aside), never as markup.
                        let html: String = card.messages.iter().map(|m| m.html.as_str()).collect();
                        for value in [Some(&prisoner.affiliation), prisoner.note.as_ref()].into_iter().flatten() {
                            if value.chars().count() <= 300 {
                                prop_assert!(
                                    squeezed(&html).contains(&squeezed(&render::html::escape(value))),
                                    "{:?} is not on the card as text: {:?}", value, html
                                );
                            }
                        }
                        assert_sendable(&card);
                    }
                    for slogan in corpus.slogans.iter().filter(|s| s.id.starts_with("hostile")) {
                        assert_sendable(&render::slogan(&ctx, &slogan.id));
                    }
                    if let Some(reply) = render::on_action(&ctx, &Action::Statements) {
                        assert_sendable(&reply);
                    }
                    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
                    for r in render::inline(&ctx, "Ali", "", today).results {
                        assert_sendable(&Reply::html(r.html.clone(), r.buttons.clone()));
                    }
                }
                prop_assert!(hostile.is_some(), "the hostile statement was accepted");
            }
        }
    }
}

/// The slots are not all refused: a good share of generated content is accepted, hostile
/// values included, so the serving half of the property above runs.
#[test]
fn a_good_share_of_hostile_content_is_accepted_and_served() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (hostile_statement(), hostile_slogans(), hostile_prisoners());
    let (mut accepted, mut hostile_prisoners_served) = (0, 0);
    for _ in 0..60 {
        let (statement, slogans, prisoners) = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok(corpus) = parse_files(&hostile_content(&statement, &slogans, &prisoners)) {
            accepted += 1;
            hostile_prisoners_served +=
                corpus.prisoners.iter().filter(|p| p.id.starts_with("hostile")).count();
        }
    }
    eprintln!("{accepted} of 60 accepted, serving {hostile_prisoners_served} hostile prisoners");
    assert!(accepted >= 10, "only {accepted} of 60 accepted");
    assert!(hostile_prisoners_served >= 1, "no hostile prisoner entry was ever accepted");
}

// ---------------------------------------------------------------------------------------
// Through the running bot.

/// No handler panicked or ran out of time, and nothing was dropped (each sender stayed
/// within the allowance): every update the test sent was handled to its end.
fn assert_every_update_handled(app: &support::TestApp) {
    let health = app.bot.observer().intake().snapshot();
    assert_eq!((health.panics, health.timeouts), (0, 0), "handlers panicked or timed out");
    assert!(health.dropped.iter().all(|&n| n == 0), "updates dropped: {:?}", health.dropped);
}

/// A value that is not ASCII: four bytes with a character across byte 2 (the real panic's
/// shape), or a multi-byte character among digits and letters, or a long run of one.
fn non_ascii_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["a€", "€a", "1é2", "ßß", "0٣0", "\u{301}07", "12\u{a0}", "🙂"])
            .prop_map(String::from),
        (
            "[0-9a-z/_]{0,6}",
            any::<char>().prop_filter("not ASCII", |c| !c.is_ascii()),
            "[0-9a-z/_]{0,6}"
        )
            .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        (any::<char>().prop_filter("not ASCII", |c| !c.is_ascii()), 10usize..80)
            .prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

#[derive(Clone, Debug)]
enum Part {
    Keep,
    NonAscii(String),
    Ascii(String),
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        8 => Just(Part::Keep),
        2 => non_ascii_value().prop_map(Part::NonAscii),
        1 => "[ -~]{0,8}".prop_map(Part::Ascii),
    ]
}

/// A settings button of `chat`'s card: a real step's data, its key and value slots (and
/// now and then its chat slot) kept or replaced.
fn fuzzed_settings_press(chat: i64) -> impl Strategy<Value = String> {
    let step = prop_oneof![
        8 => change().prop_map(SettingsStep::Set),
        1 => Just(SettingsStep::AskTime),
        1 => Just(SettingsStep::AskZone),
        1 => Just(SettingsStep::Open),
        1 => Just(SettingsStep::Done),
    ];
    (step, part(), part(), prop::option::weighted(0.1, non_ascii_value())).prop_map(
        move |(step, key, value, chat_slot)| {
            let data = Action::Settings { chat, step }.encode();
            let mut parts: Vec<String> = data.splitn(4, ':').map(String::from).collect();
            for (i, part) in [(2, key), (3, value)] {
                match part {
                    Part::Keep => {}
                    Part::NonAscii(v) | Part::Ascii(v) => parts[i] = v,
                }
            }
            if let Some(forged) = chat_slot {
                parts[1] = forged;
            }
            parts.join(":")
        },
    )
}

/// Forged presses on subscribers' own settings cards, each slot fuzzed, through the running
/// bot: a press the decoder takes reaches the settings handler and changes exactly what it
/// says (read back from the store); a press it refuses gets the "expired" notice and changes
/// nothing; a good share get past decoding. A last round presses forged and tampered buttons
/// of every kind (each answered; refused ones change nothing). A reader is answered after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_settings_presses_reach_their_handler_or_change_nothing() {
    use proptest::strategy::ValueTree;
    let app = support::spawn_app_with(support::Setup {
        // A manual clock that never moves: no digest changes a subscription meanwhile.
        clock: Some(support::utc("2026-11-25T12:00:00Z")),
        ..support::Setup::default()
    })
    .await;
    let stale: Vec<String> = Lang::ALL
        .iter()
        .map(|&lang| {
            let ctx = Ctx { corpus: corpus(), lang, bot_username: "tribune_bot", seed: 1 };
            render::stale_button(&ctx).notice.expect("a notice")
        })
        .collect();
    // Each sender may send ten at once: /subscribe and eight presses each, users in turn.
    const USERS: i64 = 14;
    const PRESSES: usize = 8;
    let mut users = Vec::new();
    for i in 0..USERS {
        let user = app.user(7_300 + i, "en");
        let card = support::ask(&user, "/subscribe").await;
        users.push((user, card.message_id));
    }
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let store = app.tribune.store();
    let (mut decoded, mut changed) = (0, 0);
    for round in 0..PRESSES {
        for (user, card) in &users {
            let chat = user.chat_id();
            // The last round presses any forged or tampered button, not only settings.
            let data = if round + 1 == PRESSES {
                prop_oneof![forged_callback_data(), tampered_callback_data()]
                    .new_tree(&mut runner)
                    .unwrap()
                    .current()
            } else {
                fuzzed_settings_press(chat).new_tree(&mut runner).unwrap().current()
            };
            let before = store.subscription(chat).unwrap().expect("subscribed");
            let query = user.press(*card, &data);
            let answer = user
                .wait_for_answer(&query, support::TIMEOUT)
                .await
                .unwrap_or_else(|e| panic!("press {round} {data:?} was not answered: {e}"));
            let after = store.subscription(chat).unwrap().expect("still subscribed");
            let refused = answer.text.as_ref().is_some_and(|t| stale.contains(t));
            match Action::decode(&data) {
                Some(Action::Settings { chat: target, .. }) if target != chat => {
                    // Another chat's card: refused (not an administrator), nothing changes.
                    assert_eq!(after, before, "{data:?}, for chat {target}, changed this one");
                }
                Some(Action::Settings { step, .. }) => {
                    assert!(!refused, "{data:?} decodes but was answered as expired");
                    decoded += 1;
                    let mut expected = before.clone();
                    if let SettingsStep::Set(change) = step {
                        change.apply(&mut expected);
                        changed += 1;
                    }
                    expected.next_due = after.next_due;
                    assert_eq!(after, expected, "{data:?} did not do what it says");
                }
                Some(_) => {}
                None => {
                    assert!(refused, "{data:?} was refused by the decoder, answered {answer:?}");
                    assert_eq!(after, before, "{data:?}, refused, changed the subscription");
                }
            }
        }
    }
    let total = USERS as usize * (PRESSES - 1);
    eprintln!("{decoded} of {total} fuzzed settings presses got past decoding, {changed} changes");
    assert!(decoded * 3 >= total, "only {decoded} of {total} presses got past decoding");
    assert!(decoded < total, "every press decoded: the fuzzing changed nothing");
    let reader = app.user(7_399, "en");
    assert!(support::ask(&reader, "/help").await.plain_text().contains("/subscribe"));
    assert_every_update_handled(&app);
    app.stop().await;
}

/// Arguments a reader or operator might give a command.
fn hostile_args() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => reader_text(),
        1 => Just(String::new()),
        1 => "[0-9 -]{1,30}",
        1 => "-?[0-9]{15,30}",
        1 => (any::<char>(), 1000usize..4000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => any::<String>(),
    ]
}

proptest! {
    /// Every command of both command sets with generated arguments, as the parser sees it:
    /// the command it names, and its arguments whole.
    #[test]
    fn every_command_with_any_arguments_parses_to_itself(
        pick in any::<prop::sample::Index>(),
        mention in any::<bool>(),
        args in hostile_args(),
    ) {
        use tribune::telegram::operator::OperatorCommand;
        let names: Vec<String> = Command::bot_commands()
            .into_iter()
            .chain(OperatorCommand::bot_commands())
            .map(|c| c.command.trim_start_matches('/').to_string())
            .collect();
        let name = pick.get(&names);
        let at = if mention { "@tribune_bot" } else { "" };
        let text = format!("/{name}{at} {args}");
        let public = Command::parse(&text, "tribune_bot");
        let operator = OperatorCommand::parse(&text, "tribune_bot");
        prop_assert!(public.is_ok() != operator.is_ok(), "{:?} is in exactly one set", name);
        let got = match (public, operator) {
            (Ok(c), _) => format!("{c:?}"),
            (_, Ok(c)) => format!("{c:?}"),
            _ => unreachable!(),
        };
        // The variant is the command's name; its one field is the arguments.
        prop_assert!(got.to_lowercase().starts_with(&format!("{name}(")), "{} from {:?}", got, text);
        prop_assert!(got.contains(&format!("{:?}", args.trim_start())) || got.contains(&format!("{:?}", args)), "{} lost {:?}", got, args);
    }
}

/// Every command of both sets with hostile arguments, and `/start` with forged deep links,
/// sent by readers and by operators to the running bot: each is answered, and a reader is
/// answered afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_with_hostile_arguments_is_answered() {
    use proptest::strategy::ValueTree;
    const OPERATOR: i64 = 7_500;
    let app = support::spawn_app_with(support::Setup {
        operators: vec![OPERATOR, OPERATOR + 1, OPERATOR + 2, OPERATOR + 3],
        ..support::Setup::default()
    })
    .await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut sends: Vec<(i64, String)> = Vec::new();
    // Each command twice; eight sends a sender (the allowance is ten at once).
    let public = render::COMMANDS.iter().flat_map(|c| [c, c]).collect::<Vec<_>>();
    for (i, name) in public.iter().enumerate() {
        let args = hostile_args().new_tree(&mut runner).unwrap().current();
        sends.push((7_400 + (i / 8) as i64, format!("/{name} {args}")));
    }
    let operators = render::OPERATOR_COMMANDS.iter().flat_map(|c| [c, c]).collect::<Vec<_>>();
    for (i, name) in operators.iter().enumerate() {
        let args = hostile_args().new_tree(&mut runner).unwrap().current();
        sends.push((OPERATOR + (i / 8) as i64, format!("/{name} {args}")));
    }
    // Deep links that start like the real thing and go wrong.
    for i in 0..8 {
        let payload = forged_payload().new_tree(&mut runner).unwrap().current();
        sends.push((7_490 + i / 8, format!("/start {payload}")));
    }
    let mut by_user: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    for (user, text) in sends {
        by_user.entry(user).or_default().push(text);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (id, texts) in by_user {
        let user = app.user(id, "en");
        tasks.spawn(async move {
            for text in texts {
                user.send_text(&text);
                let shown: String = text.chars().take(60).collect();
                user.wait_for_activity(support::TIMEOUT)
                    .await
                    .unwrap_or_else(|e| panic!("{shown:?} was not answered: {e}"));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("every command answered");
    }
    let reader = app.user(7_499, "en");
    assert!(support::ask(&reader, "/help").await.plain_text().contains("/subscribe"));
    assert_every_update_handled(&app);
    app.stop().await;
}

/// Text that JSON allows and no Rust integer or float holds, deep nesting (within and past
/// serde_json's recursion limit of 128), a key given twice.
fn raw_json() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "123456789012345678901234567890",
            "-99999999999999999999",
            "18446744073709551616",
            "1e400",
            "-0",
            "2.5",
            "{\"id\":1,\"id\":\"x\"}",
            "\"\\u0000\\ud800\"",
        ])
        .prop_map(String::from),
        (1usize..400).prop_map(|d| format!("{}1{}", "[".repeat(d), "]".repeat(d))),
        (1usize..400).prop_map(|d| format!("{}null{}", "{\"a\":".repeat(d), "}".repeat(d))),
    ]
}

/// An update of a kind Tribune handles, with hostile text in its text slots and up to three
/// of its fields (any depth) given a value of the wrong type, raw JSON, or removed.
fn hostile_webhook_body() -> impl Strategy<Value = String> {
    use serde_json::{Value, json};
    let base = (any::<u32>(), reader_text(), forged_callback_data(), 1i64..1_000_000).prop_map(
        |(id, text, data, user)| {
            let from =
                json!({ "id": user, "is_bot": false, "first_name": text, "language_code": "en" });
            let chat = json!({ "id": user, "type": "private", "first_name": "x" });
            let message = json!({
                "message_id": id, "date": 1_900_000_000, "chat": chat, "from": from, "text": text,
            });
            [
                json!({ "update_id": id, "message": message }),
                json!({ "update_id": id, "callback_query": {
                    "id": "q", "from": from, "message": message, "data": data, "chat_instance": "c",
                } }),
                json!({ "update_id": id, "inline_query": {
                    "id": "i", "from": from, "query": text, "offset": data,
                } }),
            ]
        },
    );
    let swap = prop_oneof![
        Just(Some(Value::Null)),
        Just(Some(json!([]))),
        Just(Some(json!({}))),
        any::<bool>().prop_map(|b| Some(json!(b))),
        any::<i64>().prop_map(|n| Some(json!(n))),
        any::<f64>().prop_map(|n| Some(json!(n))),
        any::<String>().prop_map(|s| Some(json!(s))),
        raw_json().prop_map(|raw| Some(json!(format!("__raw__{raw}")))),
        Just(None),
    ];
    (base, 0usize..3, prop::collection::vec((any::<prop::sample::Index>(), swap), 0..=3)).prop_map(
        |(bases, kind, swaps)| {
            let mut update = bases[kind].clone();
            let mut raws = Vec::new();
            for (at, swap) in swaps {
                fn paths(v: &Value, at: String, out: &mut Vec<String>) {
                    if let Value::Object(map) = v {
                        for (k, child) in map {
                            paths(child, format!("{at}/{k}"), out);
                        }
                    }
                    if !at.is_empty() {
                        out.push(at);
                    }
                }
                let mut all = Vec::new();
                paths(&update, String::new(), &mut all);
                let path = at.get(&all).clone();
                match swap {
                    Some(Value::String(s)) if s.starts_with("__raw__") => {
                        raws.push(s["__raw__".len()..].to_string());
                        *update.pointer_mut(&path).unwrap() =
                            json!(format!("__raw{}__", raws.len() - 1));
                    }
                    Some(value) => *update.pointer_mut(&path).unwrap() = value,
                    None => {
                        let (parent, key) = path.rsplit_once('/').unwrap();
                        if let Some(Value::Object(map)) = update.pointer_mut(parent) {
                            map.remove(key);
                        }
                    }
                }
            }
            let mut text = update.to_string();
            for (i, raw) in raws.iter().enumerate() {
                text = text.replace(&format!("\"__raw{i}__\""), raw);
            }
            text
        },
    )
}

/// `tribune serve --webhook` fed hostile update shapes with the right secret: every request
/// is answered 200 (taken or let go), the process keeps serving, and a reader is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_fed_hostile_update_shapes_keeps_serving() {
    use proptest::strategy::ValueTree;
    use telegram_bot_api_emulator::{Emulator, SECRET_HEADER};
    const SECRET: &str = "Hostile_shapes-51";
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut serve = support::tribune(&["serve", "--webhook"])
        .bot_api(&emulator)
        .data(&data.path().join("data"))
        .env("TRIBUNE_WEBHOOK_URL", &url)
        .env("TRIBUNE_WEBHOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("TRIBUNE_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "off")
        .spawn();
    let hook = emulator.clone();
    support::eventually(support::TIMEOUT, "the webhook is set", || hook.webhook_url().is_some())
        .await;
    let client = reqwest::Client::new();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = hostile_webhook_body();
    for _ in 0..cases(120) {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        let shown: String = body.chars().take(300).collect();
        let answer = client
            .post(&url)
            .header(SECRET_HEADER, SECRET)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer to {shown:?}: {e}"));
        assert_eq!(answer.status(), 200, "{shown:?}");
    }
    assert!(serve.is_running(), "the bot stopped");
    let reader = emulator.user(7_600, "Reader", Some("en"));
    reader.send_text("/help");
    reader.wait_for_messages(1, support::TIMEOUT).await.expect("the bot still answers");
    assert!(serve.terminate(std::time::Duration::from_secs(10)).await.success());
}

/// Typed answers to "Other time…" and "Other zone…", generated (times of every shape, zones
/// as typed, any text), through the running bot: an answer the parser takes is saved exactly
/// (read back from the store) and the card says so; any other is asked again, quoted back
/// escaped, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_answers_are_saved_exactly_or_asked_again() {
    use proptest::strategy::ValueTree;
    let app = support::spawn_app_with(support::Setup {
        clock: Some(support::utc("2026-11-25T12:00:00Z")),
        ..support::Setup::default()
    })
    .await;
    let ctx = Ctx { corpus: corpus(), lang: Lang::En, bot_username: "tribune_bot", seed: 1 };
    let saved = ctx.t("settings.saved");
    let typed_zone = prop_oneof![
        3 => zone().prop_map(|z| z.name().replace('_', " ").to_lowercase()),
        1 => "[A-Za-z/_ +-]{0,30}",
        2 => reader_text(),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    // Each sender may send ten at once: /subscribe, then four rounds of a press and an
    // answer. The users go at once (a private chat gets a message a second).
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let rounds: Vec<(bool, String)> = (0..4)
            .map(|round| {
                let time = (i + round) % 2 == 0;
                let text = if time {
                    typed_time().new_tree(&mut runner).unwrap().current()
                } else {
                    typed_zone.new_tree(&mut runner).unwrap().current()
                };
                // Telegram delivers no blank message, and a text starting with / is a command.
                let text = if text.trim().is_empty() || text.trim_start().starts_with('/') {
                    format!("x{text}")
                } else {
                    text
                };
                (time, text)
            })
            .collect();
        let user = app.user(7_700 + i, "en");
        let (tribune, saved) = (app.tribune.clone(), saved.clone());
        tasks.spawn(async move {
            let store = tribune.store();
            let chat = user.chat_id();
            let card = support::ask(&user, "/subscribe").await.message_id;
            let (mut taken, mut asked_again) = (0, 0);
            for (time, text) in rounds {
                let step = if time { SettingsStep::AskTime } else { SettingsStep::AskZone };
                user.press(card, &Action::Settings { chat, step }.encode());
                let asked = user.wait_for_messages(1, support::TIMEOUT).await.unwrap();
                assert_eq!(asked.len(), 1, "{asked:?}");
                let before = store.subscription(chat).unwrap().expect("subscribed");
                user.send_text(&text);
                let answer = user.wait_for_messages(1, support::TIMEOUT).await.unwrap();
                let answer = answer.last().unwrap().plain_text();
                let after = store.subscription(chat).unwrap().expect("subscribed");
                let change = if time {
                    LocalTime::parse(&text).map(Change::Time)
                } else {
                    Zone::parse(&text).map(Change::Zone)
                };
                match change {
                    Some(change) => {
                        taken += 1;
                        let mut expected = before.clone();
                        change.apply(&mut expected);
                        expected.next_due = after.next_due;
                        assert_eq!(after, expected, "{text:?}");
                        assert!(answer.starts_with(&saved), "{text:?} answered {answer:?}");
                    }
                    None => {
                        asked_again += 1;
                        assert_eq!(
                            after, before,
                            "{text:?} was refused but changed the subscription"
                        );
                        let shown: String = text.chars().take(64).collect();
                        assert!(
                            answer.contains(shown.trim()) || !shown.trim().is_ascii(),
                            "{text:?} is not quoted back in {answer:?}"
                        );
                        assert!(!answer.starts_with(&saved), "{text:?} answered {answer:?}");
                    }
                }
            }
            (taken, asked_again)
        });
    }
    let (mut taken, mut asked_again) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (t, a) = done.expect("every typed answer checked");
        (taken, asked_again) = (taken + t, asked_again + a);
    }
    eprintln!("{taken} typed answers taken, {asked_again} asked again");
    assert!(taken >= 8 && asked_again >= 8, "{taken} taken, {asked_again} asked again");
    assert_every_update_handled(&app);
    app.stop().await;
}

/// Inline queries with hostile text and forged offsets, through the running bot: each is
/// answered with results Telegram accepts (the emulator checks them as Telegram does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inline_queries_are_answered() {
    use proptest::strategy::ValueTree;
    let app = support::spawn_app().await;
    let offsets = prop_oneof![
        3 => Just(String::new()),
        1 => "[0-9]{1,3}",
        1 => "-?[0-9]{10,25}",
        1 => ".{0,12}",
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    // Inline queries have an allowance of thirty at once: twenty each, from three users.
    for i in 0..3 {
        let user = app.user(7_800 + i, "en");
        for _ in 0..20 {
            let query = reader_text().new_tree(&mut runner).unwrap().current();
            let offset = offsets.new_tree(&mut runner).unwrap().current();
            let answer = user
                .inline_page(&query, &offset, support::TIMEOUT)
                .await
                .unwrap_or_else(|e| panic!("{query:?} at {offset:?} was not answered: {e}"));
            assert!(answer.results.len() <= render::INLINE_PAGE);
        }
    }
    let reader = app.user(7_899, "en");
    assert!(support::ask(&reader, "/help").await.plain_text().contains("/subscribe"));
    assert_every_update_handled(&app);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Operators' content commands with arguments of the right shape and hostile values, on one
// Tribune whose content they keep changing: `/addslogan <statement> [lang] <text>`,
// `/setprisoner <id> <status> [date] [note]`, `/edits [drop <n>]` and `/cancel [edition]`.
// Never a panic; what is saved keeps the content valid, and is served as escaped HTML that
// Telegram accepts, within 4096.
mod operator_args {
    use super::*;
    use proptest::test_runner::Config;
    use std::sync::OnceLock;
    use tribune::{
        app::{Caller, EditOutcome, Operator, Tribune},
        schedule::Clock,
    };

    const OPERATOR: i64 = 900;

    fn cases(default: u32) -> u32 {
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
    }

    /// One Tribune for every case: the edits pile up, as they would in a long-running bot. (Its
    /// temporary directory lives as long as the test process.)
    fn app() -> (&'static Tribune, &'static Operator) {
        static APP: OnceLock<(tempfile::TempDir, Tribune, Operator)> = OnceLock::new();
        let (_, app, operator) = APP.get_or_init(|| {
            let dir = tempfile::tempdir().expect("a directory");
            let messages = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
            let start =
                chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z").expect("a time");
            let (clock, _) = Clock::manual(start.with_timezone(&chrono::Utc));
            let (app, _) = Tribune::open_with_clock(&dir.path().join("data"), &messages, clock)
                .expect("a Tribune");
            let app = app.with_operators(vec![OPERATOR]);
            let operator = app.operator(&Caller::private(OPERATOR)).expect("an operator");
            (dir, app, operator)
        });
        (app, operator)
    }

    /// The tests share one Tribune: one case at a time, so what one sees is its own doing.
    fn alone() -> std::sync::MutexGuard<'static, ()> {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Text an operator might type, or paste: markup, every script and mark, NUL, long.
    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-zа-яəığ0-9 .,!-]{1,40}",
            2 => prop::sample::select(vec![
                "<b>bold</b>", "</a>", "&amp;", "&", "<script>alert(1)</script>", "\u{202e}x",
                "a\u{301}\u{301}", "🙂🏳️‍🌈", "\u{0}", "{name}", "2026-02-31", "99999999999999999999",
            ])
            .prop_map(String::from),
            1 => any::<String>(),
            1 => (any::<char>(), 100usize..3000).prop_map(|(c, n)| c.to_string().repeat(n)),
            // Markup Telegram would take as markup: only escaping keeps it text.
            3 => (prop::sample::select(vec!["b", "i", "u", "s", "code", "tg-spoiler"]), "[a-z ]{1,10}")
                .prop_map(|(tag, words)| format!("<{tag}>{words}</{tag}>")),
        ]
    }

    /// A statement's paragraphs by language.
    type Texts = Vec<(Lang, Vec<String>)>;

    /// `/addslogan`'s arguments: a statement of the corpus (or a hostile word), a language it
    /// has (or none, or a hostile word), and words of its text in that language (so that the
    /// slogan can be word for word), or hostile text.
    fn add_slogan_args(corpus: &Corpus) -> impl Strategy<Value = String> + use<> {
        let statements: Vec<(String, Lang, Texts)> = corpus
            .statements
            .iter()
            .map(|s| {
                let texts = s
                    .texts
                    .iter()
                    .map(|(lang, ps)| (*lang, ps.iter().map(|p| p.text.clone()).collect()))
                    .collect();
                (s.id.clone(), s.text_lang(s.original_language), texts)
            })
            .collect();
        let index = || any::<prop::sample::Index>();
        let bad = || prop::option::weighted(0.2, hostile());
        ((index(), index(), index(), index(), 1usize..12), (bad(), bad(), bad(), any::<bool>()))
            .prop_map(move |((s, l, p, w, n), (bad_id, bad_lang, bad_text, name_lang))| {
                let (id, original, texts) = &statements[s.index(statements.len())];
                let (lang, paragraphs) = if name_lang {
                    &texts[l.index(texts.len())]
                } else {
                    texts.iter().find(|(lang, _)| lang == original).unwrap_or(&texts[0])
                };
                let paragraph = &paragraphs[p.index(paragraphs.len())];
                let words: Vec<&str> = paragraph.split_whitespace().collect();
                let start = w.index(words.len().max(1));
                let excerpt =
                    words.iter().skip(start).take(n).copied().collect::<Vec<_>>().join(" ");
                let lang = match (bad_lang, name_lang) {
                    (Some(bad), _) => Some(bad),
                    (None, true) => Some(lang.code().to_string()),
                    (None, false) => None,
                };
                [
                    Some(bad_id.unwrap_or_else(|| id.clone())),
                    lang,
                    Some(bad_text.unwrap_or(excerpt)),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
            })
    }

    fn set_prisoner_args(corpus: &Corpus) -> impl Strategy<Value = String> + use<> {
        let ids: Vec<String> = corpus.prisoners.iter().map(|p| p.id.clone()).collect();
        let status = prop_oneof![
            4 => prop::sample::select(vec!["imprisoned", "released", "sentenced", "transferred", "unknown"])
                .prop_map(String::from),
            1 => hostile(),
        ];
        let date = prop::option::of(prop_oneof![
            2 => (1900u16..=2100, prop::option::of(1u8..=12)).prop_map(|(y, m)| match m {
                Some(m) => format!("{y}-{m:02}"),
                None => y.to_string(),
            }),
            1 => prop::sample::select(vec!["2026-02-31", "1899", "2101-01", "2024-13", "０２０２"])
                .prop_map(String::from),
        ]);
        let id = prop_oneof![4 => prop::sample::select(ids), 1 => hostile()];
        (id, status, date, prop::option::of(hostile())).prop_map(|(id, status, date, note)| {
            [Some(id), Some(status), date, note].into_iter().flatten().collect::<Vec<_>>().join(" ")
        })
    }

    /// A prisoner's note (when short enough not to be cut) is on their card as text: escaped,
    /// line breaks and spaces aside.
    fn note_on_card_as_text(corpus: &Corpus, id: &str) -> Result<(), TestCaseError> {
        let prisoner = corpus.prisoners.iter().find(|p| p.id == id);
        let note = prisoner.and_then(|p| p.note.as_ref()).filter(|n| n.chars().count() <= 300);
        if let Some(note) = note {
            let ctx = Ctx { corpus, lang: Lang::En, bot_username: "tribune_bot", seed: 3 };
            let card = render::on_action(&ctx, &Action::Prisoner(id.to_string()));
            let html: String =
                card.iter().flat_map(|r| &r.messages).map(|m| m.html.as_str()).collect();
            prop_assert!(
                squeezed(&html).contains(&squeezed(&render::html::escape(note))),
                "{:?} is not on the card as text: {:?}",
                note,
                html
            );
        }
        Ok(())
    }

    /// What a reader would be sent from this corpus is HTML Telegram takes, within its limit.
    fn served(corpus: &Corpus) -> Result<(), TestCaseError> {
        let ctx = Ctx { corpus, lang: Lang::En, bot_username: "tribune_bot", seed: 3 };
        let mut replies = vec![render::prisoners(&ctx, ""), render::slogan(&ctx, "")];
        for p in &corpus.prisoners {
            replies.extend(render::on_action(&ctx, &Action::Prisoner(p.id.clone())));
        }
        for s in &corpus.slogans {
            replies.push(render::slogan(&ctx, &s.id));
        }
        for message in replies.iter().flat_map(|r| &r.messages) {
            prop_assert!(visible_len(&message.html) <= 4096);
            if let Err(why) = check_html(&message.html) {
                return Err(TestCaseError::fail(format!(
                    "Telegram would refuse {:?}: {why}",
                    message.html
                )));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(Config { cases: cases(32), ..Config::default() })]

        #[test]
        fn addslogan_with_any_arguments_saves_valid_content_or_says_why(
            args in add_slogan_args(&app().0.corpus()),
        ) {
            let (app, operator) = app();
            let _alone = alone();
            let before = app.corpus().slogans.len();
            let outcome = app.add_slogan(operator, &args).expect("the store works");
            let after = app.corpus();
            match outcome {
                EditOutcome::Saved { .. } => prop_assert_eq!(after.slogans.len(), before + 1),
                _ => prop_assert_eq!(after.slogans.len(), before),
            }
            served(&after)?;
        }

        #[test]
        fn setprisoner_with_any_arguments_saves_valid_content_or_says_why(
            args in set_prisoner_args(&app().0.corpus()),
        ) {
            let (app, operator) = app();
            let _alone = alone();
            let outcome = app.set_prisoner(operator, &args).expect("the store works");
            let after = app.corpus();
            if let EditOutcome::Saved { .. } = outcome {
                // The status written is the one asked for.
                let mut words = args.split_whitespace();
                let (id, status) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let prisoner = after.prisoners.iter().find(|p| p.id == id);
                prop_assert_eq!(prisoner.map(|p| p.status.code()), Some(status));
                note_on_card_as_text(&after, id)?;
            }
            served(&after)?;
        }

        #[test]
        fn edits_and_cancel_with_any_arguments_answer(
            args in prop_oneof![
                hostile(),
                (0u64..40).prop_map(|n| format!("drop {n}")),
                hostile().prop_map(|h| format!("drop {h}")),
            ],
        ) {
            let (app, operator) = app();
            let _alone = alone();
            let _ = app.edits(operator, &args).expect("the store works");
            let _ = app.cancel(operator, &args).expect("the store works");
            served(&app.corpus())?;
        }
    }

    /// The shapes get past the argument checks: a good share of generated commands is saved
    /// (else the properties above would only see usage messages).
    #[test]
    fn a_good_share_of_generated_content_commands_is_saved() {
        use proptest::{strategy::ValueTree, test_runner::TestRunner};
        let (app, operator) = app();
        let _alone = alone();
        let mut runner = TestRunner::deterministic();
        let corpus = app.corpus();
        let slogans = add_slogan_args(&corpus);
        let prisoners = set_prisoner_args(&corpus);
        let (mut slogans_saved, mut prisoners_saved) = (0, 0);
        for _ in 0..40 {
            let args = slogans.new_tree(&mut runner).expect("a value").current();
            let saved = app.add_slogan(operator, &args).expect("the store works");
            slogans_saved += usize::from(matches!(saved, EditOutcome::Saved { .. }));
            let args = prisoners.new_tree(&mut runner).expect("a value").current();
            let saved = app.set_prisoner(operator, &args).expect("the store works");
            if matches!(saved, EditOutcome::Saved { .. }) {
                prisoners_saved += 1;
                let id = args.split_whitespace().next().unwrap_or_default();
                note_on_card_as_text(&app.corpus(), id).expect("the note is on the card as text");
                served(&app.corpus()).expect("served as Telegram takes it");
            }
        }
        eprintln!("saved: {slogans_saved} of 40 slogans, {prisoners_saved} of 40 prisoner changes");
        assert!(slogans_saved >= 5 && prisoners_saved >= 5, "{slogans_saved}, {prisoners_saved}");
    }
}
