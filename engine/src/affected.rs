//! `--changed-since REV`: which parts of the repository a change touches, so lint and test run only those.
//!
//! A file under a crate affects that crate and, through `cargo metadata`, every workspace crate that depends
//! on it (normal, build or dev dependency, transitively). Python, web, workflows and docs are parts of their
//! own. The root `Cargo.toml`, `Cargo.lock`, the toolchain file, `.cargo/` and the xtask itself affect
//! everything, and so does any path this module does not know: when unsure, run more.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::cmd;

use crate::Ctx;
use crate::settings::Loaded;
use crate::workspace::Package;

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Affected {
    /// Run everything (and why).
    pub everything: Option<String>,
    /// Workspace crates whose code or dependencies changed.
    pub crates: BTreeSet<String>,
    pub python: bool,
    pub examples: bool,
    pub workflows: bool,
    /// Changed files (for linters that take file lists).
    pub files: Vec<String>,
    /// Why each part is in, for `--dry-run`.
    pub reasons: Vec<String>,
}

impl Affected {
    pub(crate) fn all(why: impl Into<String>) -> Affected {
        Affected { everything: Some(why.into()), ..Affected::default() }
    }

    pub(crate) fn crate_affected(&self, name: &str) -> bool {
        self.everything.is_some() || self.crates.contains(name)
    }

    pub(crate) fn any_rust(&self) -> bool {
        self.everything.is_some() || !self.crates.is_empty()
    }

    pub(crate) fn has_ext(&self, exts: &[&str]) -> bool {
        self.everything.is_some() || self.files.iter().any(|f| exts.iter().any(|e| f.ends_with(e)))
    }

