//! The content in `messages/`: counts, faithful sample passages, and the links between
//! statements, slogans and prisoners. Reads the files the way `serve` does.

use crate::support;

use tribune::content::{Group, Lang, Status, load_dir};

fn corpus() -> tribune::content::Corpus {
    load_dir(&support::messages_dir()).unwrap_or_else(|e| panic!("{e}")).corpus
}

#[test]
fn counts_of_statements_paragraphs_slogans_and_prisoners() {
    let c = corpus();
    let ids: Vec<&str> = c.statements.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["voice-of-revolution-founding", "cpa-izmir-speech", "political-prisoners-appeal"]
    );
    let counts: Vec<(usize, usize)> = c
        .statements
        .iter()
        .map(|s| (s.paragraphs(Lang::En).len(), s.paragraphs(Lang::Ru).len()))
        .collect();
    assert_eq!(counts, [(18, 0), (19, 20), (10, 0)]);
    assert_eq!(c.slogans.len(), 10);
    assert_eq!(c.prisoners.len(), 13);
    let in_group = |g| c.prisoners.iter().filter(|p| p.group == g).count();
    assert_eq!(
        [
            in_group(Group::CourierUnion),
            in_group(Group::Journalist),
            in_group(Group::Politician),
            in_group(Group::Activist)
        ],
        [3, 7, 1, 2]
    );
    assert!(c.prisoners.iter().all(|p| p.status == Status::Imprisoned));
    assert_eq!(
        c.prisoners.iter().filter(|p| p.name.is_none()).count(),
        1,
        "the unnamed member of İnqilabın Sesi"
    );
}

#[test]
fn sample_passages_are_word_for_word() {
    let c = corpus();
    let founding = c.statement("voice-of-revolution-founding").unwrap();
    assert_eq!(
        founding.title(Lang::En),
        "Azerbaijan: İnqilabın Sesi (Voice of Revolution), is being established"
    );
    let en = founding.paragraphs(Lang::En);
    assert!(en[0].heading && en[0].text == "Who we are?");
    assert_eq!(
        en[1].text,
        "The Voice of Revolution is a revolutionary organization aims at a \"Socialist Azerbaijan\". Our purpose is to raise the class consciousness of the working class with a Marxist perspective and to carry out a socialist revolution by organizing the already started organizations of the working class to an advanced level."
    );
    assert_eq!(en.last().unwrap().text, "One Solution, Permanent Revolution!");

    let speech = c.statement("cpa-izmir-speech").unwrap();
    assert_eq!(speech.original_language, Lang::Ru);
    let ru = speech.paragraphs(Lang::Ru);
    assert!(ru[0].heading && ru[0].text == "ПАРТИИ В ИЗМИРЕ");
    assert_eq!(ru[1].text, "Дорогие товарищи!");
    // A paragraph the source broke across a page is whole again, its words untouched.
    assert!(speech.paragraphs(Lang::En).iter().any(|p| p.text.contains(
        "the Great October Socialist Revolutions Bolsheviks of the Caucasus! I would like to note"
    )));
    assert!(ru.iter().any(|p| {
        p.text.contains("Великой Октябрьской Социалистической Революции большевики Кавказа!")
    }));
    assert_eq!(
        speech.paragraphs(Lang::En).last().unwrap().text,
        "Head of the Communist Party of Azerbaijan T. Nurullayev"
    );

    let appeal = c.statement("political-prisoners-appeal").unwrap();
    assert_eq!(
        appeal.paragraphs(Lang::En)[1].text,
        "Aliyev’s oppressive regime also attacks workers’ movement. Members of Union of Courier Association, who announced that they would protest to object to the law regarding couriers, were arrested before the protest. Union leader AfiaddinMammadov and couriers AykhanIsrafilov and Elvin Mustafayev are currently in prison. The prison administration do not allow them to even read the books sent by their families. The police harass other members of the union by following them at home and on the street, and threat them to leave the union."
    );
}

