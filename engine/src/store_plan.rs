//! The store operations of `download` and `sign` as data: what `--dry-run` prints and `--json` emits is the list
//! of operations the job then performs, one by one ([`execute`]); the job touches the store nowhere else. The
//! release downloads through the same plan.

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::Ctx;
use crate::artifacts;
use crate::manifest::{self, Kind, Manifest};
use crate::plan::JobFailed;
use crate::store::Store;

/// One operation on the store (or on what it gave), as the plan states it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum Op {
    /// Read the commit's manifest (its metadata, then its bytes) and check that it is that commit's, and, unless
    /// `allow_dirty`, not made from a dirty tree.
    ReadManifest { key: String, commit: String, allow_dirty: bool },
    /// List `prefix` once, then read every object the manifest lists (of `kinds`; all when empty) into `out`,
    /// each verified against its sha256 and size; a verified copy from an earlier run is kept while the store's
    /// object still matches it.
    ReadArtifacts { prefix: String, kinds: Vec<Kind>, out: Utf8PathBuf },
    /// Write the manifest of what was read to `path`, last.
    WriteManifest { path: Utf8PathBuf },
    /// Sign the manifest's bytes as read, with the secret key `key` names.
    Sign { key: String },
    /// Write the signature as the object `key`.
    PutSignature { key: String },
}

/// A job's operations on one store, for one commit.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct StorePlan {
    pub job: &'static str,
    pub store: String,
    pub commit: String,
    pub ops: Vec<Op>,
}

/// Where the signing key comes from, as the plan names it.
pub(crate) const LOCAL_KEY: &str = "local";

impl StorePlan {
    /// `download`: the manifest, the artifacts of `kinds`, the manifest of what was kept.
    pub(crate) fn download(
        store: &Store,
        commit: &str,
        kinds: &[Kind],
        out: &Utf8Path,
        allow_dirty: bool,
    ) -> StorePlan {
        let prefix = artifacts::commit_prefix(commit);
        let ops = vec![
            Op::ReadManifest { key: artifacts::manifest_key(commit), commit: commit.to_owned(), allow_dirty },
            Op::ReadArtifacts { prefix, kinds: kinds.to_vec(), out: out.to_owned() },
            Op::WriteManifest { path: out.join(manifest::FILE) },
        ];
        StorePlan { job: "download", store: store.describe(), commit: commit.to_owned(), ops }
    }

    /// `sign`: the manifest as stored, signed, the signature beside it. `key` is [`LOCAL_KEY`] (the throwaway
    /// local key) or the variable that holds the secret key.
    pub(crate) fn sign(store: &Store, commit: &str, key: &str) -> StorePlan {
        let manifest = artifacts::manifest_key(commit);
        let ops = vec![
            Op::ReadManifest { key: manifest.clone(), commit: commit.to_owned(), allow_dirty: true },
            Op::Sign { key: key.to_owned() },
            Op::PutSignature { key: format!("{manifest}{}", crate::signature::SIGNATURE_SUFFIX) },
        ];
        StorePlan { job: "sign", store: store.describe(), commit: commit.to_owned(), ops }
    }

    /// The plan as `--dry-run` prints it, or as one JSON document for `--json`.
    pub(crate) fn print(&self, json: bool) -> Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(self)?);
            return Ok(());
        }
        println!("plan of {} (--dry-run: nothing is read from or written to the store):", self.job);
        println!("  store: {}\n  commit: {}", crate::plan::printable(&self.store), self.commit);
        for (i, op) in self.ops.iter().enumerate() {
            println!("  {}. {}", i + 1, op.describe());
        }
        Ok(())
    }
}

impl Op {
    /// One line of the printed plan.
    pub(crate) fn describe(&self) -> String {
        match self {
            Op::ReadManifest { key, commit, allow_dirty } => {
                format!("read {key}: the manifest of {commit}{}", if *allow_dirty { "" } else { ", of a clean tree" })
            }
            Op::ReadArtifacts { prefix, kinds, out } => {
                let kinds = if kinds.is_empty() {
                    "every artifact".to_owned()
                } else {
                    kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                };
                format!("list {prefix}/, read {kinds} it lists into {out}, each verified against its sha256")
            }
            Op::WriteManifest { path } => format!("write {path}: the manifest of what was kept"),
            Op::Sign { key } if key == LOCAL_KEY => {
                format!("sign the manifest's bytes with the throwaway key in {}", crate::signature::LOCAL_KEY_DIR)
            }
            Op::Sign { key } => format!("sign the manifest's bytes with the secret key in ${key}"),
            Op::PutSignature { key } => format!("write {key}: the signature"),
        }
    }
}

