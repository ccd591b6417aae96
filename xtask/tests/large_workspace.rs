//! The engine at the scale it was designed for: a generated monorepo of a hundred crates in ten levels (three
//! unpublished), three maturin packages and two wasm bundles (`testkit::large_workspace`), in
//! `target/large-workspace/`, driven by the engine's binary with `XTASK_ROOT`.
//!
//! Heavy part: the Rust tests across shards (built once, every test in exactly one shard, a flaky test named),
//! and `--changed-since` selecting a changed crate and exactly its dependents.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask_engine::testkit::{
    LARGE_CRATES, commit_repository, git, large_crate, large_deps, large_tops, large_workspace, text,
};

fn engine_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// A dependency line of one of the engine repository's manifests (the same pyo3 and wasm-bindgen, already in
/// the lock file and the cargo cache).
fn dependency_line(manifest: &str, name: &str) -> String {
    let text = std::fs::read_to_string(engine_root().join(manifest)).unwrap();
    text.lines().find(|l| l.starts_with(&format!("{name} = "))).unwrap().to_owned()
}

/// Writes the workspace into `dir` and commits it.
fn generate(dir: &Path) {
    let pyo3 = dependency_line("crates/reel-py/Cargo.toml", "pyo3");
    let wasm_bindgen = dependency_line("crates/reel-web/Cargo.toml", "wasm-bindgen");
    commit_repository(dir, &large_workspace(&pyo3, &wasm_bindgen), &engine_root().join("Cargo.lock"), "main");
}

