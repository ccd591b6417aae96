//! The artifact store: one small interface, two backends.
//!
//! - `gs://BUCKET/PREFIX`: the Google Cloud Storage JSON API, spoken through `curl` (no HTTP or TLS crates
//!   compiled into the xtask). The endpoint is `$STORAGE_EMULATOR_HOST` when set (as Google's own client
//!   libraries do), else `https://storage.googleapis.com`. The token comes from `$GOOGLE_OAUTH_ACCESS_TOKEN`
//!   (or `$CLOUDSDK_AUTH_ACCESS_TOKEN`), else `gcloud auth print-access-token`; it reaches curl on stdin, so
//!   it is never in a process list, a log line or an error message.
//! - `file:///PATH` or a plain path: the same layout in a directory; the default (`target/store`).
//!
//! Every object carries its sha256 (GCS custom metadata; the file backend hashes the file), so an upload can
//! tell "already there" from "different content". Creating uses a create-only precondition.

use std::io::Write as _;

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::http::{encode, url_parts};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    File { root: Utf8PathBuf },
    Gcs { endpoint: String, bucket: String, emulator: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub size: u64,
    pub sha256: Option<String>,
    /// GCS generation (for conditional updates); `None` on the file backend.
    pub generation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Put {
    Created,
    /// A create-only put found the object already there.
    Exists,
}

pub struct Store {
    pub backend: Backend,
    /// Key prefix inside the bucket or directory (no leading or trailing `/`; may be empty).
    pub prefix: String,
    token: std::sync::OnceLock<Option<String>>,
    /// Where temporary files go.
    tmp: Utf8PathBuf,
}

pub const TOKEN_FIX: &str = "export GOOGLE_OAUTH_ACCESS_TOKEN=\"$(gcloud auth print-access-token)\", or in GitHub \
Actions use google-github-actions/auth with token_format: access_token and pass its access_token output in that \
variable; for a local GCS emulator set STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT";

impl Store {
    /// Parses `gs://bucket/prefix`, `file:///path` or a plain path (relative to `root`); the GCS endpoint is
    /// `$STORAGE_EMULATOR_HOST` when set.
    pub fn parse(url: &str, root: &Utf8Path) -> Result<Store> {
        Store::parse_with(url, root, std::env::var("STORAGE_EMULATOR_HOST").ok().as_deref())
    }

    /// Like [`Store::parse`] with an explicit GCS endpoint (a local server) instead of the environment's.
    pub fn parse_with(url: &str, root: &Utf8Path, emulator_host: Option<&str>) -> Result<Store> {
        let tmp = root.join(crate::config::STORE_TMP_DIR);
        if let Some(rest) = url.strip_prefix("gs://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid = !bucket.is_empty()
                && bucket.len() <= 222
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
            if !valid {
                bail!(
                    "`{url}`: `{bucket}` is not a valid bucket name\nfix: use gs://BUCKET/PREFIX with a lower-case bucket name"
                );
            }
            let prefix = prefix.trim_matches('/');
            if !prefix.is_empty() {
                check_key(prefix).map_err(|e| anyhow::anyhow!("`{url}`: the prefix {e:#}"))?;
            }
            let (endpoint, emulator) = match emulator_host {
                Some(h) if !h.is_empty() => {
                    let h = h.trim_end_matches('/');
                    let endpoint = if h.contains("://") { h.to_owned() } else { format!("http://{h}") };
                    check_endpoint(&endpoint)?;
                    (endpoint, true)
                }
                _ => ("https://storage.googleapis.com".to_owned(), false),
            };
            return Ok(Store {
                backend: Backend::Gcs { endpoint, bucket: bucket.to_owned(), emulator },
                prefix: prefix.trim_matches('/').to_owned(),
                token: std::sync::OnceLock::new(),
                tmp,
            });
        }
        if url.contains("://") && !url.starts_with("file://") {
            bail!("unsupported store `{url}`\nfix: use gs://BUCKET/PREFIX, file:///PATH or a directory path");
        }
        let path = Utf8PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        let path = if path.is_absolute() { path } else { root.join(path) };
        Ok(Store {
            backend: Backend::File { root: path },
            prefix: String::new(),
            token: std::sync::OnceLock::new(),
            tmp,
        })
    }

    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::File { root } => format!("file://{root}"),
            Backend::Gcs { endpoint, bucket, emulator } => {
                let via = if *emulator { format!(" via {endpoint}") } else { String::new() };
                format!("gs://{bucket}/{}{via}", self.prefix)
            }
        }
    }

    /// The full object name of `key`.
    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) }
    }

    /// The URL anyone can read `key` at (pip's index URL is built from it).
    pub fn public_url(&self, key: &str) -> String {
        match &self.backend {
            Backend::File { root } => format!("file://{}", root.join(self.name(key))),
            Backend::Gcs { endpoint, bucket, .. } => format!("{endpoint}/{bucket}/{}", self.name(key)),
        }
    }

    fn file_path(root: &Utf8Path, name: &str) -> Utf8PathBuf {
        // A name ending in `/` (a directory page for pip) is that directory's index.html on disk.
        if name.ends_with('/') || name.is_empty() { root.join(name).join("index.html") } else { root.join(name) }
    }

    /// Whether `key` can hold an object: on a file store, not a directory, no file where a directory of its
    /// path must be, and no symbolic link leading out of the store. (A bucket has no such limits.)
    pub fn check_can_write(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let Backend::File { root } = &self.backend else { return Ok(()) };
        let dest = Self::file_path(root, &self.name(key));
        if dest.is_dir() {
            bail!("{key:?}: the store holds a directory of that name\nfix: choose another name");
        }
        // The deepest directory of the path that exists must be inside the store, and every part a directory.
        let mut dir = dest.parent().map(Utf8Path::to_owned);
        while let Some(d) = dir.clone() {
            if d.exists() || d == *root {
                break;
            }
            dir = d.parent().map(Utf8Path::to_owned);
        }
        if let Some(d) = dir.filter(|d| d.exists()) {
            if !d.is_dir() {
                bail!("{key:?}: {d} is an object of the store, not a directory\nfix: choose another name");
            }
            let (inside, store) =
                (std::fs::canonicalize(&d)?, std::fs::canonicalize(root).unwrap_or_else(|_| root.clone().into()));
            if !inside.starts_with(&store) {
                bail!(
                    "{key:?} leads outside the store ({d} resolves to {}): a symbolic link?\nfix: remove the link from the store",
                    inside.display()
                );
            }
        }
        Ok(())
    }

    pub fn head(&self, sh: &Shell, key: &str) -> Result<Option<Object>> {
        let name = self.name(key);
        match &self.backend {
            Backend::File { root } => {
                let path = Self::file_path(root, &name);
                if !path.is_file() {
                    return Ok(None);
                }
                let (sha, size) = crate::sha256::file(&path)?;
                Ok(Some(Object { size, sha256: Some(sha), generation: None }))
            }
            Backend::Gcs { endpoint, bucket, .. } => {
                let url = format!("{endpoint}/storage/v1/b/{bucket}/o/{}", encode(&name));
                let (status, body) = self.request(sh, "GET", &url, None, None)?;
                match status {
                    200 => {
                        let v: Value =
                            serde_json::from_slice(&body).with_context(|| format!("metadata of {name} is not JSON"))?;
                        Ok(Some(Object {
                            size: v["size"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0),
                            sha256: v.pointer("/metadata/sha256").and_then(Value::as_str).map(str::to_owned),
                            generation: v["generation"].as_str().map(str::to_owned),
                        }))
                    }
                    404 => Ok(None),
                    s => Err(self.status_error(s, &body, &format!("reading the metadata of {name}"))),
                }
            }
        }
    }

    /// Every object under `prefix` (a key prefix), keyed relative to the store's prefix: one listing request
    /// per thousand objects instead of one metadata request per object.
    pub fn list(&self, sh: &Shell, prefix: &str) -> Result<std::collections::HashMap<String, Object>> {
        let mut out = std::collections::HashMap::new();
        let strip = |name: &str| -> String {
            if self.prefix.is_empty() {
                name.to_owned()
            } else {
                name.strip_prefix(&format!("{}/", self.prefix)).unwrap_or(name).to_owned()
            }
        };
        match &self.backend {
            Backend::File { root } => {
                fn walk(dir: &Utf8Path, out: &mut Vec<Utf8PathBuf>) {
                    let Ok(entries) = dir.read_dir_utf8() else { return };
                    for e in entries.flatten() {
                        match e.file_type() {
                            Ok(t) if t.is_dir() => walk(e.path(), out),
                            Ok(_) if !e.file_name().starts_with('.') => out.push(e.path().to_owned()),
                            _ => {}
                        }
                    }
                }
                let mut files = Vec::new();
                walk(&root.join(self.name(prefix)), &mut files);
                for f in files {
                    let (sha, size) = crate::sha256::file(&f)?;
                    let key = crate::tools::key_of(f.strip_prefix(root).expect("under root").as_str());
                    out.insert(strip(&key), Object { size, sha256: Some(sha), generation: None });
                }
            }
            Backend::Gcs { endpoint, bucket, .. } => {
                let mut token: Option<String> = None;
                loop {
                    let mut url = format!("{endpoint}/storage/v1/b/{bucket}/o?prefix={}", encode(&self.name(prefix)));
                    if let Some(t) = &token {
                        url.push_str(&format!("&pageToken={}", encode(t)));
                    }
                    let (status, body) = self.request(sh, "GET", &url, None, None)?;
                    if status != 200 {
                        return Err(self.status_error(status, &body, &format!("listing {}", self.name(prefix))));
                    }
                    let v: Value = serde_json::from_slice(&body).context("the object listing is not JSON")?;
                    for item in v["items"].as_array().into_iter().flatten() {
                        let Some(name) = item["name"].as_str() else { continue };
                        out.insert(
                            strip(name),
                            Object {
                                size: item["size"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0),
                                sha256: item.pointer("/metadata/sha256").and_then(Value::as_str).map(str::to_owned),
                                generation: item["generation"].as_str().map(str::to_owned),
                            },
                        );
                    }
                    match v["nextPageToken"].as_str() {
                        Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                        _ => break,
                    }
                }
            }
        }
        Ok(out)
    }

    /// Uploads `file` as `key`. `generation`: `Some("0")` creates only (an existing object gives
    /// [`Put::Exists`]); `Some(g)` replaces generation `g` only; `None` replaces whatever is there.
    pub fn put(
        &self,
        sh: &Shell,
        key: &str,
        file: &Utf8Path,
        sha256: &str,
        meta: &PutMeta,
        generation: Option<&str>,
    ) -> Result<Put> {
        check_key(key)?;
        let name = self.name(key);
        match &self.backend {
            Backend::File { root } => {
                self.check_can_write(key)?;
                let dest = Self::file_path(root, &name);
                let parent = dest.parent().context("object path has a parent")?;
                std::fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
                // Unique per write: two writers of one key (even in one process) must not share a temp file.
                // Hidden (listings skip it), removed on every path, swept by the next run if this one is killed.
                let tmp = crate::tempfiles::temp_file(parent, &format!(".{}", dest.file_name().unwrap_or("x")))?;
                std::fs::copy(file, &tmp).with_context(|| format!("copying {file} to {tmp}"))?;
                let result = if generation == Some("0") {
                    // hard_link fails if the destination exists: an atomic create-only.
                    match std::fs::hard_link(&tmp, &dest) {
                        Ok(()) => Ok(Put::Created),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Put::Exists),
                        Err(e) => Err(anyhow!("creating {dest}: {e}")),
                    }
                } else {
                    std::fs::rename(&tmp, &dest).map(|()| Put::Created).with_context(|| format!("replacing {dest}"))
                };
                drop(tmp);
                result
            }
            Backend::Gcs { .. } => {
                let item = PutItem {
                    key: key.to_owned(),
                    file: file.to_owned(),
                    sha256: sha256.to_owned(),
                    meta: meta.clone(),
                    generation: generation.map(str::to_owned),
                };
                self.put_many(sh, std::slice::from_ref(&item), 1).pop().expect("one result")
            }
        }
    }

    /// Uploads many objects at once: on GCS through one curl process (`parallel` transfers at a time), each
    /// with its sha256 in one multipart request; on the file backend one after another. One result per item.
    pub fn put_many(&self, sh: &Shell, items: &[PutItem], parallel: usize) -> Vec<Result<Put>> {
        // A batch's request bodies (each a copy of its file) exist at once: batches of at most 1 GiB.
        const BATCH_BYTES: u64 = 1 << 30;
        let mut results = Vec::new();
        let mut start = 0;
        while start < items.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < items.len() && (end == start || bytes < BATCH_BYTES) {
                bytes += std::fs::metadata(&items[end].file).map_or(0, |m| m.len());
                end += 1;
            }
            results.extend(self.put_batch(sh, &items[start..end], parallel));
            start = end;
        }
        results
    }

    fn put_batch(&self, sh: &Shell, items: &[PutItem], parallel: usize) -> Vec<Result<Put>> {
        let Backend::Gcs { endpoint, bucket, .. } = &self.backend else {
            return items
                .iter()
                .map(|i| self.put(sh, &i.key, &i.file, &i.sha256, &i.meta, i.generation.as_deref()))
                .collect();
        };
        let secret = match self.token(sh) {
            Ok(t) => t.map(|t| format!("Authorization: Bearer {t}")),
            Err(e) => {
                let e = format!("{e:#}");
                return items.iter().map(|_| Err(anyhow!("{e}"))).collect();
            }
        };
        let mut results: Vec<Option<Result<Put>>> = items.iter().map(|_| None).collect();
        let mut bodies = Vec::new();
        let mut requests = Vec::new();
        let mut sent = Vec::new();
        // The bodies, written on every core at once.
        let built = crate::parallel::map(items, crate::parallel::cores(), |item| {
            check_key(&item.key).and_then(|()| self.multipart_body(item))
        });
        for (n, (item, built)) in items.iter().zip(built).enumerate() {
            match built {
                Ok((body, content_type)) => {
                    let mut url = format!("{endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=multipart");
                    if let Some(g) = &item.generation {
                        url.push_str(&format!("&ifGenerationMatch={g}"));
                    }
                    requests.push(
                        crate::http::Request::new("POST", &url)
                            .header(format!("Content-Type: {content_type}"))
                            .body(body.path()),
                    );
                    bodies.push(body);
                    sent.push(n);
                }
                Err(e) => results[n] = Some(Err(e)),
            }
        }
        let responses = crate::http::send_all(sh, &requests, secret.as_deref(), parallel, &self.tmp);
        drop(bodies);
        for (n, response) in sent.into_iter().zip(responses) {
            let item = &items[n];
            let name = self.name(&item.key);
            results[n] = Some(match response {
                Err(e) => Err(self.unreachable(e)),
                Ok(r) => match r.status {
                    200 | 201 => Ok(Put::Created),
                    412 if item.generation.as_deref() == Some("0") => Ok(Put::Exists),
                    412 => {
                        Err(anyhow!("{name} changed while this upload ran (generation precondition failed): run again"))
                    }
                    s => Err(self.status_error(s, &r.body, &format!("uploading {name}"))),
                },
            });
        }
        results.into_iter().map(|r| r.expect("every item has a result")).collect()
    }

    /// A GCS multipart body (the metadata with the sha256, then the file) in a temporary file, and its
    /// content type.
    fn multipart_body(&self, item: &PutItem) -> Result<(crate::tempfiles::TempFile, String)> {
        let name = self.name(&item.key);
        let boundary = format!("xtask-{}", &item.sha256[..16.min(item.sha256.len())]);
        let metadata = serde_json::json!({
            "name": name,
            "contentType": item.meta.content_type,
            "cacheControl": item.meta.cache_control,
            "metadata": { "sha256": item.sha256 },
        });
        let body_path = crate::tempfiles::temp_file(&self.tmp, "body")?;
        let mut body =
            std::fs::File::create(body_path.path()).with_context(|| format!("creating {}", body_path.path()))?;
        write!(
            body,
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: {}\r\n\r\n",
            item.meta.content_type
        )?;
        let file = &item.file;
        let mut f = std::fs::File::open(file).with_context(|| format!("opening {file}"))?;
        std::io::copy(&mut f, &mut body).with_context(|| format!("reading {file}"))?;
        write!(body, "\r\n--{boundary}--\r\n")?;
        Ok((body_path, format!("multipart/related; boundary={boundary}")))
    }

    /// Downloads `key` into `dest` (the caller verifies and renames).
    pub fn get(&self, sh: &Shell, key: &str, dest: &Utf8Path) -> Result<bool> {
        let name = self.name(key);
        match &self.backend {
            Backend::File { root } => {
                let src = Self::file_path(root, &name);
                if !src.is_file() {
                    return Ok(false);
                }
                std::fs::copy(&src, dest).with_context(|| format!("copying {src} to {dest}"))?;
                Ok(true)
            }
            Backend::Gcs { endpoint, bucket, .. } => {
                let url = format!("{endpoint}/storage/v1/b/{bucket}/o/{}?alt=media", encode(&name));
                let (status, body) = self.request_to(sh, "GET", &url, None, None, Some(dest))?;
                match status {
                    200 => Ok(true),
                    404 => Ok(false),
                    s => Err(self.status_error(s, &body, &format!("downloading {name}"))),
                }
            }
        }
    }

    fn token(&self, sh: &Shell) -> Result<Option<String>> {
        let Backend::Gcs { emulator, .. } = &self.backend else { return Ok(None) };
        let found = self.token.get_or_init(|| {
            for var in ["GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN"] {
                if let Ok(t) = std::env::var(var) {
                    if !t.trim().is_empty() {
                        return Some(t.trim().to_owned());
                    }
                }
            }
            if *emulator {
                return None;
            }
            which::which("gcloud").ok()?;
            cmd!(sh, "gcloud auth print-access-token")
                .quiet()
                .ignore_stderr()
                .read()
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        });
        match (found, emulator) {
            (Some(t), _) => {
                if let Backend::Gcs { endpoint, .. } = &self.backend {
                    token_may_go_to(endpoint)?;
                }
                Ok(Some(t.clone()))
            }
            (None, true) => Ok(None),
            (None, false) => bail!("no access token for Google Cloud Storage\nfix: {TOKEN_FIX}"),
        }
    }
}

