//! The store in a Google Cloud Storage bucket, through its JSON API (every request through `crate::http`): each
//! object's sha256 is custom metadata; creating uses `ifGenerationMatch=0`.

use std::io::Write as _;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;
use xshell::{Shell, cmd};

use super::{Backend, Object, Put, PutItem, token_may_go_to};
use crate::http::encode;

const TOKEN_FIX: &str = "export GOOGLE_OAUTH_ACCESS_TOKEN=\"$(gcloud auth print-access-token)\", or in GitHub \
Actions use google-github-actions/auth with token_format: access_token and pass its access_token output in that \
variable; for a local GCS emulator set STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT";

pub(super) struct Gcs {
    endpoint: String,
    bucket: String,
    /// A local server: no token is needed.
    emulator: bool,
    token: OnceLock<Option<String>>,
    /// Where temporary files go.
    tmp: Utf8PathBuf,
}

/// An object's metadata, as the JSON API returns it (sizes and generations are strings there).
#[derive(Deserialize)]
struct ObjectReply {
    #[serde(default)]
    name: String,
    size: Option<String>,
    generation: Option<String>,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
}

impl ObjectReply {
    fn object(self) -> (String, Object) {
        let object = Object {
            size: self.size.and_then(|s| s.parse().ok()).unwrap_or(0),
            sha256: self.metadata.get("sha256").cloned(),
            generation: self.generation,
        };
        (self.name, object)
    }
}

/// One page of an object listing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListReply {
    #[serde(default)]
    items: Vec<ObjectReply>,
    next_page_token: Option<String>,
}

/// An error reply: `{"error": {"message": ...}}`.
#[derive(Deserialize)]
struct ErrorReply {
    error: ErrorMessage,
}

#[derive(Deserialize)]
struct ErrorMessage {
    message: String,
}

impl Gcs {
    pub(super) fn new(endpoint: String, bucket: String, emulator: bool, tmp: Utf8PathBuf) -> Gcs {
        Gcs { endpoint, bucket, emulator, token: OnceLock::new(), tmp }
    }

    /// One request (see [`crate::http`]: retried on transient failures). With `to`, a 200 body goes to that
    /// file; otherwise it is returned.
    fn request(&self, sh: &Shell, method: &str, url: &str, to: Option<&Utf8Path>) -> Result<(u16, Vec<u8>)> {
        let mut r = crate::http::Request::new(method, url);
        r.to = to.map(Utf8Path::to_owned);
        let secret = self.token(sh)?.map(|t| format!("Authorization: Bearer {t}"));
        let response = crate::http::send(sh, &r, secret.as_deref(), &self.tmp).map_err(|e| self.unreachable(e))?;
        Ok((response.status, response.body))
    }

    /// A store that did not answer: the error with what to do.
    fn unreachable(&self, e: anyhow::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the store at {}: {e:#}\nfix: check that the server is up and reachable, then run \
             again: finished work is skipped",
            self.endpoint
        )
    }

    fn status_error(&self, status: u16, body: &[u8], what: &str) -> anyhow::Error {
        let message = serde_json::from_slice::<ErrorReply>(body)
            .map(|r| r.error.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
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

    fn token(&self, sh: &Shell) -> Result<Option<String>> {
        // A job that only reads a public bucket (a pull request's sizes) sends no token at all.
        if std::env::var("XTASK_STORE_ANONYMOUS").is_ok_and(|v| v == "1") {
            return Ok(None);
        }
        let found = self.token.get_or_init(|| {
            for var in ["GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN"] {
                if let Ok(t) = std::env::var(var)
                    && !t.trim().is_empty()
                {
                    return Some(t.trim().to_owned());
                }
            }
            if self.emulator {
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
        match (found, self.emulator) {
            (Some(t), _) => {
                token_may_go_to(&self.endpoint)?;
                Ok(Some(t.clone()))
            }
            (None, true) => Ok(None),
            (None, false) => bail!("no access token for Google Cloud Storage\nfix: {TOKEN_FIX}"),
        }
    }

    /// A multipart body (the metadata with the sha256, then the file) in a temporary file, and its content type.
    fn multipart_body(&self, name: &str, item: &PutItem) -> Result<(crate::tempfiles::TempFile, String)> {
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
}

impl Backend for Gcs {
    fn describe(&self, prefix: &str) -> String {
        let via = if self.emulator { format!(" via {}", self.endpoint) } else { String::new() };
        format!("gs://{}/{prefix}{via}", self.bucket)
    }

    fn public_url(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.endpoint, self.bucket)
    }

    fn head(&self, sh: &Shell, name: &str) -> Result<Option<Object>> {
        let url = format!("{}/storage/v1/b/{}/o/{}", self.endpoint, self.bucket, encode(name));
        let (status, body) = self.request(sh, "GET", &url, None)?;
        match status {
            200 => {
                let reply: ObjectReply = serde_json::from_slice(&body)
                    .with_context(|| format!("the metadata of {name} is not an object's"))?;
                Ok(Some(reply.object().1))
            }
            404 => Ok(None),
            s => Err(self.status_error(s, &body, &format!("reading the metadata of {name}"))),
        }
    }

    fn list(&self, sh: &Shell, prefix: &str) -> Result<Vec<(String, Object)>> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut url = format!("{}/storage/v1/b/{}/o?prefix={}", self.endpoint, self.bucket, encode(prefix));
            if let Some(t) = &page {
                url.push_str(&format!("&pageToken={}", encode(t)));
            }
            let (status, body) = self.request(sh, "GET", &url, None)?;
            if status != 200 {
                return Err(self.status_error(status, &body, &format!("listing {prefix}")));
            }
            let reply: ListReply = serde_json::from_slice(&body).context("the object listing is not a listing")?;
            out.extend(reply.items.into_iter().filter(|i| !i.name.is_empty()).map(ObjectReply::object));
            match reply.next_page_token {
                Some(t) if !t.is_empty() => page = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    fn put_batch(&self, sh: &Shell, items: &[(String, &PutItem)], parallel: usize) -> Vec<Result<Put>> {
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
        let built =
            crate::parallel::map(items, crate::parallel::cores(), |(name, item)| self.multipart_body(name, item));
        for (n, ((_, item), built)) in items.iter().zip(built).enumerate() {
            match built {
                Ok((body, content_type)) => {
                    let mut url =
                        format!("{}/upload/storage/v1/b/{}/o?uploadType=multipart", self.endpoint, self.bucket);
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
            let (name, item) = &items[n];
            results[n] = Some(match response {
                Err(e) => Err(self.unreachable(e)),
                Ok(r) => match r.status {
                    200 | 201 => Ok(Put::Created),
                    412 if item.generation.as_deref() == Some("0") => Ok(Put::Exists),
                    412 => Ok(Put::Changed),
                    s => Err(self.status_error(s, &r.body, &format!("uploading {name}"))),
                },
            });
        }
        results.into_iter().map(|r| r.expect("every item has a result")).collect()
    }

    fn get(&self, sh: &Shell, name: &str, dest: &Utf8Path) -> Result<bool> {
        let url = format!("{}/storage/v1/b/{}/o/{}?alt=media", self.endpoint, self.bucket, encode(name));
        let (status, body) = self.request(sh, "GET", &url, Some(dest))?;
        match status {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(self.status_error(s, &body, &format!("downloading {name}"))),
        }
    }
}
