//! One build cache for runners and laptops: sccache (pinned in `config`) with a bucket as its backend, wrapped
//! around every compile of a job that runs cargo (`lint`, `test`, `package`). Off unless `XTASK_CACHE` says
//! `read-write` or `read-only`, or `auto`, which CI's workflows set: the engine decides from the event
//! (read-write for the default branch, read-only for pull requests, so a pull request's code cannot write what
//! the main branch reads). A laptop turns it on with that one variable.
//!
//! The backend: ci.toml `[cache] store` (`gs://BUCKET/PREFIX`, `s3://BUCKET/PREFIX` with `endpoint` for an
//! S3-compatible server, or a directory), by default the artifact store's (`$ARTIFACT_STORE`, else ci.toml's)
//! under `sccache/`. A wrong setting is an error; a cache that cannot start (sccache not provisioned, its server
//! refused) is a warning, and the job builds without it. Credentials
//! come from the environment as sccache reads them (`GOOGLE_APPLICATION_CREDENTIALS` is passed on as
//! `SCCACHE_GCS_KEY_PATH`; `AWS_*` for S3).
//!
//! sccache keys a Rust compile by its arguments, inputs, `CARGO_*` variables and working directory, absolute
//! ones included (its `basedirs` normalizes C and C++ only). So on Unix each compile runs through a wrapper that
//! moves it to a directory of the same path on every machine ([`paths`]): two checkouts at different paths, or a
//! runner and a laptop, hit each other's entries. Where that directory cannot be had (Windows, or another user
//! owns it) a crate hits only when built at the same path, which every GitHub runner's checkout is.
//! After the job, its hits and misses are printed and added to the job summary.

pub(crate) mod paths;

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::cmd;

use crate::config::tool;
use crate::github::Trigger;

/// Whether a job may write to the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    ReadOnly,
    ReadWrite,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read-only",
            Mode::ReadWrite => "read-write",
        }
    }
}

/// `XTASK_CACHE`: `off` (or unset), `read-only`, `read-write`, or `auto` (what CI's workflows set): the mode
/// for the trigger `trigger` reads ([`for_trigger`]).
pub(crate) fn mode(value: Option<&str>, trigger: impl FnOnce() -> Result<Trigger>) -> Result<Option<Mode>> {
    match value.map(str::trim).unwrap_or_default() {
        "" | "off" => Ok(None),
        "read-only" => Ok(Some(Mode::ReadOnly)),
        "read-write" => Ok(Some(Mode::ReadWrite)),
        "auto" => {
            let (mode, why) = for_trigger(&trigger()?);
            eprintln!("build cache: {} ({why})", mode.map_or("off", Mode::as_str));
            Ok(mode)
        }
        other => bail!(
            "XTASK_CACHE={} is no cache mode\nfix: set it to off, read-only, read-write or auto, or unset it",
            crate::plan::printable(other)
        ),
    }
}

/// The mode for trigger `t`: read-write only for what lands on the default branch (its pushes and the scheduled
/// run); read-only for pull requests (a fork's code cannot poison what the main branch reads), merge queues and
/// runs by hand; off for a local run, as on a laptop.
pub(crate) fn for_trigger(t: &Trigger) -> (Option<Mode>, &'static str) {
    let default = t.payload["repository"]["default_branch"].as_str();
    let pushed = t.payload["ref"].as_str().and_then(|r| r.strip_prefix("refs/heads/"));
    match t.name.as_str() {
        "push" if pushed.is_some() && pushed == default => (Some(Mode::ReadWrite), "a push to the default branch"),
        "schedule" => (Some(Mode::ReadWrite), "the scheduled run of the default branch"),
        "local" => (None, "a local run; XTASK_CACHE=read-write turns it on"),
        "pull_request" | "pull_request_target" => (Some(Mode::ReadOnly), "a pull request never writes the cache"),
        _ => (Some(Mode::ReadOnly), "only the default branch writes the cache"),
    }
}

/// Where the cache lives.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Backend {
    Gcs { bucket: String, prefix: String },
    S3 { bucket: String, prefix: String, endpoint: Option<String>, region: String },
    Dir(Utf8PathBuf),
}

