//! `cargo xtask init`: a first `ci.toml` for a workspace, from what the engine can read there (`cargo metadata`:
//! the members, which are published, their binaries and cdylibs; the maturin `pyproject.toml` files; the crates
//! that use wasm-bindgen; the remote's default branch), and a list of what it could not decide. It writes the file
//! only where there is none (`--force` replaces one); `--dry-run` prints it, `--json` emits it with the list.

use std::fmt::Write as _;

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use toml::{Table, Value};

use crate::Ctx;
use crate::workspace::Package;

/// What `init` reads from the repository.
pub(crate) struct Found {
    pub root: Utf8PathBuf,
    pub packages: Vec<Package>,
    /// `[workspace.package] version` of the root `Cargo.toml`, if it has one.
    pub version: Option<String>,
    /// Every tracked `pyproject.toml`: its directory (relative to the root, `/`-separated) and its text.
    pub pyprojects: Vec<(String, String)>,
    /// The branch pull requests merge into, where the remote says (`origin/HEAD`).
    pub main_branch: Option<String>,
}

/// A `ci.toml`, and what a person must still decide in it.
#[derive(Debug)]
pub(crate) struct Proposal {
    pub text: String,
    pub undecided: Vec<String>,
}

/// A Python package found: its ci.toml entry's values.
struct Python {
    dist: String,
    module: String,
    dir: String,
    tests: String,
    /// `test-group = ...` or `test-extra = ...`, where the default (a group called `test`) does not find them.
    test_key: Option<(&'static str, String)>,
    /// Not abi3: the interpreters it ships a wheel for.
    interpreters: Vec<String>,
}

pub(crate) fn run(ctx: &Ctx, force: bool) -> Result<()> {
    let path = ctx.root.join(crate::settings::FILE);
    let acting = !(ctx.global.dry_run || ctx.global.json);
    if acting && path.exists() && !force {
        bail!(
            "{path} exists: init writes a first one only\nfix: `cargo xtask init --dry-run` prints what it would \
             write; `--force` replaces the file"
        );
    }
    let p = propose(&found(ctx)?);
    if ctx.global.json {
        let doc = serde_json::json!({"job": "init", "file": path.as_str(), "text": p.text, "undecided": p.undecided});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    if ctx.global.dry_run {
        print!("{}", p.text);
    } else {
        // A name or path of the workspace that ci.toml refuses (a control character, a path outside the root...):
        // said, and nothing written.
        crate::settings::parse(&p.text).map_err(|e| {
            anyhow::anyhow!(
                "the ci.toml init would write does not load: {e}\nnothing was written; `cargo xtask init --dry-run` \
                 prints it"
            )
        })?;
        std::fs::write(&path, &p.text).with_context(|| format!("writing {path}"))?;
        eprintln!("wrote {path}");
    }
    for u in &p.undecided {
        // Names from the workspace's files, shown as text.
        eprintln!("decide: {}", crate::plan::printable(u));
    }
    eprintln!("next: `cargo xtask doctor` (every setting, with its line), then `cargo xtask workflows`");
    Ok(())
}

/// Reads the workspace: `cargo metadata`, the root's version, the tracked `pyproject.toml` files, `origin/HEAD`.
fn found(ctx: &Ctx) -> Result<Found> {
    let sh = &ctx.sh;
    let meta =
        xshell::cmd!(sh, "cargo metadata --format-version 1 --no-deps").quiet().read().context("cargo metadata")?;
    let files = xshell::cmd!(sh, "git ls-files -z --cached --others --exclude-standard")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|_| {
            anyhow::anyhow!(
                "{} is not a git checkout (init finds the pyproject.toml files with `git ls-files`)\nfix: `git init` \
                 there, then run init again",
                ctx.root
            )
        })?;
    let mut pyprojects = Vec::new();
    for f in files.split('\0').filter(|f| *f == "pyproject.toml" || f.ends_with("/pyproject.toml")) {
        let dir = f.strip_suffix("pyproject.toml").unwrap_or_default().trim_end_matches('/').to_owned();
        if crate::config::engine_owned(&dir) {
            continue;
        }
        let text = std::fs::read_to_string(ctx.root.join(f)).with_context(|| format!("reading {f}"))?;
        pyprojects.push((dir, text));
    }
    let head = xshell::cmd!(sh, "git symbolic-ref --quiet --short refs/remotes/origin/HEAD").quiet().ignore_stderr();
    let main_branch = head.read().ok().and_then(|b| b.trim().strip_prefix("origin/").map(str::to_owned));
    Ok(Found {
        root: ctx.root.clone(),
        packages: crate::workspace::parse_metadata(&meta)?,
        version: crate::workspace::workspace_version(&ctx.root).ok(),
        pyprojects,
        main_branch,
    })
}

/// What the file says, decided from what was found.
struct Decided<'a> {
    python: Vec<Python>,
    wasm: Vec<&'a Package>,
    /// (package, program name)
    binaries: Vec<(&'a str, &'a str)>,
    /// A published library crate exists.
    crates: bool,
    unversioned: Vec<&'a str>,
}

