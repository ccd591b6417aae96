//! The CI engine behind `cargo xtask`: every CI job of a Rust (+ Python + wasm) workspace is a subcommand, and the
//! GitHub workflows only call them. A repository adopts it with a dependency and a main of one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     xtask_engine::main(env!("CARGO_MANIFEST_DIR"))
//! }
//! ```
//!
//! and a `ci.toml` (`cargo xtask init` writes a first one). The jobs, their flags and ci.toml's keys:
//! `cargo xtask --help` and the repository's CONTRIBUTING.md.

mod affected;
mod artifacts;
mod bootstrap;
mod cli;
mod config;
mod ctx;
mod github;
mod glob;
mod http;
mod jobs;
mod lock;
mod manifest;
mod oidc;
mod parallel;
mod pipeline;
mod plan;
mod pyproject;
mod root;
mod semver;
mod settings;
mod sha256;
mod signature;
mod store;
mod store_plan;
mod targets;
mod tempfiles;
#[cfg(test)]
mod testutil;
mod tools;
mod wasm;
mod wheel;
mod wheel_diff;
mod workspace;

use std::process::ExitCode;

use anyhow::Result;

use crate::ctx::Ctx;
use crate::ctx::Global;
use crate::jobs::Job;
use crate::plan::JobFailed;
#[cfg(test)]
use crate::root::project_root;

/// Runs the `cargo xtask` command line of this process and returns its exit code: 0 done, 1 a job failed (its
/// steps say which and how to reproduce it), 2 bad input (one line of cause and the fix).
///
/// `xtask_manifest_dir` is the calling xtask crate's `env!("CARGO_MANIFEST_DIR")`: the repository is its parent
/// (unless `$XTASK_ROOT` or cargo's `CARGO_MANIFEST_DIR` of this run say otherwise), wherever the engine itself
/// was compiled.
pub fn main(xtask_manifest_dir: &str) -> ExitCode {
    let (global, job) = cli::parse();
    match run(xtask_manifest_dir, global, job) {
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

fn run(xtask_manifest_dir: &str, global: Global, job: Job) -> Result<()> {
    cli::check_combination(&global, &job)?;
    let ctx = Ctx::new(root::repository_root(xtask_manifest_dir), global, job.name())?;
    jobs::run(&ctx, job)
}
