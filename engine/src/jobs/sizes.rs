//! `cargo xtask sizes`: the size of every artifact of a commit against the newest main-branch commit before it
//! that has a manifest in the store. Nothing is built: both manifests are read (the commit's from this machine's
//! packages or the store, the base's from the store), so the report costs a few requests. Each artifact is
//! matched by kind, name, platform and wheel tag (its path carries the version, which changes); a change of
//! `[sizes] threshold-percent` or more, an added and a removed artifact are flagged. The report is a table and a
//! chart (Markdown, a mermaid bar chart), printed, added to GitHub's job summary and written as a comment body
//! that a workflow step can post.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use xshell::cmd;

use crate::manifest::{Artifact, Manifest};
use crate::plan::printable;
use crate::store::Store;
use crate::{Ctx, artifacts, flags};

/// How far back on the main branch a manifest is looked for.
const LOOK_BACK: usize = 50;

pub(crate) fn run(ctx: &Ctx, f: &flags::Sizes) -> Result<()> {
    let store = artifacts::open_store(ctx, f.store.as_deref(), f.endpoint.as_deref())?;
    let commit = rev_parse(ctx, f.commit.as_deref().unwrap_or("HEAD"))?;
    let out = f.out.clone().unwrap_or_else(|| ctx.root.join(crate::config::CI_DIR).join("sizes.md"));
    let out = if out.is_absolute() { out } else { ctx.root.join(out) };
    let threshold = ctx.settings.size_threshold();
    if ctx.global.dry_run || ctx.global.json {
        // What it would compare and where the report goes; no store is read, no file written.
        let plan = serde_json::json!({
            "job": "sizes",
            "commit": commit,
            "base": f.base.clone().unwrap_or_else(|| "the newest main-branch commit before it with a manifest".into()),
            "store": store.describe(),
            "threshold_percent": threshold,
            "measure": f.measure,
            "report": out.as_str(),
        });
        return crate::plan::print_static(&plan, ctx.global.json);
    }
    let report = report(ctx, &store, &commit, f, threshold)?;
    println!("{report}");
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
    }
    std::fs::write(&out, &report).with_context(|| format!("writing {out}"))?;
    if let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        std::fs::OpenOptions::new().append(true).create(true).open(&path)?.write_all(report.as_bytes())?;
    }
    eprintln!("the report is in {out} (a comment body)");
    Ok(())
}

/// The report of `commit` against its base (Markdown).
fn report(ctx: &Ctx, store: &Store, commit: &str, f: &flags::Sizes, threshold: f64) -> Result<String> {
    let (this, measured) = match read_manifest(ctx, store, commit)? {
        Some(m) => (m, None),
        None if f.measure => {
            let m = measure::measure(ctx, commit)?;
            (m.manifest.clone(), Some(m))
        }
        None => {
            return Ok(format!(
                "### Artifact sizes\n\nCommit `{}` has no manifest in {} or in this machine's packages: nothing to \
                 compare (package it, run create-packages for it, or pass --measure).\n",
                short(commit),
                printable(&store.describe())
            ));
        }
    };
    let base = match &f.base {
        Some(b) => Some(rev_parse(ctx, b)?),
        None => newest_on_main(ctx, store, commit)?,
    };
    let Some(base) = base else {
        return Ok(format!(
            "### Artifact sizes\n\nNo main-branch commit of the last {LOOK_BACK} before `{}` has a manifest in {}: \
             nothing to compare with.\n",
            short(commit),
            printable(&store.describe())
        ));
    };
    let base_m = read_manifest(ctx, store, &base)?
        .with_context(|| format!("the base commit {base} has no manifest in the store"))?;
    Ok(match measured {
        None => render(&compare(&base_m, &this), commit, &base, threshold),
        Some(m) => {
            let notes: String = m.notes.iter().map(|n| format!("- {n}\n")).collect();
            render(&compare(&m.comparable(&base_m), &this), commit, &base, threshold) + "\n" + &notes
        }
    })
}

