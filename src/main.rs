//! The `tribune` command: serve the bot, try it locally, check, import and export content,
//! back up and restore the store.

mod demo;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
};
use teloxide::Bot;
use tribune::{
    app::{ContentSource, Tribune},
    config::{Config, KeySource, Paths},
    content,
    control::{self, Control},
    delivery::Limits,
    serve::{self, ServeOptions},
    store::{Secret, Store, backup, keyring::Keyring, seal::Key},
};

/// Tribune: a Telegram bot that distributes statements.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bot against Telegram (needs TELOXIDE_TOKEN; see .env.example).
    Serve {
        /// Take updates from Telegram's webhook (behind a reverse proxy) instead of long
        /// polling; needs TRIBUNE_WEBHOOK_URL and TRIBUNE_WEBHOOK_SECRET.
        #[arg(long)]
        webhook: bool,
    },
    /// Try the bot in this terminal, with no token: a local Bot API emulator, the real bot,
    /// and you as one user. Nothing leaves this machine.
    Demo {
        /// Your Telegram language as the bot will see it (en, ru or az).
        #[arg(long, default_value = "en")]
        lang: String,
        /// Keep the demo's data here instead of a temporary directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Validate the content in messages/ and print every problem as file:line: message.
    Check,
    /// Load messages/ into the store now (serve also does this at start when files changed).
    Import,
    /// Check the configuration, the token, the data directory, the content and whether the
    /// Bot API answers, and say in plain words what is wrong.
    Doctor,
    /// Write the content the store serves (with edits made from Telegram) as messages/ files.
    Export {
        /// The directory to write (created; must be empty unless --force).
        dir: PathBuf,
        /// Replace the directory's contents if it is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Write a backup of the whole store (subscribers, settings, outbox, content…) to FILE.
    /// Works while `serve` runs: the running Tribune writes it, at one point in time.
    Backup {
        /// The backup file to write (replaced if it exists; readable only by you).
        file: PathBuf,
    },
    /// Replace the store with a backup. Refused while a Tribune runs on the data directory;
    /// the previous directory is kept as <dir>.before-restore-<timestamp>. Needs the key the
    /// backed-up store was sealed with (TRIBUNE_KEY_FILE or TRIBUNE_PASSPHRASE_FILE).
    Restore {
        /// A file written by `tribune backup`.
        file: PathBuf,
    },
    /// Copy the store into fresh files and delete the old ones, which hold what sled has not
    /// reclaimed (erased records among it). `serve` does this itself when the files have grown
    /// three times; this is for a stopped store.
    Compact,
    /// Write a new random key to FILE (mode 0600) for TRIBUNE_KEY_FILE. Refuses to overwrite a
    /// file, and refuses a place inside the data directory.
    Keygen {
        /// Where to write the key (keep it off the data disk: a tmpfs, systemd's credentials).
        file: PathBuf,
    },
    /// Lock the data directory with another key or passphrase: the keyring is re-wrapped under
    /// NEW_KEY_FILE (or, with --passphrase, the passphrase in that file). Stop serve first.
    Rekey {
        /// The new key file (`tribune keygen` writes one), or passphrase file with --passphrase.
        new: PathBuf,
        #[arg(long)]
        passphrase: bool,
    },
}

fn main() -> ExitCode {
    let _ = tribune::allocator::tune();
    let _ = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Serve { webhook } => serve(webhook).await.map(|()| ExitCode::SUCCESS),
        Cmd::Demo { lang, data_dir } => {
            demo::run(&lang, data_dir).await.map(|()| ExitCode::SUCCESS)
        }
        Cmd::Check => Ok(check()),
        Cmd::Import => import(),
        Cmd::Doctor => Ok(doctor().await),
        Cmd::Export { dir, force } => export(&dir, force).map(|()| ExitCode::SUCCESS),
        Cmd::Backup { file } => backup(&file).map(|()| ExitCode::SUCCESS),
        Cmd::Restore { file } => restore(&file).map(|()| ExitCode::SUCCESS),
        Cmd::Compact => compact().map(|()| ExitCode::SUCCESS),
        Cmd::Keygen { file } => keygen(&file).map(|()| ExitCode::SUCCESS),
        Cmd::Rekey { new, passphrase } => rekey(&new, passphrase).map(|()| ExitCode::SUCCESS),
    }
}