/// The `ci.toml` for what was found.
pub(crate) fn propose(f: &Found) -> Proposal {
    let mut undecided = Vec::new();
    let d = decide(f, &mut undecided);
    let mut t = String::from(
        "# This repository's CI settings: every fact about it that `cargo xtask` needs (written by `cargo xtask init`:\n\
         # check it). `cargo xtask doctor` shows each setting and the line it came from.\n",
    );
    let _ = writeln!(
        t,
        "\n[workspace]\n# Members that are never shipped, so do not carry the one version.\nunversioned = [{}]",
        list(&d.unversioned)
    );
    packages_sections(&mut t, f, &d, &mut undecided);
    test_section(&mut t, &d);
    platforms(&mut t, d.crates, !d.python.is_empty(), !d.wasm.is_empty(), !d.binaries.is_empty());
    gates_section(&mut t, f, &mut undecided);
    store_and_release_sections(&mut t, f, !d.python.is_empty(), &mut undecided);
    Proposal { text: t, undecided }
}

/// A member's directory relative to the root.
fn rel(f: &Found, p: &Package) -> String {
    p.dir.strip_prefix(&f.root).map(Utf8Path::to_string).unwrap_or_else(|_| p.dir.to_string())
}

/// A TOML array of strings.
fn list(items: &[&str]) -> String {
    items.iter().map(|s| toml_str(s)).collect::<Vec<_>>().join(", ")
}

/// The packages, bundles and programs; the members that carry no version; versions that disagree.
fn decide<'a>(f: &'a Found, undecided: &mut Vec<String>) -> Decided<'a> {
    let python: Vec<Python> =
        f.pyprojects.iter().filter_map(|(dir, text)| python_package(f, dir, text, undecided)).collect();
    let py_dirs: Vec<&str> = python.iter().map(|p| p.dir.as_str()).collect();
    let uses = |p: &Package, dep: &str| p.deps.iter().any(|d| d.0 == dep && d.3 == "normal");
    let wasm = (f.packages.iter())
        .filter(|p| p.cdylib && uses(p, "wasm-bindgen") && !py_dirs.contains(&rel(f, p).as_str()))
        .collect();
    let binaries = (f.packages.iter().filter(|p| p.publishable && p.name != "xtask"))
        .flat_map(|p| p.bins.iter().map(move |b| (p.name.as_str(), b.as_str())))
        .collect();
    let unversioned = (f.packages.iter())
        .filter(|p| p.name == "xtask" || (!p.publishable && f.version.as_ref().is_some_and(|v| *v != p.version)))
        .map(|p| p.name.as_str())
        .collect();
    for p in f.packages.iter().filter(|p| p.publishable) {
        match &f.version {
            Some(v) if *v != p.version => undecided.push(format!(
                "{} has version {}, the workspace {v}: everything this repository ships carries one version \
                 (`version.workspace = true`)",
                p.name, p.version
            )),
            None => undecided.push(format!(
                "the root Cargo.toml has no [workspace.package] version: add one, and `version.workspace = true` \
                 in {}",
                p.name
            )),
            _ => {}
        }
    }
    let crates = f.packages.iter().any(|p| p.publishable && p.has_lib);
    Decided { python, wasm, binaries, crates, unversioned }
}

