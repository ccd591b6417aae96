//! The real `cargo xtask package` on fresh clones of this repository: every kind built (the wasm bundle where
//! a wasm toolchain exists, as in CI), the manifest checked against the files, the crate unpacked, the wheel
//! installed and imported, the second run a no-op, a changed artifact rebuilt, and two builds in two
//! directories identical bit for bit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    eprintln!("--- xtask {args:?}\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_wasm_toolchain() -> bool {
    let out = xtask(&["doctor", "--json"], &root());
    String::from_utf8_lossy(&out.stdout).contains("\"toolchain\"")
}

#[test]
#[ignore = "heavy part (two clean builds of every kind): cargo xtask test --part heavy"]
fn package_builds_every_kind_reproducibly_and_idempotently() {
    let root = root();
    let mut kinds = vec!["--crates", "--wheels", "--recordings", "--binaries"];
    if has_wasm_toolchain() {
        kinds.push("--wasm");
    } else {
        eprintln!("no wasm32 toolchain here: the wasm kind is not part of this run");
    }
    let mut args = vec!["package", "--check-reproducible"];
    args.extend(&kinds);
    let out = xtask(&args, &root);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "package --check-reproducible failed");
    assert!(stdout.contains("bit-for-bit identical"), "{stdout}");

    // The first clone and its output, left by the check.
    let base = root.join("target/reproducible/first");
    let clone = base.join("repo");
    let sha = run(Command::new("git").args(["-C"]).arg(&clone).args(["rev-parse", "HEAD"])).trim().to_owned();
    let commit_dir = base.join("out").join(&sha);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(commit_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["commit"], sha.as_str());
    assert_eq!(manifest["dirty"], false);
    let artifacts = manifest["artifacts"].as_array().unwrap();
    let kinds_found: std::collections::BTreeSet<&str> = artifacts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    let expected: std::collections::BTreeSet<&str> = kinds
        .iter()
        .map(|k| match *k {
            "--crates" => "crate",
            "--wheels" => "wheel",
            "--wasm" => "wasm",
            "--binaries" => "binary",
            _ => "recording",
        })
        .collect();
    assert_eq!(kinds_found, expected);
    // Hashes match the files: checked by sha256sum, independently of the xtask.
    for a in artifacts {
        let path = commit_dir.join(a["path"].as_str().unwrap());
        let sum = run(Command::new("sha256sum").arg(&path));
        assert_eq!(sum.split_whitespace().next().unwrap(), a["sha256"].as_str().unwrap(), "{}", path.display());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), a["size"].as_u64().unwrap());
    }
    let version = manifest["version"].as_str().unwrap();

    // The crate unpacks with the right version.
    let unpack = base.join("unpacked");
    let _ = std::fs::remove_dir_all(&unpack);
    std::fs::create_dir_all(&unpack).unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(commit_dir.join(format!("crates/reel-{version}.crate")))
        .arg("-C")
        .arg(&unpack));
    let cargo_toml = std::fs::read_to_string(unpack.join(format!("reel-{version}/Cargo.toml"))).unwrap();
    assert!(cargo_toml.contains(&format!("version = \"{version}\"")), "{cargo_toml}");

    // The wheel installs into a fresh virtualenv and imports.
    let venv = base.join("venv");
    run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
    // Both Linux architectures, at the manylinux baseline; the CLI program for both too.
    for arch in ["x86_64", "aarch64"] {
        let target = format!("{arch}-unknown-linux-gnu");
        let wheel = artifacts.iter().find(|a| a["kind"] == "wheel" && a["platform"] == target.as_str()).unwrap();
        assert!(wheel["tag"].as_str().unwrap().ends_with(&format!("manylinux_2_17_{arch}")), "{wheel}");
        assert!(
            artifacts.iter().any(|a| a["kind"] == "binary" && a["platform"] == target.as_str()),
            "no {target} binary"
        );
    }
    let wheel = artifacts.iter().find(|a| a["kind"] == "wheel" && a["platform"] == "x86_64-unknown-linux-gnu").unwrap()
        ["path"]
        .as_str()
        .unwrap();
    run(Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--no-index"])
        .arg(commit_dir.join(wheel)));
    let imported = run(Command::new(venv.join("bin/python")).args(["-c", "import reel; print(reel.__version__)"]));
    assert_eq!(imported.trim(), version);

    // The second run is a no-op.
    let out_dir = base.join("out");
    let out_dir = out_dir.to_str().unwrap();
    let mut again = vec!["package", "--out", out_dir];
    again.extend(&kinds);
    let out = xtask(&again, &clone);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert_eq!(text.matches("up to date").count(), kinds.len(), "{text}");
    assert!(!text.contains("building"), "{text}");

    // A changed artifact makes its kind rebuild, and only its kind.
    let recording = artifacts.iter().find(|a| a["kind"] == "recording").unwrap()["path"].as_str().unwrap();
    let path = commit_dir.join(recording);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let out = xtask(&again, &clone);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(text.contains("recording  building: 1 changed on disk"), "{text}");
    assert_eq!(text.matches("up to date").count(), kinds.len() - 1, "{text}");
    let rebuilt = run(Command::new("sha256sum").arg(&path));
    let listed = artifacts.iter().find(|a| a["path"] == recording).unwrap()["sha256"].as_str().unwrap().to_owned();
    assert_eq!(rebuilt.split_whitespace().next().unwrap(), listed, "the rebuilt recording is the same bytes again");
}
