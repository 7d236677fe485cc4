//! The Python peers of the fan-out bench: `python_broadcast.py` beside this file, run in a
//! virtual environment under `target/bench-venv` with the exact versions of
//! `requirements.txt`, installed from PyPI the first time and again only when that file
//! changes. `PythonPeer`'s methods block (pip, the subprocess); `python_fanout` runs them
//! off the runtime, so the emulator in this process keeps answering.

use crate::{BoxError, DIGEST, FIRST_CHAT, Sent, measure::Figures, measured};
use serde_json::Value;
use std::{
    env,
    fs::{self, File},
    io::{Read, Seek},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use telegram_bot_api_emulator::Limits as EmulatorLimits;

/// A venv with the pinned packages installed, and the script to run in it.
#[derive(Clone)]
pub struct PythonPeer {
    python: PathBuf,
    script: PathBuf,
}

/// Which peer, set up how.
#[derive(Clone, Copy)]
pub enum Peer {
    /// aiogram 3, awaiting each send and sleeping `interval` seconds after it (0: no sleep).
    Aiogram { interval: f64 },
    /// python-telegram-bot, with its packaged `AIORateLimiter` or without one.
    Ptb { limiter: bool },
}

/// Where the bench is told to send: the emulator, its chats and the message.
struct Job<'a> {
    api: &'a str,
    token: &'a str,
    first_chat: i64,
    count: usize,
    text: &'a str,
    timeout: Duration,
}

const VENV: &str = "bench-venv";
/// Written into the venv after a successful install: the requirements it was made from.
const STAMP: &str = "tribune-requirements.txt";

impl PythonPeer {
    /// The venv ready to run, or why it cannot be: no python3, no venv module, pip failed.
    pub fn prepare() -> Result<PythonPeer, String> {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers");
        let requirements = here.join("requirements.txt");
        let wanted = fs::read_to_string(&requirements)
            .map_err(|e| format!("{} unreadable: {e}", requirements.display()))?;
        let python3 = env::var("FANOUT_PYTHON").unwrap_or_else(|_| "python3".into());
        let venv = target_dir().join(VENV);
        let python = venv.join("bin/python");
        if !python.exists() {
            run(Command::new(&python3).arg("-m").arg("venv").arg(&venv), "python3 -m venv")?;
        }
        let stamp = venv.join(STAMP);
        if fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            eprintln!(
                "fanout: installing the Python peers' pinned packages into {}",
                venv.display()
            );
            run(
                Command::new(&python)
                    .args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r"])
                    .arg(&requirements),
                "pip install -r benches/peers/requirements.txt",
            )?;
            fs::write(&stamp, &wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
        }
        Ok(PythonPeer { python, script: here.join("python_broadcast.py") })
    }

    /// Runs one broadcast and returns the script's own report (one JSON object), or what
    /// went wrong. The process is killed if it outlives `job.timeout`.
    fn broadcast(&self, peer: Peer, job: &Job) -> Result<Value, String> {
        let mut command = Command::new(&self.python);
        command.arg(&self.script);
        match peer {
            Peer::Aiogram { interval } => {
                command.args(["--peer", "aiogram", "--interval", &interval.to_string()])
            }
            Peer::Ptb { limiter: true } => command.args(["--peer", "ptb"]),
            Peer::Ptb { limiter: false } => command.args(["--peer", "ptb", "--no-limiter"]),
        };
        command
            .args(["--api", job.api, "--token", job.token, "--text", job.text])
            .args(["--first-chat", &job.first_chat.to_string()])
            .args(["--count", &job.count.to_string()]);
        // It exits 1 when a send failed, with its report all the same.
        let (stdout, stderr) = run_with_timeout(&mut command, job.timeout)?;
        let report = stdout.lines().rev().find_map(|l| serde_json::from_str::<Value>(l).ok());
        report.ok_or_else(|| format!("no report; stderr ends: {}", tail(&stderr)))
    }
}

/// A Python peer (`benches/peers`) broadcasting DIGEST to `n` chats from its own process.
pub async fn python_fanout(
    python: &PythonPeer,
    peer: Peer,
    limits: EmulatorLimits,
    n: usize,
) -> Result<Figures, BoxError> {
    let python = python.clone();
    measured(limits, n, |emulator| async move {
        let broadcast = tokio::task::spawn_blocking(move || {
            let job = Job {
                api: &emulator.api_url(),
                token: emulator.token(),
                first_chat: FIRST_CHAT,
                count: n,
                text: DIGEST,
                timeout: Duration::from_secs_f64(120.0 + 2.0 * n as f64 / 30.0),
            };
            python.broadcast(peer, &job)
        });
        Ok(match broadcast.await? {
            Ok(report) => Sent { finished: true, note: Some(script_says(&report)) },
            Err(why) => {
                Sent { finished: false, note: Some(format!("the Python peer failed: {why}")) }
            }
        })
    })
    .await
}

/// The script's own account, beside the emulator's.
fn script_says(report: &Value) -> String {
    let field = |k: &str| report.get(k).map_or("?".to_string(), |v| v.to_string());
    let text = |k: &str| report.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let mut line = format!(
        "{} ({}), by its own count: sent {}/{}, {} × 429 waited out, {} failed, {} s in all",
        text("peer"),
        text("mode"),
        field("sent"),
        field("asked"),
        field("retry_after"),
        field("failed"),
        field("seconds"),
    );
    if let Some(first) = report.get("errors").and_then(|e| e.get(0)).and_then(|e| e.as_str()) {
        line.push_str(&format!("; first error: {first}"));
    }
    line
}

/// `CARGO_TARGET_DIR` when set, else the crate's `target/`.
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Runs a setup step to the end; its error output becomes the reason for skipping.
fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}",
        output.status,
        tail(&String::from_utf8_lossy(&output.stderr))
    ))
}

/// Runs `command` with its output in temporary files (no pipe to fill and block it),
/// killing it after `timeout`. (stdout, stderr).
fn run_with_timeout(command: &mut Command, timeout: Duration) -> Result<(String, String), String> {
    let io = |e: std::io::Error| format!("running the Python peer: {e}");
    let (mut out, mut err) = (tempfile::tempfile().map_err(io)?, tempfile::tempfile().map_err(io)?);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(io)?)
        .stderr(err.try_clone().map_err(io)?)
        .spawn()
        .map_err(io)?;
    let deadline = Instant::now() + timeout;
    let exited = loop {
        if child.try_wait().map_err(io)?.is_some() {
            break true;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |file: &mut File| {
        let mut text = String::new();
        file.rewind().and_then(|()| file.read_to_string(&mut text)).map(|_| text)
    };
    let (stdout, stderr) = (read(&mut out).map_err(io)?, read(&mut err).map_err(io)?);
    if exited {
        Ok((stdout, stderr))
    } else {
        Err(format!("killed after {} s; stderr ends: {}", timeout.as_secs(), tail(&stderr)))
    }
}

/// The last non-empty line, which is where Python and pip say what went wrong.
fn tail(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(nothing)").trim().to_string()
}
