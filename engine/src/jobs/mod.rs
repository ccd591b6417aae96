//! The jobs: one module per `cargo xtask` subcommand, named like it. A job reads its flags, builds its plan
//! from the services beside this folder (plan and runner, tools, settings, store, manifest, workspace facts,
//! affected, http) and runs it. Jobs do not call each other: what two jobs share is a service.

pub(crate) mod bench;
pub(crate) mod ci;
pub(crate) mod doctor;
pub(crate) mod download;
pub(crate) mod gates;
pub(crate) mod init;
pub(crate) mod lint;
pub(crate) mod package;
pub(crate) mod release;
pub(crate) mod sign;
pub(crate) mod sizes;
pub(crate) mod test;
pub(crate) mod upload;
pub(crate) mod workflows;

use anyhow::Result;

use crate::Ctx;
use crate::flags::{CiCmd, XtaskCmd};

/// Runs the job: each subcommand is one call into the module of its name, with its own flags.
pub(crate) fn run(ctx: &Ctx, job: XtaskCmd) -> Result<()> {
    match job {
        XtaskCmd::Lint(f) => lint::run(ctx, f.fix, f.changed_since.as_deref()),
        XtaskCmd::Test(f) => {
            test::shard::check_flags(&f)?;
            match (&f.join, &f.archive, f.shard) {
                (Some(dir), _, _) => test::shard::join(ctx, dir),
                (None, None, None) => test::run(ctx, &f),
                (None, archive, shard) => test::shard::run(ctx, archive.as_deref(), shard, f.changed_since.as_deref()),
            }
        }
        XtaskCmd::Doctor(f) => doctor::run(ctx, f.provision, &f.tool),
        XtaskCmd::Gates(f) => gates::run(ctx, &f),
        XtaskCmd::Package(f) => package::run(ctx, &f),
        XtaskCmd::Upload(f) => upload::upload(ctx, &f).map(drop),
        XtaskCmd::Download(f) => download::run(ctx, &f),
        XtaskCmd::Release(f) => release::run(ctx, &f),
        XtaskCmd::Sizes(f) => sizes::run(ctx, &f),
        XtaskCmd::Sign(f) => {
            sign::run(ctx, f.store.as_deref(), f.endpoint.as_deref(), f.commit.as_deref(), f.local_key)
        }
        XtaskCmd::Workflows(f) => workflows::run(ctx, f.check),
        XtaskCmd::Init(f) => init::run(ctx, f.force),
        XtaskCmd::Ci(f) => match f.subcommand {
            CiCmd::List(_) => ci::list(ctx),
            CiCmd::Plan(f) => ci::plan_job(ctx, &f),
            CiCmd::Matrix(f) => ci::matrix(ctx, f.platforms.as_deref()),
            CiCmd::Run(f) => ci::run(ctx, &f),
            CiCmd::Engine(f) => ci::engine(ctx, &f.out),
        },
        XtaskCmd::Bench(f) => bench::run(ctx, &f.cases, f.runs.map_or(3, |r| r.0)),
    }
}
