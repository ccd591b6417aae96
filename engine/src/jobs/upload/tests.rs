use super::*;
use crate::artifacts::fetch_manifest;
use crate::flags;
use crate::jobs::download::run as download;
use crate::testutil::{self, FlakyProxy, GcsServer};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A commit directory with a real (pure-Python) wheel, a crate-like file and a recording, and its manifest.
fn fixture(root: &Utf8Path) -> Manifest {
    let dir = root.join("target/packages").join(COMMIT);
    std::fs::create_dir_all(dir.join("wheels")).unwrap();
    std::fs::create_dir_all(dir.join("crates")).unwrap();
    std::fs::create_dir_all(dir.join("recordings")).unwrap();
    let wheel = dir.join("wheels/demo_pkg-1.0.0-py3-none-any.whl");
    testutil::make_wheel(&wheel, "demo-pkg", "1.0.0", 42);
    std::fs::write(dir.join("crates/demo-1.0.0.crate"), vec![7u8; 300_000]).unwrap();
    std::fs::write(dir.join("recordings/a.reel"), b"REEL\x01\x00\x00\x00").unwrap();
    let files = [
        (Kind::Wheel, "demo-pkg", "wheels/demo_pkg-1.0.0-py3-none-any.whl"),
        (Kind::Crate, "demo", "crates/demo-1.0.0.crate"),
        (Kind::Recording, "a", "recordings/a.reel"),
    ];
    let m = manifest_of(&dir, &files, None);
    m.write_atomic(&dir.join(manifest::FILE)).unwrap();
    m
}

/// The manifest of [`COMMIT`] at version 1.0.0 listing `files` (kind, name, path) of `dir`, each hashed.
fn manifest_of(dir: &Utf8Path, files: &[(Kind, &str, &str)], platform: Option<&str>) -> Manifest {
    let mut artifacts: Vec<Artifact> = files
        .iter()
        .map(|&(kind, name, path)| {
            let (sha256, size) = crate::sha256::file(&dir.join(path)).unwrap();
            Artifact {
                kind,
                name: name.into(),
                path: path.into(),
                size,
                sha256,
                version: "1.0.0".into(),
                platform: platform.map(Into::into),
                tag: None,
                command: String::new(),
                tools: vec![],
            }
        })
        .collect();
    artifacts.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Manifest {
        commit: COMMIT.into(),
        dirty: false,
        source_date_epoch: 1,
        xtask_version: "0".into(),
        version: "1.0.0".into(),
        artifacts,
    }
}

#[test]
fn normalized_names_and_index_pages() {
    for (name, want) in [("reel-sdk", "reel-sdk"), ("Reel_SDK", "reel-sdk"), ("a.b__c", "a-b-c")] {
        assert_eq!(normalize(name), want);
    }
    let root = testutil::temp_dir("index");
    let m = fixture(&root);
    let pages = index_pages(&m);
    let keys: Vec<&str> = pages.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["simple/index.html", "simple/", "simple/demo-pkg/index.html", "simple/demo-pkg/", "wheels/index.html"]
    );
    assert!(pages[4].1.contains("<a href=\"../wheels/demo_pkg-1.0.0-py3-none-any.whl#sha256="), "{}", pages[4].1);
    let wheel = m.artifacts.iter().find(|a| a.kind == Kind::Wheel).unwrap();
    assert!(pages[2].1.contains(&format!("href=\"../../{}#sha256={}\"", wheel.path, wheel.sha256)), "{}", pages[2].1);
    assert!(pages[0].1.contains("<a href=\"demo-pkg/\">demo-pkg</a>"));
}

