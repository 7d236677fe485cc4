//! `tribune demo` as a newcomer runs it: a terminal chat with the real bot, no token.

use std::{
    io::Write,
    process::{Command, Stdio},
};

#[test]
fn the_demo_answers_in_the_terminal_and_quits() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tribune"))
        .args(["demo", "--lang", "en"])
        .env("TRIBUNE_MESSAGES_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/messages"))
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tribune demo");
    child.stdin.take().unwrap().write_all(b"/start\n4\n/quit\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Tribune carries the statements"), "{stdout}");
    assert!(
        stdout.contains(
            "[1] 📜 Excerpt  [2] ✊ Slogan  [3] ⛓ Political prisoners  [4] 📚 Statements"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Statements (3)"), "pressing 4 opened the list: {stdout}");
}
