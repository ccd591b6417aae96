//! A crate registry with crates.io's manners, for the release's tests, and what a release needs in a store.
//!
//! [`PacedRegistry`] stands in front of a real cargo-http-registry (which stores the crates and writes the index)
//! and adds what that one lacks and crates.io has: a rate limit (a bucket of `burst` publishes, refilled one per
//! `interval`; beyond it HTTP 429 with `Retry-After` in whole seconds), an index that shows a version only
//! `index_delay` after it was accepted (its sparse index at `/index/`), and one version once (a second publish of
//! a version is answered as crates.io does: 200 with "already uploaded").

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{MockHttp, Received, Reply};
use crate::registry::pace;

/// A registry's rate limit and index delay.
#[derive(Clone, Copy, Debug)]
pub struct RegistryLimits {
    pub burst: u32,
    pub interval: Duration,
    pub index_delay: Duration,
}

impl RegistryLimits {
    fn pace(self) -> pace::Limits {
        pace::Limits { burst: self.burst, interval: self.interval, index_delay: self.index_delay }
    }
}

/// The least time any publisher needs to publish `crates` (each with the names it depends on) under `limits`
/// until the last is visible (see the engine's `registry::pace::lower_bound`).
pub fn release_lower_bound(crates: &[(String, Vec<String>)], limits: RegistryLimits) -> Duration {
    let g = pace::Graph::new(crates).expect("no cycle");
    let all: Vec<usize> = (0..g.len()).collect();
    pace::lower_bound(&g, &all, limits.pace())
}

#[derive(Default)]
struct State {
    tokens: f64,
    refilled: Option<Instant>,
    /// (name, version) -> when it was accepted.
    accepted_at: BTreeMap<(String, String), Instant>,
    accepted: Vec<(String, String)>,
    limited: usize,
    /// Publishes of a version it held already.
    duplicates: usize,
}

/// See the module's documentation. Stops when dropped.
pub struct PacedRegistry {
    http: MockHttp,
    state: Arc<Mutex<State>>,
}

impl PacedRegistry {
    /// In front of the cargo-http-registry listening on `upstream` with its index in the git repository `dir`.
    pub fn start(upstream: u16, dir: &Path, limits: RegistryLimits) -> PacedRegistry {
        let state = Arc::new(Mutex::new(State { tokens: limits.burst as f64, ..State::default() }));
        let (shared, dir) = (state.clone(), dir.to_owned());
        let http = MockHttp::start_replying(0, move |r| handle(r, &shared, &dir, upstream, limits));
        PacedRegistry { http, state }
    }

    /// Its web API.
    pub fn api(&self) -> String {
        self.http.url()
    }

    /// Its sparse index, as cargo and the release name it.
    pub fn index(&self) -> String {
        format!("sparse+{}/index/", self.http.url())
    }