fn rev_parse(ctx: &Ctx, rev: &str) -> Result<String> {
    if rev.starts_with('-') || rev.is_empty() {
        bail!("`{}` is no revision (it would read as an option of git)\nfix: name a commit", printable(rev));
    }
    let sh = &ctx.sh;
    let arg = format!("{rev}^{{commit}}");
    cmd!(sh, "git rev-parse --verify --quiet {arg}")
        .quiet()
        .read()
        .map(|s| s.trim().to_owned())
        .map_err(|_| anyhow::anyhow!("`{}` is no commit here\nfix: fetch it, or name another", printable(rev)))
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A commit's manifest: this machine's packages first (a commit packaged here), else the store's.
fn read_manifest(ctx: &Ctx, store: &Store, commit: &str) -> Result<Option<Manifest>> {
    let local = ctx.root.join(crate::config::PACKAGES_DIR).join(commit).join(crate::manifest::FILE);
    if local.is_file() {
        // Judged like the store's: the manifest must be this commit's, whatever its directory is called.
        let m = Manifest::read(&local)?;
        crate::manifest::check_binding(&m, commit, None)?;
        return Ok(Some(m));
    }
    let dir = crate::tempfiles::dir_of(&ctx.sh);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    crate::tempfiles::sweep(&dir);
    let dest = crate::tempfiles::temp_file(&dir, "manifest.json")?;
    if !store.get(&ctx.sh, &artifacts::manifest_key(commit), dest.path())? {
        return Ok(None);
    }
    let m = Manifest::read(dest.path())?;
    crate::manifest::check_binding(&m, commit, None)?;
    Ok(Some(m))
}

/// The newest commit on the main branch before `commit` (its merge-base with the main branch; for a commit on
/// the main branch, its parent) whose manifest is in the store, looking back [`LOOK_BACK`] first-parent commits.
fn newest_on_main(ctx: &Ctx, store: &Store, commit: &str) -> Result<Option<String>> {
    let sh = &ctx.sh;
    let main = ctx.settings.settings.gates.as_ref().map_or("main", |g| g.main_branch.as_str());
    let main_ref = [format!("origin/{main}"), main.to_owned()]
        .into_iter()
        .find(|r| cmd!(sh, "git rev-parse --verify --quiet {r}").quiet().ignore_stdout().run().is_ok());
    let Some(main_ref) = main_ref else {
        bail!("no branch {main} (nor origin/{main}) here\nfix: fetch the main branch, or pass --base REV");
    };
    if cmd!(sh, "git rev-parse --is-shallow-repository").quiet().read()?.trim() == "true" {
        bail!(
            "this clone's history is shallow: the main branch cannot be walked back to a manifest\nfix: fetch the \
             history (`git fetch --unshallow`; actions/checkout with fetch-depth: 0), or pass --base REV"
        );
    }
    let base = cmd!(sh, "git merge-base {commit} {main_ref}").quiet().read()?.trim().to_owned();
    let start = if base == commit { format!("{commit}~1") } else { base };
    if rev_parse(ctx, &start).is_err() {
        return Ok(None); // the first commit: nothing before it
    }
    let look_back = LOOK_BACK.to_string();
    let candidates = cmd!(sh, "git rev-list --first-parent --max-count {look_back} {start}").quiet().read()?;
    for c in candidates.lines() {
        if store.head(sh, &artifacts::manifest_key(c))?.is_some() {
            return Ok(Some(c.to_owned()));
        }
    }
    Ok(None)
}

/// One artifact in the two manifests.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    /// `kind name (platform, tag)`.
    pub what: String,
    pub base: Option<u64>,
    pub this: Option<u64>,
}

impl Row {
    /// The change in percent (None: added or removed).
    pub(crate) fn percent(&self) -> Option<f64> {
        match (self.base, self.this) {
            (Some(b), Some(t)) if b > 0 => Some((t as f64 - b as f64) / b as f64 * 100.0),
            (Some(0), Some(0)) => Some(0.0),
            _ => None, // added, removed, or grown from nothing: flagged
        }
    }
    /// What the change column says.
    fn change(&self) -> String {
        match (self.percent(), self.base, self.this) {
            (Some(p), ..) => format!("{p:+.1} %"),
            (None, None, _) => "added".to_owned(),
            (None, _, None) => "removed".to_owned(),
            (None, Some(_), Some(_)) => "from 0 B".to_owned(),
        }
    }
    pub(crate) fn flagged(&self, threshold: f64) -> bool {
        self.percent().is_none_or(|p| p.abs() >= threshold)
    }
}

/// Every artifact of either manifest, matched by kind, name, platform and tag, in the manifest's order.
pub(crate) fn compare(base: &Manifest, this: &Manifest) -> Vec<Row> {
    let key = |a: &Artifact| {
        let mut k = format!("{} {}", a.kind.as_str(), a.name);
        let detail: Vec<&str> = [a.platform.as_deref(), a.tag.as_deref()].into_iter().flatten().collect();
        if !detail.is_empty() {
            k.push_str(&format!(" ({})", detail.join(", ")));
        }
        // A bundle is several files: each its own row.
        if a.kind == crate::manifest::Kind::Wasm {
            k.push_str(&format!(" {}", a.path.rsplit('/').next().unwrap_or_default()));
        }
        k
    };
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for a in &base.artifacts {
        rows.entry(key(a)).or_insert_with(|| Row { what: key(a), base: None, this: None }).base = Some(a.size);
    }
    for a in &this.artifacts {
        rows.entry(key(a)).or_insert_with(|| Row { what: key(a), base: None, this: None }).this = Some(a.size);
    }
    rows.into_values().collect()
}

/// Bytes as people read them.
fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.2} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// The report: a table (every artifact; flagged ones marked) and a bar chart of the changes.
pub(crate) fn render(rows: &[Row], commit: &str, base: &str, threshold: f64) -> String {
    let flagged = rows.iter().filter(|r| r.flagged(threshold)).count();
    let cell = |s: &str| printable(s).replace('|', "\\|");
    let mut md = format!(
        "### Artifact sizes: `{}` against `{}`\n\n{} artifacts; {flagged} changed by {threshold} % or more, added or \
         removed.\n\n| artifact | base | this commit | change |\n|---|---:|---:|---:|\n",
        short(commit),
        short(base),
        rows.len()
    );
    for r in rows {
        let size = |s: Option<u64>| s.map(human).unwrap_or_else(|| "—".to_owned());
        let change = r.change();
        let mark = if r.flagged(threshold) { " ⚠️" } else { "" };
        md.push_str(&format!("| {} | {} | {} | {change}{mark} |\n", cell(&r.what), size(r.base), size(r.this)));
    }
    let changed: Vec<(&Row, f64)> = rows.iter().filter_map(|r| r.percent().map(|p| (r, p))).collect();
    if !changed.is_empty() {
        let labels: Vec<String> =
            changed.iter().map(|(r, _)| format!("\"{}\"", printable(&r.what).replace(['"', '\\'], "'"))).collect();
        let values: Vec<String> = changed.iter().map(|(_, p)| format!("{p:.2}")).collect();
        md.push_str(&format!(
            "\n```mermaid\nxychart-beta\n    title \"size change (%)\"\n    x-axis [{}]\n    y-axis \"%\"\n    bar [{}]\n```\n",
            labels.join(", "),
            values.join(", ")
        ));
    }
    md
}

mod measure;
#[cfg(test)]
mod tests;
