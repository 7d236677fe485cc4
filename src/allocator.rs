//! How the process's memory allocator is set up, before any thread starts.
//!
//! On Linux with glibc, `malloc` gives each thread that contends for it an arena of its own,
//! up to eight per core, and keeps freed memory in each arena rather than returning it. sled
//! allocates and frees many small pages from its flusher, the tokio workers and the blocking
//! threads, so in a long digest round the process's resident memory grew to three times what
//! it actually held: `cargo bench --bench million` with 100 000 readers measured a peak heap of
//! 83 MB (heaptrack) against a peak RSS of 257 MiB. Two arenas and a 1 MiB trim threshold
//! brought the same round to 104 MiB, at the same speed (BENCHMARKS.md, "million").
//!
//! The standard variables still win: `MALLOC_ARENA_MAX` or `MALLOC_TRIM_THRESHOLD_` set in the
//! environment are left as the operator set them. Elsewhere (musl, other systems) this does
//! nothing.

/// Arenas: one per core on the two-core servers Tribune is sized for.
pub const ARENAS: i32 = 2;
/// Free memory above this at the top of the heap goes back to the system.
pub const TRIM_THRESHOLD: i32 = 1024 * 1024;

/// Applies [`ARENAS`] and [`TRIM_THRESHOLD`] unless the environment sets them, and returns
/// how many of the two it applied. Call it first thing in `main`, before the async runtime
/// starts its threads.
pub fn tune() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        usize::from(set_unless_in_env(libc::M_ARENA_MAX, "MALLOC_ARENA_MAX", ARENAS))
            + usize::from(set_unless_in_env(
                libc::M_TRIM_THRESHOLD,
                "MALLOC_TRIM_THRESHOLD_",
                TRIM_THRESHOLD,
            ))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        0
    }
}

/// How often a serving process hands free memory back to the system ([`trim`]).
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands the free memory inside the allocator's arenas back to the system, not only what lies
/// at the top of the heap (which [`TRIM_THRESHOLD`] already returns): the holes left between
/// live blocks by a round's pages, log buffers and records. Returns whether any was returned.
///
/// In the year bench glibc kept up to 66 MiB free in its arenas beside 94 MiB in use, and
/// counted in the resident size (BENCHMARKS.md, "year"). It walks the arenas' free lists,
/// a few milliseconds: call it after bulk work, or every [`TRIM_EVERY`] ([`trim_every`]), off
/// the async workers. Elsewhere than glibc it does nothing.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` only returns free pages of glibc's arenas to the system,
        // under the arenas' own locks; live allocations are not touched.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Runs [`trim`] on a blocking thread every `every`, until the task is dropped.
pub async fn trim_every(every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_unless_in_env(param: libc::c_int, var: &str, value: i32) -> bool {
    if std::env::var_os(var).is_some() {
        return false;
    }
    // SAFETY: `mallopt` only sets a tunable of glibc's allocator; it takes plain integers and
    // is safe to call at any time (glibc takes its own lock).
    let applied = unsafe { libc::mallopt(param, value) } == 1;
    if !applied {
        log::debug!("mallopt({param}, {value}) was refused; the allocator keeps its default");
    }
    applied
}

#[cfg(test)]
mod tests {
    /// glibc accepts both settings, again after threads exist (the test harness has them),
    /// unless the environment already chose.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_both_settings_unless_the_environment_chose() {
        let chosen = ["MALLOC_ARENA_MAX", "MALLOC_TRIM_THRESHOLD_"]
            .iter()
            .filter(|v| std::env::var_os(v).is_some())
            .count();
        assert_eq!(super::tune(), 2 - chosen);
        assert_eq!(super::tune(), 2 - chosen, "tuning twice is harmless");
        let held: Vec<Vec<u8>> = (0..1000).map(|i| vec![1; 100 + i]).collect();
        assert_eq!(held.iter().map(Vec::len).sum::<usize>(), 100 * 1000 + 999 * 1000 / 2);
    }

    /// Holes left among live blocks go back to the system: the resident size drops by most
    /// of what was freed, and what is still held reads as it was.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn trim_returns_the_holes_between_live_blocks() {
        fn resident_kib() -> usize {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        }
        // 128 MiB in 32 KiB blocks (below the mmap threshold, so inside an arena), every other
        // one freed: 64 MiB of holes that the top-of-heap trim cannot return.
        let mut blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 32 * 1024]).collect();
        for (i, block) in blocks.iter_mut().enumerate() {
            if i % 2 == 1 {
                *block = Vec::new();
            }
        }
        let before = resident_kib();
        assert!(super::trim(), "there was free memory to return");
        let after = resident_kib();
        // Other tests run in this process meanwhile: only half of the 64 MiB is asked for.
        assert!(before.saturating_sub(after) > 32 * 1024, "{before} KiB then {after} KiB");
        assert!(
            blocks.iter().enumerate().all(|(i, b)| i % 2 == 1 || b.iter().all(|&x| x == i as u8))
        );
    }
}
