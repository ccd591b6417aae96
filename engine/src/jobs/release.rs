//! `cargo xtask release`: publishes one commit's pre-built, uploaded artifacts, building nothing.
//!
//! 1. Download the commit's artifacts from the store (every sha256 verified) and its manifest signature;
//!    check the signature against the committed public key, that the set is complete, that every version is
//!    the release version and that the manifest is clean; that every `.crate` holds the crate and version the
//!    manifest names and every wheel's METADATA and WHEEL agree with its file name and the release. Every
//!    crate and wheel is judged against its registry by content: the index's `cksum`, the simple page's
//!    `#sha256=`. The same bytes are skipped; other bytes under the same version or file name stop the release.
//!    Each crate not yet published is compared with its previous version in the registry (cargo-semver-checks
//!    on the two `.crate` files): a breaking change under a non-breaking version stops the release too. Any
//!    failure here stops before anything is published.
//! 2. Crates through the registry's web API, in dependency order; right before each upload the index is read
//!    again, and after it the index is polled until it shows the version with the same checksum.
//! 3. Wheels to the package index, one twine run per file, each re-checked on the simple page first.
//! 4. The web bundle to `version/<V>/` of the web store, and `latest/` (several bundles: each to
//!    `version/<V>/<bundle>/` and `latest/<bundle>/`).
//!
//! `--execute` holds a machine-wide lock (one release of a registry, package index and version at a time) from
//! the first download to the last publish.
//!
//! Without `--execute` it is a dry run that prints this plan and changes nothing. Tokens come from the
//! environment (`CARGO_REGISTRY_TOKEN`, `PYPI_TOKEN`) and are never printed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Value, json};
use xshell::{Shell, cmd};

use crate::artifacts;
use crate::flags;
use crate::manifest::{Artifact, Kind, Manifest};
use crate::plan::JobFailed;
use crate::registry::crates::{
    Answer, IndexEntry, crate_metadata, crate_presence, crates_in_index, download_crate, index_entries, name_holder,
    publish_crate, same_repository,
};
use crate::registry::pypi::{self, wheel_on_index};
use crate::registry::{Presence, pace};
use crate::store::{PutMeta, Store};
use crate::wheel::content;
use crate::{Ctx, config};

/// Where a GitHub Actions run comes from (`GITHUB_*` and the event's `repository.default_branch`).
#[derive(Clone, Debug, Default)]
pub(crate) struct RefFacts {
    pub event: String,
    pub ref_type: String,
    pub ref_name: String,
    pub git_ref: String,
    pub default_branch: Option<String>,
}

impl RefFacts {
    /// The facts of this run, if it is a GitHub Actions run.
    pub(crate) fn from_env() -> Option<RefFacts> {
        if !crate::github::actions() && !crate::github::replaying() {
            return None;
        }
        let var = |k: &str| crate::github::run_var(k).unwrap_or_default();
        let default_branch = crate::github::run_var("GITHUB_EVENT_PATH")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.pointer("/repository/default_branch").and_then(Value::as_str).map(str::to_owned));
        Some(RefFacts {
            event: var("GITHUB_EVENT_NAME"),
            ref_type: var("GITHUB_REF_TYPE"),
            ref_name: var("GITHUB_REF_NAME"),
            git_ref: var("GITHUB_REF"),
            default_branch,
        })
    }
}

/// A release publishes only from the version's tag (`v<version>`, on a tag push) or, dispatched by hand, from
/// the default branch: a workflow file edited on another branch cannot publish. Checked before anything is
/// downloaded; `--allow-any-ref` skips it for rehearsals.
pub(crate) fn check_ref(f: &RefFacts, version: &str) -> Result<()> {
    let fix = "fix: push the tag v<version>, or dispatch the release workflow from the default branch (a rehearsal \
               elsewhere: --allow-any-ref, which CI never passes)";
    match f.event.as_str() {
        "push" if f.ref_type == "tag" => {
            if f.ref_name != format!("v{version}") {
                bail!("release {version} runs from tag v{version}; this run is for tag {}\n{fix}", f.ref_name);
            }
        }
        "workflow_dispatch" => match &f.default_branch {
            Some(d) if f.git_ref == format!("refs/heads/{d}") => {}
            Some(d) => {
                bail!("a dispatched release runs from the default branch {d}; this run is from {}\n{fix}", f.git_ref)
            }
            None => bail!("the event does not name the repository's default branch: cannot check the ref\n{fix}"),
        },
        other => bail!(
            "a release runs on a tag push or a dispatch from the default branch; this run is a `{other}` event on {}\n{fix}",
            f.git_ref
        ),
    }
    Ok(())
}

/// What a complete release has: checked before anything is published.
#[derive(Clone, Debug)]
pub(crate) struct Expected {
    pub crates: Vec<String>,
    /// Every wheel: per Python package, per `[release] wheel-targets` target, per interpreter (or abi3).
    pub wheels: Vec<crate::wheel::matrix::ExpectedWheel>,
    /// The wheels the platforms build beyond those (Windows, macOS...): shipped where there, not required. A
    /// wheel in the manifest that is neither is refused (a project or an interpreter ci.toml does not ship).
    pub other_wheels: Vec<crate::wheel::matrix::ExpectedWheel>,
    /// The Python distributions whose source distribution ships (where a platform builds `sdists`).
    pub sdists: Vec<String>,
    /// Every Python distribution ci.toml names: the only ones a wheel or sdist of the manifest may be of (a local
    /// `package` builds sdists of them even where no platform's `builds` asks).
    pub python: Vec<String>,
    pub bundles: Vec<String>,
}

impl Expected {
    /// Wheels or source distributions: the Python packages ship (checked, and published with PYPI_TOKEN).
    pub(crate) fn ships_python(&self) -> bool {
        !self.wheels.is_empty() || !self.sdists.is_empty()
    }
}

/// Where things are published.
pub(crate) struct Targets {
    pub registry_api: String,
    pub registry_index: String,
    pub pypi_upload: String,
    pub pypi_simple: String,
    pub web: Store,
    /// From `CARGO_REGISTRY_TOKEN` and `PYPI_TOKEN`; never printed.
    pub registry_token: Option<String>,
    pub pypi_token: Option<String>,
    /// The job's OIDC endpoint (GitHub Actions with `id-token: write`): trusted publishing where no token is set.
    pub oidc: Option<crate::oidc::Github>,
    /// Where the package index's OIDC endpoints are (`/_/oidc/audience`, `/_/oidc/mint-token`).
    pub pypi_oidc: String,
    /// Crate publishes in flight at once (`[release] concurrent-publishes`).
    pub publish_jobs: usize,
    /// Earlier addresses of this project's repository (`[release] former-repositories`): a crate name whose
    /// registry versions name one of them is this project's.
    pub former_repositories: Vec<String>,
}

impl Targets {
    /// Which credential each registry's publishes use (never the value), for the plan.
    pub(crate) fn credentials(&self) -> (String, String) {
        let describe = |explicit: bool, var: &str, oidc_at: &str| {
            if explicit {
                format!("${var}")
            } else if self.oidc.is_some() {
                format!("trusted publishing (this job's OIDC token exchanged at {oidc_at})")
            } else {
                format!("none: set {var}, or run in GitHub Actions with `id-token: write` and a trusted publisher")
            }
        };
        (
            describe(self.registry_token.is_some(), "CARGO_REGISTRY_TOKEN", &self.registry_api),
            describe(self.pypi_token.is_some(), "PYPI_TOKEN", &self.pypi_oidc),
        )
    }
}

/// Where release keeps the verified downloads of each commit, relative to the root.
pub(crate) const DOWNLOADS_DIR: &str = crate::config::RELEASE_DOWNLOADS_DIR;

/// One line of the plan.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReleaseItem {
    pub what: String,
    pub skip: Option<String>,
}

