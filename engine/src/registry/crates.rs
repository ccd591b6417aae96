//! A cargo registry: its index (sparse over HTTP, or git) and its web API (`PUT /api/v1/crates/new`).

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Value, json};
use xshell::{Shell, cmd};

use super::{Presence, http_get};
use crate::manifest::Artifact;
use crate::plan::JobFailed;

/// The path of a crate in a cargo index.
pub(crate) fn index_path(name: &str) -> String {
    let n = name.to_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// How the index's lines for `version` compare with the signed `.crate`'s sha256.
pub(crate) fn crate_presence(entries: &[IndexEntry], version: &str, sha256: &str) -> Presence {
    let listed: Vec<&str> = entries.iter().filter(|e| e.vers == version).map(|e| e.cksum.as_str()).collect();
    if listed.is_empty() {
        Presence::Missing
    } else if listed.iter().all(|c| c.eq_ignore_ascii_case(sha256)) {
        Presence::Same
    } else {
        Presence::Other(listed.into_iter().filter(|c| !c.eq_ignore_ascii_case(sha256)).map(str::to_owned).collect())
    }
}

/// Where each of `crates` stands in the index, read at once: the sparse index's files in one batch of requests,
/// a git index fetched once.
pub(crate) fn crates_in_index(
    sh: &Shell,
    index: &str,
    crates: &[&Artifact],
    cache: &Utf8Path,
) -> Result<Vec<Presence>> {
    let files: Vec<String> = if let Some(sparse) = index.strip_prefix("sparse+") {
        let tmp = crate::tempfiles::dir_of(sh);
        let requests: Vec<crate::http::Request> = crates
            .iter()
            .map(|a| {
                crate::http::Request::new("GET", &format!("{}/{}", sparse.trim_end_matches('/'), index_path(&a.name)))
            })
            .collect();
        let mut files = Vec::new();
        for (req, got) in requests.iter().zip(crate::http::send_all(sh, &requests, None, 8, &tmp)) {
            files.push(match got? {
                r if r.status == 200 => r.text(),
                r if matches!(r.status, 404 | 410) => String::new(),
                r => bail!(
                    "reading the index {}: HTTP {}\nfix: check the registry is up, then run again",
                    req.url,
                    r.status
                ),
            });
        }
        files
    } else {
        fetch_git_index(sh, index, cache)?;
        crates.iter().map(|a| git_index_file(sh, cache, &index_path(&a.name))).collect()
    };
    Ok(crates.iter().zip(files).map(|(a, text)| crate_presence(&parse_entries(&text), &a.version, &a.sha256)).collect())
}

/// One version of a crate as the index lists it.
#[derive(Clone, Debug)]
pub(crate) struct IndexEntry {
    /// The name as the index line spells it (a registry's names are case-insensitive: `Foo` holds `foo`).
    pub name: String,
    pub vers: String,
    pub yanked: bool,
    /// The `.crate`'s sha256.
    pub cksum: String,
}

/// Every version of `name` the index lists.
pub(crate) fn index_entries(sh: &Shell, index: &str, name: &str, cache: &Utf8Path) -> Result<Vec<IndexEntry>> {
    Ok(parse_entries(&index_file(sh, index, &index_path(name), cache)?))
}

/// The versions an index file lists (a line that is no JSON object with `vers` is passed over).
fn parse_entries(text: &str) -> Vec<IndexEntry> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some(IndexEntry {
                name: v["name"].as_str().unwrap_or_default().to_owned(),
                vers: v["vers"].as_str()?.to_owned(),
                yanked: v["yanked"].as_bool().unwrap_or(false),
                cksum: v["cksum"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// One file of a cargo index (sparse over HTTP, or git, fetched into `cache`); empty when it does not exist.
pub(crate) fn index_file(sh: &Shell, index: &str, path: &str, cache: &Utf8Path) -> Result<String> {
    Ok(if let Some(sparse) = index.strip_prefix("sparse+") {
        let url = format!("{}/{path}", sparse.trim_end_matches('/'));
        match http_get(sh, &url)? {
            (200, body) => body,
            (404 | 410, _) => String::new(),
            (c, _) => bail!("reading the index {url}: HTTP {c}\nfix: check the registry is up, then run again"),
        }
    } else {
        fetch_git_index(sh, index, cache)?;
        git_index_file(sh, cache, path)
    })
}

/// Fetches a git index's newest commit into `cache`.
fn fetch_git_index(sh: &Shell, index: &str, cache: &Utf8Path) -> Result<()> {
    if !cache.join(".git").exists() {
        std::fs::create_dir_all(cache)?;
        cmd!(sh, "git -C {cache} init --quiet").run()?;
    }
    let out = cmd!(sh, "git -C {cache} fetch --quiet --depth 1 {index} HEAD").quiet().ignore_status().output()?;
    if !out.status.success() {
        bail!(
            "reading the index {index}: {}\nfix: check the registry is up, then run again",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A file of the git index last fetched into `cache`; empty when it does not exist.
fn git_index_file(sh: &Shell, cache: &Utf8Path, path: &str) -> String {
    let spec = format!("FETCH_HEAD:{path}");
    cmd!(sh, "git -C {cache} show {spec}").quiet().ignore_stderr().read().unwrap_or_default()
}

/// Where the registry serves `name` `version`'s `.crate`: the index's `config.json` `dl` template (with
/// `{crate}`/`{version}` markers, or a prefix `/{crate}/{version}/download` is added to).
pub(crate) fn download_url(dl: &str, name: &str, version: &str) -> String {
    let markers = ["{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"];
    if markers.iter().any(|m| dl.contains(m)) {
        let part = |r: std::ops::Range<usize>| name.get(r).unwrap_or_default();
        let prefix = match name.len() {
            0..=2 => name.len().to_string(),
            3 => format!("3/{}", part(0..1)),
            _ => format!("{}/{}", part(0..2), part(2..4)),
        };
        dl.replace("{crate}", name)
            .replace("{version}", version)
            .replace("{prefix}", &prefix)
            .replace("{lowerprefix}", &prefix.to_lowercase())
    } else {
        format!("{}/{name}/{version}/download", dl.trim_end_matches('/'))
    }
}

/// Downloads the published `name` `version` `.crate` into `out`.
/// Downloads the published `.crate` of `entry` into `out` and checks it against the index's sha256.
pub(crate) fn download_crate(
    sh: &Shell,
    index: &str,
    cache: &Utf8Path,
    name: &str,
    entry: &IndexEntry,
    out: &Utf8Path,
) -> Result<()> {
    let version = &entry.vers;
    let config: Value = serde_json::from_str(&index_file(sh, index, "config.json", cache)?)
        .with_context(|| format!("the index {index} has no valid config.json"))?;
    let dl = config["dl"].as_str().with_context(|| format!("the index {index}'s config.json has no `dl`"))?;
    let url = download_url(dl, name, version).replace("{sha256-checksum}", &entry.cksum);
    let tmp = crate::tempfiles::dir_of(sh);
    let r = crate::http::send(sh, &crate::http::Request::new("GET", &url).follow().to(out), None, &tmp)?;
    if r.status != 200 {
        bail!(
            "downloading {name} {version} from {url}: HTTP {}\nfix: check the registry is up, then run again",
            r.status
        );
    }
    let (sha, _) = crate::sha256::file(out)?;
    if sha != entry.cksum {
        bail!("{name} {version} from {url} has sha256 {sha}; the index says {}: not compared", entry.cksum);
    }
    Ok(())
}

/// Whose project a crate name holds on the registry: the newest version the index lists of it (yanked ones too),
/// downloaded and checked against the index's sha256, and the `package.repository` its Cargo.toml names.
/// `None` when the index lists no version.
pub(crate) fn name_holder(
    sh: &Shell,
    index: &str,
    cache: &Utf8Path,
    name: &str,
    entries: &[IndexEntry],
    tmp: &Utf8Path,
) -> Result<Option<Holder>> {
    // Only versions that are semver (what a registry accepts): a line that is none orders nothing.
    let newest = entries
        .iter()
        .filter_map(|e| semver::Version::parse(&e.vers).ok().map(|v| (v, e)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, e)| e);
    let Some(newest) = newest else { return Ok(None) };
    // The holder's own spelling of the name (`Foo` for `foo`): its download and its directory in the `.crate`.
    let held = if newest.name.is_empty() { name } else { &newest.name };
    let fix = "fix: check the registry is up, then run again";
    // Named by nothing the index says (a version there is no path).
    let file = crate::tempfiles::temp_file(tmp, "held.crate")?;
    download_crate(sh, index, cache, held, newest, file.path()).with_context(|| {
        format!("reading whose name {name} is on the index {index} (its newest version there)\n{fix}")
    })?;
    let inside = format!("{held}-{}/Cargo.toml", newest.vers);
    let text = cmd!(sh, "tar -xzOf {file} {inside}").quiet().ignore_stderr().read();
    drop(file);
    let repository = text.ok().and_then(|text| {
        let t = toml::from_str::<toml::Table>(&text).ok()?;
        // `[project]`: the table's name in Cargo.toml files of cargo before 1.0.
        let package = t.get("package").or_else(|| t.get("project"))?;
        Some(package.get("repository").and_then(|r| r.as_str()).map(str::to_owned))
    });
    Ok(Some(Holder {
        version: newest.vers.clone(),
        repository: repository.clone().flatten().filter(|r| !r.trim().is_empty()),
        readable: repository.is_some(),
    }))
}

/// A crate name's newest version on the registry and the repository it names, if any.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Holder {
    pub version: String,
    pub repository: Option<String>,
    /// Whether its Cargo.toml could be read at all.
    pub readable: bool,
}

/// Whether two repository addresses name one repository: the scheme, a user, `www.`, a port, a query or
/// fragment, a trailing `/` or `.git`, a path into the tree (`/tree/main/crates/x`, GitLab's `/-/tree/...`,
/// `/src/...`) and the letter case aside; `git@host:o/r` is `host/o/r`. An empty address names nothing.
pub(crate) fn same_repository(a: &str, b: &str) -> bool {
    fn plain(url: &str) -> String {
        let u = url.trim().to_lowercase();
        let u = u.split(['#', '?']).next().unwrap_or_default();
        let u = u.strip_prefix("git+").unwrap_or(u);
        let (u, scp) = match ["https://", "http://", "ssh://", "git://"].iter().find_map(|s| u.strip_prefix(s)) {
            Some(rest) => (rest, false),
            None => (u, true),
        };
        let u = u.rsplit_once('@').filter(|(user, _)| !user.contains('/')).map_or(u, |(_, host)| host);
        // `host:path` (scp-like, as git writes it) or `host:port/path`.
        let u = match u.split_once(':') {
            Some((host, rest)) if scp || rest.starts_with(|c: char| c.is_ascii_digit()) => {
                let path = rest.trim_start_matches(|c: char| c.is_ascii_digit() && !scp);
                format!("{host}/{}", path.trim_start_matches('/'))
            }
            _ => u.to_owned(),
        };
        let u = u.strip_prefix("www.").unwrap_or(&u);
        let cut = ["/-/tree/", "/-/blob/", "/tree/", "/blob/", "/src/"].iter().filter_map(|m| u.find(m)).min();
        let u = cut.map_or(u, |i| &u[..i]).trim_end_matches('/');
        u.strip_suffix(".git").unwrap_or(u).trim_end_matches('/').to_owned()
    }
    let (a, b) = (plain(a), plain(b));
    !a.is_empty() && a == b
}

/// The registry API's metadata for a `.crate`, from its normalized Cargo.toml (read by cargo itself).
pub(crate) fn crate_metadata(sh: &Shell, crate_file: &Utf8Path, name: &str, version: &str) -> Result<Value> {
    let tmp = Utf8PathBuf::from_path_buf(std::env::temp_dir()).map_err(|_| anyhow!("temp dir is not UTF-8"))?;
    let dir = crate::tempfiles::temp_file(&tmp, &format!("xtask-release-{name}-{version}"))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    cmd!(sh, "tar -xzf {crate_file} -C {dir}").quiet().run().with_context(|| format!("unpacking {crate_file}"))?;
    let refused = |found: &str| -> anyhow::Error {
        JobFailed(format!(
            "{crate_file} contains {found}, not {name} {version} as the signed manifest says\nfix: package the \
             commit again (cargo xtask package --force, then upload and sign it) so that each .crate is the crate \
             and version the manifest names\nnothing was published"
        ))
        .into()
    };
    let manifest = dir.join(format!("{name}-{version}/Cargo.toml"));
    if !manifest.is_file() {
        // A .crate holds one directory, `<name>-<version>/`: name what this one holds instead.
        let inside: Vec<String> = std::fs::read_dir(dir.path())
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        return Err(refused(&format!("{:?}", inside)));
    }
    let meta = cmd!(sh, "cargo metadata --no-deps --format-version 1 --manifest-path {manifest}").quiet().read();
    drop(dir);
    let meta: Value = serde_json::from_str(&meta.with_context(|| format!("reading {name} {version}'s Cargo.toml"))?)?;
    let p = &meta["packages"][0];
    if p["name"] != name || p["version"] != version {
        return Err(refused(&format!(
            "{} {}",
            p["name"].as_str().unwrap_or("?"),
            p["version"].as_str().unwrap_or("?")
        )));
    }
    Ok(publish_metadata(p, name, version))
}

/// The publish API's metadata from `cargo metadata`'s package `p`.
fn publish_metadata(p: &Value, name: &str, version: &str) -> Value {
    let deps: Vec<Value> = p["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            json!({
                "name": d["name"],
                "version_req": d["req"],
                "features": d["features"],
                "optional": d["optional"],
                "default_features": d["uses_default_features"],
                "target": d["target"],
                "kind": d["kind"].as_str().unwrap_or("normal"),
                "registry": d["registry"],
                "explicit_name_in_toml": d["rename"],
            })
        })
        .collect();
    json!({
        "name": name,
        "vers": version,
        "deps": deps,
        "features": p["features"],
        "authors": p["authors"],
        "description": p["description"],
        "documentation": p["documentation"],
        "homepage": p["homepage"],
        "readme": Value::Null,
        "readme_file": p["readme"],
        "keywords": p["keywords"],
        "categories": p["categories"],
        "license": p["license"],
        "license_file": p["license_file"],
        "repository": p["repository"],
        "badges": {},
        "links": p["links"],
        "rust_version": p["rust_version"],
    })
}

/// What a registry answered a publish.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer {
    /// Accepted.
    Accepted,
    /// It says the version is already there (crates.io: 200 with `already uploaded`; others a 4xx saying
    /// `already exists`): the caller re-checks the index, since only the index says whose bytes those are.
    Exists(String),
    /// Another 4xx: the reply, as an error message with its fix (the caller re-checks the index too).
    Refused(String),
    /// 429: the registry's rate limit; how long its `Retry-After` asks to wait, if it says.
    RateLimited(Option<std::time::Duration>),
}

/// `PUT /api/v1/crates/new`, retried on 503; a 429 is the caller's to wait out ([`Answer::RateLimited`]). `trusted`: the token was minted by
/// trusted publishing (a refusal then means re-running the job, not setting a token).
pub(crate) fn publish_crate(
    sh: &Shell,
    api: &str,
    token: &str,
    trusted: bool,
    metadata: &Value,
    crate_file: &Utf8Path,
    tmp: &Utf8Path,
) -> Result<Answer> {
    let json = serde_json::to_vec(metadata)?;
    let bytes = std::fs::read(crate_file).with_context(|| format!("reading {crate_file}"))?;
    let mut body = Vec::with_capacity(json.len() + bytes.len() + 8);
    body.extend_from_slice(&(json.len() as u32).to_le_bytes());
    body.extend_from_slice(&json);
    body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    body.extend_from_slice(&bytes);
    let body_path = crate::tempfiles::temp_file(tmp, "publish")?;
    std::fs::write(&body_path, body).with_context(|| format!("writing {body_path}"))?;
    let url = format!("{}/api/v1/crates/new", api.trim_end_matches('/'));
    let request = crate::http::Request::new("PUT", &url)
        .header("Content-Type: application/octet-stream")
        .body(&body_path)
        .once()
        .paced();
    // Sent again only when it surely did not arrive or the registry declined it (503): a publish that timed out
    // may have landed, and a re-run of the release checks the index first.
    let result = match crate::http::send(sh, &request, Some(&format!("Authorization: {token}")), tmp) {
        Err(e) => Err(anyhow!(
            "cannot reach the registry at {api}: {e:#}\nfix: check it is up, then run again: published crates are skipped"
        )),
        Ok(r) => Ok(judge_publish_reply(api, &metadata["name"], trusted, &r)),
    };
    drop(body_path);
    result?
}

/// What a registry's reply to a publish means; every refusal with its fix.
pub(crate) fn judge_publish_reply(api: &str, name: &Value, trusted: bool, r: &crate::http::Response) -> Result<Answer> {
    let name = name.as_str().unwrap_or_default();
    let text = r.text();
    let brief: String = text.trim().chars().take(300).collect();
    let says_exists = |t: &str| t.contains("already uploaded") || t.contains("already exists");
    match r.status {
        200..=299 => match serde_json::from_slice::<Value>(&r.body).ok().and_then(|v| v.get("errors").cloned()) {
            Some(errors) if says_exists(&errors.to_string()) => Ok(Answer::Exists(errors.to_string())),
            Some(errors) => Err(anyhow!(
                "the registry refused {name}: {errors}\nfix: correct what the registry names, then run again: \
                 published crates are skipped"
            )),
            None => Ok(Answer::Accepted),
        },
        300..=399 => Err(anyhow!(
            "the registry API {api} answered HTTP {} (a redirect to {}) to the publish of {name}: a publish is never \
             sent on to another address\nfix: set release.registry-api (or --registry-api) to the address it \
             redirects to",
            r.status,
            r.header("location").map_or_else(|| "nowhere".to_owned(), crate::http::redact)
        )),
        401 | 403 if trusted => Err(anyhow!(
            "the registry refused the trusted-publishing token (HTTP {}) publishing {name}\nfix: run the release \
             job again (the short-lived token expired); if it is refused again, check the crate's trusted publisher \
             on the registry (repository, workflow release.yml, environment release)",
            r.status
        )),
        401 | 403 => Err(anyhow!(
            "the registry refused the token (HTTP {}) publishing {name}\nfix: set CARGO_REGISTRY_TOKEN to a token \
             with publish rights for {name}",
            r.status
        )),
        // The caller paces the release: it waits as told, holding back every other publish meanwhile.
        429 => Ok(Answer::RateLimited(
            r.header("retry-after").and_then(|v| crate::http::retry_after(v, std::time::SystemTime::now())),
        )),
        400..=499 if says_exists(&text) => Ok(Answer::Exists(brief)),
        c @ 400..=499 => Ok(Answer::Refused(format!(
            "the registry refused {name}: HTTP {c}: {brief}\nfix: correct what the registry names, then run again: \
             published crates are skipped"
        ))),
        c => Err(anyhow!(
            "publishing {name} failed: HTTP {c}: {brief}\nfix: check the registry at {api} is up, then run again: \
             published crates are skipped"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_repository_written_several_ways_is_one_and_another_is_not() {
        let ours = "https://github.com/reel-sdk/reel";
        for same in [
            "http://www.GitHub.com/reel-sdk/reel.git/",
            "git+https://github.com/reel-sdk/reel",
            " https://github.com/reel-sdk/reel/ ",
            "https://github.com/reel-sdk/reel/tree/main/crates/reel",
            "https://github.com/reel-sdk/reel#readme",
            "git@github.com:reel-sdk/reel.git",
            "ssh://git@github.com/reel-sdk/reel",
            "https://github.com:443/reel-sdk/reel",
        ] {
            assert!(same_repository(ours, same), "{same}");
        }
        for other in [
            "https://gitlab.com/crates-rs/reel",
            "https://github.com/reel-sdk/reel-old",
            "https://github.com/reel-sdk",
            "https://gitlab.com/reel-sdk/reel/-/tree/main",
        ] {
            assert!(!same_repository(ours, other), "{other}");
        }
        assert!(!same_repository("", " "), "an empty address names nothing");
        assert!(same_repository("https://gitlab.com/g/r/-/tree/main/x", "gitlab.com/g/r"));
    }

    #[test]
    fn index_paths() {
        for (name, want) in [("a", "1/a"), ("ab", "2/ab"), ("abc", "3/a/abc"), ("Reel-CLI", "re/el/reel-cli")] {
            assert_eq!(index_path(name), want);
        }
    }

    #[test]
    fn crate_downloads_follow_the_index_dl_template() {
        assert_eq!(
            download_url("https://static.crates.io/crates", "serde", "1.0.0"),
            "https://static.crates.io/crates/serde/1.0.0/download"
        );
        assert_eq!(
            download_url("https://r.example/{crate}/{version}/{prefix}/{lowerprefix}.crate", "Ab", "1.0.0"),
            "https://r.example/Ab/1.0.0/2/2.crate"
        );
        assert_eq!(
            download_url("https://r.example/{prefix}/{lowerprefix}/{crate}", "SerDe", "1.0.0"),
            "https://r.example/Se/rD/se/rd/SerDe"
        );
        assert_eq!(
            download_url("https://r.example/x/{prefix}/{crate}-{version}", "serde", "2.0.0"),
            "https://r.example/x/se/rd/serde-2.0.0"
        );
    }

    #[test]
    fn index_lines_are_judged_by_checksum() {
        let e = |vers: &str, cksum: &str| IndexEntry {
            name: "demo".into(),
            vers: vers.into(),
            yanked: false,
            cksum: cksum.into(),
        };
        let (ours, theirs) = ("a".repeat(64), "b".repeat(64));
        assert_eq!(crate_presence(&[e("0.0.9", &theirs)], "0.1.0", &ours), Presence::Missing);
        assert_eq!(crate_presence(&[e("0.1.0", &ours.to_uppercase())], "0.1.0", &ours), Presence::Same);
        assert_eq!(crate_presence(&[e("0.1.0", &theirs)], "0.1.0", &ours), Presence::Other(vec![theirs.clone()]));
        // A registry that took the version twice: any other line is a conflict.
        let twice = [e("0.1.0", &ours), e("0.1.0", &theirs)];
        assert_eq!(crate_presence(&twice, "0.1.0", &ours), Presence::Other(vec![theirs]));
    }

    /// Each refusal of the registry's API names its cause and its fix; a refused token's fix depends on where the
    /// token came from.
    #[test]
    fn registry_refusals_each_have_a_fix() {
        let api = "https://registry.example";
        let reply = |status: u16, body: &str, headers: &[(&str, &str)]| crate::http::Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        };
        let name = json!("demo");
        let judge = |r: crate::http::Response, trusted: bool| judge_publish_reply(api, &name, trusted, &r);
        let err = |r: crate::http::Response, trusted: bool| format!("{:#}", judge(r, trusted).unwrap_err());
        let limited = |headers: &[(&str, &str)]| judge(reply(429, "slow down", headers), false).unwrap();
        assert_eq!(limited(&[("retry-after", "7")]), Answer::RateLimited(Some(std::time::Duration::from_secs(7))));
        assert_eq!(limited(&[]), Answer::RateLimited(None));
        let e = err(reply(301, "", &[("location", "https://user:pw@other.example/api/v1/crates/new?x=1")]), false);
        assert!(
            e.contains("HTTP 301")
                && e.contains("https://***@other.example/api/v1/crates/new")
                && e.contains("\nfix: set release.registry-api"),
            "{e}"
        );
        let e = err(reply(403, "", &[]), false);
        assert!(e.contains("\nfix: set CARGO_REGISTRY_TOKEN"), "{e}");
        let e = err(reply(401, "", &[]), true);
        assert!(e.contains("trusted-publishing token") && e.contains("\nfix: run the release job again"), "{e}");
        assert!(!e.contains("CARGO_REGISTRY_TOKEN"), "a minted token is not fixed by setting one: {e}");
        let e = err(reply(502, "bad gateway", &[]), false);
        assert!(e.contains("HTTP 502") && e.contains("\nfix: "), "{e}");
        let e = err(reply(200, "{\"errors\":[{\"detail\":\"missing description\"}]}", &[]), false);
        assert!(e.contains("missing description") && e.contains("\nfix: "), "{e}");
        let already = "{\"errors\":[{\"detail\":\"crate version `0.1.0` is already uploaded\"}]}";
        assert!(matches!(judge(reply(200, already, &[]), false).unwrap(), Answer::Exists(_)));
        assert!(matches!(judge(reply(400, "File already exists", &[]), false).unwrap(), Answer::Exists(_)));
        assert!(matches!(judge(reply(422, "nope", &[]), false).unwrap(), Answer::Refused(m) if m.contains("\nfix: ")));
        assert_eq!(judge(reply(200, "{\"warnings\":{}}", &[]), false).unwrap(), Answer::Accepted);
    }
}