impl Backend {
    /// `gs://B/P`, `s3://B/P`, `file:///PATH` or a path (relative to `root`).
    pub(crate) fn parse(
        url: &str,
        endpoint: Option<String>,
        region: Option<String>,
        root: &Utf8Path,
    ) -> Result<Backend> {
        let split = |rest: &str| -> Result<(String, String)> {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!(
                    "the cache store {} names no bucket\nfix: write it as gs://BUCKET/PREFIX",
                    crate::plan::printable(url)
                );
            }
            Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
        };
        if let Some(rest) = url.strip_prefix("gs://") {
            let (bucket, prefix) = split(rest)?;
            Ok(Backend::Gcs { bucket, prefix })
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = split(rest)?;
            Ok(Backend::S3 { bucket, prefix, endpoint, region: region.unwrap_or_else(|| "us-east-1".into()) })
        } else if url.contains("://") && !url.starts_with("file://") {
            bail!(
                "the cache store {} is no gs://, s3:// or file:// address\nfix: set [cache] store in ci.toml",
                crate::plan::printable(url)
            )
        } else {
            let path = Utf8Path::new(url.strip_prefix("file://").unwrap_or(url));
            Ok(Backend::Dir(if path.is_absolute() { path.to_owned() } else { root.join(path) }))
        }
    }

    /// Whether this job has credentials for the backend (sccache's own variables, or a directory).
    fn has_credentials(&self) -> bool {
        let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
        match self {
            Backend::Gcs { .. } => set("GOOGLE_APPLICATION_CREDENTIALS") || set("SCCACHE_GCS_KEY_PATH"),
            Backend::S3 { .. } => set("AWS_ACCESS_KEY_ID") || set("AWS_PROFILE"),
            Backend::Dir(_) => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Backend::Gcs { bucket, prefix } => format!("gs://{bucket}/{prefix}"),
            Backend::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
            Backend::Dir(d) => d.to_string(),
        }
    }

    /// sccache's variables for this backend in `mode`.
    pub(crate) fn variables(&self, mode: Mode) -> Vec<(String, String)> {
        let rw = if mode == Mode::ReadOnly { "READ_ONLY" } else { "READ_WRITE" };
        let mut v: Vec<(&str, String)> = match self {
            Backend::Gcs { bucket, prefix } => {
                let mut v = vec![
                    ("SCCACHE_GCS_BUCKET", bucket.clone()),
                    ("SCCACHE_GCS_KEY_PREFIX", prefix.clone()),
                    ("SCCACHE_GCS_RW_MODE", rw.into()),
                ];
                if let Ok(key) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS") {
                    v.push(("SCCACHE_GCS_KEY_PATH", key));
                }
                v
            }
            Backend::S3 { bucket, prefix, endpoint, region } => {
                let mut v = vec![
                    ("SCCACHE_BUCKET", bucket.clone()),
                    ("SCCACHE_S3_KEY_PREFIX", prefix.clone()),
                    ("SCCACHE_REGION", region.clone()),
                    ("SCCACHE_S3_RW_MODE", rw.into()),
                ];
                if let Some(e) = endpoint {
                    v.push(("SCCACHE_ENDPOINT", e.clone()));
                    v.push(("SCCACHE_S3_USE_SSL", (!e.starts_with("http://")).to_string()));
                }
                v
            }
            Backend::Dir(d) => vec![("SCCACHE_DIR", d.to_string()), ("SCCACHE_LOCAL_RW_MODE", rw.into())],
        };
        v.push(("CARGO_INCREMENTAL", "0".into()));
        v.into_iter().map(|(k, val)| (k.to_owned(), val)).collect()
    }
}

/// The cache's backend from ci.toml (`XTASK_CACHE_STORE`, `XTASK_CACHE_ENDPOINT` override it).
fn backend(settings: &crate::settings::Loaded, root: &Utf8Path) -> Result<Backend> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let cache = settings.settings.cache.clone().unwrap_or_default();
    // The artifact store: CI's (the repository variable ARTIFACT_STORE), else ci.toml's.
    let store = env("ARTIFACT_STORE").or_else(|| settings.settings.store.as_ref().map(|s| s.default.clone()));
    let default = store.map(|s| format!("{}/sccache", s.trim_end_matches('/')));
    let Some(url) = env("XTASK_CACHE_STORE").or(cache.store).or(default) else {
        bail!(
            "XTASK_CACHE turns the build cache on, but ci.toml names no place for it\nfix: set [cache] store \
             (gs://BUCKET/PREFIX) or [store] default, or unset XTASK_CACHE"
        );
    };
    Backend::parse(&url, env("XTASK_CACHE_ENDPOINT").or(cache.endpoint), cache.region, root)
}

