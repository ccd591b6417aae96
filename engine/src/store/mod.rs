//! The artifact store: one small interface ([`Store`]), two backends behind it.
//!
//! - `gs://BUCKET/PREFIX` ([`gcs`]): the Google Cloud Storage JSON API, spoken through `curl` (no HTTP or TLS
//!   crates compiled into the xtask). The endpoint is `$STORAGE_EMULATOR_HOST` when set (as Google's own client
//!   libraries do), else `https://storage.googleapis.com`. The token comes from `$GOOGLE_OAUTH_ACCESS_TOKEN`
//!   (or `$CLOUDSDK_AUTH_ACCESS_TOKEN`), else `gcloud auth print-access-token`; it reaches curl on stdin, so
//!   it is never in a process list, a log line or an error message.
//! - `file:///PATH` or a plain path ([`dir`]): the same layout in a directory; the default (`target/store`).
//!
//! Every object carries its sha256 (GCS custom metadata; the file backend hashes the file), so an upload can
//! tell "already there" from "different content". Creating uses a create-only precondition; replacing can name
//! the generation it replaces (compare-and-swap), on both backends alike: concurrent writers of one object (the
//! manifest of a commit that several platforms upload) never lose each other's work.

mod dir;
mod gcs;
pub(crate) mod local;

use anyhow::{Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::http::url_parts;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Object {
    pub size: u64,
    pub sha256: Option<String>,
    /// What a conditional replace names (see [`Store::put`]): the GCS generation; on the file backend the
    /// content's sha256 (compared under the store's lock).
    pub generation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Put {
    Created,
    /// A create-only put found the object already there.
    Exists,
    /// A replace of one generation found another there: someone wrote the object meanwhile.
    Changed,
}

/// What a backend does, on full object names (the store's prefix included).
trait Backend: Send + Sync {
    /// The store, for messages, with its key prefix.
    fn describe(&self, prefix: &str) -> String;
    /// The URL anyone can read the object at.
    fn public_url(&self, name: &str) -> String;
    /// Whether the object `name` (`key` in messages) can be written.
    fn check_can_write(&self, _key: &str, _name: &str) -> Result<()> {
        Ok(())
    }
    fn head(&self, sh: &Shell, name: &str) -> Result<Option<Object>>;
    /// Every object whose name starts with `prefix`: (name, object).
    fn list(&self, sh: &Shell, prefix: &str) -> Result<Vec<(String, Object)>>;
    /// Uploads the items (their names beside them); one result per item.
    fn put_batch(&self, sh: &Shell, items: &[(String, &PutItem)], parallel: usize) -> Vec<Result<Put>>;
    /// Downloads the object into `dest`; `false` if there is none.
    fn get(&self, sh: &Shell, name: &str, dest: &Utf8Path) -> Result<bool>;
}

pub(crate) struct Store {
    backend: Box<dyn Backend>,
    /// Key prefix inside the bucket or directory (no leading or trailing `/`; may be empty).
    pub prefix: String,
}

impl Store {
    /// Parses `gs://bucket/prefix`, `file:///path` or a plain path (relative to `root`); the GCS endpoint is
    /// `$STORAGE_EMULATOR_HOST` when set.
    pub(crate) fn parse(url: &str, root: &Utf8Path) -> Result<Store> {
        Store::parse_with(url, root, std::env::var("STORAGE_EMULATOR_HOST").ok().as_deref())
    }

    /// Like [`Store::parse`] with an explicit GCS endpoint (a local server) instead of the environment's.
    pub(crate) fn parse_with(url: &str, root: &Utf8Path, emulator_host: Option<&str>) -> Result<Store> {
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
            let backend = gcs::Gcs::new(endpoint, bucket.to_owned(), emulator, tmp);
            return Ok(Store { backend: Box::new(backend), prefix: prefix.to_owned() });
        }
        if url.contains("://") && !url.starts_with("file://") {
            bail!("unsupported store `{url}`\nfix: use gs://BUCKET/PREFIX, file:///PATH or a directory path");
        }
        let path = Utf8PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        let path = if path.is_absolute() { path } else { root.join(path) };
        Ok(Store { backend: Box::new(dir::Dir { root: path }), prefix: String::new() })
    }

    pub(crate) fn describe(&self) -> String {
        self.backend.describe(&self.prefix)
    }

    /// The full object name of `key`.
    pub(crate) fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) }
    }

    /// The URL anyone can read `key` at (pip's index URL is built from it).
    pub(crate) fn public_url(&self, key: &str) -> String {
        self.backend.public_url(&self.name(key))
    }

    /// Whether `key` can hold an object: a valid key, and on a file store not a directory, no file where a
    /// directory of its path must be, and no symbolic link leading out of the store. (A bucket has no such
    /// limits.)
    pub(crate) fn check_can_write(&self, key: &str) -> Result<()> {
        check_key(key)?;
        self.backend.check_can_write(key, &self.name(key))
    }

    pub(crate) fn head(&self, sh: &Shell, key: &str) -> Result<Option<Object>> {
        self.backend.head(sh, &self.name(key))
    }

    /// Every object under `prefix` (a key prefix), keyed relative to the store's prefix: one listing request
    /// per thousand objects instead of one metadata request per object.
    pub(crate) fn list(&self, sh: &Shell, prefix: &str) -> Result<std::collections::HashMap<String, Object>> {
        let strip = |name: String| -> String {
            if self.prefix.is_empty() {
                name
            } else {
                name.strip_prefix(&format!("{}/", self.prefix)).map(str::to_owned).unwrap_or(name)
            }
        };
        Ok(self.backend.list(sh, &self.name(prefix))?.into_iter().map(|(name, o)| (strip(name), o)).collect())
    }

    /// Uploads `file` as `key`. `generation`: `Some("0")` creates only (an existing object gives
    /// [`Put::Exists`]); `Some(g)` replaces generation `g` only; `None` replaces whatever is there.
    pub(crate) fn put(
        &self,
        sh: &Shell,
        key: &str,
        file: &Utf8Path,
        sha256: &str,
        meta: &PutMeta,
        generation: Option<&str>,
    ) -> Result<Put> {
        let item = PutItem {
            key: key.to_owned(),
            file: file.to_owned(),
            sha256: sha256.to_owned(),
            meta: meta.clone(),
            generation: generation.map(str::to_owned),
        };
        self.put_many(sh, std::slice::from_ref(&item), 1).pop().expect("one result")
    }

    /// Uploads many objects at once: on GCS through one curl process (`parallel` transfers at a time), each
    /// with its sha256 in one multipart request; on the file backend one after another. One result per item.
    pub(crate) fn put_many(&self, sh: &Shell, items: &[PutItem], parallel: usize) -> Vec<Result<Put>> {
        // A batch's request bodies (each a copy of its file) exist at once: batches of at most 1 GiB.
        const BATCH_BYTES: u64 = 1 << 30;
        let mut results: Vec<Option<Result<Put>>> = items.iter().map(|_| None).collect();
        // Invalid keys are refused before anything is sent.
        let mut valid = Vec::new();
        for (n, item) in items.iter().enumerate() {
            match check_key(&item.key) {
                Ok(()) => valid.push(n),
                Err(e) => results[n] = Some(Err(e)),
            }
        }
        let mut start = 0;
        while start < valid.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < valid.len() && (end == start || bytes < BATCH_BYTES) {
                bytes += std::fs::metadata(&items[valid[end]].file).map_or(0, |m| m.len());
                end += 1;
            }
            let batch: Vec<(String, &PutItem)> =
                valid[start..end].iter().map(|&n| (self.name(&items[n].key), &items[n])).collect();
            for (&n, r) in valid[start..end].iter().zip(self.backend.put_batch(sh, &batch, parallel)) {
                results[n] = Some(r);
            }
            start = end;
        }
        results.into_iter().map(|r| r.expect("every item has a result")).collect()
    }

    /// Downloads `key` into `dest` (the caller verifies and renames).
    pub(crate) fn get(&self, sh: &Shell, key: &str, dest: &Utf8Path) -> Result<bool> {
        self.backend.get(sh, &self.name(key), dest)
    }
}