/// The release version: `--version`, else a `vX.Y.Z` tag being built, else the workspace's.
pub(crate) fn release_version(flag: Option<&str>, root: &Utf8Path) -> Result<String> {
    let (v, from) = if let Some(v) = flag {
        (v.trim_start_matches('v').to_owned(), "--version")
    } else if let Some(name) =
        std::env::var("GITHUB_REF_NAME").ok().filter(|_| std::env::var("GITHUB_REF_TYPE").is_ok_and(|t| t == "tag"))
    {
        (name.trim_start_matches('v').to_owned(), "the tag")
    } else {
        (crate::workspace::workspace_version(root)?, "the workspace version")
    };
    // The version becomes part of store keys (version/<V>/) and registry requests: a version, nothing else.
    let valid = v.len() <= 64
        && v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars().all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c))
        && !v.contains("..");
    if !valid {
        let shown: String = v.chars().take(80).collect();
        bail!("{from} {shown:?} is not a version\nfix: a semantic version such as 1.2.3 (or the tag v1.2.3)");
    }
    Ok(v)
}

/// A failed download or verification: a failed job (exit 1) when the store's content is wrong, bad input
/// (exit 2) when the job could not run at all; either way nothing was published.
fn verification_failed(e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<JobFailed>().is_some() {
        JobFailed(format!("{e:#}\nnothing was published")).into()
    } else {
        anyhow!("{e:#}\nnothing was published")
    }
}

