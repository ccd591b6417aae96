//! Two `cargo xtask package` runs of one commit at once (a developer's terminal and an editor task, or two CI
//! steps on one runner): the second waits for the first instead of deleting its staging directory, then finds
//! what the first built up to date. On a generated one-crate repository, so each round takes seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask_engine::testkit::{git, text};

fn engine_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// One publishable crate, committed.
fn generate(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let files = [
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"tiny\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"0.3.0\"\n",
        ),
        (
            "tiny/Cargo.toml",
            "[package]\nname = \"tiny-lock-demo\"\nversion.workspace = true\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"demo\"\n",
        ),
        ("tiny/src/lib.rs", "pub fn one() -> u32 { 1 }\n"),
        (
            "ci.toml",
            "[[platform]]\nname = \"linux\"\nrunner = \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\nbuilds = [\"crates\"]\n",
        ),
        (".gitignore", "target/\n"),
    ];
    for (p, text) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "tiny"]);
    let lock = Command::new("cargo").args(["generate-lockfile", "--offline"]).current_dir(dir).status().unwrap();
    assert!(lock.success());
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "lock"]);
}

fn package(repo: &Path, out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["package", "--kinds", "crates", "--out", out.to_str().unwrap()])
        .current_dir(repo)
        .env("XTASK_ROOT", repo)
        .env("XTASK_TOOLS_DIR", engine_root().join(".tools"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run xtask")
}

#[test]
fn two_package_runs_of_one_commit_wait_for_each_other() {
    let repo = engine_root().join("target/package-lock/repo");
    generate(&repo);
    let mut waited = 0;
    for round in 0..3 {
        let out = repo.join(format!("target/out-{round}"));
        let (a, b) = (package(&repo, &out), package(&repo, &out));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            assert!(o.status.success(), "round {round}: a package run failed:\n{}", text(o));
        }
        waited += [&a, &b].iter().filter(|o| text(o).contains("waiting for another `cargo xtask package`")).count();
        let commit = String::from_utf8(
            Command::new("git").args(["rev-parse", "HEAD"]).current_dir(&repo).output().unwrap().stdout,
        )
        .unwrap();
        let dir = out.join(commit.trim());
        let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
        assert!(manifest.contains("crates/tiny-lock-demo-0.3.0.crate"), "round {round}: {manifest}");
        assert!(dir.join("crates/tiny-lock-demo-0.3.0.crate").is_file());
        assert!(!out.join(".staging").join(commit.trim()).exists(), "no staging left behind");
    }
    assert!(waited >= 1, "the two runs never overlapped: the lock was not exercised");
    let _ = std::fs::remove_dir_all(engine_root().join("target/package-lock"));
}