/// A key the store may hold: `/`-separated segments of letters, digits, `.`, `_`, `-`, `+`, `%`, `=` and `@`;
/// no empty, `.` or `..` segment (so a file store never writes outside its root), at most 1024 bytes.
pub fn check_key(key: &str) -> Result<()> {
    let seg_ok = |seg: &str| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+%=@".contains(&b))
    };
    // A trailing `/` names a directory page (the pip index): allowed, like GCS allows it.
    let body = key.strip_suffix('/').unwrap_or(key);
    if key.len() > 1024 || !body.split('/').all(seg_ok) {
        bail!(
            "{key:?} is not a valid store key: segments of letters, digits and ._-+%=@ separated by `/`, without empty, \
             `.` or `..` segments\nfix: name the object like branch/main/latest"
        );
    }
    Ok(())
}

/// A URL the store can be reached at: http(s), a host, no whitespace.
fn check_endpoint(endpoint: &str) -> Result<()> {
    let url = url_parts(endpoint);
    let bracketed_ok = !url.authority.starts_with('[') || url.authority.contains(']');
    if !matches!(url.scheme.as_str(), "http" | "https")
        || url.host.is_empty()
        || !bracketed_ok
        || endpoint.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        bail!(
            "--endpoint {endpoint:?} is not a URL of a server\nfix: http://127.0.0.1:PORT for a local server, or https://HOST"
        );
    }
    Ok(())
}

