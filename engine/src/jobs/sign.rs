//! `cargo xtask sign`: signs the store's manifest of a commit (minisign-compatible, see `signature.rs`) and puts
//! the signature beside it.

use anyhow::{Context, Result, bail};

use crate::signature::{KEY_ENV, LOCAL_KEY_DIR, SIGNATURE_SUFFIX, local_key, parse_secret, sign, sign_with};

/// `cargo xtask sign`: signs the store's manifest of `commit` and uploads the signature beside it.
pub fn run(
    ctx: &crate::Ctx,
    store_url: Option<&str>,
    endpoint: Option<&str>,
    commit: Option<&str>,
    use_local_key: bool,
) -> Result<()> {
    let store = crate::artifacts::open_store(ctx, store_url, endpoint)?;
    let commit = crate::workspace::resolve_commit(&ctx.sh, commit)?;
    let key = crate::artifacts::manifest_key(&commit);
    if ctx.global.dry_run || ctx.global.json {
        let plan = serde_json::json!({
            "job": "sign",
            "store": store.describe(),
            "commit": commit,
            "reads": key,
            "writes": format!("{key}{SIGNATURE_SUFFIX}"),
            "key": if use_local_key { format!("the throwaway key in {LOCAL_KEY_DIR}") } else { format!("${KEY_ENV}") },
        });
        crate::plan::print_static(&plan, ctx.global.json)?;
        return Ok(());
    }
    let tmp = ctx.root.join(crate::tempfiles::DIR);
    let local = crate::tempfiles::temp_file(&tmp, "sign-manifest")?;
    if !store.get(&ctx.sh, &key, &local)? {
        bail!("{} has no manifest for {commit}\nfix: cargo xtask upload --commit {commit} first", store.describe());
    }
    let message = std::fs::read(&local).with_context(|| format!("reading {local}"))?;
    drop(local);
    let m = crate::manifest::Manifest::parse(&String::from_utf8_lossy(&message)).map_err(|e| {
        crate::plan::JobFailed(format!("the store's {key} is not a valid manifest: {e:#}; nothing was signed"))
    })?;
    // Sign only what the key says: a manifest of another commit substituted under commit/<sha>/ is refused.
    crate::manifest::check_binding(&m, &commit, None)
        .map_err(|e| crate::plan::JobFailed(format!("{e:#}\nnothing was signed")))?;
    let signature = if use_local_key {
        sign_with(&parse_secret(&local_key(&ctx.root)?)?, &message, &commit, &m.version)
    } else {
        sign(&message, &commit, &m.version)?
    };
    let sig_path = crate::tempfiles::temp_file(&tmp, "sign-signature")?;
    std::fs::write(&sig_path, &signature).with_context(|| format!("writing {sig_path}"))?;
    let meta = crate::store::PutMeta { content_type: "text/plain", cache_control: "no-cache" };
    let sha = crate::sha256::digest(signature.as_bytes());
    store.put(&ctx.sh, &format!("{key}{SIGNATURE_SUFFIX}"), &sig_path, &sha, &meta, None)?;
    println!(
        "signed the manifest of {} in {}: {key}{SIGNATURE_SUFFIX}",
        &commit[..12.min(commit.len())],
        store.describe()
    );
    Ok(())
}
