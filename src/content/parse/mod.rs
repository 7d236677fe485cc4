//! Reading `messages/` into a [`Corpus`], with every problem reported as `file:line: message`.
//!
//! Layout: `statements/*.md` (TOML front matter between `+++` lines, then one `=== xx ===`
//! section per language, paragraphs separated by blank lines, `# ` marking a heading),
//! `slogans.toml`, `prisoners.toml` and `ui/<lang>.toml`. Parsing collects all problems
//! rather than stopping at the first, so an operator fixes a file in one pass.

use super::{Corpus, Lang, Paragraph, Statement, StatementKind};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
};
use tables::{parse_prisoners, parse_slogans, parse_ui};

mod dates;
mod names;
mod tables;

pub use dates::parse_date;

/// The longest id accepted, so that ids fit in Telegram's 64-byte callback data and deep links.
pub const MAX_ID_LEN: usize = 40;

/// One thing wrong with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} problem(s) in the content:\n{}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// The content of a `messages/` directory and a fingerprint of its files.
pub struct Loaded {
    pub corpus: Corpus,
    /// Changes whenever any content file changes (FNV-1a over names and bytes; not cryptographic).
    pub hash: u64,
}

/// Reads and validates a whole `messages/` directory.
pub fn load_dir(dir: &Path) -> Result<Loaded, ContentError> {
    let files = read_files(dir)?;
    let hash = fingerprint(&files);
    let corpus = parse_files(&files).map_err(ContentError::Invalid)?;
    Ok(Loaded { corpus, hash })
}

/// Reads the content files of a `messages/` directory as (relative name, text) pairs, in a
/// stable order, without parsing them.
pub fn read_files(dir: &Path) -> Result<Vec<(String, String)>, ContentError> {
    let mut files = Vec::new();
    let statements_dir = dir.join("statements");
    let mut names: Vec<PathBuf> = read_dir(&statements_dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    names.sort();
    for path in names {
        files.push((format!("statements/{}", file_name(&path)), read(&path)?));
    }
    for name in ["slogans.toml", "prisoners.toml"] {
        files.push((name.to_string(), read(&dir.join(name))?));
    }
    for lang in Lang::ALL {
        let name = format!("ui/{}.toml", lang.code());
        let text = read(&dir.join(&name))?;
        files.push((name, text));
    }
    Ok(files)
}

/// Parses one statement file on its own (its cross-references are checked with the rest).
pub fn parse_statement_file(name: &str, text: &str) -> Result<Statement, Vec<Problem>> {
    let mut problems = Vec::new();
    match parse_statement(name, text, &mut problems) {
        Some(statement) if problems.is_empty() => Ok(statement),
        _ => Err(problems),
    }
}

/// Parses content given as (relative file name, text) pairs, in the layout of `messages/`.
pub fn parse_files(files: &[(String, String)]) -> Result<Corpus, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut statements = Vec::new();
    for (name, text) in files.iter().filter(|(n, _)| n.starts_with("statements/")) {
        if let Some(s) = parse_statement(name, text, &mut problems) {
            if statements.iter().any(|o: &Statement| o.id == s.id) {
                problems.push(problem(name, 2, format!("duplicate statement id {:?}", s.id)));
            } else {
                statements.push(s);
            }
        }
    }
    // Oldest first: the order of `/statements` and of `/read <number>`.
    statements.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    if statements.is_empty() && problems.is_empty() {
        problems.push(problem("statements/", 1, "no statements found (expected *.md files)"));
    }
    let find = |name: &str| files.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str());
    let slogans = match find("slogans.toml") {
        Some(text) => parse_slogans(text, &statements, &mut problems),
        None => {
            problems.push(problem("slogans.toml", 1, "file is missing"));
            Vec::new()
        }
    };
    let prisoners = match find("prisoners.toml") {
        Some(text) => parse_prisoners(text, &statements, &mut problems),
        None => {
            problems.push(problem("prisoners.toml", 1, "file is missing"));
            Vec::new()
        }
    };
    let ui = parse_ui(&find, &mut problems);
    if problems.is_empty() {
        Ok(Corpus { statements, slogans, prisoners, ui })
    } else {
        Err(problems)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: String,
    kind: StatementKind,
    organisation: String,
    date: String,
    #[serde(default)]
    date_approximate: bool,
    date_note: Option<String>,
    source: String,
    original_language: Option<String>,
    title: BTreeMap<String, String>,
}