/// A bearer token goes only over https, or in plain http to a server on this machine (a local emulator).
pub fn token_may_go_to(endpoint: &str) -> Result<()> {
    let url = url_parts(endpoint);
    let loopback = url.host.eq_ignore_ascii_case("localhost")
        || url.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme.as_str() {
        "https" => Ok(()),
        // `host:port` without a scheme is what STORAGE_EMULATOR_HOST usually holds: plain http.
        "http" | "" if loopback => Ok(()),
        _ => bail!(
            "refusing to send the storage access token to {endpoint}: only https, or plain http to this machine \
             (127.0.0.1, localhost, [::1]), may carry it\nfix: use an https:// endpoint, a local emulator on \
             127.0.0.1, or unset GOOGLE_OAUTH_ACCESS_TOKEN and CLOUDSDK_AUTH_ACCESS_TOKEN for a server that needs none"
        ),
    }
}

impl Store {
    fn request(
        &self,
        sh: &Shell,
        method: &str,
        url: &str,
        body: Option<&Utf8Path>,
        content_type: Option<&str>,
    ) -> Result<(u16, Vec<u8>)> {
        self.request_to(sh, method, url, body, content_type, None)
    }

    /// One request (see [`crate::http`]: retried on transient failures). With `to`, a 200 body goes to that
    /// file; otherwise it is returned.
    fn request_to(
        &self,
        sh: &Shell,
        method: &str,
        url: &str,
        body: Option<&Utf8Path>,
        content_type: Option<&str>,
        to: Option<&Utf8Path>,
    ) -> Result<(u16, Vec<u8>)> {
        let mut r = crate::http::Request::new(method, url);
        if let Some(ct) = content_type {
            r = r.header(format!("Content-Type: {ct}"));
        }
        r.body = body.map(Utf8Path::to_owned);
        r.to = to.map(Utf8Path::to_owned);
        let secret = self.token(sh)?.map(|t| format!("Authorization: Bearer {t}"));
        let response = crate::http::send(sh, &r, secret.as_deref(), &self.tmp).map_err(|e| self.unreachable(e))?;
        Ok((response.status, response.body))
    }