/// `[[python]]`, `[[wasm]]` and `[[binary]]` entries.
fn packages_sections(t: &mut String, f: &Found, d: &Decided<'_>, undecided: &mut Vec<String>) {
    for p in &d.python {
        let (dist, module, dir, tests) = (toml_str(&p.dist), toml_str(&p.module), toml_str(&p.dir), toml_str(&p.tests));
        let _ = write!(t, "\n[[python]]\ndist = {dist}\nmodule = {module}\ndir = {dir}\ntests = {tests}\n");
        if let Some((key, value)) = &p.test_key {
            let _ = writeln!(t, "{key} = {}", toml_str(value));
        }
        if !p.interpreters.is_empty() {
            let names: Vec<&str> = p.interpreters.iter().map(String::as_str).collect();
            let _ = writeln!(t, "# Not abi3: one wheel per interpreter per target.\ninterpreters = [{}]", list(&names));
        }
    }
    for w in &d.wasm {
        let www = format!("{}/www", rel(f, w));
        if !f.root.join(&www).is_dir() {
            undecided.push(format!(
                "{}: the wasm bundle's static files (an index.html loading the generated JS) are expected in {www}",
                w.name
            ));
        }
        let _ = write!(t, "\n[[wasm]]\npackage = {}\nwww = {}\n", toml_str(&w.name), toml_str(&www));
    }
    for (package, name) in &d.binaries {
        let _ = write!(t, "\n[[binary]]\npackage = {}\nname = {}\n", toml_str(package), toml_str(name));
    }
}

/// `[test]`: the parts there are; the xtask's own tests left out.
fn test_section(t: &mut String, d: &Decided<'_>) {
    use crate::settings::Part;
    let mut parts = vec![Part::Rust.as_str()];
    if !d.python.is_empty() {
        parts.push(Part::Python.as_str());
    }
    if !d.wasm.is_empty() {
        parts.push(Part::Wasm.as_str());
    }
    let excluded: Vec<&str> = d.unversioned.iter().copied().filter(|n| *n == "xtask").collect();
    let _ = writeln!(
        t,
        "\n[test]\n# `cargo xtask test` without --part.\ndefault-parts = [{}]\n# Members whose Rust tests are left out.\n\
         exclude = [{}]",
        list(&parts),
        list(&excluded)
    );
}

/// `[gates]`: the documented defaults, on the remote's default branch.
fn gates_section(t: &mut String, f: &Found, undecided: &mut Vec<String>) {
    let main = f.main_branch.clone().unwrap_or_else(|| {
        undecided.push("the main branch: the remote does not say (origin/HEAD); `main` is assumed".into());
        "main".into()
    });
    let _ = write!(
        t,
        "\n[gates]\n# The documented defaults (CONTRIBUTING.md, PR gates): add labels, keywords and markers as you need.\n\
         main-branch = {}\nmax-file-bytes = 1048576\nforbidden = [\"*.orig\", \"*.rej\", \"*.swp\", \".DS_Store\", \"Thumbs.db\"]\n\
         every-commit = true\n",
        toml_str(&main)
    );
}

/// `[store]` (a local directory) and `[release]` (crates.io and PyPI, every wheel of the platforms).
fn store_and_release_sections(t: &mut String, f: &Found, python: bool, undecided: &mut Vec<String>) {
    t.push_str(
        "\n[store]\n# A local directory: no cloud account needed. CI uploads to the bucket of the ARTIFACT_STORE variable.\n\
         default = \"target/store\"\nweb = \"target/web\"\n",
    );
    let wheel_targets: Vec<&str> =
        if python { LINUX_WHEELS.iter().chain(OTHER_WHEELS).map(|(t, _)| *t).collect() } else { vec![] };
    let _ = write!(
        t,
        "\n[release]\nregistry-api = \"https://crates.io\"\nregistry-index = \"sparse+https://index.crates.io/\"\n\
         pypi-upload = \"https://upload.pypi.org/legacy/\"\npypi-simple = \"https://pypi.org/simple/\"\n\
         # Every wheel a release must have.\nwheel-targets = [{}]\nsigning-key = \"release/minisign.pub\"\n",
        list(&wheel_targets)
    );
    if !f.root.join("release/minisign.pub").is_file() {
        undecided.push(
            "the release's public key: `minisign -G -p release/minisign.pub -s minisign.key`, commit the public key, \
             keep the secret one out of the repository (CONTRIBUTING.md, a tokenless release)"
                .into(),
        );
    }
}

/// The Linux wheels, cross-built with zig on one Linux runner.
const LINUX_WHEELS: &[(&str, &str)] = &[("x86_64-unknown-linux-gnu", ""), ("aarch64-unknown-linux-gnu", "")];
/// The wheels built natively on their own runners: target, runner.
const OTHER_WHEELS: &[(&str, &str)] =
    &[("x86_64-pc-windows-msvc", "windows-latest"), ("aarch64-apple-darwin", "macos-14")];

