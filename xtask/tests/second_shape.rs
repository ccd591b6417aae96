//! The engine on a repository of another shape, driven only by that repository's `ci.toml`: eight crates in a
//! dependency chain with an unpublished one in the middle (named so that alphabetical order is the reverse of
//! dependency order), two maturin packages, two wasm bundles, no example scripts, one Linux platform on another
//! runner, another main branch, label scheme, allowlist and markers, and a rule that `*.png` lives in Git LFS.
//!
//! The repository is generated here (not a committed copy), beside this one in `target/second-shape/`. It adopts
//! the engine as an adopter does: an `xtask` crate of its own whose main is one line, depending on the engine
//! (here by path, on this checkout's `engine/`), and the `cargo xtask` alias. Its own settings differ from the
//! engine's (MSRV 1.88, rustfmt's `max_width = 100`) and never judge the engine's code. The quick scenarios run
//! this crate's binary (the same engine) with `XTASK_ROOT` pointing at it; `cargo xtask` in it runs its own.
//!
//! Quick scenarios (gates, a missing or broken file, workflows and plans, the pipeline of a variant without wasm)
//! run in the default suite; the full pipeline (every job of the variant with `cargo xtask ci`; package
//! reproducibly, upload, sign, release to a local registry and PyPI server) is in the heavy part.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use xtask_engine::testkit::{Server, free_port, git, keep_output, run, tail, text, wait_for};

/// This repository (the engine's).
fn engine_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// The names of the engine's own repository that must not appear in the other repository's outputs.
const OURS: &[&str] = &["reel", "ubuntu-latest", "examples/python", "kind: fix", "windows-latest"];

/// The publishable crates, in dependency order (each depends on the one before).
const CHAIN: &[&str] = &["fx-h", "fx-g", "fx-f", "fx-e", "fx-c", "fx-b", "fx-a"];
/// The unpublished crate in the middle of the chain: depends on fx-e; fx-c uses it as a dev-dependency.
const INTERNAL: &str = "fx-d";
const VERSION: &str = "2.3.0";

/// A dependency line of one of the engine repository's manifests (so the generated repository uses the same
/// pyo3 and wasm-bindgen, already in the lock file and the cargo cache).
fn dependency_line(manifest: &str, name: &str) -> String {
    let text = std::fs::read_to_string(engine_root().join(manifest)).unwrap();
    text.lines().find(|l| l.starts_with(&format!("{name} = "))).unwrap_or_else(|| panic!("{name} in {manifest}")).into()
}

fn ci_toml() -> String {
    r#"# The CI settings of a repository that is not the engine's.
[workspace]
unversioned = ["xtask"]
check-targets = []

[[python]]
dist = "fx-one"
module = "fx_one"
dir = "py/one"
tests = "py/one/tests"

[[python]]
dist = "fx-two"
module = "fx_two"
dir = "py/two"
tests = "py/two/tests"

[[wasm]]
package = "fx-web-one"
www = "web/one/www"
node-tests = "web/one/tests/load.test.mjs"

[[wasm]]
package = "fx-web-two"
www = "web/two/www"

[test]
default-parts = ["rust", "python", "wasm"]
# Its xtask is one line of main: nothing to test, and its tests would compile the engine.
exclude = ["xtask"]

[[platform]]
name = "gnu"
runner = "ubuntu-24.04"
target = "x86_64-unknown-linux-gnu"
wheels = ["x86_64-unknown-linux-gnu"]
builds = ["crates", "wheels", "wasm"]

[gates]
main-branch = "trunk"
labels = [{ exactly-one-of = ["type/feature", "type/bug", "type/chore"] }, { none-of = ["hold"] }]
keywords = ["NOT READY"]
keywords-in = ["title", "body"]
markers = ["FIXME-BEFORE-MERGE"]
keyword-exempt = ["ci.toml"]
max-file-bytes = 2048
large-file-allow = ["vendor/**", "Cargo.lock"]
forbidden = ["*.log"]
lfs = ["*.png"]

[store]
default = "target/fx-store"
web = "target/fx-web"

[release]
registry-api = "https://registry.invalid"
registry-index = "sparse+https://index.registry.invalid/"
pypi-upload = "https://pypi.invalid/legacy/"
pypi-simple = "https://pypi.invalid/simple/"
wheel-targets = ["x86_64-unknown-linux-gnu"]
signing-key = "keys/release.pub"
"#
    .into()
}

