//! Architecture invariants that the compiler does not check.

use std::path::{Path, PathBuf};

/// The only files under `src/` that may name the emulator: the demo, which `main.rs` alone
/// declares (`mod demo;`), so it is part of the binary and not of the library.
const DEMO_FILES: &[&str] = &["src/demo.rs"];

/// `serve` never uses the emulator: no module of the library, nor of the binary besides the
/// demo, names the emulator's crate.
#[test]
fn serve_never_uses_the_emulator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 20, "found only {} .rs files under src/", files.len());
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|file| {
            let name = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            (name, std::fs::read_to_string(file).unwrap())
        })
        .collect();
    let offenders: Vec<&str> = sources
        .iter()
        .filter(|(name, source)| !DEMO_FILES.contains(&name.as_str()) && names_the_emulator(source))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(offenders.is_empty(), "these files name the emulator: {offenders:?}");
    for demo in DEMO_FILES {
        assert!(sources.iter().any(|(name, _)| name == demo), "{demo} is gone: update DEMO_FILES");
    }
    for (name, source) in &sources {
        if DEMO_FILES.contains(&name.as_str()) {
            assert!(
                names_the_emulator(source),
                "{name} no longer uses the emulator: update DEMO_FILES"
            );
        } else if name != "src/main.rs" {
            assert!(!source.contains("mod demo"), "{name} declares the demo: only main.rs may");
        }
    }
}

/// Whether Rust source names the emulator's crate.
fn names_the_emulator(source: &str) -> bool {
    source.contains("telegram_bot_api_emulator")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
