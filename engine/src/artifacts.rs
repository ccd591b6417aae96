//! A commit's artifacts in the store, for the jobs that read or write them: the store a job names (or the
//! settings' default), the commit's manifest there, its verified download, and PEP 503 names.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use camino::Utf8Path;
use xshell::Shell;

use crate::Ctx;
use crate::manifest::{self, Artifact, Kind, Manifest};
use crate::plan::JobFailed;
use crate::store::Store;
use crate::tempfiles;

/// The store's key prefix of a commit's artifacts: `commit/<sha>` (the manifest last, at `<prefix>/manifest.json`).
pub(crate) fn commit_prefix(commit: &str) -> String {
    format!("commit/{commit}")
}

/// The store key of a commit's manifest.
pub(crate) fn manifest_key(commit: &str) -> String {
    format!("{}/{}", commit_prefix(commit), manifest::FILE)
}

/// The store at `url` (else ci.toml's `[store] default`), through `endpoint` when given.
pub(crate) fn open_store(ctx: &Ctx, url: Option<&str>, endpoint: Option<&str>) -> Result<Store> {
    let default = match url {
        Some(_) => String::new(),
        None => ctx.settings.store(ctx.job)?.default.clone(),
    };
    // An empty --store is a mistake (an unset variable in a workflow), never "the local directory".
    if url.is_some_and(|u| u.trim().is_empty()) {
        bail!(
            "--store is empty (an unset variable, such as ARTIFACT_STORE?)\nfix: pass the store's URL, or leave --store \
             out for the store ci.toml names ([store] default)"
        );
    }
    let url = url.unwrap_or(&default);
    match endpoint.filter(|e| !e.is_empty()) {
        Some(e) => Store::parse_with(url, &ctx.root, Some(e)),
        None => Store::parse(url, &ctx.root),
    }
}

/// The PEP 503 normalized project name.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The store's manifest of a commit (under `prefix`) and its generation, or `None` when the upload never
/// finished.
pub(crate) fn fetch_manifest(
    sh: &Shell,
    store: &Store,
    prefix: &str,
    tmp: &Utf8Path,
) -> Result<Option<(Manifest, Option<String>)>> {
    Ok(fetch_manifest_bytes(sh, store, prefix, tmp)?.map(|s| (s.manifest, s.generation)))
}

/// A manifest as the store holds it.
pub(crate) struct Stored {
    pub manifest: Manifest,
    /// What a conditional replace of it names.
    pub generation: Option<String>,
    /// Its bytes (what a signature covers).
    pub bytes: Vec<u8>,
}

/// [`fetch_manifest`], with the bytes as the store held them.
pub(crate) fn fetch_manifest_bytes(sh: &Shell, store: &Store, prefix: &str, tmp: &Utf8Path) -> Result<Option<Stored>> {
    let key = format!("{prefix}/{}", manifest::FILE);
    let Some(head) = store.head(sh, &key)? else { return Ok(None) };
    let path = tempfiles::temp_file(tmp, "remote-manifest")?;
    if !store.get(sh, &key, &path)? {
        return Ok(None);
    }
    // Not `Manifest::read`: its fix is for a local package directory. A manifest the store gave us that does not
    // parse was cut short on the way, or the upload that wrote it is broken.
    let text = std::fs::read(path.path()).with_context(|| format!("reading the download of {key}"))?;
    let m = Manifest::parse(&String::from_utf8_lossy(&text)).map_err(|e| {
        JobFailed(format!(
            "{} {key} is not a valid manifest ({} bytes downloaded): {e:#}\nfix: run this again (a download cut \
             short); if it fails the same way, the stored object is broken: delete {key} from the store, then \
             upload the commit again (cargo xtask upload --commit {}) and sign it",
            store.describe(),
            text.len(),
            prefix.rsplit('/').next().unwrap_or(prefix)
        ))
    })?;
    Ok(Some(Stored { manifest: m, generation: head.generation, bytes: text }))
}

/// What [`download`] did.
pub(crate) struct Downloaded {
    pub manifest: Manifest,
    pub fetched: u64,
    pub reused: u64,
}

/// Reads the artifacts `m` lists (of `kinds`, all when empty) from `store` (under `prefix`) into `out`, each
/// checked against the manifest's sha256 and size; a verified copy in `out` is re-used while the store's object
/// still matches. Returns the manifest of what was kept (the caller writes it, last).
pub(crate) fn read_artifacts(
    ctx: &Ctx,
    store: &Store,
    prefix: &str,
    m: Manifest,
    kinds: &[Kind],
    out: &Utf8Path,
) -> Result<Downloaded> {
    let wanted: Vec<&Artifact> = m.artifacts.iter().filter(|a| kinds.is_empty() || kinds.contains(&a.kind)).collect();
    std::fs::create_dir_all(out).with_context(|| format!("creating {out}"))?;
    // What the store holds now: a verified local copy is re-used only while the store's object still matches
    // the manifest (size, and sha256 as listed), so a store changed after an earlier run is noticed.
    let listed = store.list(&ctx.sh, &format!("{prefix}/"))?;
    let fetched = AtomicU64::new(0);
    let reused = AtomicU64::new(0);
    let results = crate::parallel::map(&wanted, ctx.global.jobs.max(8), |a| -> Result<()> {
        let sh = &Shell::new()?;
        let dest = out.join(&a.path);
        let key = format!("{prefix}/{}", a.path);
        let Some(remote) = listed.get(&key) else {
            bail!("{} is in the manifest but not in the store", a.path);
        };
        let store_matches = remote.size == a.size && remote.sha256.as_deref() == Some(a.sha256.as_str());
        if store_matches && crate::sha256::file(&dest).is_ok_and(|(sha, _)| sha == a.sha256) {
            reused.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let parent = dest.parent().context("artifact has a parent dir")?;
        std::fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
        let part = tempfiles::temp_file(parent, &format!(".{}.part", dest.file_name().unwrap_or("x")))?;
        if !store.get(sh, &format!("{prefix}/{}", a.path), &part)? {
            bail!("{} is in the manifest but not in the store", a.path);
        }
        let (sha, size) = crate::sha256::file(&part)?;
        if sha != a.sha256 || size != a.size {
            return Err(anyhow!(
                "{}: the store's bytes have sha256 {sha} ({size} bytes) but the manifest says {} ({} bytes): tampered or corrupted; nothing was kept",
                a.path,
                a.sha256,
                a.size
            ));
        }
        std::fs::rename(&part, &dest).with_context(|| format!("renaming {part} to {dest}"))?;
        fetched.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    let errors: Vec<String> = results.into_iter().filter_map(|r| r.err().map(|e| format!("{e:#}"))).collect();
    if !errors.is_empty() {
        return Err(JobFailed(format!("download failed:\n  {}", errors.join("\n  "))).into());
    }
    let kept = Manifest { artifacts: wanted.into_iter().cloned().collect(), ..m };
    Ok(Downloaded { manifest: kept, fetched: fetched.load(Ordering::Relaxed), reused: reused.load(Ordering::Relaxed) })
}