fn xtask(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(repo)
        .env("XTASK_ROOT", repo)
        .env("XTASK_TOOLS_DIR", engine_root().join(".tools"))
        .envs(env.iter().copied())
        .output()
        .expect("run xtask");
    eprintln!("--- xtask {args:?}\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// Every package that depends on crate `i`, directly or not (the Python and wasm ones on top too), and `i`.
fn dependents(i: usize) -> BTreeSet<String> {
    let mut out: BTreeSet<usize> = BTreeSet::from([i]);
    loop {
        let more: Vec<usize> =
            (0..LARGE_CRATES).filter(|c| !out.contains(c) && large_deps(*c).iter().any(|d| out.contains(d))).collect();
        if more.is_empty() {
            break;
        }
        out.extend(more);
    }
    let tops = large_tops().into_iter().filter(|(_, uses)| out.contains(uses)).map(|(name, _)| name);
    out.iter().map(|c| large_crate(*c)).chain(tops).collect()
}

/// The Rust tests built once and run in four shards (one after another here): each test in exactly one shard,
/// their union every test of the archive, the flaky test reported by name; then a change to one crate selects
/// it and exactly its dependents.
#[test]
#[ignore = "heavy part (a hundred crates: their tests in shards, --changed-since): cargo xtask test --part heavy"]
fn a_hundred_crates_test_in_shards_and_select_their_dependents() {
    let repo = engine_root().join("target/large-workspace/shards");
    generate(&repo);
    let out = xtask(&repo, &["test", "--archive", "target/ci/tests.tar.zst"], &[]);
    assert!(out.status.success(), "the archive");
    let flaky_dir = repo.join("target/flaky");
    std::fs::create_dir_all(&flaky_dir).unwrap();
    let flaky = flaky_dir.to_str().unwrap();
    for k in 1..=4 {
        let shard = format!("{k}/4");
        let out = xtask(
            &repo,
            &["test", "--shard", &shard, "--archive", "target/ci/tests.tar.zst"],
            &[("CI_FLAKY_DIR", flaky)],
        );
        assert!(out.status.success(), "shard {shard}");
    }
    let junit = repo.join("target/ci/junit");
    let mut seen: Vec<String> = Vec::new();
    for k in 1..=4 {
        let xml = std::fs::read_to_string(junit.join(format!("shard-{k}-of-4.xml"))).unwrap();
        for case in xml.split("<testcase").skip(1) {
            let attr = |a: &str| case.split(&format!(" {a}=\"")).nth(1).unwrap().split('"').next().unwrap().to_owned();
            seen.push(format!("{} {}", attr("classname"), attr("name")));
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a test ran in two shards");
    let all = 2 * LARGE_CRATES + 2;
    assert_eq!(seen.len(), all, "two tests per crate, the flaky one and the one that fails when asked: {seen:?}");
    // Even shards (nextest's slice partitions): 202 tests in 4 shards of 50 or 51.
    for k in 1..=4 {
        let xml = std::fs::read_to_string(junit.join(format!("shard-{k}-of-4.xml"))).unwrap();
        let n = xml.matches("<testcase").count();
        assert!((50..=51).contains(&n), "shard {k}/4 ran {n} tests");
    }
    let out = xtask(&repo, &["test", "--join", "target/ci/junit"], &[]);
    assert!(out.status.success(), "the join");
    let t = text(&out);
    assert!(t.contains(&format!("| {all} | {all} | 0 | 1 |")), "{t}");
    assert!(t.contains("flaky (passed on a retry)") && t.contains("`lw-000 tests::flaky`"), "{t}");
    // A shard with a failing test fails, and still hands on its results: the join names the test.
    let failing = (1..=4)
        .find(|k| {
            let xml = std::fs::read_to_string(junit.join(format!("shard-{k}-of-4.xml"))).unwrap();
            xml.contains("fails_when_asked")
        })
        .unwrap();
    let shard = format!("{failing}/4");
    let out = xtask(&repo, &["test", "--shard", &shard, "--archive", "target/ci/tests.tar.zst"], &[("CI_FAIL", "1")]);
    assert!(!out.status.success(), "the failing shard fails");
    assert!(text(&out).contains("lw-001 tests::fails_when_asked"), "{}", text(&out));
    let out = xtask(&repo, &["test", "--join", "target/ci/junit"], &[]);
    assert!(
        !out.status.success() && text(&out).contains("1 test(s) failed: lw-001 tests::fails_when_asked"),
        "{}",
        text(&out)
    );
    // A shard missing from the join is named.
    std::fs::remove_file(junit.join("shard-3-of-4.xml")).unwrap();
    let out = xtask(&repo, &["test", "--join", "target/ci/junit"], &[]);
    assert!(!out.status.success() && text(&out).contains("shard 3/4 did not report"), "{}", text(&out));

    // A change to one crate of the middle level: its tests and its dependents', nothing else.
    let changed = 55;
    let lib = repo.join(format!("crates/{}/src/lib.rs", large_crate(changed)));
    std::fs::write(&lib, std::fs::read_to_string(&lib).unwrap() + "\n/// A change.\npub fn changed() {}\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "change one crate"]);
    let out = xtask(&repo, &["test", "--part", "rust", "--changed-since", "HEAD~1", "--json"], &[]);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = plan["steps"].as_array().unwrap().iter().find(|s| s["name"] == "rust tests").unwrap();
    let argv: Vec<&str> = step["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let selected: BTreeSet<String> = argv.windows(2).filter(|w| w[0] == "--package").map(|w| w[1].to_owned()).collect();
    assert_eq!(selected, dependents(changed));
    assert!(selected.len() > 1 && selected.len() < LARGE_CRATES / 2, "{selected:?}");
    // The lint of the same change: clippy on the same packages.
    let out = xtask(&repo, &["lint", "--changed-since", "HEAD~1", "--json"], &[]);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let clippy = plan["steps"].as_array().unwrap().iter().find(|s| s["name"] == "clippy").expect("clippy");
    let argv: Vec<&str> = clippy["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let linted: BTreeSet<String> = argv.windows(2).filter(|w| w[0] == "--package").map(|w| w[1].to_owned()).collect();
    assert_eq!(linted, dependents(changed));
}
