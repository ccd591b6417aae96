//! The real `cargo xtask package` on fresh clones of this repository: every kind built (the wasm bundle where
//! a wasm toolchain exists, as in CI), two builds in two directories identical bit for bit, then one test per
//! scenario on what they built: the manifest against the files, the crate unpacked, the wheels and programs for
//! both Linux architectures, the wheel installed and imported, a second run a no-op, a changed artifact rebuilt.
//!
//! The two clean builds are the shared fixture: the first test to need them runs `package --check-reproducible`
//! (under a lock file, so the tests of this file, run as separate processes, build once per test run); the
//! others wait for it and read what it left in `target/reproducible/first/`. A scenario that changes files works on a
//! copy of the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use xtask_engine::testkit::{keep_output, run, tail};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn xtask(args: &[&str], repo: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("XTASK_ROOT", repo)
        .env("XTASK_TOOLS_DIR", root().join(".tools"))
        .output()
        .expect("run xtask");
    keep_output(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("logs"), &format!("xtask {}", args.join(" ")), &out);
    out
}

fn has_wasm_toolchain() -> bool {
    let out = xtask(&["doctor", "--json", "--tool", "cargo"], &root());
    String::from_utf8_lossy(&out.stdout).contains("\"toolchain\"")
}

/// What the two clean builds left: the first clone, its commit directory and manifest, the kinds built.
struct Built {
    clone: PathBuf,
    out: PathBuf,
    commit_dir: PathBuf,
    manifest: serde_json::Value,
    kinds: Vec<&'static str>,
}

impl Built {
    fn artifacts(&self) -> &Vec<serde_json::Value> {
        self.manifest["artifacts"].as_array().unwrap()
    }

    fn version(&self) -> &str {
        self.manifest["version"].as_str().unwrap()
    }
}

/// The shared fixture: `package --check-reproducible` once per commit of this repository.
fn built() -> Built {
    let root = root();
    let mut kinds = vec!["--crates", "--wheels", "--sdists", "--recordings", "--binaries"];
    if has_wasm_toolchain() {
        kinds.push("--wasm");
    } else {
        eprintln!("no wasm32 toolchain here: the wasm kind is not part of this run");
    }
    let base = root.join("target/reproducible");
    std::fs::create_dir_all(&base).unwrap();
    // Once per test run: nextest runs each test in a process of its own and names the run; `cargo test` runs
    // them as threads of one process.
    let run_id = std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| std::process::id().to_string());
    let marker = base.join(format!("checked-by-{run_id}"));
    let lock = base.join("fixture.lock");
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        if marker.exists() {
            break;
        }
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, std::process::id().to_string().as_bytes()).unwrap();
                let mut args = vec!["package", "--check-reproducible"];
                args.extend(&kinds);
                let out = xtask(&args, &root);
                let _ = std::fs::remove_file(&lock);
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(out.status.success(), "package --check-reproducible failed:\n{}", tail(&out, 60));
                assert!(stdout.contains("bit-for-bit identical"), "{stdout}");
                std::fs::write(&marker, "").unwrap();
                break;
            }
            Err(_) => {
                // A lock left by a process that is gone (an interrupted run) is taken over.
                let owner = std::fs::read_to_string(&lock).unwrap_or_default();
                if !owner.is_empty() && !Path::new(&format!("/proc/{}", owner.trim())).exists() {
                    let _ = std::fs::remove_file(&lock);
                    continue;
                }
                assert!(Instant::now() < deadline, "another test held {} for an hour", lock.display());
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
    let first = base.join("first");
    let clone = first.join("repo");
    let sha = run(Command::new("git").arg("-C").arg(&clone).args(["rev-parse", "HEAD"])).trim().to_owned();
    let commit_dir = first.join("out").join(&sha);
    let manifest = serde_json::from_str(&std::fs::read_to_string(commit_dir.join("manifest.json")).unwrap()).unwrap();
    Built { clone, out: first.join("out"), commit_dir, manifest, kinds }
}

#[test]
#[ignore = "heavy part (two clean builds of every kind): cargo xtask test --part heavy"]
fn every_kind_is_built_and_every_hash_matches_its_file() {
    let b = built();
    assert_eq!(b.manifest["dirty"], false);
    let kinds_found: std::collections::BTreeSet<&str> =
        b.artifacts().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    let expected: std::collections::BTreeSet<&str> = b
        .kinds
        .iter()
        .map(|k| match *k {
            "--crates" => "crates",
            "--wheels" => "wheels",
            "--sdists" => "sdists",
            "--wasm" => "wasm",
            "--binaries" => "binaries",
            _ => "recordings",
        })
        .collect();
    assert_eq!(kinds_found, expected);
    // Hashes match the files: checked by sha256sum, independently of the xtask.
    for a in b.artifacts() {
        let path = b.commit_dir.join(a["path"].as_str().unwrap());
        let sum = run(Command::new("sha256sum").arg(&path));
        assert_eq!(sum.split_whitespace().next().unwrap(), a["sha256"].as_str().unwrap(), "{}", path.display());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), a["size"].as_u64().unwrap());
    }
}

#[test]
#[ignore = "heavy part (two clean builds of every kind): cargo xtask test --part heavy"]
fn the_crate_unpacks_with_the_workspace_version() {
    let b = built();
    let version = b.version();
    let unpack = b.out.parent().unwrap().join("unpacked");
    let _ = std::fs::remove_dir_all(&unpack);
    std::fs::create_dir_all(&unpack).unwrap();
    let krate = b.commit_dir.join(format!("crates/reel-core-{version}.crate"));
    run(Command::new("tar").arg("-xzf").arg(krate).arg("-C").arg(&unpack));
    let cargo_toml = std::fs::read_to_string(unpack.join(format!("reel-core-{version}/Cargo.toml"))).unwrap();
    assert!(cargo_toml.contains(&format!("version = \"{version}\"")), "{cargo_toml}");
}

