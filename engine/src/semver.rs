//! Semver checks with cargo-semver-checks: the public API of each published library crate compared with its
//! last release. A breaking change released under a non-breaking version fails, naming the item.
//!
//! Two baselines, one rule:
//! - `lint` (a PR touching a published crate): the newest release tag (`v<version>`, the tag a release runs
//!   from) reachable from HEAD; cargo-semver-checks builds that revision itself. No tag yet: nothing was
//!   released, and the plan says so.
//! - `release`: the previous version's `.crate` from the registry, compared with the `.crate` about to be
//!   published (what is checked is what ships). The release plan shows the verdict per crate.

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use crate::config::tool;
use crate::plan::Step;

/// The newest release tag (`v` and a version) reachable from HEAD, if any.
pub(crate) fn last_release_tag(sh: &Shell) -> Option<String> {
    let tag = cmd!(sh, "git describe --tags --abbrev=0 --match v[0-9]*").quiet().ignore_stderr().read().ok()?;
    let tag = tag.trim();
    (!tag.is_empty()).then(|| tag.to_owned())
}

/// The `Cargo.toml` files (repository paths) at revision `tag`: which crates existed when it was released.
pub(crate) fn manifests_at(sh: &Shell, tag: &str) -> Result<Vec<String>> {
    let files =
        cmd!(sh, "git ls-tree -r --name-only {tag}").quiet().read().with_context(|| format!("listing {tag}"))?;
    Ok(files.lines().filter(|f| *f == "Cargo.toml" || f.ends_with("/Cargo.toml")).map(str::to_owned).collect())
}

/// What fixes a breaking change: a version that says so, or keeping the API.
fn hint(name: &str) -> String {
    format!(
        "{name}'s public API broke since its last release (the items are named above): bump its version as the \
         report says (for 0.x, the minor), or keep the old items (deprecate them instead of removing)"
    )
}

/// `lint`'s step for one published library crate, against the release tag `baseline`.
pub(crate) fn lint_step(name: &str, baseline: &str) -> Step {
    Step::run(
        &format!("semver: {name} (against {baseline})"),
        "cargo-semver-checks",
        &["semver-checks", "check-release", "--package", name, "--baseline-rev", baseline],
    )
    .env("CARGO_TERM_COLOR", "never")
    .tools(&[tool::CARGO_SEMVER_CHECKS])
    .hint(hint(name))
}

/// What the comparison with the last release found.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verdict {
    /// No earlier version in the registry: nothing to compare.
    FirstRelease,
    /// A binary-only crate: no public API.
    NoLibrary,
    /// Compatible with `baseline` under this version.
    Compatible { baseline: String },
    /// Breaks `baseline`'s API under a version that does not say so; `report` names the items.
    Breaking { baseline: String, report: String },
}

impl Verdict {
    pub(crate) fn describe(&self) -> String {
        match self {
            Verdict::FirstRelease => "first release: nothing to compare".into(),
            Verdict::NoLibrary => "no library target: no public API to compare".into(),
            Verdict::Compatible { baseline } => format!("compatible with {baseline}"),
            Verdict::Breaking { baseline, .. } => format!("BREAKS {baseline}'s API under a non-breaking version"),
        }
    }
}

/// The highest version in `published` below `version` (pre-releases compared as semver does), if any.
pub(crate) fn previous_version(published: &[String], version: &str) -> Option<String> {
    let current = ::semver::Version::parse(version).ok()?;
    published
        .iter()
        .filter_map(|v| ::semver::Version::parse(v).ok().map(|p| (p, v)))
        .filter(|(p, _)| *p < current)
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v.clone())
}

