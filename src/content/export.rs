//! Writing a [`Corpus`] back in the layout of `messages/`, so that `tribune export` can hand
//! operators the content the store serves (with any edits made from Telegram) as files.
//!
//! The output is deterministic (same corpus, same bytes) and parses back into an equal corpus.
//! A value the file format cannot carry (a paragraph with a line break, a non-heading paragraph
//! that starts with `# `) is refused with an error rather than written in a way that would
//! read back differently.

use super::{Corpus, Lang, Paragraph, Prisoner, Slogan, Statement, StatementKind};
use std::{
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "{0} is not empty: export into an empty or new directory, or pass --force to replace it"
    )]
    NotEmpty(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the content cannot be written as files without changing it: {0}")]
    Unrepresentable(String),
}

/// The files of `messages/` for `corpus`, as (relative path, text) pairs, in a fixed order.
pub fn to_files(corpus: &Corpus) -> Result<Vec<(String, String)>, ExportError> {
    let mut files = Vec::new();
    for statement in &corpus.statements {
        files.push((format!("statements/{}.md", statement.id), statement_file(statement)?));
    }
    files.push(("slogans.toml".into(), slogans_file(&corpus.slogans)));
    files.push(("prisoners.toml".into(), prisoners_file(&corpus.prisoners)));
    for lang in Lang::ALL {
        let mut text = String::new();
        for key in corpus.ui.keys(lang) {
            let _ =
                writeln!(text, "{} = {}", toml_string(key), toml_string(corpus.ui.get(lang, key)));
        }
        files.push((format!("ui/{}.toml", lang.code()), text));
    }
    Ok(files)
}