    /// Every publish it accepted, in order: (name, version).
    pub fn accepted(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// How many 429s it answered.
    pub fn limited(&self) -> usize {
        self.state.lock().unwrap().limited
    }

    /// How many publishes came for a version it held already (answered "already uploaded").
    pub fn duplicates(&self) -> usize {
        self.state.lock().unwrap().duplicates
    }
}

/// Every index line of `name` the registry in `dir` holds (none hidden).
pub fn registry_index_lines(dir: &Path, name: &str) -> Vec<String> {
    let spec = format!("HEAD:{}", crate::registry::crates::index_path(name));
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(["show", &spec]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

fn handle(r: &Received, state: &Mutex<State>, dir: &Path, upstream: u16, limits: RegistryLimits) -> Reply {
    let text = |status: u16, body: String| (status, Vec::new(), body);
    match (r.method.as_str(), r.target.as_str()) {
        ("GET", "/index/config.json") => text(
            200,
            format!("{{\"dl\":\"http://127.0.0.1:{upstream}/api/v1/crates\",\"api\":\"http://127.0.0.1:{upstream}\"}}"),
        ),
        ("GET", path) if path.starts_with("/index/") => {
            let name = path.rsplit('/').next().unwrap_or_default();
            let state = state.lock().unwrap();
            let visible: Vec<String> = registry_index_lines(dir, name)
                .into_iter()
                .filter(|line| {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
                    let key = (
                        v["name"].as_str().unwrap_or_default().to_owned(),
                        v["vers"].as_str().unwrap_or_default().to_owned(),
                    );
                    state.accepted_at.get(&key).is_none_or(|at| at.elapsed() >= limits.index_delay)
                })
                .collect();
            if visible.is_empty() { text(404, String::new()) } else { text(200, visible.join("\n") + "\n") }
        }
        ("PUT", "/api/v1/crates/new") => publish(r, state, dir, upstream, limits),
        _ => text(404, String::new()),
    }
}

/// One publish, one at a time (the lock is held throughout, as a registry's transaction).
fn publish(r: &Received, state: &Mutex<State>, dir: &Path, upstream: u16, limits: RegistryLimits) -> Reply {
    let mut state = state.lock().unwrap();
    let len = r.body.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let meta: serde_json::Value =
        r.body.get(4..4 + len).and_then(|j| serde_json::from_slice(j).ok()).unwrap_or_default();
    let (name, vers) =
        (meta["name"].as_str().unwrap_or_default().to_owned(), meta["vers"].as_str().unwrap_or_default().to_owned());
    let held = registry_index_lines(dir, &name).iter().any(|l| l.contains(&format!("\"vers\":\"{vers}\"")));
    if held {
        state.duplicates += 1;
        let detail = format!("crate version `{vers}` is already uploaded");
        return (200, Vec::new(), serde_json::json!({"errors": [{"detail": detail}]}).to_string());
    }
    let now = Instant::now();
    let interval = limits.interval.as_secs_f64();
    let since = state.refilled.map_or(0.0, |t| (now - t).as_secs_f64());
    state.tokens = (state.tokens + since / interval).min(limits.burst as f64);
    state.refilled = Some(now);
    if state.tokens < 1.0 {
        state.limited += 1;
        let wait = ((1.0 - state.tokens) * interval).ceil().max(1.0) as u64;
        let body = format!(
            "{{\"errors\":[{{\"detail\":\"You have published too many crates in a short period of time. Please try again in {wait} s.\"}}]}}"
        );
        return (429, vec![("Retry-After".into(), wait.to_string())], body);
    }
    let (status, body) = forward(upstream, r);
    if status == 200 {
        state.tokens -= 1.0;
        state.accepted_at.insert((name.clone(), vers.clone()), Instant::now());
        state.accepted.push((name, vers));
    }
    (status, Vec::new(), body)
}

/// The publish, passed on to the cargo-http-registry: its status and body.
fn forward(upstream: u16, r: &Received) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    let auth = r.header("authorization").unwrap_or("x");
    let head = format!(
        "PUT /api/v1/crates/new HTTP/1.1\r\nHost: 127.0.0.1:{upstream}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&r.body).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(502);
    let body = reply.split_once("\r\n\r\n").map(|x| x.1.to_owned()).unwrap_or_default();
    (status, body)
}

/// Signs the manifest of `commit` in the directory store `store` with a new minisign key in `keys` (made with
/// the `minisign` program), as `cargo xtask sign` would; the public key's path.
pub fn sign_in_store(store: &Path, commit: &str, version: &str, keys: &Path) -> PathBuf {
    std::fs::create_dir_all(keys).unwrap();
    let (public, secret) = (keys.join("release.pub"), keys.join("release.key"));
    if !public.exists() {
        let made = std::process::Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(&public)
            .arg("-s")
            .arg(&secret)
            .output()
            .expect("minisign");
        assert!(made.status.success(), "minisign -G: {}", String::from_utf8_lossy(&made.stderr));
    }
    let key = crate::signature::parse_secret(&std::fs::read_to_string(&secret).unwrap()).unwrap();
    let manifest = store.join(format!("commit/{commit}/manifest.json"));
    let signature = crate::signature::sign_with(&key, &std::fs::read(&manifest).unwrap(), commit, version);
    std::fs::write(manifest.with_extension("json.minisig"), signature).unwrap();
    public
}

/// Writes the local packages of `commit` (as `cargo xtask package` leaves them in `out/<commit>/`) holding the
/// `.crate` files `crates` (name, file) of `version`, for `cargo xtask upload --from out`.
pub fn crates_as_packages(out: &Path, commit: &str, version: &str, crates: &[(String, PathBuf)]) {
    use crate::manifest::{Artifact, Kind, Manifest};
    let dir = out.join(commit);
    std::fs::create_dir_all(dir.join("crates")).unwrap();
    let mut artifacts = Vec::new();
    for (name, file) in crates {
        let bytes = std::fs::read(file).unwrap();
        let path = format!("crates/{name}-{version}.crate");
        std::fs::write(dir.join(&path), &bytes).unwrap();
        artifacts.push(Artifact {
            kind: Kind::Crate,
            name: name.clone(),
            path,
            size: bytes.len() as u64,
            sha256: crate::sha256::digest(&bytes),
            version: version.into(),
            platform: None,
            tag: None,
            command: "cargo package --no-verify".into(),
            tools: vec![],
        });
    }
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    let m = Manifest {
        commit: commit.into(),
        dirty: false,
        source_date_epoch: 1,
        xtask_version: env!("CARGO_PKG_VERSION").into(),
        version: version.into(),
        artifacts,
    };
    let path = camino::Utf8PathBuf::from_path_buf(dir.join(crate::manifest::FILE)).unwrap();
    m.write_atomic(&path).unwrap();
}
