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

use crate::plan::Step;

/// The newest release tag (`v` and a version) reachable from HEAD, if any.
pub fn last_release_tag(sh: &Shell) -> Option<String> {
    let tag = cmd!(sh, "git describe --tags --abbrev=0 --match v[0-9]*").quiet().ignore_stderr().read().ok()?;
    let tag = tag.trim();
    (!tag.is_empty()).then(|| tag.to_owned())
}

/// What fixes a breaking change: a version that says so, or keeping the API.
fn hint(name: &str) -> String {
    format!(
        "{name}'s public API broke since its last release (the items are named above): bump its version as the \
         report says (for 0.x, the minor), or keep the old items (deprecate them instead of removing)"
    )
}

/// `lint`'s step for one published library crate, against the release tag `baseline`.
pub fn lint_step(name: &str, baseline: &str) -> Step {
    Step::run(
        &format!("semver: {name} (against {baseline})"),
        "cargo-semver-checks",
        &["semver-checks", "check-release", "--package", name, "--baseline-rev", baseline],
    )
    .env("CARGO_TERM_COLOR", "never")
    .tools(&["cargo-semver-checks"])
    .hint(hint(name))
}

/// What the comparison with the last release found.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
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
    pub fn describe(&self) -> String {
        match self {
            Verdict::FirstRelease => "first release: nothing to compare".into(),
            Verdict::NoLibrary => "no library target: no public API to compare".into(),
            Verdict::Compatible { baseline } => format!("compatible with {baseline}"),
            Verdict::Breaking { baseline, .. } => format!("BREAKS {baseline}'s API under a non-breaking version"),
        }
    }
}

/// The highest version in `published` below `version` (pre-releases compared as semver does), if any.
pub fn previous_version(published: &[String], version: &str) -> Option<String> {
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
pub fn unpack_workspace(
    sh: &Shell,
    dir: &Utf8Path,
    crates: &[(String, String, Utf8PathBuf)],
) -> Result<Vec<Utf8PathBuf>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    let mut members = Vec::new();
    let mut patch = String::new();
    for (name, version, file) in crates {
        cmd!(sh, "tar -xzf {file} -C {dir}").quiet().run().with_context(|| format!("unpacking {file}"))?;
        let member = format!("{name}-{version}");
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

/// Compares one crate of a release (`current`, unpacked in the scratch workspace `workspace`) with the
/// previous release's `.crate` (`baseline_file`, version `baseline`), with the cargo-semver-checks at `tool`.
pub fn compare(
    sh: &Shell,
    tool: &Utf8Path,
    workspace: &Utf8Path,
    name: &str,
    baseline: &str,
    baseline_file: &Utf8Path,
) -> Result<Verdict> {
    let base_dir = workspace.with_file_name(format!("{}-baseline", workspace.file_name().unwrap_or("semver")));
    let unpacked =
        unpack_workspace(sh, &base_dir, &[(name.to_owned(), baseline.to_owned(), baseline_file.to_owned())])?;
    let manifest = workspace.join("Cargo.toml");
    let root = &unpacked[0];
    let out = cmd!(
        sh,
        "{tool} semver-checks check-release --manifest-path {manifest} --package {name} --baseline-root {root}"
    )
    .env("CARGO_TERM_COLOR", "never")
    .quiet()
    .ignore_status()
    .output()
    .with_context(|| format!("running {tool}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let baseline = format!("{name} {baseline}");
    if out.status.success() {
        return Ok(Verdict::Compatible { baseline });
    }
    if text.contains("--- failure") {
        return Ok(Verdict::Breaking { baseline, report: failures(&text) });
    }
    anyhow::bail!(
        "cargo-semver-checks could not compare {name} with {baseline}:\n{}\nfix: the output above names the cause; \
         run the release again once it is fixed",
        text.trim()
    )
}

/// The report's failure blocks (`--- failure <lint>: <what> ---` and the items it lists), the rest left out.
pub fn failures(text: &str) -> String {
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
}
