//! The jobs: one module per `cargo xtask` subcommand, named like it. A job reads its flags, builds its plan
//! from the services beside this folder (plan and runner, tools, settings, store, manifest, workspace facts,
//! affected, http) and runs it. Jobs do not call each other: what two jobs share is a service.

pub mod bench;
pub mod ci;
pub mod doctor;
pub mod download;
pub mod gates;
pub mod init;
pub mod lint;
pub mod package;
pub mod release;
pub mod sign;
pub mod test;
pub mod upload;
pub mod workflows;

use anyhow::Result;

use crate::Ctx;

/// A subcommand and its flags, as `cli` parsed them.
#[derive(Clone, Debug)]
pub enum Job {
    Lint { fix: bool, changed_since: Option<String> },
    Test { parts: Vec<test::Part>, runner_args: Vec<String>, changed_since: Option<String> },
    Doctor { provision: bool, tools: Vec<String> },
    Gates(gates::Args),
    Package(package::Args),
    Upload(upload::UploadArgs),
    Download(download::DownloadArgs),
    Sign { store: Option<String>, endpoint: Option<String>, commit: Option<String>, local_key: bool },
    Release(release::Args),
    Workflows { check: bool },
    Init { force: bool },
    CiList,
    CiPlan(ci::PlanArgs),
    CiMatrix { platforms: Option<String> },
    Ci(ci::RunArgs),
    CiEngine { out: camino::Utf8PathBuf },
    Bench { cases: Vec<String>, runs: usize },
}

impl Job {
    /// The subcommand's name (as typed).
    pub fn name(&self) -> &'static str {
        match self {
            Job::Lint { .. } => "lint",
            Job::Test { .. } => "test",
            Job::Doctor { .. } => "doctor",
            Job::Gates(_) => "gates",
            Job::Package(_) => "package",
            Job::Upload(_) => "upload",
            Job::Download(_) => "download",
            Job::Sign { .. } => "sign",
            Job::Release(_) => "release",
            Job::Workflows { .. } => "workflows",
            Job::Init { .. } => "init",
            Job::CiList | Job::CiPlan(_) | Job::CiMatrix { .. } | Job::Ci(_) | Job::CiEngine { .. } => "ci",
            Job::Bench { .. } => "bench",
        }
    }
}

/// Runs the job: each subcommand is one call into the module of its name.
pub fn run(ctx: &Ctx, job: Job) -> Result<()> {
    match job {
        Job::Lint { fix, changed_since } => lint::run(ctx, fix, changed_since.as_deref()),
        Job::Test { parts, runner_args, changed_since } => {
            test::run(ctx, &parts, &runner_args, changed_since.as_deref())
        }
        Job::Doctor { provision, tools } => doctor::run(ctx, provision, &tools),
        Job::Gates(args) => gates::run(ctx, &args),
        Job::Package(args) => package::run(ctx, &args),
        Job::Upload(args) => upload::upload(ctx, &args).map(drop),
        Job::Download(args) => download::run(ctx, &args),
        Job::Release(args) => release::run(ctx, &args),
        Job::Sign { store, endpoint, commit, local_key } => {
            sign::run(ctx, store.as_deref(), endpoint.as_deref(), commit.as_deref(), local_key)
        }
        Job::Workflows { check } => workflows::run(ctx, check),
        Job::Init { force } => init::run(ctx, force),
        Job::CiList => ci::list(ctx),
        Job::CiPlan(args) => ci::plan_job(ctx, &args),
        Job::CiMatrix { platforms } => ci::matrix(ctx, platforms.as_deref()),
        Job::Ci(args) => ci::run(ctx, &args),
        Job::CiEngine { out } => ci::engine(ctx, &out),
        Job::Bench { cases, runs } => bench::run(ctx, &cases, runs),
    }
}
