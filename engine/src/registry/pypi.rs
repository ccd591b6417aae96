//! A Python package index: its PEP 503 simple pages, read for what is there, and the upload (twine).

use anyhow::{Result, bail};
use camino::Utf8Path;
use xshell::Shell;

use super::{Presence, http_get};
use crate::artifacts;
use crate::manifest::Artifact;

/// One file a PEP 503 simple page lists.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IndexFile {
    /// The href's last path segment (before any `?` or `#`), percent-decoded.
    pub name: String,
    /// The `#sha256=` fragment's hash (lower-case), if the page gives one.
    pub sha256: Option<String>,
    /// The href, resolved against the page's URL (without its fragment).
    pub url: String,
}

/// The files of a simple page: every `<a>` element's `href`.
pub(crate) fn simple_files(page: &str, html: &str) -> Vec<IndexFile> {
    let lower = html.to_ascii_lowercase();
    let mut files = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<a").map(|i| at + i) {
        let end = lower[i..].find('>').map_or(lower.len(), |e| i + e);
        at = end.max(i + 2);
        // `<a` must start the element (not `<abbr`).
        if !lower[i + 2..].starts_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let Some(href) = attribute(&html[i..end], &lower[i..end], "href") else { continue };
        let href = unescape(&href);
        let (target, fragment) = href.split_once('#').unwrap_or((&href, ""));
        let path = target.split('?').next().unwrap_or_default();
        let name = percent_decode(path.rsplit('/').next().unwrap_or_default());
        let sha256 = fragment
            .strip_prefix("sha256=")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase);
        files.push(IndexFile { name, sha256, url: resolve_url(page, target) });
    }
    files
}

/// The value of attribute `name` in one tag (`lower` is the tag lower-cased, for finding names).
pub(crate) fn attribute(tag: &str, lower: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| from + i) {
        from = i + name.len();
        let before_ok = lower[..i].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let start = lower.len() - rest.len() + 1;
        let value = tag[start..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or_default().to_owned(),
            _ => value.split(|c: char| c.is_ascii_whitespace() || c == '>').next().unwrap_or_default().to_owned(),
        });
    }
    None
}