/// Unpacks `.crate` files into `dir` as one scratch workspace whose members patch each other in (a crate of
/// this release depending on another one resolves to it, not to the registry), and returns each crate's
/// unpacked directory.
pub(crate) fn unpack_workspace(
    sh: &Shell,
    dir: &Utf8Path,
    crates: &[(String, String, Utf8PathBuf)],
) -> Result<Vec<Utf8PathBuf>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    let mut members = Vec::new();
    let mut patch = String::new();
    for (name, version, file) in crates {
        let member = format!("{name}-{version}");
        // Every entry inside `<name>-<version>/`: a tampered archive cannot write beside it.
        let entries = cmd!(sh, "tar -tzf {file}").quiet().read().with_context(|| format!("listing {file}"))?;
        if let Some(stray) =
            entries.lines().find(|e| !e.starts_with(&format!("{member}/")) || e.split('/').any(|part| part == ".."))
        {
            anyhow::bail!("{file} holds {stray:?}, outside {member}/: not a .crate of {name} {version}");
        }
        cmd!(sh, "tar -xzf {file} -C {dir}").quiet().run().with_context(|| format!("unpacking {file}"))?;
        if !dir.join(&member).join("Cargo.toml").is_file() {
            anyhow::bail!("{file} does not hold {member}/Cargo.toml");
        }
        patch.push_str(&format!("{} = {{ path = {:?} }}\n", toml_key(name), member));
        members.push(member);
    }
    let list: Vec<String> = members.iter().map(|m| format!("{m:?}")).collect();
    let manifest =
        format!("[workspace]\nresolver = \"2\"\nmembers = [{}]\n\n[patch.crates-io]\n{patch}", list.join(", "));
    std::fs::write(dir.join("Cargo.toml"), manifest).with_context(|| format!("writing {dir}/Cargo.toml"))?;
    Ok(members.iter().map(|m| dir.join(m)).collect())
}

