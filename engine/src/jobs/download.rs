//! `cargo xtask download`: a commit's artifacts from the store into a directory, every one verified against
//! the manifest's sha256 (the release downloads the same way).

use anyhow::Result;

use crate::Ctx;
use crate::artifacts;
use crate::flags;
use crate::store_plan::StorePlan;

pub(crate) fn run(ctx: &Ctx, args: &flags::Download) -> Result<()> {
    let store = artifacts::open_store(ctx, args.store.as_deref(), args.endpoint.as_deref())?;
    let commit = &crate::workspace::resolve_commit(&ctx.sh, Some(&args.commit))?;
    let out = args.out.clone().unwrap_or_else(|| ctx.root.join(crate::config::DOWNLOADS_DIR).join(commit));
    let plan = StorePlan::download(&store, commit, &args.kind_list(), &out, args.allow_dirty);
    if ctx.global.dry_run || ctx.global.json {
        return plan.print(ctx.global.json);
    }
    let d = crate::store_plan::execute(ctx, &store, &plan)?;
    let kept = d.manifest.as_ref().map_or(0, |m| m.artifacts.len());
    println!(
        "downloaded {} of {kept} artifacts of {} into {out}, every one verified against the manifest's sha256{}",
        d.fetched,
        &commit[..12],
        if d.reused > 0 {
            format!("; re-used {} verified copies from an earlier run (the store's objects still match)", d.reused)
        } else {
            String::new()
        }
    );
    Ok(())
}