/// What a plan's execution read and did.
#[derive(Default)]
pub(crate) struct Done {
    /// The manifest read (of the kept artifacts, once they were read).
    pub manifest: Option<Manifest>,
    /// Its bytes as the store held them.
    bytes: Vec<u8>,
    signature: Option<String>,
    pub fetched: u64,
    pub reused: u64,
}

/// Performs the plan's operations in order, against `store`.
pub(crate) fn execute(ctx: &Ctx, store: &Store, plan: &StorePlan) -> Result<Done> {
    let nothing = format!("nothing was {}", if plan.job == "sign" { "signed" } else { "downloaded" });
    let tmp = ctx.root.join(crate::tempfiles::DIR);
    let mut done = Done::default();
    for op in &plan.ops {
        match op {
            Op::ReadManifest { key, commit, allow_dirty } => {
                let (m, bytes) = read_manifest(ctx, store, key, commit, *allow_dirty, &nothing, &tmp)?;
                (done.manifest, done.bytes) = (Some(m), bytes);
            }
            Op::ReadArtifacts { prefix, kinds, out } => {
                let m = done.manifest.take().context("the plan reads artifacts before the manifest")?;
                let d = artifacts::read_artifacts(ctx, store, prefix, m, kinds, out)?;
                (done.manifest, done.fetched, done.reused) = (Some(d.manifest), d.fetched, d.reused);
            }
            Op::WriteManifest { path } => {
                done.manifest.as_ref().context("the plan writes a manifest it did not read")?.write_atomic(path)?;
            }
            Op::Sign { key } => {
                let m = done.manifest.as_ref().context("the plan signs a manifest it did not read")?;
                done.signature = Some(if key == LOCAL_KEY {
                    let secret = crate::signature::parse_secret(&crate::signature::local_key(&ctx.root)?)?;
                    crate::signature::sign_with(&secret, &done.bytes, &plan.commit, &m.version)
                } else {
                    crate::signature::sign(&done.bytes, &plan.commit, &m.version)?
                });
            }
            Op::PutSignature { key } => {
                let signature = done.signature.as_ref().context("the plan writes a signature it did not make")?;
                put_text(ctx, store, key, signature, &tmp)?;
            }
        }
    }
    Ok(done)
}

/// The manifest `key` of `commit`, checked, and its bytes.
fn read_manifest(
    ctx: &Ctx,
    store: &Store,
    key: &str,
    commit: &str,
    allow_dirty: bool,
    nothing: &str,
    tmp: &Utf8Path,
) -> Result<(Manifest, Vec<u8>)> {
    let prefix = key.strip_suffix(&format!("/{}", manifest::FILE)).unwrap_or(key);
    let Some(artifacts::Stored { manifest: m, bytes, .. }) =
        artifacts::fetch_manifest_bytes(&ctx.sh, store, prefix, tmp)?
    else {
        bail!(
            "{} has no manifest for commit {commit}: its upload never finished\nfix: cargo xtask upload --commit {commit}",
            store.describe()
        );
    };
    manifest::check_binding(&m, commit, None)
        .map_err(|e| JobFailed(format!("{} {key}: {e:#}\n{nothing}", store.describe())))?;
    if m.dirty && !allow_dirty {
        bail!(
            "the store's manifest of {commit} was made from a dirty tree\nfix: pass --allow-dirty to download it anyway"
        );
    }
    Ok((m, bytes))
}

