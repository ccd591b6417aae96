//! HTTP for the jobs, through curl (no HTTP or TLS crates compiled into the xtask).
//!
//! One curl process carries any number of requests (`--parallel`, each request after a `next`): a process
//! start costs more CPU than a small request on a 2-core runner, so batches are the way to talk to a store.
//! The whole command reaches curl as a config on stdin, secret headers included, so a token is never on a
//! command line (a process list), in a log line or in an error message. Connection failures, timeouts, 408,
//! 429 and 5xx are retried with back-off; other statuses are the caller's to judge.
//!
//! Two rules hold for every request:
//! - A credential goes only over https, or in plain http to this machine ([`credential_may_go_to`]): checked
//!   before anything is sent, for every request that carries one.
//! - A transfer that stalls fails within a stated bound: no connection within 10 s, less than 1 KiB a second
//!   for [`stall_secs`] (`XTASK_HTTP_STALL_SECS`, default 30: a silent or trickling server), or longer than
//!   [`max_secs`] in all (`XTASK_HTTP_MAX_SECS`, default 1800), ends it; a timed-out request is tried twice at
//!   most. A request to this machine never goes through a proxy.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

/// One request.
#[derive(Clone, Debug, Default)]
pub(crate) struct Request {
    pub method: String,
    pub url: String,
    /// `Name: value` headers (not secret: they may be printed).
    pub headers: Vec<String>,
    /// The request body, streamed from this file.
    pub body: Option<Utf8PathBuf>,
    /// Where a 200 body goes (moved there); otherwise the body comes back in the [`Response`].
    pub to: Option<Utf8PathBuf>,
    /// Follows redirects (a registry's download URL answers with one).
    pub follow: bool,
    /// Not safe to send twice (a publish, a one-time token exchange): retried only when it surely did not
    /// arrive (no connection) or the server declined it (429, 503).
    pub once: bool,
    /// The caller paces itself: a 429 comes back to it (with its `Retry-After`) instead of being waited out here.
    pub paced: bool,
    /// The stall bound of this request, when not [`stall_secs`] (tests).
    pub stall_secs: Option<u64>,
}

impl Request {
    pub(crate) fn new(method: &str, url: &str) -> Request {
        Request { method: method.to_owned(), url: url.to_owned(), ..Request::default() }
    }

    pub(crate) fn header(mut self, header: impl Into<String>) -> Request {
        self.headers.push(header.into());
        self
    }

    pub(crate) fn body(mut self, file: &Utf8Path) -> Request {
        self.body = Some(file.to_owned());
        self
    }

    pub(crate) fn to(mut self, file: &Utf8Path) -> Request {
        self.to = Some(file.to_owned());
        self
    }

    pub(crate) fn follow(mut self) -> Request {
        self.follow = true;
        self
    }

    pub(crate) fn once(mut self) -> Request {
        self.once = true;
        self
    }

    pub(crate) fn paced(mut self) -> Request {
        self.paced = true;
        self
    }
}

