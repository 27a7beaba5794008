//! The module structure the README's "Architecture" section states, checked on the source
//! text: which top-level module may import which, and no module (file) that imports a module
//! which imports it back. Test code (`#[cfg(test)]` modules and `tests.rs` files) is left out:
//! it may reach across layers to build fixtures.
//!
//! A grep-based check rather than `cargo modules`: no extra tool to install, and it reads every
//! `crate::`, `super::` and `self::` path, grouped imports (`crate::{a, b::c}`) included. A unit
//! test of the library rather than a test binary of its own, which would cost CI a release link.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may import (besides itself); the README's table says the same.
const ALLOWED: &[(&str, &[&str])] = &[
    ("config", &[]),
    ("text", &[]),
    ("tls", &[]),
    ("error", &[]),
    ("readiness", &[]),
    ("shutdown", &[]),
    ("healthcheck", &[]),
    ("telemetry", &[]),
    ("classify", &["error", "telemetry"]),
    ("http", &["config", "readiness", "telemetry"]),
    ("status", &["config", "error", "readiness", "telemetry", "text"]),
    ("probe", &["classify", "config", "error", "http", "readiness", "telemetry", "text", "tls"]),
    ("ingest", &["classify", "config", "error", "http", "readiness", "telemetry", "text"]),
    ("sim", &["config", "error", "text"]),
    ("cli", &["sim", "telemetry"]),
    ("app", &["config", "error", "http", "ingest", "probe", "readiness", "status", "telemetry", "tls"]),
    ("parse", &["app", "config", "ingest", "probe", "sim", "status"]),
];

/// A module path: `["status", "poller"]`; the crate root is empty.
type ModPath = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file (the binary's `main.rs` is a consumer, not part of the graph)
/// with its module path, and its text cut into the scopes of its inline modules (`mod defaults
/// { … }`), whose `super::` means something else.
fn modules() -> BTreeMap<ModPath, Vec<(ModPath, String)>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src()).unwrap();
        let mut path: ModPath =
            relative.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
        if path == ["main"] {
            continue;
        }
        if path.last().is_some_and(|l| l == "mod" || l == "lib") {
            path.pop();
        }
        if path.last().is_some_and(|l| l.ends_with("tests")) {
            continue;
        }
        let text = strip_test_code(&std::fs::read_to_string(&file).unwrap());
        out.insert(path.clone(), scopes(&path, &text));
    }
    out
}

/// The text of a file, line by line, attributed to the inline module each line is in.
fn scopes(file: &[String], text: &str) -> Vec<(ModPath, String)> {
    let mut out: Vec<(ModPath, String)> = Vec::new();
    // The inline modules open around the current line, with the brace depth each opened at.
    let mut open: Vec<(String, i32)> = Vec::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let trimmed = line.trim_start().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
        let opens_module = trimmed.strip_prefix("mod ").and_then(|rest| rest.strip_suffix(" {"));
        let mut scope: ModPath = file.to_vec();
        scope.extend(open.iter().map(|(name, _)| name.clone()));
        out.push((scope, format!("{line}\n")));
        if let Some(name) = opens_module {
            open.push((name.trim().to_owned(), depth));
        }
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        while open.last().is_some_and(|(_, at)| depth <= *at) {
            open.pop();
        }
    }
    out
}

/// The text without comments and without `#[cfg(test)]` items (a `mod … { … }` block or a
/// `mod …;` declaration).
fn strip_test_code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "#[cfg(test)]" {
            // Skip the item: up to its `;`, or to the brace that closes its block.
            let mut depth = 0i32;
            let mut opened = false;
            i += 1;
            while i < lines.len() {
                let line = lines[i];
                depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
                opened |= line.contains('{');
                i += 1;
                if (opened && depth <= 0) || (!opened && line.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        out.push_str(lines[i]);
        out.push('\n');
        i += 1;
    }
    out
}

/// Every path that starts with `crate`, `super` or `self`, grouped imports expanded:
/// `crate::{a::b, c}` gives `crate::a::b` and `crate::c`.
fn paths(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b'$');
        let rest = &bytes[i..];
        let head = ["crate::", "super::", "self::"].into_iter().find(|h| rest.starts_with(h.as_bytes()));
        match head {
            Some(h) if starts_word => {
                let mut prefix = vec![h.trim_end_matches("::").to_owned()];
                i = parse_tree(text, i + h.len(), &mut prefix, &mut out);
            }
            _ => i += 1,
        }
    }
    out
}

