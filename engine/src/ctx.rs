//! What every job gets: the repository root, its settings, one shell rooted there, the tools and the global
//! options; and how the root is found.

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use xshell::Shell;

use crate::plan::{self, Plan, RunOpts};
use crate::root::check_current_repository;
use crate::settings;
use crate::tools::Tools;

/// Options every job shares.
#[derive(Clone, Debug)]
pub(crate) struct Global {
    pub dry_run: bool,
    pub json: bool,
    pub keep_going: bool,
    pub offline: bool,
    pub jobs: usize,
}

/// What every job gets: the repository root, one shell rooted there, the tools, the global options.
pub(crate) struct Ctx {
    pub root: Utf8PathBuf,
    /// The repository's `ci.toml` (or its absence: each job says which section it needs).
    pub settings: &'static settings::Loaded,
    pub sh: Shell,
    pub tools: Tools,
    pub global: Global,
    /// The subcommand's name, for messages.
    pub job: &'static str,
    /// `cargo metadata --no-deps` of the workspace, run once, when a job first asks (see `workspace`).
    pub metadata: std::sync::OnceLock<String>,
}

impl Ctx {
    pub(crate) fn new(root: Utf8PathBuf, global: Global, job: &'static str) -> Result<Ctx> {
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
        // Loaded once per process and passed on: no job reads it from anywhere but its `Ctx`.
        let settings: &'static settings::Loaded = Box::leak(Box::new(settings::load(&root)?));
        // The linters the repository pins to its own versions replace the engine's for this run.
        let tools = Tools::new(&root, global.offline).with_pins(settings.lint_pins());
        // Every step finds provisioned tools first.
        sh.set_var("PATH", tools.path_env());
        Ok(Ctx { root, settings, sh, tools, global, job, metadata: std::sync::OnceLock::new() })
    }

    /// Provisions the plan's tools (unless only printing it), then runs it.
    pub(crate) fn execute(&self, plan: &Plan) -> Result<()> {
        self.execute_timed(plan).map(drop)
    }

    /// [`Ctx::execute`], returning each step's outcome and time.
    pub(crate) fn execute_timed(&self, plan: &Plan) -> Result<Vec<plan::StepResult>> {
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
        // The shared build cache around a job's compiles (`ci` runs jobs, each with its own).
        let compiles = plan.tools().contains(&crate::config::tool::CARGO.as_str());
        let cache = if compiles && self.job != "ci" && !(opts.dry_run || opts.json) {
            crate::cache::start(&self.sh, &self.tools, self.settings, &self.root)?
        } else {
            None
        };
        let ran = plan::execute(&self.sh, &self.root, plan, &opts);
        if let Some(cache) = cache {
            cache.finish(&self.sh, self.job);
        }
        ran
    }
}

/// This invocation as a command a person can paste.
pub(crate) fn reproduce_command() -> String {
    let args: Vec<String> = std::env::args().skip(1).map(|a| plan::quote(&a)).collect();
    format!("cargo xtask {}", args.join(" "))
}
