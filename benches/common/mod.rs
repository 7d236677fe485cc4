//! What the benches share: memory readings, the test key, the content, sizes on disk.
#![allow(dead_code)]

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// 2026-01-05T05:00:00Z: 09:00 in Baku, when a new subscriber's daily digest is first due.
pub const FIRST_DUE: i64 = 1_767_589_200;
/// The first of the readers' 10-digit chat ids.
pub const FIRST_READER: i64 = 7_000_000_000;

/// (VmRSS, VmHWM) in MiB, from /proc/self/status.
pub fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// What glibc's allocator holds, in MiB: (in use by the program, free but kept in its arenas).
/// Beside the RSS it tells memory the program holds from memory the allocator has not given
/// back. `NAN` where the allocator is not glibc's.
pub fn heap() -> (f64, f64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallinfo2` only reads the allocator's counters (it takes its locks).
        let info = unsafe { libc::mallinfo2() };
        let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
        (mib(info.uordblks + info.hblkhd), mib(info.fordblks))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        (f64::NAN, f64::NAN)
    }
}

/// Writes the public test key (the one `Store::open` and `Tribune::open` seal with) to a key
/// file in `dir`, which must lie outside every data directory: `TRIBUNE_KEY_FILE` for the
/// `tribune` commands a bench runs on a store it made.
pub fn test_key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tribune-test.key");
    std::fs::write(&path, tribune::store::keyring::PUBLIC_TEST_KEY).expect("write the test key");
    path
}

/// The repository's `messages/`.
pub fn messages_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("messages")
}

/// Bytes of every file under `dir`.
pub fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A command running this bench's own executable again (a child measured on its own),
/// prefixed by the words of `BENCH_WRAP` when it is set: `BENCH_WRAP="heaptrack -o /tmp/h"`
/// profiles the child's heap, for example.
pub fn this_bench_again() -> std::io::Result<std::process::Command> {
    let exe = std::env::current_exe()?;
    let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    Ok(match words.next() {
        Some(program) => {
            let mut command = std::process::Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => std::process::Command::new(exe),
    })
}