/// A cache wrapped around one job's compiles.
pub(crate) struct Session {
    sccache: Utf8PathBuf,
    mode: Mode,
    backend: Backend,
    /// Each variable set, with its value before.
    set: Vec<(String, Option<String>)>,
    /// The stable directory the job's compiles run in (held until the job ends).
    _farm: Option<paths::Farm>,
}

/// Puts back what [`start`] changed: each variable's value before; a wrapper that was not there is set empty
/// (cargo's "no wrapper"); sccache's variables stay (nothing reads them without the wrapper), and so does
/// `CARGO_INCREMENTAL=0` for the rest of the job.
fn restore(sh: &xshell::Shell, set: &[(String, Option<String>)]) {
    for (k, before) in set {
        match before {
            Some(v) => sh.set_var(k, v),
            None if k == "RUSTC_WRAPPER" => sh.set_var(k, ""),
            None => {}
        }
    }
}

/// Starts sccache for this job when `XTASK_CACHE` asks (its own server, on a socket in its stable directory, or
/// else a port of this process), and points
/// every cargo the job runs at it (`RUSTC_WRAPPER`). A wrong setting is an error; a cache that cannot start (its
/// tool not provisioned, its server refused) is a warning, and the job builds without it. `auto` writes only where
/// the job has credentials for the backend.
pub(crate) fn start(
    sh: &xshell::Shell,
    tools: &crate::tools::Tools,
    settings: &crate::settings::Loaded,
    root: &Utf8Path,
) -> Result<Option<Session>> {
    let value = std::env::var("XTASK_CACHE").ok();
    let trigger = || Trigger::read(None, None);
    let Some(mut mode) = mode(value.as_deref(), trigger)? else { return Ok(None) };
    let backend = backend(settings, root)?;
    if value.as_deref().map(str::trim) == Some("auto") && mode == Mode::ReadWrite && !backend.has_credentials() {
        eprintln!("build cache: read-only (this job has no credentials for {})", backend.describe());
        mode = Mode::ReadOnly;
    }
    let provisioned = tools.ensure(sh, &[tool::SCCACHE.as_str()]).and_then(|_| {
        tools.probe(sh, tool::SCCACHE.tool())?.path.context("sccache is not installed after provisioning")
    });
    let sccache = match provisioned {
        Ok(path) => path,
        Err(e) => return warn(&format!("sccache could not be provisioned ({e:#})"), &backend),
    };
    let mut vars = backend.variables(mode);
    let base = std::env::var("XTASK_CACHE_BUILD_DIR").ok().filter(|b| !b.is_empty());
    // A relative one is the checkout's (the wrapper runs compiles elsewhere: every path it is given is absolute).
    let base = base.map_or_else(|| Utf8PathBuf::from(paths::BASE), |b| root.join(b));
    let farm = match paths::prepare(&base, &paths::Places::of(root), &sccache) {
        Ok(farm) => {
            vars.extend(farm.vars.iter().cloned());
            Some(farm)
        }
        Err(e) => {
            eprintln!("note: build cache: compiles stay in this checkout, so they hit only at this path: {e:#}");
            vars.push(("RUSTC_WRAPPER".into(), sccache.to_string()));
            None
        }
    };
    // With a stable directory the server listens on a Unix socket in it (closed to other users, as a port on
    // 127.0.0.1 is not); else on a port of this job's own.
    if let Some(f) = &farm {
        vars.push(("SCCACHE_SERVER_UDS".into(), f.dir.join("sccache.sock").to_string()));
    }
    let mut set: Vec<(String, Option<String>)> = vars.iter().map(|(k, _)| (k.clone(), sh.var(k).ok())).collect();
    set.push(("SCCACHE_SERVER_PORT".into(), sh.var("SCCACHE_SERVER_PORT").ok()));
    for (k, v) in &vars {
        sh.set_var(k, v);
    }
    let started = match &farm {
        Some(f) => start_on_socket(sh, &sccache, &f.dir.join("sccache.sock")),
        None => start_server(sh, &sccache, root),
    };
    if let Err(why) = started {
        restore(sh, &set);
        return warn(&format!("sccache did not start ({why})"), &backend);
    }
    let at = farm.as_ref().map_or_else(String::new, |f| format!(", compiling in {}/ws", f.dir));
    eprintln!("build cache: sccache, {}, {}{at}", mode.as_str(), backend.describe());
    Ok(Some(Session { sccache, mode, backend, set, _farm: farm }))
}

