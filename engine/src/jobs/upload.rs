//! `cargo xtask upload`: a commit's artifacts in the store under `commit/<sha>/`, with the manifest written last
//! (a manifest in the store means the set is complete), and a PEP 503 index so pip installs pre-release wheels
//! straight from the bucket.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::json;
use xshell::Shell;

use crate::Ctx;
use crate::artifacts::{fetch_manifest, normalize, open_store};
use crate::flags;
use crate::manifest::{self, Artifact, Kind, Manifest};
use crate::plan::JobFailed;
use crate::store::{self, PutMeta, Store};
use crate::tempfiles::{self, TempFile};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The flat page for `pip install --find-links`: one object listing every wheel, relative to itself, so it
/// works behind any endpoint (no object name ends in `/`).
pub(crate) const FIND_LINKS_PAGE: &str = "wheels/index.html";

/// The pip pages for the manifest's wheels and source distributions: (key relative to `commit/<sha>/`, HTML). The PEP 503 simple index
/// pages are written twice, as `.../index.html` and as the directory name ending in `/`, which is what pip
/// requests with `--index-url` and what a bucket serves without any website configuration; then the flat
/// `--find-links` page, [`FIND_LINKS_PAGE`].
pub(crate) fn index_pages(m: &Manifest) -> Vec<(String, String)> {
    let mut projects: std::collections::BTreeMap<String, Vec<&Artifact>> = Default::default();
    for a in m.artifacts.iter().filter(|a| matches!(a.kind, Kind::Wheel | Kind::Sdist)) {
        projects.entry(normalize(&a.name)).or_default().push(a);
    }
    let page = |title: &str, body: String| {
        format!(
            "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n<title>{}</title>\n</head>\n<body>\n{body}</body>\n</html>\n",
            escape(title)
        )
    };
    let mut pages = Vec::new();
    let root_body: String = projects.keys().map(|p| format!("<a href=\"{p}/\">{p}</a>\n")).collect();
    let root = page(&format!("Simple index of {}", &m.commit[..12]), root_body);
    pages.push(("simple/index.html".to_owned(), root.clone()));
    pages.push(("simple/".to_owned(), root));
    for (project, wheels) in &projects {
        let body: String = wheels
            .iter()
            .map(|a| {
                let file = a.path.rsplit('/').next().unwrap_or(&a.path);
                format!("<a href=\"../../{}#sha256={}\">{}</a>\n", escape(&a.path), a.sha256, escape(file))
            })
            .collect();
        let html = page(&format!("Links for {project}"), body);
        pages.push((format!("simple/{project}/index.html"), html.clone()));
        pages.push((format!("simple/{project}/"), html));
    }
    if !projects.is_empty() {
        let body: String = projects
            .values()
            .flatten()
            .map(|a| {
                let file = a.path.rsplit('/').next().unwrap_or(&a.path);
                format!("<a href=\"../{}#sha256={}\">{}</a>\n", escape(&a.path), a.sha256, escape(file))
            })
            .collect();
        pages.push((FIND_LINKS_PAGE.to_owned(), page(&format!("Wheels of {}", &m.commit[..12]), body)));
    }
    pages
}

/// Checks that the store kept the pip pages just written (each accepted with a 2xx): one page whose name
/// ends in `/` is read back, because a store that cannot hold such names (a directory-backed server) answers
/// 200 and drops them. When it is not there, none of them is, and they are reported (then only the
/// `--find-links` form of `pip install` works from that store); when it differs, that is an error.
/// `upload --check-index` reads every page.
fn verify_pages(
    sh: &Shell,
    store: &Store,
    prefix: &str,
    pages: &[(String, String)],
    tmp: &Utf8Path,
) -> Result<Vec<String>> {
    let directory_pages: Vec<String> =
        pages.iter().filter(|(k, _)| k.ends_with('/')).map(|(k, _)| format!("{prefix}/{k}")).collect();
    let Some((key, want)) = pages.iter().find(|(k, _)| k.ends_with('/')) else { return Ok(Vec::new()) };
    let path = tempfiles::temp_file(tmp, "page-check")?;
    let full = format!("{prefix}/{key}");
    if !store.get(sh, &full, &path)? {
        let mut dropped = directory_pages;
        dropped.sort();
        return Ok(dropped);
    }
    if std::fs::read(&path)? != want.as_bytes() {
        return Err(JobFailed(format!(
            "the store does not hold the pip page that was written: {full} differs\nrun the upload again: it \
             rewrites the pip pages"
        ))
        .into());
    }
    Ok(Vec::new())
}

