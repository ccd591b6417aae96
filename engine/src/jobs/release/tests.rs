use std::process::{Command, Stdio};

use super::*;
use crate::flags;
use crate::jobs::upload;
use crate::registry::crates::{IndexEntry, index_path};
use crate::testutil::{self, FlakyProxy, RecordingProxy, Server};
use crate::wheel::matrix::ExpectedWheel;

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
fn dependencies_first() {
    let crates = vec![
        ("reel-cli".to_owned(), vec!["reel".to_owned(), "anyhow".to_owned()]),
        ("reel".to_owned(), vec![]),
        ("reel-extra".to_owned(), vec!["reel-cli".to_owned()]),
    ];
    assert_eq!(crate::registry::pace::publish_order(&crates).unwrap(), ["reel", "reel-cli", "reel-extra"]);
    let cycle = vec![("a".to_owned(), vec!["b".to_owned()]), ("b".to_owned(), vec!["a".to_owned()])];
    assert!(crate::registry::pace::publish_order(&cycle).unwrap_err().to_string().contains("cycle"));
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

/// The abi3 wheel of `dist` a release needs for `target`.
fn abi3(dist: &str, target: &str) -> ExpectedWheel {
    ExpectedWheel { dist: dist.into(), target: target.into(), interpreter: None }
}

#[test]
fn incomplete_or_mismatched_sets_are_refused() {
    let expected = Expected {
        crates: vec!["a".into(), "b".into()],
        wheels: vec![abi3("w", "x86_64-unknown-linux-gnu"), abi3("w", "aarch64-apple-darwin"), {
            let cp314t = Some("3.14t".parse().unwrap());
            ExpectedWheel { interpreter: cp314t, ..abi3("w", "x86_64-unknown-linux-gnu") }
        }],
        other_wheels: vec![abi3("w", "x86_64-pc-windows-msvc")],
        sdists: vec!["w".into(), "other-dist".into()],
        python: vec!["w".into(), "other-dist".into(), "local".into()],
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
            artifact(Kind::Sdist, "w", "sdists/w-1.0.0.tar.gz", None),
            // A platform's wheel beyond the required ones ships; a project ci.toml does not name does not.
            artifact(Kind::Wheel, "w", "wheels/w-1.0.0-cp39-abi3-win_amd64.whl", Some("x86_64-pc-windows-msvc")),
            artifact(
                Kind::Wheel,
                "intruder",
                "wheels/intruder-1.0.0-py3-none-any.whl",
                Some("x86_64-unknown-linux-gnu"),
            ),
            artifact(Kind::Sdist, "intruder", "sdists/intruder-1.0.0.tar.gz", None),
            // An sdist of a package ci.toml names, built by a local `package` though no platform asks: it ships.
            artifact(Kind::Sdist, "local", "sdists/local-1.0.0.tar.gz", None),
        ],
    };
    let err = check(&m, "1.0.0", &expected).unwrap_err().to_string();
    assert!(!err.contains("win_amd64") && !err.contains("sdists/local"), "{err}");
    for want in [
        "dirty tree",
        "the crate b is missing",
        "the w abi3 wheel for aarch64-apple-darwin is missing",
        "the w wheel for CPython 3.14t on x86_64-unknown-linux-gnu is missing",
        "the web bundle web is missing",
        "the source distribution of other-dist is missing",
        "wheels/intruder-1.0.0-py3-none-any.whl is no wheel ci.toml ships",
        "sdists/intruder-1.0.0.tar.gz is the source distribution of no package ci.toml names",
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

/// Two real crates (b depends on a; `a_lib` is a's code) made by `cargo package`, a pure-Python wheel and its
/// source distribution, a web bundle, all at `version`: the packages of `commit`, to be uploaded and signed.
fn commit_in_store(root: &Utf8Path, sh: &Shell, commit: &str, version: &str, a_lib: &str) {
    commit_of(root, sh, commit, version, a_lib, DEMO_REPOSITORY);
}

/// The demo crates' repository.
const DEMO_REPOSITORY: &str = "https://github.com/xtask-demo/demo";

/// [`commit_in_store`], its crates naming the repository `repository`.
fn commit_of(root: &Utf8Path, sh: &Shell, commit: &str, version: &str, a_lib: &str, repository: &str) {
    let ws = root.join(format!("ws-{version}"));
    let files = [
        ("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n".to_owned()),
        (
            "a/Cargo.toml",
            format!(
                "[package]\nname = \"xtask-demo-a\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"demo\"\nrepository = \"{repository}\"\n"
            ),
        ),
        ("a/src/lib.rs", a_lib.to_owned()),
        (
            "b/Cargo.toml",
            format!(
                "[package]\nname = \"xtask-demo-b\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"demo\"\nrepository = \"{repository}\"\n\n[dependencies]\nxtask-demo-a = {{ path = \"../a\", version = \"={version}\" }}\n"
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
    let sdist = root.join("demo.tar.gz");
    testutil::make_sdist(&sdist, "xtask-demo-pkg", version);
    let sdist_bytes = std::fs::read(&sdist).unwrap();
    add(Kind::Sdist, "xtask-demo-pkg", &format!("sdists/xtask_demo_pkg-{version}.tar.gz"), sdist_bytes, None);
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
        let upload_args = flags::Upload {
            store: Some(store.to_string()),
            commit: Some(COMMIT.into()),
            from,
            ..flags::Upload::default()
        };
        upload::upload(&ctx, &upload_args).unwrap();
        let pubkey = sign_in_store(&sh, &root, &store, "release");
        let registry = root.join("registry");
        let reg_port = testutil::free_port();
        let chr = ctx.tools.probe(&sh, config::tool::CARGO_HTTP_REGISTRY.tool()).unwrap().path.unwrap();
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
            wheels: vec![abi3("xtask-demo-pkg", "x86_64-unknown-linux-gnu")],
            other_wheels: vec![],
            sdists: vec!["xtask-demo-pkg".into()],
            python: vec!["xtask-demo-pkg".into()],
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
        rehearsal_targets(&self.root, &self.registry, self.pypi_port, api)
    }

    fn args(&self, execute: bool) -> flags::Release {
        flags::Release {
            commit: COMMIT.into(),
            store: Some(self.store.to_string()),
            version: Some("0.1.0".into()),
            execute,
            public_key: Some(self.pubkey.clone()),
            ..flags::Release::default()
        }
    }

    fn release(&self, args: &flags::Release, targets: &Targets) -> Result<Vec<ReleaseItem>> {
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

/// Where a rehearsal publishes (a free function: a thread of its own builds its own).
fn rehearsal_targets(root: &Utf8Path, registry: &Utf8Path, pypi_port: u16, api: String) -> Targets {
    Targets {
        registry_token: Some(REGISTRY_TOKEN.into()),
        pypi_token: Some(PYPI_TOKEN.into()),
        oidc: None,
        pypi_oidc: format!("http://127.0.0.1:{pypi_port}"),
        publish_jobs: 4,
        former_repositories: Vec::new(),
        registry_api: api,
        registry_index: format!("file://{registry}"),
        pypi_upload: format!("http://127.0.0.1:{pypi_port}/"),
        pypi_simple: format!("http://127.0.0.1:{pypi_port}/simple/"),
        web: crate::store::Store::parse(root.join("web").as_str(), root).unwrap(),
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
    let args = flags::Release { version: Some("0.2.0".into()), ..r.args(true) };
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
    assert_eq!(actions.len(), 5, "two crates, a wheel, its sdist, the web bundle: {actions:?}");
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
        flags::Upload { store: Some(r.store.to_string()), commit: Some(NEXT.into()), from, ..flags::Upload::default() };
    upload::upload(&r.ctx, &upload_args).unwrap();
    sign_commit(&r.sh, &r.root, &r.store, "release", NEXT, "0.1.1");
    let next = flags::Release { commit: NEXT.into(), version: Some("0.1.1".into()), ..r.args(true) };
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

/// Whose a name is: the newest semver version there (a line that is no semver orders nothing), fetched under the
/// holder's own spelling of the name (`Demo` holds `demo`); a Cargo.toml that cannot be read is said to be so.
#[test]
fn a_names_holder_is_its_newest_version_under_its_own_spelling() {
    let dir = testutil::temp_dir("holder");
    let sh = Shell::new().unwrap();
    let pack = |top: &str, cargo_toml: Option<&str>| -> Vec<u8> {
        let src = dir.join(format!("src-{top}"));
        std::fs::create_dir_all(src.join(top)).unwrap();
        std::fs::write(src.join(top).join("README"), "x").unwrap();
        if let Some(text) = cargo_toml {
            std::fs::write(src.join(top).join("Cargo.toml"), text).unwrap();
        }
        let file = dir.join(format!("{top}.crate"));
        cmd!(sh, "tar -czf {file} -C {src} {top}").run().unwrap();
        std::fs::read(&file).unwrap()
    };
    let good = pack("Demo-1.2.0", Some("[package]\nname = \"Demo\"\nrepository = \"https://gitlab.com/them/demo\"\n"));
    let broken = pack("Demo-2.0.0", None);
    let (good_sum, broken_sum) = (crate::sha256::digest(&good), crate::sha256::digest(&broken));
    // A static registry: config.json and the two `.crate` files, served by Python's http.server.
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("index")).unwrap();
    std::fs::create_dir_all(www.join("files")).unwrap();
    std::fs::write(www.join("files/Demo-1.2.0.crate"), &good).unwrap();
    std::fs::write(www.join("files/Demo-2.0.0.crate"), &broken).unwrap();
    let port = testutil::free_port();
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(www.join("index/config.json"), format!("{{\"dl\": \"{base}/files/{{crate}}-{{version}}.crate\"}}"))
        .unwrap();
    let _server = Server(
        Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory", www.as_str()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    testutil::wait_for(port, "http.server");
    let index = format!("sparse+{base}/index/");
    let entry = |vers: &str, cksum: &str| IndexEntry {
        name: "Demo".into(),
        vers: vers.into(),
        yanked: true,
        cksum: cksum.into(),
    };
    let tmp = dir.join("tmp");
    // `1.10.0x` is no semver: 1.2.0 is the newest.
    let entries = [entry("0.9.0", "0"), entry("1.2.0", &good_sum), entry("1.10.0x", "0")];
    let h = crate::registry::crates::name_holder(&sh, &index, &dir.join("cache"), "demo", &entries, &tmp);
    let h = h.unwrap().expect("held");
    assert_eq!(
        (h.version.as_str(), h.repository.as_deref(), h.readable),
        ("1.2.0", Some("https://gitlab.com/them/demo"), true)
    );
    let entries = [entry("1.2.0", &good_sum), entry("2.0.0", &broken_sum)];
    let h = crate::registry::crates::name_holder(&sh, &index, &dir.join("cache"), "demo", &entries, &tmp);
    let h = h.unwrap().expect("held");
    assert_eq!((h.version.as_str(), h.repository, h.readable), ("2.0.0", None, false));
    assert!(
        crate::registry::crates::name_holder(&sh, &index, &dir.join("cache"), "demo", &[], &tmp).unwrap().is_none()
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
    let entry = |vers: &str| IndexEntry { name: "demo".into(), vers: vers.into(), yanked: false, cksum: sum.clone() };
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

/// A registry's web API and sparse index in one [`testutil::MockHttp`]: the index file of `demo` is `index`
/// (shared, so a handler can change it when a publish arrives), and `put` answers the publish.
fn mock_registry(
    index: Arc<Mutex<String>>,
    put: impl Fn(&Arc<Mutex<String>>) -> (u16, String) + Send + Sync + 'static,
) -> testutil::MockHttp {
    testutil::MockHttp::start(move |r| match (r.method.as_str(), r.target.as_str()) {
        ("GET", "/index/de/mo/demo") => {
            let text = index.lock().unwrap().clone();
            if text.is_empty() { (404, String::new()) } else { (200, text) }
        }
        ("PUT", "/api/v1/crates/new") => put(&index),
        _ => (404, String::new()),
    })
}

use std::sync::{Arc, Mutex};

fn index_line(cksum: &str) -> String {
    format!(
        "{{\"name\":\"demo\",\"vers\":\"0.1.0\",\"deps\":[],\"cksum\":\"{cksum}\",\"features\":{{}},\"yanked\":false}}\n"
    )
}

/// The manifest of [`COMMIT`] at version 0.1.0 with `artifacts`.
fn manifest_with(artifacts: Vec<Artifact>) -> Manifest {
    Manifest {
        commit: COMMIT.into(),
        dirty: false,
        source_date_epoch: 0,
        xtask_version: "0".into(),
        version: "0.1.0".into(),
        artifacts,
    }
}

/// One crate, `demo` 0.1.0, to publish through [`publish_crates`] against `server`: the outcome and how many
/// publishes the server received.
fn publish_demo(server: &testutil::MockHttp, ours: &str) -> (Result<()>, usize) {
    let dir = testutil::temp_dir("publish-demo");
    let sh = Shell::new().unwrap();
    std::fs::create_dir_all(dir.join("crates")).unwrap();
    std::fs::write(dir.join("crates/demo-0.1.0.crate"), b"crate bytes").unwrap();
    let m = manifest_with(vec![Artifact {
        sha256: ours.into(),
        version: "0.1.0".into(),
        ..artifact(Kind::Crate, "demo", "crates/demo-0.1.0.crate", None)
    }]);
    let plan = ReleasePlan {
        deps: vec![("demo".into(), vec![])],
        metadata: [("demo".to_owned(), json!({"name": "demo", "vers": "0.1.0"}))].into(),
        actions: Vec::new(),
        web_todo: Vec::new(),
    };
    let t = Targets {
        registry_api: server.url(),
        registry_index: format!("sparse+{}/index/", server.url()),
        pypi_upload: String::new(),
        pypi_simple: String::new(),
        web: crate::store::Store::parse(dir.join("web").as_str(), &dir).unwrap(),
        registry_token: Some(REGISTRY_TOKEN.into()),
        pypi_token: None,
        oidc: None,
        pypi_oidc: String::new(),
        publish_jobs: 4,
        former_repositories: Vec::new(),
    };
    let result = publish_crates(&sh, &t, &plan, &m, &dir, &dir.join("cache"), &dir.join("tmp"));
    let puts = server.requests().iter().filter(|r| r.method == "PUT").count();
    std::fs::remove_dir_all(&dir).unwrap();
    (result, puts)
}

/// Right before each publish the index is read again, and a registry's "already uploaded" is judged by the
/// index: the same checksum is done, another stops; after an accepted publish the index must show the same
/// checksum, not only the version.
#[test]
fn publishes_are_rechecked_against_the_index_by_checksum() {
    let (ours, theirs) = (crate::sha256::digest(b"crate bytes"), "b".repeat(64));
    let already = "{\"errors\":[{\"detail\":\"crate version `0.1.0` is already uploaded\"}]}";
    let failed = |r: Result<()>| {
        let e = r.unwrap_err();
        assert!(e.downcast_ref::<JobFailed>().is_some(), "other bytes stop the release (exit 1): {e:#}");
        let text = format!("{e:#}");
        assert!(text.contains("crate demo 0.1.0") && text.contains(&ours) && text.contains(&theirs), "{text}");
        assert!(text.contains("fix: a published version or file cannot be replaced") && !text.contains(REGISTRY_TOKEN));
        text
    };

    // Published by someone else since the plan, with other bytes: stopped before the upload.
    let server = mock_registry(Arc::new(Mutex::new(index_line(&theirs))), |_| (200, "{}".into()));
    let (r, puts) = publish_demo(&server, &ours);
    failed(r);
    assert_eq!(puts, 0, "nothing was sent");
    // ... with the same bytes: done, nothing sent.
    let server = mock_registry(Arc::new(Mutex::new(index_line(&ours))), |_| (200, "{}".into()));
    assert_eq!(publish_demo(&server, &ours).1, 0);

    // "Already uploaded" (crates.io's 200 with errors), and the index has our bytes: done.
    let same = index_line(&ours);
    let server = mock_registry(Arc::new(Mutex::new(String::new())), move |index| {
        *index.lock().unwrap() = same.clone();
        (200, already.into())
    });
    let (r, puts) = publish_demo(&server, &ours);
    r.unwrap();
    assert_eq!(puts, 1);
    // ... and the index has other bytes: stopped.
    let other = index_line(&theirs);
    let server = mock_registry(Arc::new(Mutex::new(String::new())), move |index| {
        *index.lock().unwrap() = other.clone();
        (200, already.into())
    });
    failed(publish_demo(&server, &ours).0);
    // A 409 "already exists" is the same answer.
    let other = index_line(&theirs);
    let server = mock_registry(Arc::new(Mutex::new(String::new())), move |index| {
        *index.lock().unwrap() = other.clone();
        (409, "{\"errors\":[{\"detail\":\"version already exists\"}]}".into())
    });
    failed(publish_demo(&server, &ours).0);
    // Accepted, but the index then lists the version with another checksum: a failure, not a success.
    let other = index_line(&theirs);
    let server = mock_registry(Arc::new(Mutex::new(String::new())), move |index| {
        *index.lock().unwrap() = other.clone();
        (200, "{}".into())
    });
    failed(publish_demo(&server, &ours).0);
    // Another 4xx with nothing in the index: the registry's words and a fix.
    let server = mock_registry(Arc::new(Mutex::new(String::new())), |_| (400, "invalid metadata: bad license".into()));
    let e = format!("{:#}", publish_demo(&server, &ours).0.unwrap_err());
    assert!(e.contains("HTTP 400: invalid metadata: bad license") && e.contains("\nfix: "), "{e}");
}

/// A wheel on the package index is judged by the simple page's `#sha256=` of that exact file, or by the file's
/// bytes when the page gives no hash.
#[test]
fn wheels_on_the_index_are_judged_by_sha256() {
    let dir = testutil::temp_dir("wheel-presence");
    let sh = Shell::new().unwrap();
    let file = "demo-0.1.0-py3-none-any.whl";
    let (ours, theirs) = (crate::sha256::digest(b"our wheel"), crate::sha256::digest(b"their wheel"));
    let page = Arc::new(Mutex::new(String::new()));
    let shared = page.clone();
    let server = testutil::MockHttp::start(move |r| match r.target.as_str() {
        "/simple/demo/" => {
            let p = shared.lock().unwrap().clone();
            if p.is_empty() { (404, String::new()) } else { (200, p) }
        }
        t if t.starts_with("/ours/") => (200, "our wheel".into()),
        t if t.starts_with("/theirs/") => (200, "their wheel".into()),
        _ => (404, String::new()),
    });
    let simple = format!("{}/simple/", server.url());
    let a = Artifact { sha256: ours.clone(), ..artifact(Kind::Wheel, "Demo", &format!("wheels/{file}"), None) };
    let presence = |html: String| {
        *page.lock().unwrap() = html;
        wheel_on_index(&sh, &simple, &a, &dir).unwrap()
    };
    assert_eq!(presence(String::new()), Presence::Missing);
    assert_eq!(presence(format!("<a href=\"/p/{file}.metadata#sha256={theirs}\">x</a>")), Presence::Missing);
    assert_eq!(presence(format!("<a href=\"/p/{file}#sha256={ours}\">{file}</a>")), Presence::Same);
    assert_eq!(
        presence(format!("<a href=\"/p/{file}#sha256={theirs}\">{file}</a>")),
        Presence::Other(vec![theirs.clone()])
    );
    // Listed without a hash: downloaded and hashed.
    assert_eq!(presence(format!("<a href=\"../../ours/{file}\">{file}</a>")), Presence::Same);
    assert_eq!(presence(format!("<a href=\"/theirs/{file}#md5=00\">{file}</a>")), Presence::Other(vec![theirs]));
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A redirect from the registry's API is not followed with the crate and the token: it is refused with a fix
/// (against a real HTTP server).
#[test]
fn a_redirecting_registry_api_is_refused() {
    let dir = testutil::temp_dir("redirect");
    let sh = Shell::new().unwrap();
    let server = testutil::MockHttp::start(|_| (307, String::new()));
    std::fs::write(dir.join("demo.crate"), b"crate bytes").unwrap();
    let meta = json!({"name": "demo", "vers": "0.1.0"});
    let e = publish_crate(&sh, &server.url(), REGISTRY_TOKEN, false, &meta, &dir.join("demo.crate"), &dir).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("HTTP 307") && e.contains("fix: set release.registry-api") && !e.contains(REGISTRY_TOKEN),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1, "sent once, not on to elsewhere");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// twine takes its token from the environment, not through crate::http: the credential rule is checked before
/// it runs (and before anything is published), so a plain-http upload URL elsewhere gets no token.
#[test]
fn a_token_never_goes_to_a_plain_http_package_index_elsewhere() {
    let dir = testutil::temp_dir("twine-credential");
    let ctx = testutil::ctx(&dir);
    let sh = Shell::new().unwrap();
    let simple = testutil::MockHttp::start(|_| (404, String::new()));
    let t = Targets {
        registry_api: "https://registry.example".into(),
        registry_index: String::new(),
        pypi_upload: "http://pypi.example.com/legacy/".into(),
        pypi_simple: format!("{}/simple/", simple.url()),
        web: crate::store::Store::parse(dir.join("web").as_str(), &dir).unwrap(),
        registry_token: None,
        pypi_token: Some(PYPI_TOKEN.into()),
        oidc: None,
        pypi_oidc: String::new(),
        publish_jobs: 4,
        former_repositories: Vec::new(),
    };
    let expected = Expected {
        crates: vec![],
        wheels: vec![abi3("demo", "x86_64-unknown-linux-gnu")],
        other_wheels: vec![],
        sdists: vec![],
        python: vec!["demo".into(), "d".into()],
        bundles: vec![],
    };
    let e = format!("{:#}", credentials_may_go(&t, &expected).unwrap_err());
    assert!(
        e.contains("refusing to send a credential to http://pypi.example.com/legacy/")
            && e.contains("nothing was published"),
        "{e}"
    );
    // The same rule right before twine, for a caller that did not check first.
    let m = Manifest {
        commit: COMMIT.into(),
        dirty: false,
        source_date_epoch: 0,
        xtask_version: "0".into(),
        version: "1.0.0".into(),
        artifacts: vec![artifact(Kind::Wheel, "demo", "wheels/demo-1.0.0-py3-none-any.whl", None)],
    };
    let e = format!("{:#}", publish_wheels(&ctx, &sh, &t, &m, &dir, &dir).unwrap_err());
    assert!(e.contains("refusing to send a credential") && !e.contains(PYPI_TOKEN), "{e}");
    assert!(simple.requests().iter().all(|r| r.method == "GET"), "only the simple page was read");
    // https, or plain http to this machine, is fine; no token, nothing to check.
    let fine = Targets { pypi_upload: "http://127.0.0.1:1/".into(), ..t };
    credentials_may_go(&fine, &expected).unwrap();
    drop(simple);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One release of a registry, index and version at a time: a second lock is refused at once, naming the lock
/// and the fix; the first one's drop frees it.
#[test]
fn a_second_release_of_the_same_targets_is_refused_while_one_runs() {
    let dir = testutil::temp_dir("release-lock");
    let t = |api: &str| Targets {
        registry_api: api.into(),
        registry_index: String::new(),
        pypi_upload: "http://127.0.0.1:9/".into(),
        pypi_simple: String::new(),
        web: crate::store::Store::parse(dir.join("web").as_str(), &dir).unwrap(),
        registry_token: None,
        pypi_token: None,
        oidc: None,
        pypi_oidc: String::new(),
        publish_jobs: 4,
        former_repositories: Vec::new(),
    };
    let api = format!("http://127.0.0.1:9/lock-test-{}", std::process::id());
    let first = ReleaseLock::acquire(&t(&api), "0.1.0").unwrap();
    let e = ReleaseLock::acquire(&t(&format!("{api}/")), "0.1.0").err().expect("a second release is refused");
    assert!(e.downcast_ref::<JobFailed>().is_some(), "exit 1: {e:#}");
    let text = format!("{e:#}");
    let path = ReleaseLock::path(&t(&api), "0.1.0");
    assert!(path.starts_with(std::env::temp_dir()), "machine-wide: {}", path.display());
    assert!(text.contains(&path.display().to_string()) && text.contains("fix: wait for the other release"), "{text}");
    assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains("nothing was published"), "{text}");
    // Another version, or another registry, is another lock.
    drop(ReleaseLock::acquire(&t(&api), "0.1.1").unwrap());
    drop(first);
    drop(ReleaseLock::acquire(&t(&api), "0.1.0").unwrap());
    let _ = std::fs::remove_file(path);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `.crate` holding another crate, or another version, is refused before anything is published, with a fix.
#[test]
fn a_crate_file_naming_another_crate_is_refused() {
    let dir = testutil::temp_dir("crate-names");
    let sh = Shell::new().unwrap();
    let cargo_toml = |name: &str| format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    for (top, name, want) in [
        ("other-0.1.0", "other", "contains [\"other-0.1.0\"], not demo 0.1.0"),
        ("demo-0.1.0", "other", "contains other 0.1.0, not demo 0.1.0"),
    ] {
        let src = dir.join("src");
        let _ = std::fs::remove_dir_all(&src);
        testutil::write_files(
            &src,
            &[(&format!("{top}/Cargo.toml"), &cargo_toml(name)), (&format!("{top}/src/lib.rs"), "")],
        );
        let file = dir.join("demo-0.1.0.crate");
        cmd!(sh, "tar -czf {file} -C {src} {top}").run().unwrap();
        let e = crate_metadata(&sh, &file, "demo", "0.1.0").unwrap_err();
        assert!(e.downcast_ref::<JobFailed>().is_some(), "exit 1: {e:#}");
        let e = format!("{e:#}");
        assert!(e.contains(want) && e.contains("\nfix: ") && e.contains("nothing was published"), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A store manifest that does not parse (a download cut short) is not fixed by packaging again.
#[test]
fn a_truncated_store_manifest_points_to_a_rerun_not_to_package() {
    let dir = testutil::temp_dir("truncated-manifest");
    let sh = Shell::new().unwrap();
    let store = crate::store::Store::parse(dir.join("store").as_str(), &dir).unwrap();
    let key = format!("commit/{COMMIT}/manifest.json");
    testutil::write_files(&dir.join("store"), &[(&key, "{\"schema\": 1, \"commit\": \"fedc")]);
    let e = crate::artifacts::fetch_manifest(&sh, &store, &format!("commit/{COMMIT}"), &dir).unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("is not a valid manifest") && e.contains("fix: run this again"), "{e}");
    assert!(e.contains(&format!("cargo xtask upload --commit {COMMIT}")) && !e.contains("package --force"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without the committed public key, the release says where it belongs.
#[test]
fn a_missing_release_public_key_has_a_fix() {
    let dir = testutil::temp_dir("no-public-key");
    let e = format!(
        "{:#}",
        crate::signature::committed_public(&dir, crate::settings::this_repository()).err().expect("no key there")
    );
    assert!(e.contains("release public key") && e.contains("\nfix: commit the release's minisign public key"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

const WHEEL: &str = "wheels/xtask_demo_pkg-0.1.0-py3-none-any.whl";
const SDIST: &str = "sdists/xtask_demo_pkg-0.1.0.tar.gz";

impl Rehearsal {
    /// The sha256 the signed manifest gives `path`.
    fn signed_sha256(&self, path: &str) -> String {
        let m = Manifest::read(&self.store.join(format!("commit/{COMMIT}/manifest.json"))).unwrap();
        m.artifacts.into_iter().find(|a| a.path == path).unwrap().sha256
    }

    /// Uploads `wheel` to the package index with twine, as someone else would.
    fn seed_wheel(&self, wheel: &Utf8Path) {
        let twine = self.ctx.tools.probe(&self.sh, config::tool::TWINE.tool()).unwrap().path.unwrap();
        let url = format!("http://127.0.0.1:{}/", self.pypi_port);
        cmd!(self.sh, "{twine} upload --disable-progress-bar --repository-url {url} -u x -p x {wheel}")
            .quiet()
            .run()
            .unwrap();
    }

    /// Publishes another `.crate` of xtask-demo-a 0.1.0 (other code, made by `cargo package`) to the registry.
    fn seed_other_crate(&self) -> String {
        const OTHER: &str = "0000000000111111111122222222223333333333";
        commit_in_store(&self.root, &self.sh, OTHER, "0.1.0", "pub fn answer() -> u32 { 7 }\n");
        let file = self.root.join(format!("packages/{OTHER}/crates/xtask-demo-a-0.1.0.crate"));
        let meta = crate_metadata(&self.sh, &file, "xtask-demo-a", "0.1.0").unwrap();
        let tmp = self.root.join("seed-tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let answer = publish_crate(&self.sh, &self.direct(), "x", false, &meta, &file, &tmp).unwrap();
        assert_eq!(answer, Answer::Accepted);
        assert_eq!(index_lines(&self.registry, "xtask-demo-a").len(), 1);
        crate::sha256::file(&file).unwrap().0
    }

    /// Replaces the commit's wheel with what `make` writes, uploads it again (`--overwrite`) and signs the new
    /// manifest: a commit whose wheel is wrong, validly signed.
    fn replace_wheel(&self, make: impl FnOnce(&Utf8Path)) {
        let dir = self.root.join("packages").join(COMMIT);
        make(&dir.join(WHEEL));
        let (sha, size) = crate::sha256::file(&dir.join(WHEEL)).unwrap();
        let mut m = Manifest::read(&dir.join(crate::manifest::FILE)).unwrap();
        for a in m.artifacts.iter_mut().filter(|a| a.path == WHEEL) {
            (a.sha256, a.size) = (sha.clone(), size);
        }
        m.write_atomic(&dir.join(crate::manifest::FILE)).unwrap();
        let from = Some(self.root.join("packages"));
        let args = flags::Upload {
            store: Some(self.store.to_string()),
            commit: Some(COMMIT.into()),
            from,
            overwrite: true,
            ..flags::Upload::default()
        };
        upload::upload(&self.ctx, &args).unwrap();
        sign_in_store(&self.sh, &self.root, &self.store, "release");
    }

    /// The sha256 of every file on the package index, sorted.
    fn index_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        for e in std::fs::read_dir(&self.pypi_dir).unwrap() {
            let e = e.unwrap();
            files.push(crate::sha256::file(Utf8Path::from_path(&e.path()).unwrap()).unwrap().0);
        }
        files.sort();
        files
    }
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn other_bytes_under_the_releases_names_stop_it_before_anything_is_published() {
    let r = Rehearsal::new("release-other-bytes");
    // Another wheel under the same file name on the package index.
    let other_wheel = r.root.join("other/xtask_demo_pkg-0.1.0-py3-none-any.whl");
    std::fs::create_dir_all(other_wheel.parent().unwrap()).unwrap();
    testutil::make_wheel(&other_wheel, "xtask-demo-pkg", "0.1.0", 8);
    r.seed_wheel(&other_wheel);
    let (ours, theirs) = (r.signed_sha256(WHEEL), crate::sha256::file(&other_wheel).unwrap().0);
    assert_ne!(ours, theirs);
    let wheel = "wheel xtask_demo_pkg-0.1.0-py3-none-any.whl is already on the package index";
    let e = r.release(&r.args(true), &r.targets(r.direct())).unwrap_err();
    assert!(e.downcast_ref::<JobFailed>().is_some(), "exit 1: {e:#}");
    let text = format!("{e:#}");
    for want in [wheel, &ours, &theirs, "nothing was published", "\nfix: "] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    assert!(index_lines(&r.registry, "xtask-demo-a").is_empty(), "no crate was published");
    assert_eq!(r.index_files(), std::slice::from_ref(&theirs), "the other wheel alone");

    // And another .crate under xtask-demo-a 0.1.0 in the registry: both are named, still nothing published.
    let their_crate = r.seed_other_crate();
    let our_crate = r.signed_sha256("crates/xtask-demo-a-0.1.0.crate");
    let e = r.release(&r.args(true), &r.targets(r.direct())).unwrap_err();
    assert!(e.downcast_ref::<JobFailed>().is_some(), "exit 1: {e:#}");
    let text = format!("{e:#}");
    for want in
        ["crate xtask-demo-a 0.1.0 is already on the index", &our_crate, &their_crate, wheel, "nothing was published"]
    {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    assert_eq!(index_lines(&r.registry, "xtask-demo-a").len(), 1, "only the other crate");
    assert!(index_lines(&r.registry, "xtask-demo-b").is_empty(), "xtask-demo-b was not published");
    assert_eq!(r.index_files(), [theirs]);
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn a_crate_name_another_project_holds_stops_the_release_before_anything_is_published() {
    let r = Rehearsal::new("release-name-held");
    // Another project published xtask-demo-a 0.0.9 first, naming its own repository (as crates.io's `reel` is
    // another project's than this repository's reel).
    const THEIRS: &str = "1111111111222222222233333333334444444444";
    let elsewhere = "https://gitlab.com/someone-else/demo";
    commit_of(&r.root, &r.sh, THEIRS, "0.0.9", "pub fn answer() -> u32 { 7 }\n", elsewhere);
    let file = r.root.join(format!("packages/{THEIRS}/crates/xtask-demo-a-0.0.9.crate"));
    let meta = crate_metadata(&r.sh, &file, "xtask-demo-a", "0.0.9").unwrap();
    let tmp = r.root.join("seed-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    assert_eq!(publish_crate(&r.sh, &r.direct(), "x", false, &meta, &file, &tmp).unwrap(), Answer::Accepted);

    // The dry run and the release alike stop before anything is published, naming both repositories.
    for execute in [false, true] {
        let e = r.release(&r.args(execute), &r.targets(r.direct())).unwrap_err();
        assert!(e.downcast_ref::<JobFailed>().is_some(), "exit 1: {e:#}");
        let text = format!("{e:#}");
        for want in [
            "crate xtask-demo-a is another project's name on the index",
            "its newest version there, 0.0.9, names the repository https://gitlab.com/someone-else/demo",
            DEMO_REPOSITORY,
            "former-repositories",
            "nothing was published",
        ] {
            assert!(text.contains(want), "{want:?} in {text}");
        }
        assert_eq!(index_lines(&r.registry, "xtask-demo-a").len(), 1, "only the other project's version");
        assert!(index_lines(&r.registry, "xtask-demo-b").is_empty(), "xtask-demo-b was not published");
        assert!(r.index_files().is_empty(), "no wheel was published");
    }

    // The same project at an earlier address (ci.toml [release] former-repositories, written another way): the
    // name is this project's and the release goes on.
    let moved = Targets {
        former_repositories: vec!["HTTP://GitLab.com/someone-else/demo.git/".into()],
        ..r.targets(r.direct())
    };
    r.release(&r.args(true), &moved).expect("the name is this project's");
    assert_eq!(index_lines(&r.registry, "xtask-demo-a").len(), 2, "0.0.9 and this release's 0.1.0");
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn a_wheel_whose_metadata_disagrees_with_its_name_is_refused() {
    let r = Rehearsal::new("release-wheel-metadata");
    // METADATA says 0.2.0 in a 0.1.0 release, under the 0.1.0 file name.
    r.replace_wheel(|p| testutil::make_wheel(p, "xtask-demo-pkg", "0.2.0", 7));
    r.refused(&[
        "xtask_demo_pkg-0.1.0-py3-none-any.whl: METADATA says Version 0.2.0",
        "the release is 0.1.0",
        "nothing was published",
        "\nfix: ",
    ]);
    // A WHEEL tag that is not the file name's.
    r.replace_wheel(|p| {
        testutil::make_wheel(p, "xtask-demo-pkg", "0.1.0", 7);
        let script = "import sys, zipfile\nsrc = zipfile.ZipFile(sys.argv[1]).infolist()\nz = zipfile.ZipFile(sys.argv[1])\nitems = [(i.filename, z.read(i.filename)) for i in src]\nz.close()\nwith zipfile.ZipFile(sys.argv[1], 'w') as out:\n    for n, b in items:\n        out.writestr(n, b.replace(b'Tag: py3-none-any', b'Tag: cp311-cp311-linux_x86_64'))\n";
        let sh = Shell::new().unwrap();
        cmd!(sh, "python3 -c {script} {p}").run().unwrap();
    });
    r.refused(&[
        "WHEEL says Tag cp311-cp311-linux_x86_64, the file name expands to py3-none-any",
        "nothing was published",
    ]);
}

#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn two_releases_at_once_publish_each_item_once() {
    let r = Rehearsal::new("release-concurrent");
    let (root, registry, pypi_port, api) = (r.root.clone(), r.registry.clone(), r.pypi_port, r.direct());
    let (args, expected) = (r.args(true), r.expected.clone());
    let results: Vec<Result<Vec<ReleaseItem>>> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (root, registry, api, args, expected) =
                    (root.clone(), registry.clone(), api.clone(), args.clone(), expected.clone());
                s.spawn(move || {
                    let ctx = testutil::ctx(&root);
                    let sh = Shell::new().unwrap();
                    release(&ctx, &sh, &args, &expected, &rehearsal_targets(&root, &registry, pypi_port, api))
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().any(Result::is_ok), "one release ran: {results:?}");
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(e.downcast_ref::<JobFailed>().is_some(), "exit 1: {e:#}");
        let text = format!("{e:#}");
        assert!(text.contains("holds the lock") && text.contains("fix: wait for the other release"), "{text}");
    }
    for c in ["xtask-demo-a", "xtask-demo-b"] {
        assert_eq!(index_lines(&r.registry, c).len(), 1, "{c}: one index line");
    }
    let mut once = vec![r.signed_sha256(WHEEL), r.signed_sha256(SDIST)];
    once.sort();
    assert_eq!(r.index_files(), once, "the wheel and the sdist, each once");
    // Run again: everything is skipped.
    let actions = r.release(&r.args(true), &r.targets(r.direct())).unwrap();
    assert!(actions.iter().all(|a| a.skip.is_some()), "{actions:?}");
}

/// One twine run per wheel, and an index answering "File already exists" (409) is judged by its simple page:
/// the same sha256 is done, another stops the release naming both, none is twine's failure with a fix.
#[test]
fn a_file_already_exists_answer_is_judged_by_the_simple_page() {
    let file = "demo-0.1.0-py3-none-any.whl";
    let dir = testutil::temp_dir("twine-exists");
    let ctx = testutil::ctx(&dir);
    let sh = Shell::new().unwrap();
    std::fs::create_dir_all(dir.join("wheels")).unwrap();
    testutil::make_wheel(&dir.join("wheels").join(file), "demo", "0.1.0", 1);
    let ours = crate::sha256::file(&dir.join("wheels").join(file)).unwrap().0;
    let theirs = "c".repeat(64);
    let m = manifest_with(vec![Artifact {
        sha256: ours.clone(),
        ..artifact(Kind::Wheel, "demo", &format!("wheels/{file}"), None)
    }]);
    // What the simple page lists once an upload arrived (`None`: nothing, ever).
    let run = |listed: Option<String>| {
        let uploaded = Arc::new(Mutex::new(false));
        let seen = uploaded.clone();
        let server = testutil::MockHttp::start(move |r| match (r.method.as_str(), listed.as_deref()) {
            ("POST", _) => {
                *seen.lock().unwrap() = true;
                (409, "409 Conflict: File already exists.".into())
            }
            ("GET", Some(sha)) if *seen.lock().unwrap() => {
                (200, format!("<a href=\"/p/{file}#sha256={sha}\">{file}</a>"))
            }
            _ => (404, String::new()),
        });
        let t = Targets {
            registry_api: String::new(),
            registry_index: String::new(),
            pypi_upload: format!("{}/", server.url()),
            pypi_simple: format!("{}/simple/", server.url()),
            web: crate::store::Store::parse(dir.join("web").as_str(), &dir).unwrap(),
            registry_token: None,
            pypi_token: Some(PYPI_TOKEN.into()),
            oidc: None,
            pypi_oidc: String::new(),
            publish_jobs: 4,
            former_repositories: Vec::new(),
        };
        let result = publish_wheels(&ctx, &sh, &t, &m, &dir, &dir);
        assert_eq!(server.requests().iter().filter(|r| r.method == "POST").count(), 1, "one upload");
        result
    };
    run(Some(ours.clone())).unwrap();
    let e = run(Some(theirs.clone())).unwrap_err();
    assert!(e.downcast_ref::<JobFailed>().is_some(), "exit 1: {e:#}");
    let e = format!("{e:#}");
    assert!(
        e.contains(&format!("wheel {file} is already on the package index"))
            && e.contains(&ours)
            && e.contains(&theirs),
        "{e}"
    );
    let e = format!("{:#}", run(None).unwrap_err());
    assert!(
        e.contains(&format!("twine upload of wheel {file}")) && e.contains("\nfix: ") && !e.contains(PYPI_TOKEN),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The release workflow passes `--commit event --version event`: the commit and version come from the trigger,
/// decided here (a dispatch's inputs, a tag push's ref), never from expressions in the workflow.
#[test]
fn the_commit_and_version_come_from_the_event() {
    use crate::github::Trigger;
    let args = flags::Release { commit: "event".into(), version: Some("event".into()), ..flags::Release::default() };
    let dispatch = Trigger {
        name: "workflow_dispatch".into(),
        payload: serde_json::json!({"inputs": {"commit": COMMIT, "version": "0.1.0"}}),
    };
    let got = from_event(&args, &dispatch).unwrap();
    assert_eq!((got.commit.as_str(), got.version.as_deref()), (COMMIT, Some("0.1.0")));
    let tag = Trigger { name: "push".into(), payload: serde_json::json!({"ref": "refs/tags/v1.2.3", "after": COMMIT}) };
    let got = from_event(&args, &tag).unwrap();
    assert_eq!(got.version.as_deref(), Some("v1.2.3"));
    assert!(got.commit.len() == 40, "{}", got.commit);
    let schedule = Trigger { name: "schedule".into(), payload: serde_json::json!({}) };
    let err = from_event(&args, &schedule).unwrap_err().to_string();
    assert!(err.contains("a `schedule` event names no commit") && err.contains("\nfix: "), "{err}");
    // Explicit flags are left alone.
    let plain = flags::Release { commit: COMMIT.into(), version: Some("0.1.0".into()), ..flags::Release::default() };
    assert_eq!(from_event(&plain, &schedule).unwrap().commit, COMMIT);
}

/// The release's operations follow what the repository ships and `--execute`: the lock only when publishing,
/// the wheel checks and publishes only with Python packages, the web only with bundles; the publishing ones are
/// the ones a run without `--execute` leaves out (and the dry run marks).
#[test]
fn the_operations_follow_what_ships_and_execute() {
    let root = testutil::temp_dir("release-ops");
    let t = rehearsal_targets(&root, &root.join("registry"), 1, "http://127.0.0.1:1".into());
    let expected = |crates: &[&str], wheels: &[&str], bundles: &[&str]| Expected {
        crates: crates.iter().map(|s| (*s).to_owned()).collect(),
        wheels: wheels.iter().map(|t| abi3("d", t)).collect(),
        other_wheels: vec![],
        sdists: vec![],
        python: vec!["demo".into(), "d".into()],
        bundles: bundles.iter().map(|s| (*s).to_owned()).collect(),
    };
    let names = |ops: &[ReleaseOp]| -> Vec<String> {
        ops.iter().map(|o| serde_json::to_value(o).unwrap()["op"].as_str().unwrap().to_owned()).collect()
    };
    let dry = flags::Release { commit: "HEAD".into(), ..flags::Release::default() };
    let all = expected(&["a"], &["x86_64-unknown-linux-gnu"], &["web"]);
    let ops = release_ops(&dry, &all, &t, "target/store", &root);
    assert_eq!(
        names(&ops),
        ["verify", "compare", "check-wheels", "semver-gate", "publish-crates", "publish-wheels", "publish-web"]
    );
    let publishing: Vec<bool> = ops.iter().map(ReleaseOp::publishes).collect();
    assert_eq!(publishing, [false, false, false, false, true, true, true]);
    let execute = flags::Release { execute: true, ..dry.clone() };
    assert_eq!(
        names(&release_ops(&execute, &expected(&["a"], &[], &[]), &t, "s", &root)),
        ["lock", "verify", "compare", "semver-gate", "publish-crates"]
    );
    // Source distributions alone are Python packages that ship too: checked and published.
    let sdists_only = Expected { sdists: vec!["d".into()], ..expected(&[], &[], &[]) };
    assert_eq!(
        names(&release_ops(&dry, &sdists_only, &t, "s", &root)),
        ["verify", "compare", "check-wheels", "semver-gate", "publish-wheels"]
    );
    // Credentials are named, never their values.
    let json = serde_json::to_string(&ops).unwrap();
    assert!(json.contains("$CARGO_REGISTRY_TOKEN") && !json.contains(REGISTRY_TOKEN), "{json}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// What a release sends is what its plan says: a dry run writes nothing anywhere (its items are what the run
/// with `--execute` then publishes, in that order), and the run with `--execute` sends exactly one publish per
/// item the dry run listed as not there yet, to the addresses its operations name, and writes the web keys the
/// plan counted. Both registries sit behind recording proxies.
#[test]
#[ignore = "heavy part (a real cargo registry and PyPI server): cargo xtask test --part heavy"]
fn a_release_sends_what_its_plan_says() {
    let r = Rehearsal::new("release-recorded");
    let (api, pypi) = (RecordingProxy::start(r.reg_port), RecordingProxy::start(r.pypi_port));
    let targets = || Targets {
        pypi_upload: format!("{}/", pypi.endpoint()),
        pypi_simple: format!("{}/simple/", pypi.endpoint()),
        ..r.targets(api.endpoint())
    };
    let writes = |p: &RecordingProxy| -> Vec<(String, String)> {
        p.requests().into_iter().filter(|(line, _)| !line.starts_with("GET ")).collect()
    };
    let planned = r.release(&r.args(false), &targets()).unwrap();
    assert!(writes(&api).is_empty() && writes(&pypi).is_empty(), "a dry run sent a write");
    r.assert_nothing_published();
    assert!(!r.root.join("web/latest").exists(), "a dry run wrote the web store");
    let to_publish: Vec<&str> = planned.iter().filter(|i| i.skip.is_none()).map(|i| i.what.as_str()).collect();
    assert_eq!(to_publish.len(), 5, "two crates, a wheel, its sdist, the web bundle: {planned:?}");

    // The operations an execute performs name these addresses, and only these receive its publishes.
    let ops = release_ops(&r.args(true), &r.expected, &targets(), r.store.as_str(), &r.root);
    let json = serde_json::to_string(&ops).unwrap();
    assert!(json.contains(&api.endpoint()) && json.contains(&format!("{}/", pypi.endpoint())), "{json}");
    let done = r.release(&r.args(true), &targets()).unwrap();
    let done_what: Vec<&str> = done.iter().map(|i| i.what.as_str()).collect();
    assert_eq!(done_what, planned.iter().map(|i| i.what.as_str()).collect::<Vec<_>>(), "the same items, in order");

    // One publish per planned crate, in the plan's order, each carrying that crate.
    let crate_puts = writes(&api);
    assert!(crate_puts.iter().all(|(line, _)| line.starts_with("PUT /api/v1/crates/new ")), "{crate_puts:?}");
    let planned_crates: Vec<&str> = to_publish.iter().filter_map(|w| w.strip_prefix("crate ")).collect();
    assert_eq!(crate_puts.len(), planned_crates.len(), "{crate_puts:?}");
    for ((_, body), item) in crate_puts.iter().zip(&planned_crates) {
        let (name, version) = item.split_once(' ').unwrap();
        let sent = [format!(r#""name":"{name}""#), format!(r#""vers":"{version}""#)];
        assert!(sent.iter().all(|s| body.contains(s)), "{item}: the publish carries {sent:?}");
    }
    // One upload per planned wheel and source distribution, carrying that file.
    let uploads = writes(&pypi);
    let planned_wheels: Vec<&str> =
        to_publish.iter().filter_map(|w| w.strip_prefix("wheel ").or_else(|| w.strip_prefix("sdist "))).collect();
    assert_eq!(planned_wheels.len(), 2, "{to_publish:?}");
    assert_eq!(uploads.len(), planned_wheels.len(), "{uploads:?}");
    for ((line, body), file) in uploads.iter().zip(&planned_wheels) {
        assert!(line.starts_with("POST / "), "{line}");
        assert!(body.contains(&format!("filename=\"{file}\"")), "{file} is the file uploaded");
    }
    // The web files the plan counted, each under version/<V>/ and latest/.
    let web = to_publish.iter().find_map(|w| w.strip_prefix("web bundle: ")).unwrap();
    let files: usize = web.split(' ').next().unwrap().parse().unwrap();
    let count = |dir: &str| walk_files(&r.root.join("web").join(dir));
    assert_eq!((count("version/0.1.0"), count("latest")), (files, files), "{web}");

    // Run again: the plan says everything is there, and nothing is sent but reads.
    let (crates_before, wheels_before) = (writes(&api).len(), writes(&pypi).len());
    let again = r.release(&r.args(true), &targets()).unwrap();
    assert!(again.iter().all(|i| i.skip.is_some()), "{again:?}");
    assert_eq!((writes(&api).len(), writes(&pypi).len()), (crates_before, wheels_before));
}

/// How many files are under `dir`, at any depth.
fn walk_files(dir: &Utf8Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { walk_files(Utf8Path::from_path(&p).unwrap()) } else { 1 })
        .sum()
}