#[test]
fn merging_manifests_of_two_platforms() {
    let root = testutil::temp_dir("merge");
    let m = fixture(&root);
    let mut other = m.clone();
    other.artifacts.retain(|a| a.kind == Kind::Crate);
    let wheel = m.artifacts.iter().find(|a| a.kind == Kind::Wheel).unwrap().clone();
    other.artifacts.push(Artifact { path: "wheels/x-1.0.0-py3-none-macosx_11_0_arm64.whl".into(), ..wheel });
    let merged = merge(&other, &m, false).unwrap();
    assert_eq!(merged.artifacts.len(), 4);
    let mut conflicting = other.clone();
    conflicting.artifacts[0].sha256 = "f".repeat(64);
    let err = merge(&conflicting, &m, false).unwrap_err().to_string();
    assert!(err.contains("immutable") && err.contains("--overwrite"), "{err}");
    // --overwrite: ours wins where both have a path, and the other platform's wheel stays.
    let merged = merge(&conflicting, &m, true).unwrap();
    assert_eq!(merged.artifacts.len(), 4, "{:?}", merged.artifacts);
    assert!(merged.artifacts.iter().all(|a| a.sha256 != "f".repeat(64)));
    assert!(merged.artifacts.iter().any(|a| a.path.contains("macosx_11_0_arm64")));
}

fn args(store: &str, endpoint: Option<String>, root: &Utf8Path) -> flags::Upload {
    flags::Upload {
        store: Some(store.into()),
        endpoint,
        commit: Some(COMMIT.into()),
        from: Some(root.join("target/packages")),
        ..flags::Upload::default()
    }
}

fn download_args(store: &str, endpoint: Option<String>, out: &Utf8Path) -> flags::Download {
    flags::Download {
        store: Some(store.into()),
        endpoint,
        commit: COMMIT.into(),
        kinds: vec![],
        out: Some(out.to_owned()),
        allow_dirty: false,
    }
}

/// Upload, skip on re-run, refuse on conflict, download with verification, detect tampering: the same
/// behaviour on both backends.
fn round_trip(root: &Utf8Path, store_url: &str, endpoint: Option<String>, tamper: impl Fn(&Store, &Shell, &str)) {
    let ctx = testutil::ctx(root);
    let m = fixture(root);
    let total: u64 = m.artifacts.iter().map(|a| a.size).sum();
    let first = upload(&ctx, &args(store_url, endpoint.clone(), root)).unwrap();
    assert_eq!(first, Summary { uploaded: 3, bytes: total, skipped: 0 });
    let again = upload(&ctx, &args(store_url, endpoint.clone(), root)).unwrap();
    assert_eq!(again, Summary { uploaded: 0, bytes: 0, skipped: 3 }, "a re-run sends nothing");

    // Same path, other content: refused, and the store keeps the original.
    let dir = root.join("target/packages").join(COMMIT);
    let crate_path = dir.join("crates/demo-1.0.0.crate");
    let original = std::fs::read(&crate_path).unwrap();
    std::fs::write(&crate_path, vec![8u8; 300_000]).unwrap();
    let mut changed = m.clone();
    let i = changed.artifacts.iter().position(|a| a.kind == Kind::Crate).unwrap();
    changed.artifacts[i].sha256 = crate::sha256::file(&crate_path).unwrap().0;
    changed.write_atomic(&dir.join(manifest::FILE)).unwrap();
    let err = format!("{:#}", upload(&ctx, &args(store_url, endpoint.clone(), root)).unwrap_err());
    assert!(err.contains("immutable") && err.contains("--overwrite"), "{err}");
    std::fs::write(&crate_path, original).unwrap();
    m.write_atomic(&dir.join(manifest::FILE)).unwrap();

    // Download into another directory: identical files.
    let out = root.join("downloaded");
    download(&ctx, &download_args(store_url, endpoint.clone(), &out)).unwrap();
    for a in &m.artifacts {
        assert_eq!(std::fs::read(out.join(&a.path)).unwrap(), std::fs::read(dir.join(&a.path)).unwrap(), "{}", a.path);
    }
    assert_eq!(Manifest::read(&out.join(manifest::FILE)).unwrap().artifacts, m.artifacts);

    // A tampered object is detected and nothing of it is kept.
    let store = open_store(&ctx, Some(store_url), endpoint.as_deref()).unwrap();
    tamper(&store, &ctx.sh, &format!("commit/{COMMIT}/recordings/a.reel"));
    let out2 = root.join("downloaded-again");
    let err = format!("{:#}", download(&ctx, &download_args(store_url, endpoint.clone(), &out2)).unwrap_err());
    assert!(err.contains("recordings/a.reel") && err.contains("tampered or corrupted"), "{err}");
    assert!(!out2.join("recordings/a.reel").exists());
    let leftovers: Vec<_> = std::fs::read_dir(out2.join("recordings")).unwrap().flatten().collect();
    assert!(leftovers.is_empty(), "no partial download kept: {leftovers:?}");
    assert!(!out2.join(manifest::FILE).exists(), "no manifest for an incomplete download");

    // A dirty manifest is refused unless allowed.
    let mut dirty = m.clone();
    dirty.dirty = true;
    dirty.write_atomic(&dir.join(manifest::FILE)).unwrap();
    let err = format!("{:#}", upload(&ctx, &args(store_url, endpoint.clone(), root)).unwrap_err());
    assert!(err.contains("dirty tree") && err.contains("--allow-dirty"), "{err}");
    m.write_atomic(&dir.join(manifest::FILE)).unwrap();
}

