//! `cargo xtask lint`: formatting and lints of every language in the repository, and the workflows.
//!
//! The file linters (ruff, taplo, typos) judge the repository by its own rules: its configuration files decide
//! what they check (explicit file lists go through the same excludes: ruff and typos with `--force-exclude`,
//! taplo filters them by its include/exclude), at the version the repository pins in ci.toml `[lint]` if it does.
//! The engine only adds what no repository wants linted: its own directories (`.tools/`, `target/`) and the
//! files it generates (the workflows), with each tool's exclude option, never replacing the repository's.

use anyhow::Result;

use crate::Ctx;
use crate::affected::{self, Affected};
use crate::config::tool;
use crate::plan::{Plan, Step};

/// What the file linters are given besides the change: the paths none of them looks at, and taplo's files.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Scope {
    /// Paths relative to the root that no linter looks at: the engine's directories (`config::ENGINE_DIRS`) and
    /// the files it generates (the workflows: YAML, which only typos reads). Left out of every file list, and
    /// excluded from every walk with the tool's own option (added to the repository's excludes, never replacing
    /// them).
    pub skip: Vec<String>,
    /// The TOML files taplo formats: the tracked and new (unignored) ones, or the changed ones. taplo applies the
    /// repository's `include`/`exclude` to them (it walks every directory, ignored ones too, when given none).
    pub toml: Vec<String>,
    /// Every workflow file, generated or hand-written (ci.toml `[workflows] allow`); `None` where ci.toml lists no
    /// `[[platform]]`, so `cargo xtask workflows` writes none and nothing checks them.
    pub workflows: Option<Vec<String>>,
}

impl Scope {
    pub(crate) fn skips(&self, path: &str) -> bool {
        let path = path.strip_prefix("./").unwrap_or(path);
        self.skip.iter().any(|s| path == s || path.strip_prefix(s.as_str()).is_some_and(|r| r.starts_with('/')))
    }

    /// `extend-exclude = [...]` for ruff's `--config`: added to the repository's own `extend-exclude` (ruff's
    /// `format --extend-exclude` only exists from 0.15.x on; `--config` from long before), anchored at the root.
    fn ruff_excludes(&self) -> String {
        // ruff reads no YAML: the generated workflows would only lengthen its command line.
        let paths: Vec<String> = (self.skip.iter())
            .filter(|p| !p.ends_with(".yml"))
            .map(|p| serde_json::Value::String(format!("./{p}")).to_string())
            .collect();
        format!("extend-exclude = [{}]", paths.join(", "))
    }

    /// typos' `--exclude` for each skipped path, anchored at the root (gitignore syntax; added to the config's).
    fn typos_excludes(&self) -> Vec<String> {
        self.skip.iter().flat_map(|p| ["--exclude".to_owned(), format!("/{p}")]).collect()
    }
}

pub(crate) fn run(ctx: &Ctx, fix: bool, changed_since: Option<&str>) -> Result<()> {
    let affected = affected::for_flag(ctx, changed_since)?;
    let existing: Vec<String> = affected.files.iter().filter(|f| ctx.root.join(f).exists()).cloned().collect();
    let affected = Affected { files: existing, ..affected };
    let mut skipped = Vec::new();
    let targets = if affected.any_rust() && !fix { other_targets(ctx, &mut skipped) } else { Vec::new() };
    let scope = scope(ctx, &affected)?;
    let mut plan = plan(fix, &affected, &scope);
    for (tool, version) in ctx.settings.lint_pins() {
        if plan.tools().contains(&tool) {
            let engine = crate::config::tool_named(tool).exact_pin().unwrap_or_default();
            plan.note(format!("{tool} {version}: the repository's version (ci.toml [lint]; the engine's is {engine})"));
        }
    }
    add_target_checks(&mut plan, &targets, &affected);
    if affected.any_rust() && !fix {
        add_crate_checks(ctx, &mut plan, &affected, &mut skipped)?;
    }
    let dependencies_changed = affected.everything.is_some()
        || affected.files.iter().any(|f| f == "Cargo.lock" || f.ends_with("Cargo.toml") || f == "deny.toml");
    if dependencies_changed && !fix && ctx.root.join("deny.toml").is_file() {
        let online = crate::github::actions();
        if !online {
            plan.note(
                "skipped: cargo deny's advisories check (it fetches the RustSec database: GitHub Actions runs it)",
            );
        }
        plan.push(dependency_check(online));
    }
    let markdown = markdown_files(ctx, &affected)?;
    if !markdown.is_empty() && !fix {
        let online = crate::github::actions();
        if !online {
            plan.note("external links are not checked here (offline); GitHub Actions checks them");
        }
        plan.push(link_check(&markdown, online));
    }
    for n in skipped {
        plan.note(n);
    }
    ctx.execute(&plan)
}

/// The other platforms' targets clippy checks: added by rustup where it can (not for --dry-run/--json, which
/// install nothing: they plan the step as it would run); the others noted as skipped.
fn other_targets(ctx: &Ctx, skipped: &mut Vec<String>) -> Vec<String> {
    let mut targets = Vec::new();
    for t in ctx.settings.check_targets() {
        let ready = if ctx.global.dry_run || ctx.global.json {
            Ok(())
        } else {
            crate::targets::ensure(&ctx.sh, t, ctx.global.offline)
        };
        match ready {
            Ok(()) => targets.push(t.clone()),
            Err(e) => skipped
                .push(format!("skipped: clippy for {t} ({})", format!("{e:#}").lines().next().unwrap_or_default())),
        }
    }
    targets
}

/// Each crate alone, its features, its MSRV, and semver against the last release.
fn add_crate_checks(ctx: &Ctx, plan: &mut Plan, affected: &Affected, skipped: &mut Vec<String>) -> Result<()> {
    let packages = crate::workspace::workspace_packages(ctx)?;
    let mut msrvs = Vec::new();
    for msrv in msrv_toolchains(ctx, &packages) {
        match msrv {
            Ok(v) => msrvs.push(v),
            Err(why) => skipped.push(format!("skipped: an MSRV build ({why})")),
        }
    }
    for s in crate_checks(&packages, affected, &msrvs) {
        plan.push(s);
    }
    let tag = crate::semver::last_release_tag(&ctx.sh);
    let released = match &tag {
        Some(tag) => crate::semver::manifests_at(&ctx.sh, tag)?,
        None => Vec::new(),
    };
    let was_released = |p: &crate::workspace::Package| {
        let rel = p.dir.strip_prefix(&ctx.root).map(|d| d.join("Cargo.toml")).unwrap_or_default();
        released.iter().any(|m| crate::tools::key_of(rel.as_str()) == *m)
    };
    let (steps, notes) = semver_checks(&packages, affected, tag.as_deref(), &was_released);
    plan.steps.extend(steps);
    skipped.extend(notes);
    Ok(())
}

