//! A merge-queue entry's labels, title and body, which its `merge_group` event does not carry, from GitHub's
//! REST API (`GET /repos/{owner}/{repo}/pulls/{number}`), through `crate::http` with `$GITHUB_TOKEN`.

use anyhow::{Result, bail};
use serde_json::Value;
use xshell::Shell;

use super::Env;
use super::facts::{PrText, QueueEntry, input_error, pr_text};
use crate::http;

const TOKEN_FIX: &str = "give the gates step `GITHUB_TOKEN: ${{ github.token }}` (its `env:`), or pass the PR's \
facts with --labels/--title/--body locally";

/// The API URL of the entry's pull request.
pub(super) fn pr_url(env: &Env, entry: &QueueEntry) -> String {
    format!("{}/repos/{}/pulls/{}", env.api_url.trim_end_matches('/'), entry.repository, entry.number)
}

/// Reads the pull request `entry` names. Every failure is one line of cause and one of fix; the token is
/// never in either.
pub(super) fn fetch_pr(sh: &Shell, env: &Env, entry: &QueueEntry) -> Result<PrText> {
    let url = pr_url(env, entry);
    let shown = http::redact(&url);
    let Some(token) = env.token.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        bail!(input_error(
            format!(
                "a merge_group event does not carry PR #{}'s labels, title and body, and GITHUB_TOKEN is not set to \
                 read them from {shown}",
                entry.number
            ),
            TOKEN_FIX
        ));
    };
    if token.chars().any(char::is_control) {
        bail!(input_error("GITHUB_TOKEN holds a control character", "set GITHUB_TOKEN to the token alone"));
    }
    if let Err(e) = http::credential_may_go_to(&url) {
        let cause = format!("{e:#}").lines().next().unwrap_or_default().to_owned();
        bail!(input_error(
            format!("GITHUB_API_URL: {cause}"),
            "set GITHUB_API_URL to GitHub's https:// API URL, or unset it for https://api.github.com"
        ));
    }
    let request = http::Request::new("GET", &url)
        .header("Accept: application/vnd.github+json")
        .header("X-GitHub-Api-Version: 2022-11-28");
    let response = http::send(sh, &request, Some(&format!("Authorization: Bearer {token}")), &env.tmp)?;
    // A server that echoes the request must not put the token into the message.
    judge(&response, &shown, entry).map_err(|e| {
        let msg = format!("{e:#}");
        anyhow::anyhow!("{}", if token.len() >= 8 { msg.replace(token, "***") } else { msg })
    })
}

/// The pull request in `r`, GitHub's answer for `entry`, or what came back instead.
fn judge(r: &http::Response, url: &str, entry: &QueueEntry) -> Result<PrText> {
    let n = entry.number;
    let json: Option<Value> = serde_json::from_slice(&r.body).ok();
    if r.status != 200 {
        let said = json.as_ref().and_then(|v| v.get("message")).and_then(Value::as_str).map(str::to_owned);
        let said = said.unwrap_or_else(|| start_of(&r.body));
        let fix = match r.status {
            401 => {
                "GitHub refused the token: give the step the workflow's token (`GITHUB_TOKEN: ${{ github.token }}`), \
                    or set a valid one locally"
                    .to_owned()
            }
            403 | 429 => "the token may not read pull requests, or its rate limit is spent: give the job \
                          `permissions: pull-requests: read`, or wait and run again"
                .to_owned(),
            404 => format!(
                "check that pull request #{n} exists in {} (the event's repository.full_name) and that the token may \
                 read it (`permissions: pull-requests: read`)",
                entry.repository
            ),
            _ => "check that GITHUB_API_URL is GitHub's REST API, then run again".to_owned(),
        };
        bail!(input_error(format!("GET {url} answered HTTP {}: {}", r.status, one_line(&said)), fix));
    }
    let api_fix = "check that GITHUB_API_URL is GitHub's REST API (https://api.github.com, or https://HOST/api/v3)";
    let Some(v) = json else {
        bail!(input_error(
            format!("GET {url} answered with something that is not JSON: {}", start_of(&r.body)),
            api_fix
        ));
    };
    match v.get("number").and_then(Value::as_u64) {
        Some(got) if got == n => {}
        Some(got) => bail!(input_error(format!("GET {url} answered with pull request #{got}, not #{n}"), api_fix)),
        None => bail!(input_error(
            format!("GET {url} answered with JSON that is not a pull request (no `number`)"),
            api_fix
        )),
    }
    pr_text(&v, "", api_fix).map_err(|e| {
        let msg = format!("{e:#}");
        let (cause, fix) = msg.split_once("\nfix: ").unwrap_or((&msg, api_fix));
        input_error(format!("GET {url}: pull request #{n}: {cause}"), fix)
    })
}

/// The start of a body, as a message may quote it.
fn start_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let head: String = text.trim().chars().take(120).collect();
    if head.is_empty() { "an empty body".to_owned() } else { format!("{head:?}") }
}

/// At most 120 characters, with no control character (one printable line).
fn one_line(s: &str) -> String {
    let head: String = s.trim().chars().take(120).collect();
    crate::plan::printable(&head)
}
