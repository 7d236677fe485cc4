//! `tribune demo` as a newcomer runs it: a terminal chat with the real bot, no token.

use crate::support;

#[test]
fn the_demo_answers_in_the_terminal_and_quits() {
    let output = support::tribune(&["demo", "--lang", "en"])
        .env("RUST_LOG", "error")
        .stdin("/start\n4\n/quit\n")
        .run();
    let stdout = output.ok();
    assert!(stdout.contains("Tribune carries the statements"), "{stdout}");
    assert!(
        stdout.contains(
            "[1] 📜 Excerpt  [2] ✊ Slogan  [3] ⛓ Political prisoners  [4] 📚 Statements"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Statements (3)"), "pressing 4 opened the list: {stdout}");
}