/// The character references a simple page's href may hold.
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `href` resolved against the page at `base` (absolute, scheme-relative, root-relative or relative with `..`).
pub(crate) fn resolve_url(base: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(h) = href.strip_prefix("//") {
        return format!("{scheme}://{h}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..authority_end]);
    if href.starts_with('/') {
        return format!("{origin}{href}");
    }
    let path = rest[authority_end..].split(['?', '#']).next().unwrap_or_default();
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if !path.ends_with('/') {
        segments.pop();
    }
    for part in href.split('/') {
        match part {
            ".." => drop(segments.pop()),
            "." | "" => {}
            p => segments.push(p),
        }
    }
    let trailing = if href.ends_with('/') { "/" } else { "" };
    format!("{origin}/{}{trailing}", segments.join("/"))
}

/// Where the wheel `a` stands on the package index: its file name on the project's simple page, and that
/// file's sha256 (the page's `#sha256=`, else the file downloaded and hashed) against the signed one.
pub(crate) fn wheel_on_index(sh: &Shell, simple: &str, a: &Artifact, tmp: &Utf8Path) -> Result<Presence> {
    let file = a.path.rsplit('/').next().unwrap_or(&a.path);
    let url = format!("{}/{}/", simple.trim_end_matches('/'), artifacts::normalize(&a.name));
    let listed: Vec<IndexFile> = match http_get(sh, &url)? {
        (200, body) => simple_files(&url, &body).into_iter().filter(|f| f.name == file).collect(),
        (404, _) => Vec::new(),
        (c, _) => bail!("reading the package index {url}: HTTP {c}\nfix: check it is up, then run again"),
    };
    if listed.is_empty() {
        return Ok(Presence::Missing);
    }
    let mut theirs = Vec::new();
    for f in listed {
        let sha = match f.sha256 {
            Some(sha) => sha,
            None => {
                let out = crate::tempfiles::temp_file(tmp, "index-file")?;
                let r = crate::http::send(sh, &crate::http::Request::new("GET", &f.url).follow().to(&out), None, tmp)?;
                if r.status != 200 {
                    bail!(
                        "downloading {} (listed without a hash on {url}): HTTP {}\nfix: check the index is up, then run again",
                        crate::http::redact(&f.url),
                        r.status
                    );
                }
                crate::sha256::file(&out)?.0
            }
        };
        if !sha.eq_ignore_ascii_case(&a.sha256) {
            theirs.push(sha);
        }
    }
    Ok(if theirs.is_empty() { Presence::Same } else { Presence::Other(theirs) })
}

/// The credential an upload to `url` sends: the token, else one minted by trusted publishing (the job's OIDC token
/// exchanged at the index's `oidc_base`). Either only to a URL a credential may go to.
pub(crate) fn upload_token(
    sh: &Shell,
    tmp: &Utf8Path,
    url: &str,
    token: Option<&str>,
    oidc: Option<&crate::oidc::Github>,
    oidc_base: &str,
) -> Result<String> {
    match (token, oidc) {
        (Some(token), _) => {
            // twine gets the token through its environment, not through crate::http: the same rule, here.
            crate::http::credential_may_go_to(url)?;
            Ok(token.to_owned())
        }
        (None, Some(github)) => {
            crate::http::credential_may_go_to(url)?;
            Ok(crate::oidc::pypi_token(sh, tmp, github, oidc_base)?.expose().to_owned())
        }
        (None, None) => bail!(
            "no credential for the package index\nfix: run in GitHub Actions with `id-token: write` and a trusted \
             publisher on the index, or set PYPI_TOKEN"
        ),
    }
}

/// Uploads one file with twine (the token through its environment, never its command line).
pub(crate) fn upload(
    sh: &Shell,
    twine: &Utf8Path,
    url: &str,
    token: &str,
    file: &Utf8Path,
) -> Result<(), xshell::Error> {
    let _env = [
        sh.push_env("TWINE_USERNAME", "__token__"),
        sh.push_env("TWINE_PASSWORD", token),
        sh.push_env("TWINE_NON_INTERACTIVE", "1"),
    ];
    xshell::cmd!(sh, "{twine} upload --disable-progress-bar --repository-url {url} {file}").run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_pages_are_read_by_their_anchors() {
        let sha = "ab".repeat(32);
        let page = "http://127.0.0.1:1/simple/demo/";
        let html = format!(
            "<html><body><abbr href=\"x.whl\">no</abbr>\n\
             <a href=\"../../packages/demo-0.1.0-py3-none-any.whl#sha256={sha}\">demo-0.1.0-py3-none-any.whl</a><br>\n\
             <A data-requires-python=\"&gt;=3.9\" HREF='https://files.example/p/ab/demo-0.1.0.tar.gz#sha256={}'>x</A>\n\
             <a href=\"/files/demo%2B1-0.2.0-py3-none-any.whl?x=1&amp;y=2#md5=00\">old hash only</a>\n\
             <a href=demo-0.3.0-py3-none-any.whl>unquoted, no hash</a>\n\
             <p>demo-0.4.0-py3-none-any.whl in text only</p></body></html>",
            sha.to_uppercase()
        );
        let files = simple_files(page, &html);
        let got: Vec<(&str, Option<&str>, &str)> =
            files.iter().map(|f| (f.name.as_str(), f.sha256.as_deref(), f.url.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    "demo-0.1.0-py3-none-any.whl",
                    Some(sha.as_str()),
                    "http://127.0.0.1:1/packages/demo-0.1.0-py3-none-any.whl"
                ),
                ("demo-0.1.0.tar.gz", Some(sha.as_str()), "https://files.example/p/ab/demo-0.1.0.tar.gz"),
                (
                    "demo+1-0.2.0-py3-none-any.whl",
                    None,
                    "http://127.0.0.1:1/files/demo%2B1-0.2.0-py3-none-any.whl?x=1&y=2"
                ),
                ("demo-0.3.0-py3-none-any.whl", None, "http://127.0.0.1:1/simple/demo/demo-0.3.0-py3-none-any.whl"),
            ]
        );
        // A file name only in the text is not listed (the old check, `body.contains(file)`, said it was).
        assert!(!files.iter().any(|f| f.name.contains("0.4.0")));
    }
}
