//! What sled 0.34's write path costs in memory, by how writes are grouped: `N` (80 000)
//! fresh keys with 280-byte values written in batches of 20 000 or 1 000 (each flushed), one
//! by one (a flush every 1 000), with an 8 MiB cache, in `LowSpace` mode, and reopening the
//! database every 20 000. Each way runs in a process of its own and prints its RSS and VmHWM
//! at the end. This is how the restore's and the bulk load's batch size were chosen
//! (BENCHMARKS.md, "million"). `cargo bench --bench sled_batches`; `N=400000` for more.

mod common;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode.is_empty() {
        for m in ["batch20k", "batch1k", "single", "batch1k_cache8", "batch1k_lowspace", "reopen"] {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .arg(m)
                .output()
                .unwrap();
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
        return;
    }
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(80_000);
    let dir = tempfile::tempdir().unwrap();
    let mut config = sled::Config::new().path(dir.path()).cache_capacity(32 << 20);
    if mode.contains("cache8") {
        config = config.cache_capacity(8 << 20);
    }
    if mode.contains("lowspace") {
        config = config.mode(sled::Mode::LowSpace);
    }
    let mut db = config.open().unwrap();
    let value = vec![b'x'; 280];
    let batch_size = if mode == "batch20k" { 20_000 } else { 1000 };
    let mut tree = db.open_tree("t").unwrap();
    let mut batch = sled::Batch::default();
    for i in 0..n as u64 {
        let key = (7_000_000_000u64 + i).to_be_bytes();
        if mode == "single" {
            tree.insert(key, value.as_slice()).unwrap();
            if i % 1000 == 999 {
                db.flush().unwrap();
            }
            continue;
        }
        batch.insert(&key, value.as_slice());
        if (i as usize + 1) % batch_size == 0 {
            tree.apply_batch(std::mem::take(&mut batch)).unwrap();
            db.flush().unwrap();
        }
        if mode == "reopen" && (i as usize + 1) % 20_000 == 0 {
            db.flush().unwrap();
            drop(tree);
            drop(db);
            std::thread::sleep(std::time::Duration::from_millis(200));
            db = sled::Config::new().path(dir.path()).cache_capacity(32 << 20).open().unwrap();
            tree = db.open_tree("t").unwrap();
        }
    }
    tree.apply_batch(batch).unwrap();
    db.flush().unwrap();
    let (rss, hwm) = common::memory();
    println!("{mode:>18}: {n} entries: RSS {rss:.1} MiB, HWM {hwm:.1} MiB");
}
