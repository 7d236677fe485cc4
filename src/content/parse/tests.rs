use super::*;

const STATEMENT: &str = "+++\nid = \"s1\"\nkind = \"appeal\"\norganisation = \"Org\"\ndate = \"2023-12\"\n\
source = \"Source\"\n\n[title]\nen = \"Title\"\n+++\n\n=== en ===\n\n# Heading\n\nFirst paragraph\nwrapped here.\n\n\
Freedom for all!\n\nJournalists such as UlviHasanli, SevinjVagifgizi and Hafiz\nBabali are in prison.\n";

const UI_EN: &str = "hello = \"Hello {name}\"\n";
const UI_RU: &str = "hello = \"Привет {name}\"\n";

fn files(statement: &str, slogans: &str, prisoners: &str, ui_ru: &str) -> Vec<(String, String)> {
    vec![
        ("statements/s1.md".into(), statement.into()),
        ("slogans.toml".into(), slogans.into()),
        ("prisoners.toml".into(), prisoners.into()),
        ("ui/en.toml".into(), UI_EN.into()),
        ("ui/ru.toml".into(), ui_ru.into()),
        ("ui/az.toml".into(), UI_EN.into()),
    ]
}

const SLOGANS: &str =
    "[[slogan]]\nid = \"free\"\nstatement = \"s1\"\nlang = \"en\"\ntext = \"Freedom for all!\"\n";
const PRISONERS: &str = "[[prisoner]]\nid = \"p1\"\nname = \"Ulvi Hasanli\"\ngroup = \"journalist\"\n\
affiliation = \"X\"\nstatement = \"s1\"\nquote = \"First paragraph wrapped\"\nstatus = \"imprisoned\"\nsince = \"2023-11\"\n";

fn problems(files: Vec<(String, String)>) -> Vec<String> {
    parse_files(&files).err().unwrap_or_default().iter().map(|p| p.to_string()).collect()
}

#[test]
fn parses_a_valid_set_and_joins_wrapped_lines() {
    let corpus = parse_files(&files(STATEMENT, SLOGANS, PRISONERS, UI_RU)).expect("valid");
    let s = &corpus.statements[0];
    let paragraphs = s.paragraphs(Lang::En);
    assert_eq!(paragraphs.len(), 4);
    assert!(paragraphs[0].heading);
    assert_eq!(paragraphs[1].text, "First paragraph wrapped here.");
    assert_eq!(corpus.prisoners[0].since.unwrap().to_string(), "2023-11");
    assert_eq!(corpus.slogans[0].text, "Freedom for all!");
}

#[test]
fn reports_front_matter_errors_with_line_numbers() {
    let bad = STATEMENT.replace("date = \"2023-12\"", "date = \"December\"");
    assert_eq!(
        problems(files(&bad, SLOGANS, PRISONERS, UI_RU)),
        vec![
            "statements/s1.md:5: bad date \"December\": write YYYY, YYYY-MM or YYYY-MM-DD",
            "slogans.toml:3: no statement with id \"s1\"",
            "prisoners.toml:6: no statement with id \"s1\"",
        ]
    );
}

#[test]
fn reports_toml_syntax_errors_at_their_line() {
    let bad = STATEMENT.replace("organisation = \"Org\"", "organisation = Org");
    let found = problems(files(&bad, SLOGANS, PRISONERS, UI_RU));
    assert!(found[0].starts_with("statements/s1.md:4: "), "{found:?}");
}

#[test]
fn refuses_a_slogan_that_is_not_word_for_word() {
    let bad = SLOGANS.replace("Freedom for all!", "Freedom for everyone!");
    assert_eq!(
        problems(files(STATEMENT, &bad, PRISONERS, UI_RU)),
        vec!["slogans.toml:5: text is not word for word in statement \"s1\" (en)"]
    );
}

#[test]
fn refuses_unknown_groups_statuses_and_fields() {
    let bad = PRISONERS.replace("journalist", "poet").replace("imprisoned", "free");
    let found = problems(files(STATEMENT, SLOGANS, &bad, UI_RU));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("prisoners.toml:4: unknown group \"poet\""));
    assert!(found[1].starts_with("prisoners.toml:8: unknown status \"free\""));
    let typo = PRISONERS.replace("note", "x").replace("since", "sinse");
    let found = problems(files(STATEMENT, SLOGANS, &typo, UI_RU));
    assert!(found[0].starts_with("prisoners.toml:") && found[0].contains("sinse"), "{found:?}");
}

#[test]
fn checks_translations_against_english() {
    let found =
        problems(files(STATEMENT, SLOGANS, PRISONERS, "hello = \"Привет\"\nextra = \"x\"\n"));
    assert_eq!(
        found,
        vec![
            "ui/ru.toml:1: string \"hello\" has placeholders {}, English has {\"name\"}",
            "ui/ru.toml:2: string \"extra\" is not in ui/en.toml",
        ]
    );
}

#[test]
fn refuses_bad_ids_and_text_outside_sections() {
    let bad = STATEMENT.replace("id = \"s1\"", "id = \"S 1\"");
    assert!(
        problems(files(&bad, SLOGANS, PRISONERS, UI_RU))[0]
            .starts_with("statements/s1.md:2: bad id")
    );
    let bad = STATEMENT.replace("=== en ===", "stray text");
    assert!(
        problems(files(&bad, SLOGANS, PRISONERS, UI_RU))[0]
            .starts_with("statements/s1.md:12: text before")
    );
}