/// What came back: the status, the headers (names lower-cased; of the last response when redirects were
/// followed) and, unless the request said where a 200 body goes, the body.
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Headers as curl dumps them (`Name: value` lines, one block per response): those of the last response.
fn parse_headers(dump: &str) -> Vec<(String, String)> {
    let last = dump.trim_end().rsplit("\r\n\r\n").next().unwrap_or_default();
    last.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// A value in curl's config syntax: double-quoted, with `\` escapes (so no value can start another option).
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The curl config for `requests` (each writing its body to `outputs[i]`), `secret` added as a header to each.
pub(crate) fn config(
    requests: &[&Request],
    outputs: &[(Utf8PathBuf, Utf8PathBuf)],
    secret: Option<&str>,
    parallel: usize,
) -> String {
    let mut c = String::new();
    if requests.len() > 1 {
        let _ = writeln!(c, "parallel\nparallel-max = {}", parallel.clamp(1, 50));
    }
    for (i, (r, (out, headers))) in requests.iter().zip(outputs).enumerate() {
        if i > 0 {
            c.push_str("next\n");
        }
        // No URL globbing: `{}` and `[]` in a URL are characters, not patterns.
        c.push_str("silent\nshow-error\nno-progress-meter\ngloboff\n");
        let _ = writeln!(c, "request = {}", quoted(&r.method));
        let _ = writeln!(c, "url = {}", quoted(&r.url));
        let _ = writeln!(c, "output = {}", quoted(out.as_str()));
        let _ = writeln!(c, "dump-header = {}", quoted(headers.as_str()));
        if r.follow {
            c.push_str("location\n");
        }
        let _ = writeln!(c, "write-out = {}", quoted("%{urlnum} %{http_code} %{exitcode} %{errormsg}\n"));
        // A server that accepts and never answers, stops sending or trickles fails the transfer: below 1 KiB a
        // second over the stall bound; and no transfer takes longer than the total bound.
        let _ = writeln!(
            c,
            "connect-timeout = 10\nspeed-limit = 1024\nspeed-time = {}\nmax-time = {}",
            r.stall_secs.unwrap_or_else(stall_secs),
            max_secs()
        );
        // A request to this machine never goes through a proxy (a credential sent in plain http to localhost
        // must not reach another host that way).
        if is_loopback(url_parts(&r.url).host) {
            c.push_str("noproxy = \"*\"\n");
        }
        for h in &r.headers {
            let _ = writeln!(c, "header = {}", quoted(h));
        }
        if let Some(secret) = secret {
            let _ = writeln!(c, "header = {}", quoted(secret));
        }
        if let Some(b) = &r.body {
            // Streamed from the file, not read into memory first (`--data-binary @file` would).
            let _ = writeln!(c, "upload-file = {}", quoted(b.as_str()));
            // No `Expect: 100-continue` round trip before the body.
            c.push_str("header = \"Expect:\"\n");
        }
    }
    c
}

/// Sends `requests` through one curl process (at most `parallel` at once), retrying the transient failures
/// (up to 5 attempts, backing off; after a 429 by seconds). One result per request, in order: `Err` only when
/// nothing answered. `secret` is a header that never leaves curl's stdin.
pub(crate) fn send_all(
    sh: &Shell,
    requests: &[Request],
    secret: Option<&str>,
    parallel: usize,
    tmp: &Utf8Path,
) -> Vec<Result<Response>> {
    let mut results: Vec<Option<Result<Response>>> = (0..requests.len()).map(|_| None).collect();
    let mut todo: Vec<usize> = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        match secret.map(|_| credential_may_go_to(&r.url)) {
            Some(Err(e)) => results[i] = Some(Err(e)),
            _ => todo.push(i),
        }
    }
    let mut attempt = 0u32;
    let mut stalled = vec![0u32; requests.len()];
    while !todo.is_empty() {
        attempt += 1;
        let last = attempt >= 5;
        let outcome = send_once(sh, &todo.iter().map(|&i| &requests[i]).collect::<Vec<_>>(), secret, parallel, tmp);
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                for &i in &todo {
                    results[i] = Some(Err(anyhow::anyhow!("{e:#}")));
                }
                break;
            }
        };
        let mut again = Vec::new();
        let mut slowest = Duration::ZERO;
        for (&i, got) in todo.iter().zip(outcome) {
            let transient = retryable(&requests[i], &got);
            // A stall (curl's timeout) costs the whole bound: tried twice, not five times.
            if matches!(&got, Err(Failure { exit: 28, .. })) {
                stalled[i] += 1;
            }
            if transient && !last && stalled[i] < 2 {
                slowest = slowest.max(backoff(&got, attempt));
                again.push(i);
            } else {
                results[i] = Some(got.map_err(|e| gave_up(&requests[i], attempt, &e)));
            }
        }
        if !again.is_empty() {
            std::thread::sleep(slowest);
        }
        todo = again;
    }
    results.into_iter().map(|r| r.expect("every request has a result")).collect()
}

/// How long to wait before the next attempt: a 429's `Retry-After` (at most 2 minutes), else an exponential
/// backoff from 500 ms.
fn backoff(got: &Result<Response, Failure>, attempt: u32) -> Duration {
    match got {
        Ok(r) if r.status == 429 => r
            .header("retry-after")
            .and_then(|v| retry_after(v, std::time::SystemTime::now()))
            .unwrap_or(Duration::from_secs(1 << attempt))
            .min(Duration::from_secs(120)),
        _ => Duration::from_millis(250 << attempt),
    }
}

