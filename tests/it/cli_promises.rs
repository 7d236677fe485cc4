//! Promises about the `tribune` command itself that had no test (issue 15): `tribune --help`
//! lists every subcommand with its one line, `demo --lang ru|az` speaks that language from
//! its first screen, and a failed export leaves nothing behind.

use crate::support::{TIMEOUT, eventually, messages_dir};
use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};
use telegram_bot_api_emulator::Emulator;

fn tribune() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tribune"));
    command.env("RUST_LOG", "error").env_remove("TELOXIDE_TOKEN");
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// README: "`tribune --help` explains each" subcommand.
#[test]
fn help_lists_every_subcommand_with_its_line() {
    let output = tribune().arg("--help").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let help = stdout(&output);
    let commands: Vec<(String, String)> = help
        .split("Commands:")
        .nth(1)
        .expect("a list of commands")
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let (name, line) = l.trim().split_once(char::is_whitespace)?;
            Some((name.to_string(), line.trim().to_string()))
        })
        .collect();
    let names: Vec<&str> = commands.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "serve", "demo", "check", "import", "doctor", "export", "backup", "restore", "compact",
            "keygen", "rekey", "help"
        ],
        "{help}"
    );
    for (name, line) in &commands {
        assert!(line.len() >= 20, "`{name}` has no explanation: {line:?}\n{help}");
    }
    let line = |name: &str| &commands.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(line("serve").contains("TELOXIDE_TOKEN"), "{help}");
    assert!(line("demo").contains("no token"), "{help}");
    assert!(line("export").contains("messages/"), "{help}");
    // Each subcommand explains its own options.
    let export = tribune().args(["export", "--help"]).output().unwrap();
    assert!(stdout(&export).contains("--force"), "{}", stdout(&export));
    let demo = tribune().args(["demo", "--help"]).output().unwrap();
    assert!(stdout(&demo).contains("en, ru or az"), "{}", stdout(&demo));
}

/// Runs `tribune demo --lang <lang>`, types `/start`, presses the fourth button and quits.
fn demo(lang: &str) -> String {
    let mut child = tribune()
        .args(["demo", "--lang", lang])
        .env("TRIBUNE_MESSAGES_DIR", messages_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tribune demo");
    child.stdin.take().unwrap().write_all(b"/start\n4\n/quit\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}\n{}", stdout(&output), stderr(&output));
    stdout(&output)
}

/// README: `demo --lang ru` or `--lang az` makes you a Russian or Azerbaijani reader.
#[test]
fn the_demo_speaks_russian_and_azerbaijani() {
    let russian = demo("ru");
    assert!(russian.contains("публикует заявления активистских организаций"), "{russian}");
    assert!(
        russian
            .contains("[1] 📜 Фрагмент  [2] ✊ Лозунг  [3] ⛓ Политзаключённые  [4] 📚 Заявления"),
        "{russian}"
    );
    assert!(russian.contains("Заявления (3)"), "pressing 4 opened the list: {russian}");
    assert!(!russian.contains("Tribune carries the statements"), "{russian}");

    let azerbaijani = demo("az");
    assert!(azerbaijani.contains("aktivist təşkilatların bəyanatlarını"), "{azerbaijani}");
    assert!(azerbaijani.contains("[1] 📜 Parça  [2] ✊ Şüar"), "{azerbaijani}");
    assert!(azerbaijani.contains("Bəyanatlar (3)"), "{azerbaijani}");

    let unknown = tribune().args(["demo", "--lang", "fr"]).output().unwrap();
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("use en, ru or az"), "{}", stderr(&unknown));
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        let relative = entry.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        found.push((relative, std::fs::read(&entry).unwrap()));
    }
    found.sort();
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}

/// `tribune export <args>` on the store in `data`, its files limited to `max_kb` KB each
/// (`ulimit -f`, with SIGXFSZ ignored so that a write past it fails instead of killing the
/// process): a disk that fills up half way through.
fn export_limited(data: &Path, max_kb: u32, args: &[&str]) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {} && exec \"$0\" \"$@\"", max_kb * 2))
        .arg(env!("CARGO_BIN_EXE_tribune"))
        .arg("export")
        .args(args)
        .env("TRIBUNE_DATA_DIR", data)
        .env("TRIBUNE_MESSAGES_DIR", messages_dir())
        .env("RUST_LOG", "error");
    command.output().unwrap()
}

/// README: "The files are written to a temporary directory and renamed into place, so a
/// failed export leaves nothing half-written." An export that runs out of space half way
/// leaves no directory and no temporary files; one that replaces an earlier export with
/// `--force` leaves the earlier one whole; one onto a file refuses and leaves the file.
/// `serve` runs, so the export takes the content through its socket and only writes files
/// (opened by the export itself, the store would meet the file size limit first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_leaves_nothing_behind() {
    let emulator = Emulator::start().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let _serve = crate::support::serve(&emulator, &data).spawn();
    eventually(TIMEOUT, "serve listens on its socket", || data.join("tribune.sock").exists()).await;
    let out = root.path().join("exports");
    std::fs::create_dir(&out).unwrap();
    let target = out.join("messages");

    // The disk fills up while the files are written.
    let failed = export_limited(&data, 4, &[target.to_str().unwrap()]);
    assert!(!failed.status.success(), "{}", stdout(&failed));
    assert!(stderr(&failed).contains("File too large"), "{}", stderr(&failed));
    assert_eq!(names(&out), Vec::<String>::new(), "nothing half-written is left");

    // An earlier export, replaced with --force by one that fails: the earlier stays whole.
    let done = export_limited(&data, 1024, &[target.to_str().unwrap()]);
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(stdout(&done).contains("from the running Tribune"), "{}", stdout(&done));
    let before = tree(&target);
    assert!(before.len() >= 8, "{before:?}");
    let failed = export_limited(&data, 4, &["--force", target.to_str().unwrap()]);
    assert!(!failed.status.success());
    assert!(stderr(&failed).contains("File too large"), "{}", stderr(&failed));
    assert_eq!(names(&out), ["messages"], "no temporary directory is left");
    assert_eq!(tree(&target), before, "the earlier export is untouched");

    // The target collides with a file: refused, the file kept, nothing else written.
    let file = out.join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    let refused = export_limited(&data, 1024, &[file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("notes.txt"), "{}", stderr(&refused));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert_eq!(names(&out), ["messages", "notes.txt"]);
    emulator.shutdown().await;
}