    /// A store that did not answer: the error with what to do.
    fn unreachable(&self, e: anyhow::Error) -> anyhow::Error {
        let endpoint = match &self.backend {
            Backend::Gcs { endpoint, .. } => endpoint.as_str(),
            Backend::File { .. } => "",
        };
        anyhow!(
            "cannot reach the store at {endpoint}: {e:#}\nfix: check that the server is up and reachable, then run \
             again: finished work is skipped"
        )
    }

    fn status_error(&self, status: u16, body: &[u8], what: &str) -> anyhow::Error {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        match status {
            401 | 403 => {
                anyhow!("{what}: the store refused the access token (HTTP {status}: {message})\nfix: {TOKEN_FIX}")
            }
            404 => anyhow!(
                "{what}: not found (HTTP 404: {message}); does the bucket exist?\nfix: create the bucket or correct --store"
            ),
            s => anyhow!("{what}: HTTP {s}: {message}"),
        }
    }
}

/// How an object is served.
#[derive(Clone, Debug)]
pub struct PutMeta {
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// One object of [`Store::put_many`]: `generation` as for [`Store::put`].
#[derive(Clone, Debug)]
pub struct PutItem {
    pub key: String,
    pub file: Utf8PathBuf,
    pub sha256: String,
    pub meta: PutMeta,
    pub generation: Option<String>,
}

pub const IMMUTABLE: PutMeta =
    PutMeta { content_type: "application/octet-stream", cache_control: "public, max-age=31536000, immutable" };

pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html",
        "js" | "mjs" => "text/javascript",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "whl" => "application/zip",
        "crate" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_only_over_https_or_to_this_machine() {
        for ok in [
            "https://storage.googleapis.com",
            "http://127.0.0.1:4443",
            "http://localhost:9",
            "http://[::1]:80/x",
            "127.0.0.1:4443",
            "http://127.9.9.9",
        ] {
            token_may_go_to(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://storage.example.com",
            "http://10.0.0.5:4443",
            "http://127.0.0.1@evil.example:80",
            "http://localhost.evil.example",
            "ftp://127.0.0.1",
            "example.com:80",
        ] {
            let err = token_may_go_to(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("refusing to send the storage access token to {bad}")), "{err}");
            assert!(err.contains("\nfix: "), "{err}");
        }
    }

