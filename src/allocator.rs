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
}
