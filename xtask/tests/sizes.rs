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

/// A pull request's commit has no manifest: `--measure` packages its crates (no build) and reads the wasm
/// bundles the checkout built, and compares those with the base's same artifacts; the base's wheels are left
/// out and the report says what was not measured.
#[test]
fn a_pull_request_is_measured_without_a_build() {
    let files = [
        (
            "ci.toml",
            "[store]\ndefault = \"store\"\nweb = \"web\"\n\n[[wasm]]\npackage = \"viewer\"\nwww = \"www\"\n\n\
             [[wasm]]\npackage = \"other\"\nwww = \"www\"\n",
        ),
        ("Cargo.toml", "[workspace]\nmembers = [\"core\"]\nresolver = \"3\"\n"),
        (
            "core/Cargo.toml",
            "[package]\nname = \"core-x\"\nversion = \"1.0.0\"\nedition = \"2024\"\nlicense = \"MIT\"\ndescription = \"x\"\n",
        ),
        ("core/src/lib.rs", "//! A crate.\n\n/// One.\npub fn one() -> u32 {\n    1\n}\n"),
        ("www/index.html", "<p>x</p>\n"),
    ];
    let root = scratch("sizes-measure", &files);
    let lock = Command::new("cargo").args(["generate-lockfile", "--offline"]).current_dir(&root).output().unwrap();
    assert!(lock.status.success(), "{}", text(&lock));
    std::fs::write(root.join(".gitignore"), "/target\n/store\n").unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "a"]);
    let a = git(&root, &["rev-parse", "HEAD"]).trim().to_owned();
    git(&root, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(
        root.join("core/src/lib.rs"),
        "//! A crate, grown.\n\n/// One.\npub fn one() -> u32 {\n    1\n}\n".repeat(20),
    )
    .unwrap();
    git(&root, &["commit", "-q", "-am", "grow"]);
    let base = format!(
        r#"{{"artifacts":[
{{"command":"cargo package","kind":"crates","name":"core-x","path":"crates/core-x-1.0.0.crate","platform":null,"sha256":"{z}","size":1000,"tag":null,"tools":{{}},"version":"1.0.0"}},
{{"command":"maturin","kind":"wheels","name":"sdk","path":"wheels/sdk-1.0.0-cp39-abi3-x.whl","platform":"x86_64-unknown-linux-gnu","sha256":"{z}","size":5000,"tag":null,"tools":{{}},"version":"1.0.0"}},
{{"command":"wasm","kind":"wasm","name":"viewer","path":"web/viewer/app_bg.wasm","platform":null,"sha256":"{z}","size":4000,"tag":null,"tools":{{}},"version":"1.0.0"}},
{{"command":"wasm","kind":"wasm","name":"other","path":"web/other/app_bg.wasm","platform":null,"sha256":"{z}","size":4000,"tag":null,"tools":{{}},"version":"1.0.0"}}
],"commit":"{a}","dirty":false,"schema":1,"source_date_epoch":0,"version":"1.0.0","xtask_version":"0"}}"#,
        z = "0".repeat(64)
    );
    std::fs::create_dir_all(root.join("store/commit").join(&a)).unwrap();
    std::fs::write(root.join("store/commit").join(&a).join("manifest.json"), base).unwrap();
    // The test job built one bundle (the other was not affected).
    std::fs::create_dir_all(root.join("target/ci/web/viewer")).unwrap();
    std::fs::write(root.join("target/ci/web/viewer/app_bg.wasm"), vec![0u8; 4400]).unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sizes", "--measure"])
        .env("XTASK_ROOT", &root)
        .output()
        .unwrap();
    eprintln!("sizes --measure: {:.2} s", started.elapsed().as_secs_f64());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let size = std::fs::metadata(root.join("target/ci/sizes/package/core-x-1.0.0.crate")).unwrap().len();
    let measured = if size >= 1024 { format!("{:.1} KiB", size as f64 / 1024.0) } else { format!("{size} B") };
    assert!(t.contains(&format!("| crates core-x | 1000 B | {measured} |")), "the packaged size: {t}");
    assert!(size > 0 && t.contains("| wasm viewer app_bg.wasm | 3.9 KiB | 4.3 KiB | +10.0 % ⚠️ |"), "{t}");
    assert!(!t.contains("wheels sdk") && !t.contains("wasm other"), "only what was measured is compared: {t}");
    assert!(t.contains("not measured on a pull request: wheels") && t.contains("not measured: the wasm bundle other"));
    assert!(std::fs::read_to_string(root.join("target/ci/sizes.md")).unwrap().contains("crates core-x"));
    // Without --measure the commit has nothing to compare, as before.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(["sizes"]).env("XTASK_ROOT", &root).output().unwrap();
    assert!(out.status.success() && text(&out).contains("pass --measure"), "{}", text(&out));
    std::fs::remove_dir_all(&root).unwrap();
}
