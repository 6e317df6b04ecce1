//! The crate's layout holds: each folder uses only the folders below it (model ← wire ←
//! state ← services and admin ← the front door at the root), no file imports a file that
//! imports it back, however indirectly, and every module opens with a `//!` saying its
//! job. Read from the sources, as `use crate::…` and `super::…` paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// The folders each folder may use; the root's files (the front door, the in-process
/// handle) may use any.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("wire", &["model"]),
    ("state", &["model", "wire"]),
    ("services", &["model", "wire", "state"]),
    ("admin", &["model", "wire", "state"]),
];

type Module = Vec<String>;

/// Every source file by its module path (`lib.rs` and `main.rs` are the root, `[]`).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read the sources") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let mut module: Module = relative
                .with_extension("")
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                module.clear();
            }
            found.insert(module, path);
        }
    }
    found
}

/// The longest prefix of `path` that is a module.
fn resolve(files: &BTreeMap<Module, PathBuf>, path: &[String]) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| files.contains_key(candidate))
}

/// The modules each module's code (tests left out) names.
fn edges(files: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let crate_path = Regex::new(r"\bcrate::(\{[^;]*?\}|[\w:]+)").expect("regex");
    let super_path = Regex::new(r"\b((?:super::)+)(\{[^;]*?\}|[\w:]+)").expect("regex");
    let word = Regex::new(r"[\w:]+").expect("regex");
    let mut edges = BTreeMap::new();
    for (module, path) in files {
        let text = std::fs::read_to_string(path).expect("read a source");
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let is_folder = path.ends_with("mod.rs");
        let mut targets = BTreeSet::new();
        let mut add = |base: &[String], group: &str| {
            for part in word.find_iter(group) {
                let mut full = base.to_vec();
                full.extend(
                    part.as_str()
                        .split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
                if let Some(target) = resolve(files, &full)
                    && target != *module
                    && !target.is_empty()
                {
                    targets.insert(target);
                }
            }
        };
        for found in crate_path.captures_iter(code) {
            add(&[], &found[1]);
        }
        for found in super_path.captures_iter(code) {
            let ups = found[1].matches("super::").count();
            // `super` of a folder's mod.rs is the folder's parent; of a file, its folder.
            let parent_len = module.len() - usize::from(!is_folder);
            let base = &module[..parent_len.saturating_sub(ups - usize::from(!is_folder))];
            add(base, &found[2]);
        }
        edges.insert(module.clone(), targets);
    }
    edges
}

/// The groups of two or more modules that reach each other.
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(next) = todo.pop() {
            for target in edges.get(&next).into_iter().flatten() {
                if seen.insert(target.clone()) {
                    todo.push(target.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&Module, BTreeSet<Module>> =
        edges.keys().map(|m| (m, reach(m))).collect();
    let mut groups: Vec<BTreeSet<Module>> = Vec::new();
    for (module, reaches) in &reached {
        if !reaches.contains(*module) {
            continue;
        }
        let group: BTreeSet<Module> = reaches
            .iter()
            .filter(|other| reached[other].contains(*module))
            .cloned()
            .collect();
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top folder a module's file is in, or `(root)` for the files beside lib.rs.
fn folder(files: &BTreeMap<Module, PathBuf>, module: &Module) -> String {
    let relative = files[module].strip_prefix(src()).expect("under src");
    match relative.components().count() {
        1 => "(root)".to_owned(),
        _ => module[0].clone(),
    }
}

#[test]
fn no_file_imports_itself_back() {
    let files = modules(&src());
    assert!(files.len() > 40, "read the sources: {}", files.len());
    let edges = edges(&files);
    let total: usize = edges.values().map(BTreeSet::len).sum();
    assert!(total > 100, "the imports were read: {total}");
    assert_eq!(cycles(&edges), Vec::<BTreeSet<Module>>::new());
}

#[test]
fn folders_use_only_the_folders_below_them() {
    let files = modules(&src());
    let mut wrong = Vec::new();
    for (module, targets) in edges(&files) {
        let from = folder(&files, &module);
        let Some((_, allowed)) = ALLOWED.iter().find(|(name, _)| *name == from) else {
            continue;
        };
        for target in targets {
            let to = folder(&files, &target);
            if to != from && !allowed.contains(&to.as_str()) {
                wrong.push(format!("{} uses {}", module.join("::"), target.join("::")));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn every_module_says_its_job_first() {
    for (module, path) in modules(&src()) {
        let text = std::fs::read_to_string(&path).expect("read a source");
        assert!(
            text.starts_with("//! "),
            "{} ({}) must open with a //! line",
            module.join("::"),
            path.display()
        );
    }
}

#[test]
fn a_cycle_would_be_found() {
    let a: Module = vec!["a".into()];
    let b: Module = vec!["b".into()];
    let c: Module = vec!["c".into()];
    let edges = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone(), c.clone()])),
        (c.clone(), BTreeSet::new()),
    ]);
    assert_eq!(cycles(&edges), vec![BTreeSet::from([a, b])]);
}