/// Starts the job's server on the socket `sock` (a leftover of a killed job's is removed first: the slot is this
/// job's alone).
fn start_on_socket(sh: &xshell::Shell, sccache: &Utf8Path, sock: &Utf8Path) -> Result<(), String> {
    let _ = std::fs::remove_file(sock);
    match cmd!(sh, "{sccache} --start-server").quiet().ignore_status().output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// Starts a server of this job's own (two jobs at once must not stop each other's), on a port picked from the
/// checkout and this process, below every system's ephemeral ports (an outgoing connection may hold one); when
/// that port is taken, on another.
fn start_server(sh: &xshell::Shell, sccache: &Utf8Path, root: &Utf8Path) -> Result<(), String> {
    let seed = format!("{root}\n{}", std::process::id());
    let hash = u32::from_str_radix(&crate::sha256::digest(seed.as_bytes())[..6], 16).unwrap_or_default();
    let mut why = String::new();
    for attempt in 0..4 {
        let port = 4_300 + (hash + attempt * 7_919) % 28_000;
        sh.set_var("SCCACHE_SERVER_PORT", port.to_string());
        let started = cmd!(sh, "{sccache} --start-server").quiet().ignore_status().output();
        match started {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => why = String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            Err(e) => return Err(e.to_string()),
        }
        if !why.contains("in use") {
            break;
        }
    }
    Err(why)
}

/// A cache that cannot start: said in the log and the job summary, and the job builds without it.
fn warn(why: &str, backend: &Backend) -> Result<Option<Session>> {
    let line = format!(
        "warning: the build cache ({}) is off for this job: {}\nfix: check the cache's credentials and address, \
         or unset XTASK_CACHE",
        backend.describe(),
        crate::plan::printable(why)
    );
    eprintln!("{line}");
    let _ = crate::github::summary(&format!("\n{line}\n"));
    Ok(None)
}

/// sccache's counts: (hits, misses, not cacheable).
pub(crate) fn counts(stats: &serde_json::Value) -> (u64, u64, u64) {
    let sum =
        |v: &serde_json::Value| v["counts"].as_object().map_or(0, |m| m.values().filter_map(|n| n.as_u64()).sum());
    let s = &stats["stats"];
    let not_cacheable =
        s["requests_not_cacheable"].as_u64().unwrap_or(0) + s["non_cacheable_compilations"].as_u64().unwrap_or(0);
    (sum(&s["cache_hits"]), sum(&s["cache_misses"]), not_cacheable)
}

impl Session {
    /// Prints the job's hits and misses (and adds them to the job summary), stops the server, and takes the
    /// cache's variables out of the job's environment.
    pub(crate) fn finish(self, sh: &xshell::Shell, job: &str) {
        let sccache = &self.sccache;
        let stats = cmd!(sh, "{sccache} --show-stats --stats-format json").quiet().ignore_stderr().read();
        if let Ok(stats) = stats.as_deref().map(serde_json::from_str::<serde_json::Value>) {
            let stats = stats.unwrap_or_default();
            let (hits, misses, other) = counts(&stats);
            let rate = if hits + misses == 0 { 0.0 } else { 100.0 * hits as f64 / (hits + misses) as f64 };
            let line = format!(
                "build cache ({}, {}): {hits} of {} cacheable compilations hit ({rate:.1} %), {misses} missed, {other} \
                 not cacheable",
                self.mode.as_str(),
                self.backend.describe(),
                hits + misses
            );
            println!("{line}");
            let _ = crate::github::summary(&format!("\n**{job}**: {line}\n"));
        }
        let _ = cmd!(sh, "{sccache} --stop-server").quiet().ignore_status().ignore_stdout().ignore_stderr().run();
        restore(sh, &self.set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(name: &str, payload: serde_json::Value) -> Trigger {
        Trigger { name: name.into(), payload }
    }

    #[test]
    fn the_mode_is_one_variable() {
        let local = || Ok(trigger("local", serde_json::json!({})));
        assert_eq!(mode(None, local).unwrap(), None);
        assert_eq!(mode(Some("off"), local).unwrap(), None);
        assert_eq!(mode(Some("read-only"), local).unwrap(), Some(Mode::ReadOnly));
        assert_eq!(mode(Some("read-write"), local).unwrap(), Some(Mode::ReadWrite));
        assert_eq!(mode(Some("auto"), local).unwrap(), None, "auto on a laptop: off");
        let pr = || Ok(trigger("pull_request", serde_json::json!({})));
        assert_eq!(mode(Some("auto"), pr).unwrap(), Some(Mode::ReadOnly));
        let e = mode(Some("yes\u{1b}[31m"), local).unwrap_err().to_string();
        assert!(e.contains("is no cache mode") && e.contains("\nfix: ") && !e.contains('\u{1b}'), "{e}");
    }

    /// Only what lands on the default branch writes the build cache.
    #[test]
    fn only_the_default_branch_writes_the_build_cache() {
        let repo = serde_json::json!({"default_branch": "main"});
        let push = |r: &str| trigger("push", serde_json::json!({"ref": r, "repository": repo}));
        assert_eq!(for_trigger(&push("refs/heads/main")).0, Some(Mode::ReadWrite));
        assert_eq!(for_trigger(&push("refs/heads/feature")).0, Some(Mode::ReadOnly));
        assert_eq!(for_trigger(&push("refs/tags/main")).0, Some(Mode::ReadOnly), "a tag named like the branch");
        assert_eq!(for_trigger(&trigger("schedule", serde_json::json!({}))).0, Some(Mode::ReadWrite));
        for name in ["pull_request", "pull_request_target", "merge_group", "workflow_dispatch"] {
            let payload = serde_json::json!({"ref": "refs/heads/main", "repository": repo});
            assert_eq!(for_trigger(&trigger(name, payload)).0, Some(Mode::ReadOnly), "{name}");
        }
        assert_eq!(for_trigger(&trigger("local", serde_json::json!({}))).0, None);
    }

    /// Each backend's sccache variables; a pull request's read-only mode reaches the backend.
    #[test]
    fn backends_name_sccache_s_variables() {
        let root = Utf8Path::new("/repo");
        let gcs = Backend::parse("gs://bucket/ci/sccache", None, None, root).unwrap();
        assert_eq!(gcs, Backend::Gcs { bucket: "bucket".into(), prefix: "ci/sccache".into() });
        let vars = gcs.variables(Mode::ReadOnly);
        assert!(vars.contains(&("SCCACHE_GCS_RW_MODE".into(), "READ_ONLY".into())), "{vars:?}");
        assert!(vars.contains(&("SCCACHE_GCS_KEY_PREFIX".into(), "ci/sccache".into())));
        let s3 = Backend::parse("s3://b/p/", Some("http://127.0.0.1:9".into()), None, root).unwrap();
        let vars = s3.variables(Mode::ReadWrite);
        for want in
            [("SCCACHE_S3_USE_SSL", "false"), ("SCCACHE_REGION", "us-east-1"), ("SCCACHE_S3_RW_MODE", "READ_WRITE")]
        {
            assert!(vars.contains(&(want.0.into(), want.1.into())), "{want:?} in {vars:?}");
        }
        assert_eq!(
            Backend::parse("target/cache", None, None, root).unwrap(),
            Backend::Dir("/repo/target/cache".into())
        );
        assert_eq!(Backend::parse("file:///c", None, None, root).unwrap(), Backend::Dir("/c".into()));
        for bad in ["gs:///x", "https://example.com/c"] {
            let e = Backend::parse(bad, None, None, root).unwrap_err().to_string();
            assert!(e.contains("\nfix: "), "{bad}: {e}");
        }
    }

    #[test]
    fn hits_and_misses_are_summed_over_languages() {
        let stats = serde_json::json!({"stats": {
            "cache_hits": {"counts": {"Rust": 90, "C/C++": 2}},
            "cache_misses": {"counts": {"Rust": 8}},
            "requests_not_cacheable": 5,
            "non_cacheable_compilations": 1,
        }});
        assert_eq!(counts(&stats), (92, 8, 6));
        assert_eq!(counts(&serde_json::json!({})), (0, 0, 0));
    }
}