async fn serve(webhook: bool) -> Result<()> {
    // Listen for signals before anything starts: a SIGTERM during start-up then stops the bot
    // cleanly once it is up, instead of killing it with the default action.
    let stop = shutdown_signal();
    quiet_panics();
    let config = Config::from_env()?;
    let webhook = match (webhook, &config.webhook) {
        (true, None) => bail!(
            "serve --webhook needs TRIBUNE_WEBHOOK_URL and TRIBUNE_WEBHOOK_SECRET (see .env.example)"
        ),
        (true, Some(hook)) => Some(hook.clone()),
        (false, Some(_)) => {
            log::info!("TRIBUNE_WEBHOOK_URL is set but --webhook was not given: long polling");
            None
        }
        (false, None) => None,
    };
    let secret = Secret::load(&config.key)?;
    let (app, source) = Tribune::open_keyed(
        &config.data_dir,
        &config.messages_dir,
        &secret,
        tribune::clock::Clock::System,
    )?;
    drop(secret);
    report_source(source);
    let app = Arc::new(app.with_operators(config.admins.clone()).with_retention(config.retention));
    // `tribune backup` reaches the running process through this socket.
    let control = match Control::start(&config.data_dir, app.store().clone()) {
        Ok(control) => Some(control),
        Err(e) => {
            log::error!("{e}; `tribune backup` will not work while this process runs");
            None
        }
    };
    let mut bot = Bot::new(config.token.expose());
    if let Some(url) = &config.api_url {
        bot = bot.set_api_url(url.clone());
    }
    let options = ServeOptions {
        poll_timeout: config.poll_timeout,
        limits: Limits::telegram(f64::from(config.rate_limit), config.paid_broadcast),
        channels: config.channels.clone(),
        webhook,
        intake: serve::intake_config(config.intake),
        shredding: tribune::app::Shredding {
            after_stop: config.shred_after,
            every: config.rotate_every,
        },
        ..ServeOptions::default()
    };
    let handle = serve::start(bot, app.clone(), options)
        .await
        .context("cannot reach the Bot API (check TELOXIDE_TOKEN and TELOXIDE_API_URL)")?;
    let metrics = match config.metrics_addr {
        Some(addr) => match tribune::metrics::serve(
            addr,
            app.store().clone(),
            handle.observer(),
            app.clock().clone(),
        )
        .await
        {
            Ok(server) => {
                log::info!("metrics on http://{}/metrics, health on /health", server.addr());
                Some(server)
            }
            Err(e) => {
                handle.shutdown().await;
                return Err(e).context("cannot start the metrics endpoint (TRIBUNE_METRICS_ADDR)");
            }
        },
        None => None,
    };
    log::info!("Tribune is serving; stop it with Ctrl-C or SIGTERM");
    // A loop that must never end ending means a bot that hears nobody: stop with an error,
    // so that the supervisor (systemd's Restart=on-failure) starts a fresh one.
    let failure = tokio::select! {
        () = stop => None,
        reason = handle.failure() => Some(reason),
    };
    log::info!("stopping: finishing updates in progress");
    if let Some(metrics) = metrics {
        metrics.shutdown().await;
    }
    handle.shutdown().await;
    drop(control);
    app.store().flush()?;
    if let Some(reason) = failure {
        bail!("{reason}");
    }
    log::info!("stopped cleanly");
    Ok(())
}