/// The checks of step 1, on a downloaded manifest.
pub(crate) fn check(m: &Manifest, version: &str, expected: &Expected) -> Result<()> {
    let mut problems = Vec::new();
    if m.dirty {
        problems.push("the manifest was made from a dirty tree".to_owned());
    }
    if m.version != version {
        problems.push(format!("the manifest's version is {}, the release is {version}", m.version));
    }
    for a in m.artifacts.iter().filter(|a| a.version != version) {
        problems.push(format!("{} has version {}, the release is {version}", a.path, a.version));
    }
    for c in &expected.crates {
        if !m.artifacts.iter().any(|a| a.kind == Kind::Crate && &a.name == c) {
            problems.push(format!("the crate {c} is missing"));
        }
    }
    for w in &expected.wheels {
        let file = |a: &Artifact| a.path.rsplit('/').next().unwrap_or_default().to_owned();
        if !m.artifacts.iter().any(|a| a.kind == Kind::Wheel && w.is(&a.name, a.platform.as_deref(), &file(a))) {
            problems.push(format!("{w} is missing"));
        }
    }
    problems.extend(not_shipped(m, expected));
    for d in &expected.sdists {
        if !m
            .artifacts
            .iter()
            .any(|a| a.kind == Kind::Sdist && crate::artifacts::normalize(&a.name) == crate::artifacts::normalize(d))
        {
            problems.push(format!("the source distribution of {d} is missing"));
        }
    }
    for b in &expected.bundles {
        if !m.artifacts.iter().any(|a| a.kind == Kind::Wasm && &a.name == b) {
            problems.push(format!("the web bundle {b} is missing"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(JobFailed(format!(
            "commit {} cannot be released:\n  {}\nnothing was published",
            m.commit,
            problems.join("\n  ")
        ))
        .into())
    }
}

/// The wheels and source distributions of the manifest that ci.toml does not ship: a project or an interpreter
/// it does not name on any platform, an sdist of a package it ships none of.
fn not_shipped(m: &Manifest, expected: &Expected) -> Vec<String> {
    let allowed = |a: &Artifact| {
        let file = a.path.rsplit('/').next().unwrap_or_default();
        expected.wheels.iter().chain(&expected.other_wheels).any(|w| w.is(&a.name, a.platform.as_deref(), file))
    };
    let normalize = crate::artifacts::normalize;
    let wheels = m.artifacts.iter().filter(|a| a.kind == Kind::Wheel && !allowed(a)).map(|a| {
        format!(
            "{} is no wheel ci.toml ships (its [[python]] packages, their interpreters and the platforms' wheels)",
            crate::plan::printable(&a.path)
        )
    });
    let sdists = (m.artifacts.iter())
        .filter(|a| a.kind == Kind::Sdist && !expected.python.iter().any(|d| normalize(d) == normalize(&a.name)))
        .map(|a| format!("{} is the source distribution of no package ci.toml names", crate::plan::printable(&a.path)));
    wheels.chain(sdists).collect()
}

/// The fix for a version or file name that is already taken by other bytes.
const OTHER_BYTES_FIX: &str = "fix: a published version or file cannot be replaced (crates.io and PyPI never take \
                               one twice, even after a yank or delete): bump the version, then package, upload, \
                               sign and release it";

/// The semver verdict of each crate this release publishes: its public API against the previous version in the
/// registry (downloaded), by cargo-semver-checks on the `.crate` files themselves. Crates already published
/// are left out; the tool is provisioned only when some crate has an earlier version.
fn semver_verdicts(
    ctx: &Ctx,
    sh: &Shell,
    t: &Targets,
    crates: &[&Artifact],
    dir: &Utf8Path,
    cache: &Utf8Path,
) -> Result<Vec<(String, crate::semver::Verdict)>> {
    use crate::semver::Verdict;
    let todo = baselines(sh, t, crates, cache)?;
    if todo.iter().all(|(_, prev)| prev.is_none()) {
        return Ok(todo.iter().map(|(a, _)| (a.name.clone(), Verdict::FirstRelease)).collect());
    }
    let work = ctx.root.join(crate::config::RELEASE_SEMVER_DIR);
    let (libs, libs_before) = semver_workspaces(ctx, sh, t, (crates, dir), &todo, cache, &work)?;
    ctx.tools.ensure(sh, &["cargo-semver-checks"])?;
    let tool = ctx
        .tools
        .probe(sh, config::tool::CARGO_SEMVER_CHECKS.tool())?
        .path
        .context("cargo-semver-checks is not installed")?;
    let compare = |name: &str, prev: &str| {
        crate::semver::compare(sh, &tool, &work.join("current"), &work.join("baseline"), name, prev).map_err(|e| {
            JobFailed(format!(
                "{e:#}\nfix: the output above names the cause; run the release again once it is fixed\n\
                 nothing was published"
            ))
        })
    };
    let mut out = Vec::new();
    for (a, prev) in todo {
        let (now, before) = (libs.contains(&a.name), libs_before.contains(&a.name));
        let verdict = match prev {
            None => Verdict::FirstRelease,
            Some(_) if !now && !before => Verdict::NoLibrary,
            Some(prev) if !now => Verdict::Breaking {
                baseline: format!("{} {}", a.name, prev.vers),
                report: "  the library target was removed: every item of its public API is gone".into(),
            },
            // A library where there was none adds API: nothing to break.
            Some(prev) if !before => Verdict::Compatible { baseline: format!("{} {}", a.name, prev.vers) },
            Some(prev) => compare(&a.name, &prev.vers)?,
        };
        out.push((a.name.clone(), verdict));
    }
    Ok(out)
}

/// Each crate the registry does not have at this version, with the version it is compared with: the previous one
/// people can still depend on (a yanked version is no baseline), if any.
fn baselines<'a>(
    sh: &Shell,
    t: &Targets,
    crates: &[&'a Artifact],
    cache: &Utf8Path,
) -> Result<Vec<(&'a Artifact, Option<IndexEntry>)>> {
    let mut todo = Vec::new();
    for a in crates {
        let entries = index_entries(sh, &t.registry_index, &a.name, cache)?;
        if entries.iter().any(|e| e.vers == a.version) {
            continue;
        }
        let live: Vec<String> = entries.iter().filter(|e| !e.yanked).map(|e| e.vers.clone()).collect();
        let prev = crate::semver::previous_version(&live, &a.version)
            .and_then(|v| entries.iter().find(|e| e.vers == v).cloned());
        todo.push((*a, prev));
    }
    Ok(todo)
}

/// Two scratch workspaces under `work`: `current` (the release's `.crate` files, with the repository's
/// Cargo.lock) and `baseline` (the previous versions, downloaded and checked against the index's sha256); the
/// crates with a library in each.
fn semver_workspaces(
    ctx: &Ctx,
    sh: &Shell,
    t: &Targets,
    (crates, dir): (&[&Artifact], &Utf8Path),
    todo: &[(&Artifact, Option<IndexEntry>)],
    cache: &Utf8Path,
    work: &Utf8Path,
) -> Result<(Vec<String>, Vec<String>)> {
    let unpacked: Vec<(String, String, Utf8PathBuf)> =
        crates.iter().map(|a| (a.name.clone(), a.version.clone(), dir.join(&a.path))).collect();
    crate::semver::unpack_workspace(sh, &work.join("current"), &unpacked)?;
    // The dependencies the repository reviewed and locked, where they fit: no newer version picked at release.
    let lock = ctx.root.join("Cargo.lock");
    if lock.is_file() {
        std::fs::copy(&lock, work.join("current/Cargo.lock")).with_context(|| format!("copying {lock}"))?;
    }
    let mut previous = Vec::new();
    for (a, prev) in todo {
        if let Some(prev) = prev {
            let file = work.join(format!("{}-{}.crate", a.name, prev.vers));
            download_crate(sh, &t.registry_index, cache, &a.name, prev, &file)?;
            previous.push((a.name.clone(), prev.vers.clone(), file));
        }
    }
    crate::semver::unpack_workspace(sh, &work.join("baseline"), &previous)?;
    Ok((libraries(sh, &work.join("current"))?, libraries(sh, &work.join("baseline"))?))
}

/// The crates with a library target in the workspace at `dir`.
fn libraries(sh: &Shell, dir: &Utf8Path) -> Result<Vec<String>> {
    let manifest = dir.join("Cargo.toml");
    let meta = cmd!(sh, "cargo metadata --no-deps --format-version 1 --manifest-path {manifest}")
        .quiet()
        .read()
        .with_context(|| format!("reading the crates in {dir}"))?;
    Ok(crate::workspace::parse_metadata(&meta)?.into_iter().filter(|p| p.has_lib).map(|p| p.name).collect())
}

/// Where the release goes: each target from its flag, else its `XTASK_*` variable, else ci.toml.
pub(crate) fn targets(ctx: &Ctx, args: &flags::Release) -> Result<Targets> {
    use crate::settings::overridden;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let defaults = ctx.settings.release(ctx.job)?;
    let web = match args.web_store.as_deref() {
        Some(w) => w.to_owned(),
        None => overridden(None, "store.web", &ctx.settings.store(ctx.job)?.web),
    };
    let pypi_upload = overridden(args.pypi_upload.as_deref(), "release.pypi-upload", &defaults.pypi_upload);
    Ok(Targets {
        registry_api: overridden(args.registry_api.as_deref(), "release.registry-api", &defaults.registry_api),
        registry_index: overridden(args.registry_index.as_deref(), "release.registry-index", &defaults.registry_index),
        pypi_oidc: env("XTASK_PYPI_OIDC").unwrap_or_else(|| crate::oidc::pypi_oidc_base(&pypi_upload)),
        pypi_upload,
        pypi_simple: overridden(args.pypi_simple.as_deref(), "release.pypi-simple", &defaults.pypi_simple),
        web: artifacts::open_store(ctx, Some(&web), args.endpoint.as_deref())?,
        registry_token: env("CARGO_REGISTRY_TOKEN").map(|t| crate::oidc::Secret::new(t).expose().to_owned()),
        pypi_token: env("PYPI_TOKEN").map(|t| crate::oidc::Secret::new(t).expose().to_owned()),
        oidc: crate::oidc::Github::from_env(),
        publish_jobs: defaults.concurrent_publishes.unwrap_or(DEFAULT_CONCURRENT_PUBLISHES),
        former_repositories: defaults.former_repositories.clone(),
    })
}

/// Crate publishes in flight at once unless `[release] concurrent-publishes` says otherwise: enough to keep a
/// registry's rate busy while dependents wait for the index.
pub(crate) const DEFAULT_CONCURRENT_PUBLISHES: usize = 4;

/// `--commit event` and `--version event` (what the release workflow passes): the commit and version the trigger
/// names, decided here rather than in the workflow: a dispatch's `commit` and `version` inputs; a tag push's
/// commit (`$GITHUB_SHA`) and tag. Anything else is the flags' own value.
pub(crate) fn from_event(args: &flags::Release, t: &crate::github::Trigger) -> Result<flags::Release> {
    let mut args = args.clone();
    let fix = "fix: dispatch the release workflow with its commit and version inputs, or push the tag v<version>";
    if args.commit == "event" {
        args.commit = match t.input("commit")? {
            Some(c) => c,
            None if t.name == "push" => crate::github::run_var("GITHUB_SHA")
                .or_else(|| t.payload.get("after").and_then(Value::as_str).map(str::to_owned))
                .ok_or_else(|| anyhow!("the push event names no commit (no $GITHUB_SHA, no `after`)\n{fix}"))?,
            None => bail!("--commit event: a `{}` event names no commit to release\n{fix}", t.name),
        };
    }
    if args.version.as_deref() == Some("event") {
        args.version = match t.input("version")? {
            Some(v) => Some(v),
            None => {
                let tag = t.payload.get("ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("refs/tags/"));
                match tag {
                    Some(tag) => Some(tag.to_owned()),
                    None => bail!("--version event: a `{}` event names no version (no tag, no input)\n{fix}", t.name),
                }
            }
        };
    }
    Ok(args)
}

pub(crate) fn run(ctx: &Ctx, args: &flags::Release) -> Result<()> {
    let sh = &ctx.sh;
    let resolved;
    let args = if args.commit == "event" || args.version.as_deref() == Some("event") {
        resolved = from_event(args, &crate::github::Trigger::read(None, None)?)?;
        &resolved
    } else {
        args
    };
    let packages = crate::workspace::workspace_packages(ctx)?;
    let expected = Expected {
        crates: packages.iter().filter(|p| p.publishable).map(|p| p.name.clone()).collect(),
        // Wheels only where the repository has Python packages.
        wheels: crate::wheel::matrix::expected(ctx.settings.python(), &ctx.settings.release(ctx.job)?.wheel_targets),
        other_wheels: {
            let targets: Vec<String> = ctx.settings.settings.platform.iter().flat_map(|p| p.wheels.clone()).collect();
            crate::wheel::matrix::expected(ctx.settings.python(), &targets)
        },
        // Source distributions where a platform builds them.
        sdists: if ctx.settings.settings.platform.iter().any(|p| p.builds.contains(&Kind::Sdist)) {
            ctx.settings.python().iter().map(|p| p.dist.clone()).collect()
        } else {
            Vec::new()
        },
        python: ctx.settings.python().iter().map(|p| p.dist.clone()).collect(),
        bundles: ctx.settings.wasm().iter().map(|b| b.package.clone()).collect(),
    };
    let targets = targets(ctx, args)?;
    release(ctx, sh, args, &expected, &targets).map(drop)
}

/// One operation of a release, in order: what `--dry-run` prints and `--json` emits is the list that then runs
/// (the publishing ones only with `--execute`). Contacting nothing happens before [`ReleaseOp::Verify`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum ReleaseOp {
    /// Take the machine-wide release lock of these registries and version, held until the last publish.
    Lock,
    /// Download the commit's artifacts from `store` into `dir`, every sha256 checked; verify the manifest's
    /// signature, its binding to the commit and version, its completeness and cleanliness.
    Verify { store: String, dir: Utf8PathBuf },
    /// Compare what the registry index and the package index (and the web store) already hold under this
    /// release's versions and file names, by sha256: the same bytes are skipped, other bytes stop the release.
    Compare { registry_index: String, pypi_simple: String },
    /// Each wheel's METADATA Name and Version and WHEEL tags against its file name.
    CheckWheels,
    /// Each crate missing from the index against its previous version there (cargo-semver-checks); print what
    /// will be published and skipped; a breaking change under a non-breaking version stops the release.
    SemverGate { registry_index: String },
    /// The crates missing from the index, in dependency order, each confirmed in the index before its dependents.
    PublishCrates { registry_api: String, credential: String },
    /// The wheels missing from the package index, one twine run per file.
    PublishWheels { pypi_upload: String, credential: String },
    /// The web bundles to `version/<V>/` and `latest/`.
    PublishWeb { web_store: String },
}

impl ReleaseOp {
    /// Publishing: performed only with `--execute`.
    pub(crate) fn publishes(&self) -> bool {
        matches!(self, ReleaseOp::PublishCrates { .. } | ReleaseOp::PublishWheels { .. } | ReleaseOp::PublishWeb { .. })
    }
}

/// The release's operations for `expected` (what this repository ships) to the targets `t`.
pub(crate) fn release_ops(
    args: &flags::Release,
    expected: &Expected,
    t: &Targets,
    store: &str,
    dir: &Utf8Path,
) -> Vec<ReleaseOp> {
    let mut ops = Vec::new();
    if args.execute {
        ops.push(ReleaseOp::Lock);
    }
    ops.push(ReleaseOp::Verify { store: store.to_owned(), dir: dir.to_owned() });
    ops.push(ReleaseOp::Compare { registry_index: t.registry_index.clone(), pypi_simple: t.pypi_simple.clone() });
    let python = expected.ships_python();
    if python {
        ops.push(ReleaseOp::CheckWheels);
    }
    ops.push(ReleaseOp::SemverGate { registry_index: t.registry_index.clone() });
    let (crate_credential, wheel_credential) = t.credentials();
    if !expected.crates.is_empty() {
        ops.push(ReleaseOp::PublishCrates { registry_api: t.registry_api.clone(), credential: crate_credential });
    }
    if python {
        ops.push(ReleaseOp::PublishWheels { pypi_upload: t.pypi_upload.clone(), credential: wheel_credential });
    }
    if !expected.bundles.is_empty() {
        ops.push(ReleaseOp::PublishWeb { web_store: t.web.describe() });
    }
    ops
}

/// Verifies and (with `--execute`) publishes; returns the plan with what was skipped. The operations
/// ([`release_ops`]) are printed by `--dry-run` and performed here in order, each by a function of its own:
/// [`verify`], [`plan_release`], [`check_wheels`], the semver gate, [`publish_crates`], [`publish_wheels`],
/// [`publish_web`].
pub(crate) fn release(
    ctx: &Ctx,
    sh: &Shell,
    args: &flags::Release,
    expected: &Expected,
    t: &Targets,
) -> Result<Vec<ReleaseItem>> {
    let version = release_version(args.version.as_deref(), &ctx.root)?;
    if !args.allow_any_ref
        && let Some(facts) = RefFacts::from_env()
    {
        check_ref(&facts, &version)?;
    }
    let commit = &crate::workspace::resolve_commit(sh, Some(&args.commit))?;
    // Verified downloads live in a directory of their own (not cargo's target/release).
    let dir = ctx.root.join(DOWNLOADS_DIR).join(commit);
    let store = args.store.clone().map_or_else(|| ctx.settings.store(ctx.job).map(|s| s.default.clone()), Ok)?;
    let ops = release_ops(args, expected, t, &store, &dir);
    if ctx.global.dry_run || ctx.global.json {
        // Contacts nothing: not the store, not the registries (a git index is not even cloned).
        return print_ops(&ops, &version, commit, args.execute, ctx.global.json).map(|()| Vec::new());
    }
    let mut run = ReleaseRun {
        ctx,
        sh,
        args,
        expected,
        t,
        commit,
        version: &version,
        dir: &dir,
        lock: None,
        manifest: None,
        plan: None,
        published: false,
    };
    for op in ops.iter().filter(|op| args.execute || !op.publishes()) {
        if !run.perform(op)? {
            break;
        }
    }
    if args.execute && run.published {
        println!("released {version} of {}", &commit[..12]);
    }
    Ok(run.plan.map(|p| p.actions).unwrap_or_default())
}

/// The release's operations as `--dry-run` prints them, or one JSON document for `--json`.
fn print_ops(ops: &[ReleaseOp], version: &str, commit: &str, execute: bool, json: bool) -> Result<()> {
    if json {
        let doc = json!({"job": "release", "version": version, "commit": commit, "execute": execute, "ops": ops});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("plan of release {version} of {commit} (--dry-run: nothing is contacted):");
    for (i, op) in ops.iter().enumerate() {
        let only = if op.publishes() && !execute { "   (with --execute)" } else { "" };
        // Stores and URLs come from flags and ci.toml: shown, never interpreted by the terminal.
        println!("  {}. {}{only}", i + 1, crate::plan::printable(&describe_op(op)));
    }
    Ok(())
}

/// One line of the printed plan.
fn describe_op(op: &ReleaseOp) -> String {
    match op {
        ReleaseOp::Lock => "take the machine-wide release lock of these registries and version".into(),
        ReleaseOp::Verify { store, dir } => format!(
            "download the commit's artifacts from {store} into {dir}, verifying every sha256; verify the manifest's \
             signature, completeness, versions and cleanliness"
        ),
        ReleaseOp::Compare { registry_index, pypi_simple } => format!(
            "compare what {registry_index} and {pypi_simple} already hold under this release's versions and file \
             names by sha256: the same bytes are skipped, other bytes stop the release before anything is published"
        ),
        ReleaseOp::CheckWheels => {
            "check each wheel's METADATA Name and Version and WHEEL tags against its file name".into()
        }
        ReleaseOp::SemverGate { registry_index } => format!(
            "compare each crate missing from {registry_index} with its previous version there (cargo-semver-checks): \
             a breaking change under a non-breaking version stops the release"
        ),
        ReleaseOp::PublishCrates { registry_api, credential } => {
            format!("publish the missing crates to {registry_api} in dependency order, with {credential}")
        }
        ReleaseOp::PublishWheels { pypi_upload, credential } => {
            format!("upload the missing wheels to {pypi_upload}, one twine run per file, with {credential}")
        }
        ReleaseOp::PublishWeb { web_store } => {
            format!("copy the web bundles to version/<V>/ and latest/ of {web_store}")
        }
    }
}

/// A release as it runs: what each operation found, for the next ones.
struct ReleaseRun<'a> {
    ctx: &'a Ctx,
    sh: &'a Shell,
    args: &'a flags::Release,
    expected: &'a Expected,
    t: &'a Targets,
    commit: &'a str,
    version: &'a str,
    dir: &'a Utf8Path,
    /// Held until the run ends (the last publish).
    lock: Option<ReleaseLock>,
    manifest: Option<Manifest>,
    plan: Option<ReleasePlan>,
    published: bool,
}

impl ReleaseRun<'_> {
    /// Performs one operation; `false` when the release ends there (everything is published already).
    fn perform(&mut self, op: &ReleaseOp) -> Result<bool> {
        let (ctx, sh, t, dir, version) = (self.ctx, self.sh, self.t, self.dir, self.version);
        let cache = ctx.root.join(crate::config::RELEASE_INDEX_DIR);
        let tmp = ctx.root.join(crate::tempfiles::DIR);
        match op {
            ReleaseOp::Lock => {
                credentials_may_go(t, self.expected)?;
                self.lock = Some(ReleaseLock::acquire(t, version)?);
            }
            ReleaseOp::Verify { .. } => {
                self.manifest = Some(verify(ctx, sh, self.args, self.expected, self.commit, version, dir)?);
            }
            ReleaseOp::Compare { .. } => {
                self.plan = Some(plan_release(sh, t, self.manifest()?, dir, version, &cache, &tmp)?);
            }
            ReleaseOp::CheckWheels => check_wheels(ctx, sh, self.manifest()?, dir, version)?,
            ReleaseOp::SemverGate { .. } => return self.semver_gate(&cache),
            ReleaseOp::PublishCrates { .. } | ReleaseOp::PublishWheels { .. } | ReleaseOp::PublishWeb { .. } => {
                self.published = true;
                let (m, plan) = (self.manifest()?, self.plan.as_ref().context("a publish before the comparison")?);
                let done = match op {
                    ReleaseOp::PublishCrates { .. } => publish_crates(sh, t, plan, m, dir, &cache, &tmp),
                    ReleaseOp::PublishWheels { .. } => publish_wheels(ctx, sh, t, m, dir, &tmp),
                    _ => publish_web(sh, t, plan, dir),
                };
                done.map_err(|e| stopped(e, version))?;
            }
        }
        Ok(true)
    }

    fn manifest(&self) -> Result<&Manifest> {
        self.manifest.as_ref().context("the release's plan uses the manifest before verifying it")
    }

    /// The semver verdicts, the plan printed with them; a breaking change stops the release. `false` when every
    /// item is published already (nothing to send).
    fn semver_gate(&mut self, cache: &Utf8Path) -> Result<bool> {
        let (m, plan) = (self.manifest()?, self.plan.as_ref().context("the semver gate before the comparison")?);
        let crates: Vec<&Artifact> = m.artifacts.iter().filter(|a| a.kind == Kind::Crate).collect();
        let verdicts = semver_verdicts(self.ctx, self.sh, self.t, &crates, self.dir, cache)?;
        print_plan(self.args, self.t, plan, &verdicts, self.commit, self.version);
        let breaking: Vec<String> = verdicts
            .iter()
            .filter_map(|(name, v)| match v {
                crate::semver::Verdict::Breaking { report, .. } => Some(format!("{name} {}:\n{report}", self.version)),
                _ => None,
            })
            .collect();
        if !breaking.is_empty() {
            return Err(JobFailed(format!(
                "a breaking change under a non-breaking version:\n{}\nfix: bump the version as the report says (for \
                 0.x, the minor), or keep the removed or changed items\nnothing was published",
                breaking.join("\n")
            ))
            .into());
        }
        if plan.actions.iter().all(|a| a.skip.is_some()) {
            println!("everything of {} is already published: nothing to send", self.version);
            return Ok(false);
        }
        Ok(true)
    }
}

/// A publish that failed, said as a failed job (exit 1, never "could not run"): a stop before other bytes, or a
/// release cut short that a re-run finishes.
fn stopped(e: anyhow::Error, version: &str) -> anyhow::Error {
    // Other bytes found right before a publish: running again would stop here again.
    if let Some(JobFailed(stop)) = e.downcast_ref::<JobFailed>() {
        return JobFailed(format!(
            "{stop}\nthe release of {version} stopped there; what it published before stays published"
        ))
        .into();
    }
    JobFailed(format!(
        "{e:#}\nthe release of {version} stopped part-way; run the same command again to finish it (what is already \
         published is skipped)"
    ))
    .into()
}

/// Phase 1: downloads the commit's artifacts (every sha256 checked) and verifies the store's manifest: its
/// signature by the release key, its binding to this commit and version, and that it lists what a release needs.
fn verify(
    ctx: &Ctx,
    sh: &Shell,
    args: &flags::Release,
    expected: &Expected,
    commit: &str,
    version: &str,
    dir: &Utf8Path,
) -> Result<Manifest> {
    let store = artifacts::open_store(ctx, args.store.as_deref(), args.endpoint.as_deref())?;
    // A dirty tree is refused below, with the other checks, in one message.
    let plan = crate::store_plan::StorePlan::download(&store, commit, &[], dir, true);
    crate::store_plan::execute(ctx, &store, &plan).map_err(verification_failed)?;
    let manifest_bytes = std::fs::read(dir.join(crate::manifest::FILE))?;
    let m = Manifest::parse(&String::from_utf8_lossy(&manifest_bytes))?;
    // The signature covers the store's manifest as uploaded (the downloaded copy may be a subset).
    let tmp = ctx.root.join(crate::tempfiles::DIR);
    let remote_manifest = crate::tempfiles::temp_file(&tmp, "release-manifest")?;
    let remote_sig = crate::tempfiles::temp_file(&tmp, "release-sig")?;
    let key = artifacts::manifest_key(commit);
    store.get(sh, &key, &remote_manifest)?;
    if !store.get(sh, &format!("{key}{}", crate::signature::SIGNATURE_SUFFIX), &remote_sig)? {
        return Err(JobFailed(format!(
            "the manifest of {commit} is not signed\nfix: cargo xtask sign --commit {commit} (with the release key)\nnothing was published"
        ))
        .into());
    }
    let public = match &args.public_key {
        Some(p) => {
            crate::signature::parse_public(&std::fs::read_to_string(p).with_context(|| format!("reading {p}"))?)?
        }
        None => crate::signature::committed_public(&ctx.root, ctx.settings).map_err(verification_failed)?,
    };
    let signed = std::fs::read(&remote_manifest);
    let signature = std::fs::read(&remote_sig);
    drop((remote_manifest, remote_sig));
    let (signed, signature) = (signed?, signature?);
    let sig_key = format!("{key}{}", crate::signature::SIGNATURE_SUFFIX);
    crate::signature::verify_bytes(&public, &signed, &signature, commit).map_err(|e| {
        JobFailed(format!("signature check of {} {sig_key} failed: {e:#}\nnothing was published", store.describe()))
    })?;
    // The signature covers the manifest's own commit and version: binding them to this commit and release binds
    // the signature too.
    let signed_m = Manifest::parse(&String::from_utf8_lossy(&signed))
        .map_err(|e| JobFailed(format!("the signed {key} is not a valid manifest: {e:#}\nnothing was published")))?;
    crate::manifest::check_binding(&signed_m, commit, Some(version))
        .map_err(|e| JobFailed(format!("{e:#}\nnothing was published")))?;
    if signed != manifest_bytes && signed_m.artifacts != m.artifacts {
        return Err(
            JobFailed("the downloaded manifest differs from the signed one\nnothing was published".into()).into()
        );
    }
    check(&m, version, expected)?;
    eprintln!(
        "verified {} artifacts of {} (signature, sha256, completeness, version {version})",
        m.artifacts.len(),
        &commit[..12]
    );
    Ok(m)
}

/// Why a crate is skipped: the index lists its version with the signed `.crate`'s sha256.
pub(crate) const SAME_IN_INDEX: &str = "already in the index, same sha256";
/// Why a wheel is skipped: the simple page lists its file with the signed sha256.
pub(crate) const SAME_ON_INDEX: &str = "already on the package index, same sha256";

/// Before anything is sent: a credential for a registry (a token, or one trusted publishing will mint) goes
/// only where [`crate::http::credential_may_go_to`] allows. twine gets its token through its environment, not
/// through crate::http, so this is the check that covers it.
pub(crate) fn credentials_may_go(t: &Targets, expected: &Expected) -> Result<()> {
    let checks = [
        (!expected.crates.is_empty() && (t.registry_token.is_some() || t.oidc.is_some()), &t.registry_api),
        (expected.ships_python() && (t.pypi_token.is_some() || t.oidc.is_some()), &t.pypi_upload),
    ];
    for (_, url) in checks.iter().filter(|(with_credential, _)| *with_credential) {
        crate::http::credential_may_go_to(url).map_err(|e| anyhow!("{e:#}\nnothing was published"))?;
    }
    Ok(())
}

/// One `release --execute` of a registry, package index and version at a time on this machine: an OS lock on
/// a file in the machine's temporary directory, named from those three (two checkouts collide too), held
/// until dropped. The OS releases it when the process ends, however it ends.
pub(crate) struct ReleaseLock {
    _file: std::fs::File,
}

impl ReleaseLock {
    pub(crate) fn path(t: &Targets, version: &str) -> std::path::PathBuf {
        let what =
            format!("{}\n{}\n{version}", t.registry_api.trim_end_matches('/'), t.pypi_upload.trim_end_matches('/'));
        let hash = crate::sha256::digest(what.as_bytes());
        std::env::temp_dir().join(format!("xtask-release-{}.lock", &hash[..16]))
    }

    pub(crate) fn acquire(t: &Targets, version: &str) -> Result<ReleaseLock> {
        let path = Self::path(t, version);
        let utf8 = Utf8PathBuf::from_path_buf(path.clone()).map_err(|p| anyhow!("{} is not UTF-8", p.display()))?;
        let held = crate::lock::try_exclusive(&utf8)
            .map_err(|e| anyhow!("{e:#}\nfix: check the temporary directory is writable"))?;
        match held {
            Ok(file) => Ok(ReleaseLock { _file: file }),
            Err(holder) => Err(JobFailed(format!(
                "another release of {version} to {} and {} is running on this machine: it holds the lock {} \
                 ({holder})\nfix: wait for the other release to finish, then run this again if needed: what it \
                 published is skipped\nnothing was published",
                crate::http::redact(&t.registry_api),
                crate::http::redact(&t.pypi_upload),
                path.display(),
            ))
            .into()),
        }
    }
}

/// What a release sends, and what of it is already there.
pub(crate) struct ReleasePlan {
    /// Each crate and the release's crates it depends on.
    deps: Vec<CrateDeps>,
    /// Each crate's registry metadata (from its `.crate`).
    metadata: BTreeMap<String, Value>,
    /// Every action, each with why it is skipped, if it is.
    actions: Vec<ReleaseItem>,
    /// The web files and the keys that do not hold them yet: (path in the commit directory, sha256, key).
    web_todo: Vec<(String, String, String)>,
}

/// Phase 2: the crates in dependency order, the wheels and the web files, each checked against its registry,
/// index or store (what is already there is skipped).
fn plan_release(
    sh: &Shell,
    t: &Targets,
    m: &Manifest,
    dir: &Utf8Path,
    version: &str,
    cache: &Utf8Path,
    tmp: &Utf8Path,
) -> Result<ReleasePlan> {
    let crates: Vec<&Artifact> = m.artifacts.iter().filter(|a| a.kind == Kind::Crate).collect();
    let (deps, metadata) = crates_metadata(sh, &crates, dir)?;
    let order = pace::publish_order(&deps)?;
    let mut actions = Vec::new();
    // Every item is judged by its bytes before anything is published: a version or file name already taken by
    // other bytes stops the release here, all of them named at once.
    let (mut conflicts, mut held) = (Vec::new(), Vec::new());
    for name in &order {
        let a = crates.iter().find(|a| &a.name == name).expect("ordered from these");
        let what = format!("crate {name} {}", a.version);
        let entries = index_entries(sh, &t.registry_index, &a.name, cache)?;
        let presence = crate_presence(&entries, &a.version, &a.sha256);
        conflicts.extend(presence.conflict(&what, &format!("the index {}", t.registry_index), &a.sha256));
        if presence == Presence::Missing {
            let ours = metadata.get(name).and_then(|m| m["repository"].as_str());
            held.extend(name_held_elsewhere(sh, t, a, &entries, ours, (cache, tmp))?);
        }
        actions.push(ReleaseItem { what, skip: (presence == Presence::Same).then(|| SAME_IN_INDEX.into()) });
    }
    for a in m.artifacts.iter().filter(|a| matches!(a.kind, Kind::Wheel | Kind::Sdist)) {
        let what = python_item(a);
        let presence = wheel_on_index(sh, &t.pypi_simple, a, tmp)?;
        conflicts.extend(presence.conflict(&what, &format!("the package index {}", t.pypi_simple), &a.sha256));
        actions.push(ReleaseItem { what, skip: (presence == Presence::Same).then(|| SAME_ON_INDEX.into()) });
    }
    if !conflicts.is_empty() || !held.is_empty() {
        let mut text: Vec<String> = conflicts.iter().chain(&held).cloned().collect();
        text.extend((!conflicts.is_empty()).then(|| OTHER_BYTES_FIX.to_owned()));
        text.extend((!held.is_empty()).then(|| NAME_HELD_FIX.to_owned()));
        return Err(JobFailed(format!("{}\nnothing was published", text.join("\n"))).into());
    }
    let web: Vec<&Artifact> = m.artifacts.iter().filter(|a| a.kind == Kind::Wasm).collect();
    let web_todo = web_todo(sh, t, &web, version)?;
    if !web.is_empty() {
        actions.push(ReleaseItem {
            what: format!("web bundle: {} files to version/{version}/ and latest/ of {}", web.len(), t.web.describe()),
            skip: web_todo.is_empty().then(|| "already there".into()),
        });
    }
    Ok(ReleasePlan { deps, metadata, actions, web_todo })
}

/// The refusal when the registry holds crate `a`'s name for another project: the newest version there names
/// another repository than this release's `ours` (and none of `[release] former-repositories`). crates.io gives a
/// name to its first publisher for good, so its upload would be refused, maybe after other crates went out. Where
/// either side names no repository, nothing can be told: a note says so.
fn name_held_elsewhere(
    sh: &Shell,
    t: &Targets,
    a: &Artifact,
    entries: &[IndexEntry],
    ours: Option<&str>,
    (cache, tmp): (&Utf8Path, &Utf8Path),
) -> Result<Option<String>> {
    let Some(holder) = name_holder(sh, &t.registry_index, cache, &a.name, entries, tmp)? else { return Ok(None) };
    let (Some(theirs), Some(ours)) = (holder.repository.as_deref(), ours) else {
        let why = match (ours, holder.readable) {
            (None, _) => "this release's Cargo.toml names no repository".to_owned(),
            (_, false) => {
                format!("the Cargo.toml of {} there could not be read", crate::plan::printable(&holder.version))
            }
            _ => format!("{} there names no repository", crate::plan::printable(&holder.version)),
        };
        eprintln!(
            "note: crate {}: whose project the name is on the index {} is not known ({why})",
            a.name, t.registry_index
        );
        return Ok(None);
    };
    if same_repository(theirs, ours) || t.former_repositories.iter().any(|f| same_repository(theirs, f)) {
        return Ok(None);
    }
    Ok(Some(format!(
        "crate {} is another project's name on the index {}: its newest version there, {}, names the repository {}; \
         this release names {ours}",
        a.name,
        t.registry_index,
        crate::plan::printable(&holder.version),
        crate::plan::printable(theirs)
    )))
}

/// The fix for a crate name another project holds.
const NAME_HELD_FIX: &str = "fix: a registry keeps a name for its first publisher: rename the package (`[lib] name` \
                             can keep the name code imports), or, if that repository is this project's at an \
                             earlier address, list it in ci.toml [release] former-repositories";

/// A crate and the names of its dependencies.
type CrateDeps = (String, Vec<String>);

/// Each crate's registry metadata (from its `.crate`, checked to be that crate), and the release's crates each
/// depends on (not counting dev-dependencies).
fn crates_metadata(
    sh: &Shell,
    crates: &[&Artifact],
    dir: &Utf8Path,
) -> Result<(Vec<CrateDeps>, BTreeMap<String, Value>)> {
    let mut deps = Vec::new();
    let mut metadata = BTreeMap::new();
    for a in crates {
        let meta = crate_metadata(sh, &dir.join(&a.path), &a.name, &a.version)?;
        let names: Vec<String> = meta["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"] != "dev")
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        deps.push((a.name.clone(), names));
        metadata.insert(a.name.clone(), meta);
    }
    Ok((deps, metadata))
}

/// Each web file's keys that do not hold it yet (by the sha256 the store records): (path, sha256, key). One bundle
/// goes to `version/<V>/` itself; several each to `version/<V>/<bundle>/`, so that no bundle's index.html replaces
/// another's.
fn web_todo(sh: &Shell, t: &Targets, web: &[&Artifact], version: &str) -> Result<Vec<(String, String, String)>> {
    let bundles: std::collections::BTreeSet<&str> = web.iter().map(|a| a.name.as_str()).collect();
    let nested = bundles.len() > 1;
    let mut todo = Vec::new();
    for a in web {
        let rel =
            if nested { a.path.split_once('/').map(|x| x.1) } else { a.path.splitn(3, '/').nth(2) }.unwrap_or(&a.path);
        for key in [format!("version/{version}/{rel}"), format!("latest/{rel}")] {
            if t.web.head(sh, &key)?.and_then(|o| o.sha256).as_deref() != Some(a.sha256.as_str()) {
                todo.push((a.path.clone(), a.sha256.clone(), key));
            }
        }
    }
    Ok(todo)
}

fn as_paths(v: &[Utf8PathBuf]) -> Vec<&Utf8Path> {
    v.iter().map(Utf8PathBuf::as_path).collect()
}

/// A wheel or source distribution as the release names it: `wheel FILE`, `sdist FILE`.
fn python_item(a: &Artifact) -> String {
    let file = a.path.rsplit('/').next().unwrap_or(&a.path);
    format!("{} {file}", if a.kind == Kind::Sdist { "sdist" } else { "wheel" })
}

/// Every wheel's and source distribution's content against its file name and the release (see [`content`]),
/// before anything is published: each disagreement is named, with both values.
fn check_wheels(ctx: &Ctx, sh: &Shell, m: &Manifest, dir: &Utf8Path, version: &str) -> Result<()> {
    let wheels: Vec<&Artifact> = m.artifacts.iter().filter(|a| a.kind == Kind::Wheel).collect();
    let sdists: Vec<&Artifact> = m.artifacts.iter().filter(|a| a.kind == Kind::Sdist).collect();
    if wheels.is_empty() && sdists.is_empty() {
        return Ok(());
    }
    // The Python of the tools virtualenv, where twine lives: a release with wheels needs it anyway.
    ctx.tools.ensure(sh, &["twine"])?;
    let twine = ctx.tools.probe(sh, config::tool::TWINE.tool())?.path.context("twine is not installed")?;
    let venv = twine.parent().and_then(Utf8Path::parent).context("twine is not in a virtualenv")?;
    let python = crate::tools::venv_python(venv);
    let paths = |set: &[&Artifact]| -> Vec<Utf8PathBuf> { set.iter().map(|a| dir.join(&a.path)).collect() };
    let (wheel_paths, sdist_paths) = (paths(&wheels), paths(&sdists));
    let mut problems = Vec::new();
    if !wheels.is_empty() {
        for (a, info) in wheels.iter().zip(content::read_dist_infos(sh, &python, &as_paths(&wheel_paths))?) {
            let file = a.path.rsplit('/').next().unwrap_or(&a.path);
            match info {
                Ok(info) => problems.extend(content::wheel_problems(file, &a.name, version, &info)),
                Err(e) => problems.push(format!("{file} cannot be read as a wheel: {e}")),
            }
        }
    }
    if !sdists.is_empty() {
        for (a, info) in sdists.iter().zip(content::read_pkg_infos(sh, &python, &as_paths(&sdist_paths))?) {
            let file = a.path.rsplit('/').next().unwrap_or(&a.path);
            match info {
                Ok(info) => problems.extend(content::sdist_problems(file, &a.name, version, &info)),
                Err(e) => problems.push(format!("{file} cannot be read as a source distribution: {e}")),
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(JobFailed(format!(
        "the Python distributions do not hold what their names and the release say:\n  {}\nfix: build them for this \
         version again (cargo xtask package --force), then upload and sign the commit\nnothing was published",
        problems.join("\n  ")
    ))
    .into())
}

/// Phase 3: what the release will do, and the semver verdicts, for the log.
fn print_plan(
    args: &flags::Release,
    t: &Targets,
    plan: &ReleasePlan,
    verdicts: &[(String, crate::semver::Verdict)],
    commit: &str,
    version: &str,
) {
    let mode = if args.execute { "release" } else { "dry run (pass --execute to publish)" };
    println!("release {version} of {}: {mode}", &commit[..12]);
    println!("  registry {} (index {}), package index {}", t.registry_api, t.registry_index, t.pypi_upload);
    let (crate_credential, wheel_credential) = t.credentials();
    println!("  credentials: crates with {crate_credential}; wheels with {wheel_credential}");
    for (i, a) in plan.actions.iter().enumerate() {
        match &a.skip {
            Some(why) => println!("  {:>2}. skip     {} ({why})", i + 1, a.what),
            None => println!("  {:>2}. publish  {}", i + 1, a.what),
        }
    }
    if !verdicts.is_empty() {
        println!("  semver (each crate's public API against its last release):");
        for (name, v) in verdicts {
            println!("      {name} {version}: {}", v.describe());
        }
    }
}

/// Phase 4: the crates, at the registry's pace ([`pace`]): a few at once as their dependencies appear in the
/// index, every publish held back as a 429 asks, each confirmed in the index (same sha256). Right before each
/// upload the index is read again: another run or a person may have published since the plan. A
/// trusted-publishing token is minted once, when the first crate needs it, and revoked when this function
/// returns, whether it succeeded or not.
fn publish_crates(
    sh: &Shell,
    t: &Targets,
    plan: &ReleasePlan,
    m: &Manifest,
    dir: &Utf8Path,
    cache: &Utf8Path,
    tmp: &Utf8Path,
) -> Result<()> {
    let graph = pace::Graph::new(&plan.deps)?;
    let crates: Vec<&Artifact> = (graph.names.iter())
        .map(|name| m.artifacts.iter().find(|a| a.kind == Kind::Crate && &a.name == name).expect("planned"))
        .collect();
    // Every token minted, revoked when this function returns (a later one replaces an older one in use).
    let mut minted: Vec<crate::oidc::CratesToken> = Vec::new();
    // The first check of what is missing; a credential only when something is.
    let missing = crates_in_index(sh, &t.registry_index, &crates, cache)?.contains(&Presence::Missing);
    let credential = if missing { Some(registry_credential(sh, t, &mut minted, tmp)?) } else { None };
    let credential = std::sync::Mutex::new(credential.unwrap_or_default());
    let mut schedule = pace::Schedule::new(graph);
    let (work_tx, work_rx) = std::sync::mpsc::channel::<usize>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let work_rx = std::sync::Mutex::new(work_rx);
    let outcome: Result<pace::Report, pace::Stop> = std::thread::scope(|scope| {
        for _ in 0..t.publish_jobs.max(1) {
            let (sh, done_tx, work_rx, crates, credential) =
                (sh.clone(), done_tx.clone(), &work_rx, &crates, &credential);
            scope.spawn(move || {
                while let Ok(i) = { work_rx.lock().expect("no sender panicked holding the queue").recv() } {
                    let a: &Artifact = crates[i];
                    let (token, trusted) = credential.lock().expect("no sender panicked holding it").clone();
                    let publish = || {
                        let file = dir.join(&a.path);
                        publish_crate(&sh, &t.registry_api, &token, trusted, &plan.metadata[&a.name], &file, tmp)
                    };
                    // A panic is this crate's failure, not a sender gone (whose crate would never be answered).
                    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(publish))
                        .unwrap_or_else(|_| Err(anyhow!("the publish panicked")));
                    let _ = done_tx.send((i, answer.with_context(|| format!("publishing {} {}", a.name, a.version))));
                }
            });
        }
        drop(done_tx);
        let mut live = LiveRegistry {
            sh,
            t,
            cache,
            tmp,
            crates: &crates,
            work: work_tx,
            done: done_rx,
            start: Instant::now(),
            credential: &credential,
            minted: &mut minted,
        };
        // `live` (the queue's sender) drops as this returns: the senders end before the scope joins them.
        pace::drive(&mut schedule, &mut live, t.publish_jobs.max(1), INDEX_WAIT)
    });
    crates_outcome(outcome, &crates, t)
}

/// What [`publish_crates`] says of its run: a line of how it went, or the failure (other bytes: exit 1 and the fix).
fn crates_outcome(outcome: Result<pace::Report, pace::Stop>, crates: &[&Artifact], t: &Targets) -> Result<()> {
    match outcome {
        Ok(r) => {
            println!(
                "crates: {} published, {} already in the index, {} already taken by an earlier run, in {:.1} s ({} \
                 answers of the registry's rate limit waited out)",
                r.published,
                r.present,
                r.existed,
                r.elapsed.as_secs_f64(),
                r.limited
            );
            Ok(())
        }
        Err(pace::Stop::Conflict(i, p)) => {
            let a = crates[i];
            let (what, place) = (format!("crate {} {}", a.name, a.version), format!("the index {}", t.registry_index));
            let why = p.conflict(&what, &place, &a.sha256).unwrap_or_default();
            Err(JobFailed(format!("{why}\n{OTHER_BYTES_FIX}")).into())
        }
        Err(pace::Stop::Failed(e)) => Err(e),
    }
}

/// The registry as [`pace::drive`] sees it: the index read in batches on this thread, publishes sent by the
/// worker threads of [`publish_crates`].
struct LiveRegistry<'a> {
    sh: &'a Shell,
    t: &'a Targets,
    cache: &'a Utf8Path,
    tmp: &'a Utf8Path,
    crates: &'a [&'a Artifact],
    work: std::sync::mpsc::Sender<usize>,
    done: std::sync::mpsc::Receiver<(usize, Result<Answer>)>,
    start: Instant,
    /// The token the senders use, and whether trusted publishing minted it.
    credential: &'a std::sync::Mutex<(String, bool)>,
    minted: &'a mut Vec<crate::oidc::CratesToken>,
}

/// How old a trusted-publishing token may be before the next publish mints another (the registry's tokens are
/// short-lived; a release at the registry's pace can take hours).
const TOKEN_REFRESH: Duration = Duration::from_secs(20 * 60);

impl pace::Registry for LiveRegistry<'_> {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn presences(&mut self, crates: &[usize]) -> Result<Vec<Presence>> {
        let of: Vec<&Artifact> = crates.iter().map(|&i| self.crates[i]).collect();
        crates_in_index(self.sh, &self.t.registry_index, &of, self.cache)
    }

    fn send(&mut self, i: usize) -> Result<()> {
        let old = self.minted.last().is_some_and(|m| m.minted.elapsed() > TOKEN_REFRESH);
        if old && let Some(github) = &self.t.oidc {
            let fresh = crate::oidc::crates_token(self.sh, self.tmp, github, &self.t.registry_api)?;
            *self.credential.lock().expect("no sender panicked holding it") = (fresh.token.expose().to_owned(), true);
            self.minted.push(fresh);
        }
        eprintln!("publishing {} {}", self.crates[i].name, self.crates[i].version);
        self.work.send(i).map_err(|_| anyhow!("no sender is left to publish {}", self.crates[i].name))
    }

    fn answer(&mut self, wait: Duration) -> Option<(usize, Result<Answer>)> {
        self.done.recv_timeout(wait).ok()
    }

    fn say(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// The token a crate publish sends, and whether it was minted by trusted publishing (once per release, into
/// `minted`, which revokes it when dropped).
fn registry_credential(
    sh: &Shell,
    t: &Targets,
    minted: &mut Vec<crate::oidc::CratesToken>,
    tmp: &Utf8Path,
) -> Result<(String, bool)> {
    match (&t.registry_token, &t.oidc) {
        (Some(token), _) => Ok((token.clone(), false)),
        (None, Some(github)) => {
            if minted.is_empty() {
                minted.push(crate::oidc::crates_token(sh, tmp, github, &t.registry_api)?);
            }
            Ok((minted.last().expect("minted above").token.expose().to_owned(), true))
        }
        (None, None) => bail!(
            "no credential for the crate registry\nfix: run in GitHub Actions with `id-token: write` and a trusted \
             publisher on the registry, or set CARGO_REGISTRY_TOKEN"
        ),
    }
}

/// How long a publish waits for the index to show it.
const INDEX_WAIT: Duration = Duration::from_secs(120);

/// Phase 5: the wheels the package index does not have yet, one twine run per file so that each answer is
/// judged on its own: right before each, the simple page is read again, and after a failed upload too (an
/// index answering "File already exists" holds that file: the same bytes are done, others stop the release).
fn publish_wheels(ctx: &Ctx, sh: &Shell, t: &Targets, m: &Manifest, dir: &Utf8Path, tmp: &Utf8Path) -> Result<()> {
    let place = format!("the package index {}", t.pypi_simple);
    let url = &t.pypi_upload;
    let mut twine_and_token: Option<(Utf8PathBuf, String)> = None;
    for a in m.artifacts.iter().filter(|a| matches!(a.kind, Kind::Wheel | Kind::Sdist)) {
        let what = python_item(a);
        let stop = |p: &Presence| -> anyhow::Error {
            let why = p.conflict(&what, &place, &a.sha256).unwrap_or_default();
            JobFailed(format!("{why}\n{OTHER_BYTES_FIX}")).into()
        };
        match wheel_on_index(sh, &t.pypi_simple, a, tmp)? {
            Presence::Same => continue,
            p @ Presence::Other(_) => return Err(stop(&p)),
            Presence::Missing => {}
        }
        if twine_and_token.is_none() {
            let token = pypi::upload_token(sh, tmp, url, t.pypi_token.as_deref(), t.oidc.as_ref(), &t.pypi_oidc)?;
            ctx.tools.ensure(sh, &["twine"])?;
            let twine = ctx.tools.probe(sh, config::tool::TWINE.tool())?.path.context("twine is not installed")?;
            twine_and_token = Some((twine, token));
        }
        let (twine, token) = twine_and_token.as_ref().expect("set above");
        eprintln!("uploading {what}");
        let Err(e) = pypi::upload(sh, twine, url, token, &dir.join(&a.path)) else {
            continue;
        };
        match wheel_on_index(sh, &t.pypi_simple, a, tmp)? {
            Presence::Same => eprintln!("{what}: the index already holds these bytes"),
            p @ Presence::Other(_) => return Err(stop(&p)),
            Presence::Missing => bail!(
                "twine upload of {what} to {url} failed ({e}; its output is above)\nfix: run again: published \
                 files are skipped"
            ),
        }
    }
    Ok(())
}

/// Phase 6: the web files, only to the keys that do not hold them yet (`latest/` uncached, versions immutable).
fn publish_web(sh: &Shell, t: &Targets, plan: &ReleasePlan, dir: &Utf8Path) -> Result<()> {
    for (path, sha256, key) in &plan.web_todo {
        let cache_control = if key.starts_with("latest/") { "no-cache" } else { crate::store::IMMUTABLE.cache_control };
        let meta = PutMeta { content_type: crate::store::content_type(key), cache_control };
        t.web.put(sh, key, &dir.join(path), sha256, &meta, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