/// The paths no linter looks at, and the TOML files taplo is given.
fn scope(ctx: &Ctx, a: &Affected) -> Result<Scope> {
    let mut skip: Vec<String> = crate::config::ENGINE_DIRS.iter().map(|d| (*d).to_owned()).collect();
    // The generated workflows: a finding there is fixed in what they are generated from (ci.toml, the engine),
    // and a fixer's edit would only fail `workflows --check`.
    if !ctx.settings.settings.platform.is_empty() {
        for (name, ..) in crate::settings::WORKFLOWS {
            let file = format!("{}/{name}.yml", crate::pipeline::DIR);
            if ctx.root.join(&file).is_file() {
                skip.push(file);
            }
        }
    }
    let workflows = (!ctx.settings.settings.platform.is_empty()).then(|| crate::pipeline::workflow_files(&ctx.root));
    let mut scope = Scope { skip, toml: Vec::new(), workflows };
    // taplo's own config changed: every file it may now format differently.
    let taplo_config = a.files.iter().any(|f| f == "taplo.toml" || f == ".taplo.toml");
    let toml: Vec<String> = if a.everything.is_some() || taplo_config {
        let sh = &ctx.sh;
        let all = xshell::cmd!(sh, "git ls-files -z --cached --others --exclude-standard -- *.toml").quiet().read()?;
        all.split('\0').filter(|f| !f.is_empty() && ctx.root.join(f).is_file()).map(str::to_owned).collect()
    } else {
        a.files.iter().filter(|f| f.ends_with(".toml")).cloned().collect()
    };
    let selected = taplo_selection(&ctx.root)?;
    scope.toml = toml.into_iter().filter(|f| !scope.skips(f) && selected(f)).collect();
    scope.toml.sort();
    scope.toml.dedup();
    Ok(scope)
}

/// The files the repository's taplo configuration (`taplo.toml` or `.taplo.toml` at the root) selects: its
/// `include` globs (every file without them) less its `exclude` globs, relative to the root, `*` within one
/// directory. taplo applies them when it walks, not to files it is given by name, so the engine applies them to
/// the list it gives.
fn taplo_selection(root: &camino::Utf8Path) -> Result<impl Fn(&str) -> bool> {
    let config = ["taplo.toml", ".taplo.toml"].iter().map(|n| root.join(n)).find(|p| p.is_file());
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    if let Some(path) = config {
        let text = std::fs::read_to_string(&path)?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{path} is not TOML ({})\nfix: correct it", e.message().trim()))?;
        let globs = |key: &str| -> Vec<glob::Pattern> {
            table
                .get(key)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .filter_map(|p| glob::Pattern::new(p.trim_start_matches("./")).ok())
                .collect()
        };
        include = globs("include");
        exclude = globs("exclude");
    }
    let options = glob::MatchOptions { require_literal_separator: true, ..glob::MatchOptions::new() };
    Ok(move |f: &str| {
        (include.is_empty() || include.iter().any(|p| p.matches_with(f, options)))
            && !exclude.iter().any(|p| p.matches_with(f, options))
    })
}

/// The tracked Markdown files a change touches (every one when everything runs).
fn markdown_files(ctx: &Ctx, a: &Affected) -> Result<Vec<String>> {
    let sh = &ctx.sh;
    let all = xshell::cmd!(sh, "git ls-files -z -- *.md").quiet().read()?;
    let all: Vec<String> = all.split('\0').filter(|f| !f.is_empty()).map(str::to_owned).collect();
    if a.everything.is_some() {
        return Ok(all);
    }
    // Any change may break a link: a Markdown file edited, or a file a link points to renamed or removed.
    Ok(if a.files.is_empty() { Vec::new() } else { all })
}

/// cargo-deny against deny.toml: licenses, bans (one version of each crate) and sources always; the advisories,
/// which need the advisory database from the network, only online.
pub(crate) fn dependency_check(online: bool) -> Step {
    Step::run("dependencies: cargo deny", "cargo-deny", &["--locked", "check", "licenses", "bans", "sources"])
        .args(online.then_some("advisories"))
        .tools(&[tool::CARGO_DENY])
        .hint(
            "a dependency breaks deny.toml's policy (its license, a second version, its source): the finding names it",
        )
        .concurrent()
}

/// lychee over the Markdown files: relative links and `#anchors` always; external links only online.
pub(crate) fn link_check(files: &[String], online: bool) -> Step {
    Step::run("links", "lychee", &["--no-progress", "--include-fragments"])
        .args((!online).then_some("--offline"))
        .args(files.iter().cloned())
        .tools(&[tool::LYCHEE])
        .hint("a link or #anchor in a Markdown file points nowhere: fix the path or the heading it names")
        .concurrent()
}

/// The toolchains of the published crates' declared `rust-version`s (their MSRVs: one per distinct value, since
/// crates may promise different ones), each installed by rustup when missing (not for --dry-run/--json): a
/// minimal profile, about 70 MB each. Empty where no published crate declares one.
fn msrv_toolchains(ctx: &Ctx, packages: &[crate::workspace::Package]) -> Vec<std::result::Result<String, String>> {
    let mut msrvs: Vec<String> =
        packages.iter().filter(|p| p.publishable).filter_map(|p| p.rust_version.clone()).collect();
    msrvs.sort_by(|a, b| crate::tools::version_cmp(a, b));
    msrvs.dedup();
    msrvs.into_iter().map(|msrv| msrv_toolchain(ctx, msrv)).collect()
}

/// The toolchain `msrv`, installed by rustup when missing (unless only planning or offline).
fn msrv_toolchain(ctx: &Ctx, msrv: String) -> std::result::Result<String, String> {
    let sh = &ctx.sh;
    let plus = format!("+{msrv}");
    let have = xshell::cmd!(sh, "rustc {plus} --version").quiet().ignore_stderr().read().is_ok();
    if have || ctx.global.dry_run || ctx.global.json {
        return Ok(msrv);
    }
    if ctx.global.offline {
        return Err(format!("toolchain {msrv} is not installed; rustup toolchain install {msrv} --profile minimal"));
    }
    xshell::cmd!(sh, "rustup toolchain install {msrv} --profile minimal")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .map_err(|e| format!("`rustup toolchain install {msrv} --profile minimal` failed: {e}"))?;
    Ok(msrv)
}

