//! The engine's layers, read from its source (`engine/src`): every subcommand is one module of `src/jobs/` named like it;
//! services (everything outside `src/jobs/`) never import a job; a job never imports another job; and the module
//! graph has no cycle. Test code (`tests.rs`, `testutil.rs`, inline `mod tests`) is not part of the graph. No
//! function is over 60 lines but the listed ones, whose ceilings only come down.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The jobs: the files and folders of `src/jobs/`.
fn jobs() -> BTreeSet<String> {
    std::fs::read_dir(src().join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "mod.rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The module a file belongs to: `jobs::NAME` for a job's files, `jobs` for the dispatcher, else the top-level
/// module (a service, `cli`, or `main`).
fn node(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    match parts.as_slice() {
        [jobs, m] if jobs == "jobs" && m == "mod" => "jobs".into(),
        [jobs, name, ..] if jobs == "jobs" => format!("jobs::{name}"),
        [first, ..] => first.clone(),
        [] => unreachable!(),
    }
}

/// The code of a file without comments and its inline test module.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The modules a path after `crate::` names (an `as` alias ignored).
fn targets(path: &str, jobs: &BTreeSet<String>) -> Vec<String> {
    let path = path.split(" as ").next().unwrap_or(path);
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let (first, rest) = path.split_once("::").unwrap_or((&path, ""));
    match first {
        "jobs" => {
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => {
                    group.strip_suffix('}').unwrap_or(group).split(',').map(|s| s.split("::").next().unwrap()).collect()
                }
                None => vec![rest.split("::").next().unwrap()],
            };
            names.into_iter().map(|n| if jobs.contains(n) { format!("jobs::{n}") } else { "jobs".into() }).collect()
        }
        // Re-exported by main.rs from where they live.
        "Ctx" => vec!["ctx".into()],
        "project_root" => vec!["root".into()],
        "" | "self" => vec![],
        m => vec![m.into()],
    }
}

/// The module path of a file: `jobs/gates/checks.rs` is `jobs::gates::checks`, `jobs/gates/mod.rs` is
/// `jobs::gates`, `lib.rs` is the root.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] {
        parts.pop();
    }
    parts
}

/// `super::` paths of a file, written as the `crate::` paths they stand for (`super::super::x` from
/// `jobs::gates::checks` is `crate::jobs::x`).
fn supers_as_crate_paths(code: &str, module: &[String]) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        // Not the tail of another word (`a_super::`).
        let before = rest[..i].chars().next_back();
        rest = &rest[i..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            rest = &rest["super::".len()..];
            continue;
        }
        let mut up = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            up += 1;
            rest = r;
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let base = &module[..module.len().saturating_sub(up)];
        let tail = &rest[..end];
        let path: Vec<&str> =
            base.iter().map(String::as_str).chain(tail.split("::").filter(|s| !s.is_empty())).collect();
        out.push_str(&format!("crate::{};\n", path.join("::")));
        rest = &rest[end..];
    }
    out
}

/// Every `crate::...` reference of a file, grouped imports (`use crate::{a, b::c};`) included.
fn references(code: &str, jobs: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let end = if rest.starts_with('{') || rest.starts_with("jobs::{") {
            // A group: up to its matching brace.
            let mut depth = 0;
            rest.char_indices()
                .find(|(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0 && *c == '}'
                })
                .map_or(rest.len(), |(i, _)| i + 1)
        } else {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len())
        };
        let path = &rest[..end];
        if let Some(group) = path.strip_prefix('{') {
            let group = group.strip_suffix('}').unwrap_or(group);
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if c == ',' && depth == 0 {
                    out.extend(targets(&item, jobs));
                    item.clear();
                } else {
                    item.push(c);
                }
            }
        } else {
            out.extend(targets(path, jobs));
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let jobs = jobs();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name == "testutil.rs" {
            continue;
        }
        let from = node(&f);
        let code = code(&f);
        let code = format!("{code}\n{}", supers_as_crate_paths(&code, &module_path(&f)));
        let to = references(&code, &jobs);
        g.entry(from.clone()).or_default().extend(to.into_iter().filter(|t| *t != from));
    }
    g
}

