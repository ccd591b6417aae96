//! Trusted publishing: short-lived publish tokens obtained by exchanging the GitHub Actions job's OIDC token,
//! so no long-lived registry token has to exist.
//!
//! - The job's ID token for an audience: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD` with
//!   `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the reply is `{"value": JWT}`.
//! - The crate registry (crates.io's trusted publishing): `POST <api>/api/v1/trusted_publishing/tokens` with
//!   `{"jwt": JWT}` gives `{"token": T}`; publish with `T`; `DELETE` the same endpoint with `Authorization:
//!   Bearer T` revokes it when the release is done (also when it failed).
//! - PyPI: `GET <index>/_/oidc/audience` gives `{"audience": AUD}` (404: the index has no trusted publishing);
//!   `POST <index>/_/oidc/mint-token` with `{"token": JWT}` gives `{"token": T}`; twine uploads as `__token__`.
//!
//! Every token is a [`Secret`]: masked in GitHub's log (`::add-mask::`) the moment it is obtained, never in an
//! error message, a plan or `Debug` output, and sent to curl on stdin (headers) or in a private temporary file
//! (bodies), never on a command line.

use anyhow::{Context, Result, anyhow, bail};
use camino::Utf8Path;
use serde_json::{Value, json};
use xshell::Shell;

/// A token: its value is reachable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wraps a token and masks it in GitHub's log from here on.
    pub(crate) fn new(value: String) -> Secret {
        if crate::github::actions() && !value.is_empty() {
            // On stderr: stdout may be one JSON document (`--json`); GitHub reads workflow commands from both.
            eprintln!("::add-mask::{value}");
        }
        Secret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The GitHub Actions OIDC token endpoint of this job.
#[derive(Clone, Debug)]
pub(crate) struct Github {
    url: String,
    bearer: Secret,
}

impl Github {
    /// Present when the job has `id-token: write`.
    pub(crate) fn from_env() -> Option<Github> {
        let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").ok().filter(|v| !v.is_empty())?;
        let bearer = std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").ok().filter(|v| !v.is_empty())?;
        Some(Github { url, bearer: Secret::new(bearer) })
    }

    #[cfg(test)]
    pub(crate) fn new(url: String, bearer: &str) -> Github {
        Github { url, bearer: Secret(bearer.to_owned()) }
    }

    /// The job's ID token (a JWT) for `audience`.
    pub(crate) fn id_token(&self, sh: &Shell, tmp: &Utf8Path, audience: &str) -> Result<Secret> {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}audience={}", self.url, crate::http::encode(audience));
        let auth = format!("Authorization: bearer {}", self.bearer.expose());
        let (status, body) = request(sh, tmp, "GET", &url, Some(&auth), None)?;
        if status != 200 {
            bail!(
                "GitHub's OIDC endpoint answered HTTP {status} for audience {audience}: {}\nfix: give the job \
                 `permissions: id-token: write`",
                brief(&body)
            );
        }
        let v: Value = serde_json::from_slice(&body).context("GitHub's OIDC reply is not JSON")?;
        let jwt = v["value"].as_str().context("GitHub's OIDC reply has no `value`")?;
        Ok(Secret::new(jwt.to_owned()))
    }
}

/// The audience a crate registry expects: its host (`crates.io` for crates.io).
pub(crate) fn crates_audience(api: &str) -> String {
    crate::http::url_parts(api).host.to_owned()
}

/// A crate registry's publish token from trusted publishing; revoked when dropped.
#[derive(Debug)]
pub(crate) struct CratesToken {
    pub token: Secret,
    /// When it was minted (a long release mints another before it expires).
    pub minted: std::time::Instant,
    endpoint: String,
    sh: Shell,
    tmp: camino::Utf8PathBuf,
    revoked: bool,
}

impl CratesToken {
    /// Revokes the token now; the error says what the registry answered.
    pub(crate) fn revoke(&mut self) -> Result<()> {
        if self.revoked {
            return Ok(());
        }
        self.revoked = true;
        let auth = format!("Authorization: Bearer {}", self.token.expose());
        let (status, body) = request(&self.sh, &self.tmp, "DELETE", &self.endpoint, Some(&auth), None)?;
        match status {
            200..=299 => Ok(()),
            s => {
                bail!("revoking the trusted-publishing token failed: HTTP {s}: {} (it expires by itself)", brief(&body))
            }
        }
    }
}

impl Drop for CratesToken {
    fn drop(&mut self) {
        if let Err(e) = self.revoke() {
            eprintln!("warning: {e:#}");
        }
    }
}

