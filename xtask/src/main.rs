//! `cargo xtask`: the CI system of this repository. See `cargo xtask --help` and CONTRIBUTING.md.

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

pub use crate::ctx::Ctx;
use crate::ctx::Global;
use crate::jobs::Job;
use crate::plan::JobFailed;
pub use crate::root::project_root;

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
    jobs::run(&ctx, job)
}
