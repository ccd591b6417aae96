//! `cargo xtask download`: a commit's artifacts from the store into a directory, every one verified against
//! the manifest's sha256 (the release downloads the same way).

use anyhow::Result;
use camino::Utf8PathBuf;
use serde_json::json;

use crate::Ctx;
use crate::artifacts;
use crate::manifest::{self, Kind};

#[derive(Clone, Debug, Default)]
pub struct DownloadArgs {
    pub store: Option<String>,
    pub endpoint: Option<String>,
    pub commit: String,
    pub kinds: Vec<Kind>,
    pub out: Option<Utf8PathBuf>,
    pub allow_dirty: bool,
}

pub fn run(ctx: &Ctx, args: &DownloadArgs) -> Result<()> {
    let store = artifacts::open_store(ctx, args.store.as_deref(), args.endpoint.as_deref())?;
    let commit = &crate::workspace::resolve_commit(&ctx.sh, Some(&args.commit))?;
    let prefix = artifacts::commit_prefix(commit);
    let out = args.out.clone().unwrap_or_else(|| ctx.root.join(crate::config::DOWNLOADS_DIR).join(commit));
    if ctx.global.dry_run || ctx.global.json {
        let plan = json!({
            "job": "download",
            "store": store.describe(),
            "commit": commit,
            "reads": format!("{prefix}/{}, then every artifact it lists", manifest::FILE),
            "kinds": if args.kinds.is_empty() { vec!["all".to_owned()] } else { args.kinds.iter().map(|k| k.as_str().to_owned()).collect() },
            "writes": out.as_str(),
            "verifies": "every file's sha256 and size against the manifest",
        });
        return crate::plan::print_static(&plan, ctx.global.json);
    }
    let d = artifacts::download(ctx, &store, commit, &args.kinds, &out, args.allow_dirty)?;
    println!(
        "downloaded {} of {} artifacts of {} into {out}, every one verified against the manifest's sha256{}",
        d.fetched,
        d.manifest.artifacts.len(),
        &commit[..12],
        if d.reused > 0 {
            format!("; re-used {} verified copies from an earlier run (the store's objects still match)", d.reused)
        } else {
            String::new()
        }
    );
    Ok(())
}
