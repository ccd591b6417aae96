use std::process::{Command, Stdio};

use super::*;
use crate::jobs::upload;
use crate::jobs::upload::UploadArgs;
use crate::testutil::{self, FlakyProxy, Server};

#[test]
fn a_release_runs_only_from_the_versions_tag_or_the_default_branch() {
    let f = |event: &str, ref_type: &str, name: &str, git_ref: &str, default: Option<&str>| RefFacts {
        event: event.into(),
        ref_type: ref_type.into(),
        ref_name: name.into(),
        git_ref: git_ref.into(),
        default_branch: default.map(Into::into),
    };
    check_ref(&f("push", "tag", "v1.2.3", "refs/tags/v1.2.3", None), "1.2.3").unwrap();
    check_ref(&f("workflow_dispatch", "branch", "main", "refs/heads/main", Some("main")), "1.2.3").unwrap();
    let refused = [
        (f("push", "tag", "v1.2.4", "refs/tags/v1.2.4", None), "this run is for tag v1.2.4"),
        (f("workflow_dispatch", "branch", "evil", "refs/heads/evil", Some("main")), "this run is from refs/heads/evil"),
        (
            f("workflow_dispatch", "branch", "main", "refs/heads/main", None),
            "does not name the repository's default branch",
        ),
        (f("push", "branch", "main", "refs/heads/main", Some("main")), "a `push` event"),
        (f("pull_request", "branch", "1/merge", "refs/pull/1/merge", Some("main")), "a `pull_request` event"),
    ];
    for (facts, want) in refused {
        let err = check_ref(&facts, "1.2.3").unwrap_err().to_string();
        assert!(err.contains(want) && err.contains("--allow-any-ref"), "{facts:?}: {err}");
    }
}

#[test]
fn index_paths() {
    for (name, want) in [("a", "1/a"), ("ab", "2/ab"), ("abc", "3/a/abc"), ("Reel-CLI", "re/el/reel-cli")] {
        assert_eq!(index_path(name), want);
    }
}

#[test]
fn dependencies_first() {
    let crates = vec![
        ("reel-cli".to_owned(), vec!["reel".to_owned(), "anyhow".to_owned()]),
        ("reel".to_owned(), vec![]),
        ("reel-extra".to_owned(), vec!["reel-cli".to_owned()]),
    ];
    assert_eq!(publish_order(&crates).unwrap(), ["reel", "reel-cli", "reel-extra"]);
    let cycle = vec![("a".to_owned(), vec!["b".to_owned()]), ("b".to_owned(), vec!["a".to_owned()])];
    assert!(publish_order(&cycle).unwrap_err().to_string().contains("cycle"));
}

fn artifact(kind: Kind, name: &str, path: &str, platform: Option<&str>) -> Artifact {
    Artifact {
        kind,
        name: name.into(),
        path: path.into(),
        size: 1,
        sha256: "0".repeat(64),
        version: "1.0.0".into(),
        platform: platform.map(Into::into),
        tag: None,
        command: String::new(),
        tools: vec![],
    }
}