/// Writes `corpus` into `dir` as `messages/` files. The files are written to a temporary
/// directory beside `dir`, synced, and renamed into place, so a failure never leaves half an
/// export. A non-empty `dir` is refused unless `force`, which replaces it whole.
pub fn write_dir(corpus: &Corpus, dir: &Path, force: bool) -> Result<usize, ExportError> {
    let files = to_files(corpus)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    let occupied = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io(dir)(e)),
    };
    if occupied && !force {
        return Err(ExportError::NotEmpty(dir.to_path_buf()));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let temp = tempfile::Builder::new()
        .prefix(".tribune-export-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    for (name, text) in &files {
        let path = temp.path().join(name);
        if let Some(sub) = path.parent() {
            std::fs::create_dir_all(sub).map_err(io(sub))?;
        }
        let mut file = std::fs::File::create(&path).map_err(io(&path))?;
        file.write_all(text.as_bytes()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
    }
    // Move the old directory aside first, so that at every moment `dir` is either the old
    // content or the complete new one.
    let aside =
        occupied.then(|| parent.join(format!(".tribune-export-old-{}", std::process::id())));
    if let Some(aside) = &aside {
        std::fs::rename(dir, aside).map_err(io(dir))?;
    } else if dir.exists() {
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    let temp = temp.keep();
    if let Err(e) = std::fs::rename(&temp, dir) {
        if let Some(aside) = &aside {
            let _ = std::fs::rename(aside, dir);
        }
        let _ = std::fs::remove_dir_all(&temp);
        return Err(io(dir)(e));
    }
    if let Some(aside) = aside {
        std::fs::remove_dir_all(&aside).map_err(io(&aside))?;
    }
    if let Ok(parent_dir) = std::fs::File::open(&parent) {
        let _ = parent_dir.sync_all();
    }
    Ok(files.len())
}

fn statement_file(s: &Statement) -> Result<String, ExportError> {
    let mut out = String::from("+++\n");
    let _ = writeln!(out, "id = {}", toml_string(&s.id));
    let _ = writeln!(out, "kind = {}", toml_string(kind_code(s.kind)));
    let _ = writeln!(out, "organisation = {}", toml_string(&s.organisation));
    let _ = writeln!(out, "date = {}", toml_string(&s.date.to_string()));
    if s.date_approximate {
        out.push_str("date_approximate = true\n");
    }
    if let Some(note) = &s.date_note {
        let _ = writeln!(out, "date_note = {}", toml_string(note));
    }
    let _ = writeln!(out, "source = {}", toml_string(&s.source));
    let _ = writeln!(out, "original_language = {}", toml_string(s.original_language.code()));
    out.push_str("\n[title]\n");
    for (lang, title) in &s.titles {
        let _ = writeln!(out, "{} = {}", lang.code(), toml_string(title));
    }
    out.push_str("+++\n");
    for (lang, paragraphs) in &s.texts {
        let _ = write!(out, "\n=== {lang} ===\n");
        for paragraph in paragraphs {
            out.push('\n');
            out.push_str(&paragraph_line(&s.id, *lang, paragraph)?);
            out.push('\n');
        }
    }
    Ok(out)
}

/// One paragraph as the single line that parses back to it.
fn paragraph_line(id: &str, lang: Lang, p: &Paragraph) -> Result<String, ExportError> {
    let text = p.text.as_str();
    let bad = |why: &str| {
        let shown: String = text.chars().take(40).collect();
        ExportError::Unrepresentable(format!(
            "statement {id:?} ({lang}), paragraph {shown:?}: {why}"
        ))
    };
    if text.is_empty() || text.trim() != text {
        return Err(bad("it is empty or starts or ends with spaces"));
    }
    if text.contains(['\n', '\r']) {
        return Err(bad("it holds a line break"));
    }
    if text.starts_with("===") && text.ends_with("===") {
        return Err(bad("it reads as a `=== xx ===` language line"));
    }
    if p.heading {
        Ok(format!("# {text}"))
    } else if text.starts_with("# ") {
        Err(bad("it starts with `# ` but is not a heading"))
    } else {
        Ok(text.to_string())
    }
}

fn slogans_file(slogans: &[Slogan]) -> String {
    let mut out = String::from(
        "# Slogans: the closing exclamations of the statements, word for word.\n\
         # Each names the statement it comes from; `tribune check` verifies the text appears in it.\n",
    );
    for s in slogans {
        out.push('\n');
        out.push_str(&slogan_entry(s));
    }
    out
}

/// One `[[slogan]]` entry of `slogans.toml`.
pub(super) fn slogan_entry(s: &Slogan) -> String {
    let mut out = String::from("[[slogan]]\n");
    let _ = writeln!(out, "id = {}", toml_string(&s.id));
    let _ = writeln!(out, "statement = {}", toml_string(&s.statement));
    let _ = writeln!(out, "lang = {}", toml_string(s.lang.code()));
    let _ = writeln!(out, "text = {}", toml_string(&s.text));
    out
}

fn prisoners_file(prisoners: &[Prisoner]) -> String {
    let mut out = String::from(
        "# Political prisoners named by the statements.\n\
         # status: imprisoned | released | sentenced | transferred | unknown;\n\
         # group: courier-union | journalist | politician | activist.\n",
    );
    for p in prisoners {
        out.push_str("\n[[prisoner]]\n");
        let _ = writeln!(out, "id = {}", toml_string(&p.id));
        if let Some(name) = &p.name {
            let _ = writeln!(out, "name = {}", toml_string(name));
        }
        if !p.aliases.is_empty() {
            let aliases: Vec<String> = p.aliases.iter().map(|a| toml_string(a)).collect();
            let _ = writeln!(out, "aliases = [{}]", aliases.join(", "));
        }
        let _ = writeln!(out, "group = {}", toml_string(p.group.code()));
        let _ = writeln!(out, "affiliation = {}", toml_string(&p.affiliation));
        let _ = writeln!(out, "statement = {}", toml_string(&p.statement));
        let _ = writeln!(out, "quote = {}", toml_string(&p.quote));
        let _ = writeln!(out, "status = {}", toml_string(p.status.code()));
        if let Some(since) = p.since {
            let _ = writeln!(out, "since = {}", toml_string(&since.to_string()));
        }
        if let Some(note) = &p.note {
            let _ = writeln!(out, "note = {}", toml_string(note));
        }
    }
    out
}

fn kind_code(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Declaration => "declaration",
        StatementKind::Speech => "speech",
        StatementKind::Appeal => "appeal",
        StatementKind::Statement => "statement",
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::parse::parse_files;

    fn shipped() -> Corpus {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
        crate::content::load_dir(&dir).expect("the shipped content is valid").corpus
    }

    #[test]
    fn the_shipped_content_reads_back_equal() {
        let corpus = shipped();
        let files = to_files(&corpus).unwrap();
        let back = parse_files(&files).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(back, corpus);
        assert_eq!(to_files(&back).unwrap(), files, "exporting again gives the same bytes");
    }

    #[test]
    fn awkward_strings_survive_the_round_trip() {
        let mut corpus = shipped();
        let awkward = "Quote \"this\", a back\\slash,\ta tab, a bell \u{7} and İ/ə/ё";
        corpus.prisoners[0].note = Some(format!("{awkward}\nsecond line"));
        corpus.statements[0].date_note = Some(awkward.to_string());
        corpus.prisoners[0].aliases = vec!["a\"b".into(), String::new()];
        let back = parse_files(&to_files(&corpus).unwrap()).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(back, corpus);
    }

    #[test]
    fn a_paragraph_the_format_cannot_carry_is_refused() {
        let mut corpus = shipped();
        let first = corpus.statements[0].texts.values_mut().next().unwrap();
        first[1] = Paragraph { text: "# looks like a heading".into(), heading: false };
        let error = to_files(&corpus).unwrap_err().to_string();
        assert!(error.contains("starts with `# ` but is not a heading"), "{error}");
        let first = corpus.statements[0].texts.values_mut().next().unwrap();
        first[1] = Paragraph { text: "two\nlines".into(), heading: false };
        assert!(to_files(&corpus).is_err());
    }

    #[test]
    fn a_non_empty_directory_is_refused_without_force_and_replaced_with_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("stale.txt"), "old").unwrap();
        let corpus = shipped();
        let error = write_dir(&corpus, &dir, false).unwrap_err();
        assert!(matches!(error, ExportError::NotEmpty(_)), "{error}");
        assert!(dir.join("stale.txt").exists(), "nothing was touched");
        write_dir(&corpus, &dir, true).unwrap();
        assert!(!dir.join("stale.txt").exists());
        assert_eq!(crate::content::load_dir(&dir).unwrap().corpus, corpus);
        let leftovers: Vec<_> = std::fs::read_dir(root.path()).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1, "no temporary directory is left beside the export");
    }
}
