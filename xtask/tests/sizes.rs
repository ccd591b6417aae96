//! `cargo xtask sizes` on a scratch repository with a directory store: the base is the newest main-branch commit
//! before the compared one that has a manifest in the store, found by walking back; nothing is built; the
//! report is the comment body and names both commits.

use std::process::Command;

use xtask_engine::testkit::{git, scratch, text};

fn manifest(commit: &str, version: &str, size: u64) -> String {
    format!(
        r#"{{"artifacts":[{{"command":"cargo package","kind":"crates","name":"core","path":"crates/core-{version}.crate","platform":null,"sha256":"{}","size":{size},"tag":null,"tools":{{}},"version":"{version}"}}],"commit":"{commit}","dirty":false,"schema":1,"source_date_epoch":0,"version":"{version}","xtask_version":"0"}}"#,
        "0".repeat(64)
    )
}

#[test]
fn sizes_compare_a_commit_with_the_newest_main_commit_that_has_a_manifest() {
    let files = [
        ("ci.toml", "[store]\ndefault = \"store\"\nweb = \"web\"\n"),
        ("a.txt", "a\n"),
        ("Cargo.toml", "[workspace]\n"),
    ];
    let root = scratch("sizes-repo", &files);
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "a"]);
    let a = git(&root, &["rev-parse", "HEAD"]).trim().to_owned();
    std::fs::write(root.join("a.txt"), "b\n").unwrap();
    git(&root, &["commit", "-q", "-am", "b (no manifest)"]);
    git(&root, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(root.join("a.txt"), "c\n").unwrap();
    git(&root, &["commit", "-q", "-am", "c"]);
    let c = git(&root, &["rev-parse", "HEAD"]).trim().to_owned();
    for (sha, version, size, dir) in [(&a, "0.9.0", 1000, "store/commit"), (&c, "1.0.0", 1100, "target/packages")] {
        std::fs::create_dir_all(root.join(dir).join(sha)).unwrap();
        std::fs::write(root.join(dir).join(sha).join("manifest.json"), manifest(sha, version, size)).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(["sizes"]).env("XTASK_ROOT", &root).output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(&format!("`{}` against `{}`", &c[..12], &a[..12])), "{t}");
    assert!(t.contains("| crates core | 1000 B | 1.1 KiB | +10.0 % ⚠️ |"), "{t}");
    let body = std::fs::read_to_string(root.join("target/ci/sizes.md")).unwrap();
    assert!(body.contains("+10.0 %"), "{body}");
    // No manifest for the commit: said, not failed.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sizes", "--commit", "HEAD~1"])
        .env("XTASK_ROOT", &root)
        .output()
        .unwrap();
    assert!(out.status.success() && text(&out).contains("has no manifest"), "{}", text(&out));
    // --json: one JSON document on stdout, nothing read or written; an option for a revision is refused.
    std::fs::remove_file(root.join("target/ci/sizes.md")).unwrap();
    let run =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).env("XTASK_ROOT", &root).output().unwrap();
    let out = run(&["--json", "sizes"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(plan["commit"], c.as_str());
    assert!(!root.join("target/ci/sizes.md").exists(), "--json writes no report");
    let out = run(&["sizes", "--commit", "--output=/tmp/x"]);
    assert_eq!(out.status.code(), Some(2), "refused as bad input: {}", text(&out));
    assert!(text(&out).contains("fix:"), "{}", text(&out));
    // A manifest under a commit's name that is another commit's is refused, not compared.
    let other = root.join("target/packages").join(&c).join("manifest.json");
    std::fs::write(&other, manifest(&a, "1.0.0", 1100)).unwrap();
    let out = run(&["sizes"]);
    assert!(!out.status.success() && text(&out).contains("substituted or misplaced"), "{}", text(&out));
    std::fs::remove_dir_all(&root).unwrap();
}