/// Writes the repository into `dir` and commits it on `trunk`.
fn generate(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let mut files: Vec<(String, String)> = Vec::new();
    let mut add = |path: &str, text: String| files.push((path.into(), text));
    let engine = engine_root();
    add(
        "Cargo.toml",
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\"crates/*\", \"py/*\", \"web/*\", \"xtask\"]\n\n[workspace.package]\n\
             version = \"{VERSION}\"\nedition = \"2024\"\nrust-version = \"1.88\"\nlicense = \"MIT\"\n\
             repository = \"https://example.invalid/fx\"\n"
        ),
    );
    // The adoption: a dependency line and a main of one line (an adopter names a version from the registry).
    add(
        "xtask/Cargo.toml",
        format!(
            "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nxtask-engine = {{ path = \"{}/engine\" }}\n",
            engine.display()
        ),
    );
    // Its main: the engine, and one command of its own beside the engine's (run by a job of ci.toml's in the
    // variant without wasm).
    add(
        "xtask/src/main.rs",
        "//! This repository's `cargo xtask`: the engine, and one command of its own.\n\n\
         use xtask_engine::{Command, Repository};\n\nfn main() -> std::process::ExitCode {\n    \
         let count = Command {\n        name: \"fx-count\",\n        about: \"counts the crates\",\n        \
         run: count,\n    };\n    xtask_engine::main_with(env!(\"CARGO_MANIFEST_DIR\"), &[count])\n}\n\n\
         /// Prints how many crates `crates/` holds.\n\
         fn count(repo: &Repository, _: &[String]) -> Result<(), Box<dyn std::error::Error>> {\n    \
         let n = std::fs::read_dir(repo.root.join(\"crates\"))?.count();\n    println!(\"{n} crates\");\n    \
         Ok(())\n}\n"
            .into(),
    );
    // Formatting of its own, narrower than the engine's: it judges this repository's files only.
    add("rustfmt.toml", "max_width = 100\n".into());
    add("rust-toolchain.toml", std::fs::read_to_string(engine.join("rust-toolchain.toml")).unwrap());
    add(
        ".cargo/config.toml",
        format!(
            "# Its own xtask (an adopter's alias is `run --package xtask --`; the target directory is shared by the\n\
             # generated repositories so that the engine compiles once for all of them).\n\
             [alias]\nxtask = \"run --quiet --locked --package xtask --target-dir {}/target/engine-for-fixtures --\"\n",
            engine.display()
        ),
    );
    add(".gitignore", "/target\n".into());
    add("ci.toml", ci_toml());
    add("README.md", "# fx\n\nA repository of another shape. See [the crates](crates/fx-a/src/lib.rs).\n".into());
    let package = |name: &str, publish: bool, deps: &[String], dev: &[String]| {
        let mut t = format!(
            "[package]\nname = \"{name}\"\ndescription = \"{name}, a crate of the second shape\"\n\
             version.workspace = true\nedition.workspace = true\nrust-version.workspace = true\n\
             license.workspace = true\nrepository.workspace = true\n"
        );
        if !publish {
            t.push_str("publish = false\n");
        }
        t.push_str("\n[dependencies]\n");
        for d in deps {
            t.push_str(d);
            t.push('\n');
        }
        if !dev.is_empty() {
            t.push_str("\n[dev-dependencies]\n");
            for d in dev {
                t.push_str(d);
                t.push('\n');
            }
        }
        t
    };
    let dep = |name: &str, dir: &str| format!("{name} = {{ path = \"{dir}\", version = \"={VERSION}\" }}");
    let ident = |name: &str| name.replace('-', "_");
    // The chain: fx-h <- fx-g <- fx-f <- fx-e <- fx-c <- fx-b <- fx-a; fx-d (unpublished) depends on fx-e and
    // fx-c tests with it.
    for (i, name) in CHAIN.iter().enumerate() {
        let mut deps = Vec::new();
        let mut dev = Vec::new();
        let body = if i == 0 {
            "1".to_owned()
        } else {
            let prev = CHAIN[i - 1];
            deps.push(dep(prev, &format!("../{prev}")));
            format!("{}::value() + 1", ident(prev))
        };
        if *name == "fx-c" {
            dev.push(format!("{INTERNAL} = {{ path = \"../{INTERNAL}\" }}"));
        }
        add(&format!("crates/{name}/Cargo.toml"), package(name, true, &deps, &dev));
        let mut lib = format!(
            "//! `{name}`: one link of the chain.\n\n/// This link's value: one more than the link it depends on.\n\
             pub fn value() -> u64 {{\n    {body}\n}}\n\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn counts_the_links() {{\n        \
             assert_eq!(super::value(), {});\n    }}\n",
            i + 1
        );
        if *name == "fx-c" {
            lib.push_str(&format!(
                "\n    #[test]\n    fn agrees_with_the_harness() {{\n        assert_eq!(super::value(), {}::expected_c());\n    }}\n",
                ident(INTERNAL)
            ));
        }
        lib.push_str("}\n");
        add(&format!("crates/{name}/src/lib.rs"), lib);
    }
    add(&format!("crates/{INTERNAL}/Cargo.toml"), package(INTERNAL, false, &[dep("fx-e", "../fx-e")], &[]));
    add(
        &format!("crates/{INTERNAL}/src/lib.rs"),
        "//! A test harness that is never published.\n\n/// What `fx-c` must compute.\npub fn expected_c() -> u64 {\n    \
         fx_e::value() + 1\n}\n"
            .into(),
    );
    // Two maturin packages.
    let pyo3 = dependency_line("crates/reel-py/Cargo.toml", "pyo3");
    for (dir, dist, module, uses) in [("one", "fx-one", "fx_one", "fx-a"), ("two", "fx-two", "fx_two", "fx-c")] {
        let crate_name = format!("fx-py-{dir}");
        let mut manifest =
            package(&crate_name, false, &[dep(uses, &format!("../../crates/{uses}")), pyo3.clone()], &[]);
        manifest.push_str(&format!(
            "\n[lib]\nname = \"{module}\"\ncrate-type = [\"cdylib\"]\ntest = false\ndoctest = false\n\n\
             [features]\nextension-module = [\"pyo3/extension-module\"]\n"
        ));
        add(&format!("py/{dir}/Cargo.toml"), manifest);
        let groups = if dir == "one" {
            "\n[dependency-groups]\ntest = [{ include-group = \"fixtures\" }]\nfixtures = [\"six==1.17.0\"]\n"
        } else {
            ""
        };
        add(
            &format!("py/{dir}/pyproject.toml"),
            format!(
                "[build-system]\nrequires = [\"maturin>=1.16,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\n\
                 name = \"{dist}\"\nreadme = \"README.md\"\nrequires-python = \">=3.9\"\ndynamic = [\"version\"]\n\n[tool.maturin]\n\
                 features = [\"extension-module\"]\n\n[tool.maturin.sbom]\nrust = false\n{groups}"
            ),
        );
        add(&format!("py/{dir}/README.md"), format!("# {dist}\n\nThe value of `{uses}`, from Python.\n"));
        add(
            &format!("py/{dir}/src/lib.rs"),
            format!(
                "//! The `{module}` extension module.\n\nuse pyo3::prelude::*;\n\n/// The value of `{uses}`.\n\
                 #[pyfunction]\nfn value() -> u64 {{\n    {}::value()\n}}\n\n#[pymodule]\n\
                 fn {module}(m: &Bound<'_, PyModule>) -> PyResult<()> {{\n    \
                 m.add(\"__version__\", env!(\"CARGO_PKG_VERSION\"))?;\n    \
                 m.add_function(wrap_pyfunction!(value, m)?)?;\n    Ok(())\n}}\n",
                ident(uses)
            ),
        );
        let expected = CHAIN.iter().position(|c| *c == uses).unwrap() + 1;
        // fx-one's tests need a package of their own, named in a PEP 735 dependency group (`test`, which
        // includes `fixtures`): `cargo xtask test` installs it beside the wheel.
        let (import, group_test) = if dir == "one" {
            ("\nimport six", "\n\ndef test_the_test_group_is_installed():\n    assert six.PY3\n")
        } else {
            ("", "")
        };
        add(
            &format!("py/{dir}/tests/test_{module}.py"),
            format!(
                "\"\"\"The installed {dist} wheel.\"\"\"\n\nimport {module}{import}\n\n\ndef test_value():\n    \
                 assert {module}.value() == {expected}\n\n\ndef test_version():\n    assert {module}.__version__ == \"{VERSION}\"\n{group_test}"
            ),
        );
    }
    // Two wasm bundles.
    let wasm_bindgen = dependency_line("crates/reel-web/Cargo.toml", "wasm-bindgen");
    for (dir, uses) in [("one", "fx-b"), ("two", "fx-f")] {
        let crate_name = format!("fx-web-{dir}");
        let mut manifest =
            package(&crate_name, false, &[dep(uses, &format!("../../crates/{uses}")), wasm_bindgen.clone()], &[]);
        manifest.push_str("\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n");
        add(&format!("web/{dir}/Cargo.toml"), manifest);
        add(
            &format!("web/{dir}/src/lib.rs"),
            format!(
                "//! A page showing the value of `{uses}`.\n\nuse wasm_bindgen::prelude::*;\n\n/// The value of `{uses}`.\n\
                 #[wasm_bindgen]\npub fn value() -> u32 {{\n    {}::value() as u32\n}}\n",
                ident(uses)
            ),
        );
        add(
            &format!("web/{dir}/www/index.html"),
            format!(
                "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>fx {dir}</title></head>\n\
                 <body><p id=\"v\"></p><script type=\"module\" src=\"./main.js\"></script></body>\n</html>\n"
            ),
        );
        // node 18 loads the bundle's ES modules only with this beside them.
        add(&format!("web/{dir}/www/package.json"), "{\n  \"private\": true,\n  \"type\": \"module\"\n}\n".into());
        add(
            &format!("web/{dir}/www/main.js"),
            format!(
                "import init, {{ value }} from \"./{}.js\";\n\nawait init();\ndocument.getElementById(\"v\").textContent = String(value());\n",
                ident(&crate_name)
            ),
        );
    }
    add(
        "web/one/tests/load.test.mjs",
        "// The bundle in node: CI_BUNDLE names its directory.\nimport { test } from \"node:test\";\n\
         import assert from \"node:assert/strict\";\nimport { readFileSync } from \"node:fs\";\nimport { join } from \"node:path\";\n\
         import { pathToFileURL } from \"node:url\";\n\nconst bundle = process.env.CI_BUNDLE;\n\
         const mod = await import(pathToFileURL(join(bundle, \"fx_web_one.js\")).href);\n\
         await mod.default({ module_or_path: readFileSync(join(bundle, \"fx_web_one_bg.wasm\")) });\n\n\
         test(\"the bundle computes fx-b's value\", () => {\n  assert.equal(mod.value(), 6);\n});\n"
            .into(),
    );
    for (path, text) in &files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    // The engine repository's lock file, pruned and extended by cargo to this workspace (offline: every
    // dependency is one the engine's repository uses).
    std::fs::copy(engine.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    run(Command::new("cargo").args(["metadata", "--offline", "--format-version", "1"]).current_dir(dir));
    git(dir, &["init", "-q", "-b", "trunk"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "the second shape"]);
}