#[test]
#[ignore = "heavy part (two clean builds of every kind): cargo xtask test --part heavy"]
fn wheels_and_programs_exist_for_both_linux_architectures_and_the_wheel_imports() {
    let b = built();
    // Both Linux architectures, at the manylinux baseline; the CLI program for both too.
    for arch in ["x86_64", "aarch64"] {
        let target = format!("{arch}-unknown-linux-gnu");
        let wheel = b.artifacts().iter().find(|a| a["kind"] == "wheels" && a["platform"] == target.as_str()).unwrap();
        assert!(wheel["tag"].as_str().unwrap().ends_with(&format!("manylinux_2_17_{arch}")), "{wheel}");
        assert!(
            b.artifacts().iter().any(|a| a["kind"] == "binaries" && a["platform"] == target.as_str()),
            "no {target} binary"
        );
    }
    // The wheel installs into a fresh virtualenv and imports.
    let wheel = b
        .artifacts()
        .iter()
        .find(|a| a["kind"] == "wheels" && a["platform"] == "x86_64-unknown-linux-gnu")
        .unwrap()["path"]
        .as_str()
        .unwrap();
    let venv = b.out.parent().unwrap().join("venv-import");
    run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
    run(Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--no-index"])
        .arg(b.commit_dir.join(wheel)));
    let imported = run(Command::new(venv.join("bin/python")).args(["-c", "import reel; print(reel.__version__)"]));
    assert_eq!(imported.trim(), b.version());
}

/// The source distribution is enough to build the package where no wheel fits: pip builds a wheel from it alone
/// (maturin fetched into pip's isolated build environment, as a user's pip does), in a fresh virtualenv, and that
/// wheel installs and imports.
#[test]
#[ignore = "heavy part (two clean builds of every kind): cargo xtask test --part heavy"]
fn the_sdist_alone_builds_a_wheel_that_imports() {
    let b = built();
    let sdist = b.artifacts().iter().find(|a| a["kind"] == "sdists" && a["name"] == "reel-sdk").unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let work = b.out.parent().unwrap().join("from-sdist");
    let _ = std::fs::remove_dir_all(&work);
    // Unpacked elsewhere, away from this checkout: nothing of the repository but what the sdist holds.
    let venv = work.join("venv");
    run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
    let py = venv.join("bin/python");
    run(Command::new(&py)
        .args(["-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir"])
        .arg(work.join("wheel"))
        .arg(b.commit_dir.join(&sdist))
        .env("CARGO_TARGET_DIR", work.join("target"))
        .current_dir(&work));
    let built: Vec<PathBuf> = std::fs::read_dir(work.join("wheel")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(built.len(), 1, "{built:?}");
    let name = built[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!("reel_sdk-{}-", b.version())), "{name}");
    run(Command::new(&py).args(["-m", "pip", "install", "--quiet", "--no-index"]).arg(&built[0]));
    let imported = run(Command::new(&py).args(["-c", "import reel; print(reel.__version__)"]).current_dir(&work));
    assert_eq!(imported.trim(), b.version());
}

/// A copy of the first build's output, for a scenario that changes it.
fn copy_of_output(b: &Built, name: &str) -> PathBuf {
    let copy = b.out.parent().unwrap().join(name);
    let _ = std::fs::remove_dir_all(&copy);
    run(Command::new("cp").arg("-a").arg(&b.out).arg(&copy));
    copy
}

#[test]
#[ignore = "heavy part (two clean builds of every kind): cargo xtask test --part heavy"]
fn a_second_run_is_a_no_op() {
    let b = built();
    let out_dir = copy_of_output(&b, "out-second-run");
    let mut again = vec!["package", "--out", out_dir.to_str().unwrap()];
    again.extend(&b.kinds);
    let out = xtask(&again, &b.clone);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}", tail(&out, 60));
    assert_eq!(text.matches("up to date").count(), b.kinds.len(), "{text}");
    assert!(!text.contains("building"), "{text}");
}

#[test]
#[ignore = "heavy part (two clean builds of every kind): cargo xtask test --part heavy"]
fn a_changed_artifact_rebuilds_its_kind_and_only_its_kind() {
    let b = built();
    let out_dir = copy_of_output(&b, "out-changed");
    let commit_dir = out_dir.join(b.commit_dir.file_name().unwrap());
    let recording = b.artifacts().iter().find(|a| a["kind"] == "recordings").unwrap()["path"].as_str().unwrap();
    let path = commit_dir.join(recording);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let mut again = vec!["package", "--out", out_dir.to_str().unwrap()];
    again.extend(&b.kinds);
    let out = xtask(&again, &b.clone);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}", tail(&out, 60));
    assert!(text.contains("recordings building: 1 changed on disk"), "{text}");
    assert_eq!(text.matches("up to date").count(), b.kinds.len() - 1, "{text}");
    let rebuilt = run(Command::new("sha256sum").arg(&path));
    let listed = b.artifacts().iter().find(|a| a["path"] == recording).unwrap()["sha256"].as_str().unwrap().to_owned();
    assert_eq!(rebuilt.split_whitespace().next().unwrap(), listed, "the rebuilt recording is the same bytes again");
}
