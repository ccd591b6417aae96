//! `cargo xtask sign`: signs the store's manifest of a commit (minisign-compatible, see `signature.rs`) and puts
//! the signature beside it. Its store operations are a plan (`store_plan`): `--dry-run` prints what then runs.

use anyhow::Result;

use crate::signature::{KEY_ENV, SIGNATURE_SUFFIX};
use crate::store_plan::{LOCAL_KEY, StorePlan};

/// `cargo xtask sign`: signs the store's manifest of `commit` and uploads the signature beside it.
pub(crate) fn run(
    ctx: &crate::Ctx,
    store_url: Option<&str>,
    endpoint: Option<&str>,
    commit: Option<&str>,
    use_local_key: bool,
) -> Result<()> {
    let store = crate::artifacts::open_store(ctx, store_url, endpoint)?;
    let commit = crate::workspace::resolve_commit(&ctx.sh, commit)?;
    let plan = StorePlan::sign(&store, &commit, if use_local_key { LOCAL_KEY } else { KEY_ENV });
    if ctx.global.dry_run || ctx.global.json {
        return plan.print(ctx.global.json);
    }
    crate::store_plan::execute(ctx, &store, &plan)?;
    let key = crate::artifacts::manifest_key(&commit);
    println!(
        "signed the manifest of {} in {}: {key}{SIGNATURE_SUFFIX}",
        &commit[..12.min(commit.len())],
        store.describe()
    );
    Ok(())
}