#[test]
fn incomplete_or_mismatched_sets_are_refused() {
    let expected = Expected {
        crates: vec!["a".into(), "b".into()],
        wheel_platforms: vec!["x86_64-unknown-linux-gnu".into(), "aarch64-apple-darwin".into()],
        bundles: vec!["web".into()],
    };
    let m = Manifest {
        commit: "a".repeat(40),
        dirty: true,
        source_date_epoch: 0,
        xtask_version: "0".into(),
        version: "1.0.0".into(),
        artifacts: vec![
            artifact(Kind::Crate, "a", "crates/a-1.0.0.crate", None),
            artifact(Kind::Wheel, "w", "wheels/w.whl", Some("x86_64-unknown-linux-gnu")),
        ],
    };
    let err = check(&m, "1.0.0", &expected).unwrap_err().to_string();
    for want in [
        "dirty tree",
        "the crate b is missing",
        "no wheel for aarch64-apple-darwin",
        "the web bundle web is missing",
        "nothing was published",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    let err = check(&m, "2.0.0", &expected).unwrap_err().to_string();
    assert!(err.contains("crates/a-1.0.0.crate has version 1.0.0, the release is 2.0.0"), "{err}");
}

const COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// xtask-demo-a's code at 0.1.0: `extra` is removed in the next version.
const A_LIB: &str = "pub fn answer() -> u32 { 42 }\n\npub fn extra() {}\n";

/// Two real crates (b depends on a; `a_lib` is a's code) made by `cargo package`, a pure-Python wheel, a web
/// bundle, all at `version`: the packages of `commit`, to be uploaded and signed.
fn commit_in_store(root: &Utf8Path, sh: &Shell, commit: &str, version: &str, a_lib: &str) {
    let ws = root.join(format!("ws-{version}"));
    let files = [
        ("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n".to_owned()),
        (
            "a/Cargo.toml",
            format!(
                "[package]\nname = \"xtask-demo-a\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"demo\"\n"
            ),
        ),
        ("a/src/lib.rs", a_lib.to_owned()),
        (
            "b/Cargo.toml",
            format!(
                "[package]\nname = \"xtask-demo-b\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"demo\"\n\n[dependencies]\nxtask-demo-a = {{ path = \"../a\", version = \"={version}\" }}\n"
            ),
        ),
        ("b/src/lib.rs", "pub fn answer() -> u32 { xtask_demo_a::answer() }\n".to_owned()),
    ];
    for (p, text) in files {
        std::fs::create_dir_all(ws.join(p).parent().unwrap()).unwrap();
        std::fs::write(ws.join(p), text).unwrap();
    }
    let manifest_path = ws.join("Cargo.toml");
    cmd!(sh, "cargo package --quiet --offline --allow-dirty --workspace --manifest-path {manifest_path}")
        .run()
        .unwrap();
    let dir = root.join("packages").join(commit);
    let mut artifacts = Vec::new();
    let mut add = |kind: Kind, name: &str, rel: &str, bytes: Vec<u8>, platform: Option<&str>| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        artifacts.push(Artifact {
            sha256: crate::sha256::digest(&bytes),
            size: bytes.len() as u64,
            version: version.into(),
            ..artifact(kind, name, rel, platform)
        });
    };
    for c in ["xtask-demo-a", "xtask-demo-b"] {
        let bytes = std::fs::read(ws.join(format!("target/package/{c}-{version}.crate"))).unwrap();
        add(Kind::Crate, c, &format!("crates/{c}-{version}.crate"), bytes, None);
    }
    let wheel = root.join("demo.whl");
    testutil::make_wheel(&wheel, "xtask-demo-pkg", version, 7);
    let wheel_bytes = std::fs::read(&wheel).unwrap();
    add(
        Kind::Wheel,
        "xtask-demo-pkg",
        &format!("wheels/xtask_demo_pkg-{version}-py3-none-any.whl"),
        wheel_bytes,
        Some("x86_64-unknown-linux-gnu"),
    );
    add(Kind::Wasm, "demo-web", "web/demo-web/index.html", b"<html>demo</html>\n".to_vec(), None);
    add(Kind::Wasm, "demo-web", "web/demo-web/app.wasm", vec![0, 97, 115, 109], None);
    artifacts.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Manifest {
        commit: commit.into(),
        dirty: false,
        source_date_epoch: 1,
        xtask_version: "0".into(),
        version: version.into(),
        artifacts,
    }
    .write_atomic(&dir.join(crate::manifest::FILE))
    .unwrap();
}

fn sign_in_store(sh: &Shell, root: &Utf8Path, store: &Utf8Path, key_name: &str) -> Utf8PathBuf {
    sign_commit(sh, root, store, key_name, COMMIT, "0.1.0")
}

fn sign_commit(
    sh: &Shell,
    root: &Utf8Path,
    store: &Utf8Path,
    key_name: &str,
    commit: &str,
    version: &str,
) -> Utf8PathBuf {
    sh.change_dir(root);
    let (pubkey, seckey) = (root.join(format!("{key_name}.pub")), root.join(format!("{key_name}.key")));
    if !pubkey.exists() {
        cmd!(sh, "minisign -G -W -p {pubkey} -s {seckey}").quiet().ignore_stdout().ignore_stderr().run().unwrap();
    }
    let secret = crate::signature::parse_secret(&std::fs::read_to_string(&seckey).unwrap()).unwrap();
    let manifest = store.join(format!("commit/{commit}/manifest.json"));
    let sig = crate::signature::sign_with(&secret, &std::fs::read(&manifest).unwrap(), commit, version);
    std::fs::write(format!("{manifest}.minisig"), sig).unwrap();
    pubkey
}

