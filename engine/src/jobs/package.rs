//! `cargo xtask package`: builds every artifact of the current commit into `target/packages/<commit>/` with a
//! `manifest.json`, the contract for `upload` and `release`.
//!
//! Kinds are built into a staging directory first; only when every step passed are they moved into the
//! commit directory and the manifest rewritten (atomically, last). A kind whose recorded artifacts and tool
//! versions still match, on a clean tree, is reported as up to date and not rebuilt.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::cmd;

use crate::config;
use crate::config::tool;
use crate::flags;
use crate::interpreter::Interpreter;
use crate::manifest::{self, Artifact, Kind, Manifest};
use crate::plan::{Plan, Step};
use crate::wheel::{wheel_step, zig_wheel};
use crate::workspace::{self as repo, Package, host_triple, workspace_packages};
use crate::{Ctx, sha256, tools, wasm};

/// Facts about the commit being packaged.
#[derive(Clone, Debug)]
pub(crate) struct Commit {
    pub sha: String,
    pub dirty: bool,
    pub source_date_epoch: u64,
}

pub(crate) fn commit_facts(ctx: &Ctx) -> Result<Commit> {
    let sh = &ctx.sh;
    let sha = cmd!(sh, "git rev-parse HEAD").quiet().read().context("git rev-parse HEAD: packaging needs a commit")?;
    let status = cmd!(sh, "git status --porcelain --untracked-files=normal").quiet().read()?;
    let date = cmd!(sh, "git log -1 --format=%ct HEAD").quiet().read()?;
    Ok(Commit {
        sha: sha.trim().to_owned(),
        dirty: !status.trim().is_empty(),
        source_date_epoch: date.trim().parse().with_context(|| format!("commit time {date:?}"))?,
    })
}

/// Why the repository has nothing of `kind` to build, if it has not.
fn missing_kind(
    kind: Kind,
    settings: &crate::settings::Loaded,
    packages: &[Package],
    examples: &[String],
) -> Option<&'static str> {
    match kind {
        Kind::Crate if !packages.iter().any(|p| p.publishable) => Some("every crate has `publish = false`"),
        Kind::Wheel | Kind::Sdist if settings.python().is_empty() => Some("ci.toml lists no [[python]] package"),
        Kind::Wasm if settings.wasm().is_empty() => Some("ci.toml lists no [[wasm]] bundle"),
        Kind::Binary if settings.binaries().is_empty() => Some("ci.toml lists no [[binary]]"),
        Kind::Recording if settings.examples().is_none() => Some("ci.toml has no [examples] section"),
        Kind::Recording if settings.python().is_empty() => Some("the example scripts need a [[python]] package"),
        Kind::Recording if examples.is_empty() => Some("the examples directory holds no script"),
        _ => None,
    }
}