/// Checks a Rust monorepo's CI is expected to run besides clippy: the docs with warnings denied (broken
/// intra-doc links fail), every workspace crate built alone (a feature that compiles only because another crate
/// enables it fails), each feature of each published crate alone, and the published crates on the toolchain
/// of the `rust-version` they declare. Read-only, so concurrent with the other linters.
pub(crate) fn crate_checks(packages: &[crate::workspace::Package], a: &Affected, msrvs: &[String]) -> Vec<Step> {
    let mut steps = vec![
        Step::run(
            "docs",
            "cargo",
            &["doc", "--workspace", "--no-deps", "--locked", "--target-dir", crate::config::LINT_DOC_DIR],
        )
        .env("RUSTDOCFLAGS", "-D warnings")
        .tools(&[tool::CARGO])
        .hint("a rustdoc warning (a broken intra-doc link, an unclosed HTML tag...): fix the doc comment it names")
        .concurrent(),
    ];
    let wanted = |name: &str| a.everything.is_some() || a.crates.iter().any(|c| c == name);
    for p in packages.iter().filter(|p| wanted(&p.name)) {
        steps.push(
            Step::run(
                &format!("alone: {}", p.name),
                "cargo",
                &["check", "--locked", "--all-targets", "--package", &p.name],
            )
            .args(["--target-dir", crate::config::LINT_ALONE_DIR])
            .tools(&[tool::CARGO])
            .hint("this crate does not build on its own: it relies on a feature another workspace crate enables")
            .concurrent(),
        );
        if !p.publishable {
            continue;
        }
        steps.extend(feature_checks(p));
    }
    steps.extend(msrvs.iter().filter_map(|msrv| msrv_check(packages, msrv, &wanted)));
    steps
}

/// `cargo check` of a published crate without its default features, and with each feature alone.
fn feature_checks(p: &crate::workspace::Package) -> Vec<Step> {
    let mut variants = vec![("no default features".to_owned(), vec!["--no-default-features".to_owned()])];
    for f in &p.features {
        variants.push((format!("feature {f}"), vec!["--no-default-features".into(), "--features".into(), f.clone()]));
    }
    variants
        .into_iter()
        .map(|(what, flags)| {
            Step::run(&format!("features: {} ({what})", p.name), "cargo", &["check", "--locked", "--package", &p.name])
                .args(flags)
                .args(["--target-dir", crate::config::LINT_ALONE_DIR])
                .tools(&[tool::CARGO])
                .concurrent()
        })
        .collect()
}

/// The published crates that promise rust-version `msrv`, checked with that toolchain (none wanted: no step).
fn msrv_check(packages: &[crate::workspace::Package], msrv: &String, wanted: &dyn Fn(&str) -> bool) -> Option<Step> {
    let published: Vec<String> = packages
        .iter()
        .filter(|p| p.publishable && wanted(&p.name) && p.rust_version.as_ref() == Some(msrv))
        .flat_map(|p| ["--package".to_owned(), p.name.clone()])
        .collect();
    if published.is_empty() {
        return None;
    }
    Some(
        Step::run(&format!("msrv: rust {msrv}"), "cargo", &[&format!("+{msrv}"), "check", "--locked"])
            .args(published)
            .args(["--target-dir", crate::config::LINT_MSRV_DIR])
            .tools(&[tool::CARGO])
            .hint(format!(
                "the published crates promise rust-version = {msrv}: use no newer API, or raise rust-version \
                 in Cargo.toml (a deliberate change)"
            ))
            .concurrent(),
    )
}

/// The semver check of each published library crate the change touches, against the last release tag (none
/// yet: a note, since a first release has nothing to compare with). Each check builds two revisions' rustdoc
/// JSON in its own target directory, so they run one after another, after the concurrent linters.
pub(crate) fn semver_checks(
    packages: &[crate::workspace::Package],
    a: &Affected,
    tag: Option<&str>,
    was_released: &dyn Fn(&crate::workspace::Package) -> bool,
) -> (Vec<Step>, Vec<String>) {
    let wanted: Vec<&crate::workspace::Package> = packages
        .iter()
        .filter(|p| p.publishable && p.has_lib)
        .filter(|p| a.everything.is_some() || a.crates.contains(&p.name))
        .collect();
    if wanted.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let Some(tag) = tag else {
        return (
            Vec::new(),
            vec![
                "skipped: semver checks (no release tag v<version> yet: a first release has nothing to compare with)"
                    .into(),
            ],
        );
    };
    let (mut steps, mut notes) = (Vec::new(), Vec::new());
    for p in wanted {
        if was_released(p) {
            steps.push(crate::semver::lint_step(&p.name, tag));
        } else {
            notes.push(format!("skipped: semver check of {} (new since {tag}: nothing to compare with)", p.name));
        }
    }
    (steps, notes)
}

/// `cargo clippy --target T` for the other platforms, next to the host's clippy: code behind `cfg(windows)`
/// and `cfg(target_os = "macos")` compiles and is linted on every PR.
fn add_target_checks(plan: &mut Plan, targets: &[String], a: &Affected) {
    let at = plan.steps.iter().position(|s| s.name == "clippy").map_or(plan.steps.len(), |i| i + 1);
    for (n, t) in targets.iter().enumerate() {
        let step =
            Step::run(&format!("clippy ({t})"), "cargo", &["clippy", "--all-targets", "--locked", "--target", t])
                .args(crate_args(a))
                .args(["--", "-D", "warnings"])
                .tools(&[tool::CARGO, tool::CLIPPY])
                .hint("code for another platform: fix it here (`cargo clippy --target ...`), its runner would fail too")
                .concurrent();
        plan.steps.insert(at + n, step);
    }
}

fn crate_args(a: &Affected) -> Vec<String> {
    if a.everything.is_some() {
        vec!["--workspace".into()]
    } else {
        a.crates.iter().flat_map(|c| ["--package".to_owned(), c.clone()]).collect()
    }
}

/// The lint plan. In check mode nothing writes, so every step may run at once; fixers write files, so they
/// run one after another. With `--changed-since`, only the linters of what changed run. The file linters look at
/// nothing `scope` skips.
pub(crate) fn plan(fix: bool, a: &Affected, scope: &Scope) -> Plan {
    let mut plan = Plan::new(if fix { "lint --fix" } else { "lint" });
    for n in a.summary() {
        plan.note(n);
    }
    // A file of the engine's is no file of the repository's to lint.
    let a = &Affected { files: a.files.iter().filter(|f| !scope.skips(f)).cloned().collect(), ..a.clone() };
    // The workflows are generated from ci.toml's platforms: without any there are none to check.
    if scope.workflows.is_none() {
        plan.note(
            "skipped: the workflow checks (ci.toml lists no [[platform]], so `cargo xtask workflows` writes none)",
        );
    }
    let w = Wanted::of(a, scope);
    let steps = if fix { fix_steps(&w, a, scope) } else { check_steps(&w, a, scope) };
    for s in steps {
        plan.push(if fix { s } else { s.concurrent() });
    }
    if plan.steps.is_empty() {
        plan.note("nothing to lint for this change");
    }
    plan
}