#[test]
fn file_backend() {
    let root = testutil::temp_dir("store-file");
    let store_dir = root.join("store");
    round_trip(&root, store_dir.as_str(), None, |_, _, key| {
        std::fs::write(store_dir.join(key), b"REEL tampered").unwrap();
    });
    assert!(store_dir.join(format!("commit/{COMMIT}/simple/demo-pkg/index.html")).is_file());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn gcs_backend_with_pip_install_from_the_bucket() {
    let server = GcsServer::start_in_memory("ci-artifacts");
    let root = testutil::temp_dir("store-gcs");
    round_trip(&root, "gs://ci-artifacts", Some(server.endpoint()), |store, sh, key| {
        // Same claimed sha256, other bytes: only a download's own hashing can tell.
        let fake = root.join("fake");
        std::fs::write(&fake, b"REEL tampered").unwrap();
        let meta = PutMeta { content_type: "application/octet-stream", cache_control: "no-cache" };
        let sha = store.head(sh, key).unwrap().unwrap().sha256.unwrap();
        store.put(sh, key, &fake, &sha, &meta, None).unwrap();
    });
    // pip installs the wheel from the bucket's public URL through the simple index.
    let venv = root.join("venv");
    let sh = Shell::new().unwrap();
    xshell::cmd!(sh, "python3 -m venv {venv}").run().unwrap();
    let python = crate::tools::venv_python(&venv);
    let index = format!("{}/ci-artifacts/commit/{COMMIT}/simple/", server.endpoint());
    xshell::cmd!(sh, "{python} -m pip install --quiet --index-url {index} demo-pkg").run().unwrap();
    let value = xshell::cmd!(sh, "{python} -c 'import demo_pkg; print(demo_pkg.VALUE)'").read().unwrap();
    assert_eq!(value.trim(), "42");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_interrupted_upload_resumes_without_duplicates_and_the_manifest_comes_last() {
    let server = GcsServer::start_in_memory("ci-artifacts");
    let root = testutil::temp_dir("store-fault");
    let ctx = testutil::ctx(&root);
    let m = fixture(&root);
    let store = open_store(&ctx, Some("gs://ci-artifacts"), Some(&server.endpoint())).unwrap();
    let present = |store: &Store| {
        m.artifacts
            .iter()
            .filter(|a| store.head(&ctx.sh, &format!("commit/{COMMIT}/{}", a.path)).unwrap().is_some())
            .count() as u64
    };
    let manifest_key = format!("commit/{COMMIT}/{}", manifest::FILE);

    // The server goes away after a few requests.
    let proxy = FlakyProxy::start(server.port, 3);
    let err = upload(&ctx, &args("gs://ci-artifacts", Some(proxy.endpoint()), &root)).unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("the manifest was not uploaded"), "{err}");
    assert!(store.head(&ctx.sh, &manifest_key).unwrap().is_none(), "no manifest after a failed upload");
    let done_before = present(&store);
    assert!(done_before < 3, "the fault must interrupt the upload");

    // Run again against the healthy server: finishes, re-sending nothing that was already there.
    let second = upload(&ctx, &args("gs://ci-artifacts", Some(server.endpoint()), &root)).unwrap();
    assert_eq!(second.skipped, done_before);
    assert_eq!(second.uploaded, 3 - done_before);
    assert!(store.head(&ctx.sh, &manifest_key).unwrap().is_some());
    assert_eq!(present(&store), 3);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_server_that_is_down_is_a_clear_error() {
    let root = testutil::temp_dir("store-down");
    let ctx = testutil::ctx(&root);
    fixture(&root);
    let port = testutil::free_port();
    let err = format!(
        "{:#}",
        upload(&ctx, &args("gs://ci-artifacts", Some(format!("http://127.0.0.1:{port}")), &root)).unwrap_err()
    );
    assert!(err.contains("cannot reach the store") && err.contains("run again"), "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// An alias is a key like every other: never `..`, never under `commit/`, never over an object that is not an
/// alias without --overwrite; an alias replaces an earlier alias.
#[test]
fn aliases_never_overwrite_immutable_objects_or_escape_the_store() {
    let root = testutil::temp_dir("alias");
    let ctx = testutil::ctx(&root);
    let m = fixture(&root);
    let store = root.join("store");
    let store_url = store.as_str();
    upload(&ctx, &args(store_url, None, &root)).unwrap();
    let manifest_key = format!("commit/{COMMIT}/{}", manifest::FILE);
    let manifest_before = std::fs::read(store.join(&manifest_key)).unwrap();
    let crate_key = format!("commit/{COMMIT}/crates/demo-1.0.0.crate");
    let with_alias = |alias: &str, overwrite: bool| flags::Upload {
        alias: vec![alias.to_owned()],
        overwrite,
        ..args(store_url, None, &root)
    };
    for bad in [manifest_key.as_str(), crate_key.as_str(), "../outside", "a/../../outside", "commit/", "x/", ""] {
        let err = format!("{:#}", upload(&ctx, &with_alias(bad, false)).unwrap_err());
        assert!(err.starts_with(&format!("--alias {bad:?}")) && err.contains("\nfix: "), "{bad:?}: {err}");
    }
    assert!(!root.join("outside").exists() && !store.parent().unwrap().join("outside").exists());
    assert_eq!(std::fs::read(store.join(&manifest_key)).unwrap(), manifest_before);
    assert_eq!(std::fs::read(store.join(&crate_key)).unwrap(), vec![7u8; 300_000]);

    // A name that holds some other object: refused without --overwrite.
    std::fs::create_dir_all(store.join("pages")).unwrap();
    std::fs::write(store.join("pages/home"), b"not an alias").unwrap();
    let err = format!("{:#}", upload(&ctx, &with_alias("pages/home", false)).unwrap_err());
    assert!(err.contains("not an alias") && err.contains("--overwrite"), "{err}");
    assert_eq!(std::fs::read(store.join("pages/home")).unwrap(), b"not an alias");
    upload(&ctx, &with_alias("pages/home", true)).unwrap();
    // Names a file store cannot hold, refused before anything is uploaded: a directory, a path through an
    // object, a symbolic link out of the store.
    std::fs::create_dir_all(store.join("latest/sub")).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("outside"), store.join("evil")).unwrap();
    let mut cases = vec![("latest", "holds a directory of that name"), ("pages/home/deeper", "not a directory")];
    if cfg!(unix) {
        cases.push(("evil/pwn", "leads outside the store"));
    }
    for (alias, want) in cases {
        let err = format!("{:#}", upload(&ctx, &with_alias(alias, true)).unwrap_err());
        assert!(err.starts_with(&format!("--alias {alias:?}")) && err.contains(want) && err.contains("fix: "), "{err}");
    }
    assert!(!root.join("outside/pwn").exists(), "nothing written through the link");
    // An alias replaces an alias.
    upload(&ctx, &with_alias("branch/main/latest", false)).unwrap();
    upload(&ctx, &with_alias("branch/main/latest", false)).unwrap();
    let alias: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("branch/main/latest")).unwrap()).unwrap();
    assert_eq!(alias["commit"], m.commit.as_str());
    std::fs::remove_dir_all(&root).unwrap();
}

/// A GCS server backed by a directory drops objects whose names end in `/`: upload says so instead of
/// reporting a working index, and `pip install --find-links` works from that store all the same.
#[test]
fn a_store_that_drops_directory_pages_is_reported_and_find_links_works() {
    let root = testutil::temp_dir("store-disk");
    let disk = root.join("gcs-disk");
    std::fs::create_dir_all(&disk).unwrap();
    let server = GcsServer::start_on_disk("ci-artifacts", &disk);
    let ctx = testutil::ctx(&root);
    fixture(&root);
    upload(&ctx, &args("gs://ci-artifacts", Some(server.endpoint()), &root)).unwrap();
    let store = open_store(&ctx, Some("gs://ci-artifacts"), Some(&server.endpoint())).unwrap();
    let tmp = root.join("t");
    let m = fetch_manifest(&ctx.sh, &store, &format!("commit/{COMMIT}"), &tmp).unwrap().unwrap().0;
    let dropped = verify_pages(&ctx.sh, &store, &format!("commit/{COMMIT}"), &index_pages(&m), &tmp).unwrap();
    assert!(!dropped.is_empty() && dropped.iter().all(|k| k.ends_with('/')), "{dropped:?}");
    // --check-index tells the truth too, and passes on what this store can hold.
    check_index(&ctx, &store, &format!("commit/{COMMIT}"), &m).unwrap();

    let venv = root.join("venv");
    let sh = Shell::new().unwrap();
    xshell::cmd!(sh, "python3 -m venv {venv}").run().unwrap();
    let python = crate::tools::venv_python(&venv);
    let page = format!("{}/ci-artifacts/commit/{COMMIT}/{FIND_LINKS_PAGE}", server.endpoint());
    xshell::cmd!(sh, "{python} -m pip install --quiet --no-index --find-links {page} demo-pkg").run().unwrap();
    let value = xshell::cmd!(sh, "{python} -c 'import demo_pkg; print(demo_pkg.VALUE)'").read().unwrap();
    assert_eq!(value.trim(), "42");

    // A page deleted from the store is written again by the next upload.
    let findlinks_key = format!("commit/{COMMIT}/{FIND_LINKS_PAGE}");
    let name = format!("ci-artifacts/{}", findlinks_key);
    let _ = std::fs::remove_file(disk.join(&name));
    let url = format!("{}/storage/v1/b/ci-artifacts/o/{}", server.endpoint(), findlinks_key.replace('/', "%2F"));
    xshell::cmd!(sh, "curl -sS -X DELETE {url}").quiet().run().unwrap();
    assert!(store.head(&ctx.sh, &findlinks_key).unwrap().is_none());
    assert!(check_index(&ctx, &store, &format!("commit/{COMMIT}"), &m).is_err());
    upload(&ctx, &args("gs://ci-artifacts", Some(server.endpoint()), &root)).unwrap();
    assert!(store.head(&ctx.sh, &findlinks_key).unwrap().is_some(), "repaired by the re-run");
    std::fs::remove_dir_all(&root).unwrap();
}

/// Commit B's manifest substituted under commit A's key (by anyone able to write to the bucket between upload
/// and sign): sign refuses to sign it and download refuses it, naming both commits.
#[test]
fn a_manifest_of_another_commit_under_this_commits_key_is_refused() {
    let root = testutil::temp_dir("substituted");
    let ctx = testutil::ctx(&root);
    let m = fixture(&root);
    let store = root.join("store");
    upload(&ctx, &args(store.as_str(), None, &root)).unwrap();
    let other = "9".repeat(40);
    let substituted = Manifest { commit: other.clone(), ..m.clone() };
    substituted.write_atomic(&store.join(format!("commit/{COMMIT}/{}", manifest::FILE))).unwrap();

    let err = crate::jobs::sign::run(&ctx, Some(store.as_str()), None, Some(COMMIT), true).unwrap_err();
    assert!(err.downcast_ref::<JobFailed>().is_some(), "{err:#}");
    let text = format!("{err:#}");
    assert!(text.contains(&format!("stored under commit/{COMMIT}/ is for commit {other}")), "{text}");
    assert!(text.contains("nothing was signed"), "{text}");
    assert!(!store.join(format!("commit/{COMMIT}/manifest.json.minisig")).exists());

    let err = download(&ctx, &download_args(store.as_str(), None, &root.join("out"))).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains(&format!("is for commit {other}")) && text.contains("nothing was downloaded"), "{text}");
    assert!(!root.join("out").join(manifest::FILE).exists());

    // The real manifest again: signed, downloaded.
    m.write_atomic(&store.join(format!("commit/{COMMIT}/{}", manifest::FILE))).unwrap();
    crate::jobs::sign::run(&ctx, Some(store.as_str()), None, Some(COMMIT), true).unwrap();
    download(&ctx, &download_args(store.as_str(), None, &root.join("out"))).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

/// One platform's packages of [`COMMIT`] in `root/<platform>`: the crate every platform builds alike, and a
/// wheel of its own (`fill` is its bytes): what one job of the create-packages matrix leaves.
fn platform_packages(root: &Utf8Path, platform: &str, fill: u8) -> Utf8PathBuf {
    let from = root.join(platform);
    let dir = from.join(COMMIT);
    std::fs::create_dir_all(dir.join("wheels")).unwrap();
    std::fs::create_dir_all(dir.join("crates")).unwrap();
    let wheel = format!("wheels/demo_pkg-1.0.0-cp39-abi3-{platform}.whl");
    std::fs::write(dir.join(&wheel), vec![fill; 2000]).unwrap();
    std::fs::write(dir.join("crates/demo-1.0.0.crate"), vec![7u8; 3000]).unwrap();
    let files = [(Kind::Wheel, "demo-pkg", wheel.as_str()), (Kind::Crate, "demo", "crates/demo-1.0.0.crate")];
    let m = manifest_of(&dir, &files, Some(platform));
    m.write_atomic(&dir.join(manifest::FILE)).unwrap();
    from
}

/// The create-packages matrix uploads one commit from three runners at once: on either backend, 20 rounds of
/// three concurrent uploads always leave a manifest that is the union of all three (and a pip page listing all
/// three wheels); then three concurrent `--overwrite` uploads with new bytes replace each platform's own wheel
/// and keep the others'.
fn three_platforms_at_once(store_url: &dyn Fn(usize) -> String, endpoint: Option<String>, name: &str) {
    const PLATFORMS: [&str; 3] = ["manylinux_2_17_x86_64", "win_amd64", "macosx_11_0_arm64"];
    let root = testutil::temp_dir(name);
    for round in 0..20 {
        let url = store_url(round);
        for (overwrite, fill) in [(false, 1u8), (true, 2u8)] {
            let sources: Vec<Utf8PathBuf> = PLATFORMS
                .iter()
                .enumerate()
                .map(|(i, p)| platform_packages(&root.join(format!("r{round}-{fill}")), p, fill * 10 + i as u8))
                .collect();
            let results: Vec<Result<Summary>> = std::thread::scope(|s| {
                let handles: Vec<_> = sources
                    .iter()
                    .map(|from| {
                        let (url, endpoint, root) = (url.clone(), endpoint.clone(), root.clone());
                        s.spawn(move || {
                            let ctx = testutil::ctx(&root);
                            let a =
                                flags::Upload { overwrite, from: Some(from.clone()), ..args(&url, endpoint, &root) };
                            upload(&ctx, &a)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for r in results {
                r.unwrap_or_else(|e| panic!("round {round} (overwrite {overwrite}): {e:#}"));
            }
            let ctx = testutil::ctx(&root);
            let store = crate::artifacts::open_store(&ctx, Some(&url), endpoint.as_deref()).unwrap();
            let (m, _) =
                fetch_manifest(&ctx.sh, &store, &format!("commit/{COMMIT}"), &root.join("tmp")).unwrap().unwrap();
            let wheels: Vec<(String, String)> = m
                .artifacts
                .iter()
                .filter(|a| a.kind == Kind::Wheel)
                .map(|a| (a.path.clone(), a.sha256.clone()))
                .collect();
            assert_eq!(wheels.len(), 3, "round {round} (overwrite {overwrite}): a platform was lost: {wheels:?}");
            for (i, p) in PLATFORMS.iter().enumerate() {
                let want = crate::sha256::digest(&vec![fill * 10 + i as u8; 2000]);
                assert!(
                    wheels.iter().any(|(path, sha)| path.contains(p) && *sha == want),
                    "round {round} (overwrite {overwrite}): {p}'s wheel is not this run's: {wheels:?}"
                );
            }
            let page = root.join("page");
            assert!(store.get(&ctx.sh, &format!("commit/{COMMIT}/simple/demo-pkg/index.html"), &page).unwrap());
            let html = std::fs::read_to_string(&page).unwrap();
            assert!(PLATFORMS.iter().all(|p| html.contains(p)), "round {round}: the pip page lost a wheel:\n{html}");
        }
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn three_platforms_uploading_one_commit_at_once_to_a_directory() {
    let root = testutil::temp_dir("concurrent-dir-stores");
    three_platforms_at_once(&|round| root.join(format!("store-{round}")).to_string(), None, "concurrent-dir");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn three_platforms_uploading_one_commit_at_once_to_a_bucket() {
    let server = GcsServer::start_in_memory("ci-artifacts");
    three_platforms_at_once(
        &|round| format!("gs://ci-artifacts/round-{round}"),
        Some(server.endpoint()),
        "concurrent-gcs",
    );
}

/// The object a recorded GCS JSON API request of bucket `plans` writes (a multipart upload names it in its
/// body), or `None` for a read.
fn written(line: &str, rest: &str) -> Option<String> {
    let path = line.split(' ').nth(1)?.split('?').next()?;
    (line.starts_with("POST ") && path == "/upload/storage/v1/b/plans/o")
        .then(|| rest.split("\"name\":").nth(1).and_then(|r| r.trim_start().split('"').nth(1)).map(str::to_owned))
        .flatten()
}

/// An upload against a GCS-API server behind a recording proxy writes what its plan says: the first every
/// planned artifact and pip page, the manifest and the alias, each once; a second one, of the same commit,
/// nothing. Its reads are the plan's listing, the alias check and the pages read back.
#[test]
fn what_an_upload_writes_is_what_its_plan_says() {
    let server = GcsServer::start_in_memory("plans");
    let proxy = testutil::RecordingProxy::start(server.port);
    let root = testutil::temp_dir("upload-plan");
    let ctx = testutil::ctx(&root);
    let m = fixture(&root);
    let a =
        flags::Upload { alias: vec!["branch/main/latest".into()], ..args("gs://plans", Some(proxy.endpoint()), &root) };
    let store = open_store(&ctx, Some("gs://plans"), Some(&proxy.endpoint())).unwrap();
    let p = plan(&store, COMMIT, &m, &a.alias);
    let mut planned = Vec::new();
    for op in &p.ops {
        match op {
            UploadOp::PutArtifacts { objects, pages } => {
                planned.extend(objects.iter().map(|o| o.key.clone()));
                planned.extend(pages.iter().cloned());
            }
            UploadOp::PutManifest { key } => planned.push(key.clone()),
            UploadOp::PutAliases { aliases } => planned.extend(aliases.iter().cloned()),
            UploadOp::CheckAliases { .. } | UploadOp::List { .. } => {}
        }
    }
    planned.sort();
    upload(&ctx, &a).unwrap();
    let writes = |from: usize| -> Vec<String> {
        let mut w: Vec<String> = proxy.requests()[from..].iter().filter_map(|(l, r)| written(l, r)).collect();
        w.sort();
        w
    };
    assert_eq!(writes(0), planned, "{}", serde_json::to_string(&p).unwrap());
    let reads: Vec<String> = (proxy.requests().iter())
        .filter(|(l, r)| written(l, r).is_none())
        .map(|(l, _)| l.split(' ').nth(1).unwrap_or_default().to_owned())
        .collect();
    for r in &reads {
        let listing = r.starts_with("/storage/v1/b/plans/o?prefix=commit%2F");
        let alias = r.starts_with("/storage/v1/b/plans/o/branch%2Fmain%2Flatest");
        let page = r.starts_with(&format!("/storage/v1/b/plans/o/commit%2F{COMMIT}%2F"))
            && (r.contains("simple") || r.contains("index.html"));
        assert!(listing || alias || page, "a read no operation of the plan makes: {r}\n{reads:?}");
    }
    // Again: everything is there; the plan is the same, and nothing is written but the alias (a pointer,
    // rewritten each time).
    let before = proxy.requests().len();
    upload(&ctx, &a).unwrap();
    assert_eq!(writes(before), ["branch/main/latest"]);
    std::fs::remove_dir_all(&root).unwrap();
}