/// `ours` plus what `remote` has that ours lacks (another platform's wheels): the union of every uploader's
/// entries. One path with two hashes fails, unless `overwrite` (`upload --overwrite`): then ours replaces the
/// remote's entry, and every entry of the remote's that ours lacks still stays.
pub(crate) fn merge(remote: &Manifest, ours: &Manifest, overwrite: bool) -> Result<Manifest> {
    if remote.commit != ours.commit {
        bail!("the store's manifest is for commit {}, not {}", remote.commit, ours.commit);
    }
    let mut merged = ours.clone();
    for r in &remote.artifacts {
        match ours.artifacts.iter().find(|a| a.path == r.path) {
            Some(a) if a.sha256 == r.sha256 || overwrite => {}
            Some(a) => bail!(
                "{} is already in the store with sha256 {} but this upload has {}: a commit's artifacts are immutable\nfix: --overwrite replaces it",
                a.path,
                r.sha256,
                a.sha256
            ),
            None => merged.artifacts.push(r.clone()),
        }
    }
    merged.dirty = remote.dirty || ours.dirty;
    merged.artifacts.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Ok(merged)
}

#[derive(Default)]
pub(crate) struct Report {
    pub uploaded: AtomicU64,
    pub bytes: AtomicU64,
    pub skipped: AtomicU64,
}

/// What every object of one upload shares.
struct Uploader<'a> {
    store: &'a Store,
    prefix: &'a str,
    dir: &'a Utf8Path,
    overwrite: bool,
    report: &'a Report,
}

impl Uploader<'_> {
    /// What to do with one immutable artifact, `listed` being what the store's listing said of it: nothing when
    /// the same bytes are there, refused when others are (unless `--overwrite`), else the object to send. The
    /// local file (its sha256 and size given) must still match the manifest.
    fn decide(
        &self,
        a: &Artifact,
        (local_sha, local_size): (String, u64),
        listed: Option<&store::Object>,
    ) -> Result<Option<store::PutItem>> {
        let Uploader { prefix, dir, overwrite, report: r, .. } = self;
        let (key, file, sha, size) = (format!("{prefix}/{}", a.path), dir.join(&a.path), a.sha256.as_str(), a.size);
        if local_sha != sha || local_size != size {
            bail!(
                "{}: the local file (sha256 {local_sha}, {local_size} bytes) no longer matches the manifest ({sha}, {size} bytes)\nfix: cargo xtask package --force",
                a.path
            );
        }
        let meta = PutMeta { content_type: store::content_type(&key), cache_control: store::IMMUTABLE.cache_control };
        let generation = match listed {
            Some(o) if o.sha256.as_deref() == Some(sha) => {
                r.skipped.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Some(o) if !overwrite => bail!(
                "{key} is already in the store with other content (sha256 {}): a commit's artifacts are immutable\nfix: --overwrite replaces it",
                o.sha256.as_deref().unwrap_or("unknown")
            ),
            // Replaces exactly what was listed; a create-only write where nothing was.
            Some(o) => o.generation.clone(),
            None => Some("0".to_owned()),
        };
        self.store.check_can_write(&key)?;
        Ok(Some(store::PutItem { key, file, sha256: sha.to_owned(), meta, generation }))
    }

    /// Counts one sent artifact; a create-only write that found the object (another upload made it between
    /// our listing and our write) is fine when it holds the same bytes.
    fn finish(&self, sh: &Shell, item: &store::PutItem, result: Result<store::Put>) -> Result<()> {
        let r = self.report;
        match result? {
            store::Put::Exists => {
                let o = self.store.head(sh, &item.key)?;
                if o.as_ref().and_then(|o| o.sha256.as_deref()) != Some(item.sha256.as_str()) {
                    bail!(
                        "{} was created concurrently with other content\nfix: find the other upload of this commit; \
                         a commit's artifacts are immutable",
                        item.key
                    );
                }
                r.skipped.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            store::Put::Changed => bail!(
                "{} changed while this upload replaced it (another upload of this commit ran at once)\nfix: run the \
                 upload again",
                item.key
            ),
            store::Put::Created => {}
        }
        r.uploaded.fetch_add(1, Ordering::Relaxed);
        r.bytes.fetch_add(std::fs::metadata(&item.file).map_or(0, |m| m.len()), Ordering::Relaxed);
        Ok(())
    }
}

/// A temporary file with `content`, named uniquely (parallel writers of equal content must not share one),
/// removed when the guard drops.
fn write_temp(dir: &Utf8Path, name: &str, content: &[u8]) -> Result<TempFile> {
    let path = tempfiles::temp_file(dir, name)?;
    std::fs::write(path.path(), content).with_context(|| format!("writing {path}"))?;
    Ok(path)
}

/// What an upload did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub uploaded: u64,
    pub bytes: u64,
    pub skipped: u64,
}