/// Which linters a change calls for.
struct Wanted {
    rust: bool,
    rs_files: bool,
    python: bool,
    toml: bool,
    typos: bool,
    /// The files typos reads (empty: all of them).
    typos_files: Vec<String>,
    /// The workflows (a change to them, or everything).
    gh: bool,
    ruff_excludes: String,
}

impl Wanted {
    fn of(a: &Affected, scope: &Scope) -> Wanted {
        let typos_files: Vec<String> = if a.everything.is_some() { vec![] } else { a.files.clone() };
        Wanted {
            rust: a.any_rust(),
            rs_files: a.has_ext(&[".rs"]),
            python: a.has_ext(&[".py", "ruff.toml", "pyproject.toml"]),
            toml: !scope.toml.is_empty(),
            typos: a.everything.is_some() || !typos_files.is_empty(),
            typos_files,
            gh: (a.everything.is_some() || a.workflows) && scope.workflows.is_some(),
            ruff_excludes: scope.ruff_excludes(),
        }
    }
}

/// `lint --fix`: the tools that rewrite files, one after another.
fn fix_steps(w: &Wanted, a: &Affected, scope: &Scope) -> Vec<Step> {
    let ruff_excludes = w.ruff_excludes.as_str();
    let mut steps = Vec::new();
    if w.rs_files {
        // `cargo fmt` from the root: the workspace's members. `--all` would add their path dependencies and those
        // dependencies' workspaces (an engine used by path, with every crate beside it).
        steps.push(Step::run("rustfmt", "cargo", &["fmt"]).tools(&[tool::CARGO, tool::RUSTFMT]));
    }
    if w.rust {
        steps.push(
            Step::run(
                "clippy --fix",
                "cargo",
                &["clippy", "--fix", "--allow-dirty", "--allow-staged", "--all-targets", "--locked"],
            )
            .args(crate_args(a))
            .tools(&[tool::CARGO, tool::CLIPPY]),
        );
    }
    if w.python {
        steps.push(
            Step::run("ruff check --fix", "ruff", &["check", "--fix", "--config", ruff_excludes, "."])
                .tools(&[tool::RUFF]),
        );
        steps.push(Step::run("ruff format", "ruff", &["format", "--config", ruff_excludes, "."]).tools(&[tool::RUFF]));
    }
    if w.toml {
        steps.push(
            Step::run("taplo fmt", "taplo", &["fmt"])
                .args(scope.toml.iter().cloned())
                .env("RUST_LOG", "warn")
                .tools(&[tool::TAPLO]),
        );
    }
    if w.typos {
        // Only into files the repository's typos config does not exclude (its test data, words from
        // elsewhere), even when they are named: `--force-exclude`.
        steps.push(
            Step::run("typos --write-changes", "typos", &["--write-changes", "--force-exclude"])
                .args(scope.typos_excludes())
                .args(w.typos_files.iter().cloned())
                .tools(&[tool::TYPOS]),
        );
    }
    if w.gh {
        steps.push(Step::run("workflows", "cargo", &["xtask", "workflows"]).tools(&[tool::CARGO]));
    }
    steps
}

/// `lint`: the checks, concurrently.
fn check_steps(w: &Wanted, a: &Affected, scope: &Scope) -> Vec<Step> {
    let mut steps = Vec::new();
    if w.rust {
        steps.push(
            Step::run("clippy", "cargo", &["clippy", "--all-targets", "--locked"])
                .args(crate_args(a))
                .args(["--", "-D", "warnings"])
                .tools(&[tool::CARGO, tool::CLIPPY])
                .hint("fix the warnings above; `cargo xtask lint --fix` applies clippy's suggestions"),
        );
    }
    if w.rs_files {
        steps.push(
            Step::run("rustfmt", "cargo", &["fmt", "--check"])
                .tools(&[tool::CARGO, tool::RUSTFMT])
                .hint("run `cargo fmt` (or `cargo xtask lint --fix`)"),
        );
    }
    if w.python {
        steps.extend(ruff_checks(w.ruff_excludes.as_str()));
    }
    if w.toml {
        steps.push(
            Step::run("taplo fmt", "taplo", &["fmt", "--colors", "never", "--check", "--diff"])
                .args(scope.toml.iter().cloned())
                .env("RUST_LOG", "warn")
                .tools(&[tool::TAPLO])
                .hint("run `cargo xtask lint --fix` (taplo fmt)"),
        );
    }
    if w.typos {
        steps.push(
            Step::run("typos", "typos", &["--format", "brief", "--force-exclude"])
                .args(scope.typos_excludes())
                .args(w.typos_files.iter().cloned())
                .tools(&[tool::TYPOS])
                .hint(
                    "fix the misspelling. A word that is meant (test data, a name from elsewhere) is no typo: \
                     allow it (`[default.extend-words]`) or exclude its file (`[files] extend-exclude`) in the \
                     repository's typos config (_typos.toml) first, because `cargo xtask lint --fix` writes \
                     typos' corrections into every file that config does not exclude",
                ),
        );
    }
    if w.gh {
        steps.extend(workflow_checks(scope.workflows.clone().unwrap_or_default()));
    }
    steps
}

/// ruff's lints and its formatting, as checks.
fn ruff_checks(ruff_excludes: &str) -> [Step; 2] {
    [
        Step::run("ruff check", "ruff", &["check", "--output-format", "concise", "--config", ruff_excludes, "."])
            .tools(&[tool::RUFF])
            .hint("run `cargo xtask lint --fix` for the fixable ones (ruff's safe fixes)"),
        Step::run("ruff format", "ruff", &["format", "--diff", "--config", ruff_excludes, "."])
            .tools(&[tool::RUFF])
            .hint(
                "run `cargo xtask lint --fix` (ruff format); ruff 0.16 and newer also format the Python blocks \
                 of Markdown files: to keep them as written, add `extend-exclude = [\"*.md\"]` to the \
                 repository's ruff config, or pin its ruff in ci.toml [lint]",
            ),
    ]
}

