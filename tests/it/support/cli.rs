//! The real binary, run as an operator would: `tribune(&[...])` builds one run of
//! `tribune <subcommand>`, `serve(emulator, data)` one `tribune serve` against an emulator.
//!
//! Every run starts from a clean environment: no `TRIBUNE_*` or `TELOXIDE_*` variable of the
//! test's own environment, no `.env` (it runs in the system's temporary directory, and
//! dotenvy looks in the working directory and its parents), the repository's `messages/`,
//! `RUST_LOG=warn`, the public test key in `TRIBUNE_KEY_FILE`. The test says the rest with `.data()`, `.env()`, `.stdin()`.
//! A spawned process logs (stdout and stderr) into a file, read with [`Process::log`], and
//! is killed if the test ends early.

use super::{gate, messages_dir};
use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::Arc,
    time::Duration,
};
use telegram_bot_api_emulator::Emulator;

/// One run of `tribune <args>` being put together.
pub struct Cli {
    command: Command,
    stdin: Option<Vec<u8>>,
    log: Option<PathBuf>,
    metrics: Option<String>,
}

/// `tribune <args>` in a clean environment (see the module's docs).
pub fn tribune(args: &[&str]) -> Cli {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tribune"));
    command.args(args).current_dir(std::env::temp_dir());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("TRIBUNE_") || name.starts_with("TELOXIDE_") {
            command.env_remove(name.as_ref());
        }
    }
    // The public test key (`TRIBUNE_KEY_FILE`): a test about keys removes or replaces it.
    command
        .env("TRIBUNE_MESSAGES_DIR", messages_dir())
        .env("TRIBUNE_KEY_FILE", super::test_key_file())
        .env("RUST_LOG", "warn");
    Cli { command, stdin: None, log: None, metrics: None }
}

/// `tribune serve` against `emulator` on the data directory `data`, with a 1 s long poll.
pub fn serve(emulator: &Emulator, data: &Path) -> Cli {
    tribune(&["serve"]).bot_api(emulator).data(data).env("TRIBUNE_POLL_TIMEOUT_SECS", "1")
}

impl Cli {
    /// `TRIBUNE_DATA_DIR`.
    pub fn data(self, dir: &Path) -> Cli {
        self.env("TRIBUNE_DATA_DIR", dir)
    }

    /// `TRIBUNE_MESSAGES_DIR` (the repository's `messages/` unless this is said).
    pub fn messages(self, dir: &Path) -> Cli {
        self.env("TRIBUNE_MESSAGES_DIR", dir)
    }

    /// The emulator's token and address (`TELOXIDE_TOKEN`, `TELOXIDE_API_URL`).
    pub fn bot_api(self, emulator: &Emulator) -> Cli {
        self.env("TELOXIDE_TOKEN", emulator.token()).env("TELOXIDE_API_URL", emulator.api_url())
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Cli {
        self.command.env(name, value);
        self
    }

    pub fn env_remove(mut self, name: &str) -> Cli {
        self.command.env_remove(name);
        self
    }

    /// What the process reads on stdin (nothing, else).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cli {
        self.stdin = Some(bytes.into());
        self
    }

    /// Serves `/metrics` on a free loopback port (`TRIBUNE_METRICS_ADDR`), which
    /// [`Process::metric`] reads: how a test sees inside a running `serve`.
    pub fn metrics(mut self) -> Cli {
        let address = format!("127.0.0.1:{}", free_port());
        self.metrics = Some(address.clone());
        self.env("TRIBUNE_METRICS_ADDR", address)
    }

    /// Where a spawned process logs (a temporary file, else).
    pub fn log(mut self, path: &Path) -> Cli {
        self.log = Some(path.to_path_buf());
        self
    }

    /// Runs to the end; what it printed and how it exited.
    pub fn run(mut self) -> Run {
        self.command
            .stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("run tribune");
        if let Some(bytes) = self.stdin.take() {
            let mut stdin = child.stdin.take().expect("a stdin pipe");
            // A process that exits without reading all of it is not this helper's failure.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let output = child.wait_with_output().expect("wait for tribune");
        Run {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// [`Cli::run`] off the async runtime's threads (for tests whose bot runs meanwhile).
    pub async fn run_async(self) -> Run {
        tokio::task::spawn_blocking(move || self.run()).await.expect("a tribune run")
    }

    /// Starts it and returns at once. The process holds the CPU gate shared (see `gate`).
    pub fn spawn(mut self) -> Process {
        let pass = gate::shared();
        let (log, temp) = match self.log.take() {
            Some(path) => (path, None),
            None => {
                let temp = tempfile::tempdir().expect("a directory for the log");
                (temp.path().join("tribune.log"), Some(temp))
            }
        };
        let file = std::fs::File::create(&log).expect("the log file");
        let stdin = match self.stdin {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        };
        let mut child = self
            .command
            .stdin(stdin)
            .stdout(file.try_clone().expect("the log file"))
            .stderr(file)
            .spawn()
            .expect("start tribune");
        if let Some(bytes) = self.stdin.take() {
            let mut stdin = child.stdin.take().expect("a stdin pipe");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        Process { child, log, metrics: self.metrics, _temp: temp, _pass: pass }
    }
}

/// How a finished run ended, and what it printed.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the run succeeded (showing stderr if not); its stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(self.status.success(), "tribune failed ({}): {}", self.status, self.stderr);
        &self.stdout
    }

    /// Asserts the run failed with status `code`; its stderr.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.status.code(),
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stderr
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// A running `tribune` (usually `serve`), killed if the test ends early, so a failing test
/// never leaves a bot running.
pub struct Process {
    child: Child,
    log: PathBuf,
    metrics: Option<String>,
    _temp: Option<tempfile::TempDir>,
    _pass: Arc<gate::Pass>,
}

impl Process {
    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address of its `/health` and `/metrics` (started with [`Cli::metrics`]).
    pub fn metrics_address(&self) -> &str {
        self.metrics.as_deref().expect("started with .metrics()")
    }

    /// Where it logs.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The value of one sample of its `/metrics` (e.g. `tribune_outbox_depth`), if it
    /// answers (started with [`Cli::metrics`]).
    pub async fn metric(&self, sample: &str) -> Option<u64> {
        let address = self.metrics.as_ref().expect("started with .metrics()");
        let text =
            reqwest::get(format!("http://{address}/metrics")).await.ok()?.text().await.ok()?;
        text.lines().find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits (at most `timeout`) until the sample `sample` of its `/metrics` satisfies `holds`.
    pub async fn wait_metric(&self, sample: &str, timeout: Duration, holds: impl Fn(u64) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let value = self.metric(sample).await;
            if value.is_some_and(&holds) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sample} is {value:?} after {timeout:?}; the process logged:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (it has not exited, crashed or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits (at most `timeout`) for it to exit by itself; its exit status.
    pub async fn exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the process did not exit within {timeout:?}; it logged:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (at most `timeout`) for the process to exit; its exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.signal("TERM", timeout).await
    }

    /// Sends the signal `name` ("TERM", "INT", as `kill -NAME` takes it), then waits (at most
    /// `timeout`) for the process to exit; its exit status.
    pub async fn signal(&mut self, name: &str, timeout: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([&format!("-{name}"), &pid]).status().expect("kill");
        assert!(sent.success(), "could not send SIG{name}");
        self.exit(timeout).await
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// A loopback port nobody listens on now (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