fn parse_statement(file: &str, text: &str, problems: &mut Vec<Problem>) -> Option<Statement> {
    let text = text.replace("\r\n", "\n");
    let mut lines = text.split('\n').enumerate();
    if lines.next().map(|(_, l)| l.trim()) != Some("+++") {
        problems.push(problem(file, 1, "expected front matter starting with a line `+++`"));
        return None;
    }
    let Some((end, _)) = lines.find(|(_, l)| l.trim() == "+++") else {
        problems.push(problem(file, 1, "front matter is not closed by a line `+++`"));
        return None;
    };
    let all: Vec<&str> = text.split('\n').collect();
    let front = all[1..end].join("\n");
    let meta: FrontMatter = match toml::from_str(&front) {
        Ok(meta) => meta,
        Err(e) => {
            problems.push(toml_problem(file, &front, 2, &e));
            return None;
        }
    };
    let before = problems.len();
    let line_of = |key: &str| {
        all[1..end].iter().position(|l| l.trim_start().starts_with(key)).map_or(2, |i| i + 2)
    };
    check_id(file, line_of("id"), &meta.id, problems);
    let date =
        parse_date(&meta.date).map_err(|m| problems.push(problem(file, line_of("date"), m))).ok();
    let mut titles = BTreeMap::new();
    for (code, title) in &meta.title {
        match Lang::parse(code).filter(|l| l.code() == code) {
            Some(lang) if !title.trim().is_empty() => {
                titles.insert(lang, title.trim().to_string());
            }
            Some(_) => problems.push(problem(file, line_of(code), "empty title")),
            None => problems.push(problem(file, line_of(code), unknown_lang(code))),
        }
    }
    let texts = parse_body(file, &all, end + 1, problems);
    let original_language = match &meta.original_language {
        None => texts.keys().next().copied().unwrap_or(Lang::En),
        Some(code) => match Lang::parse(code).filter(|l| l.code() == code) {
            Some(lang) => lang,
            None => {
                problems.push(problem(file, line_of("original_language"), unknown_lang(code)));
                Lang::En
            }
        },
    };
    if texts.is_empty() {
        problems.push(problem(
            file,
            end + 1,
            "no text: add a `=== en ===` section with paragraphs",
        ));
    } else if !texts.contains_key(&original_language) {
        let message = format!(
            "original_language {original_language} has no `=== {original_language} ===` section"
        );
        problems.push(problem(file, line_of("original_language"), message));
    }
    if titles.is_empty() {
        problems.push(problem(
            file,
            line_of("[title]"),
            "no title: add a [title] table with `en = \"...\"`",
        ));
    }
    for (field, value) in [("organisation", &meta.organisation), ("source", &meta.source)] {
        if value.trim().is_empty() {
            problems.push(problem(file, line_of(field), format!("{field} is empty")));
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Statement {
        id: meta.id,
        kind: meta.kind,
        organisation: meta.organisation.trim().to_string(),
        date: date?,
        date_approximate: meta.date_approximate,
        date_note: meta.date_note.filter(|n| !n.trim().is_empty()),
        source: meta.source.trim().to_string(),
        original_language,
        titles,
        texts,
    })
}

/// Splits the body into `=== xx ===` sections of paragraphs. Lines of one paragraph are joined
/// with a space: line breaks inside a paragraph are wrapping, not content.
fn parse_body(
    file: &str,
    lines: &[&str],
    start: usize,
    problems: &mut Vec<Problem>,
) -> BTreeMap<Lang, Vec<Paragraph>> {
    let mut texts: BTreeMap<Lang, Vec<Paragraph>> = BTreeMap::new();
    let mut current: Option<Lang> = None;
    let mut para: Vec<&str> = Vec::new();
    let flush =
        |lang: Option<Lang>, para: &mut Vec<&str>, texts: &mut BTreeMap<Lang, Vec<Paragraph>>| {
            if let (Some(lang), false) = (lang, para.is_empty()) {
                let joined = para.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
                let (heading, text) = match joined.strip_prefix("# ") {
                    Some(rest) => (true, rest.trim().to_string()),
                    None => (false, joined),
                };
                texts.entry(lang).or_default().push(Paragraph { text, heading });
            }
            para.clear();
        };
    for (i, line) in lines.iter().enumerate().skip(start) {
        let trimmed = line.trim();
        if let Some(code) = trimmed.strip_prefix("===").and_then(|r| r.strip_suffix("===")) {
            flush(current, &mut para, &mut texts);
            let code = code.trim();
            match Lang::parse(code).filter(|l| l.code() == code) {
                Some(lang) if texts.contains_key(&lang) => {
                    problems.push(problem(file, i + 1, format!("second `=== {code} ===` section")));
                    current = None;
                }
                Some(lang) => {
                    texts.insert(lang, Vec::new());
                    current = Some(lang);
                }
                None => {
                    problems.push(problem(file, i + 1, unknown_lang(code)));
                    current = None;
                }
            }
        } else if trimmed.is_empty() {
            flush(current, &mut para, &mut texts);
        } else if current.is_none() && !texts.is_empty() {
            // Text after an invalid section header: already reported.
        } else if current.is_none() {
            problems.push(problem(file, i + 1, "text before the first `=== xx ===` language line"));
            return texts;
        } else {
            para.push(line);
        }
    }
    flush(current, &mut para, &mut texts);
    for (lang, paragraphs) in &texts {
        if paragraphs.is_empty() {
            problems.push(problem(
                file,
                start + 1,
                format!("section `=== {lang} ===` has no paragraphs"),
            ));
        }
    }
    texts.retain(|_, p| !p.is_empty());
    texts
}

fn check_id(file: &str, line: usize, id: &str, problems: &mut Vec<Problem>) {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        let message =
            format!("bad id {id:?}: use 1 to {MAX_ID_LEN} lowercase letters, digits and dashes");
        problems.push(problem(file, line, message));
    }
}