fn index_lines(registry: &Utf8Path, name: &str) -> Vec<String> {
    let sh = Shell::new().unwrap();
    let spec = format!("HEAD:{}", index_path(name));
    let text = cmd!(sh, "git -C {registry} show {spec}").quiet().ignore_stderr().read().unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

/// A rehearsal of a release, from a commit in the store to a cargo registry and a PyPI server (both real, on
/// 127.0.0.1), each scenario below with its own: the packages of [`COMMIT`] made, uploaded and signed with the
/// release key; the servers started (and stopped when it is dropped).
struct Rehearsal {
    root: Utf8PathBuf,
    ctx: Ctx,
    sh: Shell,
    store: Utf8PathBuf,
    pubkey: Utf8PathBuf,
    registry: Utf8PathBuf,
    reg_port: u16,
    pypi_dir: Utf8PathBuf,
    pypi_port: u16,
    expected: Expected,
    _servers: [Server; 2],
}

const REGISTRY_TOKEN: &str = "secret-registry-token-123";
const PYPI_TOKEN: &str = "secret-pypi-token-456";

impl Rehearsal {
    fn new(name: &str) -> Rehearsal {
        let root = testutil::temp_dir(name);
        let ctx = testutil::ctx(&root);
        let sh = Shell::new().unwrap();
        ctx.tools.ensure(&sh, &["cargo-http-registry", "twine"]).expect("provision the registry and twine");
        let python = ctx.tools.ensure_python_packages(&sh, config::TEST_SERVERS).unwrap();
        commit_in_store(&root, &sh, COMMIT, "0.1.0", A_LIB);
        let store = root.join("store");
        let from = Some(root.join("packages"));
        let upload_args =
            UploadArgs { store: Some(store.to_string()), commit: Some(COMMIT.into()), from, ..UploadArgs::default() };
        upload::upload(&ctx, &upload_args).unwrap();
        let pubkey = sign_in_store(&sh, &root, &store, "release");
        let registry = root.join("registry");
        let reg_port = testutil::free_port();
        let chr = ctx.tools.probe(&sh, config::tool_named("cargo-http-registry")).unwrap().path.unwrap();
        let registry_server = Server(
            Command::new(chr.as_str())
                .args(["--addr", &format!("127.0.0.1:{reg_port}"), registry.as_str()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let pypi_dir = root.join("pypi");
        std::fs::create_dir_all(&pypi_dir).unwrap();
        let pypi_port = testutil::free_port();
        let pypi_server = python.parent().unwrap().join("pypi-server");
        let pypi = Server(
            Command::new(pypi_server.as_str())
                .args(["run", "-i", "127.0.0.1", "-p", &pypi_port.to_string(), "-P", ".", "-a", ".", pypi_dir.as_str()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        testutil::wait_for(reg_port, "cargo-http-registry");
        testutil::wait_for(pypi_port, "pypi-server");
        let expected = Expected {
            crates: vec!["xtask-demo-a".into(), "xtask-demo-b".into()],
            wheel_platforms: vec!["x86_64-unknown-linux-gnu".into()],
            bundles: vec!["demo-web".into()],
        };
        Rehearsal {
            root,
            ctx,
            sh,
            store,
            pubkey,
            registry,
            reg_port,
            pypi_dir,
            pypi_port,
            expected,
            _servers: [registry_server, pypi],
        }
    }

    /// The registry's web API directly.
    fn direct(&self) -> String {
        format!("http://127.0.0.1:{}", self.reg_port)
    }

    fn targets(&self, api: String) -> Targets {
        Targets {
            registry_token: Some(REGISTRY_TOKEN.into()),
            pypi_token: Some(PYPI_TOKEN.into()),
            oidc: None,
            pypi_oidc: format!("http://127.0.0.1:{}", self.pypi_port),
            registry_api: api,
            registry_index: format!("file://{}", self.registry),
            pypi_upload: format!("http://127.0.0.1:{}/", self.pypi_port),
            pypi_simple: format!("http://127.0.0.1:{}/simple/", self.pypi_port),
            web: crate::store::Store::parse(self.root.join("web").as_str(), &self.root).unwrap(),
        }
    }

    fn args(&self, execute: bool) -> Args {
        Args {
            commit: COMMIT.into(),
            store: Some(self.store.to_string()),
            version: Some("0.1.0".into()),
            execute,
            public_key: Some(self.pubkey.clone()),
            ..Args::default()
        }
    }

    fn release(&self, args: &Args, targets: &Targets) -> Result<Vec<Action>> {
        release(&self.ctx, &self.sh, args, &self.expected, targets)
    }

    /// The release of 0.1.0, as a maintainer starts it; it must fail with exit status 1, before anything is
    /// published, with all of `wanted` in its message.
    fn refused(&self, wanted: &[&str]) -> String {
        let e = self.release(&self.args(true), &self.targets(self.direct())).unwrap_err();
        assert!(e.downcast_ref::<JobFailed>().is_some(), "a refusal exits 1: {e:#}");
        let err = format!("{e:#}");
        for w in wanted {
            assert!(err.contains(w), "{w:?} in {err}");
        }
        self.assert_nothing_published();
        err
    }

    fn assert_nothing_published(&self) {
        assert!(index_lines(&self.registry, "xtask-demo-a").is_empty(), "a crate was published");
        assert!(std::fs::read_dir(&self.pypi_dir).unwrap().next().is_none(), "a wheel was published");
    }
}

impl Drop for Rehearsal {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn a_dry_run_plans_everything_in_dependency_order_and_publishes_nothing() {
    let r = Rehearsal::new("release-dry-run");
    let actions = r.release(&r.args(false), &r.targets(r.direct())).unwrap();
    let what: Vec<String> = actions.iter().map(|a| format!("{} {:?}", a.what, a.skip)).collect();
    assert_eq!(what[0], "crate xtask-demo-a 0.1.0 None");
    assert_eq!(what[1], "crate xtask-demo-b 0.1.0 None");
    assert!(what[2].starts_with("wheel xtask_demo_pkg-0.1.0-py3-none-any.whl None"), "{what:?}");
    r.assert_nothing_published();
    // Verified copies in release's own directory, nothing in cargo's target/release.
    assert!(r.root.join(DOWNLOADS_DIR).join(COMMIT).join("manifest.json").is_file());
    assert!(!r.root.join("target/release").exists(), "nothing in cargo's own target/release");
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn tampered_bytes_in_the_store_are_refused_even_after_a_verified_download() {
    let r = Rehearsal::new("release-tampered");
    // A dry run leaves verified copies in release's own directory: a store changed since is still noticed.
    r.release(&r.args(false), &r.targets(r.direct())).unwrap();
    let victim = r.store.join(format!("commit/{COMMIT}/wheels/xtask_demo_pkg-0.1.0-py3-none-any.whl"));
    let mut bad = std::fs::read(&victim).unwrap();
    bad[10] ^= 1;
    std::fs::write(&victim, &bad).unwrap();
    r.refused(&["tampered or corrupted", "nothing was published"]);
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn a_signature_by_another_key_or_no_signature_at_all_is_refused() {
    let r = Rehearsal::new("release-signatures");
    sign_in_store(&r.sh, &r.root, &r.store, "other");
    r.refused(&["not by the committed key", "nothing was published"]);
    // A garbage signature names the object and what was expected.
    let sig = r.store.join(format!("commit/{COMMIT}/manifest.json.minisig"));
    std::fs::write(&sig, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    r.refused(&["manifest.json.minisig failed: it is not a minisign signature"]);
    std::fs::remove_file(&sig).unwrap();
    r.refused(&["is not signed", "fix: cargo xtask sign --commit"]);
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn another_commits_manifest_or_another_version_is_refused() {
    let r = Rehearsal::new("release-binding");
    // Another commit's manifest under this commit's key, validly signed: the signature vouches for the manifest's
    // own `commit` field, which names the other commit, so release refuses it.
    let manifest_path = r.store.join(format!("commit/{COMMIT}/manifest.json"));
    let real = std::fs::read_to_string(&manifest_path).unwrap();
    let other = "7".repeat(40);
    std::fs::write(&manifest_path, real.replace(COMMIT, &other)).unwrap();
    let secret = crate::signature::parse_secret(&std::fs::read_to_string(r.root.join("release.key")).unwrap()).unwrap();
    let substituted = crate::signature::sign_with(&secret, &std::fs::read(&manifest_path).unwrap(), COMMIT, "0.1.0");
    std::fs::write(format!("{manifest_path}.minisig"), substituted).unwrap();
    r.refused(&[&format!("is for commit {other}"), "nothing was published"]);
    // The real manifest again, but a release of another version.
    std::fs::write(&manifest_path, &real).unwrap();
    sign_in_store(&r.sh, &r.root, &r.store, "release");
    let args = Args { version: Some("0.2.0".into()), ..r.args(true) };
    let err = format!("{:#}", r.release(&args, &r.targets(r.direct())).unwrap_err());
    assert!(err.contains("the release is 0.2.0"), "{err}");
    r.assert_nothing_published();
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn an_interrupted_release_is_finished_by_a_rerun_and_then_sends_nothing() {
    let r = Rehearsal::new("release-resume");
    let no_token = |e: &anyhow::Error| {
        let text = format!("{e:#}");
        assert!(!text.contains(REGISTRY_TOKEN) && !text.contains(PYPI_TOKEN), "a token was printed: {text}");
        text
    };
    // The registry fails after one request (the first crate's upload).
    let proxy = FlakyProxy::start(r.reg_port, 1);
    let err = r.release(&r.args(true), &r.targets(proxy.endpoint())).unwrap_err();
    assert!(err.downcast_ref::<JobFailed>().is_some(), "a release that stopped part-way exits 1: {err:#}");
    let text = no_token(&err);
    assert!(text.contains("xtask-demo-b"), "the second crate fails: {text}");
    assert_eq!(index_lines(&r.registry, "xtask-demo-a").len(), 1);
    assert!(index_lines(&r.registry, "xtask-demo-b").is_empty());

    // Run again: finishes, skipping what was published.
    let actions = r.release(&r.args(true), &r.targets(r.direct())).unwrap();
    assert_eq!(actions[0].skip.as_deref(), Some(SAME_IN_INDEX));
    assert_eq!(actions[1].skip, None);
    // And again: everything is skipped, nothing is published twice.
    let web_before = std::fs::metadata(r.root.join("web/latest/app.wasm")).unwrap().modified().unwrap();
    let actions = r.release(&r.args(true), &r.targets(r.direct())).unwrap();
    assert_eq!(actions.len(), 4, "two crates, a wheel, the web bundle: {actions:?}");
    assert!(actions.iter().all(|a| a.skip.is_some()), "a finished release run again sends nothing: {actions:?}");
    let web_after = std::fs::metadata(r.root.join("web/latest/app.wasm")).unwrap().modified().unwrap();
    assert_eq!(web_before, web_after, "latest/ was not written again");
    for c in ["xtask-demo-a", "xtask-demo-b"] {
        let lines = index_lines(&r.registry, c);
        assert_eq!(lines.len(), 1, "exactly one index line per version: {lines:?}");
    }
    let without_token = Targets { registry_token: None, ..r.targets("http://127.0.0.1:1".into()) };
    assert!(r.release(&r.args(true), &without_token).is_ok(), "nothing left to publish needs no token");
    assert_eq!(std::fs::read(r.root.join("web/version/0.1.0/index.html")).unwrap(), b"<html>demo</html>\n");
    assert!(r.root.join("web/latest/app.wasm").is_file());

    // A fresh cargo project builds against the published crate.
    let consumer = r.root.join("consumer");
    std::fs::create_dir_all(consumer.join("src")).unwrap();
    std::fs::create_dir_all(consumer.join(".cargo")).unwrap();
    std::fs::write(consumer.join("Cargo.toml"), "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\nxtask-demo-b = { version = \"0.1.0\", registry = \"local\" }\n").unwrap();
    std::fs::write(consumer.join("src/main.rs"), "fn main() { assert_eq!(xtask_demo_b::answer(), 42); }\n").unwrap();
    let index = format!("[registries.local]\nindex = \"file://{}\"\n", r.registry);
    std::fs::write(consumer.join(".cargo/config.toml"), index).unwrap();
    let cargo_home = r.root.join("cargo-home");
    {
        // cargo reads .cargo/config.toml from the directory it runs in.
        let _dir = r.sh.push_dir(&consumer);
        cmd!(r.sh, "cargo run --quiet").env("CARGO_HOME", &cargo_home).run().unwrap();
    }
    // pip installs the wheel from the package index.
    let venv = r.root.join("venv");
    cmd!(r.sh, "python3 -m venv {venv}").run().unwrap();
    let py = crate::tools::venv_python(&venv);
    let index = format!("http://127.0.0.1:{}/simple/", r.pypi_port);
    cmd!(r.sh, "{py} -m pip install --quiet --index-url {index} xtask-demo-pkg").run().unwrap();
    assert_eq!(cmd!(r.sh, "{py} -c 'import xtask_demo_pkg; print(xtask_demo_pkg.VALUE)'").read().unwrap().trim(), "7");
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn a_patch_release_that_removes_a_public_function_is_refused() {
    let r = Rehearsal::new("release-semver");
    r.release(&r.args(true), &r.targets(r.direct())).unwrap();
    // The next version removes a public function of xtask-demo-a under a patch version: the registry's 0.1.0 is
    // the baseline, the verdict is breaking and names the function, and nothing is published.
    const NEXT: &str = "0123456789abcdef0123456789abcdef01234567";
    commit_in_store(&r.root, &r.sh, NEXT, "0.1.1", "pub fn answer() -> u32 { 42 }\n");
    let from = Some(r.root.join("packages"));
    let upload_args =
        UploadArgs { store: Some(r.store.to_string()), commit: Some(NEXT.into()), from, ..UploadArgs::default() };
    upload::upload(&r.ctx, &upload_args).unwrap();
    sign_commit(&r.sh, &r.root, &r.store, "release", NEXT, "0.1.1");
    let next = Args { commit: NEXT.into(), version: Some("0.1.1".into()), ..r.args(true) };
    let e = r.release(&next, &r.targets(r.direct())).unwrap_err();
    assert!(e.downcast_ref::<JobFailed>().is_some(), "a breaking change exits 1: {e:#}");
    let err = format!("{e:#}");
    assert!(
        err.contains("xtask-demo-a 0.1.1:") && err.contains("function_missing") && err.contains("xtask_demo_a::extra"),
        "{err}"
    );
    assert!(err.contains("nothing was published") && !err.contains("xtask-demo-b 0.1.1:"), "{err}");
    assert_eq!(index_lines(&r.registry, "xtask-demo-a").len(), 1, "0.1.1 was not published");
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

/// The previous version's `.crate` comes from where the index's `config.json` says (`dl`, its markers filled
/// in, the sha256 one too) and must match the index's sha256; a registry that does not have it is an error
/// naming the URL, not an empty comparison.
#[test]
fn the_previous_crate_is_downloaded_from_the_index_dl() {
    let dir = testutil::temp_dir("dl");
    let sh = Shell::new().unwrap();
    let out = dir.join("demo.crate");
    let port = testutil::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = format!("{{\"dl\": \"{base}/files/{{crate}}-{{version}}.crate?sum={{sha256-checksum}}\"}}");
    let sum = crate::sha256::digest(b"crate bytes");
    let want = format!("/files/demo-0.1.0.crate?sum={sum}");
    let server = testutil::MockHttp::start_on(port, move |r| match r.target.as_str() {
        "/index/config.json" => (200, config.clone()),
        t if t == want => (200, "crate bytes".into()),
        t if t.starts_with("/files/demo-0.2.0.crate") => (200, "other bytes".into()),
        _ => (404, String::new()),
    });
    let index = format!("sparse+{base}/index/");
    let entry = |vers: &str| IndexEntry { vers: vers.into(), yanked: false, cksum: sum.clone() };
    download_crate(&sh, &index, &dir, "demo", &entry("0.1.0"), &out).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "crate bytes");
    let e = download_crate(&sh, &index, &dir, "demo", &entry("0.0.9"), &out).unwrap_err().to_string();
    assert!(e.contains("HTTP 404") && e.contains("/files/demo-0.0.9.crate"), "{e}");
    // Bytes that are not what the index's sha256 says are refused.
    let e = download_crate(&sh, &index, &dir, "demo", &entry("0.2.0"), &out).unwrap_err().to_string();
    assert!(e.contains("the index says") && e.contains(&sum), "{e}");
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