/// How long a `Retry-After` value asks to wait from `now`: delta-seconds (`120`, also with a fraction), or an
/// HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`; a date in the past is no wait). `None` when it is neither.
pub(crate) fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    // IMF-fixdate: `Day, DD Mon YYYY HH:MM:SS GMT`.
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else { return None };
    // In range, or no date (the arithmetic below stays far from overflow).
    let fits = (1..=31).contains(&day) && (1..=9999).contains(&year) && (0..24).contains(h);
    if !fits || !(0..60).contains(m) || !(0..=60).contains(sec) {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let at = days * 86_400 + h * 3600 + m * 60 + sec;
    let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(Duration::from_secs((at - now).clamp(0, 86_400) as u64))
}

/// The error for a request that got no answer after `attempt` attempts, with its fix.
fn gave_up(request: &Request, attempt: u32, e: &Failure) -> anyhow::Error {
    let url = redact(&request.url);
    let fix = if e.exit == 28 {
        format!(
            "check that the server is up and answering; on a slow link allow longer stalls with \
             XTASK_HTTP_STALL_SECS (now {})",
            request.stall_secs.unwrap_or_else(stall_secs)
        )
    } else {
        "check that the server is up and reachable from this machine, then run again".to_owned()
    };
    anyhow::anyhow!("no answer from {url} after {attempt} attempts ({e})\nfix: {fix}")
}

/// Curl's exit codes for a failure worth another try: the name did not resolve (6), no connection (7), a
/// timeout (28), the TLS handshake (35), nothing or a broken reply (52, 55, 56). Others (a malformed URL, an
/// unreadable file, a bad certificate) would fail the same way again.
const TRANSIENT_EXITS: &[i32] = &[6, 7, 28, 35, 52, 55, 56];

/// Whether `got` is worth sending `request` again.
fn retryable(request: &Request, got: &Result<Response, Failure>) -> bool {
    match got {
        Ok(r) if request.paced && r.status == 429 => false,
        Err(Failure { exit, .. }) if request.once => matches!(exit, 6 | 7),
        Err(Failure { exit, .. }) => TRANSIENT_EXITS.contains(exit),
        Ok(r) if request.once => matches!(r.status, 429 | 503),
        Ok(r) => matches!(r.status, 408 | 429) || r.status >= 500,
    }
}