fn check() -> ExitCode {
    let paths = Paths::from_env();
    match content::load_dir(&paths.messages_dir) {
        Ok(loaded) => {
            let c = &loaded.corpus;
            let paragraphs: usize =
                c.statements.iter().flat_map(|s| s.texts.values()).map(Vec::len).sum();
            println!(
                "{}: ok: {} statements ({} paragraphs, {} excerpts), {} slogans, {} prisoners",
                paths.messages_dir.display(),
                c.statements.len(),
                paragraphs,
                c.excerpts().count(),
                c.slogans.len(),
                c.prisoners.len()
            );
            ExitCode::SUCCESS
        }
        Err(content::ContentError::Invalid(problems)) => {
            for p in &problems {
                println!("{}/{p}", paths.messages_dir.display());
            }
            eprintln!("{} problem(s) found", problems.len());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn doctor() -> ExitCode {
    use tribune::doctor::Level;
    let findings = tribune::doctor::examine(&Paths::from_env()).await;
    for finding in &findings {
        let label = match finding.level {
            Level::Ok => "ok:     ",
            Level::Note => "note:   ",
            Level::Problem => "PROBLEM:",
        };
        println!("{label} {}", finding.text);
    }
    if findings.iter().any(|f| f.level == Level::Problem) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn import() -> Result<ExitCode> {
    let paths = Paths::from_env();
    let store = open_store(&paths)?;
    let (_, source) = tribune::app::sync_content(
        &store,
        &paths.messages_dir,
        tribune::clock::Clock::System.unix(),
    )?;
    report_source(source);
    Ok(if source == ContentSource::KeptPrevious { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn export(dir: &Path, force: bool) -> Result<()> {
    let paths = Paths::from_env();
    if let Some(summary) = control::request_export(&paths.data_dir, dir, force)? {
        println!("{}: from the running Tribune: {summary}", dir.display());
        return Ok(());
    }
    if !tribune::store::sled_dir(&paths.data_dir).join("db").exists() {
        bail!("there is no Tribune store in {} to export from", paths.data_dir.display());
    }
    let store = open_store(&paths)?;
    let summary = control::export(&store, dir, force).map_err(anyhow::Error::msg)?;
    println!("{}: {summary}", dir.display());
    Ok(())
}

fn backup(file: &Path) -> Result<()> {
    let paths = Paths::from_env();
    if let Some(summary) = control::request_backup(&paths.data_dir, file)? {
        println!("{}: from the running Tribune: {summary}", file.display());
        return Ok(());
    }
    if !tribune::store::sled_dir(&paths.data_dir).join("db").exists() {
        bail!("there is no Tribune store in {} to back up", paths.data_dir.display());
    }
    let store = open_store(&paths)?;
    let summary = store.write_backup(file)?;
    println!("{}: {summary}", file.display());
    Ok(())
}

fn restore(file: &Path) -> Result<()> {
    let paths = Paths::from_env();
    // The key must be at hand first: without it nothing is read or written.
    let secret = Secret::load(&KeySource::from_env()?)?;
    if control::is_serving(&paths.data_dir) {
        return Err(backup::BackupError::InUse { dir: paths.data_dir.display().to_string() }.into());
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    // The whole file is checked, then the key against its keyring, before anything is touched.
    let (summary, kept) = backup::restore(file, &paths.data_dir, &stamp, &secret)?;
    println!("{}: restored from {}: {summary}", paths.data_dir.display(), file.display());
    if let Some(kept) = kept {
        println!("the previous data directory is kept as {}", kept.display());
    }
    Ok(())
}

fn compact() -> Result<()> {
    let paths = Paths::from_env();
    if control::is_serving(&paths.data_dir) {
        bail!(
            "a Tribune is running on {}: it compacts the store itself (after a key rotation, once its files have grown three times)",
            paths.data_dir.display()
        );
    }
    if !tribune::store::sled_dir(&paths.data_dir).join("db").exists() {
        bail!("there is no Tribune store in {} to compact", paths.data_dir.display());
    }
    let store = open_store(&paths)?;
    let done = store.compact()?;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{}: compacted, {:.1} MiB of files before, {:.1} MiB after",
        paths.data_dir.display(),
        mib(done.before),
        mib(done.after)
    );
    Ok(())
}

/// The store, opened with the key the configuration names.
fn open_store(paths: &Paths) -> Result<Store> {
    let secret = Secret::load(&KeySource::from_env()?)?;
    Ok(Store::open_keyed(&paths.data_dir, &secret)?)
}

fn keygen(file: &Path) -> Result<()> {
    let paths = Paths::from_env();
    if tribune::config::inside(file, &paths.data_dir) {
        bail!(
            "{} is inside the data directory {}: the key must never be stored beside the data it protects",
            file.display(),
            paths.data_dir.display()
        );
    }
    let key = Key::generate();
    let mut hex = key.to_hex().to_string();
    hex.push('\n');
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(file).and_then(|mut f| {
        use std::io::Write as _;
        f.write_all(hex.as_bytes())?;
        f.sync_all()
    });
    zeroize::Zeroize::zeroize(&mut hex);
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} exists: keygen never overwrites a key", file.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", file.display())),
    }
    println!(
        "{}: a new key; set TRIBUNE_KEY_FILE={} and keep a copy apart from your backups (without it they cannot be read)",
        file.display(),
        file.display()
    );
    Ok(())
}

fn rekey(new: &Path, passphrase: bool) -> Result<()> {
    let paths = Paths::from_env();
    let old = Secret::load(&KeySource::from_env()?)?;
    let source =
        if passphrase { KeySource::Passphrase(new.into()) } else { KeySource::File(new.into()) };
    if source.is_inside(&paths.data_dir) {
        bail!("{} is inside the data directory: keep the key elsewhere", new.display());
    }
    let new_secret = Secret::load(&source)?;
    // sled's lock keeps a running serve out while the keyring changes.
    let store = Store::open_keyed(&paths.data_dir, &old)?;
    let mut keyring = Keyring::load(&paths.data_dir, &old)?;
    keyring.rewrap(&paths.data_dir, &new_secret)?;
    drop(store);
    println!(
        "{}: the keyring is now locked with {}; set {}={} (the old key no longer opens it, but old backups still need the old key)",
        paths.data_dir.display(),
        new.display(),
        source.var(),
        new.display()
    );
    Ok(())
}

fn report_source(source: ContentSource) {
    match source {
        ContentSource::Imported => log::info!("content imported from the files"),
        ContentSource::Unchanged => log::info!("content unchanged since the last import"),
        ContentSource::KeptPrevious => {
            log::warn!("content files are invalid (see above); serving the previous content")
        }
    }
}

/// Resolves at the first SIGTERM or Ctrl-C. The handlers are installed when this is called,
/// not when the future is first polled, so no signal is missed in between.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Panics are logged with their place in the code but not their message: a panic while
/// handling an update can quote the update (the forged callback data of issue 14 did), and
/// readers' words must not reach the log. The intake contains the panic to that update.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let place =
            info.location().map_or_else(|| "?".into(), |l| format!("{}:{}", l.file(), l.line()));
        log::error!("panic at {place} (message withheld: it may quote input)");
    }));
}