/// The workflows: generated and within the rules, actionlint, the schema, zizmor.
fn workflow_checks(workflow_files: Vec<String>) -> Vec<Step> {
    let generated = Step::run("workflows: generated and rules", "cargo", &["xtask", "workflows", "--check"])
        .tools(&[tool::CARGO])
        .hint("generated: run `cargo xtask workflows`; hand-written: list it in ci.toml `[workflows] allow`");
    if workflow_files.is_empty() {
        // No file to lint (the first check says how to generate them): the file linters have nothing to do.
        return vec![generated];
    }
    vec![
        generated,
        Step::run("workflows: actionlint", "actionlint", &["-no-color"])
            .args(workflow_files.clone())
            .tools(&[tool::ACTIONLINT]),
        Step::run("workflows: schema", "check-jsonschema", &["--builtin-schema", "vendor.github-workflows"])
            .args(workflow_files.clone())
            .tools(&[tool::CHECK_JSONSCHEMA]),
        Step::run("workflows: zizmor", "zizmor", &["--offline", "--no-progress", "--color", "never"])
            .args(workflow_files)
            .tools(&[tool::ZIZMOR])
            .hint(
                "a security finding in a workflow: in a hand-written one fix the file; in a generated one the \
                 generator (ci.toml `[[job]]`, or the engine's pipeline)",
            ),
    ]
}

#[cfg(test)]
mod tests {

    /// taplo judges the files its configuration selects, also where the engine names them: `include` (one
    /// directory per `*`) less `exclude`; without a configuration, every file.
    #[test]
    fn taplo_is_given_only_what_its_configuration_selects() {
        let root = crate::testutil::temp_dir("taplo-selection");
        let all = super::taplo_selection(&root).unwrap();
        assert!(all("py/one/pyproject.toml") && all("Cargo.toml"));
        std::fs::write(
            root.join("taplo.toml"),
            "include = [\"*.toml\", \"crates/**/*.toml\"]\nexclude = [\"crates/vendored/**\"]\n",
        )
        .unwrap();
        let selected = super::taplo_selection(&root).unwrap();
        assert!(selected("Cargo.toml") && selected("crates/a/Cargo.toml") && selected("crates/a/b/c.toml"));
        assert!(!selected("py/one/pyproject.toml"), "`*.toml` is the root's files only");
        assert!(!selected("crates/vendored/x/Cargo.toml"), "excluded");
        std::fs::write(root.join("taplo.toml"), "include = [").unwrap();
        assert!(super::taplo_selection(&root).err().unwrap().to_string().contains("taplo.toml is not TOML"));
        std::fs::remove_dir_all(&root).unwrap();
    }
    use super::*;
    use camino::{Utf8Path, Utf8PathBuf};
    use std::collections::BTreeSet;