/// `[[platform]]` entries: Linux builds everything there is; Windows and macOS the wheels and programs, where
/// there are any.
fn platforms(t: &mut String, crates: bool, python: bool, wasm: bool, binaries: bool) {
    let mut builds = Vec::new();
    use crate::manifest::Kind;
    let kinds = [
        (crates, Kind::Crate),
        (python, Kind::Wheel),
        (python, Kind::Sdist),
        (wasm, Kind::Wasm),
        (binaries, Kind::Binary),
    ];
    for (yes, kind) in kinds {
        if yes {
            builds.push(toml_str(kind.as_str()));
        }
    }
    let wheels: Vec<String> = if python { LINUX_WHEELS.iter().map(|(w, _)| toml_str(w)).collect() } else { vec![] };
    let _ = write!(
        t,
        "\n# Where the workflows run; the first platform is the default.\n[[platform]]\nname = \"linux\"\n\
         runner = \"ubuntu-latest\"\ntarget = \"x86_64-unknown-linux-gnu\"\nwheels = [{}]\nbuilds = [{}]\n",
        wheels.join(", "),
        builds.join(", ")
    );
    if !(python || binaries) {
        return;
    }
    for (target, runner) in OTHER_WHEELS {
        let name = if target.contains("windows") { "windows" } else { "macos" };
        let mut b = Vec::new();
        if python {
            b.push("\"wheels\"");
        }
        if binaries {
            b.push("\"binaries\"");
        }
        let wheels = if python { toml_str(target) } else { String::new() };
        let _ = write!(
            t,
            "\n[[platform]]\nname = \"{name}\"\nrunner = \"{runner}\"\ntarget = \"{target}\"\nwheels = [{wheels}]\nbuilds = [{}]\n",
            b.join(", ")
        );
    }
}

/// The `[[python]]` entry of a maturin package's `pyproject.toml` in `dir`; `None` for another build backend.
fn python_package(f: &Found, dir: &str, text: &str, undecided: &mut Vec<String>) -> Option<Python> {
    let file = if dir.is_empty() { "pyproject.toml".to_owned() } else { format!("{dir}/pyproject.toml") };
    let doc: Table = match toml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            undecided.push(format!("{file} is not TOML ({}): left out", e.message().trim()));
            return None;
        }
    };
    let lookup = |path: &[&str]| -> Option<Value> {
        let mut v = Value::Table(doc.clone());
        for k in path {
            v = v.get(*k)?.clone();
        }
        Some(v)
    };
    if lookup(&["build-system", "build-backend"]).and_then(|v| v.as_str().map(str::to_owned)).as_deref()
        != Some("maturin")
    {
        return None;
    }
    let Some(dist) = lookup(&["project", "name"]).and_then(|v| v.as_str().map(str::to_owned)) else {
        undecided.push(format!("{file}: no [project] name, so no distribution name: left out"));
        return None;
    };
    // The import name: maturin's `module-name` up to its first dot (`pkg._native` is imported as `pkg`).
    let module = lookup(&["tool", "maturin", "module-name"])
        .and_then(|v| v.as_str().map(|m| m.split('.').next().unwrap_or(m).to_owned()))
        .unwrap_or_else(|| dist.replace('-', "_"));
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    let tests = ["tests", "python/tests"].iter().map(|t| format!("{prefix}{t}")).find(|t| f.root.join(t).is_dir());
    let tests = tests.unwrap_or_else(|| {
        undecided.push(format!("{dist}: no tests directory found ({prefix}tests is assumed)"));
        format!("{prefix}tests")
    });
    let has = |path: &[&str]| lookup(path).is_some();
    let test_key = if has(&["dependency-groups", "test"]) {
        None
    } else if let Some(g) = ["tests", "dev"].into_iter().find(|g| has(&["dependency-groups", g])) {
        Some(("test-group", g.to_owned()))
    } else {
        ["test", "tests", "dev"]
            .into_iter()
            .find(|e| has(&["project", "optional-dependencies", e]))
            .map(|e| ("test-extra", e.to_owned()))
    };
    if test_key.is_none() && !has(&["dependency-groups", "test"]) {
        undecided.push(format!(
            "{dist}: no test dependencies found (a dependency group `test`, or an extra): its tests get pytest only"
        ));
    }
    if lookup(&["tool", "maturin", "sbom", "rust"]).and_then(|v| v.as_bool()) != Some(false) {
        undecided.push(format!(
            "{file}: without `[tool.maturin.sbom] rust = false` maturin's SBOM records the checkout's path and \
             `cargo xtask package --check-reproducible` fails"
        ));
    }
    let interpreters = interpreters(f, &prefix, &lookup, undecided, &dist);
    Some(Python { dist, module, dir: dir.to_owned(), tests, test_key, interpreters })
}