/// Refuses a workspace whose shipped versions disagree or whose publishable crates depend on something
/// that cannot be published with them.
pub(crate) fn check_workspace(
    settings: &crate::settings::Loaded,
    packages: &[Package],
    version: &str,
    pyprojects: &[(String, String)],
) -> Result<()> {
    let mut problems = Vec::new();
    for p in packages.iter().filter(|p| !settings.unversioned().contains(&p.name)) {
        if p.version != version {
            problems.push(format!(
                "{} has version {}, the workspace has {version}: use `version.workspace = true`",
                p.name, p.version
            ));
        }
    }
    for p in packages.iter().filter(|p| p.publishable) {
        for (dep, req, is_path, kind) in &p.deps {
            if kind == "dev" || !is_path {
                continue;
            }
            if req == "*" {
                problems.push(format!(
                    "{} depends on {dep} by path without a version: add `version = \"={version}\"` to the dependency",
                    p.name
                ));
            }
            match packages.iter().find(|q| &q.name == dep) {
                Some(q) if !q.publishable => problems.push(format!(
                    "publishable crate {} depends on {dep}, which is not publishable (publish = false)",
                    p.name
                )),
                _ => {}
            }
        }
    }
    for (path, text) in pyprojects {
        match pyproject_version(text) {
            PyVersion::Dynamic => {}
            PyVersion::Static(v) if v == version => {}
            PyVersion::Static(v) => problems
                .push(format!("{path} has version {v}, the workspace has {version}: use dynamic = [\"version\"]")),
            PyVersion::Missing => problems.push(format!("{path} declares no version: add dynamic = [\"version\"]")),
            PyVersion::Invalid(e) => problems.push(format!("{path} is not valid TOML: {e}")),
        }
    }
    if !problems.is_empty() {
        bail!("the workspace cannot be packaged:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
pub(crate) enum PyVersion {
    Dynamic,
    Static(String),
    Missing,
    Invalid(String),
}

/// The part of pyproject.toml the version check reads (PEP 621's `[project]`).
#[derive(serde::Deserialize)]
struct PyProject {
    project: Option<PyProjectTable>,
}

#[derive(serde::Deserialize)]
struct PyProjectTable {
    version: Option<String>,
    #[serde(default)]
    dynamic: Vec<String>,
}

fn pyproject_version(text: &str) -> PyVersion {
    match toml::from_str::<PyProject>(text) {
        Err(e) => PyVersion::Invalid(e.message().trim().to_owned()),
        Ok(PyProject { project: Some(p) }) if p.dynamic.iter().any(|d| d == "version") => PyVersion::Dynamic,
        Ok(PyProject { project: Some(PyProjectTable { version: Some(v), .. }) }) => PyVersion::Static(v),
        Ok(_) => PyVersion::Missing,
    }
}

fn check_target(ctx: &Ctx, target: &str) -> Result<()> {
    let sh = &ctx.sh;
    let list = cmd!(sh, "rustc --print target-list").quiet().read().context("rustc --print target-list")?;
    if !list.lines().any(|l| l == target) {
        bail!(
            "unknown target `{target}`: rustc does not know it\nfix: pass a triple from `rustc --print target-list`, e.g. x86_64-unknown-linux-gnu"
        );
    }
    Ok(())
}

/// The tool versions each kind records, to tell whether a rebuild is needed.
fn tool_versions(ctx: &Ctx, kind: Kind, wasm_toolchain: Option<&wasm::Toolchain>) -> Result<Vec<(String, String)>> {
    let names: &[tool::Name] = match kind {
        Kind::Crate => &[tool::CARGO],
        Kind::Wheel => &[tool::CARGO, tool::MATURIN, tool::TWINE, tool::ZIGLANG, tool::AUDITWHEEL],
        Kind::Sdist => &[tool::CARGO, tool::MATURIN],
        Kind::Wasm => &[tool::CARGO, tool::WASM_BINDGEN, tool::WASM_OPT],
        Kind::Recording => &[tool::PYTHON3],
        Kind::Binary => &[tool::CARGO, tool::CARGO_ZIGBUILD, tool::ZIGLANG, tool::PYTHON3],
    };
    let mut out = Vec::new();
    for n in names {
        let p = ctx.tools.probe(&ctx.sh, n.tool())?;
        out.push((n.as_str().to_owned(), p.found.unwrap_or_else(|| "missing".into())));
    }
    if let Some(t) = wasm_toolchain.filter(|_| kind == Kind::Wasm) {
        out.push(("wasm-toolchain".into(), t.describe()));
    }
    // In the manifest's order (a JSON object's keys, sorted), so an unchanged set compares equal.
    out.sort();
    Ok(out)
}

pub(crate) fn run(ctx: &Ctx, args: &flags::Package) -> Result<()> {
    if args.check_reproducible {
        return check_reproducible(ctx, args);
    }
    crate::bootstrap::ensure(ctx)?;
    let f = Facts::gather(ctx, args)?;
    // One package run of a commit's directory at a time: a second waits, then finds what the first built up to
    // date (its staging directory and manifest are never pulled from under the first).
    let _lock = if ctx.global.dry_run || ctx.global.json {
        None
    } else {
        let lock = f.out_root.join(format!(".lock-{}", f.commit.sha));
        Some(crate::lock::exclusive(&lock, "another `cargo xtask package` of this commit")?)
    };
    let existing = if f.manifest_path.exists() {
        let path = &f.manifest_path;
        Some(Manifest::read(path).map_err(|e| anyhow::anyhow!("{e:#}\nfix: delete {path} or run with --force"))?)
    } else {
        None
    };
    let toolchain = if f.kinds.contains(&Kind::Wasm) { Some(wasm::for_job(&ctx.sh, &ctx.global)?) } else { None };
    let (stale, statuses) = stale_kinds(ctx, &f, existing.as_ref(), toolchain.as_ref(), args.force)?;
    if stale.is_empty() {
        if ctx.global.dry_run || ctx.global.json {
            let mut nothing = Plan::new("package");
            statuses.into_iter().chain(f.left_out).for_each(|s| nothing.note(s));
            return ctx.execute(&nothing);
        }
        return Ok(());
    }
    build(ctx, &f, stale, existing.as_ref(), toolchain)
}

/// What a package run reads before it decides anything: the commit, the workspace, the kinds and targets asked
/// for, and where the output goes.
struct Facts {
    commit: Commit,
    version: String,
    packages: Vec<Package>,
    examples: Vec<String>,
    /// The kinds asked for that this repository has.
    kinds: Vec<Kind>,
    /// Notes on the kinds asked for that it has not.
    left_out: Vec<String>,
    host: String,
    wheel_targets: Vec<String>,
    out_root: Utf8PathBuf,
    commit_dir: Utf8PathBuf,
    manifest_path: Utf8PathBuf,
}

impl Facts {
    fn gather(ctx: &Ctx, args: &flags::Package) -> Result<Facts> {
        let named = args.kinds();
        let asked = if named.is_empty() { Kind::ALL.to_vec() } else { named };
        let commit = commit_facts(ctx)?;
        let version = repo::workspace_version(&ctx.root)?;
        let packages = workspace_packages(ctx)?;
        let examples = repo::example_scripts(&ctx.root, ctx.settings)?;
        let (kinds, left_out) = kinds_to_build(asked, ctx.settings, &packages, &examples)?;
        let pyprojects = ctx
            .settings
            .python()
            .iter()
            .map(|p| {
                let path = ctx.root.join(&p.dir).join("pyproject.toml");
                std::fs::read_to_string(&path).map(|t| (path.to_string(), t)).with_context(|| format!("reading {path}"))
            })
            .collect::<Result<Vec<_>>>()?;
        check_workspace(ctx.settings, &packages, &version, &pyprojects)?;
        let host = host_triple(ctx)?;
        let wheel_targets = wheel_targets(ctx.settings, &args.target_list(), &host);
        for t in &wheel_targets {
            check_target(ctx, t)?;
        }
        let out_root = args.out.clone().unwrap_or_else(|| ctx.root.join(crate::config::PACKAGES_DIR));
        let out_root = if out_root.is_absolute() { out_root } else { ctx.root.join(out_root) };
        let commit_dir = out_root.join(&commit.sha);
        let manifest_path = commit_dir.join(manifest::FILE);
        Ok(Facts {
            commit,
            version,
            packages,
            examples,
            kinds,
            left_out,
            host,
            wheel_targets,
            out_root,
            commit_dir,
            manifest_path,
        })
    }
}

/// The kinds that need building (and why), and a status line for each kind (printed to stderr as it is found:
/// with --json, stdout is the plan alone).
fn stale_kinds(
    ctx: &Ctx,
    f: &Facts,
    existing: Option<&Manifest>,
    toolchain: Option<&wasm::Toolchain>,
    force: bool,
) -> Result<(Vec<Kind>, Vec<String>)> {
    let mut stale = Vec::new();
    let mut statuses = Vec::new();
    for &kind in &f.kinds {
        let why = match (existing, force, f.commit.dirty) {
            (_, true, _) => Some("--force".to_owned()),
            (_, _, true) => Some("the tree is dirty".to_owned()),
            (None, ..) => Some("no manifest yet".to_owned()),
            (Some(m), ..) => up_to_date(ctx, m, &f.commit_dir, kind, &f.wheel_targets, toolchain)?.err(),
        };
        let status = match why {
            None => format!("{:<10} up to date ({})", kind.as_str(), f.commit_dir),
            Some(why) => {
                stale.push(kind);
                format!("{:<10} building: {why}", kind.as_str())
            }
        };
        eprintln!("{status}");
        statuses.push(status);
    }
    Ok((stale, statuses))
}

/// Where the recordings find this machine's wheel: built now, else already in the commit's directory.
fn host_wheels(
    f: &Facts,
    stale: &[Kind],
    staging: &Utf8Path,
    existing: Option<&Manifest>,
) -> Result<Option<Utf8PathBuf>> {
    let host = &f.host;
    let built_before = existing
        .is_some_and(|m| m.artifacts.iter().any(|a| a.kind == Kind::Wheel && a.platform.as_deref() == Some(host)));
    let found = if stale.contains(&Kind::Wheel) && f.wheel_targets.contains(host) {
        Some(staging.join("wheels"))
    } else if built_before {
        Some(f.commit_dir.join("wheels"))
    } else {
        None
    };
    if stale.contains(&Kind::Recording) && found.is_none() {
        bail!(
            "recordings need a wheel for this machine ({host})\nfix: add --wheels (without --target, or with --target {host})"
        );
    }
    Ok(found)
}

/// Builds the stale kinds into a staging directory, checks the wheels and records the manifest.
fn build(
    ctx: &Ctx,
    f: &Facts,
    stale: Vec<Kind>,
    existing: Option<&Manifest>,
    toolchain: Option<wasm::Toolchain>,
) -> Result<()> {
    let staging = f.out_root.join(".staging").join(&f.commit.sha);
    if stale.contains(&Kind::Wheel) && !(ctx.global.dry_run || ctx.global.json) {
        for t in f.wheel_targets.iter().filter(|t| **t != f.host) {
            crate::targets::ensure(&ctx.sh, t, ctx.global.offline)?;
        }
    }
    let inputs = Inputs {
        settings: ctx.settings,
        root: ctx.root.clone(),
        staging: staging.clone(),
        commit: f.commit.clone(),
        version: f.version.clone(),
        wheel_targets: f.wheel_targets.clone(),
        host: f.host.clone(),
        host_wheels: host_wheels(f, &stale, &staging, existing)?,
        kinds: stale.clone(),
        publishable: f.packages.iter().filter(|p| p.publishable).map(|p| p.name.clone()).collect(),
        toolchain: toolchain.clone(),
        examples: f.examples.clone(),
        cargo_home: std::env::var("CARGO_HOME")
            .ok()
            .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.cargo"))),
        native_pythons: if stale.contains(&Kind::Wheel) {
            native_pythons(ctx, &f.wheel_targets, &f.host)
        } else {
            Vec::new()
        },
    };
    if !(ctx.global.dry_run || ctx.global.json) {
        require_native_pythons(&inputs.native_pythons)?;
    }
    let mut build = plan(&inputs);
    f.left_out.iter().for_each(|n| build.note(n.clone()));
    if ctx.global.dry_run || ctx.global.json {
        return ctx.execute(&build);
    }
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {staging}"))?;
    ctx.execute(&build)?;
    check_wheels(ctx, &staging, &f.wheel_targets, &f.version)?;
    let places = Places::new(&ctx.root, &f.out_root, inputs.cargo_home.as_deref());
    let built = Built { staging: &staging, commit_dir: &f.commit_dir, kinds: &stale, wheel_targets: &f.wheel_targets };
    let version = f.version.clone();
    let m = record(ctx, &build, &places, &built, &f.commit, version, toolchain.as_ref(), existing)?;
    m.write_atomic(&f.manifest_path)?;
    let _ = std::fs::remove_dir_all(&staging);
    print_table(&m, &f.commit_dir);
    if m.dirty {
        eprintln!("note: the tree is dirty, so the manifest is marked dirty: upload and release refuse it unless told");
    }
    Ok(())
}

/// The kinds asked for that this repository has (ci.toml and Cargo.toml say which); the others are named and
/// left out.
fn kinds_to_build(
    asked: Vec<Kind>,
    settings: &crate::settings::Loaded,
    packages: &[Package],
    examples: &[String],
) -> Result<(Vec<Kind>, Vec<String>)> {
    let mut left_out = Vec::new();
    let mut kinds = Vec::new();
    for kind in asked {
        match missing_kind(kind, settings, packages, examples) {
            None => kinds.push(kind),
            Some(why) => left_out.push(format!("no {} to build: {why}", kind.as_str())),
        }
    }
    if kinds.is_empty() {
        bail!(
            "this repository has none of the artifact kinds asked for\nfix: publish a crate (no `publish = false`), \
             or list [[python]], [[wasm]], [[binary]] or [examples] in ci.toml"
        );
    }
    Ok((kinds, left_out))
}

/// The checks of what was built whose file names are known only now: the wheels are exactly the matrix ci.toml
/// asks for on these targets (each expected wheel once, nothing else), each wheel's WHEEL tags and METADATA
/// agree with its file name, twine's metadata check of every wheel and sdist, and auditwheel's agreement with
/// the platform tag every manylinux wheel claims (no symbol newer than the baseline, no external shared
/// library).
fn check_wheels(ctx: &Ctx, staging: &Utf8Path, targets: &[String], version: &str) -> Result<()> {
    let wheels = list(&staging.join("wheels"), ".whl")?;
    let sdists = list(&staging.join(Kind::Sdist.dir()), ".tar.gz")?;
    if !wheels.is_empty() {
        check_matrix(ctx, &wheels, targets, version)?;
    }
    if !wheels.is_empty() || !sdists.is_empty() {
        let mut check = Plan::new("package: check wheels");
        check.push(
            Step::run("twine check", "twine", &["check", "--strict"])
                .args(wheels.iter().chain(&sdists).map(|w| w.to_string()))
                .tools(&[tool::TWINE])
                .hint("the metadata would be rejected by PyPI"),
        );
        ctx.execute(&check)?;
    }
    // Every manylinux wheel: auditwheel must agree with the tag it claims. (auditwheel cannot read a musllinux
    // wheel on a glibc machine: it resolves musl's `libc.so` to glibc's linker script. maturin's own audit checks
    // those against `--compatibility musllinux_1_2` as it builds them.)
    let linux: Vec<&Utf8PathBuf> = wheels.iter().filter(|w| w.as_str().contains("manylinux")).collect();
    if !linux.is_empty() {
        audit_manylinux(ctx, &linux)?;
    }
    Ok(())
}

/// The wheels built against the matrix (packages × `targets` × interpreters) and their own metadata.
fn check_matrix(ctx: &Ctx, wheels: &[Utf8PathBuf], targets: &[String], version: &str) -> Result<()> {
    use crate::wheel::content;
    let expected = crate::wheel::matrix::expected(ctx.settings.python(), targets);
    let files: Vec<&str> = wheels.iter().map(|w| w.file_name().unwrap_or_default()).collect();
    let (missing, unexpected) = crate::wheel::matrix::compare(&expected, &files);
    let mut problems: Vec<String> = missing.iter().map(|m| format!("{m} was not built")).collect();
    problems.extend(
        unexpected
            .iter()
            .map(|f| format!("{} is no wheel ci.toml asks for on {}", crate::plan::printable(f), targets.join(", "))),
    );
    ctx.tools.ensure(&ctx.sh, &["twine"])?;
    let twine = ctx.tools.probe(&ctx.sh, tool::TWINE.tool())?.path.context("twine is not installed")?;
    let venv = twine.parent().and_then(Utf8Path::parent).context("twine is not in a virtualenv")?;
    let paths: Vec<&Utf8Path> = wheels.iter().map(Utf8PathBuf::as_path).collect();
    for (file, info) in files.iter().zip(content::read_dist_infos(&ctx.sh, &tools::venv_python(venv), &paths)?) {
        let project = content::parse_wheel_name(file).map(|n| n.name).unwrap_or_default();
        match info {
            Ok(info) => problems.extend(content::wheel_problems(file, project, version, &info)),
            Err(e) => problems.push(format!(
                "{} cannot be read as a wheel: {}",
                crate::plan::printable(file),
                crate::plan::printable(&e)
            )),
        }
    }
    if problems.is_empty() {
        eprintln!("wheels: {} built, each one ci.toml asks for, tags and metadata agreeing", files.len());
        return Ok(());
    }
    Err(crate::plan::JobFailed(format!(
        "the wheels built are not the ones ci.toml asks for:\n  {}\nfix: check [[python]] interpreters and the \
         platform's wheels in ci.toml against the package's pyproject.toml (abi3 or not) and maturin's output above",
        problems.join("\n  ")
    ))
    .into())
}

/// auditwheel's verdict on each manylinux wheel against the tag its file name claims.
fn audit_manylinux(ctx: &Ctx, linux: &[&Utf8PathBuf]) -> Result<()> {
    ctx.tools.ensure(&ctx.sh, &["auditwheel"])?;
    let auditwheel =
        ctx.tools.probe(&ctx.sh, config::tool::AUDITWHEEL.tool())?.path.context("auditwheel is not installed")?;
    for w in linux {
        let sh = &ctx.sh;
        let out = cmd!(sh, "{auditwheel} show {w}").quiet().ignore_status().output()?;
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if let Err(why) = audit_verdict(w.file_name().unwrap_or_default(), &said) {
            return Err(crate::plan::JobFailed(format!(
                "auditwheel does not confirm {}: {why}\nauditwheel said:\n{}",
                w.file_name().unwrap_or_default(),
                said.trim()
            ))
            .into());
        }
        eprintln!("auditwheel: {} is {}", w.file_name().unwrap_or_default(), audit_tag(&said).unwrap_or_default());
    }
    Ok(())
}

/// What a build produced, and where.
struct Built<'a> {
    staging: &'a Utf8Path,
    commit_dir: &'a Utf8Path,
    kinds: &'a [Kind],
    wheel_targets: &'a [String],
}

/// Describes what was built (the commands written relative to the repository, the output directory and the
/// cargo home, so that two builds in two directories write the same manifest), moves it into the commit
/// directory beside what was up to date, and returns the manifest to write last.
#[allow(clippy::too_many_arguments)]
fn record(
    ctx: &Ctx,
    build: &Plan,
    places: &Places,
    b: &Built<'_>,
    commit: &Commit,
    version: String,
    toolchain: Option<&wasm::Toolchain>,
    existing: Option<&Manifest>,
) -> Result<Manifest> {
    let mut built = Vec::new();
    for &kind in b.kinds {
        let tools = tool_versions(ctx, kind, toolchain)?;
        let command = build
            .steps
            .iter()
            .filter(|s| s.name.starts_with(&format!("{}:", kind.as_str())))
            .map(|s| portable(&s.command_line(), places))
            .collect::<Vec<_>>()
            .join(" && ");
        built.extend(describe(b.staging, kind, &version, b.wheel_targets, ctx.settings, &command, &tools)?);
    }
    // Move into the commit directory, then write the manifest last.
    std::fs::create_dir_all(b.commit_dir).with_context(|| format!("creating {}", b.commit_dir))?;
    let mut kept: Vec<Artifact> = existing.map(|m| m.artifacts.clone()).unwrap_or_default();
    for &kind in b.kinds {
        let replaced = |a: &Artifact| {
            a.kind == kind && (kind != Kind::Wheel || a.platform.as_ref().is_some_and(|p| b.wheel_targets.contains(p)))
        };
        for a in kept.iter().filter(|a| replaced(a)) {
            let _ = std::fs::remove_file(b.commit_dir.join(&a.path));
        }
        kept.retain(|a| !replaced(a));
        let from = b.staging.join(kind.dir());
        let to = b.commit_dir.join(kind.dir());
        if kind != Kind::Wheel {
            let _ = std::fs::remove_dir_all(&to);
        }
        move_tree(&from, &to)?;
    }
    let dirty = commit.dirty || (existing.is_some_and(|m| m.dirty) && !kept.is_empty());
    kept.extend(built);
    kept.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    let m = Manifest {
        commit: commit.sha.clone(),
        dirty,
        source_date_epoch: commit.source_date_epoch,
        xtask_version: env!("CARGO_PKG_VERSION").to_owned(),
        version,
        artifacts: kept,
    };
    let bad = m.mismatches(b.commit_dir, &m.artifacts);
    if !bad.is_empty() {
        bail!("the commit directory does not match the new manifest:\n  {}", bad.join("\n  "));
    }
    Ok(m)
}

/// Packages HEAD in two fresh clones in two different directories and compares every artifact's sha256.
fn check_reproducible(ctx: &Ctx, args: &flags::Package) -> Result<()> {
    if ctx.global.dry_run || ctx.global.json {
        let plan = serde_json::json!({
            "job": "package --check-reproducible",
            "steps": [
                "clone HEAD twice, into target/reproducible/first and target/reproducible/second-build",
                "package each clone into its own output directory",
                "compare every artifact's sha256 and the two manifest.json files byte for byte",
            ],
        });
        return crate::plan::print_static(&plan, ctx.global.json);
    }
    let commit = commit_facts(ctx)?;
    if commit.dirty {
        eprintln!("note: the tree is dirty; the check builds the committed HEAD {}", &commit.sha[..12]);
    }
    let base = ctx.root.join(crate::config::REPRODUCIBLE_DIR);
    let first = package_a_clone(ctx, args, &base.join("first"), &commit.sha)?;
    let second = package_a_clone(ctx, args, &base.join("second-build"), &commit.sha)?;
    let differ = compare_builds(&first, &second);
    if differ.is_empty() {
        println!(
            "\nall {} artifacts and the manifest are bit-for-bit identical across the two builds",
            first.0.artifacts.len()
        );
        return Ok(());
    }
    let mut message = format!("not reproducible: {}", differ.join(", "));
    for (cause, fix) in explain_wheels(ctx, &first.0, &differ, &base, &commit.sha) {
        message.push_str(&format!("\n{cause}\nfix: {fix}"));
    }
    Err(crate::plan::JobFailed(message).into())
}

/// Clones the repository into `dir/repo`, packages the commit into `dir/out` with this xtask, and returns the
/// manifest and its bytes.
fn package_a_clone(ctx: &Ctx, args: &flags::Package, dir: &Utf8Path, sha: &str) -> Result<(Manifest, Vec<u8>)> {
    let sh = &ctx.sh;
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let tools_dir = ctx.tools.dir();
    let clone = dir.join("repo");
    let _ = std::fs::remove_dir_all(&clone);
    let root = &ctx.root;
    cmd!(sh, "git clone --quiet --no-hardlinks {root} {clone}")
        .run()
        .with_context(|| format!("cloning into {clone}"))?;
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let kinds: Vec<String> = match args.kinds() {
        named if named.is_empty() => vec!["--all".into()],
        named => named.iter().map(|k| k.flag()).collect(),
    };
    let offline = ctx.global.offline.then_some("--offline");
    eprintln!("==> packaging a clone of {} in {clone}", &sha[..12]);
    // Each build compiles everything itself: a build cache (the engine's, or the user's own wrapper) would hand
    // the second build the first one's outputs, and the check would compare a build with itself.
    cmd!(sh, "{exe} package {kinds...} {offline...} --out {out}")
        .env("XTASK_ROOT", &clone)
        .env("XTASK_TOOLS_DIR", &tools_dir)
        .env("XTASK_CACHE", "off")
        .env("RUSTC_WRAPPER", "")
        .run()
        .with_context(|| format!("packaging the clone in {clone}"))?;
    let path = out.join(sha).join(manifest::FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
    Ok((Manifest::read(&path)?, bytes))
}

/// Prints a table of the two builds' artifacts and manifests, and returns what differs.
fn compare_builds((a, a_bytes): &(Manifest, Vec<u8>), (b, b_bytes): &(Manifest, Vec<u8>)) -> Vec<String> {
    let mut differ = Vec::new();
    println!("\n{:<10} {:<64} reproducible", "kind", "artifact");
    for x in &a.artifacts {
        let same = b.artifacts.iter().find(|y| y.path == x.path).is_some_and(|y| y.sha256 == x.sha256);
        println!("{:<10} {:<64} {}", x.kind.as_str(), x.path, if same { "yes" } else { "NO" });
        if !same {
            differ.push(x.path.clone());
        }
    }
    for y in b.artifacts.iter().filter(|y| !a.artifacts.iter().any(|x| x.path == y.path)) {
        println!("{:<10} {:<64} NO (only in the second build)", y.kind.as_str(), y.path);
        differ.push(y.path.clone());
    }
    // The manifest itself must be reproducible too: no absolute path of either clone in it.
    let manifest_same = a_bytes == b_bytes;
    println!("{:<10} {:<64} {}", "manifest", manifest::FILE, if manifest_same { "yes" } else { "NO" });
    if !manifest_same {
        let (ta, tb) = (String::from_utf8_lossy(a_bytes), String::from_utf8_lossy(b_bytes));
        for (x, y) in ta.lines().zip(tb.lines()).filter(|(x, y)| x != y).take(5) {
            println!("  first:  {}\n  second: {}", x.trim(), y.trim());
        }
        differ.push(manifest::FILE.to_owned());
    }
    differ
}

/// Opens each wheel whose two builds differ (under `base`, for commit `sha`) and prints the members that differ
/// and the probable cause; returns each distinct `(cause, fix)`.
fn explain_wheels(ctx: &Ctx, m: &Manifest, differ: &[String], base: &Utf8Path, sha: &str) -> Vec<(String, String)> {
    let mut causes = Vec::new();
    let builds = ["first", "second-build"];
    let roots = builds.map(|n| base.join(n).join("repo"));
    let python = tools::venv_python(&ctx.tools.dir().join("venv"));
    for x in m.artifacts.iter().filter(|x| x.kind == Kind::Wheel && differ.contains(&x.path)) {
        let [first, second] = builds.map(|n| base.join(n).join("out").join(sha).join(&x.path));
        if !second.is_file() {
            continue;
        }
        let members = match crate::wheel_diff::read(&ctx.sh, &python, [&first, &second]) {
            Ok(m) => m,
            Err(e) => {
                println!("\n{}: its members could not be compared ({e:#})", x.path);
                continue;
            }
        };
        let d = crate::wheel_diff::diagnose(
            &crate::wheel_diff::differences(&members[0], &members[1]),
            [roots[0].as_str(), roots[1].as_str()],
            &pyproject_of(ctx.settings, &x.path),
        );
        println!("\n{} (the two builds: {first} and {second}):", x.path);
        for l in &d.lines {
            println!("  {l}");
        }
        println!("probable cause: {}\nfix: {}", d.cause, d.fix);
        if !causes.contains(&(d.cause.clone(), d.fix.clone())) {
            causes.push((d.cause, d.fix));
        }
    }
    causes
}

/// The `pyproject.toml` of the Python package a wheel (`wheels/<dist>-<version>-...whl`) is built from.
fn pyproject_of(settings: &crate::settings::Loaded, wheel: &str) -> String {
    let file = wheel.rsplit('/').next().unwrap_or(wheel);
    let dist = crate::artifacts::normalize(file.split('-').next().unwrap_or_default());
    match settings.python().iter().find(|p| crate::artifacts::normalize(&p.dist) == dist) {
        Some(p) => format!("{}/pyproject.toml", p.dir),
        None => "the package's pyproject.toml".to_owned(),
    }
}

/// `Ok(())` when `kind` is up to date in `m`, else why not.
fn up_to_date(
    ctx: &Ctx,
    m: &Manifest,
    dir: &Utf8Path,
    kind: Kind,
    wheel_targets: &[String],
    toolchain: Option<&wasm::Toolchain>,
) -> Result<Result<(), String>> {
    if m.dirty {
        return Ok(Err("the manifest was made from a dirty tree".into()));
    }
    if m.xtask_version != env!("CARGO_PKG_VERSION") {
        return Ok(Err(format!("made by xtask {}", m.xtask_version)));
    }
    let mine: Vec<&Artifact> = m
        .artifacts
        .iter()
        .filter(|a| {
            a.kind == kind && (kind != Kind::Wheel || a.platform.as_ref().is_some_and(|p| wheel_targets.contains(p)))
        })
        .collect();
    if mine.is_empty() {
        return Ok(Err("not built yet".into()));
    }
    if kind == Kind::Wheel
        && let Some(t) = wheel_targets.iter().find(|t| !mine.iter().any(|a| a.platform.as_ref() == Some(*t)))
    {
        return Ok(Err(format!("no wheel for {t} yet")));
    }
    let now = tool_versions(ctx, kind, toolchain)?;
    if let Some(a) = mine.iter().find(|a| a.tools != now) {
        return Ok(Err(format!("tool versions changed: {:?} -> {:?}", a.tools, now)));
    }
    let bad = m.mismatches(dir, mine.iter().copied());
    if let Some(first) = bad.first() {
        return Ok(Err(format!("{} changed on disk ({first})", bad.len())));
    }
    Ok(Ok(()))
}

/// The machine-specific directories a recorded command may name, each with the placeholder written instead.
pub(crate) struct Places(Vec<(String, &'static str)>);

impl Places {
    pub(crate) fn new(root: &Utf8Path, out_root: &Utf8Path, cargo_home: Option<&str>) -> Places {
        let mut v = vec![(root.as_str().to_owned(), "$REPO"), (out_root.as_str().to_owned(), "$OUT")];
        if let Some(home) = cargo_home.filter(|h| !h.is_empty()) {
            v.push((home.trim_end_matches('/').to_owned(), "$CARGO_HOME"));
        }
        // The longest first: the output directory is usually inside the repository.
        v.retain(|(p, _)| !p.is_empty() && p != "/");
        v.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Places(v)
    }
}

/// `command` with every absolute directory of this machine replaced by its placeholder (only where the
/// directory is a whole path component: `/repo` does not match inside `/repository`).
pub(crate) fn portable(command: &str, places: &Places) -> String {
    let mut out = command.to_owned();
    for (dir, name) in &places.0 {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(dir.as_str()) {
            let after = &rest[i + dir.len()..];
            let whole = after.is_empty() || after.starts_with(['/', '=', '\'', ' ', '\x1f', '"']);
            result.push_str(&rest[..i]);
            result.push_str(if whole { name } else { dir });
            rest = after;
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// What the build plan depends on.
pub(crate) struct Inputs<'a> {
    /// The repository's settings (ci.toml).
    pub settings: &'a crate::settings::Loaded,
    pub root: Utf8PathBuf,
    pub staging: Utf8PathBuf,
    pub commit: Commit,
    pub version: String,
    /// The targets wheels are built for (Linux ones cross-built with zig at the manylinux baseline).
    pub wheel_targets: Vec<String>,
    pub host: String,
    pub kinds: Vec<Kind>,
    pub publishable: Vec<String>,
    pub toolchain: Option<wasm::Toolchain>,
    pub host_wheels: Option<Utf8PathBuf>,
    pub examples: Vec<String>,
    pub cargo_home: Option<String>,
    /// The interpreters the native (not zig) wheel builds need, each found on this machine or why not.
    pub native_pythons: Vec<(Interpreter, Result<Utf8PathBuf, String>)>,
}

/// The interpreters the wheel builds for `targets` need on this machine (native builds of non-abi3 packages),
/// each probed: its path, or why it is not here.
fn native_pythons(ctx: &Ctx, targets: &[String], host: &str) -> Vec<(Interpreter, Result<Utf8PathBuf, String>)> {
    let mut needed: Vec<Interpreter> = ctx
        .settings
        .python()
        .iter()
        .flat_map(|p| targets.iter().flat_map(|t| crate::wheel::matrix::native_interpreters(p, t, host)))
        .collect();
    needed.sort();
    needed.dedup();
    needed.into_iter().map(|i| (i, crate::wheel::find_interpreter(&ctx.sh, i))).collect()
}

/// Stops before building when a native wheel build needs an interpreter this machine lacks, naming each.
fn require_native_pythons(found: &[(Interpreter, Result<Utf8PathBuf, String>)]) -> Result<()> {
    let missing: Vec<String> =
        found.iter().filter_map(|(i, found)| found.as_ref().err().map(|why| format!("{i}: {why}"))).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(crate::plan::JobFailed(format!(
        "the native wheel builds need interpreters this machine lacks:\n  {}\nfix: install them (CI: the generated \
         package job's setup-python step does), or build the Linux wheels only (--targets with Linux targets, \
         cross-built with zig)",
        missing.join("\n  ")
    ))
    .into())
}

/// The wheel build steps: per package, per target, one maturin build (of every interpreter, or the abi3 wheel),
/// and notes on what each build needs.
fn wheel_steps(i: &Inputs<'_>, plan: &mut Plan) -> Vec<Step> {
    let mut steps = Vec::new();
    for pkg in i.settings.python() {
        for target in &i.wheel_targets {
            let name = format!("wheels: maturin build {} ({target})", pkg.dist);
            let out = format!("{}/wheels", i.staging);
            let native = crate::wheel::matrix::native_interpreters(pkg, target, &i.host);
            let interpreters: Vec<String> = if native.is_empty() {
                pkg.interpreters().iter().map(|i| i.executable()).collect()
            } else {
                let found = |n: &Interpreter| i.native_pythons.iter().find(|(f, _)| f == n).map(|(_, r)| r);
                let names: Vec<String> = native.iter().map(|n| n.to_string()).collect();
                plan.note(format!(
                    "{} for {target}: built natively, for {}: each must be installed here (the generated \
                     workflow's setup-python step installs them on the runner)",
                    pkg.dist,
                    names.join(", ")
                ));
                native
                    .iter()
                    .map(|n| match found(n) {
                        Some(Ok(path)) => path.to_string(),
                        _ => n.executable(),
                    })
                    .collect()
            };
            if !pkg.interpreters().is_empty() && native.is_empty() {
                plan.note(format!(
                    "{} for {target}: cross-built with zig for {} interpreters from maturin's sysconfig data (none \
                     needs to be installed)",
                    pkg.dist,
                    pkg.interpreters().len()
                ));
            }
            steps.push(wheel_step(&name, pkg, target, &i.host, &out, BUILD_DIR, true, &interpreters));
        }
    }
    steps
}

/// The wheel targets of a build: `--target` alone, else the wheels of the platform whose runner target is the
/// host (ci.toml's `[[platform]] wheels`: on Linux, every Linux wheel, cross-built with zig), else the host.
pub(crate) fn wheel_targets(settings: &crate::settings::Loaded, flag: &[String], host: &str) -> Vec<String> {
    if !flag.is_empty() {
        let mut v = flag.to_vec();
        v.dedup();
        return v;
    }
    let platforms = &settings.settings.platform;
    match platforms.iter().find(|p| p.target == host && !p.wheels.is_empty()) {
        Some(p) => p.wheels.clone(),
        None => vec![host.to_owned()],
    }
}

/// Packs one program into `<out>`, reproducibly: one directory `<bin>-<version>-<target>/` holding the
/// program, owner 0, every mtime the commit's, gzip without a name or a time.
const PACK_TAR_GZ: &str = "import gzip, io, os, sys, tarfile
src, out, top, epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def entry(path, kind, size=0):
    info = tarfile.TarInfo(path)
    info.type, info.size, info.mode, info.mtime = kind, size, 0o755, epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ''
    return info
data = open(src, 'rb').read()
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, 'wb') as f, gzip.GzipFile(filename='', mode='wb', fileobj=f, mtime=epoch) as gz:
    with tarfile.open(fileobj=gz, mode='w', format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(entry(top, tarfile.DIRTYPE))
        tar.addfile(entry(top + '/' + os.path.basename(src), tarfile.REGTYPE, len(data)), io.BytesIO(data))
";

/// Builds `package`'s program `bin` for `target` and packs it as `binaries/<bin>-<version>-<target>.tar.gz`:
/// on Linux with cargo-zigbuild against glibc [`config::BINARY_GLIBC`], elsewhere with cargo natively.
pub(crate) fn binary_steps(
    package: &str,
    bin: &str,
    target: &str,
    host: &str,
    version: &str,
    staging: &str,
    epoch: u64,
) -> Vec<Step> {
    let dir = format!("{BUILD_DIR}/bin");
    let build = if zig_wheel(target, host) {
        Step::run(
            &format!("binaries: cargo zigbuild {package} ({target})"),
            "cargo-zigbuild",
            &["zigbuild", "--release", "--locked"],
        )
        .args(["--package", package, "--target", &format!("{target}.{}", config::BINARY_GLIBC), "--target-dir", &dir])
        .tools(&[tool::CARGO, tool::CARGO_ZIGBUILD, tool::ZIGLANG])
    } else {
        Step::run(&format!("binaries: cargo build {package} ({target})"), "cargo", &["build", "--release", "--locked"])
            .args(["--package", package, "--target", target, "--target-dir", &dir])
            .tools(&[tool::CARGO])
    };
    let exe = crate::tools::Platform { windows: target.contains("windows") }.exe(bin);
    let top = format!("{bin}-{version}-{target}");
    let pack = Step::run(&format!("binaries: pack {bin} ({target})"), "python3", &["-c", PACK_TAR_GZ])
        .arg(format!("{dir}/{target}/release/{exe}"))
        .arg(format!("{staging}/binaries/{top}.tar.gz"))
        .arg(top)
        .arg(epoch.to_string())
        .tools(&[tool::PYTHON3]);
    let mut steps = vec![build];
    if target == host {
        // The program runs here: a smoke test of what goes into the archive.
        steps.push(
            Step::run(
                &format!("binaries: run {bin} --help ({target})"),
                &format!("{dir}/{target}/release/{exe}"),
                &["--help"],
            )
            .hint("the packaged program does not start"),
        );
    }
    steps.push(pack);
    steps
}

/// The platform tag `auditwheel show` says a wheel is consistent with.
pub(crate) fn audit_tag(said: &str) -> Option<String> {
    let flat = said.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = flat.split("consistent with the following platform tag:").nth(1)?;
    Some(rest.trim().trim_start_matches('"').split('"').next()?.to_owned())
}

/// Whether auditwheel's verdict confirms the wheel's own tag: the tag it finds is one the file name claims, at
/// the configured baseline or older.
pub(crate) fn audit_verdict(file_name: &str, said: &str) -> Result<(), String> {
    let Some(found) = audit_tag(said) else {
        return Err("it did not name a platform tag the wheel is consistent with".to_owned());
    };
    let claimed = file_name.trim_end_matches(".whl").rsplit('-').next().unwrap_or_default();
    if !claimed.split('.').any(|t| t == found) {
        return Err(format!("it finds {found}, the file name claims {claimed}"));
    }
    let glibc = |tag: &str| -> Option<(u32, u32)> {
        let mut v = tag.strip_prefix("manylinux_")?.split('_');
        Some((v.next()?.parse().ok()?, v.next()?.parse().ok()?))
    };
    match (glibc(&found), glibc(config::MANYLINUX_TAG)) {
        (Some(f), Some(base)) if f > base => {
            Err(format!("{found} is newer than the baseline {}", config::MANYLINUX_TAG))
        }
        _ => Ok(()),
    }
}

/// Where package builds put their cargo output: apart from the dev builds, which use other flags.
pub(crate) const BUILD_DIR: &str = crate::config::PACKAGE_BUILD_DIR;

/// The build plan: one group of steps per kind, each named `<kind>: ...`, all writing into the staging dir.
pub(crate) fn plan(i: &Inputs<'_>) -> Plan {
    let settings = i.settings;
    let mut plan = Plan::new("package");
    let staging = i.staging.as_str();
    // Reproducible builds: timestamps from the commit, no absolute paths of this clone in the binaries.
    let mut rustflags = format!("--remap-path-prefix={}=/repo", i.root);
    if let Some(home) = &i.cargo_home {
        rustflags.push_str(&format!("\x1f--remap-path-prefix={home}=/cargo"));
    }
    let with_env = |s: Step| {
        s.env("SOURCE_DATE_EPOCH", i.commit.source_date_epoch.to_string())
            .env("CARGO_ENCODED_RUSTFLAGS", rustflags.clone())
    };
    let mut steps = Vec::new();
    if i.kinds.contains(&Kind::Crate) {
        steps.extend(crate_steps(i));
    }
    if i.kinds.contains(&Kind::Wheel) {
        steps.extend(wheel_steps(i, &mut plan));
    }
    if i.kinds.contains(&Kind::Sdist) {
        for pkg in settings.python() {
            steps.push(crate::wheel::sdist_step(pkg, &format!("{staging}/{}", Kind::Sdist.dir())));
        }
    }
    if i.kinds.contains(&Kind::Wasm) {
        let toolchain = i.toolchain.clone().expect("wasm has a toolchain");
        for b in settings.wasm() {
            let out = format!("{staging}/{}/{}", Kind::Wasm.dir(), b.package);
            steps.extend(wasm::bundle_steps(b, &toolchain, &out, &format!("{BUILD_DIR}/wasm")));
        }
    }
    if i.kinds.contains(&Kind::Binary) {
        for b in settings.binaries() {
            for target in &i.wheel_targets {
                let epoch = i.commit.source_date_epoch;
                steps.extend(binary_steps(&b.package, &b.name, target, &i.host, &i.version, staging, epoch));
            }
        }
    }
    for step in steps {
        plan.push(with_env(step));
    }
    // Last: the recordings, made with the host's wheel built above.
    if let Some(examples) = settings.examples().filter(|_| i.kinds.contains(&Kind::Recording)) {
        for step in recording_steps(i, examples) {
            plan.push(step);
        }
    }
    plan
}

/// `cargo package` of every publishable crate, then their .crate files collected.
fn crate_steps(i: &Inputs<'_>) -> Vec<Step> {
    let dirty = i.commit.dirty.then_some("--allow-dirty");
    let mut step =
        Step::run("crates: cargo package", "cargo", &["package", "--locked", "--target-dir", BUILD_DIR]).args(dirty);
    for p in &i.publishable {
        step = step.args(["--package", p.as_str()]);
    }
    let step = step.tools(&[tool::CARGO]).hint("cargo package verifies that each crate builds from its .crate alone");
    let files: Vec<String> =
        i.publishable.iter().map(|p| format!("{BUILD_DIR}/package/{p}-{}.crate", i.version)).collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    vec![step, Step::copy("crates: collect", &files, &format!("{}/crates", i.staging))]
}

/// The example scripts run with the host's wheel in a fresh virtualenv, and their recordings verified.
fn recording_steps(i: &Inputs<'_>, examples: &crate::settings::Examples) -> Vec<Step> {
    let staging = i.staging.as_str();
    let venv = format!("{staging}/venv");
    let python = tools::venv_python(Utf8Path::new(&venv)).to_string();
    let wheels = i.host_wheels.clone().expect("checked by the caller");
    let mut steps =
        vec![Step::run("recordings: virtualenv", "python3", &["-m", "venv", "--clear", &venv]).tools(&[tool::PYTHON3])];
    for pkg in i.settings.python() {
        let name = format!("recordings: install {}", pkg.dist);
        steps.push(
            Step::run(&name, &python, &["-m", "pip", "install", "--quiet", "--no-index"])
                .args(["--find-links", wheels.as_str()])
                .arg(format!("{}=={}", pkg.dist, i.version)),
        );
    }
    let mut files = Vec::new();
    for stem in &i.examples {
        let out = format!("{staging}/recordings/{stem}.{}", examples.extension);
        steps.push(
            Step::run(&format!("recordings: {stem}.py"), &python, &[&format!("{}/{stem}.py", examples.dir), &out])
                .hint("an example script failed: run it by hand with the installed wheel to see why"),
        );
        files.push(out);
    }
    steps.push(
        // Its own target dir: a `cargo test` running this job holds the lock on target/.
        Step::run("recordings: verify", "cargo", &["run", "--quiet", "--locked", "--target-dir", BUILD_DIR])
            .args(["--package", examples.verifier.as_str(), "--"])
            .args(examples.verify_args.iter().cloned())
            .args(files)
            .tools(&[tool::CARGO]),
    );
    steps
}

fn list(dir: &Utf8Path, suffix: &str) -> Result<Vec<Utf8PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for e in dir.read_dir_utf8().with_context(|| format!("reading {dir}"))? {
        let e = e?;
        if e.file_name().ends_with(suffix) {
            out.push(e.path().to_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// Every file under `dir`; a symbolic link is an error (an artifact's content is never read through one).
fn walk(dir: &Utf8Path, out: &mut Vec<Utf8PathBuf>) -> Result<()> {
    for e in dir.read_dir_utf8().with_context(|| format!("reading {dir}"))? {
        let e = e?;
        if e.file_type()?.is_symlink() {
            bail!(
                "{} is a symbolic link: an artifact's content is never read through one\nfix: build real files \
                 into the package (a link in the sources is refused when they are copied)",
                e.path()
            );
        }
        if e.file_type()?.is_dir() {
            walk(e.path(), out)?;
        } else {
            out.push(e.path().to_owned());
        }
    }
    Ok(())
}

/// Manifest entries for what the staging dir holds of `kind`.
fn describe(
    staging: &Utf8Path,
    kind: Kind,
    version: &str,
    wheel_targets: &[String],
    settings: &crate::settings::Loaded,
    command: &str,
    tools: &[(String, String)],
) -> Result<Vec<Artifact>> {
    let dir = staging.join(kind.dir());
    let mut files = Vec::new();
    if dir.exists() {
        walk(&dir, &mut files)?;
    }
    files.sort();
    if files.is_empty() {
        bail!("building {} produced no files in {dir}", kind.as_str());
    }
    let mut out = Vec::new();
    for f in files {
        let rel = f.strip_prefix(staging).expect("under staging").as_str();
        let rel = crate::tools::key_of(rel);
        manifest::check_path(&rel)?;
        let file_name = f.file_name().unwrap_or_default();
        let (sha256, size) = sha256::file(&f)?;
        let (name, platform, tag) = identify(kind, file_name, &rel, version, wheel_targets, settings)?;
        out.push(Artifact {
            kind,
            name,
            path: rel,
            size,
            sha256,
            version: version.to_owned(),
            platform,
            tag,
            command: command.to_owned(),
            tools: tools.to_vec(),
        });
    }
    Ok(out)
}

/// An artifact's name, platform and wheel tag, from its kind and file name.
fn identify(
    kind: Kind,
    file_name: &str,
    rel: &str,
    version: &str,
    wheel_targets: &[String],
    settings: &crate::settings::Loaded,
) -> Result<(String, Option<String>, Option<String>)> {
    Ok(match kind {
        Kind::Crate => {
            (file_name.trim_end_matches(".crate").trim_end_matches(&format!("-{version}")).to_owned(), None, None)
        }
        Kind::Wheel => {
            // {dist}-{version}-{python}-{abi}-{platform}.whl
            let stem = file_name.trim_end_matches(".whl");
            let parts: Vec<&str> = stem.split('-').collect();
            if parts.len() < 5 {
                bail!("unexpected wheel file name {file_name}");
            }
            let tag = parts[parts.len() - 3..].join("-");
            let platform = crate::wheel::matrix::wheel_target(file_name, wheel_targets)
                .with_context(|| format!("{file_name} is for none of the targets built: {wheel_targets:?}"))?;
            (parts[0].replace('_', "-"), Some(platform), Some(tag))
        }
        Kind::Sdist => {
            // {dist}-{version}.tar.gz, the distribution's name normalized with `_`.
            // (A pre-release's version is spelled the PEP 440 way: the last `-` ends the name.)
            let stem = file_name
                .strip_suffix(".tar.gz")
                .with_context(|| format!("{file_name} is no source distribution (NAME-VERSION.tar.gz)"))?;
            let (dist, _) = stem
                .rsplit_once('-')
                .with_context(|| format!("{file_name} is no source distribution file name (NAME-VERSION.tar.gz)"))?;
            (dist.replace('_', "-"), None, None)
        }
        Kind::Wasm => (rel.split('/').nth(1).unwrap_or_default().to_owned(), None, None),
        Kind::Recording => {
            let extension = settings.examples().map(|e| format!(".{}", e.extension));
            let stem = extension.and_then(|e| file_name.strip_suffix(&e).map(str::to_owned));
            (stem.unwrap_or_else(|| file_name.to_owned()), None, None)
        }
        Kind::Binary => {
            // {bin}-{version}-{target}.tar.gz
            let stem = file_name.trim_end_matches(".tar.gz");
            let (bin, target) = stem.split_once(&format!("-{version}-")).unwrap_or((stem, ""));
            let platform = wheel_targets.iter().find(|t| *t == target).cloned();
            let platform = platform.with_context(|| format!("{file_name} is for none of the targets built"))?;
            (bin.to_owned(), Some(platform), None)
        }
    })
}

/// Moves every file under `from` into `to`, keeping the relative layout.
fn move_tree(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    let mut files = Vec::new();
    walk(from, &mut files)?;
    for f in files {
        let dest = to.join(f.strip_prefix(from).expect("under from"));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
        }
        std::fs::rename(&f, &dest).with_context(|| format!("moving {f} to {dest}"))?;
    }
    Ok(())
}

fn print_table(m: &Manifest, dir: &Utf8Path) {
    println!("\n{} artifacts of {} (version {}) in {dir}:", m.artifacts.len(), &m.commit[..12], m.version);
    let mut by_kind: BTreeMap<Kind, (usize, u64)> = BTreeMap::new();
    for a in &m.artifacts {
        let e = by_kind.entry(a.kind).or_default();
        e.0 += 1;
        e.1 += a.size;
        if a.kind != Kind::Wasm || a.path.ends_with(".wasm") {
            println!("  {:<10} {:<70} {:>9}  {}", a.kind.as_str(), a.path, a.size, &a.sha256[..16]);
        }
    }
    for (k, (n, size)) in by_kind {
        println!("  {:<10} {n} files, {size} bytes", k.as_str());
    }
}

#[cfg(test)]
mod tests;
