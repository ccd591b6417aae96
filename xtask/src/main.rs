//! `cargo xtask`: the CI system of this repository. See `cargo xtask --help` and CONTRIBUTING.md.

mod affected;
mod bench;
mod bootstrap;
mod ci;
mod cli;
mod config;
mod doctor;
mod gates;
mod github;
mod glob;
mod http;
mod lint;
mod manifest;
mod oidc;
mod package;
mod parallel;
mod plan;
mod release;
mod repo;
mod semver;
mod settings;
mod sha256;
mod sign;
mod store;
mod targets;
mod tempfiles;
mod test;
#[cfg(test)]
mod testutil;
mod tools;
mod upload;
mod wasm;
mod workflows;

use std::process::ExitCode;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::cli::{Global, Job};
use crate::plan::{JobFailed, Plan, RunOpts};
use crate::tools::Tools;

/// What every job gets: the repository root, one shell rooted there, the tools, the global options.
pub struct Ctx {
    pub root: Utf8PathBuf,
    /// The repository's `ci.toml` (or its absence: each job says which section it needs).
    pub settings: &'static settings::Loaded,
    pub sh: Shell,
    pub tools: Tools,
    pub global: Global,
    /// The subcommand's name, for messages.
    pub job: &'static str,
}

impl Ctx {
    fn new(global: Global, job: &'static str) -> Result<Ctx> {
        let root = project_root();
        if !root.join("Cargo.toml").is_file() {
            anyhow::bail!(
                "the repository root {root} has no Cargo.toml\nfix: XTASK_ROOT must name a checkout of this repository \
                 (or leave it unset to work on the checkout `cargo xtask` runs in)"
            );
        }
        let sh = Shell::new().context("creating a shell")?;
        check_current_repository(&sh, &root)?;
        // Every job says which checkout it works on (stderr: stdout may be one JSON document).
        eprintln!("xtask: repository {root}");
        sh.change_dir(&root);
        let settings = settings::init(&root)?;
        let tools = Tools::new(&root, global.offline);
        // Every step finds provisioned tools first.
        sh.set_var("PATH", tools.path_env());
        Ok(Ctx { root, settings, sh, tools, global, job })
    }

    /// Provisions the plan's tools (unless only printing it), then runs it.
    pub fn execute(&self, plan: &Plan) -> Result<()> {
        if !(self.global.dry_run || self.global.json) {
            self.tools.ensure(&self.sh, &plan.tools())?;
        }
        let opts = RunOpts {
            dry_run: self.global.dry_run,
            json: self.global.json,
            keep_going: self.global.keep_going,
            jobs: self.global.jobs,
            reproduce: reproduce_command(),
        };
        plan::execute(&self.sh, &self.root, plan, &opts).map(drop)
    }
}

/// The repository root, resolved at run time: `$XTASK_ROOT` (used to run a job on another checkout, e.g. a
/// fresh clone in the reproducibility check), else the parent of the `CARGO_MANIFEST_DIR` that `cargo run`
/// (the `cargo xtask` alias) sets for this invocation, else the directory this binary was compiled in. The
/// compiled-in path alone is wrong when one target directory serves several checkouts: the binary built for
/// one would work on the other.
pub fn project_root() -> Utf8PathBuf {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(root) = var("XTASK_ROOT") {
        return Utf8PathBuf::from(root);
    }
    let manifest_dir = var("CARGO_MANIFEST_DIR")
        .map(Utf8PathBuf::from)
        .filter(|d| d.join("Cargo.toml").is_file())
        .unwrap_or_else(|| Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.parent().map(Utf8Path::to_owned).unwrap_or(manifest_dir)
}

/// Refuses to run from inside another git repository than the root (a job would silently check, or with
/// `--fix` edit, a checkout the user is not looking at). `$XTASK_ROOT` says explicitly which one is meant.
fn check_current_repository(sh: &Shell, root: &Utf8Path) -> Result<()> {
    if std::env::var_os("XTASK_ROOT").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    let Ok(here) = xshell::cmd!(sh, "git rev-parse --show-toplevel").quiet().ignore_stderr().read() else {
        return Ok(()); // not in a git repository: nothing to confuse
    };
    let canon = |p: &Utf8Path| std::fs::canonicalize(p).ok();
    let (here, there) = (canon(Utf8Path::new(here.trim())), canon(root));
    match (here, there) {
        (Some(here), Some(there)) if here != there => Err(anyhow::anyhow!(
            "the current directory is in the repository {}, but this xtask works on {}\nfix: run `cargo xtask` from {}, \
             or set XTASK_ROOT={} to run this xtask on the current repository",
            here.display(),
            there.display(),
            there.display(),
            here.display()
        )),
        _ => Ok(()),
    }
}

/// This invocation as a command a person can paste.
fn reproduce_command() -> String {
    let args: Vec<String> = std::env::args().skip(1).map(|a| plan::quote(&a)).collect();
    format!("cargo xtask {}", args.join(" "))
}

fn main() -> ExitCode {
    let (global, job) = cli::parse();
    match run(global, job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(failed) = e.downcast_ref::<JobFailed>() {
                eprintln!("error: {failed}");
                ExitCode::from(1)
            } else {
                // `{:#}` prints the cause chain on one line, without a backtrace.
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

fn run(global: Global, job: Job) -> Result<()> {
    cli::check_combination(&global, &job)?;
    let ctx = Ctx::new(global, job.name())?;
    match job {
        Job::Lint { fix, changed_since } => lint::run(&ctx, fix, changed_since.as_deref()),
        Job::Test { parts, runner_args, changed_since } => {
            test::run(&ctx, &parts, &runner_args, changed_since.as_deref())
        }
        Job::Doctor { provision, tools } => doctor::run(&ctx, provision, &tools),
        Job::Gates(args) => gates::run(&ctx, &args),
        Job::Package(args) => package::run(&ctx, &args),
        Job::Upload(args) => upload::upload(&ctx, &args).map(drop),
        Job::Download(args) => upload::download(&ctx, &args),
        Job::Release(args) => release::run(&ctx, &args),
        Job::Sign { store, endpoint, commit, local_key } => {
            sign::run(&ctx, store.as_deref(), endpoint.as_deref(), commit.as_deref(), local_key)
        }
        Job::Workflows { check } => workflows::run(&ctx, check),
        Job::CiList => ci::list(ctx.global.json),
        Job::CiMatrix { platforms, github_output } => ci::matrix(&platforms, github_output),
        Job::Ci { job } => ci::run(&ctx, job.as_deref()),
        Job::Bench { cases, runs } => bench::run(&ctx, &cases, runs),
    }
}