/// Exchanges the job's OIDC token for a crate registry publish token.
pub(crate) fn crates_token(sh: &Shell, tmp: &Utf8Path, github: &Github, api: &str) -> Result<CratesToken> {
    let audience = crates_audience(api);
    let jwt = github.id_token(sh, tmp, &audience)?;
    let endpoint = format!("{}/api/v1/trusted_publishing/tokens", api.trim_end_matches('/'));
    let body = serde_json::to_vec(&json!({ "jwt": jwt.expose() }))?;
    let (status, reply) = request(sh, tmp, "POST", &endpoint, None, Some(&body))?;
    if status != 200 {
        bail!(
            "the registry at {api} refused the trusted-publishing exchange: HTTP {status}: {}\nfix: configure a \
             trusted publisher for this crate on the registry (repository, workflow release.yml, environment \
             release), or set CARGO_REGISTRY_TOKEN",
            brief(&reply)
        );
    }
    let v: Value = serde_json::from_slice(&reply).context("the registry's token reply is not JSON")?;
    let token = v["token"].as_str().context("the registry's token reply has no `token`")?;
    Ok(CratesToken {
        token: Secret::new(token.to_owned()),
        minted: std::time::Instant::now(),
        endpoint,
        sh: sh.clone(),
        tmp: tmp.to_owned(),
        revoked: false,
    })
}

/// Where PyPI's OIDC endpoints live for an upload URL: pypi.org for upload.pypi.org, test.pypi.org for
/// test.pypi.org, else the upload URL's own scheme and host.
pub(crate) fn pypi_oidc_base(upload: &str) -> String {
    let (scheme, _) = upload.split_once("://").unwrap_or(("https", upload));
    match crate::http::url_parts(upload).authority {
        "upload.pypi.org" => "https://pypi.org".to_owned(),
        h => format!("{scheme}://{}", h.strip_prefix("upload.").unwrap_or(h)),
    }
}

/// Exchanges the job's OIDC token for a PyPI upload token (used as `__token__`).
pub(crate) fn pypi_token(sh: &Shell, tmp: &Utf8Path, github: &Github, base: &str) -> Result<Secret> {
    let base = base.trim_end_matches('/');
    let (status, reply) = request(sh, tmp, "GET", &format!("{base}/_/oidc/audience"), None, None)?;
    let audience = match status {
        200 => {
            let v: Value = serde_json::from_slice(&reply).context("the index's audience reply is not JSON")?;
            v["audience"].as_str().context("the index's audience reply has no `audience`")?.to_owned()
        }
        404 => bail!(
            "the package index at {base} does not support trusted publishing (no /_/oidc/audience)\nfix: set \
             PYPI_TOKEN for this index"
        ),
        s => bail!("reading {base}/_/oidc/audience: HTTP {s}: {}", brief(&reply)),
    };
    let jwt = github.id_token(sh, tmp, &audience)?;
    let body = serde_json::to_vec(&json!({ "token": jwt.expose() }))?;
    let (status, reply) = request(sh, tmp, "POST", &format!("{base}/_/oidc/mint-token"), None, Some(&body))?;
    if status != 200 {
        bail!(
            "the package index at {base} refused to mint a token: HTTP {status}: {}\nfix: add a trusted publisher \
             for the project on the index (repository, workflow release.yml, environment release), or set PYPI_TOKEN",
            brief(&reply)
        );
    }
    let v: Value = serde_json::from_slice(&reply).context("the index's mint-token reply is not JSON")?;
    let token = v["token"].as_str().context("the index's mint-token reply has no `token`")?;
    Ok(Secret::new(token.to_owned()))
}

/// One HTTP request through curl: the secret header on stdin, the body in a private temporary file; the status
/// (0 when nothing answered) and the body.
fn request(
    sh: &Shell,
    tmp: &Utf8Path,
    method: &str,
    url: &str,
    secret_header: Option<&str>,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>)> {
    // Every exchange carries a credential, in a header or in the body (a JWT): the one rule, before anything.
    crate::http::credential_may_go_to(url)?;
    let body_file = match body {
        Some(b) => {
            let f = crate::tempfiles::temp_file(tmp, "oidc-body")?;
            write_private(f.path(), b)?;
            Some(f)
        }
        None => None,
    };
    let mut request = crate::http::Request::new(method, url).header("Accept: application/json");
    if method != "GET" {
        // A token exchange or revocation is not sent twice unless it surely did not arrive.
        request = request.once();
    }
    if let Some(f) = &body_file {
        request = request.header("Content-Type: application/json").body(f.path());
    }
    let r = crate::http::send(sh, &request, secret_header, tmp)
        .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e:#}"))?;
    drop(body_file);
    Ok((r.status, r.body))
}

fn write_private(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("creating {path}"))?;
    std::io::Write::write_all(&mut f, bytes).map_err(|e| anyhow!("writing {path}: {e}"))
}

/// The start of a reply, for an error message (a reply never holds a token we sent).
fn brief(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.pointer("/errors/0/detail").or(v.get("message")).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests;