/// One operation of an upload, in order: what `--dry-run` prints and `--json` emits is the list that then runs.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum UploadOp {
    /// Check that each alias may be written: its key holds nothing or an alias (anything, with `--overwrite`).
    CheckAliases { aliases: Vec<String> },
    /// List the commit's prefix once (what is there, each object's sha256) while every local file is hashed and
    /// checked against the manifest.
    List { prefix: String },
    /// Write every artifact the listing does not show with the same sha256 (create-only: other bytes there are
    /// refused unless `--overwrite`); on the commit's first upload its pip pages go in the same batch.
    PutArtifacts { objects: Vec<PlannedObject>, pages: Vec<String> },
    /// The manifest, last: the union with the store's (under a precondition, merged again when another upload
    /// got there first), the pip pages of the union before it; then those pages are read back.
    PutManifest { key: String },
    /// No-cache pointers to this commit.
    PutAliases { aliases: Vec<String> },
}

/// An artifact the upload writes unless the store holds its bytes already.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct PlannedObject {
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

/// An upload's operations on one store, for one commit.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct UploadPlan {
    pub job: &'static str,
    pub store: String,
    pub commit: String,
    pub ops: Vec<UploadOp>,
}

/// The plan of uploading `m` (the local manifest of `commit`) to `store`.
pub(crate) fn plan(store: &Store, commit: &str, m: &Manifest, aliases: &[String]) -> UploadPlan {
    let prefix = crate::artifacts::commit_prefix(commit);
    let mut ops = Vec::new();
    if !aliases.is_empty() {
        ops.push(UploadOp::CheckAliases { aliases: aliases.to_vec() });
    }
    ops.push(UploadOp::List { prefix: prefix.clone() });
    let objects = (m.artifacts.iter())
        .map(|a| PlannedObject { key: format!("{prefix}/{}", a.path), sha256: a.sha256.clone(), size: a.size })
        .collect();
    let pages = index_pages(m).into_iter().map(|(k, _)| format!("{prefix}/{k}")).collect();
    ops.push(UploadOp::PutArtifacts { objects, pages });
    ops.push(UploadOp::PutManifest { key: format!("{prefix}/{}", manifest::FILE) });
    if !aliases.is_empty() {
        ops.push(UploadOp::PutAliases { aliases: aliases.to_vec() });
    }
    UploadPlan { job: "upload", store: store.describe(), commit: commit.to_owned(), ops }
}

