//! The deployment files agree with the code: every variable they set is one Tribune reads and
//! documents, the binary and subcommand they start exist, what the Dockerfile copies exists,
//! and the systemd unit keeps its restart limits and sandboxing. `systemd-analyze verify`
//! checks the unit when it is installed.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `KEY=value` settings of the unit, in order (comments and sections skipped).
fn unit_settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect()
}

/// The variables the Dockerfile's `ENV` instructions set (with their continuation lines).
fn dockerfile_env(dockerfile: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_env = false;
    for line in dockerfile.lines() {
        let line = line.trim();
        let rest = match line.strip_prefix("ENV ") {
            Some(rest) => rest,
            None if in_env => line,
            None => continue,
        };
        in_env = rest.ends_with('\\');
        for word in rest.trim_end_matches('\\').split_whitespace() {
            if let Some((name, _)) = word.split_once('=') {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// A variable set by a deployment file must be documented in .env.example and, unless it is
/// the logger's, read in src/config.rs.
fn assert_known(name: &str, source: &str) {
    let example = read(".env.example");
    let config = read("src/config.rs");
    assert!(
        example.lines().any(|l| l.starts_with(&format!("{name}="))),
        "{source} sets {name}, which .env.example does not document"
    );
    assert!(
        name == "RUST_LOG" || config.contains(&format!("\"{name}\"")),
        "{source} sets {name}, which src/config.rs does not read"
    );
}

#[test]
fn the_systemd_unit_sets_known_variables_and_keeps_its_limits_and_sandbox() {
    let unit = read("deploy/tribune.service");
    let settings = unit_settings(&unit);
    let get = |key: &str| {
        settings.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect::<Vec<_>>()
    };
    for value in get("Environment") {
        let (name, _) = value.split_once('=').expect("Environment=NAME=value");
        assert_known(name, "deploy/tribune.service");
    }
    let exec = get("ExecStart");
    assert_eq!(exec.len(), 1);
    let words: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(Path::new(words[0]).file_name().unwrap(), "tribune", "the binary cargo builds");
    assert_eq!(&words[1..], ["serve"]);
    for (key, value) in [
        ("StateDirectory", "tribune"),
        ("Restart", "on-failure"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("KillSignal", "SIGTERM"),
        ("ReadWritePaths", "/var/lib/tribune"),
    ] {
        assert_eq!(get(key), [value], "{key}");
    }
    assert!(get("DynamicUser") == ["yes"] || !get("User").is_empty(), "a dedicated user");
    assert_eq!(get("EnvironmentFile").len(), 1, "the token comes from an environment file");
    let number = |key: &str| get(key).first().and_then(|v| v.parse::<u32>().ok());
    assert!(number("RestartSec").is_some_and(|s| s >= 1));
    assert!(number("StartLimitBurst").is_some_and(|n| (1..=10).contains(&n)));
    assert!(number("StartLimitIntervalSec").is_some_and(|s| s > 0));
    // Shutdown waits for the long poll (10 s by default) and the send grace period (10 s).
    assert!(number("TimeoutStopSec").is_some_and(|s| s >= 25), "room for a clean stop");
    assert!(
        get("Environment").iter().any(|v| v.starts_with("TRIBUNE_DATA_DIR=/var/lib/tribune")),
        "the store lives in the state directory"
    );
}

#[test]
fn the_dockerfile_builds_what_exists_and_runs_serve() {
    let dockerfile = read("deploy/Dockerfile");
    for name in dockerfile_env(&dockerfile) {
        assert_known(&name, "deploy/Dockerfile");
    }
    assert!(dockerfile.contains("FROM rust:1.95-slim-bookworm AS build"));
    assert!(dockerfile.contains("FROM debian:bookworm-slim"));
    assert!(dockerfile.contains("cargo build --release --locked --bin tribune"));
    assert!(dockerfile.contains("COPY --from=build /src/target/release/tribune "));
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/tribune", "serve"]"#));
    assert!(dockerfile.contains("USER tribune"), "not root at run time");
    assert!(dockerfile.contains(r#"VOLUME ["/var/lib/tribune"]"#));
    // Every COPY from the build context names something in the repository.
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            assert!(repo().join(source).exists(), "{line}: {source} does not exist");
        }
    }
    let ignore = read(".dockerignore");
    for never in ["target/", ".env", ".git/", "data/"] {
        assert!(ignore.lines().any(|l| l == never), ".dockerignore leaves out {never}");
    }
}

#[test]
fn the_binary_takes_the_subcommand_the_deploy_files_start() {
    let help = crate::support::tribune(&["serve", "--help"]).run();
    assert!(help.ok().contains("--webhook"), "{}", help.stdout);
}

/// Where systemd-analyze is missing this says so and passes, except under `CI=true`, where
/// it fails: `.ci/run` installs it (Debian's `systemd` package).
#[test]
fn systemd_analyze_verifies_the_unit_when_installed() {
    if let Err(e) = Command::new("systemd-analyze").arg("--version").output() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and systemd-analyze cannot run ({e}): the unit must be verified in CI"
        );
        // On stderr itself: libtest captures the print macros, and a skip must show.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: systemd-analyze is not installed ({e}); the unit was not verified"
        );
        return;
    }
    // verify wants ExecStart to exist: check a copy that starts the binary cargo built.
    let dir = tempfile::tempdir().unwrap();
    let unit = read("deploy/tribune.service")
        .replace("/usr/local/bin/tribune", env!("CARGO_BIN_EXE_tribune"));
    let path = dir.path().join("tribune.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("systemd-analyze verify: status {}, said: {stderr}", output.status);
    // Complaints about the machine's own units are not ours; any line naming our unit is.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("tribune.service")).collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {ours:#?}");
}