#[test]
fn every_slogan_and_quote_is_in_its_statement() {
    let c = corpus();
    for s in &c.slogans {
        let statement = c.statement(&s.statement).unwrap();
        assert!(statement.paragraphs(s.lang).iter().any(|p| p.text.contains(&s.text)), "{}", s.id);
    }
    for p in &c.prisoners {
        let statement = c.statement(&p.statement).unwrap();
        assert!(statement.texts.values().flatten().any(|x| x.text.contains(&p.quote)), "{}", p.id);
    }
    let closing: Vec<&str> =
        c.statement("political-prisoners-appeal").unwrap().paragraphs(Lang::En)[5..]
            .iter()
            .map(|p| p.text.as_str())
            .collect();
    for line in closing {
        assert!(c.slogans.iter().any(|s| s.text == line), "closing line {line:?} is a slogan");
    }
}

#[test]
fn names_are_the_statements_spellings_with_spaces_restored() {
    let c = corpus();
    let names: Vec<&str> = c.prisoners.iter().filter_map(|p| p.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            "Afiaddin Mammadov",
            "Aykhan Israfilov",
            "Elvin Mustafayev",
            "Ulvi Hasanli",
            "Sevinj Vagifgizi",
            "Teymur Karimov",
            "Hafiz Babali",
            "Aziz Orujov",
            "Nargiz Absalamova",
            "Mahammad Kekalov",
            "Mohyaddin Orujov",
            "Tofig Yagublu",
        ]
    );
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    for p in c.prisoners.iter().filter(|p| p.name.is_some()) {
        let name = squeeze(p.name.as_deref().unwrap());
        let statement = c.statement(&p.statement).unwrap();
        assert!(statement.texts.values().flatten().any(|x| squeeze(&x.text).contains(&name)));
    }
    let sevinj = c.prisoner("sevinj-vagifqizi").unwrap();
    assert_eq!(sevinj.aliases, ["SevinjVagifgizi", "Sevinj Vagifqizi", "Sevinc Vaqifqızı"]);
}

#[test]
fn dates_say_when_they_are_approximate() {
    let c = corpus();
    for s in &c.statements {
        assert!(s.date_approximate, "{} is undated in its source", s.id);
        assert!(s.date_note.as_deref().is_some_and(|n| n.starts_with("Undated in the source.")));
    }
}

#[test]
fn the_content_check_command_passes() {
    let output = support::tribune(&["check"]).run();
    let stdout = &output.stdout;
    assert!(output.success(), "{stdout}");
    assert!(stdout.contains("ok: 3 statements (67 paragraphs,"), "{stdout}");
}

#[test]
fn the_content_check_command_reports_problems_with_lines() {
    let (line, ok, stdout) =
        check_with_prisoners_line("status = \"imprisoned\"", "status = \"freed\"");
    assert!(!ok, "{stdout}");
    let expected = format!("prisoners.toml:{line}: unknown status \"freed\"");
    assert!(stdout.contains(&expected), "{stdout}");
}

#[test]
fn the_content_check_command_refuses_a_name_the_statement_does_not_spell_so() {
    let (line, ok, stdout) =
        check_with_prisoners_line("name = \"Sevinj Vagifgizi\"", "name = \"Sevinj Vagifqizi\"");
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "prisoners.toml:{line}: name \"Sevinj Vagifqizi\" is not how statement \
             \"political-prisoners-appeal\" spells it: the statement writes \"SevinjVagifgizi\", \
             so write name = \"Sevinj Vagifgizi\" and keep \"Sevinj Vagifqizi\" in aliases"
        )),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

/// `tribune check` on a copy of the content whose first line `from` in prisoners.toml became
/// `to`: that line's number, whether check passed, and what it printed.
fn check_with_prisoners_line(from: &str, to: &str) -> (usize, bool, String) {
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&support::messages_dir(), dir.path());
    let prisoners = dir.path().join("prisoners.toml");
    let text = std::fs::read_to_string(&prisoners).unwrap();
    let line = 1 + text.lines().position(|l| l == from).expect("the line to change");
    std::fs::write(&prisoners, text.replacen(from, to, 1)).unwrap();
    let output = support::tribune(&["check"]).messages(dir.path()).run();
    (line, output.success(), output.stdout)
}