impl UploadPlan {
    /// As `--dry-run` prints it, or one JSON document for `--json`.
    fn print(&self, json: bool) -> Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(self)?);
            return Ok(());
        }
        println!("plan of upload (--dry-run: nothing is read from or written to the store):");
        println!("  store: {}\n  commit: {}", crate::plan::printable(&self.store), self.commit);
        for (i, op) in self.ops.iter().enumerate() {
            let line = match op {
                UploadOp::CheckAliases { aliases } => {
                    format!("check the aliases may be written: {}", aliases.join(", "))
                }
                UploadOp::List { prefix } => format!("list {prefix}/; hash every local file against the manifest"),
                UploadOp::PutArtifacts { objects, pages } => format!(
                    "write the {} artifacts the store does not hold yet (create-only); on a first upload, {} pip pages with them",
                    objects.len(),
                    pages.len()
                ),
                UploadOp::PutManifest { key } => {
                    format!(
                        "write {key} last: the union with the store's, under a precondition; read the pip pages back"
                    )
                }
                UploadOp::PutAliases { aliases } => format!("write the aliases: {}", aliases.join(", ")),
            };
            println!("  {}. {line}", i + 1);
            if let UploadOp::PutArtifacts { objects, .. } = op {
                for o in objects {
                    println!("       {} ({} bytes, sha256 {})", o.key, o.size, &o.sha256[..16.min(o.sha256.len())]);
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn upload(ctx: &Ctx, args: &flags::Upload) -> Result<Summary> {
    let store = open_store(ctx, args.store.as_deref(), args.endpoint.as_deref())?;
    let commit = crate::workspace::resolve_commit(&ctx.sh, args.commit.as_deref())?;
    let (dir, m) = local_manifest(ctx, args, &commit)?;
    let prefix = crate::artifacts::commit_prefix(&commit);
    for alias in &args.alias {
        check_alias(alias)?;
    }
    if args.check_index {
        if ctx.global.dry_run || ctx.global.json {
            let plan = json!({
                "job": "upload --check-index",
                "store": store.describe(),
                "commit": commit,
                "reads": format!("{prefix}/{} and the pip pages it implies", manifest::FILE),
                "writes": "nothing",
            });
            crate::plan::print_static(&plan, ctx.global.json)?;
            return Ok(Summary::default());
        }
        return check_index(ctx, &store, &prefix, &m).map(|()| Summary::default());
    }
    let plan = plan(&store, &commit, &m, &args.alias);
    if ctx.global.dry_run || ctx.global.json {
        plan.print(ctx.global.json)?;
        return Ok(Summary::default());
    }
    let mut run = Run::new(ctx, &store, args, &m, &dir, &prefix);
    for op in &plan.ops {
        match op {
            UploadOp::CheckAliases { aliases } => run.check_aliases(aliases)?,
            UploadOp::List { .. } => run.list()?,
            UploadOp::PutArtifacts { .. } => run.put_artifacts()?,
            UploadOp::PutManifest { .. } => run.put_manifest()?,
            UploadOp::PutAliases { aliases } => write_aliases(ctx, &store, aliases, &commit, &prefix, &run.tmp)?,
        }
    }
    Ok(run.summary())
}

/// An upload as it runs: what each operation found, for the next ones.
struct Run<'a> {
    ctx: &'a Ctx,
    store: &'a Store,
    args: &'a flags::Upload,
    m: &'a Manifest,
    dir: &'a Utf8Path,
    prefix: &'a str,
    tmp: Utf8PathBuf,
    jobs: usize,
    started: std::time::Instant,
    report: Report,
    listed: std::collections::HashMap<String, store::Object>,
    hashed: Vec<Result<(String, u64)>>,
    /// No manifest was there: the commit's first upload.
    first_upload: bool,
    /// The early pages this run created (create-only: a page another job wrote meanwhile is left to the merge).
    early_written: std::collections::HashSet<(String, String)>,
    early_all_ours: bool,
    final_manifest: Option<Manifest>,
    /// The store kept every pip page (a server may drop objects whose names end in `/`).
    pages_kept: bool,
}

impl<'a> Run<'a> {
    fn new(
        ctx: &'a Ctx,
        store: &'a Store,
        args: &'a flags::Upload,
        m: &'a Manifest,
        dir: &'a Utf8Path,
        prefix: &'a str,
    ) -> Run<'a> {
        Run {
            ctx,
            store,
            args,
            m,
            dir,
            prefix,
            tmp: ctx.root.join(tempfiles::DIR),
            jobs: ctx.global.jobs.max(8),
            started: std::time::Instant::now(),
            report: Report::default(),
            listed: Default::default(),
            hashed: Vec::new(),
            first_upload: false,
            early_written: Default::default(),
            early_all_ours: true,
            final_manifest: None,
            pages_kept: true,
        }
    }

    /// An alias may replace an earlier alias, never another object (unless --overwrite), and must be writable at
    /// all: checked before any upload.
    fn check_aliases(&self, aliases: &[String]) -> Result<()> {
        for alias in aliases {
            if self.args.overwrite {
                self.store.check_can_write(alias).map_err(|e| anyhow!("--alias {alias:?}: {e:#}"))?;
            } else {
                check_alias_target(&self.ctx.sh, self.store, alias, &self.tmp)?;
            }
        }
        Ok(())
    }

    /// One listing tells what is already there; objects are then only written, never looked up one by one.
    /// Meanwhile every local file is hashed (it must still match the manifest).
    fn list(&mut self) -> Result<()> {
        let (m, dir, store, prefix) = (self.m, self.dir, self.store, self.prefix);
        eprintln!("uploading {} artifacts of {} to {}", m.artifacts.len(), &m.commit[..12], store.describe());
        let (listed, hashed) = std::thread::scope(|s| {
            let listing = s.spawn(|| store.list(&Shell::new()?, &format!("{prefix}/")));
            let hashed = crate::parallel::map(&m.artifacts, crate::parallel::cores(), |a| {
                crate::sha256::file(&dir.join(&a.path))
            });
            (listing.join().expect("the listing thread panicked"), hashed)
        });
        self.listed = listed?;
        self.hashed = hashed;
        self.first_upload = !self.listed.contains_key(&format!("{prefix}/{}", manifest::FILE));
        Ok(())
    }

    /// Every local file checked against the manifest, then everything to send in one batch: a commit's first
    /// upload (no manifest there yet, so nothing to merge) sends its pip pages with the artifacts.
    fn put_artifacts(&mut self) -> Result<()> {
        let uploader = Uploader {
            store: self.store,
            prefix: self.prefix,
            dir: self.dir,
            overwrite: self.args.overwrite,
            report: &self.report,
        };
        let mut errors = Vec::new();
        let mut artifact_items = Vec::new();
        for (a, local) in self.m.artifacts.iter().zip(std::mem::take(&mut self.hashed)) {
            let listed = self.listed.get(&format!("{}/{}", self.prefix, a.path));
            match local.and_then(|l| uploader.decide(a, l, listed)) {
                Ok(Some(item)) => artifact_items.push(item),
                Ok(None) => {}
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if errors.is_empty() {
            let listed_same = |key: &str, sha: &str| listed_same(&self.listed, self.prefix, key, sha);
            let (pages, page_files) = if self.first_upload {
                page_items(&self.tmp, self.prefix, &index_pages(self.m), &listed_same, true)?
            } else {
                (Vec::new(), Vec::new())
            };
            let n_pages = pages.len();
            let items: Vec<store::PutItem> = pages.into_iter().chain(artifact_items).collect();
            let results = self.store.put_many(&self.ctx.sh, &items, self.jobs);
            drop(page_files);
            for (i, (item, result)) in items.iter().zip(results).enumerate() {
                let outcome = if i < n_pages {
                    result.map(|put| {
                        if put == store::Put::Created {
                            self.early_written.insert((item.key.clone(), item.sha256.clone()));
                        } else {
                            self.early_all_ours = false;
                        }
                    })
                } else {
                    uploader.finish(&self.ctx.sh, item, result)
                };
                if let Err(e) = outcome {
                    errors.push(format!("{e:#}"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(JobFailed(format!(
                "{} objects failed; the manifest was not uploaded, so the commit is not marked complete:\n  {}\nrun the upload again: finished objects are skipped",
                errors.len(),
                errors.join("\n  ")
            ))
            .into());
        }
        Ok(())
    }

    /// The manifest last: merged with what another platform's job may have uploaded, under a precondition. A
    /// first upload's pages are final already: whether the store kept them is checked meanwhile.
    fn put_manifest(&mut self) -> Result<()> {
        let (ctx, store, prefix, tmp) = (self.ctx, self.store, self.prefix, &self.tmp);
        let early_pages = (self.first_upload && self.early_all_ours).then(|| index_pages(self.m));
        let (written_manifest, early_check) = std::thread::scope(|s| {
            let check =
                early_pages.as_ref().map(|pages| s.spawn(|| verify_pages(&Shell::new()?, store, prefix, pages, tmp)));
            let written =
                write_manifest(ctx, store, self.args, self.m, prefix, &self.listed, &self.early_written, self.jobs);
            (written, check.map(|h| h.join().expect("the page check panicked")))
        });
        let final_manifest = written_manifest?;
        // What the store really holds now (a server may drop objects whose names end in `/`).
        let dropped = match early_check {
            Some(checked) if early_pages.as_ref() == Some(&index_pages(&final_manifest)) => checked?,
            _ => verify_pages(&ctx.sh, store, prefix, &index_pages(&final_manifest), tmp)?,
        };
        if !dropped.is_empty() {
            eprintln!(
                "warning: {} did not keep {} pages whose names end in `/` ({}): `pip install --index-url` needs them and \
                 will not work from this store; `pip install --find-links` (printed below) does",
                store.describe(),
                dropped.len(),
                dropped.join(", ")
            );
        }
        self.final_manifest = Some(final_manifest);
        self.pages_kept = dropped.is_empty();
        Ok(())
    }

    /// What was done, printed with the pip commands that install from the store.
    fn summary(&self) -> Summary {
        let secs = self.started.elapsed().as_secs_f64();
        let r = &self.report;
        let (n, bytes, skipped) =
            (r.uploaded.load(Ordering::Relaxed), r.bytes.load(Ordering::Relaxed), r.skipped.load(Ordering::Relaxed));
        let Some(m) = &self.final_manifest else { return Summary { uploaded: n, bytes, skipped } };
        println!(
            "uploaded {n} objects ({bytes} bytes), skipped {skipped} already in the store, in {secs:.2}s; {} artifacts in the manifest",
            m.artifacts.len()
        );
        if m.artifacts.iter().any(|a| matches!(a.kind, Kind::Wheel | Kind::Sdist)) {
            if self.pages_kept {
                println!(
                    "pip install --pre --index-url {} <package>",
                    self.store.public_url(&format!("{}/simple/", self.prefix))
                );
            }
            println!(
                "pip install --pre --find-links {} <package>",
                self.store.public_url(&format!("{}/{FIND_LINKS_PAGE}", self.prefix))
            );
        }
        Summary { uploaded: n, bytes, skipped }
    }
}

/// The manifest, last: merged with what another platform's job may have uploaded, under a precondition (five
/// attempts), with the pip pages of the merged manifest before it.
#[allow(clippy::too_many_arguments)]
fn write_manifest(
    ctx: &Ctx,
    store: &Store,
    args: &flags::Upload,
    m: &Manifest,
    prefix: &str,
    listed: &std::collections::HashMap<String, store::Object>,
    early_written: &std::collections::HashSet<(String, String)>,
    jobs: usize,
) -> Result<Manifest> {
    let tmp = ctx.root.join(tempfiles::DIR);
    let mut final_manifest = m.clone();
    let manifest_listed = listed.contains_key(&format!("{prefix}/{}", manifest::FILE));
    for attempt in 1..=5 {
        let remote =
            if attempt == 1 && !manifest_listed { None } else { fetch_manifest(&ctx.sh, store, prefix, &tmp)? };
        // The union of every uploader's entries: --overwrite replaces this run's own entries, never drops another
        // platform's.
        let (merged, generation) = match &remote {
            Some((r, generation)) => (merge(r, m, args.overwrite)?, generation.clone()),
            None => (m.clone(), Some("0".to_owned())),
        };
        // The pages of the merged manifest, in one batch. Skipped: on the first attempt, what the listing
        // or this run's early pages already hold; after a merge nothing (another job may have written
        // any page since).
        let skip = |key: &str, sha: &str| {
            attempt == 1
                && (listed_same(listed, prefix, key, sha)
                    || early_written.contains(&(format!("{prefix}/{key}"), sha.to_owned())))
        };
        write_pages(ctx, store, &tmp, prefix, &merged, &skip, jobs)?;
        let text = merged.to_text();
        if remote.as_ref().is_some_and(|(r, _)| r.to_text() == text) {
            final_manifest = merged;
            break;
        }
        let put = put_manifest(ctx, store, &tmp, prefix, &text, generation.as_deref());
        match put {
            Ok(store::Put::Created) => {
                final_manifest = merged;
                break;
            }
            // Someone wrote the manifest meanwhile: merge again.
            Ok(store::Put::Exists | store::Put::Changed) | Err(_) if attempt < 5 => continue,
            Ok(store::Put::Exists | store::Put::Changed) => {
                bail!(
                    "the manifest of {} kept changing during the upload (other uploads of this commit)\nfix: run the \
                     upload again: what is there is skipped and the manifests are merged",
                    m.commit
                )
            }
            Err(e) => return Err(e),
        }
    }
    Ok(final_manifest)
}

/// The simple index's pages of `merged`, in one batch (less what `skip` says is there).
fn write_pages(
    ctx: &Ctx,
    store: &Store,
    tmp: &Utf8Path,
    prefix: &str,
    merged: &Manifest,
    skip: &dyn Fn(&str, &str) -> bool,
    jobs: usize,
) -> Result<()> {
    let (pages, page_files) = page_items(tmp, prefix, &index_pages(merged), skip, false)?;
    let results = store.put_many(&ctx.sh, &pages, jobs);
    drop(page_files);
    if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
        bail!("writing the simple index: {e:#}\nthe manifest was not uploaded; run the upload again");
    }
    Ok(())
}

/// The manifest's `text`, written only if the object is still at `generation` (`0`: absent).
fn put_manifest(
    ctx: &Ctx,
    store: &Store,
    tmp: &Utf8Path,
    prefix: &str,
    text: &str,
    generation: Option<&str>,
) -> Result<store::Put> {
    let sha = crate::sha256::digest(text.as_bytes());
    let path = write_temp(tmp, "manifest", text.as_bytes())?;
    let meta = PutMeta { content_type: "application/json", cache_control: "no-cache" };
    let key = format!("{prefix}/{}", manifest::FILE);
    store.put(&ctx.sh, &key, &path, &sha, &meta, generation)
}

/// Whether the listing showed `key` with these bytes (a directory page is index.html on the file backend).
fn listed_same(listed: &std::collections::HashMap<String, store::Object>, prefix: &str, key: &str, sha: &str) -> bool {
    let full = format!("{prefix}/{key}");
    let on_disk = if key.ends_with('/') { format!("{full}index.html") } else { full.clone() };
    [full, on_disk].iter().any(|k| listed.get(k).and_then(|o| o.sha256.as_deref()) == Some(sha))
}

/// The commit's packages as `package` left them: its directory and manifest, which must be that commit's and
/// (unless `--allow-dirty`) from a clean tree.
fn local_manifest(ctx: &Ctx, args: &flags::Upload, commit: &str) -> Result<(Utf8PathBuf, Manifest)> {
    let from = args.from.clone().unwrap_or_else(|| ctx.root.join(crate::config::PACKAGES_DIR));
    let dir = from.join(commit);
    let manifest_path = dir.join(manifest::FILE);
    if !manifest_path.exists() {
        bail!("no packages for commit {commit} in {from}\nfix: cargo xtask package (then upload again)");
    }
    let mut m = Manifest::read(&manifest_path)?;
    m.artifacts.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    if m.commit != commit {
        bail!("{manifest_path} describes commit {}, not {commit}", m.commit);
    }
    if m.dirty && !args.allow_dirty {
        bail!(
            "the manifest of {commit} was made from a dirty tree\nfix: commit, run `cargo xtask package` again, or pass --allow-dirty to upload it anyway"
        );
    }
    Ok((dir, m))
}

/// The pip pages as objects to put: derived from the manifest, so they are replaced, not immutable. `skip`:
/// pages not to send (already there with these bytes); `create_only`: never over another writer's page.
fn page_items(
    tmp: &Utf8Path,
    prefix: &str,
    pages: &[(String, String)],
    skip: &dyn Fn(&str, &str) -> bool,
    create_only: bool,
) -> Result<(Vec<store::PutItem>, Vec<TempFile>)> {
    let (mut items, mut files) = (Vec::new(), Vec::new());
    for (key, html) in pages {
        let sha = crate::sha256::digest(html.as_bytes());
        if skip(key, &sha) {
            continue;
        }
        let path = write_temp(tmp, &format!("index-{}", &sha[..16]), html.as_bytes())?;
        let meta = PutMeta { content_type: "text/html", cache_control: "no-cache" };
        items.push(store::PutItem {
            key: format!("{prefix}/{key}"),
            file: path.path().to_owned(),
            sha256: sha,
            meta,
            generation: create_only.then(|| "0".to_owned()),
        });
        files.push(path);
    }
    Ok((items, files))
}

/// The aliases, last: small JSON objects naming the commit, its manifest and its simple index.
fn write_aliases(
    ctx: &Ctx,
    store: &Store,
    aliases: &[String],
    commit: &str,
    prefix: &str,
    tmp: &Utf8Path,
) -> Result<()> {
    for alias in aliases {
        let body = serde_json::to_string_pretty(&json!({
            "commit": commit,
            "manifest": format!("{prefix}/{}", manifest::FILE),
            "simple_index": store.public_url(&format!("{prefix}/simple/")),
        }))? + "\n";
        let path = write_temp(tmp, "alias", body.as_bytes())?;
        let meta = PutMeta { content_type: "application/json", cache_control: "no-cache, max-age=0" };
        store.put(&ctx.sh, alias, &path, &crate::sha256::digest(body.as_bytes()), &meta, None)?;
        eprintln!("alias {} -> {}", alias, &commit[..12]);
    }
    Ok(())
}

/// An alias is a key like every other (see [`store::check_key`]), never under `commit/` (immutable), and names
/// an object, not a directory page.
pub(crate) fn check_alias(alias: &str) -> Result<()> {
    store::check_key(alias).map_err(|e| anyhow!("--alias {alias:?}: {e:#}"))?;
    if alias.ends_with('/') || alias.split('/').next() == Some("commit") || alias == manifest::FILE {
        bail!(
            "--alias {alias:?} would name a directory page or an object under commit/, which are immutable\nfix: \
             choose a name outside commit/ without a trailing `/`, like branch/main/latest"
        );
    }
    Ok(())
}

/// Refuses an alias whose key holds something that is not an alias document (exit 2, before any upload).
fn check_alias_target(sh: &Shell, store: &Store, alias: &str, tmp: &Utf8Path) -> Result<()> {
    store.check_can_write(alias).map_err(|e| anyhow!("--alias {alias:?}: {e:#}"))?;
    if store.head(sh, alias)?.is_none() {
        return Ok(());
    }
    let path = tempfiles::temp_file(tmp, "alias-check")?;
    let got = store.get(sh, alias, &path);
    let text = std::fs::read(&path).ok();
    got?;
    let is_alias = text
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("commit").is_some() && v.get("manifest").is_some());
    if !is_alias {
        bail!(
            "--alias {alias:?}: {} already holds an object there that is not an alias; nothing was uploaded\nfix: \
             choose another name, or pass --overwrite to replace it",
            store.describe()
        );
    }
    Ok(())
}

/// The store's manifest of `prefix`, with its generation (or `None` on the file backend), if there is one.
fn check_index(ctx: &Ctx, store: &Store, prefix: &str, m: &Manifest) -> Result<()> {
    let tmp = ctx.root.join(tempfiles::DIR);
    let remote = fetch_manifest(&ctx.sh, store, prefix, &tmp)?.map(|(r, _)| r).unwrap_or_else(|| m.clone());
    let mut problems = Vec::new();
    let mut dropped = Vec::new();
    for (key, want) in index_pages(&remote) {
        let path = tempfiles::temp_file(&tmp, "check")?;
        let have = if store.get(&ctx.sh, &format!("{prefix}/{key}"), &path)? {
            std::fs::read_to_string(&path).ok()
        } else {
            None
        };
        match have {
            Some(h) if h == want => {}
            Some(_) => problems.push(format!("{prefix}/{key} differs from the manifest")),
            None if key.ends_with('/') => dropped.push(format!("{prefix}/{key}")),
            None => problems.push(format!("{prefix}/{key} is missing")),
        }
    }
    if !dropped.is_empty() {
        eprintln!(
            "warning: {} holds no pages whose names end in `/` ({}): `pip install --index-url` will not work from it; \
             `--find-links {}` does (if the store drops such names, re-uploading cannot add them)",
            store.describe(),
            dropped.join(", "),
            store.public_url(&format!("{prefix}/{FIND_LINKS_PAGE}"))
        );
    }
    if problems.is_empty() {
        println!("the pip pages of {} match its manifest", &m.commit[..12]);
        Ok(())
    } else {
        Err(JobFailed(format!(
            "the pip pages are wrong:\n  {}\nfix: cargo xtask upload --commit {} (the same upload again rewrites them)",
            problems.join("\n  "),
            m.commit
        ))
        .into())
    }
}

#[cfg(test)]
mod tests;