/// Writes `text` as the object `key` (replacing what is there).
fn put_text(ctx: &Ctx, store: &Store, key: &str, text: &str, tmp: &Utf8Path) -> Result<()> {
    let path = crate::tempfiles::temp_file(tmp, "store-text")?;
    std::fs::write(path.path(), text).with_context(|| format!("writing {path}"))?;
    let meta = crate::store::PutMeta { content_type: "text/plain", cache_control: "no-cache" };
    let sha = crate::sha256::digest(text.as_bytes());
    store.put(&ctx.sh, key, &path, &sha, &meta, None).map_err(|e| anyhow!("writing {key}: {e:#}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Artifact;
    use crate::testutil::{self, GcsServer, RecordingProxy};

    const COMMIT: &str = "5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f5e1f";

    /// A commit with two artifacts in `store` (written directly, not through the proxy): its manifest.
    fn stored(ctx: &Ctx, store: &Store, root: &Utf8Path) -> Manifest {
        let meta = crate::store::PutMeta { content_type: "application/octet-stream", cache_control: "no-cache" };
        let mut artifacts = Vec::new();
        for (path, kind, bytes) in
            [("crates/a-1.0.0.crate", Kind::Crate, "crate"), ("wasm/w/index.html", Kind::Wasm, "<p>")]
        {
            let file = root.join(path.replace('/', "_"));
            std::fs::write(&file, bytes).unwrap();
            let sha256 = crate::sha256::digest(bytes.as_bytes());
            store.put(&ctx.sh, &format!("commit/{COMMIT}/{path}"), &file, &sha256, &meta, None).unwrap();
            artifacts.push(Artifact {
                kind,
                name: "a".into(),
                path: path.into(),
                size: bytes.len() as u64,
                sha256,
                version: "1.0.0".into(),
                platform: None,
                tag: None,
                command: String::new(),
                tools: vec![],
            });
        }
        let m = Manifest {
            commit: COMMIT.into(),
            dirty: false,
            source_date_epoch: 0,
            xtask_version: "0".into(),
            version: "1.0.0".into(),
            artifacts,
        };
        let file = root.join("manifest.json");
        std::fs::write(&file, m.to_text()).unwrap();
        let sha256 = crate::sha256::digest(m.to_text().as_bytes());
        store.put(&ctx.sh, &artifacts::manifest_key(COMMIT), &file, &sha256, &meta, None).unwrap();
        m
    }

    /// What the operations of `plan` send, as (request, object) pairs.
    fn expected(plan: &StorePlan, m: &Manifest) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for op in &plan.ops {
            match op {
                Op::ReadManifest { key, .. } => {
                    out.push(("metadata".to_owned(), key.clone()));
                    out.push(("read".to_owned(), key.clone()));
                }
                Op::ReadArtifacts { prefix, kinds, .. } => {
                    out.push(("list".to_owned(), format!("{prefix}/")));
                    for a in m.artifacts.iter().filter(|a| kinds.is_empty() || kinds.contains(&a.kind)) {
                        out.push(("read".to_owned(), format!("{prefix}/{}", a.path)));
                    }
                }
                Op::PutSignature { key } => out.push(("write".to_owned(), key.clone())),
                Op::WriteManifest { .. } | Op::Sign { .. } => {}
            }
        }
        out.sort();
        out
    }

    fn decode(s: &str) -> String {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if let Some(byte) =
                (b[i] == b'%').then(|| s.get(i + 1..i + 3)).flatten().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// A recorded request as (request, object): a GCS JSON API call of bucket `plans`.
    fn sent(line: &str, rest: &str) -> (String, String) {
        let path = line.split(' ').nth(1).unwrap_or_default();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        if let Some(name) = path.strip_prefix("/storage/v1/b/plans/o/") {
            let what = if query.contains("alt=media") { "read" } else { "metadata" };
            return (what.to_owned(), decode(name));
        }
        if path == "/storage/v1/b/plans/o" {
            let prefix = query.split('&').find_map(|kv| kv.strip_prefix("prefix=")).unwrap_or_default();
            return ("list".to_owned(), decode(prefix));
        }
        if path == "/upload/storage/v1/b/plans/o" {
            let name =
                rest.split("\"name\":").nth(1).and_then(|r| r.trim_start().split('"').nth(1)).unwrap_or_default();
            return ("write".to_owned(), name.to_owned());
        }
        (line.to_owned(), String::new())
    }

    /// `sign` and `download` against a real GCS-API server behind a recording proxy: every request sent belongs to
    /// an operation of the plan `--dry-run` prints, and every operation sent what it says; nothing else.
    #[test]
    fn what_is_sent_is_what_the_plan_says() {
        let server = GcsServer::start_in_memory("plans");
        let proxy = RecordingProxy::start(server.port);
        let root = testutil::temp_dir("store-plan");
        let ctx = testutil::ctx(&root);
        let direct = Store::parse_with("gs://plans", &root, Some(&server.endpoint())).unwrap();
        let m = stored(&ctx, &direct, &root);
        let store = Store::parse_with("gs://plans", &root, Some(&proxy.endpoint())).unwrap();
        let plans = [
            StorePlan::sign(&store, COMMIT, LOCAL_KEY),
            StorePlan::download(&store, COMMIT, &[], &root.join("out"), false),
            StorePlan::download(&store, COMMIT, &[Kind::Wasm], &root.join("out-wasm"), false),
        ];
        for plan in plans {
            let before = proxy.requests().len();
            let done = execute(&ctx, &store, &plan).unwrap();
            let mut got: Vec<(String, String)> =
                proxy.requests()[before..].iter().map(|(line, rest)| sent(line, rest)).collect();
            got.sort();
            let json = serde_json::to_string(&plan).unwrap();
            assert_eq!(got, expected(&plan, &m), "{json}");
            if plan.job == "download" {
                let out = match &plan.ops[2] {
                    Op::WriteManifest { path } => path.clone(),
                    other => panic!("{other:?}"),
                };
                assert_eq!(Manifest::read(&out).unwrap(), done.manifest.unwrap(), "the manifest of what was kept");
            }
        }
        let signature = artifacts::manifest_key(COMMIT) + crate::signature::SIGNATURE_SUFFIX;
        assert!(direct.head(&ctx.sh, &signature).unwrap().is_some(), "the signature is in the store");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