/// A key the store may hold: `/`-separated segments of letters, digits, `.`, `_`, `-`, `+`, `%`, `=` and `@`;
/// no empty, `.` or `..` segment (so a file store never writes outside its root), at most 1024 bytes.
pub(crate) fn check_key(key: &str) -> Result<()> {
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

/// A bearer token goes only over https, or in plain http to a server on this machine (a local emulator): the
/// one rule of every credential, [`crate::http::credential_may_go_to`].
pub(crate) fn token_may_go_to(endpoint: &str) -> Result<()> {
    crate::http::credential_may_go_to(endpoint).map_err(|_| {
        anyhow::anyhow!(
            "refusing to send the storage access token to {endpoint}: only https, or plain http to this machine \
             (127.0.0.1, localhost, [::1]), may carry it\nfix: use an https:// endpoint, a local emulator on \
             127.0.0.1, or unset GOOGLE_OAUTH_ACCESS_TOKEN and CLOUDSDK_AUTH_ACCESS_TOKEN for a server that needs none"
        )
    })
}

/// How an object is served.
#[derive(Clone, Debug)]
pub(crate) struct PutMeta {
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// One object of [`Store::put_many`]: `generation` as for [`Store::put`].
#[derive(Clone, Debug)]
pub(crate) struct PutItem {
    pub key: String,
    pub file: Utf8PathBuf,
    pub sha256: String,
    pub meta: PutMeta,
    pub generation: Option<String>,
}

pub(crate) const IMMUTABLE: PutMeta =
    PutMeta { content_type: "application/octet-stream", cache_control: "public, max-age=31536000, immutable" };

pub(crate) fn content_type(path: &str) -> &'static str {
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
    use crate::http::encode;

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
        assert_eq!(s.describe(), "gs://ci-artifacts/pre/fix");
        assert_eq!(s.name("commit/a/x"), "pre/fix/commit/a/x");
        let s = Store::parse("file:///tmp/store", root).unwrap();
        assert_eq!(s.describe(), "file:///tmp/store");
        let s = Store::parse("target/store", root).unwrap();
        assert_eq!(s.describe(), "file:///repo/target/store");
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
