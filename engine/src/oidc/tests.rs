use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use super::*;
use crate::testutil::{self, MockHttp, Received};
use xshell::cmd;

const BEARER: &str = "gh-request-bearer-111";
const JWT: &str = "gh-oidc-jwt-222";
const CRATES_TOKEN: &str = "cio-minted-333";
const PYPI_TOKEN: &str = "pypi-minted-444";

/// GitHub's token endpoint, a crate registry and a package index in one server; `fail` picks a failure reply.
fn server(fail: Arc<AtomicU16>) -> MockHttp {
    MockHttp::start(move |r: &Received| {
        let f = fail.load(Ordering::Relaxed);
        let path = r.target.split('?').next().unwrap_or_default();
        match (r.method.as_str(), path) {
            ("GET", "/gh/token") => {
                if r.header("authorization") != Some(&format!("bearer {BEARER}")) || f == 1 {
                    return (403, r#"{"message":"not allowed to mint id tokens"}"#.into());
                }
                (200, format!(r#"{{"value":"{JWT}"}}"#))
            }
            ("POST", "/api/v1/trusted_publishing/tokens") => {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if v["jwt"] != JWT || f == 2 {
                    return (400, r#"{"errors":[{"detail":"expired token: the JWT is no longer valid"}]}"#.into());
                }
                (200, format!(r#"{{"token":"{CRATES_TOKEN}"}}"#))
            }
            ("DELETE", "/api/v1/trusted_publishing/tokens") => {
                if f == 3 {
                    return (500, r#"{"errors":[{"detail":"revocation is down"}]}"#.into());
                }
                if r.header("authorization") == Some(&format!("Bearer {CRATES_TOKEN}")) {
                    (204, String::new())
                } else {
                    (401, "{}".into())
                }
            }
            ("PUT", "/api/v1/crates/new") => {
                if r.header("authorization") == Some(CRATES_TOKEN) {
                    (200, "{}".into())
                } else {
                    (403, r#"{"errors":[{"detail":"bad token"}]}"#.into())
                }
            }
            ("GET", "/_/oidc/audience") if f == 4 => (404, "not found".into()),
            ("GET", "/_/oidc/audience") => (200, r#"{"audience":"testpypi-aud"}"#.into()),
            ("POST", "/_/oidc/mint-token") => {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if v["token"] != JWT || f == 5 {
                    return (403, r#"{"message":"invalid-publisher: no trusted publisher matches"}"#.into());
                }
                (200, format!(r#"{{"success":true,"token":"{PYPI_TOKEN}"}}"#))
            }
            ("POST", "/legacy/") => (200, "OK".into()),
            _ => (404, "{}".into()),
        }
    })
}

/// Every string this exchange produced must be free of the secrets.
fn clean(text: &str) {
    for s in [BEARER, JWT, CRATES_TOKEN, PYPI_TOKEN] {
        assert!(!text.contains(s), "a token was printed: {text}");
    }
}

#[test]
fn crates_trusted_publishing_exchanges_publishes_and_revokes() {
    let fail = Arc::new(AtomicU16::new(0));
    let http = server(fail.clone());
    let root = testutil::temp_dir("oidc-crates");
    let sh = Shell::new().unwrap();
    let gh = Github::new(format!("{}/gh/token?api-version=2.0", http.url()), BEARER);
    let api = http.url();

    let mut token = crates_token(&sh, &root, &gh, &api).unwrap();
    assert_eq!(token.token.expose(), CRATES_TOKEN);
    clean(&format!("{token:?}"));
    // Publish with the minted token (the registry's web API, as release does).
    let krate = root.join("demo-0.1.0.crate");
    std::fs::write(&krate, b"crate bytes").unwrap();
    let meta = json!({"name": "demo", "vers": "0.1.0"});
    let answer =
        crate::registry::crates::publish_crate(&sh, &api, token.token.expose(), true, &meta, &krate, &root).unwrap();
    assert_eq!(answer, crate::registry::crates::Answer::Accepted);
    token.revoke().unwrap();
    drop(token);
    let reqs = http.requests();
    let seen: Vec<String> =
        reqs.iter().map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap())).collect();
    assert_eq!(
        seen,
        [
            "GET /gh/token",
            "POST /api/v1/trusted_publishing/tokens",
            "PUT /api/v1/crates/new",
            "DELETE /api/v1/trusted_publishing/tokens"
        ],
        "exchange, publish, revoke once"
    );
    assert!(reqs[0].target.ends_with("&audience=127.0.0.1"), "{}", reqs[0].target);
    assert_eq!(reqs[2].header("authorization"), Some(CRATES_TOKEN), "published with the minted token");

    // Dropped without an explicit revoke (a release that failed part-way): revoked all the same.
    let token = crates_token(&sh, &root, &gh, &api).unwrap();
    drop(token);
    assert_eq!(http.requests().last().unwrap().method, "DELETE");

    // Failure replies: each a clear error, none holding a token.
    for (mode, want) in [
        (1, "GitHub's OIDC endpoint answered HTTP 403"),
        (2, "refused the trusted-publishing exchange: HTTP 400: expired token"),
    ] {
        fail.store(mode, Ordering::Relaxed);
        let err = format!("{:#}", crates_token(&sh, &root, &gh, &api).unwrap_err());
        assert!(err.contains(want) && err.contains("fix: "), "{mode}: {err}");
        clean(&err);
    }
    fail.store(0, Ordering::Relaxed);
    let mut token = crates_token(&sh, &root, &gh, &api).unwrap();
    fail.store(3, Ordering::Relaxed);
    let err = format!("{:#}", token.revoke().unwrap_err());
    assert!(err.contains("revoking the trusted-publishing token failed: HTTP 500: revocation is down"), "{err}");
    clean(&err);
    assert_eq!(crates_audience("https://crates.io"), "crates.io");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn pypi_trusted_publishing_mints_a_token_twine_uploads_with() {
    let fail = Arc::new(AtomicU16::new(0));
    let http = server(fail.clone());
    let root = testutil::temp_dir("oidc-pypi");
    let sh = Shell::new().unwrap();
    let gh = Github::new(format!("{}/gh/token?api-version=2.0", http.url()), BEARER);
    let token = pypi_token(&sh, &root, &gh, &http.url()).unwrap();
    assert_eq!(token.expose(), PYPI_TOKEN);
    clean(&format!("{token:?}"));
    let reqs = http.requests();
    assert!(reqs[1].target.ends_with("&audience=testpypi-aud"), "the index's audience: {}", reqs[1].target);

    // twine uploads as __token__ with the minted token.
    let tools = crate::tools::Tools::new(&crate::project_root(), false);
    tools.ensure(&sh, &["twine"]).unwrap();
    let twine = tools.probe(&sh, crate::config::tool::TWINE.tool()).unwrap().path.unwrap();
    let wheel = root.join("demo_pkg-1.0.0-py3-none-any.whl");
    testutil::make_wheel(&wheel, "demo-pkg", "1.0.0", 1);
    let url = format!("{}/legacy/", http.url());
    cmd!(sh, "{twine} upload --disable-progress-bar --non-interactive --repository-url {url} {wheel}")
        .env("TWINE_USERNAME", "__token__")
        .env("TWINE_PASSWORD", token.expose())
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .unwrap();
    let upload = http.requests().into_iter().find(|r| r.target == "/legacy/").unwrap();
    let basic = format!("Basic {}", crate::signature::base64_encode(format!("__token__:{PYPI_TOKEN}").as_bytes()));
    assert_eq!(upload.header("authorization"), Some(basic.as_str()));

    for (mode, want) in [
        (4, "does not support trusted publishing"),
        (5, "refused to mint a token: HTTP 403: invalid-publisher"),
        (1, "GitHub's OIDC endpoint answered HTTP 403"),
    ] {
        fail.store(mode, Ordering::Relaxed);
        let err = format!("{:#}", pypi_token(&sh, &root, &gh, &http.url()).unwrap_err());
        assert!(err.contains(want) && err.contains("fix: "), "{mode}: {err}");
        clean(&err);
    }
    assert_eq!(pypi_oidc_base("https://upload.pypi.org/legacy/"), "https://pypi.org");
    assert_eq!(pypi_oidc_base("https://test.pypi.org/legacy/"), "https://test.pypi.org");
    assert_eq!(pypi_oidc_base("http://127.0.0.1:8080/legacy/"), "http://127.0.0.1:8080");
    std::fs::remove_dir_all(&root).unwrap();
}
