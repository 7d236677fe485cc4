//! The control socket: how `tribune backup` and `tribune export` reach a running `serve`.
//!
//! sled locks its data directory per process, so while `serve` runs no other process can open
//! the store. `serve` therefore listens on `<data dir>/tribune.sock` (mode 0600: only the
//! owner of the data may connect; removed on exit) and hands over what is asked: one JSON line
//! in (`"backup"` or `"content"`), one JSON line out (`"stream"` followed by a consistent
//! backup, streamed to the end of the connection as it is read from the store, so neither side
//! holds it in memory; `{"content":corpus}`, or `{"error":"message"}`). The command-line side
//! writes the files itself, with its own rights and where its user can see them: `serve` may
//! run sandboxed (a private /tmp, a read-only file system but for its data). The socket also
//! tells `restore` that a Tribune is running. Unix only, like the deployment targets.

use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    time::Duration,
};

/// The socket's file name inside the data directory.
pub const SOCKET_NAME: &str = "tribune.sock";

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot listen on {path}: {source}")]
    Listen { path: String, source: std::io::Error },
    #[error("the running Tribune did not answer on {path}: {source}")]
    Talk { path: String, source: std::io::Error },
    #[error("the running Tribune could not do it: {0}")]
    Refused(String),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Request {
    /// A consistent backup of the whole store.
    Backup,
    /// The content being served.
    Content,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Response {
    /// A backup follows the line, to the end of the connection (it ends with its own end
    /// mark and checksum, so a cut is seen).
    Stream,
    Content(Box<crate::content::Corpus>),
    Error(String),
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// The listening side, owned by `serve`. Dropping it stops listening and removes the socket.
pub struct Control {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Control {
    /// Listens on the data directory's socket. Call it only while holding the store (sled's
    /// lock), so a socket left by a killed process can safely be replaced.
    pub fn start(data_dir: &Path, store: Store) -> Result<Control, ControlError> {
        let path = socket_path(data_dir);
        let listen = |source| ControlError::Listen { path: path.display().to_string(), source };
        match std::fs::remove_file(&path) {
            Ok(()) => log::info!("removed a control socket left by an earlier run"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(listen(e)),
        }
        // Bound under a temporary name, restricted, then renamed: the socket is never
        // reachable at its real name with looser permissions.
        let temp = data_dir.join(format!(".{SOCKET_NAME}.{}", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        let listener = tokio::net::UnixListener::bind(&temp).map_err(listen)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
                .map_err(listen)?;
        }
        std::fs::rename(&temp, &path).map_err(listen)?;
        let task = tokio::spawn(accept(listener, store));
        Ok(Control { path, task })
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(listener: tokio::net::UnixListener, store: Store) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, store.clone()));
            }
            Err(e) => {
                log::error!("the control socket failed: {e}; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn answer(stream: tokio::net::UnixStream, store: Store) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read).take(64 * 1024);
    let read = reader.read_line(&mut line);
    let response = match tokio::time::timeout(Duration::from_secs(5), read).await {
        Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
            Ok(Request::Content) => match store.corpus() {
                Ok(Some((corpus, _))) => Response::Content(Box::new(corpus)),
                Ok(None) => Response::Error(NO_CONTENT.into()),
                Err(e) => Response::Error(e.to_string()),
            },
            Ok(Request::Backup) => {
                let read = reader.into_inner().into_inner();
                match read.reunite(write) {
                    Ok(stream) => stream_backup(stream, store).await,
                    Err(e) => log::error!("cannot answer a backup request: {e}"),
                }
                return;
            }
            Err(_) => Response::Error("unknown request".into()),
        },
        _ => return,
    };
    let mut out = serde_json::to_string(&response).unwrap_or_default();
    out.push('\n');
    let _ = write.write_all(out.as_bytes()).await;
}

/// Streams a backup into the connection from a blocking thread (it reads the whole store).
async fn stream_backup(stream: tokio::net::UnixStream, store: Store) {
    let stream = match stream.into_std().and_then(|s| s.set_nonblocking(false).map(|()| s)) {
        Ok(stream) => stream,
        Err(e) => return log::error!("cannot answer a backup request: {e}"),
    };
    let taken = tokio::task::spawn_blocking(move || {
        let mut stream = stream;
        let mut line = serde_json::to_string(&Response::Stream).unwrap_or_default();
        line.push('\n');
        stream.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        let taken = store.backup_to(&stream, "the control socket").map_err(|e| e.to_string());
        crate::store::release_deferred();
        taken
    })
    .await;
    match taken {
        Ok(Ok(summary)) => log::info!("a backup was taken: {summary}"),
        Ok(Err(e)) => log::error!("a requested backup failed: {e}"),
        Err(e) => log::error!("the backup task failed: {e}"),
    }
}

const NO_CONTENT: &str = "the store holds no content yet: run `tribune import` first";

/// Writes the stored content as `messages/` files; a summary for the operator.
pub fn export(store: &Store, dir: &Path, force: bool) -> Result<String, String> {
    let (corpus, _) = store.corpus().map_err(|e| e.to_string())?.ok_or(NO_CONTENT)?;
    write_export(&corpus, dir, force)
}

/// Writes `corpus` as `messages/` files into `dir`; a summary for the operator.
pub fn write_export(
    corpus: &crate::content::Corpus,
    dir: &Path,
    force: bool,
) -> Result<String, String> {
    let files = crate::content::export::write_dir(corpus, dir, force).map_err(|e| e.to_string())?;
    Ok(format!(
        "wrote {files} files ({} statements, {} slogans, {} prisoners)",
        corpus.statements.len(),
        corpus.slogans.len(),
        corpus.prisoners.len()
    ))
}

/// Connects to a running Tribune's socket; `None` when nothing listens there.
fn connect(data_dir: &Path) -> Option<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(socket_path(data_dir)).ok()
}

/// Whether a Tribune is serving on `data_dir` (its control socket answers).
pub fn is_serving(data_dir: &Path) -> bool {
    connect(data_dir).is_some()
}

/// Takes a backup from the Tribune serving on `data_dir` and writes it to `file` (here, with
/// this process's rights). `Ok(None)` when no Tribune is serving there.
pub fn request_backup(data_dir: &Path, file: &Path) -> Result<Option<String>, ControlError> {
    use crate::store::backup::{self, BackupError, BackupReader};
    use std::io::{Seek, SeekFrom};
    let Some((response, mut rest)) = request(data_dir, &Request::Backup)? else { return Ok(None) };
    let Response::Stream = response else { return Err(unexpected(data_dir)) };
    let shown = file.display().to_string();
    // Written beside `file` and checked as `restore` will check it before it takes its name.
    let summary = backup::write_file_with(file, |out| {
        std::io::copy(&mut rest, out).map_err(|source| BackupError::Io {
            what: "receive",
            path: shown.clone(),
            source,
        })?;
        out.seek(SeekFrom::Start(0)).map_err(|source| BackupError::Io {
            what: "read",
            path: shown.clone(),
            source,
        })?;
        BackupReader::new(std::io::BufReader::new(&*out), &shown)?.check()
    })
    .map_err(|e| ControlError::Refused(e.to_string()))?;
    Ok(Some(summary.to_string()))
}

/// Fetches the content from the Tribune serving on `data_dir` and writes it into `dir` (here,
/// with this process's rights). `Ok(None)` when no Tribune is serving there.
pub fn request_export(
    data_dir: &Path,
    dir: &Path,
    force: bool,
) -> Result<Option<String>, ControlError> {
    let Some((response, _)) = request(data_dir, &Request::Content)? else { return Ok(None) };
    let Response::Content(corpus) = response else { return Err(unexpected(data_dir)) };
    write_export(&corpus, dir, force).map(Some).map_err(ControlError::Refused)
}

fn unexpected(data_dir: &Path) -> ControlError {
    talk_error(data_dir, std::io::Error::other("an answer to another question"))
}

fn talk_error(data_dir: &Path, source: std::io::Error) -> ControlError {
    ControlError::Talk { path: socket_path(data_dir).display().to_string(), source }
}

/// Sends a request; the answer's first line, and the rest of the stream (a backup's bytes).
fn request(
    data_dir: &Path,
    request: &Request,
) -> Result<Option<(Response, BufReader<std::os::unix::net::UnixStream>)>, ControlError> {
    let Some(mut stream) = connect(data_dir) else { return Ok(None) };
    let talk = |source| talk_error(data_dir, source);
    stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(talk)?;
    let mut request = serde_json::to_string(request).unwrap_or_default();
    request.push('\n');
    stream.write_all(request.as_bytes()).map_err(talk)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(talk)?;
    match serde_json::from_str(&line) {
        Ok(Response::Error(message)) => Err(ControlError::Refused(message)),
        Ok(response) => Ok(Some((response, reader))),
        Err(_) => Err(talk(std::io::Error::other("an answer that does not parse"))),
    }
}