#[test]
fn services_never_import_jobs_and_jobs_never_import_each_other() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, tos) in &g {
        for to in tos.iter().filter(|t| t.starts_with("jobs")) {
            let allowed = match from.as_str() {
                // The entry point and the command line know every job; the dispatcher calls each one.
                "lib" | "cli" => true,
                "jobs" => to.starts_with("jobs::"),
                job if job.starts_with("jobs::") => false,
                _service => false,
            };
            if !allowed {
                wrong.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports across layers: {wrong:?}");
    assert!(g.contains_key("jobs::release") && g["jobs::release"].contains("artifacts"), "the graph is read: {g:?}");
}

#[test]
fn the_module_graph_has_no_cycle() {
    let g = graph();
    // Depth-first search; `main` is the root that imports everything and nothing imports.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(n.to_owned(), 1);
        path.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|p| p == m).unwrap();
                    cycles.push(format!("{} -> {m}", path[start..].join(" -> ")));
                }
                Some(_) => {}
                None => visit(m, g, state, path, cycles),
            }
        }
        path.pop();
        state.insert(n.to_owned(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    assert!(g.values().all(|tos| !tos.contains("lib")), "nothing imports the crate root (lib.rs)");
    for n in g.keys() {
        if !state.contains_key(n.as_str()) {
            visit(n, &g, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "cycles in the module graph: {cycles:#?}");
}

#[test]
fn each_subcommand_is_one_job_module_named_like_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    // The manual has a section `xtask NAME` per subcommand (`xtask ci list` is a subcommand of `ci`).
    let commands: Vec<&str> = help
        .lines()
        .filter_map(|l| l.strip_prefix("xtask "))
        .filter(|rest| !rest.trim().is_empty() && !rest.contains(' '))
        .map(str::trim)
        .collect();
    assert!(commands.len() >= 12, "{commands:?}");
    let jobs = jobs();
    for c in &commands {
        assert!(jobs.contains(*c), "`cargo xtask {c}` has no src/jobs/{c}.rs or src/jobs/{c}/");
    }
    for j in &jobs {
        assert!(commands.contains(&j.as_str()), "src/jobs/{j} is no subcommand");
    }
}

#[test]
fn references_are_read_from_grouped_imports_too() {
    let jobs: BTreeSet<String> = ["gates", "lint"].map(String::from).into();
    let code = "use crate::{Ctx, config, jobs::{gates, lint}, plan::{self, Step}};\nlet x = crate::store::open();";
    let got = references(code, &jobs);
    let want: BTreeSet<String> =
        ["ctx", "config", "jobs::gates", "jobs::lint", "plan", "store"].map(String::from).into();
    assert_eq!(got, want);
    // An alias, and `super::` paths from a job's own folder: `super::super::lint` is another job.
    assert_eq!(references("use crate::{jobs::lint as l};", &jobs), ["jobs::lint".to_owned()].into());
    let module = ["jobs", "gates", "checks"].map(String::from);
    let code = "use super::facts::Facts;\nlet x = super::super::lint::run;\nlet y = super::super::super::store::Store;";
    let got = references(&supers_as_crate_paths(code, &module), &jobs);
    let want: BTreeSet<String> = ["jobs::gates", "jobs::lint", "store"].map(String::from).into();
    assert_eq!(got, want);
}

/// The functions of `engine/src` (outside test code) allowed over [`MAX_LINES`], with their lengths: a ceiling
/// that only comes down. Empty since the engine became a library (there were 37); a function that must be longer
/// goes here with its length and a reason, and leaves once it is split.
const LONG_FUNCTIONS: &[(&str, &str, usize)] = &[];

/// The longest a function of the engine may be (lines from `fn` to its closing brace).
const MAX_LINES: usize = 60;

/// Every function of a file (outside its `#[cfg(test)] mod tests`): name and length in lines.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = (0..lines.len())
        .find(|&i| lines[i].starts_with("#[cfg(test)]") && lines.get(i + 1).is_some_and(|l| l.starts_with("mod tests")))
        .unwrap_or(lines.len());
    let mut out = Vec::new();
    for i in 0..end {
        let l = lines[i];
        let trimmed = l.trim_start();
        let indent = &l[..l.len() - trimmed.len()];
        let rest =
            ["pub(crate) ", "pub ", "const ", "async "].iter().fold(trimmed, |r, p| r.strip_prefix(p).unwrap_or(r));
        let Some(sig) = rest.strip_prefix("fn ") else { continue };
        if l.trim_end().ends_with(';') {
            continue;
        }
        let name: String = sig.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let close = format!("{indent}}}");
        let j = (i + 1..end).find(|&j| lines[j].trim_end() == close).unwrap_or(end);
        out.push((name, j - i + 1));
    }
    out
}

#[test]
fn functions_stay_short_and_the_long_ones_only_get_shorter() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name == "testutil.rs" {
            continue;
        }
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
        // Functions of one name in one file (methods of several types): the longest counts.
        let mut longest: BTreeMap<String, usize> = BTreeMap::new();
        for (function, len) in function_lengths(&std::fs::read_to_string(&f).unwrap()) {
            let l = longest.entry(function).or_default();
            *l = (*l).max(len);
        }
        for (function, len) in longest {
            let listed = LONG_FUNCTIONS.iter().find(|(file, n, _)| *file == rel && *n == function);
            match listed {
                Some((.., ceiling)) => {
                    seen.insert((rel.clone(), function.clone()));
                    if len > *ceiling {
                        problems.push(format!("{rel}: {function} grew to {len} lines (its ceiling is {ceiling})"));
                    } else if len <= MAX_LINES {
                        problems.push(format!("{rel}: {function} is {len} lines now: take it off LONG_FUNCTIONS"));
                    }
                }
                None if len > MAX_LINES => {
                    problems.push(format!("{rel}: {function} is {len} lines (at most {MAX_LINES}): split it"))
                }
                None => {}
            }
        }
    }
    for (file, function, _) in LONG_FUNCTIONS {
        if !seen.contains(&((*file).to_owned(), (*function).to_owned())) {
            problems.push(format!("{file}: {function} is gone: take it off LONG_FUNCTIONS"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The length counter reads nested and public functions and stops at a file's test module.
#[test]
fn function_lengths_are_counted_from_fn_to_its_closing_brace() {
    let text = "pub fn a() {\n    1\n}\n\nimpl X {\n    pub(crate) fn b(&self) {\n        let c = 1;\n    }\n}\n\
                fn decl();\n#[cfg(test)]\nmod tests {\n    fn t() {\n    }\n}\n";
    assert_eq!(function_lengths(text), [("a".to_owned(), 3), ("b".to_owned(), 3)]);
}