/// A transfer that got no answer: curl's exit code and message.
#[derive(Debug)]
struct Failure {
    exit: i32,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One request (see [`send_all`]).
pub(crate) fn send(sh: &Shell, request: &Request, secret: Option<&str>, tmp: &Utf8Path) -> Result<Response> {
    send_all(sh, std::slice::from_ref(request), secret, 1, tmp).pop().expect("one result")
}

/// One curl run over `requests`: per request, the response, or the transfer's error.
fn send_once(
    sh: &Shell,
    requests: &[&Request],
    secret: Option<&str>,
    parallel: usize,
    tmp: &Utf8Path,
) -> Result<Vec<Result<Response, Failure>>> {
    let mut files = Vec::new();
    for _ in requests {
        files.push((crate::tempfiles::temp_file(tmp, "resp")?, crate::tempfiles::temp_file(tmp, "resp-headers")?));
    }
    let paths: Vec<(Utf8PathBuf, Utf8PathBuf)> =
        files.iter().map(|(b, h)| (b.path().to_owned(), h.path().to_owned())).collect();
    let config = config(requests, &paths, secret, parallel);
    // `-q` first: no ~/.curlrc (a `verbose` or `trace` there would print the secret header).
    let out = cmd!(sh, "curl -q --config -").quiet().ignore_status().stdin(config).output().context("running curl")?;
    let report = String::from_utf8_lossy(&out.stdout);
    let mut got: Vec<Option<(u16, i32, String)>> = vec![None; requests.len()];
    for line in report.lines() {
        let mut parts = line.splitn(4, ' ');
        let (Some(n), Some(code), Some(exit)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let (Ok(n), Ok(code), Ok(exit)) = (n.parse::<usize>(), code.parse::<u16>(), exit.parse::<i32>()) else {
            continue;
        };
        if let Some(slot) = got.get_mut(n) {
            *slot = Some((code, exit, parts.next().unwrap_or_default().to_owned()));
        }
    }
    let mut results = Vec::new();
    for ((r, (path, headers)), g) in requests.iter().zip(&paths).zip(got) {
        results.push(match g {
            Some((status, 0, _)) if status != 0 => {
                let headers = parse_headers(&std::fs::read_to_string(headers).unwrap_or_default());
                let body = match (&r.to, status) {
                    (Some(dest), 200) => match std::fs::rename(path, dest) {
                        Ok(()) => Ok(Vec::new()),
                        Err(e) => Err(Failure { exit: 0, message: format!("moving the download to {dest}: {e}") }),
                    },
                    _ => Ok(std::fs::read(path).unwrap_or_default()),
                };
                body.map(|body| Response { status, headers, body })
            }
            Some((_, exit, msg)) => {
                let message = if msg.trim().is_empty() { format!("curl exit {exit}") } else { msg.trim().to_owned() };
                Err(Failure { exit, message })
            }
            // curl stopped before this transfer (its stderr is not quoted: it is not ours to print).
            None => Err(Failure { exit: 0, message: format!("curl ({}) did not report this request", out.status) }),
        });
    }
    drop(files);
    Ok(results)
}

/// How long a transfer may move no byte before it fails: `XTASK_HTTP_STALL_SECS` (1 to 3600), default 30.
pub(crate) fn stall_secs() -> u64 {
    std::env::var("XTASK_HTTP_STALL_SECS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|s| (1..=3600).contains(s))
        .unwrap_or(30)
}

/// The longest one transfer may take: `XTASK_HTTP_MAX_SECS` (10 to 86400), default 1800 (half an hour).
pub(crate) fn max_secs() -> u64 {
    std::env::var("XTASK_HTTP_MAX_SECS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|s| (10..=86_400).contains(s))
        .unwrap_or(1800)
}

/// `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The one rule for every credential (a registry token, a storage token, an OIDC token or its exchange): it goes
/// only over https, or in plain http to a server on this machine (a loopback address or `localhost`). Anything
/// else is refused before any request is sent.
pub(crate) fn credential_may_go_to(url: &str) -> Result<()> {
    let parts = url_parts(url);
    let loopback = is_loopback(parts.host);
    match parts.scheme.as_str() {
        "https" if !parts.host.is_empty() => Ok(()),
        // `host:port` without a scheme (STORAGE_EMULATOR_HOST) is plain http.
        "http" | "" if loopback => Ok(()),
        _ => anyhow::bail!(
            "refusing to send a credential to {}: only https, or plain http to this machine (127.0.0.1, localhost, \
             [::1]), may carry one\nfix: use the https:// URL of the server, or a server on 127.0.0.1",
            redact(url)
        ),
    }
}

/// A URL as it may be printed: without a `user:password@` part or a query.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    format!("{scheme}{authority}{path}")
}

/// The parts of a URL the jobs decide on: the scheme (lower-cased; empty without `://`), the authority
/// (`host[:port]`, after any `user@`) and the host alone (without an IPv6 address's brackets).
pub(crate) struct UrlParts<'a> {
    pub scheme: String,
    pub authority: &'a str,
    pub host: &'a str,
}

pub(crate) fn url_parts(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // `user@host`: the host is what follows the last `@`.
    let authority = authority.rsplit('@').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    UrlParts { scheme: scheme.to_ascii_lowercase(), authority, host }
}

/// Percent-encodes an object name for a URL path segment.
pub(crate) fn encode(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    /// Both forms of `Retry-After`: seconds, and an HTTP date (crates.io's), counted from now.
    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0.5 ", now), Some(Duration::from_millis(500)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(86_400)));
        assert_eq!(
            retry_after("Thu, 01 Mar 2024 00:00:00 GMT", std::time::UNIX_EPOCH + Duration::from_secs(1_709_251_199)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO), "in the past: no wait");
        for bad in [
            "",
            "-3",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "NaN",
            "Sun, 06 Nov 99999999999999 08:49:37 GMT",
            "Sun, 06 Nov 1994 99999999999999:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_last_responses_headers_count() {
        let dump = "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\nHTTP/1.1 429 Too Many\r\nRetry-After: 7\r\n\r\n";
        let r = Response { status: 429, headers: parse_headers(dump), body: vec![] };
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.header("location"), None);
    }

    #[test]
    fn config_values_are_quoted_so_none_can_start_another_option() {
        assert_eq!(quoted("a\"b\\c\nurl = \"x\""), r#""a\"b\\c\nurl = \"x\"""#);
        let r = Request::new("POST", "http://h/p").header("Content-Type: text/html").body(Utf8Path::new("/b"));
        let outputs = [("/o1".into(), "/h1".into()), ("/o2".into(), "/h2".into())];
        let c = config(&[&r, &r], &outputs, Some("Authorization: Bearer t\nurl = evil"), 4);
        assert!(c.starts_with("parallel\nparallel-max = 4\n"), "{c}");
        assert_eq!(c.matches("\nnext\n").count(), 1);
        assert_eq!(c.matches("header = \"Authorization: Bearer t\\nurl = evil\"").count(), 2, "{c}");
        assert!(!c.lines().any(|l| l == "url = evil"));
        assert!(c.contains("upload-file = \"/b\"") && c.contains("output = \"/o2\""));
    }

    /// Many requests through one curl: each result in its request's place, bodies and statuses apart, the
    /// secret header sent and never on curl's command line; a 503 is retried, a 404 is not.
    #[test]
    fn a_batch_comes_back_in_order_with_retries_of_the_transient_failures() {
        let flaky = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = flaky.clone();
        let server = testutil::MockHttp::start(move |r| match r.target.as_str() {
            "/flaky" if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 => (503, "busy".into()),
            "/missing" => (404, "{\"error\": {\"message\": \"no such object\"}}".into()),
            "/publish" => (500, "maybe it landed".into()),
            t => (200, format!("{} {t} {}", r.method, String::from_utf8_lossy(&r.body))),
        });
        let dir = testutil::temp_dir("http");
        let body = dir.join("body");
        std::fs::write(&body, "payload").unwrap();
        let sh = Shell::new().unwrap();
        let url = server.url();
        let requests: Vec<Request> = vec![
            Request::new("GET", &format!("{url}/a")),
            Request::new("POST", &format!("{url}/b")).body(&body).header("Content-Type: text/plain"),
            Request::new("GET", &format!("{url}/flaky")),
            Request::new("GET", &format!("{url}/missing")),
            Request::new("GET", &format!("{url}/c")).to(&dir.join("c.out")),
            Request::new("GET", &format!("{url}/{{sha256-checksum}}[1-")),
            Request::new("PUT", &format!("{url}/publish")).once(),
        ];
        let got = send_all(&sh, &requests, Some("Authorization: Bearer s3cret"), 8, &dir);
        let got: Vec<Response> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!((got[0].status, got[0].text()), (200, "GET /a ".to_owned()));
        assert_eq!((got[1].status, got[1].text()), (200, "POST /b payload".to_owned()));
        assert!(got[0].header("content-length").is_some(), "{:?}", got[0].headers);
        assert_eq!(got[2].status, 200, "retried after the 503");
        assert_eq!(got[3].status, 404);
        assert_eq!(got[3].text(), "{\"error\": {\"message\": \"no such object\"}}");
        assert_eq!(std::fs::read_to_string(dir.join("c.out")).unwrap(), "GET /c ");
        // Braces and brackets are characters of the URL, not curl's globbing patterns.
        assert_eq!(got[5].text(), "GET /{sha256-checksum}[1- ");
        // Not safe to send twice: a 500 is an answer, not a reason to publish again.
        assert_eq!(got[6].status, 500);
        assert_eq!(server.requests().iter().filter(|r| r.target == "/publish").count(), 1);
        let received = server.requests();
        assert!(received.iter().all(|r| r.header("authorization") == Some("Bearer s3cret")));
        assert_eq!(received.iter().filter(|r| r.target == "/flaky").count(), 2);
        assert_eq!(received.iter().filter(|r| r.target == "/missing").count(), 1, "a 404 is an answer");
        assert!(std::fs::read_dir(&dir).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().contains("xtmp")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A credential never goes in plain http to another machine: refused before any request, whatever carries
    /// it (a secret header here; the OIDC exchanges and twine check the same rule).
    #[test]
    fn credentials_go_only_over_https_or_to_this_machine() {
        for ok in [
            "https://crates.io/api/v1/crates/new",
            "http://127.0.0.1:9/x",
            "http://localhost/",
            "http://[::1]:1/",
            "127.0.0.1:4443",
        ] {
            credential_may_go_to(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://registry.example/api",
            "http://10.0.0.5/",
            "http://127.0.0.1@evil.example/",
            "ftp://127.0.0.1/",
            "https://",
            "file:///etc/passwd",
        ] {
            let e = credential_may_go_to(bad).unwrap_err().to_string();
            assert!(e.starts_with("refusing to send a credential to") && e.contains("\nfix: "), "{bad}: {e}");
        }
        assert_eq!(redact("https://user:pw@host.example:8/p/q?token=x#f"), "https://***@host.example:8/p/q");
        let dir = testutil::temp_dir("http-credentials");
        let sh = Shell::new().unwrap();
        let r = send(
            &sh,
            &Request::new("PUT", "http://registry.invalid/api/v1/crates/new"),
            Some("Authorization: t0ken"),
            &dir,
        );
        let e = format!("{:#}", r.unwrap_err());
        assert!(e.contains("refusing to send a credential to http://registry.invalid/") && !e.contains("t0ken"), "{e}");
        // Without a credential the same URL is only a request (here: a name that does not resolve).
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A server that accepts the connection and never answers fails the request within the stall bound (tried
    /// twice), with an error naming the URL and the fix, instead of hanging the job.
    #[test]
    fn a_stalled_server_fails_within_the_bound() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming().flatten() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(s); // open, silent
            }
        });
        let dir = testutil::temp_dir("http-stall");
        let sh = Shell::new().unwrap();
        let mut request = Request::new("GET", &format!("http://127.0.0.1:{port}/commit/x/manifest.json"));
        request.stall_secs = Some(1);
        let e = format!("{:#}", send(&sh, &request, None, &dir).unwrap_err());
        assert!(
            e.contains(&format!("no answer from http://127.0.0.1:{port}/commit/x/manifest.json after 2 attempts")),
            "{e}"
        );
        assert!(e.contains("\nfix: ") && e.contains("XTASK_HTTP_STALL_SECS"), "{e}");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2, "a stall is tried twice, not five times");

        // A server that answers, then trickles its body (a byte every 100 ms of a 100 MB one) fails the same way.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    use std::io::Write as _;
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n");
                    for _ in 0..100 {
                        if s.write_all(b"x").is_err() {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                });
            }
        });
        let mut request = Request::new("GET", &format!("http://127.0.0.1:{port}/trickle"));
        request.stall_secs = Some(1);
        let started = std::time::Instant::now();
        let e = format!("{:#}", send(&sh, &request, None, &dir).unwrap_err());
        assert!(e.contains("/trickle after 2 attempts"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(9), "a trickle is cut off by the speed floor");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A request to this machine never goes through a proxy: a credential sent in plain http to localhost does
    /// not reach a proxy (which may be another host) on the way.
    #[test]
    fn requests_to_this_machine_bypass_any_proxy() {
        let proxy_hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hits = proxy_hits.clone();
        let proxy = testutil::MockHttp::start(move |_| {
            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (502, "proxy".into())
        });
        let server = testutil::MockHttp::start(|r| (200, format!("direct {}", r.target)));
        let dir = testutil::temp_dir("http-proxy");
        let sh = Shell::new().unwrap();
        for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
            sh.set_var(var, proxy.url());
        }
        let url = server.url().replace("127.0.0.1", "localhost");
        let r =
            send(&sh, &Request::new("GET", &format!("{url}/x")), Some("Authorization: Bearer s3cret"), &dir).unwrap();
        assert_eq!((r.status, r.text()), (200, "direct /x".to_owned()));
        assert_eq!(proxy_hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the credential went through the proxy");
        let outputs = [("/o".into(), "/h".into())];
        assert!(config(&[&Request::new("GET", "http://[::1]:9/")], &outputs, None, 1).contains("noproxy = \"*\""));
        assert!(!config(&[&Request::new("GET", "https://example.com/")], &outputs, None, 1).contains("noproxy"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