/// Parses `a::b::{c, d::e}` (or `a::b`) at `i` after `prefix`; returns where it ended.
fn parse_tree(text: &str, mut i: usize, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let bytes = text.as_bytes();
    let depth = prefix.len();
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'{' {
            i += 1;
            loop {
                let mut branch = prefix.clone();
                i = parse_tree(text, i, &mut branch, out);
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                match bytes.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => break,
                }
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'}') {
                    i += 1;
                    break;
                }
            }
            prefix.truncate(depth);
            return i;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if start == i {
            break;
        }
        prefix.push(text[start..i].to_owned());
        if bytes[i..].starts_with(b"::") {
            i += 2;
        } else {
            break;
        }
    }
    if prefix.len() > 1 {
        out.push(prefix.clone());
    }
    i
}

/// The module a path refers to, from inside `from`: the deepest known module along it.
fn resolve(from: &[String], path: &[String], known: &BTreeSet<ModPath>) -> ModPath {
    let mut base: ModPath = match path[0].as_str() {
        "crate" => Vec::new(),
        "self" => from.to_vec(),
        _ => from[..from.len().saturating_sub(1)].to_vec(),
    };
    let mut rest = &path[1..];
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    // An inline module's scope is not a file: start from the file it is in.
    while !base.is_empty() && !known.contains(&base) {
        base.pop();
    }
    for segment in rest {
        let mut next = base.clone();
        next.push(segment.clone());
        if !known.contains(&next) {
            break;
        }
        base = next;
    }
    base
}

/// Paths that name a child module of `from` without `self::` (`poller::run`, `use state::Shared`),
/// as `self::…` paths.
fn child_paths(from: &[String], text: &str, known: &BTreeSet<ModPath>) -> Vec<Vec<String>> {
    let children = known.iter().filter(|m| m.len() == from.len() + 1 && m.starts_with(from));
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for child in children {
        let needle = format!("{}::", child[from.len()]);
        for (at, _) in text.match_indices(&needle) {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let bare = before.is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b':' || b == b'$'));
            if bare {
                let mut path = vec!["self".to_owned()];
                parse_tree(text, at, &mut path, &mut out);
            }
        }
    }
    out
}

/// File module → the file modules it imports (itself left out).
fn graph() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let modules = modules();
    let known: BTreeSet<ModPath> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(file, scopes)| {
            let mut targets = BTreeSet::new();
            for (scope, text) in scopes {
                let mut all = paths(text);
                all.extend(child_paths(scope, text, &known));
                targets.extend(all.iter().map(|p| resolve(scope, p, &known)).filter(|t| t != file));
            }
            (file.clone(), targets)
        })
        .collect()
}

#[test]
fn paths_are_read_in_every_form() {
    let got = paths("use crate::{a::{b, c}, d};\nuse super::e::f;\nlet x = crate::g::h();\n$crate::no");
    let got: Vec<String> = got.iter().map(|p| p.join("::")).collect();
    assert_eq!(got, ["crate::a::b", "crate::a::c", "crate::d", "super::e::f", "crate::g::h"]);
    let stripped =
        strip_test_code("use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n}\nuse crate::c; // crate::d\n");
    assert_eq!(stripped, "use crate::a;\nuse crate::c; \n");
}

#[test]
fn top_level_modules_import_only_what_the_architecture_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    let mut top_level = BTreeSet::new();
    for (from, targets) in graph() {
        let Some(from_top) = from.first() else { continue };
        top_level.insert(from_top.clone());
        let Some(may) = allowed.get(from_top.as_str()) else {
            problems.push(format!("{from_top} is not in the architecture table (ALLOWED here, the README's map)"));
            continue;
        };
        for target in targets {
            let Some(to_top) = target.first() else {
                problems.push(format!("{} imports the crate root", from.join("::")));
                continue;
            };
            if to_top != from_top && !may.contains(&to_top.as_str()) {
                problems.push(format!("{} imports {}", from.join("::"), target.join("::")));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "imports the architecture does not allow:\n{}", problems.join("\n"));
    let listed: BTreeSet<String> = allowed.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(top_level, listed, "the table lists exactly the top-level modules");
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = graph();
    // Every cycle goes through some edge a → b with a path b ⇝ a; look for one per edge.
    let mut cycles = BTreeSet::new();
    for (from, targets) in &graph {
        for to in targets {
            let mut seen = BTreeSet::new();
            let mut stack = vec![(to.clone(), vec![from.join("::"), to.join("::")])];
            while let Some((node, trail)) = stack.pop() {
                if &node == from {
                    cycles.insert(trail.join(" → "));
                    break;
                }
                if !seen.insert(node.clone()) {
                    continue;
                }
                for next in graph.get(&node).into_iter().flatten() {
                    let mut trail = trail.clone();
                    trail.push(next.join("::"));
                    stack.push((next.clone(), trail));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.into_iter().collect::<Vec<_>>().join("\n"));
}
