//! The xtask binary as a careless or hostile user meets it: bad flags, commits and paths get exit 2 and a
//! one-line cause with a fix (never a panic); `--dry-run` and `--json` act nowhere and `--json` prints exactly
//! one JSON document; the repository a job works on is the one it was run for.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask_engine::testkit::MockHttp;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn temp(name: &str) -> PathBuf {
    xtask_engine::testkit::temp_dir(&format!("hostile-{name}")).into_std_path_buf()
}

fn xtask_in(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).current_dir(dir).env_remove("GITHUB_ACTIONS").env_remove("XTASK_ROOT");
    cmd.env("XTASK_TOOLS_DIR", root().join(".tools"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run xtask")
}

fn xtask(args: &[&str]) -> Output {
    xtask_in(&root(), args, &[])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The first line that starts with `error: `.
fn first_error(o: &Output) -> String {
    stderr(o).lines().find(|l| l.starts_with("error: ")).unwrap_or_default().to_owned()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(files(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn bad_inputs_exit_2_with_a_cause_and_a_fix_never_a_panic() {
    let store = temp("store-bad");
    let store = store.to_str().unwrap();
    let hex = "ab".repeat(20);
    // (arguments, expected exit code, the start of the first error line)
    let table: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["sign", "--local-key", "--store", store, "--commit", "héllo"],
            2,
            "error: --commit \"héllo\" names no commit",
        ),
        (vec!["sign", "--local-key", "--store", store, "--commit", "../../etc"], 2, "error: --commit \"../../etc\""),
        (vec!["sign", "--store", store, "--commit=-h"], 2, "error: --commit \"-h\" is not a commit hash"),
        (vec!["download", "--store", store, "--commit", "\u{1b}[31mred"], 2, "error: --commit \"\\u{1b}[31mred\""),
        (vec!["download", "--store", store, "--commit", &hex], 2, "error: "),
        (vec!["upload", "--store", store, "--commit", "a\nb"], 2, "error: --commit \"a\\nb\""),
        (vec!["release", "--store", store, "--commit", "nope-not-a-rev"], 2, "error: --commit \"nope-not-a-rev\""),
        (
            vec!["release", "--execute", "--dry-run", "--commit", "HEAD"],
            2,
            "error: `release --execute` acts and `--dry-run`",
        ),
        (vec!["release", "--execute", "--json", "--commit", "HEAD"], 2, "error: `release --execute` acts and `--json`"),
        (vec!["lint", "--fix", "--dry-run"], 2, "error: `lint --fix` acts"),
        (vec!["doctor", "--provision", "--json"], 2, "error: `doctor --provision` acts"),
        (vec!["upload", "--store", "ftp://x/y", "--commit", "HEAD"], 2, "error: unsupported store `ftp://x/y`"),
        (vec!["upload", "--store", "", "--commit", "HEAD", "--dry-run"], 2, "error: --store is empty"),
        (vec!["gates", "--base", "HEAD", "--head=-x"], 2, "error: the head \"-x\" (--head) is not a revision"),
        (vec!["upload", "--check-index", "--dry-run", "--store", store, "--commit", &hex], 2, "error: no packages"),
        (vec!["download", "--store", "gs://bucket/../x", "--commit", &hex], 2, "error: `gs://bucket/../x`"),
        (vec!["release", "--commit", "HEAD", "--version", "../../x", "--json"], 2, "error: --version \"../../x\""),
        (
            vec!["sign", "--store", "gs://b", "--endpoint", "http://[", "--commit", "HEAD", "--json"],
            2,
            "error: --endpoint",
        ),
        (vec!["download", "--store", "gs://Bad_Bucket", "--commit", &hex], 2, "error: `gs://Bad_Bucket`"),
        (vec!["gates", "--event", "/nonexistent/event.json"], 2, "error: "),
        (vec!["gates", "--base", "no-such-branch-xyz"], 2, "error: unknown base `no-such-branch-xyz`"),
        (vec!["gates", "--base", "HEAD", "--head", &hex], 2, "error: the head commit"),
        (vec!["package", "--wheels", "--target", "no-such-triple", "--dry-run"], 2, "error: unknown target"),
        (vec!["test", "--changed-since", "no-such-rev-xyz", "--dry-run"], 2, "error: "),
        (vec!["ci", "no-such/job", "--dry-run"], 2, "error: no single CI job `no-such/job`"),
        (vec!["ci", "engine", "--out", ""], 2, "error: --out is empty"),
        (vec!["ci", "plan", "--workflow", "nope"], 2, "error: no workflow `nope`"),
        (
            vec!["ci", "plan", "--workflow", "create-packages", "--event-name", "Push;rm"],
            2,
            "error: \"Push;rm\" is not an event name",
        ),
        (
            vec!["ci", "plan", "--workflow", "create-packages", "--event", "/nonexistent/e.json"],
            2,
            "error: cannot read the event file",
        ),
        (vec!["ci", "--event-name", "issues", "--dry-run"], 2, "error: no workflow of this pipeline runs on `issues`"),
        (
            vec!["ci", "--event-name", "a\u{1b}[2J", "--dry-run"],
            2,
            "error: no workflow of this pipeline runs on `a\\u{1b}[2J`",
        ),
        (vec!["ci", "--event", "/nonexistent/e.json", "--dry-run"], 2, "error: cannot read the event file"),
        (vec!["ci", "--event-name", "pull_request", "--dry-run"], 2, "error: a pull_request event needs its payload"),
        (
            vec!["ci", "--event-name", "workflow_dispatch", "--dry-run"],
            2,
            "error: a workflow_dispatch runs one workflow",
        ),
        (vec!["ci", "--event-name", "push", "--workflow", "nope", "--dry-run"], 2, "error: no workflow `nope`"),
        (
            vec!["ci", "lint-build-test/lint", "--event-name", "push"],
            2,
            "error: `ci lint-build-test/lint` with --event",
        ),
        (vec!["ci", "--workflow", "release", "--dry-run"], 2, "error: --workflow selects a workflow of a replay"),
        (vec!["ci", "--skip", "nope/x", "--dry-run"], 2, "error: --skip nope/x: no such CI job"),
        (vec!["ci", "--event-name", "push", "--skip", "lint-build-test/test"], 2, "error: --skip leaves jobs out"),
        (vec!["package", "--kinds", "", "--dry-run"], 2, "error: --kinds is empty"),
        (
            vec!["ci", "pr-gates/gates", "--skip", "pr-gates/gates"],
            2,
            "error: --skip leaves jobs out of a run of every job",
        ),
        (vec!["release", "--commit", "event", "--json"], 2, "error: --commit event: a `local` event names no commit"),
        (vec!["ci", "matrix", "--platforms", "beos"], 2, "error: unknown platform `beos`"),
        (vec!["ci", "matrix", "--platforms", "a\u{1b}[2J"], 2, "error: unknown platform `a\\u{1b}[2J`"),
        (vec!["ci", "a\u{1b}[2J/x", "--dry-run"], 2, "error: no single CI job `a\\u{1b}[2J/x`"),
        (vec!["doctor", "--tool", "x\u{1b}[2J"], 2, "error: no tool `x\\u{1b}[2J`"),
        (vec!["test", "--part", "x\u{1b}[2J"], 2, "error: --part x\\u{1b}[2J: no such part"),
    ];
    // A manifest that is not one: refused before anything is uploaded.
    let from = temp("bad-manifest");
    std::fs::create_dir_all(from.join(&hex)).unwrap();
    std::fs::write(from.join(&hex).join("manifest.json"), b"{\"schema\": 1, \"commit\": 7}").unwrap();
    let from_s = from.to_str().unwrap().to_owned();
    let mut table = table;
    table.push((vec!["upload", "--store", store, "--commit", &hex, "--from", &from_s], 2, "error: "));
    for (args, code, first) in table {
        let out = xtask(&args);
        let err = first_error(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(err.starts_with(first), "{args:?}: first error line {err:?}, wanted {first:?}\n{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
        if code == 2 {
            assert!(stderr(&out).contains("fix: "), "{args:?}: no fix in {}", stderr(&out));
        }
    }
    assert!(files(Path::new(store)).is_empty(), "a refused job wrote into the store");

    // A token is never sent in clear to another machine.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["download", "--store", "gs://bucket", "--endpoint", "http://storage.invalid:9", "--commit", &hex])
        .current_dir(root())
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "tok-123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        first_error(&out).starts_with("error: refusing to send the storage access token to http://storage.invalid:9")
    );
    assert!(!stderr(&out).contains("tok-123"));

    // XTASK_ROOT naming no checkout: one line of cause, one of fix.
    let out = xtask_in(&root(), &["gates", "--dry-run"], &[("XTASK_ROOT", Path::new("/nonexistent/checkout"))]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(first_error(&out).contains("/nonexistent/checkout has no Cargo.toml") && stderr(&out).contains("fix: "));

    // A gate that fails is exit 1, with the command that reproduces it.
    let out = xtask(&["gates", "--base", "HEAD~1", "--labels", "", "--title", "t", "--body", ""]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("reproduce locally: cargo xtask gates --base "), "{}", stderr(&out));
}

#[test]
fn dry_run_and_json_act_nowhere_and_json_is_one_document() {
    let store = temp("store-dry");
    let web = temp("web-dry");
    let out_dir = temp("out-dry").join("downloads");
    let (s, w, o) = (store.to_str().unwrap(), web.to_str().unwrap(), out_dir.to_str().unwrap());
    let hex = "cd".repeat(20);
    let jobs: Vec<Vec<&str>> = vec![
        vec!["sign", "--store", s, "--commit", "HEAD"],
        vec!["sign", "--local-key", "--store", s, "--commit", "HEAD"],
        vec!["download", "--store", s, "--commit", &hex, "--out", o],
        vec!["release", "--store", s, "--web-store", w, "--commit", "HEAD"],
        vec!["upload", "--store", s, "--commit", "HEAD", "--alias", "branch/main/latest"],
        vec!["workflows"],
        vec!["workflows", "--check"],
        vec!["gates", "--base", "HEAD", "--labels", ""],
        vec!["lint"],
        vec!["test"],
        vec!["package"],
        vec!["package", "--check-reproducible"],
        vec!["doctor"],
        vec!["ci", "list"],
        vec!["ci", "matrix"],
        vec!["ci"],
        vec!["ci", "--event-name", "schedule"],
        vec!["ci", "--event-name", "push", "--workflow", "release"],
        vec!["ci", "plan", "--workflow", "create-packages", "--github-output"],
        vec!["bench", "build"],
    ];
    // Step outputs are acting too: `ci plan --github-output` writes none under --dry-run or --json.
    let outputs = temp("outputs-dry").join("github_output");
    for job in &jobs {
        for mode in ["--dry-run", "--json"] {
            let mut args = job.clone();
            args.push(mode);
            let out = xtask_in(&root(), &args, &[("GITHUB_OUTPUT", outputs.as_path())]);
            // upload of a commit that was never packaged is refused either way, before anything acts
            let refused = out.status.code() == Some(2) && job[0] == "upload";
            // the gates' verdict on this repository's own labels is not the point here
            let verdict = out.status.code() == Some(1) && job[0] == "gates" && mode == "--json";
            assert!(out.status.success() || refused || verdict, "{args:?}: {}", stderr(&out));
            if mode == "--json" && !refused {
                let stdout = String::from_utf8_lossy(&out.stdout);
                serde_json::from_str::<serde_json::Value>(&stdout)
                    .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON document ({e}):\n{stdout}"));
            }
        }
    }
    assert!(files(&store).is_empty(), "a dry run wrote into the store: {:?}", files(&store));
    assert!(files(&web).is_empty(), "a dry run wrote into the web store");
    assert!(!out_dir.exists(), "download --dry-run/--json downloaded");
    assert!(!outputs.exists(), "a dry run wrote step outputs");
    assert!(!root().join("target/local-signing/minisign.key").exists() || files(&store).is_empty());
}

#[test]
fn the_root_is_the_checkout_cargo_runs_in_and_another_repository_is_refused() {
    // A second checkout served by this binary (as with one CARGO_TARGET_DIR for two clones): `cargo xtask`
    // there sets CARGO_MANIFEST_DIR to its own xtask/, and that is the repository the job works on.
    let base = temp("second-checkout");
    let clone = base.join("clone");
    let ok = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(root())
        .arg(&clone)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = xtask_in(&clone, &["workflows", "--dry-run"], &[("CARGO_MANIFEST_DIR", &clone.join("xtask"))]);
    assert!(out.status.success(), "{}", stderr(&out));
    let clone_c = std::fs::canonicalize(&clone).unwrap();
    let said = stderr(&out);
    assert!(
        said.contains(&format!("xtask: repository {}", clone.display()))
            || said.contains(&format!("xtask: repository {}", clone_c.display())),
        "{said}"
    );

    // Run from inside another repository: refused, naming both and the fix.
    let other = base.join("other");
    std::fs::create_dir_all(&other).unwrap();
    assert!(Command::new("git").args(["init", "--quiet"]).current_dir(&other).status().unwrap().success());
    let out = xtask_in(&other, &["gates", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = first_error(&out);
    assert!(err.starts_with("error: the current directory is in the repository"), "{err}");
    assert!(stderr(&out).contains("fix: run `cargo xtask` from"), "{}", stderr(&out));
    // XTASK_ROOT says explicitly which repository is meant.
    let out = xtask_in(&other, &["workflows", "--dry-run"], &[("XTASK_ROOT", &root())]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn dry_run_and_json_send_nothing_to_a_store_a_registry_or_an_index() {
    // One server stands for the store, the crate registry and the package index: it records every request and
    // answers 404.
    let server = MockHttp::start(|_| (404, String::new()));
    let requests =
        || -> Vec<String> { server.requests().iter().map(|r| format!("{} {}", r.method, r.target)).collect() };
    let url = server.url();
    let base = temp("recorded");
    // A packaged commit for upload to plan from (no artifacts needed for a plan).
    let hex = "ef".repeat(20);
    let packages = base.join("packages");
    std::fs::create_dir_all(packages.join(&hex)).unwrap();
    std::fs::write(
        packages.join(&hex).join("manifest.json"),
        format!(
            r#"{{"schema":1,"commit":"{hex}","dirty":false,"source_date_epoch":0,"xtask_version":"0","version":"0.1.0","artifacts":[]}}"#
        ),
    )
    .unwrap();
    let (packages, out) = (packages.to_str().unwrap().to_owned(), base.join("out").to_str().unwrap().to_owned());
    let index = format!("sparse+{url}/index/");
    let simple = format!("{url}/simple/");
    let secrets = ["gcs-secret-token-1", "registry-secret-token-2", "pypi-secret-token-3"];
    let jobs: Vec<Vec<&str>> = vec![
        vec![
            "upload",
            "--store",
            "gs://bucket",
            "--endpoint",
            &url,
            "--commit",
            &hex,
            "--from",
            &packages,
            "--alias",
            "branch/x",
        ],
        vec![
            "upload",
            "--check-index",
            "--store",
            "gs://bucket",
            "--endpoint",
            &url,
            "--commit",
            &hex,
            "--from",
            &packages,
        ],
        vec!["download", "--store", "gs://bucket", "--endpoint", &url, "--commit", &hex, "--out", &out],
        vec!["sign", "--store", "gs://bucket", "--endpoint", &url, "--commit", &hex, "--local-key"],
        vec![
            "release",
            "--store",
            "gs://bucket",
            "--endpoint",
            &url,
            "--commit",
            &hex,
            "--version",
            "0.1.0",
            "--registry-api",
            &url,
            "--registry-index",
            &index,
            "--pypi-upload",
            &url,
            "--pypi-simple",
            &simple,
            "--web-store",
            "gs://web",
        ],
    ];
    for job in &jobs {
        for mode in ["--dry-run", "--json"] {
            let mut args = job.clone();
            args.push(mode);
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
            cmd.args(&args).current_dir(root()).env_remove("GITHUB_ACTIONS").env_remove("XTASK_ROOT");
            cmd.env("GOOGLE_OAUTH_ACCESS_TOKEN", secrets[0])
                .env("CARGO_REGISTRY_TOKEN", secrets[1])
                .env("PYPI_TOKEN", secrets[2]);
            let o = cmd.output().unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
            assert!(o.status.success(), "{args:?}: {all}");
            assert!(!secrets.iter().any(|s| all.contains(s)), "{args:?} printed a token: {all}");
            if mode == "--json" {
                serde_json::from_slice::<serde_json::Value>(&o.stdout)
                    .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e})"));
            }
        }
    }
    let seen = requests();
    assert!(seen.is_empty(), "--dry-run/--json sent requests: {seen:?}");
    assert_eq!(server.connections(), 0, "--dry-run/--json connected to the server");
    assert!(!base.join("out").exists(), "download --dry-run wrote files");
    // The recorder does record: the same download without --dry-run asks the store for the manifest.
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["download", "--store", "gs://bucket", "--endpoint", &url, "--commit", &hex, "--out", &out])
        .current_dir(root())
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", secrets[0])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "no manifest in the store: {}", stderr(&o));
    let seen = requests();
    assert!(seen.iter().any(|l| l.starts_with("GET /storage/v1/b/bucket/o/")), "{seen:?}");
    assert!(server.connections() >= seen.len(), "every request came over a connection it counted");
    std::fs::remove_dir_all(&base).unwrap();
}

/// SECURITY.md proves each control by a test's name: every name it gives is a test of this repository.
#[test]
fn every_test_security_md_names_exists() {
    let text = std::fs::read_to_string(root().join("SECURITY.md")).unwrap();
    let mut sources = String::new();
    let mut stack = vec![root().join("xtask"), root().join("engine")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut named = 0;
    for span in text.split('`').skip(1).step_by(2) {
        let Some(name) =
            span.rsplit("::").next().filter(|_| span.contains("tests::") || span.starts_with("hostile_inputs::"))
        else {
            continue;
        };
        named += 1;
        assert!(sources.contains(&format!("fn {name}(")), "SECURITY.md names `{span}`, which is not a test here");
    }
    assert!(named >= 20, "SECURITY.md names {named} tests");
}

/// Under GitHub Actions a token is masked (`::add-mask::`) the moment it is read: on stderr, so that `--json`'s
/// stdout stays one JSON document, and stdout never holds the token even where masking is not honoured.
#[test]
fn tokens_are_masked_on_stderr_and_json_stays_one_document() {
    let store = temp("store-mask");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["release", "--allow-any-ref", "--store", store.to_str().unwrap(), "--commit", "HEAD", "--json"])
        .current_dir(root())
        .env_remove("XTASK_ROOT")
        .env("XTASK_TOOLS_DIR", root().join(".tools"))
        .env("GITHUB_ACTIONS", "true")
        .env("CARGO_REGISTRY_TOKEN", "masked-registry-token-123")
        .env("PYPI_TOKEN", "masked-pypi-token-456")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str::<serde_json::Value>(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert!(!stdout.contains("masked-registry-token-123") && !stdout.contains("masked-pypi-token-456"), "{stdout}");
    let err = stderr(&out);
    assert!(
        err.contains("::add-mask::masked-registry-token-123") && err.contains("::add-mask::masked-pypi-token-456"),
        "{err}"
    );
}
