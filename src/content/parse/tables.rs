//! The TOML files: slogans, prisoners and UI strings, each entry checked against the statements.

use super::names::check_name;
use super::{
    Problem, check_id, entry_line, key_line, parse_date, problem, toml_problem, unknown_lang,
    unknown_statement,
};
use crate::content::{Group, Lang, Prisoner, Slogan, Statement, Status, Ui};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SloganFile {
    #[serde(default)]
    slogan: Vec<SloganEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SloganEntry {
    id: String,
    statement: String,
    lang: String,
    text: String,
}

pub(super) fn parse_slogans(
    text: &str,
    statements: &[Statement],
    problems: &mut Vec<Problem>,
) -> Vec<Slogan> {
    const FILE: &str = "slogans.toml";
    let parsed: SloganFile = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            problems.push(toml_problem(FILE, text, 1, &e));
            return Vec::new();
        }
    };
    let mut out: Vec<Slogan> = Vec::new();
    for (i, entry) in parsed.slogan.into_iter().enumerate() {
        let at = |field: &str| entry_line(text, "[[slogan]]", i, field);
        let before = problems.len();
        check_id(FILE, at("id"), &entry.id, problems);
        if out.iter().any(|s| s.id == entry.id) {
            problems.push(problem(FILE, at("id"), format!("duplicate slogan id {:?}", entry.id)));
        }
        let lang = Lang::parse(&entry.lang).filter(|l| l.code() == entry.lang);
        if lang.is_none() {
            problems.push(problem(FILE, at("lang"), unknown_lang(&entry.lang)));
        }
        match statements.iter().find(|s| s.id == entry.statement) {
            None => {
                problems.push(problem(FILE, at("statement"), unknown_statement(&entry.statement)))
            }
            Some(s) => {
                if let Some(lang) = lang
                    && !s.paragraphs(lang).iter().any(|p| p.text.contains(entry.text.trim()))
                {
                    let message =
                        format!("text is not word for word in statement {:?} ({lang})", s.id);
                    problems.push(problem(FILE, at("text"), message));
                }
            }
        }
        if entry.text.trim().is_empty() {
            problems.push(problem(FILE, at("text"), "empty slogan text"));
        }
        if problems.len() == before {
            let lang = lang.unwrap_or(Lang::En);
            out.push(Slogan {
                id: entry.id,
                statement: entry.statement,
                lang,
                text: entry.text.trim().to_string(),
            });
        }
    }
    if out.is_empty() && problems.is_empty() {
        problems.push(problem(FILE, 1, "no slogans: add at least one [[slogan]]"));
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrisonerFile {
    #[serde(default)]
    prisoner: Vec<PrisonerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrisonerEntry {
    id: String,
    name: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    group: String,
    affiliation: String,
    statement: String,
    quote: String,
    status: String,
    since: Option<String>,
    note: Option<String>,
}

pub(super) fn parse_prisoners(
    text: &str,
    statements: &[Statement],
    problems: &mut Vec<Problem>,
) -> Vec<Prisoner> {
    const FILE: &str = "prisoners.toml";
    let parsed: PrisonerFile = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            problems.push(toml_problem(FILE, text, 1, &e));
            return Vec::new();
        }
    };
    let mut out: Vec<Prisoner> = Vec::new();
    for (i, e) in parsed.prisoner.into_iter().enumerate() {
        let at = |field: &str| entry_line(text, "[[prisoner]]", i, field);
        let before = problems.len();
        check_id(FILE, at("id"), &e.id, problems);
        if out.iter().any(|p| p.id == e.id) {
            problems.push(problem(FILE, at("id"), format!("duplicate prisoner id {:?}", e.id)));
        }
        let group = Group::from_code(&e.group);
        if group.is_none() {
            let message = format!(
                "unknown group {:?} (use courier-union, journalist, politician or activist)",
                e.group
            );
            problems.push(problem(FILE, at("group"), message));
        }
        let status = parse_status(&e.status);
        if status.is_none() {
            let message = format!(
                "unknown status {:?} (use imprisoned, released, sentenced, transferred or unknown)",
                e.status
            );
            problems.push(problem(FILE, at("status"), message));
        }
        let since = e.since.as_deref().and_then(|d| {
            parse_date(d).map_err(|m| problems.push(problem(FILE, at("since"), m))).ok()
        });
        match statements.iter().find(|s| s.id == e.statement) {
            None => problems.push(problem(FILE, at("statement"), unknown_statement(&e.statement))),
            Some(s) => {
                let quoted = s.texts.values().flatten().any(|p| p.text.contains(e.quote.trim()));
                if !quoted || e.quote.trim().is_empty() {
                    let message = format!("quote is not word for word in statement {:?}", s.id);
                    problems.push(problem(FILE, at("quote"), message));
                }
                if let Some(name) = e.name.as_deref().filter(|n| !n.trim().is_empty())
                    && let Err(message) = check_name(name, &e.aliases, s)
                {
                    problems.push(problem(FILE, at("name"), message));
                }
            }
        }
        if e.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            problems.push(problem(
                FILE,
                at("name"),
                "empty name: omit the field for an unnamed person",
            ));
        }
        if e.affiliation.trim().is_empty() {
            problems.push(problem(FILE, at("affiliation"), "affiliation is empty"));
        }
        if problems.len() == before
            && let (Some(group), Some(status)) = (group, status)
        {
            out.push(Prisoner {
                id: e.id,
                name: e.name.map(|n| n.trim().to_string()),
                aliases: e.aliases,
                group,
                affiliation: e.affiliation.trim().to_string(),
                statement: e.statement,
                quote: e.quote.trim().to_string(),
                status,
                since,
                note: e.note.filter(|n| !n.trim().is_empty()),
            });
        }
    }
    out
}