    #[test]
    fn keys_are_checked_before_anything_is_written() {
        for ok in ["commit/ab/manifest.json", "branch/main/latest", "commit/ab/simple/", "a+b/x=1@2%20"] {
            check_key(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "/abs", "a/../b", "..", "a//b", "./a", "a\\b", "a\nb", "\u{e9}t\u{e9}", "a b", "x/./y"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        // A file store never writes outside its root.
        let root = crate::testutil::temp_dir("store-keys");
        let store = Store::parse(root.join("s").as_str(), &root).unwrap();
        let src = root.join("f");
        std::fs::write(&src, b"x").unwrap();
        let sh = Shell::new().unwrap();
        let meta = PutMeta { content_type: "text/plain", cache_control: "no-cache" };
        let err = store.put(&sh, "../escaped", &src, &crate::sha256::digest(b"x"), &meta, None).unwrap_err();
        assert!(err.to_string().contains("is not a valid store key"), "{err}");
        assert!(!root.join("escaped").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn parses_store_urls() {
        let root = Utf8Path::new("/repo");
        let s = Store::parse("gs://ci-artifacts/pre/fix/", root).unwrap();
        assert!(matches!(&s.backend, Backend::Gcs { bucket, .. } if bucket == "ci-artifacts"));
        assert_eq!(s.name("commit/a/x"), "pre/fix/commit/a/x");
        let s = Store::parse("file:///tmp/store", root).unwrap();
        assert_eq!(s.backend, Backend::File { root: "/tmp/store".into() });
        let s = Store::parse("target/store", root).unwrap();
        assert_eq!(s.backend, Backend::File { root: "/repo/target/store".into() });
        assert_eq!(s.public_url("commit/a/simple/"), "file:///repo/target/store/commit/a/simple/");
        for bad in ["gs://", "gs://Upper/x", "s3://b/x", "gs://a b"] {
            assert!(Store::parse(bad, root).is_err(), "{bad}");
        }
    }

    #[test]
    fn encodes_names() {
        assert_eq!(encode("commit/ab/simple/reel-sdk/"), "commit%2Fab%2Fsimple%2Freel-sdk%2F");
        assert_eq!(encode("a b+c"), "a%20b%2Bc");
    }
}
