//! The invariants ARCHITECTURE.md writes down, checked on the source: the layers of `src/` and
//! the rule that each imports only those below it; the domain core naming neither teloxide nor
//! sled; sled named only in `store/`; the Telegram adapter never naming the store; the wall
//! clock read only through `clock`; anyhow only in the binary; the emulator named only by the
//! demo.
//!
//! The checks read the code as text (comments and `#[cfg(test)]` modules left out), so they
//! need nothing but the files, and a new module fails them until it is given its layer.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// The library's modules from the bottom layer up; a module may import only modules of lower
/// layers. Keep in step with "Layers" in ARCHITECTURE.md.
const LAYERS: &[&[&str]] = &[
    &["content", "config", "clock", "allocator"],
    &["subscription"],
    &["broadcast"],
    &["message"],
    &["store"],
    &["intake"],
    &["delivery", "schedule"],
    &["stats"],
    &["render"],
    &["digest"],
    &["app"],
    &["telegram", "metrics", "control", "doctor"],
    &["serve"],
];

/// The domain core: plain logic over data, with no transport and no storage engine.
const CORE: &[&str] = &["content", "message", "render", "digest", "schedule", "delivery", "intake"];

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(layer, modules)| modules.iter().map(move |m| (*m, layer)))
        .collect();
    let mut wrong = Vec::new();
    for (module, files) in modules() {
        let Some(&own) = layer_of.get(module.as_str()) else {
            wrong.push(format!("src/{module} has no layer in LAYERS (and ARCHITECTURE.md)"));
            continue;
        };
        for file in files {
            for used in crate_imports(&code(&file)) {
                if used == module {
                    continue;
                }
                match layer_of.get(used.as_str()) {
                    Some(&layer) if layer < own => {}
                    Some(_) => wrong.push(format!(
                        "{} ({module}) imports {used}, which is not below it",
                        file.display()
                    )),
                    None => wrong.push(format!("{} imports unknown {used}", file.display())),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn the_domain_core_names_neither_teloxide_nor_sled() {
    let mut wrong = Vec::new();
    for (module, files) in modules() {
        for file in files {
            let code = code(&file);
            let names = |krate: &str| mentions(&code, krate);
            if CORE.contains(&module.as_str()) && names("teloxide") {
                wrong.push(format!("{} ({module}, core) names teloxide", file.display()));
            }
            if module != "store" && names("sled") {
                wrong.push(format!(
                    "{} ({module}) names sled, which only store/ may",
                    file.display()
                ));
            }
            if names("anyhow") {
                wrong.push(format!("{} uses anyhow, which only main.rs may", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `telegram/` never names the store: whatever it needs of it is a use case of `app/`, which
/// checks who is asking (a handler writing the store directly is how any group member could
/// change a group's language).
#[test]
fn the_adapter_never_names_the_store() {
    let modules = modules();
    let files = modules.get("telegram").expect("src/telegram");
    assert!(files.len() > 5, "found only {} files under src/telegram", files.len());
    let wrong: Vec<String> = files
        .iter()
        .filter(|file| names_the_store(&code(file)))
        .map(|file| file.display().to_string())
        .collect();
    assert!(wrong.is_empty(), "these files of the adapter name the store: {wrong:?}");
}

/// Whether code reaches the store: imports it, names a path through it, or calls `.store()`.
fn names_the_store(code: &str) -> bool {
    crate_imports(code).iter().any(|m| m == "store")
        || mentions(code, "store")
        || code.contains(".store()")
}

/// Ways of reading the wall clock. Only `clock` (the one `Tribune` holds and hands on) does,
/// and `store`, whose own stamps are the store's business; the binary may too.
const WALL_CLOCK: &[&str] = &["Utc::now()", "Local::now()", "SystemTime::now()", "unix_now()"];

/// One clock: under a manual clock every decision and every stamp agrees with it.
#[test]
fn the_wall_clock_is_read_only_through_the_clock() {
    let mut wrong = Vec::new();
    for (module, files) in modules() {
        if module == "clock" || module == "store" {
            continue;
        }
        for file in files {
            let code = code(&file);
            wrong.extend(
                WALL_CLOCK
                    .iter()
                    .filter(|read| code.contains(*read))
                    .map(|read| format!("{} ({module}) reads {read}", file.display())),
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

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

/// The checks themselves, on made-up code: they must be able to fail.
#[test]
fn the_checks_see_what_they_look_for() {
    let source = "//! teloxide in a comment is fine\nuse crate::{\n    app::Tribune,\n    store::{Store, \
                  OutboxItem},\n};\nfn f() { let _ = sled::Config::new(); crate::render::html::escape(\"x\"); }\n\
                  #[cfg(test)]\nmod tests {\n    use crate::telegram::Bot;\n}\n";
    let code = strip(source);
    assert_eq!(crate_imports(&code), vec!["app", "render", "store"]);
    assert!(mentions(&code, "sled"));
    assert!(!mentions(&code, "teloxide"));
    assert!(!mentions("let sledge = 1;", "sled"));
    // A handler that writes the store past the app, in each of its disguises.
    for planted in [
        "fn h(app: &Tribune) { app.store().set_chat_lang(1, lang); }",
        "use crate::store::Op;",
        "use crate::{app::Tribune, store::{Op}};",
        "use super::super::store;",
        "fn f(s: &crate::store::Store) {}",
    ] {
        assert!(names_the_store(&strip(planted)), "{planted}");
    }
    for innocent in ["let restored = 1;", "fn stores() {}", "// app.store() in a comment"] {
        assert!(!names_the_store(&strip(innocent)), "{innocent}");
    }
}

/// Every top-level module of the library with its files (the binary's own files, `main.rs`
/// and what it alone declares, are not in the library).
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let mut modules = BTreeMap::new();
    for line in lib.lines() {
        let Some(name) = line.trim().strip_prefix("pub mod ").and_then(|l| l.strip_suffix(';'))
        else {
            continue;
        };
        let dir = src.join(name);
        let mut files = vec![src.join(format!("{name}.rs"))];
        if dir.is_dir() {
            files.clear();
            rust_files(&dir, &mut files);
            // Unit-test modules kept in files of their own (`tests.rs`) are not the library.
            files.retain(|f| f.file_stem().is_none_or(|s| s != "tests"));
            files.sort();
        }
        modules.insert(name.to_string(), files);
    }
    assert!(modules.len() >= 10, "too few modules read from src/lib.rs: {modules:?}");
    modules
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

/// A file's code without comments and without its `#[cfg(test)]` module.
fn code(file: &Path) -> String {
    strip(&std::fs::read_to_string(file).expect("read a source file"))
}

fn strip(source: &str) -> String {
    let source = match source.find("\n#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    };
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| line.split(" // ").next().unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file imports through `crate::`, sorted, once each.
fn crate_imports(code: &str) -> Vec<String> {
    let mut found = std::collections::BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::x, b::{y, z}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(first_segment(&item));
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.into_iter().filter(|m| !m.is_empty()).collect()
}

fn first_segment(path: &str) -> String {
    path.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// Whether `code` names the crate `krate` as a path (`krate::…` or `use krate`).
fn mentions(code: &str, krate: &str) -> bool {
    code.match_indices(krate).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = &code[at + krate.len()..];
        let starts_a_word = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        starts_a_word
            && (after.starts_with("::") || after.starts_with(';') || after.starts_with(" as"))
    })
}

/// `serve` and the commands open the store with the operator's key: the public test key
/// (`Store::open`, `Tribune::open`, `Tribune::open_with_clock`) is for tests, benchmarks and the
/// demo only.
#[test]
fn the_edges_never_open_the_store_with_the_test_key() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("main.rs"), src.join("serve.rs"), src.join("doctor.rs")];
    files.extend([src.join("control.rs"), src.join("metrics.rs")]);
    rust_files(&src.join("telegram"), &mut files);
    let opens_with_test_key = |code: &str| {
        ["Store::open(", "Tribune::open(", "open_with_clock(", "public_test_key"]
            .iter()
            .any(|call| code.contains(call))
    };
    assert!(opens_with_test_key(&strip("fn f() { let s = Store::open(dir)?; }")));
    assert!(!opens_with_test_key(&strip("fn f() { Store::open_keyed(dir, &key)?; }")));
    let wrong: Vec<String> = files
        .iter()
        .filter(|f| opens_with_test_key(&code(f)))
        .map(|f| f.display().to_string())
        .collect();
    assert!(wrong.is_empty(), "open the store with the public test key: {wrong:?}");
}