/// The line of `field` within the `index`-th `header` table of a TOML file (1-based).
fn entry_line(text: &str, header: &str, index: usize, field: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| l.trim() == header).map(|(i, _)| i).collect();
    let Some(&start) = starts.get(index) else { return 1 };
    let end = starts.get(index + 1).copied().unwrap_or(lines.len());
    (start..end)
        .find(|&i| {
            lines[i]
                .trim_start()
                .strip_prefix(field)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .unwrap_or(start)
        + 1
}

fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

fn toml_problem(file: &str, text: &str, first_line: usize, e: &toml::de::Error) -> Problem {
    let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].matches('\n').count());
    let message = e.message().trim().to_string();
    problem(file, first_line + line, message)
}

fn problem(file: &str, line: usize, message: impl Into<String>) -> Problem {
    Problem { file: file.to_string(), line, message: message.into() }
}

fn unknown_lang(code: &str) -> String {
    format!("unknown language {code:?} (use en, ru or az)")
}

fn unknown_statement(id: &str) -> String {
    format!("no statement with id {id:?}")
}

/// A fingerprint of content files (FNV-1a over names and bytes; not cryptographic).
pub fn fingerprint(files: &[(String, String)]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, text) in files {
        for byte in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, ContentError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|source| ContentError::Io { path: dir.to_path_buf(), source })?;
    Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
}

fn read(path: &Path) -> Result<String, ContentError> {
    std::fs::read_to_string(path)
        .map_err(|source| ContentError::Io { path: path.to_path_buf(), source })
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests;