/// The interpreters of a package that is not abi3 (its Cargo.toml and pyproject.toml name no `abi3` feature):
/// every CPython from its `requires-python` lower bound (3.9 without one) to the newest maturin knows, and the
/// free-threaded build of the newest where its module says `gil_used = false`. Empty for abi3.
fn interpreters(
    f: &Found,
    prefix: &str,
    lookup: &dyn Fn(&[&str]) -> Option<Value>,
    undecided: &mut Vec<String>,
    dist: &str,
) -> Vec<String> {
    let cargo = std::fs::read_to_string(f.root.join(format!("{prefix}Cargo.toml"))).unwrap_or_default();
    let features = lookup(&["tool", "maturin", "features"]).map(|v| format!("{v:?}")).unwrap_or_default();
    if cargo.contains("abi3") || features.contains("abi3") {
        return Vec::new();
    }
    let floor = lookup(&["project", "requires-python"])
        .and_then(|v| {
            let spec: String = v.as_str()?.chars().filter(|c| !c.is_whitespace()).collect();
            spec.split(',').find_map(|c| c.strip_prefix(">=3.").map(str::to_owned))
        })
        .and_then(|m| m.trim().split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<u8>().ok()))
        .unwrap_or(9)
        .max(9);
    let mut v: Vec<String> = (floor..=crate::config::NEWEST_CPYTHON).map(|m| format!("3.{m}")).collect();
    let sources = rust_sources(&f.root.join(format!("{prefix}src")));
    if sources.contains("gil_used = false") {
        v.push(format!("3.{}t", crate::config::NEWEST_CPYTHON));
    }
    undecided.push(format!(
        "{dist}: not abi3 (no `abi3` feature of pyo3): one wheel per interpreter, {} (from requires-python; \
         free-threaded where the module says `gil_used = false`); add `pypy3.X` for PyPy",
        v.join(", ")
    ));
    v
}