    pub(crate) fn summary(&self) -> Vec<String> {
        match &self.everything {
            Some(why) => vec![format!("everything runs: {why}")],
            None => {
                let mut out = vec![format!(
                    "{} changed files; affected crates: {}",
                    self.files.len(),
                    if self.crates.is_empty() {
                        "none".to_owned()
                    } else {
                        self.crates.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                )];
                out.extend(self.reasons.iter().cloned());
                out
            }
        }
    }
}

/// Paths that mean "everything".
const EVERYTHING: &[&str] =
    &[crate::settings::FILE, "Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "rust-toolchain", ".cargo/", "xtask/"];

/// The workspace packages that are the CI itself: the `xtask` package and the workspace packages it depends on (the
/// engine, where a repository builds it from its own tree). A change to them affects everything.
fn ci_packages(packages: &[Package]) -> Vec<&str> {
    let Some(xtask) = packages.iter().find(|p| p.name == "xtask") else { return vec![] };
    let mut out = vec![xtask.name.as_str()];
    out.extend(xtask.deps.iter().filter(|d| d.2 && packages.iter().any(|p| p.name == d.0)).map(|d| d.0.as_str()));
    out
}

/// Works out what `files` (relative paths) affect in a workspace of `packages` rooted at `root`, with the
/// repository's `settings`.
pub(crate) fn compute(root: &Utf8Path, settings: &Loaded, files: &[String], packages: &[Package]) -> Affected {
    let mut a = Affected { files: files.to_vec(), ..Affected::default() };
    let dirs: Vec<(String, &str)> = packages
        .iter()
        .filter_map(|p| p.dir.strip_prefix(root).ok().map(|d| (format!("{}/", d.as_str()), p.name.as_str())))
        .filter(|(d, _)| d != "/")
        .collect();
    let ci = ci_packages(packages);
    let examples_dir = settings.examples().map(|e| format!("{}/", e.dir.trim_end_matches('/')));
    let mut direct = BTreeSet::new();
    for f in files {
        if let Some(e) = EVERYTHING.iter().find(|e| if e.ends_with('/') { f.starts_with(*e) } else { f == *e }) {
            return Affected {
                everything: Some(format!("{f} changed ({e} affects everything)")),
                files: files.to_vec(),
                ..a
            };
        }
        if let Some((_, name)) = dirs.iter().filter(|(d, _)| f.starts_with(d.as_str())).max_by_key(|(d, _)| d.len()) {
            if ci.contains(name) {
                return Affected {
                    everything: Some(format!("{f} changed ({name} is the CI itself: it affects everything)")),
                    files: files.to_vec(),
                    ..a
                };
            }
            if direct.insert((*name).to_owned()) {
                a.reasons.push(format!("{name}: {f} changed"));
            }
            continue;
        }
        if examples_dir.as_ref().is_some_and(|d| f.starts_with(d.as_str())) {
            if !a.examples {
                a.reasons.push(format!("examples: {f} changed"));
            }
            a.examples = true;
        } else if f.starts_with(".github/") {
            a.workflows = true;
        } else if !linted_only(f) {
            return Affected {
                everything: Some(format!("{f} changed and is not under a known part")),
                files: files.to_vec(),
                ..a
            };
        }
    }
    a.crates = with_dependents(packages, direct, &mut a.reasons);
    a.python = a.crates.iter().any(|c| settings.python().iter().any(|p| p.dir.ends_with(c.as_str())))
        || files.iter().any(|f| f.ends_with(".py"));
    a
}

/// The crates `direct` and, transitively, every workspace crate that depends on them (each with its reason).
fn with_dependents(packages: &[Package], direct: BTreeSet<String>, reasons: &mut Vec<String>) -> BTreeSet<String> {
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in packages {
        for (dep, _, _, _) in &p.deps {
            dependents.entry(dep.as_str()).or_default().push(p.name.as_str());
        }
    }
    let mut queue: Vec<String> = direct.iter().cloned().collect();
    let mut all = direct.clone();
    while let Some(c) = queue.pop() {
        for d in dependents.get(c.as_str()).into_iter().flatten() {
            if all.insert((*d).to_owned()) {
                reasons.push(format!("{d}: depends on {c}"));
                queue.push((*d).to_owned());
            }
        }
    }
    all
}

/// Docs, bootstrap scripts and linter configuration: the linters run on them (they always run on the changed
/// files), nothing else.
fn linted_only(f: &str) -> bool {
    f.ends_with(".md")
        || f.starts_with("scripts/")
        || f.starts_with(".ci/")
        || f == ".gitignore"
        || f == "LICENSE"
        || ["ruff.toml", "taplo.toml", "_typos.toml", "rustfmt.toml"].contains(&f)
}

/// The files changed since the merge-base of `rev` and HEAD, plus uncommitted and untracked ones.
fn changed_files(ctx: &Ctx, rev: &str) -> Result<Vec<String>> {
    let sh = &ctx.sh;
    // A revision, never an option (an event's `base.sha` is the PR's to write).
    let out =
        cmd!(sh, "git merge-base --end-of-options {rev} HEAD").quiet().ignore_status().ignore_stderr().output()?;
    if rev.starts_with('-') || !out.status.success() {
        anyhow::bail!(
            "--changed-since {}: no such revision, or no common history with HEAD\nfix: pass a revision HEAD was branched from (after `git fetch`; in a shallow clone, fetch the history)",
            crate::plan::printable(rev)
        );
    }
    let base = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut files = BTreeSet::new();
    for out in [
        cmd!(sh, "git diff --name-only --no-renames {base}").quiet().read()?,
        cmd!(sh, "git ls-files --others --exclude-standard").quiet().read()?,
    ] {
        // What the engine writes (its tools, the build outputs) is no change, even where .gitignore omits it.
        files.extend(out.lines().filter(|l| !l.is_empty() && !crate::config::engine_owned(l)).map(str::to_owned));
    }
    Ok(files.into_iter().collect())
}

/// `auto`: the pull request's base under GitHub Actions (or a replay of a pull_request), else nothing (everything
/// runs: pushes, schedules, the merge queue and laptops).
fn resolve(rev: &str) -> Result<Option<String>> {
    if rev != "auto" {
        return Ok(Some(rev.to_owned()));
    }
    if !crate::github::run_var("GITHUB_EVENT_NAME").is_some_and(|e| e.starts_with("pull_request")) {
        return Ok(None);
    }
    let path = crate::github::run_var("GITHUB_EVENT_PATH").context("GITHUB_EVENT_PATH is not set")?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading the event {path}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("the event {path} is not JSON"))?;
    match v.pointer("/pull_request/base/sha").and_then(|s| s.as_str()) {
        Some(sha) if crate::workspace::is_full_hash(sha) => Ok(Some(sha.to_owned())),
        Some(other) => anyhow::bail!(
            "the event's pull_request.base.sha is {}, not a commit hash\nfix: pass the event GitHub wrote, unmodified",
            crate::plan::printable(&other.chars().take(80).collect::<String>())
        ),
        None => Ok(None),
    }
}

/// What `--changed-since` (if given) selects.
pub(crate) fn for_flag(ctx: &Ctx, changed_since: Option<&str>) -> Result<Affected> {
    let Some(rev) = changed_since else { return Ok(Affected::all("no --changed-since")) };
    let Some(rev) = resolve(rev)? else {
        return Ok(Affected::all(
            "--changed-since auto outside a pull request (pushes, schedules and laptops run everything)",
        ));
    };
    let files = changed_files(ctx, &rev)?;
    let packages = crate::workspace::workspace_packages(ctx)?;
    let mut a = compute(&ctx.root, ctx.settings, &files, &packages);
    a.reasons.insert(0, format!("compared with the merge-base of {rev} and HEAD"));
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use camino::Utf8PathBuf;

    fn pkg(name: &str, dir: &str, deps: &[&str]) -> Package {
        Package {
            name: name.into(),
            version: "1.0.0".into(),
            publishable: true,
            dir: Utf8PathBuf::from(format!("/r/{dir}")),
            deps: deps.iter().map(|d| ((*d).into(), "*".into(), true, "normal".into())).collect(),
            features: vec![],
            rust_version: None,
            has_lib: true,
            cdylib: false,
            bins: vec![],
        }
    }

    fn workspace() -> Vec<Package> {
        vec![
            pkg("reel", "crates/reel", &[]),
            pkg("reel-cli", "crates/reel-cli", &["reel"]),
            pkg("reel-py", "crates/reel-py", &["reel", "pyo3"]),
            pkg("reel-web", "crates/reel-web", &["reel"]),
            pkg("xtask-engine", "engine", &[]),
            pkg("xtask", "xtask", &["xtask-engine"]),
        ]
    }

    fn run(files: &[&str]) -> Affected {
        let files: Vec<String> = files.iter().map(|s| (*s).to_owned()).collect();
        compute(Utf8Path::new("/r"), crate::settings::this_repository(), &files, &workspace())
    }

    #[test]
    fn table() {
        let leaf = run(&["crates/reel-cli/src/main.rs"]);
        assert_eq!(leaf.crates, BTreeSet::from(["reel-cli".to_owned()]));
        assert!(!leaf.python && !leaf.examples && leaf.everything.is_none());

        let core = run(&["crates/reel/src/lib.rs"]);
        let all4: BTreeSet<String> = ["reel", "reel-cli", "reel-py", "reel-web"].map(String::from).into();
        assert_eq!(core.crates, all4, "a change to reel runs everything that depends on it");
        assert!(core.python);
        assert!(core.reasons.iter().any(|r| r == "reel-web: depends on reel"));

        let examples = run(&["examples/python/sensors.py"]);
        assert!(examples.crates.is_empty() && !examples.any_rust(), "examples alone run no Rust tests");
        assert!(examples.examples && examples.python);

        let py = run(&["crates/reel-py/python/reel/__init__.py"]);
        assert_eq!(py.crates, BTreeSet::from(["reel-py".to_owned()]));

        for f in [
            "Cargo.lock",
            "Cargo.toml",
            "rust-toolchain.toml",
            "xtask/src/main.rs",
            "engine/src/lib.rs",
            ".cargo/config.toml",
            "weird/new-dir/x",
        ] {
            assert!(run(&[f]).everything.is_some(), "{f}");
        }
        let docs = run(&["README.md", ".github/workflows/pr-gates.yml"]);
        assert!(docs.everything.is_none() && docs.crates.is_empty() && docs.workflows && !docs.python);
        assert!(!docs.has_ext(&[".rs"]) && docs.has_ext(&[".md"]));
    }
}