/// A fresh repository of the second shape for one scenario.
fn fixture(name: &str) -> PathBuf {
    let dir = engine_root().join("target/second-shape").join(name);
    generate(&dir);
    dir
}

/// The engine on `repo`, with this checkout's tools directory (already provisioned tools are shared).
fn xtask(repo: &Path, args: &[&str]) -> Output {
    xtask_env(repo, args, &[])
}

fn xtask_env(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(repo)
        .env("XTASK_ROOT", repo)
        .env("XTASK_TOOLS_DIR", engine_root().join(".tools"))
        .envs(env.iter().copied())
        .output()
        .expect("run xtask");
    keep_output(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("logs"), &format!("xtask {}", args.join(" ")), &out);
    out
}

fn assert_none_of_ours(what: &str, text: &str) {
    for name in OURS {
        assert!(!text.contains(name), "{what} names `{name}` of the engine's repository:\n{text}");
    }
}

#[test]
fn the_gates_apply_that_repository_s_own_rules() {
    let repo = fixture("gates");
    git(&repo, &["checkout", "-q", "-b", "change"]);
    let write = |path: &str, bytes: &[u8]| {
        let p = repo.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    write("docs/logo.png", b"\x89PNG\r\n\x1a\nnot in LFS");
    write("build.log", b"debris");
    write("big.bin", &[7u8; 3000]);
    write("vendor/blob.dat", &[1u8; 5000]);
    write("crates/fx-a/src/extra.rs", b"// FIXME-BEFORE-MERGE\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "a change"]);

    // The engine repository's label scheme means nothing here; this one's does.
    let out = xtask(&repo, &["gates", "--json", "--labels", "kind: fix", "--title", "t", "--body", "b"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gate = |name: &str| report["gates"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap().clone();
    let messages = |name: &str| -> Vec<String> {
        gate(name)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{}: {}", f["file"].as_str().unwrap_or(""), f["message"].as_str().unwrap()))
            .collect()
    };
    assert_eq!(gate("labels")["status"], "fail");
    assert!(messages("labels")[0].contains("needs exactly one of [type/feature, type/bug, type/chore]"));
    let patterns = messages("file-patterns").join("\n");
    assert!(patterns.contains("docs/logo.png: matches `*.png`, which must be stored in Git LFS"), "{patterns}");
    assert!(patterns.contains("build.log: matches the forbidden pattern `*.log`"), "{patterns}");
    let large = messages("large-files").join("\n");
    assert!(large.contains("big.bin") && !large.contains("vendor/blob.dat"), "2048 bytes, vendor/** allowed: {large}");
    let keywords = messages("keywords").join("\n");
    assert!(keywords.contains("crates/fx-a/src/extra.rs: added line contains the marker"), "{keywords}");
    // The base is this repository's main branch, `trunk`.
    assert_eq!(report["base_desc"], "trunk");

    // Fixed: the image as an LFS pointer, the debris and the marker gone, a label of this scheme.
    let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
    write("docs/logo.png", pointer.as_bytes());
    std::fs::remove_file(repo.join("build.log")).unwrap();
    std::fs::remove_file(repo.join("big.bin")).unwrap();
    write("crates/fx-a/src/extra.rs", b"// done\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "fixed"]);
    let out = xtask(&repo, &["gates", "--labels", "type/bug", "--title", "t", "--body", "b"]);
    // Every commit is checked: the first commit still brought the debris into history.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    git(&repo, &["reset", "-q", "--soft", "trunk"]);
    git(&repo, &["commit", "-q", "-m", "one clean commit"]);
    let out = xtask(&repo, &["gates", "--labels", "type/bug", "--title", "t", "--body", "b"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    // A blocking label and a keyword in the body, where this repository looks for it.
    let out = xtask(&repo, &["gates", "--labels", "type/bug,hold", "--title", "t", "--body", "NOT READY yet"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("has the blocking label `hold`") && t.contains("NOT READY"), "{t}");
}

#[test]
fn without_its_file_a_job_names_the_section_and_a_broken_file_names_the_line() {
    let repo = fixture("no-file");
    std::fs::remove_file(repo.join("ci.toml")).unwrap();
    for (args, section) in [
        (&["gates"][..], "[gates]"),
        (&["workflows", "--check"][..], "[platform]"),
        (&["upload", "--dry-run"][..], "[store]"),
        (&["release", "--commit", &"a".repeat(40), "--dry-run"][..], "[release]"),
        (&["test", "--dry-run"][..], "[test]"),
    ] {
        let out = xtask(&repo, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("needs the {section} section of ci.toml: there is no")), "{args:?}: {err}");
        assert!(err.contains("fix: create it with\n"), "{err}");
        assert_none_of_ours("the missing-file message", &err);
    }
    // The documented defaults, only when asked for.
    let out = xtask(&repo, &["gates", "--defaults", "--base", "trunk", "--labels", ""]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    // A broken file stops every job, naming the line and the key.
    std::fs::write(repo.join("ci.toml"), ci_toml().replace("max-file-bytes = 2048", "max-file-bytes = \"2k\""))
        .unwrap();
    for args in [&["gates"][..], &["doctor", "--tool", "git"][..], &["lint", "--dry-run"][..]] {
        let out = xtask(&repo, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let line = ci_toml().lines().position(|l| l.starts_with("max-file-bytes")).unwrap() + 1;
        assert!(
            err.contains(&format!(
                "ci.toml:{line}:18: gates.max-file-bytes: invalid type: string \"2k\", expected u64"
            )),
            "{err}"
        );
    }
    // A runner that would add keys to the generated YAML: refused, nothing written.
    let hostile = ci_toml().replace("runner = \"ubuntu-24.04\"", "runner = \"ubuntu-24.04\\n    steps: [] #\"");
    std::fs::write(repo.join("ci.toml"), hostile).unwrap();
    let out = xtask(&repo, &["workflows"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("platform[0].runner: \"ubuntu-24.04\\n    steps: [] #\" is not a plain name"), "{err}");
    assert!(!repo.join(".github").exists(), "nothing was written");
    std::fs::write(repo.join("ci.toml"), ci_toml().replace("[store]\n", "[store]\nbucket = \"b\"\n")).unwrap();
    let err = String::from_utf8_lossy(&xtask(&repo, &["gates"]).stderr).into_owned();
    assert!(err.contains(": store.bucket: unknown field `bucket`, expected `default` or `web`"), "{err}");
}

#[test]
fn workflows_and_plans_are_that_repository_s_own() {
    let repo = fixture("workflows");
    let out = xtask(&repo, &["workflows"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    let dir = repo.join(".github/workflows");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["create-packages.yml", "lint-build-test.yml", "pr-gates.yml", "release.yml"]);
    for n in &names {
        let yaml = std::fs::read_to_string(dir.join(n)).unwrap();
        assert_none_of_ours(n, &yaml);
        assert!(yaml.contains("runs-on: ubuntu-24.04"), "{n}: the platform's runner");
    }
    let packages = std::fs::read_to_string(dir.join("create-packages.yml")).unwrap();
    assert!(packages.contains("branches: [trunk]") && packages.contains("Platforms: gnu (comma-separated)"));
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "workflows"]);
    assert!(xtask(&repo, &["workflows", "--check"]).status.success());
    let matrix = xtask(&repo, &["ci", "matrix", "--platforms", "gnu"]);
    assert!(String::from_utf8_lossy(&matrix.stdout).contains("\"kinds\":\"crates,wheels,wasm\""));

    // The plans, as data: this repository's packages and nothing of the engine's.
    let plan = |args: &[&str]| -> String {
        let out = xtask(&repo, args);
        assert!(out.status.success(), "{args:?}: {}", tail(&out, 60));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"));
        assert_none_of_ours(&format!("{args:?}"), &stdout);
        stdout
    };
    let test = plan(&["test", "--json"]);
    for name in ["pytest: fx-one", "pytest: fx-two", "node: fx-web-one", "wheel: fx-two"] {
        assert!(test.contains(name), "{name} in {test}");
    }
    assert!(!test.contains("node: fx-web-two") && !test.contains("browser:"), "no node tests for fx-web-two");
    let package = plan(&["package", "--json"]);
    for name in ["maturin build fx-one (x86_64-unknown-linux-gnu)", "py/two/Cargo.toml", "--package fx-web-two"] {
        assert!(package.contains(name), "{name} in {package}");
    }
    assert!(!package.contains("recording:") && !package.contains("binary:"), "{package}");
    let lint = plan(&["lint", "--json"]);
    assert!(lint.contains("alone: fx-d") && lint.contains("features: fx-h") && !lint.contains("features: fx-d"));
    let release = plan(&["release", "--commit", &"a".repeat(40), "--json"]);
    assert!(release.contains("https://registry.invalid") && release.contains("target/fx-store"), "{release}");
}

/// A local crate registry (cargo-http-registry, its index a git repository in `target/registry`) and package
/// index (pypiserver) for `repo`, stopped when dropped.
struct Registries {
    _registry: Server,
    _pypi: Server,
    registry_port: u16,
    pypi_port: u16,
    registry: PathBuf,
}

impl Registries {
    fn start(repo: &Path) -> Registries {
        let engine = engine_root();
        let provision = xtask(&engine, &["doctor", "--provision", "--tool", "cargo-http-registry", "--tool", "twine"]);
        assert!(provision.status.success(), "{}", tail(&provision, 60));
        let tools = engine.join(".tools");
        let registry = repo.join("target/registry");
        let registry_port = free_port();
        let reg = Server(
            Command::new(tools.join("cargo/bin/cargo-http-registry"))
                .args(["--addr", &format!("127.0.0.1:{registry_port}")])
                .arg(&registry)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let pypi_dir = repo.join("target/pypi");
        std::fs::create_dir_all(&pypi_dir).unwrap();
        let pypi_port = free_port();
        let pypi = Server(
            Command::new(tools.join("venv/bin/pypi-server"))
                .args(["run", "-i", "127.0.0.1", "-p", &pypi_port.to_string(), "-P", ".", "-a", "."])
                .arg(&pypi_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for(registry_port, "cargo-http-registry");
        wait_for(pypi_port, "pypi-server");
        Registries { _registry: reg, _pypi: pypi, registry_port, pypi_port, registry }
    }

    /// The release targets as the environment overrides them (what a replay or `cargo xtask ci` passes on).
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("XTASK_REGISTRY_API".into(), format!("http://127.0.0.1:{}", self.registry_port)),
            ("XTASK_REGISTRY_INDEX".into(), format!("file://{}", self.registry.display())),
            ("XTASK_PYPI_UPLOAD".into(), format!("http://127.0.0.1:{}/", self.pypi_port)),
            ("XTASK_PYPI_SIMPLE".into(), format!("http://127.0.0.1:{}/simple/", self.pypi_port)),
        ]
    }
}

/// The second shape varied: no wasm bundle (the `web/` crates gone, `[[wasm]]` out of ci.toml), and two jobs of
/// its own in ci.toml, one for pushes only.
fn fixture_without_wasm(name: &str) -> PathBuf {
    let repo = fixture(name);
    std::fs::remove_dir_all(repo.join("web")).unwrap();
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    std::fs::write(repo.join("Cargo.toml"), manifest.replace(", \"web/*\"", "")).unwrap();
    let toml = ci_toml();
    let start = toml.find("[[wasm]]").unwrap();
    let end = toml.find("[test]").unwrap();
    let toml = format!("{}{}", &toml[..start], &toml[end..])
        .replace("default-parts = [\"rust\", \"python\", \"wasm\"]", "default-parts = [\"rust\", \"python\"]")
        .replace("builds = [\"crates\", \"wheels\", \"wasm\"]", "builds = [\"crates\", \"wheels\"]");
    let jobs = "\n[[job]]\nname = \"deps\"\nworkflow = \"lint-build-test\"\nrun = [\"cargo\", \"tree\", \"--workspace\", \"--depth\", \"1\", \"--offline\"]\nneeds = [\"lint\"]\n\n\
                [[job]]\nname = \"count\"\nworkflow = \"lint-build-test\"\nrun = [\"cargo\", \"xtask\", \"fx-count\"]\n\n\
                [[job]]\nname = \"settings\"\nworkflow = \"create-packages\"\non = [\"push\"]\nrun = [\"cargo\", \"xtask\", \"doctor\"]\n";
    std::fs::write(repo.join("ci.toml"), format!("{toml}{jobs}")).unwrap();
    run(Command::new("cargo").args(["metadata", "--offline", "--format-version", "1"]).current_dir(&repo));
    let out = xtask(&repo, &["workflows"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "no wasm; jobs of its own"]);
    repo
}

/// A workspace with no wasm, no `#[ignore]` tests and x86_64 wheels only gets a pipeline without the jobs it has
/// nothing for: no heavy job, no wasm bundle on a push (so no package job), its own jobs in the workflows.
#[test]
fn the_pipeline_of_a_shape_without_wasm_or_heavy_tests_has_only_jobs_with_work() {
    let repo = fixture_without_wasm("pipeline-plan");
    let lbt = std::fs::read_to_string(repo.join(".github/workflows/lint-build-test.yml")).unwrap();
    assert!(!lbt.contains("test-heavy") && lbt.contains("  deps:\n") && lbt.contains("run: cargo tree --workspace"));
    let packages = std::fs::read_to_string(repo.join(".github/workflows/create-packages.yml")).unwrap();
    assert!(packages.contains("if: fromJSON(needs.plan.outputs.run_settings)"), "{packages}");
    assert!(xtask(&repo, &["workflows", "--check"]).status.success());
    // A push, replayed: the tests and its own jobs; nothing to package (no wasm bundle), said, not failed.
    let out = xtask(&repo, &["ci", "--event-name", "push", "--dry-run"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    let t = text(&out);
    for want in [
        "lint-build-test/lint: lint",
        "lint-build-test/deps: deps",
        "lint-build-test/count: count",
        "create-packages/settings: settings",
        "create-packages/package: does not run (the plan decided any=false)",
        "gnu: nothing to build (push asks for wasm",
    ] {
        assert!(t.contains(want), "{want} in {t}");
    }
    assert!(!t.contains("test-heavy") && !t.contains("--part heavy"), "{t}");
    // A pull request: its own push-only job does not run.
    let pr = repo.join("target/pr.json");
    std::fs::create_dir_all(pr.parent().unwrap()).unwrap();
    std::fs::write(
        &pr,
        r#"{"action":"synchronize","pull_request":{"number":4,"head":{"sha":"x"},"base":{"sha":"y"}}}"#,
    )
    .unwrap();
    let out = xtask(&repo, &["ci", "--event", pr.to_str().unwrap(), "--dry-run"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    assert!(text(&out).contains("pr-gates/gates: gates") && !text(&out).contains("create-packages"), "{}", text(&out));
}

/// The same shape's whole pipeline, every job locally (`cargo xtask ci`): lint, test, its own jobs, package,
/// upload, sign and the release's dry run; then a push replayed for real.
#[test]
#[ignore = "heavy part (the whole pipeline of another shape: lint, test, package): cargo xtask test --part heavy"]
fn every_job_of_a_shape_without_wasm_passes_locally() {
    let repo = fixture_without_wasm("pipeline");
    // The release's dry run reads the registries: local ones.
    let servers = Registries::start(&repo);
    let env = servers.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = xtask_env(&repo, &["ci"], &env);
    assert!(out.status.success(), "cargo xtask ci failed:\n{}", tail(&out, 60));
    let t = text(&out);
    for step in [
        "pr-gates/gates: gates",
        "lint-build-test/lint: lint",
        "lint-build-test/test: test",
        "lint-build-test/deps: cargo",
        "lint-build-test/count: fx-count",
        "8 crates",
        "create-packages/package: package",
        "create-packages/settings: doctor",
        "release/release: release",
        "rust tests",
        "pytest: fx-one",
        "install the test dependencies of fx-one",
        "maturin build fx-two",
    ] {
        assert!(t.contains(step), "{step}: {t}");
    }
    assert!(!t.contains("test-heavy") && !t.contains("node:") && !t.contains("--target wasm32"), "{t}");
    let out = xtask_env(&repo, &["ci", "--event-name", "push"], &env);
    assert!(out.status.success(), "the replayed push failed:\n{}", tail(&out, 60));
    let t = text(&out);
    assert!(t.contains("ci --event (push)") && t.contains("create-packages/settings: settings"), "{t}");
    assert!(
        t.contains("critical path of lint-build-test: ") && t.contains("critical path of create-packages: "),
        "{t}"
    );
}

#[test]
#[ignore = "heavy part (packages built twice, a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn package_upload_sign_and_release_the_second_shape() {
    let repo = fixture("release");
    let out = xtask(&repo, &["package", "--check-reproducible"]);
    assert!(out.status.success(), "package --check-reproducible failed:\n{}", tail(&out, 60));
    assert!(text(&out).contains("bit-for-bit identical"));
    let sha = git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    let built = repo.join("target/reproducible/first/out");
    let manifest = std::fs::read_to_string(built.join(&sha).join("manifest.json")).unwrap();
    assert_none_of_ours("the manifest", &manifest);
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    // One entry per artifact (a bundle is several files).
    let listed: std::collections::BTreeSet<String> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a["kind"].as_str().unwrap(), a["name"].as_str().unwrap()))
        .collect();
    let listed: Vec<String> = listed.into_iter().collect();
    let mut expected: Vec<String> = CHAIN.iter().map(|c| format!("crates {c}")).collect();
    let python = ["wheels fx-one", "wheels fx-two", "sdists fx-one", "sdists fx-two"];
    expected.extend(["wasm fx-web-one", "wasm fx-web-two"].into_iter().chain(python).map(String::from));
    expected.sort();
    assert_eq!(listed, expected, "every crate but the unpublished one, both wheels and sdists, both bundles");

    // Upload to the store ci.toml names, twice: the second finds everything there.
    let from = built.to_str().unwrap();
    let out = xtask(&repo, &["upload", "--from", from]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    assert!(repo.join(format!("target/fx-store/commit/{sha}/manifest.json")).is_file());
    let out = xtask(&repo, &["upload", "--from", from]);
    assert!(out.status.success() && text(&out).contains("already"), "{}", tail(&out, 60));
    let out = xtask(&repo, &["sign", "--local-key"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    let public = repo.join("target/local-signing/minisign.pub");

    // The servers.
    let servers = Registries::start(&repo);
    let (reg_port, pypi_port, registry) = (servers.registry_port, servers.pypi_port, servers.registry.clone());
    let web = repo.join("target/released-web");
    let release_args = |execute: bool| -> Vec<String> {
        let mut a: Vec<String> = vec!["release".into(), "--commit".into(), sha.clone()];
        if execute {
            a.push("--execute".into());
        }
        a.extend([
            format!("--registry-api=http://127.0.0.1:{reg_port}"),
            format!("--registry-index=file://{}", registry.display()),
            format!("--pypi-upload=http://127.0.0.1:{pypi_port}/"),
            format!("--pypi-simple=http://127.0.0.1:{pypi_port}/simple/"),
            format!("--web-store={}", web.display()),
            format!("--public-key={}", public.display()),
        ]);
        a
    };
    let env = [("CARGO_REGISTRY_TOKEN", "fx-registry-token"), ("PYPI_TOKEN", "fx-pypi-token")];
    let args = release_args(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = xtask_env(&repo, &args, &env);
    let t = text(&out);
    assert!(out.status.success(), "release failed:\n{}", tail(&out, 60));
    assert!(!t.contains("fx-registry-token") && !t.contains("fx-pypi-token"), "a token in the output");
    assert_none_of_ours("the release's output", &t);
    // The crates landed, in dependency order (each published after the one it depends on), fx-d never.
    let order: Vec<usize> = CHAIN
        .iter()
        .map(|c| t.find(&format!("publishing {c} {VERSION}")).unwrap_or_else(|| panic!("{c} not published: {t}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "not in dependency order: {t}");
    assert!(!t.contains(INTERNAL), "{t}");
    for c in CHAIN {
        let prefix = match c.len() {
            1 => "1".to_owned(),
            2 => "2".to_owned(),
            3 => format!("3/{}", &c[..1]),
            _ => format!("{}/{}", &c[..2], &c[2..4]),
        };
        let entry = std::fs::read_to_string(registry.join(prefix).join(c)).unwrap_or_default();
        assert!(entry.contains(&format!("\"vers\":\"{VERSION}\"")), "{c} is not in the registry's index: {entry}");
    }
    // Both wheels are on the package index; both bundles in the web store.
    let simple = run(Command::new("curl").args(["-sf", &format!("http://127.0.0.1:{pypi_port}/simple/")]));
    assert!(simple.contains("fx-one") && simple.contains("fx-two"), "{simple}");
    for b in ["fx-web-one", "fx-web-two"] {
        assert!(web.join(format!("version/{VERSION}/{b}/index.html")).is_file(), "{b} in {}", web.display());
    }
    // Again: everything is there, nothing is published twice.
    let out = xtask_env(&repo, &args, &env);
    let t = text(&out);
    assert!(out.status.success(), "{}", tail(&out, 60));
    assert!(!t.contains("publishing "), "{t}");
}

/// `cargo xtask init` on the second shape without its ci.toml: the file it writes names that repository's packages,
/// bundles and xtask, loads (`doctor`), and generates workflows; a second `init` refuses to overwrite it.
#[test]
fn init_writes_a_first_ci_toml_that_repository_s_jobs_accept() {
    let repo = fixture("init");
    std::fs::remove_file(repo.join("ci.toml")).unwrap();
    let out = xtask(&repo, &["init"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    let t = text(&out);
    assert!(t.contains("decide: the main branch") && t.contains("decide: the release's public key"), "{t}");
    let written = std::fs::read_to_string(repo.join("ci.toml")).unwrap();
    for want in [
        "dist = \"fx-one\"\nmodule = \"fx_one\"\ndir = \"py/one\"\ntests = \"py/one/tests\"",
        "dist = \"fx-two\"",
        "package = \"fx-web-one\"\nwww = \"web/one/www\"",
        "package = \"fx-web-two\"",
        "unversioned = [\"xtask\"]",
        "default-parts = [\"rust\", \"python\", \"wasm\"]",
    ] {
        assert!(written.contains(want), "{want} in:\n{written}");
    }
    assert_none_of_ours("init's ci.toml", &written.replace("ubuntu-latest", "").replace("windows-latest", ""));
    assert!(xtask(&repo, &["doctor", "--json"]).status.success());
    assert!(xtask(&repo, &["workflows"]).status.success());
    let again = xtask(&repo, &["init"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("fix: `cargo xtask init --dry-run`"), "{}", text(&again));
}

/// Doctests run in `cargo xtask test` (nextest runs none): a scratch workspace whose one doctest fails on purpose
/// fails the job, naming the step; fixed, it passes.
#[test]
fn a_failing_doctest_fails_the_test_job() {
    let dir = engine_root().join("target/second-shape/doctest");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let lib = |expected: u32| {
        format!(
            "//! A scratch crate.\n\n/// Two.\n///\n/// ```\n/// assert_eq!(scratch::two(), {expected});\n/// ```\npub fn two() -> u32 {{\n    2\n}}\n\n\
             #[cfg(test)]\nmod tests {{\n    #[test]\n    fn two() {{\n        assert_eq!(super::two(), 2);\n    }}\n}}\n"
        )
    };
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib(3)).unwrap();
    std::fs::write(dir.join("ci.toml"), "[test]\ndefault-parts = [\"rust\"]\n").unwrap();
    std::fs::write(dir.join(".gitignore"), "/target\n").unwrap();
    run(Command::new("cargo").args(["generate-lockfile", "--offline"]).current_dir(&dir));
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "scratch"]);
    let out = xtask(&dir, &["test"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    // The failing example is named (by rustdoc's harness), whichever runner ran the tests; with nextest (which
    // runs no doctests) the doctest step is the one that failed.
    assert!(t.contains("src/lib.rs - two (line "), "{t}");
    if t.contains("rust doctests") {
        assert!(t.contains("FAILED: rust doctests") && t.contains("ok: rust tests"), "{t}");
    }
    std::fs::write(dir.join("src/lib.rs"), lib(2)).unwrap();
    let out = xtask(&dir, &["test"]);
    assert!(out.status.success(), "{}", tail(&out, 60));
    let t = text(&out);
    assert!(t.contains("ok: rust doctests") || !t.contains("nextest"), "{t}");
}