fn toml_key(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// The rustdoc JSON of `name`'s library in the scratch workspace `workspace` (the toolchain's own rustdoc, JSON
/// output enabled as cargo-semver-checks does): built here, so the workspace's `[patch]` resolves the release's
/// crates to each other instead of to a registry that does not have them yet.
pub(crate) fn rustdoc_json(sh: &Shell, workspace: &Utf8Path, name: &str) -> Result<Utf8PathBuf> {
    let manifest = workspace.join("Cargo.toml");
    let target = workspace.join("target");
    // Compiles the crates' build scripts and proc-macros: without the job's credentials.
    let out = crate::tools::without_secrets(cmd!(
        sh,
        "cargo rustdoc --quiet --lib --package {name} --manifest-path {manifest} --target-dir {target} -- -Z unstable-options --output-format json"
    ))
    .env("RUSTC_BOOTSTRAP", "1")
    .env("CARGO_TERM_COLOR", "never")
    .quiet()
    .ignore_status()
    .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "building {name}'s rustdoc JSON in {workspace} failed:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(target.join("doc").join(format!("{}.json", name.replace('-', "_"))))
}

/// Compares `name` in the scratch workspace `current` (this release's `.crate` files) with `name` in the scratch
/// workspace `baseline` (the previous versions' `.crate` files, `baseline_version` for this one), with the
/// cargo-semver-checks at `tool`.
pub(crate) fn compare(
    sh: &Shell,
    tool: &Utf8Path,
    current: &Utf8Path,
    baseline: &Utf8Path,
    name: &str,
    baseline_version: &str,
) -> Result<Verdict> {
    let new = rustdoc_json(sh, current, name)?;
    let old = rustdoc_json(sh, baseline, name)?;
    let out = crate::tools::without_secrets(cmd!(
        sh,
        "{tool} semver-checks check-release --current-rustdoc {new} --baseline-rustdoc {old}"
    ))
    .env("CARGO_TERM_COLOR", "never")
    .env("RUST_BACKTRACE", "0")
    .quiet()
    .ignore_status()
    .output()
    .with_context(|| format!("running {tool}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let baseline = format!("{name} {baseline_version}");
    if out.status.success() {
        return Ok(Verdict::Compatible { baseline });
    }
    if text.contains("--- failure") {
        return Ok(Verdict::Breaking { baseline, report: failures(&text) });
    }
    anyhow::bail!("cargo-semver-checks could not compare {name} with {baseline}:\n{}", text.trim())
}

/// The report's failure blocks (`--- failure <lint>: <what> ---` and the items it lists), the rest left out.
pub(crate) fn failures(text: &str) -> String {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("--- failure") {
            inside = true;
            out.push(line.trim_end().to_owned());
        } else if t.starts_with("---") || t.starts_with("Summary") {
            inside = false;
            if t.starts_with("Summary") {
                out.push(t.to_owned());
            }
        } else if inside && (t.starts_with("function ") || t.contains(" in file ") || t.starts_with("Failed in:")) {
            out.push(format!("  {t}"));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_version_is_the_highest_below_this_one() {
        let published: Vec<String> =
            ["0.1.0", "0.1.2", "0.2.0-rc.1", "0.2.0", "0.3.0", "junk"].map(String::from).into();
        assert_eq!(previous_version(&published, "0.2.1").as_deref(), Some("0.2.0"));
        assert_eq!(previous_version(&published, "0.2.0").as_deref(), Some("0.2.0-rc.1"));
        assert_eq!(previous_version(&published, "0.1.0"), None);
        assert_eq!(previous_version(&[], "1.0.0"), None);
        assert_eq!(previous_version(&published, "not a version"), None);
    }

    #[test]
    fn the_lint_step_compares_with_the_release_tag() {
        let s = lint_step("core", "v1.2.0");
        assert_eq!(s.name, "semver: core (against v1.2.0)");
        assert_eq!(
            s.command_line(),
            "CARGO_TERM_COLOR=never cargo-semver-checks semver-checks check-release --package core --baseline-rev v1.2.0"
        );
        assert_eq!(s.tools, ["cargo-semver-checks"]);
        assert!(s.hint.contains("bump its version"));
    }

    #[test]
    fn the_report_keeps_the_failures_and_the_items() {
        let text = "     Parsing core v0.1.1 (current)\n\
                    --- failure function_missing: pub fn removed or renamed ---\n\n\
                    Description:\nA publicly-visible function cannot be imported by its prior path.\n\
                    \x20       ref: https://doc.rust-lang.org/cargo/reference/semver.html#item-remove\n\n\
                    Failed in:\n  function core::gone, previously in file /x/src/lib.rs:2\n\n\
                    \x20    Summary semver requires new minor version: 1 major and 0 minor checks failed\n";
        let r = failures(text);
        assert!(r.contains("--- failure function_missing: pub fn removed or renamed ---"), "{r}");
        assert!(r.contains("function core::gone, previously in file /x/src/lib.rs:2"), "{r}");
        assert!(r.contains("Summary semver requires new minor version"), "{r}");
        assert!(!r.contains("Parsing") && !r.contains("Description"), "{r}");
    }

    /// A scratch crate `base` at `version` with `lib` as its code, committed to a git repository in `dir`.
    fn commit_crate(sh: &Shell, dir: &Utf8Path, version: &str, lib: &str) {
        crate::testutil::write_files(
            dir,
            &[
                (
                    "Cargo.toml",
                    &format!(
                        "[package]\nname = \"base\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\n\
                         description = \"demo\"\n\n[workspace]\n"
                    ),
                ),
                ("src/lib.rs", lib),
                (".gitignore", "/target\n"),
            ],
        );
        sh.change_dir(dir);
        cmd!(sh, "cargo generate-lockfile --offline").quiet().ignore_stderr().run().unwrap();
        cmd!(sh, "git add -A").quiet().run().unwrap();
        cmd!(sh, "git -c user.name=t -c user.email=t@t commit --quiet -m {version}").quiet().run().unwrap();
    }

    const BEFORE: &str = "/// Stays.\npub fn answer() -> u32 { 42 }\n/// Removed later.\npub fn gone() {}\n";
    const AFTER: &str = "/// Stays.\npub fn answer() -> u32 { 42 }\n";

    fn tool(sh: &Shell) -> Utf8PathBuf {
        let tools = crate::tools::Tools::new(&crate::project_root(), false);
        tools.ensure(sh, &["cargo-semver-checks"]).expect("provision cargo-semver-checks");
        tools.probe(sh, crate::config::tool::CARGO_SEMVER_CHECKS.tool()).unwrap().path.unwrap()
    }

    /// The planted violation in lint: a public function removed since the release tag, the version not bumped
    /// (or bumped as a patch). The step fails naming the function; a breaking version passes.
    #[test]
    #[ignore = "heavy part (provisions cargo-semver-checks): cargo xtask test --part heavy"]
    fn a_removed_function_without_a_breaking_version_fails_lint() {
        let sh = Shell::new().unwrap();
        let tool = tool(&sh);
        let dir = crate::testutil::temp_dir("semver-lint");
        sh.change_dir(&dir);
        cmd!(sh, "git init --quiet").run().unwrap();
        commit_crate(&sh, &dir, "0.1.0", BEFORE);
        cmd!(sh, "git tag v0.1.0").run().unwrap();
        commit_crate(&sh, &dir, "0.1.1", AFTER);
        assert_eq!(last_release_tag(&sh).as_deref(), Some("v0.1.0"));
        let step = lint_step("base", "v0.1.0");
        let (ok, text) = crate::testutil::run_step_in(&step, &dir, Some(&tool));
        assert!(!ok, "{text}");
        assert!(text.contains("function_missing") && text.contains("base::gone"), "{text}");
        commit_crate(&sh, &dir, "0.2.0", AFTER);
        let (ok, text) = crate::testutil::run_step_in(&step, &dir, Some(&tool));
        assert!(ok, "0.2.0 says it breaks: {text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The planted violation in a release: the `.crate` about to ship removed a function the registry's previous
    /// version has, under a patch version. The verdict is breaking and names it; a minor bump (0.x) is compatible.
    #[test]
    #[ignore = "heavy part (provisions cargo-semver-checks): cargo xtask test --part heavy"]
    fn a_release_that_removes_a_function_in_a_patch_is_breaking() {
        let sh = Shell::new().unwrap();
        let tool = tool(&sh);
        let dir = crate::testutil::temp_dir("semver-release");
        let package = |version: &str, lib: &str| -> Utf8PathBuf {
            let src = dir.join(format!("src-{version}"));
            std::fs::create_dir_all(&src).unwrap();
            sh.change_dir(&src);
            cmd!(sh, "git init --quiet").run().unwrap();
            commit_crate(&sh, &src, version, lib);
            cmd!(sh, "cargo package --quiet --offline --no-verify").quiet().run().unwrap();
            let file = dir.join(format!("base-{version}.crate"));
            std::fs::copy(src.join(format!("target/package/base-{version}.crate")), &file).unwrap();
            file
        };
        let old = package("0.1.0", BEFORE);
        let base = dir.join("baseline");
        unpack_workspace(&sh, &base, &[("base".into(), "0.1.0".into(), old)]).unwrap();
        for (version, breaking) in [("0.1.1", true), ("0.2.0", false)] {
            let new = package(version, AFTER);
            let ws = dir.join(format!("current-{version}"));
            unpack_workspace(&sh, &ws, &[("base".into(), version.into(), new)]).unwrap();
            let verdict = compare(&sh, &tool, &ws, &base, "base", "0.1.0").unwrap();
            match verdict {
                Verdict::Breaking { baseline, report } => {
                    assert!(breaking, "{version}: {report}");
                    assert_eq!(baseline, "base 0.1.0");
                    assert!(report.contains("function_missing") && report.contains("base::gone"), "{report}");
                }
                Verdict::Compatible { baseline } => assert!(!breaking && baseline == "base 0.1.0", "{version}"),
                other => panic!("{version}: {other:?}"),
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