/// The text of every `.rs` file under `dir` (for a look at what a module declares).
pub(crate) fn rust_sources(dir: &Utf8Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let Ok(path) = Utf8PathBuf::from_path_buf(e.path()) else { continue };
        if path.is_dir() {
            out.push_str(&rust_sources(&path));
        } else if path.extension() == Some("rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    out
}

/// A TOML basic string (a JSON string is one: the same escapes).
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This repository, read as `init` reads any: what it proposes agrees with the committed ci.toml on every
    /// fact it can read (the packages, bundles, programs, the xtask), and the file it writes loads.
    #[test]
    fn init_on_this_repository_agrees_with_its_ci_toml() {
        let root = crate::project_root();
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(&root);
        let meta = xshell::cmd!(sh, "cargo metadata --format-version 1 --no-deps").quiet().read().unwrap();
        let f = Found {
            root: root.clone(),
            packages: crate::workspace::parse_metadata(&meta).unwrap(),
            version: crate::workspace::workspace_version(&root).ok(),
            pyprojects: vec![(
                "crates/reel-py".into(),
                std::fs::read_to_string(root.join("crates/reel-py/pyproject.toml")).unwrap(),
            )],
            main_branch: Some("main".into()),
        };
        let p = propose(&f);
        let proposed = crate::settings::parse(&p.text).unwrap_or_else(|e| panic!("{e}\n{}", p.text));
        let ours = &crate::settings::this_repository().settings;
        let py = |s: &crate::settings::Settings| {
            s.python
                .iter()
                .map(|p| (p.dist.clone(), p.module.clone(), p.dir.clone(), p.tests.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(py(&proposed), py(ours));
        let wasm = |s: &crate::settings::Settings| {
            s.wasm.iter().map(|w| (w.package.clone(), w.www.clone())).collect::<Vec<_>>()
        };
        assert_eq!(wasm(&proposed), wasm(ours));
        let bins = |s: &crate::settings::Settings| {
            s.binary.iter().map(|b| (b.package.clone(), b.name.clone())).collect::<Vec<_>>()
        };
        assert_eq!(bins(&proposed), bins(ours));
        assert_eq!(proposed.workspace.as_ref().unwrap().unversioned, ["xtask"]);
        use crate::settings::Part;
        assert_eq!(proposed.test.as_ref().unwrap().default_parts, [Part::Rust, Part::Python, Part::Wasm]);
        let linux = &proposed.platform[0];
        assert_eq!((linux.wheels.len(), linux.builds.len()), (2, 5), "{linux:?}");
        assert_eq!(proposed.platform.len(), 3, "Windows and macOS build the wheels and programs");
        // Left to decide: only what this repository indeed leaves to the default (its tests need pytest alone);
        // the key exists, the versions agree, the branch is known.
        assert_eq!(p.undecided.len(), 1, "{:?}", p.undecided);
        assert!(p.undecided[0].starts_with("reel-sdk: no test dependencies found"), "{:?}", p.undecided);
    }

    /// A name from a pyproject.toml with a terminal escape: quoted in the file (TOML escapes), and refused by the
    /// load check that runs before anything is written.
    #[test]
    fn a_hostile_name_is_escaped_and_the_file_refused() {
        let root = crate::testutil::temp_dir("init-hostile");
        let f = Found {
            root: root.clone(),
            packages: vec![],
            version: Some("1.0.0".into()),
            pyprojects: vec![(
                "py".into(),
                "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"evil\\u001b[2Jname\"\n".into(),
            )],
            main_branch: Some("main".into()),
        };
        let p = propose(&f);
        assert!(p.text.contains("dist = \"evil\\u001b[2Jname\"") && !p.text.contains('\u{1b}'), "{}", p.text);
        assert!(crate::settings::parse(&p.text).is_err(), "{}", p.text);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A workspace with nothing but a library crate and a pyproject of another backend: one Linux platform that
    /// builds crates, no Python entry, and each guess said.
    #[test]
    fn init_says_what_it_could_not_decide() {
        let root = crate::testutil::temp_dir("init-bare");
        let pkg = |name: &str, version: &str| Package {
            name: name.into(),
            version: version.into(),
            publishable: true,
            dir: root.join("crates").join(name),
            deps: vec![],
            features: vec![],
            rust_version: None,
            has_lib: true,
            cdylib: false,
            bins: vec![],
        };
        let f = Found {
            root: root.clone(),
            packages: vec![pkg("a", "1.0.0"), pkg("b", "0.9.0")],
            version: Some("1.0.0".into()),
            pyprojects: vec![
                ("docs".into(), "[build-system]\nbuild-backend = \"hatchling.build\"\n".into()),
                ("py".into(), "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"p\"\n[project.optional-dependencies]\ndev = [\"pytest\"]\n".into()),
            ],
            main_branch: None,
        };
        let p = propose(&f);
        let s = crate::settings::parse(&p.text).unwrap_or_else(|e| panic!("{e}\n{}", p.text));
        assert_eq!(s.python.len(), 1);
        assert_eq!((s.python[0].module.as_str(), s.python[0].test_extra.as_deref()), ("p", Some("dev")));
        // Its Cargo.toml names no abi3 feature: one wheel per CPython from 3.9.
        let spelled: Vec<String> = s.python[0].interpreters().iter().map(|i| i.setup_python()).collect();
        assert_eq!(spelled, ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]);
        assert_eq!(s.gates.unwrap().main_branch, "main");
        let said = p.undecided.join("\n");
        for want in [
            "b has version 0.9.0, the workspace 1.0.0",
            "the main branch",
            "py/tests is assumed",
            "sbom",
            "minisign -G",
            "p: not abi3",
        ] {
            assert!(said.contains(want), "{want}: {said}");
        }
        // From its requires-python, with the free-threaded build where the module declares it; abi3: none.
        crate::testutil::write_files(
            &root,
            &[
                ("py/Cargo.toml", "[dependencies]\npyo3 = { version = \"0.30\" }\n"),
                ("py/src/lib.rs", "#[pymodule(gil_used = false)]\nfn p() {}\n"),
            ],
        );
        let pyproject =
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"p\"\nrequires-python = \">= 3.11\"\n";
        let f = Found { pyprojects: vec![("py".into(), pyproject.into())], ..f };
        let s = crate::settings::parse(&propose(&f).text).unwrap();
        let spelled: Vec<String> = s.python[0].interpreters().iter().map(|i| i.setup_python()).collect();
        assert_eq!(spelled, ["3.11", "3.12", "3.13", "3.14", "3.14t"]);
        crate::testutil::write_files(&root, &[("py/Cargo.toml", "pyo3 = { features = [\"abi3-py39\"] }\n")]);
        assert!(crate::settings::parse(&propose(&f).text).unwrap().python[0].interpreters.is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