    fn names(p: &Plan) -> Vec<&str> {
        p.steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// The engine's directories and one generated workflow skipped; two TOML files.
    fn test_scope() -> Scope {
        Scope {
            skip: vec![".tools".into(), "target".into(), ".github/workflows/pr-gates.yml".into()],
            toml: vec!["Cargo.toml".into(), "ci.toml".into()],
            workflows: Some(crate::pipeline::workflow_files(&crate::project_root())),
        }
    }

    #[test]
    fn check_plan_runs_every_linter_concurrently() {
        let plan = plan(false, &Affected::all("test"), &test_scope());
        assert_eq!(
            names(&plan),
            [
                "clippy",
                "rustfmt",
                "ruff check",
                "ruff format",
                "taplo fmt",
                "typos",
                "workflows: generated and rules",
                "workflows: actionlint",
                "workflows: schema",
                "workflows: zizmor"
            ]
        );
        assert!(plan.steps.iter().all(|s| s.concurrent));
        assert_eq!(plan.steps[0].command_line(), "cargo clippy --all-targets --locked --workspace -- -D warnings");
        let files = crate::pipeline::workflow_files(&crate::project_root());
        assert_eq!(plan.steps[7].command_line(), format!("actionlint -no-color {}", files.join(" ")));
    }

    #[test]
    fn the_other_platforms_are_linted_next_to_the_host() {
        let a = Affected::all("test");
        let mut p = plan(false, &a, &test_scope());
        let targets: Vec<String> = crate::settings::this_repository().check_targets().to_vec();
        add_target_checks(&mut p, &targets, &a);
        assert_eq!(&names(&p)[..3], ["clippy", "clippy (x86_64-pc-windows-msvc)", "clippy (aarch64-apple-darwin)"]);
        assert_eq!(
            p.steps[1].command_line(),
            "cargo clippy --all-targets --locked --target x86_64-pc-windows-msvc --workspace -- -D warnings"
        );
        assert!(p.steps[1].concurrent);
    }

    #[test]
    fn docs_each_crate_alone_features_and_the_msrv_are_planned() {
        let pkg = |name: &str, publishable: bool, features: &[&str]| crate::workspace::Package {
            name: name.into(),
            version: "1.0.0".into(),
            publishable,
            dir: "/r".into(),
            deps: vec![],
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            rust_version: Some("1.85".into()),
            has_lib: true,
            cdylib: false,
            bins: vec![],
        };
        let packages = [pkg("core", true, &["extra"]), pkg("tool", false, &[])];
        let steps = crate_checks(&packages, &Affected::all("test"), &["1.85".to_owned()]);
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "docs",
                "alone: core",
                "features: core (no default features)",
                "features: core (feature extra)",
                "alone: tool",
                "msrv: rust 1.85"
            ]
        );
        assert_eq!(steps[0].env, [("RUSTDOCFLAGS".to_owned(), "-D warnings".to_owned())]);
        assert_eq!(
            steps[3].command_line(),
            "cargo check --locked --package core --no-default-features --features extra --target-dir target/lint-alone"
        );
        assert_eq!(steps[5].command_line(), "cargo +1.85 check --locked --package core --target-dir target/lint-msrv");
        assert!(steps.iter().all(|s| s.concurrent));
        // Without the MSRV toolchain the step is left out (the run notes why).
        assert!(!crate_checks(&packages, &Affected::all("t"), &[]).iter().any(|s| s.name.starts_with("msrv")));
        // Crates that promise different versions: each is built with its own.
        let mut newer = pkg("engine", true, &[]);
        newer.rust_version = Some("1.89".into());
        let both = [packages[0].clone(), newer];
        let steps = crate_checks(&both, &Affected::all("t"), &["1.85".to_owned(), "1.89".to_owned()]);
        let msrv: Vec<String> = steps.iter().filter(|s| s.name.starts_with("msrv")).map(Step::command_line).collect();
        assert_eq!(
            msrv,
            [
                "cargo +1.85 check --locked --package core --target-dir target/lint-msrv",
                "cargo +1.89 check --locked --package engine --target-dir target/lint-msrv"
            ]
        );
    }

    #[test]
    fn semver_checks_compare_the_crates_that_existed_at_the_release_tag() {
        let pkg = |name: &str, publishable: bool, has_lib: bool| crate::workspace::Package {
            name: name.into(),
            version: "1.1.0".into(),
            publishable,
            dir: format!("/r/{name}").into(),
            deps: vec![],
            features: vec![],
            rust_version: None,
            has_lib,
            cdylib: false,
            bins: vec![],
        };
        let packages =
            [pkg("old", true, true), pkg("new", true, true), pkg("tool", true, false), pkg("int", false, true)];
        let all = Affected::all("t");
        let (steps, notes) = semver_checks(&packages, &all, Some("v1.0.0"), &|p| p.name != "new");
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["semver: old (against v1.0.0)"]);
        assert_eq!(notes, ["skipped: semver check of new (new since v1.0.0: nothing to compare with)"]);
        let (steps, notes) = semver_checks(&packages, &all, None, &|_| true);
        assert!(steps.is_empty() && notes[0].contains("no release tag"), "{notes:?}");
        // A change that touches no published library plans nothing.
        let only_tool = Affected { crates: BTreeSet::from(["tool".to_owned()]), ..Affected::default() };
        assert_eq!(semver_checks(&packages, &only_tool, Some("v1.0.0"), &|_| true), (vec![], vec![]));
    }

    #[test]
    fn dependencies_are_checked_with_advisories_only_online() {
        assert_eq!(dependency_check(false).command_line(), "cargo-deny --locked check licenses bans sources");
        assert!(dependency_check(true).command_line().ends_with("sources advisories"));
    }

    /// A dependency under a license deny.toml does not allow, in a scratch workspace: the check fails naming it.
    #[test]
    #[ignore = "heavy part (provisions cargo-deny): cargo xtask test --part heavy"]
    fn a_dependency_under_a_license_not_allowed_fails_the_check() {
        let dir = crate::testutil::temp_dir("deny");
        let write = |p: &str, text: &str| {
            std::fs::create_dir_all(dir.join(p).parent().unwrap()).unwrap();
            std::fs::write(dir.join(p), text).unwrap();
        };
        write("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"gpl\"]\n");
        write(
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT OR Apache-2.0\"\n\n[dependencies]\ngpl = { path = \"../gpl\", version = \"0.1.0\" }\n",
        );
        write("app/src/lib.rs", "pub use gpl::f;\n");
        write(
            "gpl/Cargo.toml",
            "[package]\nname = \"gpl\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"GPL-3.0-only\"\n",
        );
        write("gpl/src/lib.rs", "pub fn f() {}\n");
        std::fs::copy(crate::project_root().join("deny.toml"), dir.join("deny.toml")).unwrap();
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(&dir);
        xshell::cmd!(sh, "cargo generate-lockfile --offline").quiet().run().unwrap();
        let tools = crate::tools::Tools::new(&crate::project_root(), false);
        tools.ensure(&sh, &["cargo-deny"]).expect("provision cargo-deny");
        let deny = tools.probe(&sh, crate::config::tool::CARGO_DENY.tool()).unwrap().path.unwrap();
        let crate::plan::Action::Run { args, .. } = dependency_check(false).action else { panic!() };
        let again = args.clone();
        let out = xshell::cmd!(sh, "{deny} {args...}").ignore_status().quiet().output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("GPL-3.0-only") && text.contains("gpl"), "{text}");
        // And this repository's own dependencies pass.
        sh.change_dir(crate::project_root());
        xshell::cmd!(sh, "{deny} {again...}").quiet().run().expect("this repository passes its deny.toml");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A scratch workspace: `base` (published, MSRV 1.85, feature `extra`), `user` (enables `extra`) and `leaf`
    /// (published, depends on `base`), with `base_lib` and `leaf_lib` as their code; and its planned crate checks.
    fn scratch_workspace(name: &str, base_lib: &str, leaf_lib: &str) -> (Utf8PathBuf, Vec<Step>) {
        let package = |n: &str| {
            format!(
                "[package]\nname = \"{n}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nrust-version = \"1.85\"\n\
                 license = \"MIT\"\n"
            )
        };
        let base = format!("{}\n[features]\nextra = []\n", package("base"));
        let user = format!(
            "{}publish = false\n\n[dependencies]\nbase = {{ path = \"../base\", features = [\"extra\"] }}\n",
            package("user")
        );
        let leaf =
            format!("{}\n[dependencies]\nbase = {{ path = \"../base\", version = \"0.1.0\" }}\n", package("leaf"));
        let dir = crate::testutil::scratch(
            name,
            &[
                ("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"base\", \"user\", \"leaf\"]\n"),
                ("base/Cargo.toml", &base),
                ("base/src/lib.rs", base_lib),
                ("user/Cargo.toml", &user),
                ("user/src/lib.rs", "pub use base::extra;\n"),
                ("leaf/Cargo.toml", &leaf),
                ("leaf/src/lib.rs", leaf_lib),
            ],
        );
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(&dir);
        xshell::cmd!(sh, "cargo generate-lockfile --offline").quiet().ignore_stderr().run().unwrap();
        let meta = xshell::cmd!(sh, "cargo metadata --format-version 1 --no-deps --locked").quiet().read().unwrap();
        let packages = crate::workspace::parse_metadata(&meta).unwrap();
        (dir, crate_checks(&packages, &Affected::all("test"), &["1.85".to_owned()]))
    }

    const BASE: &str = "/// The answer.\npub fn answer() -> u32 { 42 }\n\n/// Only with `extra`.\n#[cfg(feature = \"extra\")]\npub fn extra() {}\n";
    const LEAF: &str = "/// Twice the answer.\npub fn twice() -> u32 { base::answer() * 2 }\n";

    fn run(steps: &[Step], name: &str, dir: &Utf8Path) -> (bool, String) {
        let step = steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no step {name}"));
        crate::testutil::run_step_in(step, dir, None)
    }

    /// The planted violation: a doc link to an item that does not exist. The docs step fails naming it.
    #[test]
    fn a_broken_intra_doc_link_fails_the_docs_step() {
        let (dir, steps) = scratch_workspace("docs-ok", BASE, LEAF);
        let (ok, text) = run(&steps, "docs", &dir);
        assert!(ok, "the clean workspace documents: {text}");
        std::fs::remove_dir_all(&dir).unwrap();
        let (dir, steps) = scratch_workspace("docs-broken", &format!("/// Like [`Missing`].\n{BASE}"), LEAF);
        let (ok, text) = run(&steps, "docs", &dir);
        assert!(!ok, "{text}");
        assert!(text.contains("unresolved link to `Missing`") && text.contains("base/src/lib.rs:1"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The planted violation: `leaf` calls a function of `base` that only `user` enables. The workspace builds
    /// (features unify), `leaf` alone does not, and its step names the call.
    #[test]
    fn a_crate_that_builds_only_with_a_feature_another_crate_enables_fails_alone() {
        let leaky = format!("{LEAF}\npub fn leak() {{ base::extra() }}\n");
        let (dir, steps) = scratch_workspace("alone", BASE, &leaky);
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(&dir);
        xshell::cmd!(sh, "cargo check --workspace --quiet --target-dir target/lint-alone")
            .quiet()
            .run()
            .expect("the workspace as a whole builds");
        assert!(run(&steps, "alone: base", &dir).0 && run(&steps, "alone: user", &dir).0);
        let (ok, text) = run(&steps, "alone: leaf", &dir);
        assert!(!ok, "{text}");
        assert!(
            text.contains("cannot find function `extra` in crate `base`") && text.contains("leaf/src/lib.rs:4"),
            "{text}"
        );
        // Each feature of a published crate alone: `base` with `extra` and without any both build.
        assert!(run(&steps, "features: base (feature extra)", &dir).0);
        assert!(run(&steps, "features: base (no default features)", &dir).0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The planted violation: `base` promises rust-version 1.85 and calls `u32::is_multiple_of` (Rust 1.87).
    /// The MSRV step builds it with 1.85 (rustup installs it when missing) and fails naming the call.
    #[test]
    #[ignore = "heavy part (installs the MSRV toolchain when missing): cargo xtask test --part heavy"]
    fn an_api_newer_than_the_msrv_fails_the_msrv_step() {
        let newer = format!("{BASE}\n/// Even.\npub fn even(n: u32) -> bool {{ n.is_multiple_of(2) }}\n");
        let (dir, steps) = scratch_workspace("msrv", &newer, LEAF);
        let ctx = crate::testutil::ctx(&dir);
        let packages = crate::workspace::workspace_packages(&ctx).unwrap();
        assert_eq!(msrv_toolchains(&ctx, &packages), [Ok("1.85".to_owned())]);
        assert!(run(&steps, "alone: base", &dir).0, "the newer API builds on the pinned toolchain");
        let (ok, text) = run(&steps, "msrv: rust 1.85", &dir);
        assert!(!ok, "{text}");
        assert!(text.contains("is_multiple_of") && text.contains("base/src/lib.rs:9"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_are_checked_offline_here_and_online_in_ci() {
        let files = ["README.md".to_owned(), "docs/a.md".to_owned()];
        assert_eq!(
            link_check(&files, false).command_line(),
            "lychee --no-progress --include-fragments --offline README.md docs/a.md"
        );
        assert!(!link_check(&files, true).command_line().contains("--offline"));
    }

    /// A broken relative link and a missing anchor planted in a scratch copy: the links step fails, naming both.
    #[test]
    fn a_broken_link_or_anchor_fails_the_links_step() {
        let dir = crate::testutil::temp_dir("links");
        std::fs::write(dir.join("a.md"), "# A\n\n[gone](gone.md) [anchor](b.md#nowhere) [fine](b.md#real-heading)\n")
            .unwrap();
        std::fs::write(dir.join("b.md"), "# B\n\n## Real heading\n").unwrap();
        let tools = crate::tools::Tools::new(&crate::project_root(), false);
        let sh = xshell::Shell::new().unwrap();
        tools.ensure(&sh, &["lychee"]).expect("provision lychee");
        let lychee = tools.probe(&sh, crate::config::tool::LYCHEE.tool()).unwrap().path.unwrap();
        let crate::plan::Action::Run { args, .. } = link_check(&["a.md".into(), "b.md".into()], false).action else {
            panic!()
        };
        sh.change_dir(&dir);
        let out = xshell::cmd!(sh, "{lychee} {args...}").ignore_status().quiet().output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("gone.md (at 3:1)") && text.contains("b.md#nowhere"), "{text}");
        assert!(!text.contains("#real-heading"), "a real anchor passes: {text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fix_plan_writes_one_step_at_a_time() {
        let plan = plan(true, &Affected::all("test"), &test_scope());
        assert!(plan.steps.iter().all(|s| !s.concurrent));
        assert_eq!(plan.steps[0].command_line(), "cargo fmt");
        assert!(plan.steps.iter().any(|s| s.command_line().starts_with("typos --write-changes --force-exclude ")));
    }

    #[test]
    fn changed_since_runs_only_what_the_change_needs() {
        let py_only = Affected {
            python: true,
            examples: true,
            files: vec!["examples/python/a.py".into()],
            ..Affected::default()
        };
        // No TOML file changed: taplo has nothing to format.
        let scope = Scope { toml: vec![], ..test_scope() };
        let p = plan(false, &py_only, &scope);
        assert_eq!(names(&p), ["ruff check", "ruff format", "typos"]);
        assert_eq!(
            p.steps[2].command_line(),
            "typos --format brief --force-exclude --exclude /.tools --exclude /target --exclude \
             /.github/workflows/pr-gates.yml examples/python/a.py"
        );

        let leaf = Affected {
            crates: BTreeSet::from(["reel-cli".to_owned()]),
            files: vec!["crates/reel-cli/src/main.rs".into()],
            ..Affected::default()
        };
        let p = plan(false, &leaf, &scope);
        assert_eq!(names(&p), ["clippy", "rustfmt", "typos"]);
        assert_eq!(p.steps[0].command_line(), "cargo clippy --all-targets --locked --package reel-cli -- -D warnings");
    }

    /// What the engine adds to the file linters' command lines: its own directories and generated files, excluded
    /// with each tool's option that adds to the repository's excludes; explicit files through the repository's
    /// excludes too (`--force-exclude`, taplo's own filter); never a file of the engine's in a list.
    #[test]
    fn the_file_linters_keep_the_repository_s_excludes_and_skip_the_engine_s_files() {
        let p = plan(false, &Affected::all("t"), &test_scope());
        let line = |p: &Plan, name: &str| p.steps.iter().find(|s| s.name == name).unwrap().command_line();
        let ruff_config = "'extend-exclude = [\"./.tools\", \"./target\"]'";
        assert_eq!(line(&p, "ruff check"), format!("ruff check --output-format concise --config {ruff_config} ."));
        assert_eq!(line(&p, "ruff format"), format!("ruff format --diff --config {ruff_config} ."));
        assert_eq!(line(&p, "taplo fmt"), "RUST_LOG=warn taplo fmt --colors never --check --diff Cargo.toml ci.toml");
        let excludes = "--exclude /.tools --exclude /target --exclude /.github/workflows/pr-gates.yml";
        assert_eq!(line(&p, "typos"), format!("typos --format brief --force-exclude {excludes}"));
        // The fixers write only where the checks look.
        let f = plan(true, &Affected::all("t"), &test_scope());
        assert_eq!(line(&f, "ruff check --fix"), format!("ruff check --fix --config {ruff_config} ."));
        assert_eq!(line(&f, "taplo fmt"), "RUST_LOG=warn taplo fmt Cargo.toml ci.toml");
        assert_eq!(line(&f, "typos --write-changes"), format!("typos --write-changes --force-exclude {excludes}"));
        // The printed fix explains deliberate misspellings before proposing the rewrite.
        let hint = &p.steps.iter().find(|s| s.name == "typos").unwrap().hint;
        assert!(hint.contains("extend-exclude") && hint.contains("does not exclude"), "{hint}");
        // A change: the engine's files and the generated workflow are not named; only those changed: no typos at
        // all (with no file it would walk the whole repository).
        let files = |f: &[&str]| Affected { files: f.iter().map(|f| (*f).to_owned()).collect(), ..Affected::default() };
        let engine = [".tools/venv/lib/x.py", "target/debug/x.rs", ".github/workflows/pr-gates.yml"];
        // No TOML file: no taplo (which, given none, would walk every directory).
        let no_toml = Scope { toml: vec![], ..test_scope() };
        let p = plan(false, &files(&[&engine[..], &["docs/a.md"]].concat()), &no_toml);
        assert_eq!(line(&p, "typos"), format!("typos --format brief --force-exclude {excludes} docs/a.md"));
        assert_eq!(names(&plan(false, &files(&engine), &no_toml)), Vec::<&str>::new());
        assert!(!names(&plan(false, &Affected::all("t"), &no_toml)).contains(&"taplo fmt"));
        assert!(test_scope().skips("./target/x") && test_scope().skips(".tools") && !test_scope().skips("targets/x"));
    }

    /// The provisioned ruff, taplo and typos, as planned, on a scratch repository whose own configs exclude
    /// `data/` (deliberately misspelt test data, unformatted files) and that does not gitignore `.tools/` or
    /// `target/`: nothing excluded or the engine's is judged or rewritten, whether the files are walked or named.
    #[test]
    fn the_file_linters_judge_only_what_the_repository_s_configs_select() {
        let unformatted = "import os\nx=1\n";
        // The misspellings are spelt at run time, so that this file passes typos itself.
        let typo = ["t", "eh"].concat();
        let (fixture, note) = (format!("{typo} {}\n", ["rec", "ieve"].concat()), format!("{typo}\n"));
        let dir = crate::testutil::scratch(
            "lint-scope",
            &[
                ("ruff.toml", "extend-exclude = [\"data\"]\n"),
                ("taplo.toml", "exclude = [\"data/**\"]\n"),
                ("_typos.toml", "[files]\nextend-exclude = [\"data/\"]\n"),
                ("good.py", "x = 1\n"),
                ("a.toml", "a = 1\n"),
                ("data/fixture.txt", &fixture),
                ("data/bad.py", unformatted),
                ("data/d.toml", "a  =   1\n"),
                (".tools/venv/lib/site.py", unformatted),
                (".tools/venv/pkg.toml", "a  =   1\n"),
                (".tools/venv/notes.txt", &note),
                ("target/gen.py", unformatted),
                ("target/gen.toml", "a  =   1\n"),
                ("target/notes.txt", &note),
            ],
        );
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(&dir);
        xshell::cmd!(sh, "git init --quiet").run().unwrap();
        let tools = crate::tools::Tools::new(&crate::project_root(), false);
        tools.ensure(&sh, &["ruff", "taplo", "typos"]).expect("provision the linters");
        let bin = |t: &str| tools.probe(&sh, crate::config::tool_named(t)).unwrap().path.unwrap();
        let ctx = crate::testutil::ctx(&dir);
        let run = |p: &Plan, name: &str| {
            let step = p.steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no step {name}"));
            let tool = step.tools[0];
            crate::testutil::run_step_in(step, &dir, Some(&bin(tool)))
        };
        // Everything: the walks and taplo's tracked and new files.
        let all = Affected::all("t");
        let s = scope(&ctx, &all).unwrap();
        // taplo's `exclude` is applied to the list the engine gives (taplo applies it to named files too, its
        // `include` only when it walks).
        assert_eq!(s.toml, ["_typos.toml", "a.toml", "ruff.toml", "taplo.toml"]);
        let p = plan(false, &all, &s);
        for step in ["ruff check", "ruff format", "taplo fmt", "typos"] {
            let (ok, text) = run(&p, step);
            assert!(ok, "{step}: {text}");
        }
        // A change that names the excluded files: still excluded, by the check and by the fixer.
        let changed = Affected {
            python: true,
            files: ["data/fixture.txt", "data/d.toml", "good.py", ".tools/venv/notes.txt"].map(String::from).to_vec(),
            ..Affected::default()
        };
        let s = scope(&ctx, &changed).unwrap();
        assert_eq!(s.toml, Vec::<String>::new(), "the changed TOML file is excluded: no taplo step");
        assert!(!plan(false, &changed, &s).steps.iter().any(|st| st.name == "taplo fmt"));
        let config_changed = Affected { files: vec!["taplo.toml".into()], ..Affected::default() };
        assert_eq!(
            scope(&ctx, &config_changed).unwrap().toml.len(),
            4,
            "a new taplo config: every TOML file it selects"
        );
        let (ok, text) = run(&plan(false, &changed, &s), "typos");
        assert!(ok, "typos: {text}");
        std::fs::write(dir.join("good.py"), format!("# {typo} answer\nx = 1\n")).unwrap();
        let (ok, text) = run(&plan(false, &changed, &s), "typos");
        assert!(!ok && text.contains("good.py:1:3") && !text.contains("fixture"), "{text}");
        let (ok, text) = run(&plan(true, &changed, &s), "typos --write-changes");
        assert!(ok, "{text}");
        assert_eq!(std::fs::read_to_string(dir.join("good.py")).unwrap(), "# the answer\nx = 1\n");
        assert_eq!(std::fs::read_to_string(dir.join("data/fixture.txt")).unwrap(), fixture);
        assert_eq!(std::fs::read_to_string(dir.join(".tools/venv/notes.txt")).unwrap(), note);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