#[test]
fn partial_dates_parse_strictly() {
    assert_eq!(parse_date("2023").unwrap().to_string(), "2023");
    assert_eq!(parse_date("2023-02-07").unwrap().to_string(), "2023-02-07");
    assert!(parse_date("2023-13").is_err());
    assert!(parse_date("23-01").is_err());
    assert!(parse_date("2023-01-01-01").is_err());
}

#[test]
fn impossible_days_are_refused_with_the_length_of_the_month() {
    assert_eq!(
        parse_date("2026-02-31").unwrap_err(),
        "no such date \"2026-02-31\": 2026-02 has 28 days"
    );
    assert!(parse_date("2026-02-29").is_err(), "2026 is not a leap year");
    assert!(parse_date("2023-04-31").is_err(), "April has 30 days");
    assert!(parse_date("2023-12-32").is_err());
    assert!(parse_date("1900-02-29").is_err(), "1900 was not a leap year");
    assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
    assert_eq!(parse_date("2000-02-29").unwrap().to_string(), "2000-02-29");
    assert_eq!(parse_date("2023-12-31").unwrap().to_string(), "2023-12-31");
    assert_eq!(parse_date("2023-04-30").unwrap().to_string(), "2023-04-30");
}

/// The test prisoner with another `name` line (`None`: no name) and `aliases`.
fn named(name: Option<&str>, aliases: &[&str]) -> String {
    let name_line = match name {
        Some(name) => format!("name = {name:?}\naliases = {aliases:?}\n"),
        None => format!("aliases = {aliases:?}\n"),
    };
    PRISONERS.replace("name = \"Ulvi Hasanli\"\n", &name_line)
}

fn name_problems(statement: &str, name: Option<&str>, aliases: &[&str]) -> Vec<String> {
    problems(files(statement, SLOGANS, &named(name, aliases), UI_RU))
}

#[test]
fn a_name_the_statement_fuses_passes_with_its_spaces_restored() {
    for name in ["Sevinj Vagifgizi", "SevinjVagifgizi", "Hafiz Babali", "Ulvi  Hasanli"] {
        assert_eq!(name_problems(STATEMENT, Some(name), &[]), Vec::<String>::new(), "{name}");
    }
    // Wrapped across two lines in the file, with spaces and tabs in the name.
    assert!(name_problems(STATEMENT, Some("Hafiz\tBa bali"), &[]).is_empty());
}

#[test]
fn a_name_spelled_otherwise_is_refused_at_its_line_with_the_statements_spelling() {
    let expected = "prisoners.toml:3: name \"Sevinj Vagifqizi\" is not how statement \"s1\" \
        spells it: the statement writes \"SevinjVagifgizi\", so write name = \"Sevinj Vagifgizi\" \
        and keep \"Sevinj Vagifqizi\" in aliases (readers are shown the statement's spelling, \
        with only missing spaces restored)";
    // An alias that is the statement's spelling is not a licence to show another one.
    let aliases = ["SevinjVagifgizi", "Sevinc Vaqifqızı"];
    assert_eq!(name_problems(STATEMENT, Some("Sevinj Vagifqizi"), &aliases), vec![expected]);
    // Without aliases, the close spelling in the statement is found all the same.
    assert_eq!(name_problems(STATEMENT, Some("Sevinj Vagifqizi"), &[]), vec![expected]);
    // Capitals count: the statement's spelling is suggested.
    let found = name_problems(STATEMENT, Some("sevinj vagifgizi"), &[]);
    assert!(found[0].contains("so write name = \"Sevinj Vagifgizi\""), "{found:?}");
    // A surname alias does not hide the statement's full spelling.
    let found = name_problems(STATEMENT, Some("Ulvi Hasanly"), &["Hasanli", "Ülvi Həsənli"]);
    assert!(found[0].contains("writes \"UlviHasanli\", so write name = \"Ulvi Hasanli\""));
    // The Azerbaijani spelling of someone the statement writes with its own spaces.
    let found = name_problems(STATEMENT, Some("Hafiz Babalı"), &[]);
    assert!(found[0].contains("writes \"Hafiz Babali\", so write name = \"Hafiz Babali\""));
}

#[test]
fn a_name_nowhere_in_the_statement_is_refused_without_a_guess() {
    assert_eq!(
        name_problems(STATEMENT, Some("John Smith"), &["Johnny"]),
        vec![
            "prisoners.toml:3: name \"John Smith\" does not occur in statement \"s1\" (compared \
             without spaces): write it as the statement does, restoring only missing spaces, and \
             keep other spellings in aliases"
        ]
    );
}

#[test]
fn an_unnamed_prisoner_is_exempt() {
    assert!(name_problems(STATEMENT, None, &["Anyone"]).is_empty());
}

#[test]
fn a_name_found_only_in_another_language_section_passes() {
    let with_ru = format!("{STATEMENT}\n=== ru ===\n\nЖурналисты Севиндж Вагифгызы и другие.\n");
    assert!(name_problems(&with_ru, Some("Севиндж Вагифгызы"), &[]).is_empty());
    assert!(name_problems(STATEMENT, Some("Севиндж Вагифгызы"), &[]).len() == 1);
}