pub(super) fn parse_ui<'a>(
    find: &dyn Fn(&str) -> Option<&'a str>,
    problems: &mut Vec<Problem>,
) -> Ui {
    let mut strings = BTreeMap::new();
    for lang in Lang::ALL {
        let file = format!("ui/{}.toml", lang.code());
        let Some(text) = find(&file) else {
            problems.push(problem(&file, 1, "file is missing"));
            continue;
        };
        match toml::from_str::<BTreeMap<String, String>>(text) {
            Ok(map) => {
                strings.insert(lang, map);
            }
            Err(e) => problems.push(toml_problem(&file, text, 1, &e)),
        }
    }
    if let Some(en) = strings.get(&Lang::En) {
        for (lang, map) in strings.iter().filter(|(l, _)| **l != Lang::En) {
            let file = format!("ui/{}.toml", lang.code());
            let text = find(&file).unwrap_or("");
            for (key, english) in en {
                match map.get(key) {
                    None => problems.push(problem(
                        &file,
                        1,
                        format!("missing string {key:?} (English has it)"),
                    )),
                    Some(s) if placeholders(s) != placeholders(english) => {
                        let message = format!(
                            "string {key:?} has placeholders {:?}, English has {:?}",
                            placeholders(s),
                            placeholders(english)
                        );
                        problems.push(problem(&file, key_line(text, key), message));
                    }
                    Some(_) => {}
                }
            }
            for key in map.keys().filter(|k| !en.contains_key(*k)) {
                problems.push(problem(
                    &file,
                    key_line(text, key),
                    format!("string {key:?} is not in ui/en.toml"),
                ));
            }
        }
    }
    Ui::new(strings)
}

fn placeholders(s: &str) -> BTreeSet<&str> {
    s.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name)).collect()
}

fn parse_status(s: &str) -> Option<Status> {
    [Status::Imprisoned, Status::Released, Status::Sentenced, Status::Transferred, Status::Unknown]
        .into_iter()
        .find(|st| st.code() == s)
}
