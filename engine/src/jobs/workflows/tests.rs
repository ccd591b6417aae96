use super::*;
use crate::config;
use crate::pipeline::{RELEASE_ENVIRONMENT, Shape, WStep, all, command_line};

/// `owner/repo@SHA # vX.Y.Z`, as a workflow pins an action.
fn pinned(a: &config::PinnedAction) -> String {
    format!("{}@{} # {}", a.repo, a.sha, a.version)
}

#[test]
fn committed_files_match_the_definitions() {
    let root = crate::project_root();
    let problems = drift_in(&root, &Shape::current()).unwrap();
    assert!(problems.is_empty(), "{}\nfix: cargo xtask workflows", problems.join("\n"));
}

#[test]
fn generated_workflows_follow_the_rules() {
    for w in all().unwrap() {
        let text = render(&w);
        assert_eq!(rules(w.file, &text), Vec::<String>::new(), "{}", w.file);
        assert!(!text.contains("pull_request_target"), "fork PRs must never see secrets");
    }
}

#[test]
fn hand_edits_break_the_rules_with_file_and_line() {
    let w = &all().unwrap()[0];
    let good = render(w);
    let lines: Vec<&str> = good.lines().collect();
    let run_at = lines.iter().position(|l| l.trim_start().starts_with("run: cargo xtask")).unwrap();
    let indent = &lines[run_at][..lines[run_at].len() - lines[run_at].trim_start().len()];

    let mut bad = lines.clone();
    let make = format!("{indent}run: make foo");
    bad.insert(run_at + 1, &make);
    let problems = rules("w.yml", &bad.join("\n"));
    assert_eq!(
        problems,
        [format!(
            "w.yml:{}: `run: make foo` is not a `cargo xtask ...` command; move the logic into the xtask",
            run_at + 2
        )]
    );

    let tag = good.replace(&format!("@{} # {}", config::ACTION_CHECKOUT.sha, config::ACTION_CHECKOUT.version), "@v4");
    let problems = rules("w.yml", &tag);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`uses: actions/checkout@v4` is not pinned to a full commit SHA"), "{problems:?}");
    let line = tag.lines().position(|l| l.contains("actions/checkout@v4")).unwrap() + 1;
    assert!(problems[0].starts_with(&format!("w.yml:{line}:")), "{problems:?}");

    let no_perms: String = good
        .lines()
        .filter(|l| !l.contains("permissions:") && !l.contains("contents: read"))
        .map(|l| format!("{l}\n"))
        .collect();
    let problems = rules("w.yml", &no_perms);
    assert!(problems.iter().any(|p| p.contains("job `gates` declares no `permissions:`")), "{problems:?}");
    assert!(problems.iter().any(|p| p == "w.yml:1: the workflow declares no top-level `permissions:`"), "{problems:?}");

    let chained = good.replace("run: cargo xtask gates", "run: cargo xtask gates && curl x | sh");
    assert!(rules("w.yml", &chained)[0].contains("chains commands"));
    let multi = good.replace("run: cargo xtask gates", "run: |\n          cargo xtask gates");
    assert!(rules("w.yml", &multi)[0].contains("multi-line `run:`"));
}

/// The `run:` lines of each job of a workflow file, read from the YAML text.
fn runs_per_job(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_jobs = false;
    for l in text.lines() {
        let indent = l.len() - l.trim_start().len();
        if indent == 0 && !l.is_empty() {
            in_jobs = l == "jobs:";
        } else if in_jobs && indent == 2 && l.trim_end().ends_with(':') {
            out.push((l.trim().trim_end_matches(':').to_owned(), vec![]));
        } else if let Some(run) = l.trim().strip_prefix("run: ") {
            out.last_mut().unwrap().1.push(run.to_owned());
        }
    }
    out
}

#[test]
fn ci_runs_the_commands_the_yaml_contains() {
    let root = crate::project_root();
    let jobs = local_jobs(&Shape::current()).unwrap();
    for w in all().unwrap() {
        let text = std::fs::read_to_string(root.join(DIR).join(w.file)).unwrap();
        for (job, runs) in runs_per_job(&text) {
            let key = format!("{}/{job}", w.name);
            let local = jobs.iter().find(|j| j.key == key).unwrap_or_else(|| panic!("ci knows no job {key}"));
            assert_eq!(local.ci_commands, runs, "{key}");
            // `cargo xtask ci <job> --dry-run` runs these, in this order.
            let plan = crate::jobs::ci::plan(Some(&key)).unwrap();
            let planned: Vec<String> = plan.steps.iter().map(|s| s.command_line()).collect();
            let expected: Vec<String> = local.commands.iter().map(|c| command_line(c)).collect();
            assert_eq!(planned, expected, "{key}");
            // Identical to CI, but where a step declares its local stand-in (CI inputs, the bucket).
            for ((l, r), overridden) in local.commands.iter().zip(&runs).zip(&local.local_override) {
                if !overridden {
                    assert_eq!(&command_line(l), r, "{key}");
                }
            }
        }
    }
    let all_plan = crate::jobs::ci::plan(None).unwrap();
    assert_eq!(all_plan.steps.len(), jobs.iter().map(|j| j.commands.len()).sum::<usize>());
    assert!(crate::jobs::ci::plan(Some("nope")).is_err());
}

#[test]
fn matrix_is_json_with_the_platforms_asked_for() {
    let m = crate::pipeline::matrix_in(crate::settings::this_repository(), "linux, windows,linux").unwrap();
    let text = serde_json::to_string(&m).unwrap();
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    let platforms: Vec<&str> =
        back["include"].as_array().unwrap().iter().map(|i| i["platform"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["linux", "windows"]);
    assert_eq!(back["include"][1]["os"], "windows-latest");
    assert!(
        crate::pipeline::matrix_in(crate::settings::this_repository(), "linux,beos")
            .unwrap_err()
            .to_string()
            .contains("unknown platform `beos`")
    );
    assert!(crate::pipeline::matrix_in(crate::settings::this_repository(), "").is_err());
}

/// Each trigger's platform matrix and kinds, decided in Rust from the event and ci.toml (the workflows only pass
/// `matrix.*` on): the schedule builds on Windows and macOS exactly their ci.toml `builds`, a push the wasm
/// bundle where a platform builds it, a dispatch what it names; a platform with nothing to build is left out,
/// and a bad input is refused with its fix.
#[test]
fn each_trigger_gets_its_matrix_from_the_event_and_ci_toml() {
    use crate::github::Trigger;
    use crate::pipeline::workflow_matrix;
    let t = |name: &str, payload: serde_json::Value| Trigger { name: name.into(), payload };
    let rows = |workflow: &str, trigger: &Trigger| -> Vec<String> {
        let (m, _) = workflow_matrix(crate::settings::this_repository(), workflow, trigger, None).unwrap();
        m["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{}: {}", r["platform"].as_str().unwrap(), r["kinds"].as_str().unwrap()))
            .collect()
    };
    let settings = crate::settings::this_repository();
    let builds = |name: &str| {
        let p = settings.settings.platform.iter().find(|p| p.name == name).unwrap();
        format!("{name}: {}", p.builds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(","))
    };
    let none = serde_json::json!({});
    assert_eq!(
        rows("create-packages", &t("schedule", none.clone())),
        [builds("linux"), builds("windows"), builds("macos")]
    );
    assert_eq!(rows("create-packages", &t("push", none.clone())), ["linux: wasm"]);
    assert_eq!(rows("create-packages", &t("local", none.clone())), [builds("linux")]);
    let dispatch = |platforms: &str, kinds: &str| {
        t("workflow_dispatch", serde_json::json!({"inputs": {"platforms": platforms, "kinds": kinds}}))
    };
    assert_eq!(rows("create-packages", &dispatch("windows, macos", "wheels")), ["windows: wheels", "macos: wheels"]);
    assert_eq!(
        rows("create-packages", &dispatch("linux,windows", "crates,binaries")),
        ["linux: crates,binaries", "windows: binaries"]
    );
    // Nothing to build anywhere: an empty matrix (the package job is skipped on `any`), with a note per platform.
    let (m, notes) =
        workflow_matrix(crate::settings::this_repository(), "create-packages", &dispatch("windows", "wasm"), None)
            .unwrap();
    assert_eq!(m["include"].as_array().unwrap().len(), 0);
    assert!(notes[0].starts_with("windows: nothing to build (workflow_dispatch asks for wasm"), "{notes:?}");
    let err =
        workflow_matrix(crate::settings::this_repository(), "create-packages", &dispatch("linux", "crates,sbom"), None)
            .unwrap_err()
            .to_string();
    assert!(err.contains("`sbom`, which is no kind") && err.contains("\nfix: "), "{err}");
    let err = workflow_matrix(crate::settings::this_repository(), "create-packages", &dispatch("beos", "all"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown platform `beos`"), "{err}");
    // A repository without a wasm bundle or Python packages: a push has nothing to build (the package job is
    // skipped, not failed), and the schedule builds only what the repository has.
    let bare = crate::settings::Loaded {
        path: "ci.toml".into(),
        source: Some(String::new()),
        settings: crate::settings::parse(
            "[[platform]]\nname = \"gnu\"\nrunner = \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\nbuilds = [\"crates\", \"wheels\", \"wasm\"]\n",
        )
        .unwrap(),
    };
    let (m, notes) = workflow_matrix(&bare, "create-packages", &t("push", none.clone()), None).unwrap();
    assert_eq!(m["include"].as_array().unwrap().len(), 0, "{m}");
    assert!(notes[0].starts_with("gnu: nothing to build"), "{notes:?}");
    let (m, _) = workflow_matrix(&bare, "create-packages", &t("schedule", none.clone()), None).unwrap();
    assert_eq!(m["include"][0]["kinds"], "crates");
    // lint-build-test: the dispatch's platforms, else the first.
    assert_eq!(rows("lint-build-test", &t("pull_request", none.clone())).len(), 1);
    let tested: Vec<String> = rows("lint-build-test", &dispatch("linux,macos", ""));
    assert_eq!(tested.iter().map(|r| r.split(':').next().unwrap()).collect::<Vec<_>>(), ["linux", "macos"]);
    // The generated workflows carry no logic of their own in expressions (concurrency groups aside).
    for w in all().unwrap() {
        for line in render(&w)
            .lines()
            .filter(|l| !l.trim_start().starts_with("cancel-in-progress") && !l.trim_start().starts_with("group:"))
        {
            // `if:` holds an expression without `${{ }}`.
            let line = match line.trim_start().strip_prefix("if: ") {
                Some(cond) => format!("${{{{ {cond} }}}}"),
                None => line.to_owned(),
            };
            for expr in line.split("${{").skip(1) {
                let expr = expr.split("}}").next().unwrap_or_default();
                assert!(!["||", "&&", "==", "!="].iter().any(|op| expr.contains(op)), "{}: logic in `{line}`", w.file);
            }
        }
    }
}

#[test]
fn diff_names_lines() {
    assert_eq!(diff("a\nb\nc\n", "a\nx\nc\n"), "line 2: - b\nline 2: + x\n");
    assert_eq!(diff("a\n", "a\nb\n"), "line 2: + b\n");
}

/// Each pattern a hand edit or a generator change could introduce, planted in the generated release workflow:
/// the xtask's own rules name it with file and line, and (where it sees it) zizmor fails on it too.
#[test]
fn security_patterns_planted_in_a_workflow_fail_the_lint() {
    let release = all().unwrap().into_iter().find(|w| w.file == "release.yml").unwrap();
    let good = render(&release);
    assert_eq!(security_rules("release.yml", &good), Vec::<String>::new());
    let checkout_pin = pinned(&config::ACTION_CHECKOUT);
    let cache = format!("      - name: cache\n        uses: {}\n", pinned(&config::ACTION_RUST_CACHE));
    let planted: Vec<(&str, String, &str)> = vec![
        (
            "template injection",
            good.replacen("--commit event", "--commit \"${{ inputs.commit }}\"", 1),
            "template injection",
        ),
        (
            "pull_request_target",
            good.replacen("on:\n", "on:\n  pull_request_target:\n", 1),
            "`pull_request_target` trigger",
        ),
        (
            "workflow_run",
            good.replacen("on:\n", "on:\n  workflow_run:\n    workflows: [ci]\n", 1),
            "`workflow_run` trigger",
        ),
        (
            "persisted credentials",
            good.replacen("          persist-credentials: \"false\"\n", "", 1),
            "without `persist-credentials: false`",
        ),
        (
            "a cache in a publishing job",
            replace_last(
                &good,
                &format!("        uses: {checkout_pin}\n"),
                &format!("        uses: {checkout_pin}\n{cache}"),
            ),
            "restores a cache",
        ),
        (
            "cargo where the credentials are",
            good.replacen(
                &format!("chmod +x {0}/xtask && {0}/xtask release", crate::pipeline::ENGINE_DIR),
                "cargo xtask release",
                1,
            ),
            "runs cargo: build scripts and proc macros would run with them",
        ),
        (
            "permissions: write-all (id-token included) and a cache",
            replace_last(
                &good.replace("      id-token: write\n", "").replace("    environment: release\n", "").replacen(
                    "    permissions:\n      contents: read\n",
                    "    permissions: write-all\n",
                    2,
                ),
                &format!("        uses: {checkout_pin}\n"),
                &format!("        uses: {checkout_pin}\n{cache}"),
            ),
            "restores a cache",
        ),
        (
            "a quoted id-token and cargo",
            good.replace("id-token: write", "id-token: 'write'").replacen(
                &format!("chmod +x {0}/xtask && {0}/xtask release", crate::pipeline::ENGINE_DIR),
                "cargo xtask release",
                1,
            ),
            "runs cargo",
        ),
        (
            "a local action where the credentials are",
            replace_last(
                &good,
                &format!("        uses: {checkout_pin}\n"),
                &format!("        uses: {checkout_pin}\n      - name: local\n        uses: ./.github/actions/build\n"),
            ),
            "runs the local action ./.github/actions/build",
        ),
        (
            "cargo in a run block where the credentials are",
            good.replacen(
                &format!("run: chmod +x {0}/xtask && {0}/xtask release", crate::pipeline::ENGINE_DIR),
                "run: |\n          cargo build\n          target/engine/xtask release",
                1,
            ),
            "runs cargo",
        ),
    ];
    for (what, text, want) in &planted {
        assert_ne!(text, &good, "{what}: the pattern was not planted");
        let problems = rules("release.yml", text);
        assert!(problems.iter().any(|p| p.starts_with("release.yml:") && p.contains(want)), "{what}: {problems:?}");
    }
    // A lookup-only cache restores nothing: allowed.
    let lookup = replace_last(
        &good,
        &format!("        uses: {checkout_pin}\n"),
        &format!("        uses: {checkout_pin}\n{cache}        with:\n          lookup-only: true\n"),
    );
    assert!(!rules("release.yml", &lookup).iter().any(|p| p.contains("restores a cache")), "{lookup}");

    // The real zizmor, offline, on the same scratch files: the committed workflows pass, the planted fail.
    let root = crate::testutil::temp_dir("zizmor");
    let sh = xshell::Shell::new().unwrap();
    let tools = crate::tools::Tools::new(&crate::project_root(), false);
    tools.ensure(&sh, &["zizmor"]).expect("provision zizmor");
    let zizmor = tools.probe(&sh, config::tool::ZIZMOR.tool()).unwrap().path.unwrap();
    let dir = root.join(".github/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    let verdict = |text: &str| {
        std::fs::write(dir.join("release.yml"), text).unwrap();
        let file = dir.join("release.yml");
        xshell::cmd!(sh, "{zizmor} --offline --no-progress --color never {file}").quiet().ignore_stderr().read().is_ok()
    };
    assert!(verdict(&good), "zizmor fails the generated release workflow");
    for (what, text, _) in &planted[..1] {
        assert!(!verdict(text), "zizmor passes {what}");
    }
    assert!(!verdict(&planted[4].1), "zizmor passes a cache in the publishing workflow");
    std::fs::remove_dir_all(&root).unwrap();
}

/// `text` with the last occurrence of `from` replaced.
fn replace_last(text: &str, from: &str, to: &str) -> String {
    let i = text.rfind(from).expect("the pattern is in the text");
    format!("{}{to}{}", &text[..i], &text[i + from.len()..])
}

/// No job that builds or runs the repository's code (package, test, lint) can obtain credentials: no
/// `id-token: write`, no secret, no protected environment. Those are for the jobs that upload, sign, publish.
/// The one exception: lint-build-test's compiling jobs get `id-token: write` for the build cache's own account
/// (the auth step `cache-gcp`, on the default branch only), and no other credential; create-packages' package
/// job never does.
#[test]
fn jobs_that_build_hold_no_credentials() {
    let mut builders = 0;
    for w in all().unwrap() {
        for j in &w.jobs {
            let builds = j.steps.iter().any(
                |s| matches!(s, WStep::Xtask { args, .. } if ["package", "test", "lint"].contains(&args[0].as_str())),
            );
            if !builds {
                continue;
            }
            builders += 1;
            let auths: Vec<Option<&str>> = (j.steps.iter())
                .filter_map(|s| match s {
                    WStep::Uses { action, id, .. } if action.repo == config::ACTION_GCP_AUTH.repo => Some(*id),
                    _ => None,
                })
                .collect();
            let cache_only = w.file == "lint-build-test.yml" && auths == [Some("cache-gcp")];
            let id_token = j.permissions.iter().any(|(k, _)| *k == "id-token");
            assert!(!id_token || cache_only, "{}/{} has id-token", w.file, j.id);
            assert!(j.environment.is_none(), "{}/{} runs in an environment", w.file, j.id);
            let text = format!("{:?}", j.steps);
            assert!(!text.contains("secrets."), "{}/{} references a secret", w.file, j.id);
        }
    }
    assert!(builders >= 3, "package, test and lint jobs: {builders}");
    let release = all().unwrap().into_iter().find(|w| w.file == "release.yml").unwrap();
    assert!(release.jobs.iter().any(|j| j.environment == Some(RELEASE_ENVIRONMENT)));
    assert!(!render(&release).contains("secrets."), "the release holds no publish token: trusted publishing");
    // A job that holds credentials compiles nothing: it runs the engine binary; the engine job that builds it
    // holds none and restores no cache.
    let mut holders = 0;
    for w in all().unwrap() {
        for j in &w.jobs {
            // The build cache's own account (lint-build-test's compiling jobs, on the default branch) is the one
            // credential a compiling job may hold: it can write the cache's prefix alone.
            let cache_only = j.steps.iter().any(|s| matches!(s, WStep::Uses { id: Some("cache-gcp"), .. }))
                && w.file == "lint-build-test.yml"
                && j.environment.is_none();
            let holds = (j.permissions.iter().any(|(k, _)| *k == "id-token") || j.environment.is_some()) && !cache_only;
            if holds {
                holders += 1;
                assert!(
                    !j.steps.iter().any(|s| matches!(s, WStep::Xtask { .. })),
                    "{}/{} compiles the xtask",
                    w.file,
                    j.id
                );
                assert!(j.needs.iter().any(|n| n == "plan"), "{}/{} does not wait for the engine", w.file, j.id);
            }
            let builds_engine = j.steps.iter().any(
                |s| matches!(s, WStep::Xtask { args, .. } if args.len() > 1 && args[0] == "ci" && args[1] == "engine"),
            );
            if builds_engine {
                assert!(!holds, "{}/{} builds the engine and holds credentials", w.file, j.id);
                let caches =
                    j.steps.iter().any(|s| matches!(s, WStep::Uses { action, .. } if action.repo.contains("cache")));
                assert!(!caches, "{}/{} restores a cache", w.file, j.id);
            }
        }
    }
    assert!(holders >= 3, "upload, sign and release hold credentials: {holders}");
}

/// One line per job of a replayed run: `workflow/job (platform): command; command`, `... [elsewhere]: ...` for a
/// row another system's runner runs, `...: skipped (why)` for a job that does not run.
fn replayed(shape: &Shape<'_>, name: &str, payload: serde_json::Value, only: Option<&str>, store: bool) -> Vec<String> {
    let t = crate::github::Trigger { name: name.into(), payload };
    let var = move |k: &str| match k {
        "ARTIFACT_STORE" if store => Some("gs://bucket/ci".to_owned()),
        _ => None,
    };
    let (jobs, _) = crate::pipeline::replay(shape, &t, only, &var, "/checkout").unwrap();
    jobs.iter()
        .map(|j| {
            let commands = || {
                j.commands.iter().map(|c| crate::pipeline::literal_command_line(&c.argv)).collect::<Vec<_>>().join("; ")
            };
            match &j.outcome {
                crate::pipeline::Outcome::Runs => format!("{}: {}", j.key(), commands()),
                crate::pipeline::Outcome::Elsewhere(_) => format!("{} [elsewhere]: {}", j.key(), commands()),
                crate::pipeline::Outcome::Skipped(why) => format!("{}: skipped ({why})", j.key()),
            }
        })
        .collect()
}

/// Every trigger of the pipeline, replayed as GitHub would run it: the workflows it starts, each job's outcome
/// (the plan job's decisions, `needs`, the matrix) and its command lines with the values CI gives them.
#[test]
fn every_trigger_replays_the_jobs_and_commands_of_its_run() {
    let shape = Shape::current();
    assert!(shape.heavy_tests, "this repository has #[ignore] tests");
    let json = |v: &str| serde_json::from_str::<serde_json::Value>(v).unwrap();
    // A pull request's run measures its sizes (where a bucket is configured); other triggers skip that job.
    let lbt_for = |platform_rows: &[&str], pull_request: bool| {
        let mut v =
            vec!["lint-build-test/plan: cargo xtask ci plan --workflow lint-build-test --github-output".to_owned()];
        v.push("lint-build-test/lint: cargo xtask lint --changed-since auto".into());
        v.extend(platform_rows.iter().map(|r| (*r).to_owned()));
        v.push(if pull_request {
            "lint-build-test/sizes: cargo xtask sizes --measure --store gs://bucket/ci".into()
        } else {
            "lint-build-test/sizes: skipped (the plan decided sizes=false)".into()
        });
        v.push("lint-build-test/test-heavy: cargo xtask test --part heavy --changed-since auto".into());
        v
    };
    let lbt = |platform_rows: &[&str]| lbt_for(platform_rows, false);
    let linux_test = "lint-build-test/test (linux): cargo xtask test --changed-since auto";
    let gates = "pr-gates/gates: cargo xtask gates".to_owned();
    let packages_plan = "create-packages/plan: cargo xtask ci engine --out target/engine; cargo xtask ci plan --workflow \
                         create-packages --github-output";
    let linux_targets = "--targets x86_64-unknown-linux-gnu,aarch64-unknown-linux-gnu";

    // A push to the main branch, with a bucket configured: tests, the wasm bundle, its upload and signature.
    let mut want = lbt(&[linux_test]);
    want.extend([
        packages_plan.to_owned(),
        format!("create-packages/package (linux): cargo xtask package --kinds wasm {linux_targets}"),
        "create-packages/upload (linux): cargo xtask upload --store gs://bucket/ci".into(),
        "create-packages/sign: cargo xtask sign --store gs://bucket/ci; cargo xtask sizes --store gs://bucket/ci"
            .into(),
    ]);
    assert_eq!(replayed(&shape, "push", json(r#"{"ref":"refs/heads/main"}"#), None, true), want);
    // Another branch starts nothing.
    assert_eq!(replayed(&shape, "push", json(r#"{"ref":"refs/heads/feature"}"#), None, true), Vec::<String>::new());
    // A tag: the release, which a replay never lets publish.
    assert_eq!(
        replayed(&shape, "push", json(r#"{"ref":"refs/tags/v1.2.3"}"#), None, true),
        [
            "release/plan: cargo xtask ci engine --out target/engine; cargo xtask ci plan --workflow release --github-output",
            "release/release: cargo xtask release --commit event --version event --store gs://bucket/ci",
        ]
    );
    // The schedule, without a bucket: every platform builds exactly its ci.toml `builds`; nothing is uploaded.
    assert_eq!(
        replayed(&shape, "schedule", json(r#"{"schedule":"17 3 * * *"}"#), None, false),
        [
            packages_plan.to_owned(),
            format!(
                "create-packages/package (linux): cargo xtask package --kinds crates,wheels,sdists,wasm,recordings,binaries \
                 {linux_targets}"
            ),
            "create-packages/package (windows) [elsewhere]: cargo xtask package --kinds wheels,binaries --targets \
             x86_64-pc-windows-msvc"
                .into(),
            "create-packages/package (macos) [elsewhere]: cargo xtask package --kinds wheels,binaries --targets \
             aarch64-apple-darwin"
                .into(),
            "create-packages/upload: skipped (the plan decided upload=false)".into(),
            "create-packages/sign: skipped (needs upload, which does not run)".into(),
        ]
    );
    // A dispatch names its workflow (the payload's `workflow`, or --workflow) and its inputs.
    let dispatch = json(
        r#"{"workflow":".github/workflows/create-packages.yml","ref":"refs/heads/main","inputs":{"platforms":"windows","kinds":"wheels,wasm"}}"#,
    );
    assert_eq!(
        replayed(&shape, "workflow_dispatch", dispatch, None, true),
        [
            packages_plan.to_owned(),
            "create-packages/package (windows) [elsewhere]: cargo xtask package --kinds wheels --targets x86_64-pc-windows-msvc"
                .into(),
            "create-packages/upload (windows): cargo xtask upload --store gs://bucket/ci".into(),
            "create-packages/sign: cargo xtask sign --store gs://bucket/ci; cargo xtask sizes --store gs://bucket/ci".into(),
        ]
    );
    let tests = json(r#"{"inputs":{"platforms":"linux,macos"}}"#);
    assert_eq!(
        replayed(&shape, "workflow_dispatch", tests.clone(), Some("lint-build-test"), false),
        lbt(&[linux_test, "lint-build-test/test (macos) [elsewhere]: cargo xtask test --changed-since auto"])
    );
    let t = crate::github::Trigger { name: "workflow_dispatch".into(), payload: tests };
    let err = crate::pipeline::replay(&shape, &t, None, &|_| None, "/c").unwrap_err().to_string();
    assert!(err.contains("a workflow_dispatch runs one workflow") && err.contains("fix: pass --workflow"), "{err}");
    // Pull requests: the gates on every activity type they list, the tests on GitHub's default ones.
    let pr = |action: &str| json(&format!(r#"{{"action":"{action}","pull_request":{{"number":7}}}}"#));
    for action in ["opened", "synchronize", "reopened"] {
        let mut want = vec![gates.clone()];
        want.extend(lbt_for(&[linux_test], true));
        assert_eq!(replayed(&shape, "pull_request", pr(action), None, true), want, "{action}");
    }
    for action in ["labeled", "unlabeled", "edited"] {
        assert_eq!(replayed(&shape, "pull_request", pr(action), None, true), std::slice::from_ref(&gates), "{action}");
    }
    assert_eq!(replayed(&shape, "pull_request", pr("closed"), None, true), Vec::<String>::new());
    // The merge queue: the same required checks as a pull request.
    let group = json(
        r#"{"action":"checks_requested","merge_group":{"head_ref":"refs/heads/gh-readonly-queue/main/pr-7-0123456789abcdef0123456789abcdef01234567"}}"#,
    );
    let mut want = vec![gates.clone()];
    want.extend(lbt(&[linux_test]));
    assert_eq!(replayed(&shape, "merge_group", group, None, true), want);
}

/// The trigger of a replay: named by the flag or by the payload's shape, a minimal payload where one is enough,
/// and a refusal with a fix where it is not.
#[test]
fn a_replay_reads_its_trigger_from_the_file_or_the_name() {
    let shape = Shape::current();
    let dir = crate::testutil::temp_dir("replay-trigger");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let of = |file: Option<&camino::Utf8Path>, name: Option<&str>| crate::pipeline::trigger_of(file, name, &shape);
    let pr = write("pr.json", r#"{"action":"opened","pull_request":{"number":1}}"#);
    assert_eq!(of(Some(&pr), None).unwrap().name, "pull_request");
    let push = write("push.json", r#"{"ref":"refs/tags/v1.0.0","before":"0000"}"#);
    assert_eq!(of(Some(&push), None).unwrap().name, "push");
    let t = of(None, Some("push")).unwrap();
    assert_eq!(t.payload["ref"], "refs/heads/main");
    assert_eq!(of(None, Some("schedule")).unwrap().name, "schedule");
    let odd = write("odd.json", r#"{"zen":"x"}"#);
    let e = of(Some(&odd), None).unwrap_err().to_string();
    assert!(e.contains("cannot tell which event") && e.contains("fix: name it with --event-name"), "{e}");
    let e = of(None, Some("pull_request")).unwrap_err().to_string();
    assert!(e.contains("needs its payload") && e.contains("fix: pass --event FILE"), "{e}");
    let e = of(None, Some("issues")).unwrap_err().to_string();
    assert!(e.contains("no workflow of this pipeline runs on `issues`"), "{e}");
    let bad = write("bad.json", "{not json");
    assert!(of(Some(&bad), None).unwrap_err().to_string().contains("is not JSON"));
    // The commands of a replay read the trigger as under GitHub Actions.
    let head = "a".repeat(40);
    let env = crate::pipeline::event_env(&of(Some(&push), None).unwrap(), "/e.json", "main", &head);
    for want in
        [("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v1.0.0"), ("XTASK_REPLAY", "1"), ("GITHUB_SHA", &head)]
    {
        assert!(env.iter().any(|(k, v)| k == want.0 && v == want.1), "{want:?} in {env:?}");
    }
    let b = "b".repeat(40);
    let after = write("after.json", &format!(r#"{{"ref":"refs/heads/main","before":"0","after":"{b}"}}"#));
    let env = crate::pipeline::event_env(&of(Some(&after), None).unwrap(), "/e.json", "main", &head);
    assert!(env.contains(&("GITHUB_SHA".to_owned(), b.clone())), "the event's commit: {env:?}");
    let env = crate::pipeline::event_env(&of(Some(&pr), None).unwrap(), "/e.json", "main", &head);
    assert!(env.contains(&("GITHUB_REF_NAME".to_owned(), "1/merge".to_owned())), "GitHub's name: {env:?}");
    // A field of the wrong type is refused, not read as something else.
    for (name, payload, want) in [
        ("n1.json", r#"{"action":5,"pull_request":{"number":1}}"#, "the event's `action` is a number, not a string"),
        ("n2.json", r#"{"action":"opened","pull_request":null}"#, "the event's `pull_request` is null, not an object"),
        (
            "n3.json",
            r#"{"pull_request":{"number":"5; rm -rf /"}}"#,
            "`pull_request.number` is a string, not a pull request number",
        ),
        ("n4.json", r#"{"merge_group":{"head_ref":5}}"#, "`merge_group.head_ref` is a number, not a string"),
        ("n5.json", r#"{"inputs":{"platforms":["windows"]}}"#, ""),
        ("n6.json", r#"[1,2]"#, "the event payload is not a JSON object"),
    ] {
        let f = write(name, payload);
        match of(Some(&f), None) {
            Err(e) => assert!(
                e.to_string().contains(want)
                    && e.to_string().contains(
                        "
fix: "
                    ),
                "{name}: {e}"
            ),
            // A dispatch input of the wrong type is refused where it is read: by the plan.
            Ok(t) => {
                let e = crate::pipeline::decide(shape.settings, "create-packages", &t, None, &|_| None).unwrap_err();
                assert!(e.to_string().contains("the dispatch input `platforms` is an array, not a string"), "{e}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A repository of another shape: one platform with an x86_64 wheel only, no wasm bundle, no `#[ignore]` tests,
/// and two jobs of its own. The pipeline follows: no heavy job, no package job on a push (no wasm bundle to
/// build), its own jobs generated into the workflow, run where their triggers say, and allowed by the rules.
#[test]
fn the_pipeline_follows_the_repository_s_facts_and_jobs() {
    let toml = r#"
[[python]]
dist = "fx"
module = "fx"
dir = "py"
tests = "py/tests"

[[platform]]
name = "gnu"
runner = "ubuntu-24.04"
target = "x86_64-unknown-linux-gnu"
wheels = ["x86_64-unknown-linux-gnu"]
builds = ["crates", "wheels"]

[[job]]
name = "docs"
workflow = "lint-build-test"
on = ["push"]
run = ["cargo", "doc", "--no-deps", "--workspace"]

[[job]]
name = "deps"
workflow = "lint-build-test"
run = ["cargo", "xtask", "doctor"]
needs = ["lint"]

[workflows]
allow = ["fuzz.yml"]
"#;
    let settings = crate::settings::Loaded {
        path: "ci.toml".into(),
        source: Some(toml.into()),
        settings: crate::settings::parse(toml).unwrap(),
    };
    let shape = Shape { settings: &settings, heavy_tests: false };
    assert!(!shape.has_heavy_part(), "no #[ignore] test and no aarch64 wheel to test under qemu");
    let workflows = crate::pipeline::all_in(&shape).unwrap();
    let lbt = workflows.iter().find(|w| w.name == "lint-build-test").unwrap();
    let ids: Vec<&str> = lbt.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["plan", "lint", "test", "sizes", "docs", "deps"]);
    let yaml = render(lbt);
    assert!(yaml.contains("  docs:\n    name: docs\n    runs-on: ubuntu-24.04\n    if: fromJSON(needs.plan.outputs.run_docs)\n    needs: [plan]\n"), "{yaml}");
    assert!(yaml.contains("      run_docs: ${{ steps.plan.outputs.run_docs }}\n"), "{yaml}");
    assert!(yaml.contains("run: cargo doc --no-deps --workspace\n") && yaml.contains("run: cargo xtask doctor\n"));
    let declared = crate::pipeline::declared_runs(&settings);
    assert_eq!(rules_with("lint-build-test.yml", &yaml, Some(&declared)), Vec::<String>::new());
    // Undeclared, the same command is no `cargo xtask` step.
    assert!(rules_with("lint-build-test.yml", &yaml, Some(&[]))[0].contains("`run: cargo doc --no-deps --workspace`"));
    // With an aarch64 wheel there is the qemu test, so a heavy job.
    let aarch64 = toml.replace(
        "wheels = [\"x86_64-unknown-linux-gnu\"]",
        "wheels = [\"x86_64-unknown-linux-gnu\", \"aarch64-unknown-linux-gnu\"]",
    );
    let with_arm = crate::settings::Loaded {
        path: "ci.toml".into(),
        settings: crate::settings::parse(&aarch64).unwrap(),
        source: Some(aarch64),
    };
    assert!(Shape { settings: &with_arm, heavy_tests: false }.has_heavy_part());

    let push = serde_json::json!({"ref": "refs/heads/main"});
    assert_eq!(
        replayed(&shape, "push", push, None, true),
        [
            "lint-build-test/plan: cargo xtask ci plan --workflow lint-build-test --github-output",
            "lint-build-test/lint: cargo xtask lint --changed-since auto",
            "lint-build-test/test (gnu): cargo xtask test --changed-since auto",
            "lint-build-test/sizes: skipped (the plan decided sizes=false)",
            "lint-build-test/docs: cargo doc --no-deps --workspace",
            "lint-build-test/deps: cargo xtask doctor",
            "create-packages/plan: cargo xtask ci engine --out target/engine; cargo xtask ci plan --workflow create-packages --github-output",
            "create-packages/package: skipped (the plan decided any=false)",
            "create-packages/upload: skipped (needs package, which does not run)",
            "create-packages/sign: skipped (needs upload, which does not run)",
        ]
    );
    let pr = serde_json::json!({"action": "opened", "pull_request": {"number": 3}});
    let lines = replayed(&shape, "pull_request", pr, None, true);
    assert!(lines.contains(&"lint-build-test/docs: skipped (the plan decided run_docs=false)".to_owned()), "{lines:?}");
    assert!(lines.contains(&"lint-build-test/deps: cargo xtask doctor".to_owned()), "{lines:?}");
    // `cargo xtask ci` (every job, locally) knows them too.
    let t = crate::github::Trigger { name: "local".into(), payload: serde_json::json!({}) };
    let d = crate::pipeline::decide(&settings, "lint-build-test", &t, None, &|_| None).unwrap();
    assert!(d.flag("run_docs"), "a local run stands for every trigger");
}

/// Every workflow file is linted: a hand-written one ci.toml allows by its own rules (here a template injection,
/// named as one, by the engine's rules and by zizmor), and one neither generated nor allowed is refused with a
/// fix that names ci.toml.
#[test]
fn hand_written_workflows_are_allowed_by_ci_toml_and_linted_like_the_rest() {
    let toml = "[[platform]]\nname = \"gnu\"\nrunner = \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\nbuilds = [\"crates\"]\n\n[workflows]\nallow = [\"fuzz.yml\"]\n";
    let settings = crate::settings::Loaded {
        path: "ci.toml".into(),
        source: Some(toml.into()),
        settings: crate::settings::parse(toml).unwrap(),
    };
    let shape = Shape { settings: &settings, heavy_tests: false };
    let root = crate::testutil::temp_dir("hand-written");
    std::fs::create_dir_all(root.join(DIR)).unwrap();
    for (path, text) in generated_in(&root, &shape).unwrap() {
        std::fs::write(root.join(path), text).unwrap();
    }
    let checkout = pinned(&config::ACTION_CHECKOUT);
    let fuzz = format!(
        "name: fuzz\non:\n  pull_request:\npermissions:\n  contents: read\njobs:\n  fuzz:\n    runs-on: ubuntu-latest\n    \
         permissions:\n      contents: read\n    steps:\n      - uses: {checkout}\n        with:\n          persist-credentials: false\n      \
         - run: echo \"${{{{ github.event.pull_request.title }}}}\"\n"
    );
    std::fs::write(root.join(DIR).join("fuzz.yml"), &fuzz).unwrap();
    assert_eq!(drift_in(&root, &shape).unwrap(), Vec::<String>::new());
    let problems = rules_of_every_file(&root, &shape).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with(".github/workflows/fuzz.yml:15: template injection"), "{problems:?}");
    // Its own scripts are its own: a plain `run:` is no finding.
    let clean = fuzz.replace("echo \"${{ github.event.pull_request.title }}\"", "make fuzz");
    std::fs::write(root.join(DIR).join("fuzz.yml"), &clean).unwrap();
    assert_eq!(rules_of_every_file(&root, &shape).unwrap(), Vec::<String>::new());
    // Not allowed: refused, with the key that allows it.
    std::fs::write(root.join(DIR).join("bench.yaml"), &clean).unwrap();
    let problems = drift_in(&root, &shape).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("bench.yaml is neither generated nor allowed")
            && problems[0].contains("ci.toml `[workflows] allow")
    );
    assert!(!problems[0].contains("xtask/src"), "the fix names ci.toml, not the engine's source: {problems:?}");
    // The lint runs the real zizmor on every file: it names the injection too.
    let sh = xshell::Shell::new().unwrap();
    let tools = crate::tools::Tools::new(&crate::project_root(), false);
    tools.ensure(&sh, &["zizmor"]).expect("provision zizmor");
    let zizmor = tools.probe(&sh, config::tool::ZIZMOR.tool()).unwrap().path.unwrap();
    std::fs::write(root.join(DIR).join("fuzz.yml"), &fuzz).unwrap();
    let file = root.join(DIR).join("fuzz.yml");
    let out = xshell::cmd!(sh, "{zizmor} --offline --no-progress --color never {file}")
        .quiet()
        .ignore_status()
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && report.contains("template-injection"), "{report}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// The heavy part exists where a test is marked `#[ignore]`: an attribute, not a mention in a comment, and not in
/// a crate ci.toml leaves out of the tests (a copied xtask's own scenarios).
#[test]
fn heavy_tests_are_attributes_outside_excluded_crates() {
    let root = crate::testutil::temp_dir("heavy-scan");
    let write = |path: &str, text: &str| {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("crates/a/Cargo.toml", "[package]\nname = \"a\"\n");
    write("crates/a/src/lib.rs", "// tests marked #[ignore] are slow\n#[test]\nfn t() {}\n");
    write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\n");
    write("xtask/src/main.rs", "#[test]\n#[ignore = \"heavy\"]\nfn slow() {}\n");
    write("target/debug/build/x.rs", "#[ignore]\n");
    let excluded = ["xtask".to_owned()];
    assert!(!crate::pipeline::heavy_tests_in(&root, &excluded));
    assert!(crate::pipeline::heavy_tests_in(&root, &[]), "the xtask's own, when it is tested");
    write("crates/a/tests/it.rs", "#[test]\n#[cfg_attr(not(feature = \"slow\"), ignore)]\nfn slow() {}\n");
    assert!(crate::pipeline::heavy_tests_in(&root, &excluded), "ignored unless a feature is on");
    write("crates/a/tests/it.rs", "#[test]\n#[cfg_attr(miri, ignored_by_another_tool)]\nfn t() {}\n");
    assert!(!crate::pipeline::heavy_tests_in(&root, &excluded));
    write("crates/a/tests/it.rs", "#[test]\n    #[ignore = \"slow\"]\nfn slow() {}\n");
    assert!(crate::pipeline::heavy_tests_in(&root, &excluded));
    std::fs::remove_dir_all(&root).unwrap();
}

/// The critical path of a replayed run: the chain through `needs` whose measured times add up to the most.
#[test]
fn the_critical_path_follows_needs_and_the_slowest_row() {
    let shape = Shape::current();
    let t = crate::github::Trigger {
        name: "workflow_dispatch".into(),
        payload: serde_json::json!({"inputs": {"platforms": "linux,windows"}}),
    };
    let (jobs, _) = crate::pipeline::replay(&shape, &t, Some("lint-build-test"), &|_| None, "/c").unwrap();
    let times = |heavy: f64| {
        move |j: &crate::pipeline::ReplayJob| match (j.job.as_str(), j.platform.as_deref()) {
            ("plan", _) => Some(2.0),
            ("lint", _) => Some(50.0),
            ("test", Some("linux")) => Some(60.0),
            ("test", _) => Some(90.0),
            ("test-heavy", _) => Some(heavy),
            _ => None,
        }
    };
    assert_eq!(
        crate::pipeline::critical_paths(&jobs, &times(100.0)),
        ["critical path of lint-build-test: lint-build-test/test-heavy 100.0s = 100.0s"]
    );
    // The matrix job waits for its slowest row, after the plan.
    assert_eq!(
        crate::pipeline::critical_paths(&jobs, &times(10.0)),
        ["critical path of lint-build-test: lint-build-test/plan 2.0s -> lint-build-test/test (windows) 90.0s = 92.0s"]
    );
}

/// The rules read a hand-written file by its own indentation, and find expressions in every script form: a
/// `run: |` block, a folded `run: >-`, a quoted `"run":` key, actions/github-script's `script:`; a file in flow
/// style (JSON) is refused with the fix instead of being misread.
#[test]
fn the_rules_read_any_indentation_and_every_script_form() {
    let checkout = pinned(&config::ACTION_CHECKOUT);
    let wide = format!(
        "name: publish\non:\n    push:\n        tags: [\"v*\"]\npermissions:\n    contents: read\njobs:\n    publish:\n        \
         runs-on: ubuntu-latest\n        environment: release\n        permissions:\n            contents: read\n            \
         id-token: write\n        steps:\n            - uses: {checkout}\n              with:\n                persist-credentials: false\n            \
         - run: cargo publish\n              env:\n                CARGO_REGISTRY_TOKEN: ${{{{ secrets.TOKEN }}}}\n"
    );
    let problems = hand_written_rules("c.yml", &wide);
    assert!(
        problems.iter().any(|p| p.starts_with("c.yml:18: job `publish` holds credentials") && p.contains("runs cargo")),
        "{problems:?}"
    );
    assert!(!problems.iter().any(|p| p.contains("declares no `permissions:`")), "{problems:?}");
    let no_perms = wide.replace("        permissions:\n            contents: read\n            id-token: write\n", "");
    assert!(
        hand_written_rules("c.yml", &no_perms).iter().any(|p| p.contains("job `publish` declares no `permissions:`"))
    );

    let script = |step: &str| {
        format!(
            "name: s\non:\n  issues:\npermissions:\n  contents: read\njobs:\n  s:\n    runs-on: ubuntu-latest\n    permissions:\n      \
             contents: read\n    steps:\n{step}"
        )
    };
    for (what, step, line, kind) in [
        (
            "a run block",
            "      - run: |\n          echo hi\n          echo \"${{ github.event.issue.title }}\"\n",
            14,
            "run",
        ),
        ("a folded run", "      - run: >-\n          echo ${{ github.event.issue.body }}\n", 13, "run"),
        ("a quoted key", "      - \"run\": echo ${{ github.event.issue.title }}\n", 12, "run"),
        (
            "github-script",
            "      - uses: actions/github-script@60a0d83039c74a4aee543508d2ffcb1c3799cdea # v7.0.1\n        with:\n          script: |\n            \
             console.log(\"${{ github.event.issue.title }}\")\n",
            15,
            "script",
        ),
    ] {
        let problems = hand_written_rules("s.yml", &script(step));
        let want = format!("s.yml:{line}: template injection: `${{{{ ... }}}}` in a `{kind}:` script");
        assert!(problems.iter().any(|p| p.starts_with(&want)), "{what}: {problems:?}");
    }
    // Lines after a block belong to it no more.
    let after = script(
        "      - run: |\n          echo hi\n      - name: x\n        env:\n          T: ${{ github.event.issue.title }}\n        run: echo \"$T\"\n",
    );
    assert_eq!(hand_written_rules("s.yml", &after), Vec::<String>::new());
    let json = "{\"name\": \"j\", \"on\": \"push\", \"permissions\": {}, \"jobs\": {}}\n";
    assert_eq!(
        hand_written_rules("j.yml", json),
        [
            "j.yml:1: the workflow is written in YAML's flow style (as JSON): write it in block style, which these rules read"
        ]
    );
}

/// The repository's own jobs: after the jobs they need (declared later or not), skipped with them, on their own
/// platform's runner (not replayed on this machine when that is another system), their words literal everywhere;
/// a need the workflow lacks is refused.
#[test]
fn jobs_of_its_own_follow_needs_runners_and_their_words() {
    let toml = |extra: &str| {
        format!(
            "[[platform]]\nname = \"gnu\"\nrunner = \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\nbuilds = [\"crates\"]\n\n\
             [[platform]]\nname = \"win\"\nrunner = \"windows-2025\"\ntarget = \"x86_64-pc-windows-msvc\"\nbuilds = []\n\n\
             [[job]]\nname = \"a\"\nworkflow = \"release\"\nrun = [\"echo\", \"$HOME\", \"it's\"]\nneeds = [\"b\"]\n\n\
             [[job]]\nname = \"b\"\nworkflow = \"release\"\non = [\"workflow_dispatch\"]\nrun = [\"true\"]\n\n\
             [[job]]\nname = \"w\"\nworkflow = \"release\"\nplatform = \"win\"\nrun = [\"cmd\"]\n{extra}"
        )
    };
    let text = toml("");
    let settings = crate::settings::Loaded {
        path: "ci.toml".into(),
        settings: crate::settings::parse(&text).unwrap(),
        source: Some(text),
    };
    let shape = Shape { settings: &settings, heavy_tests: false };
    let release = crate::pipeline::all_in(&shape).unwrap().into_iter().find(|w| w.name == "release").unwrap();
    let ids: Vec<&str> = release.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["plan", "release", "b", "a", "w"], "each after what it needs");
    let yaml = render(&release);
    assert!(yaml.contains("        run: echo '$HOME' 'it'\\''s'\n"), "literal words: {yaml}");
    assert!(yaml.contains("defaults:\n  run:\n    shell: bash\n"), "{yaml}");
    // A tag push: `b` runs only on a dispatch, so `a`, which needs it, does not run either.
    let tag = serde_json::json!({"ref": "refs/tags/v1.0.0"});
    let lines = replayed(&shape, "push", tag, None, false);
    assert!(lines.contains(&"release/b: skipped (the plan decided run_b=false)".to_owned()), "{lines:?}");
    assert!(lines.contains(&"release/a: skipped (needs b, which does not run)".to_owned()), "{lines:?}");
    assert!(lines.contains(&"release/w [elsewhere]: cmd".to_owned()), "the Windows runner's: {lines:?}");
    let dispatch = serde_json::json!({"inputs": {"commit": "c", "version": "1.0.0"}});
    let lines = replayed(&shape, "workflow_dispatch", dispatch, Some("release"), false);
    let (b, a) = (
        lines.iter().position(|l| l == "release/b: true"),
        lines.iter().position(|l| l.starts_with("release/a: echo")),
    );
    assert!(b.is_some() && a.is_some() && b < a, "{lines:?}");
    assert!(lines.contains(&"release/a: echo '$HOME' 'it'\\''s'".to_owned()), "the same words: {lines:?}");
    // A need of a job this repository's workflow does not have.
    let text = toml(
        "\n[[job]]\nname = \"after\"\nworkflow = \"lint-build-test\"\nrun = [\"true\"]\nneeds = [\"test-heavy\"]\n",
    );
    let settings = crate::settings::Loaded {
        path: "ci.toml".into(),
        settings: crate::settings::parse(&text).unwrap(),
        source: Some(text),
    };
    let e = crate::pipeline::all_in(&Shape { settings: &settings, heavy_tests: false }).unwrap_err().to_string();
    assert!(
        e.contains("the job `after` needs `test-heavy`, which lint-build-test does not have") && e.contains("\nfix: "),
        "{e}"
    );
}

/// A package that lists interpreters: the package and test jobs install them with a pinned setup-python before
/// the tools cache (which gets a key of its own), each platform the versions it needs: the native Windows build
/// every interpreter, the zig cross-builds on Linux none; the tests every one. The engine's Python comes last.
#[test]
fn interpreters_a_runner_needs_come_from_setup_python_per_platform() {
    let settings = crate::testutil::non_abi3_repository();
    let m = crate::pipeline::matrix_in(settings, "linux,windows").unwrap();
    assert_eq!(m["include"][0]["build_pythons"], "3.12", "zig needs none");
    let every = "pypy3.11\n3.9\n3.10\n3.11\n3.13\n3.14\n3.14t\n3.12";
    assert_eq!(m["include"][1]["build_pythons"], every, "PyPy first (its python3.11 below CPython's), 3.12 last, once");
    assert_eq!(m["include"][0]["test_pythons"], every);
    let shape = crate::pipeline::Shape::of(camino::Utf8Path::new("/fx"), settings);
    let all = crate::pipeline::all_in(&shape).unwrap();
    let text: String = all.iter().map(crate::pipeline::render).collect();
    for (key, job) in [("build_pythons", "package"), ("test_pythons", "test")] {
        let step = format!("python-version: ${{{{ matrix.{key} }}}}");
        let at = text.find(&step).unwrap_or_else(|| panic!("{job}: {step}"));
        let before = &text[..at];
        assert!(
            before
                .ends_with(&format!("uses: actions/setup-python@{} # v5.6.0\n        with:\n          ", config_sha())),
            "{job}"
        );
        let after = &text[at..];
        let cache = after.find("key: tools-${{ runner.os }}-setup-python-3.12-").expect("its own tools cache key");
        assert!(cache < after.find("cargo xtask").unwrap(), "{job}: the cache after setup-python");
    }
    // This repository ships abi3 wheels: no setup-python anywhere.
    let ours: String = crate::pipeline::all().unwrap().iter().map(crate::pipeline::render).collect();
    assert!(!ours.contains("setup-python"));
}

fn config_sha() -> &'static str {
    crate::config::ACTION_SETUP_PYTHON.sha
}

/// `[test] shards = 3`: the Rust unit tests built once (test-build), run in three shards from the plan's
/// `shards` matrix, joined after them even when one failed (`!cancelled()`), and left out of the first platform's
/// test job (`--unit-tests shards`, from the matrix); a pull request replays every shard with its own `K/N`.
#[test]
fn sharded_tests_are_built_once_run_in_partitions_and_joined() {
    let text = "[test]\ndefault-parts = [\"rust\"]\nshards = 3\n\n[[platform]]\nname = \"linux\"\nrunner = \
                \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\nbuilds = [\"crates\"]\n\n[[platform]]\n\
                name = \"mac\"\nrunner = \"macos-14\"\ntarget = \"aarch64-apple-darwin\"\nbuilds = [\"crates\"]\n";
    let settings = crate::testutil::loaded(text);
    let shape = Shape::of(camino::Utf8Path::new("/fx"), &settings);
    let all = crate::pipeline::all_in(&shape).unwrap();
    let lbt = all.iter().find(|w| w.name == "lint-build-test").unwrap();
    let ids: Vec<&str> = lbt.jobs.iter().map(|j| j.id.as_str()).collect();
    for id in ["test-build", "test-shard", "test-join"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let yaml = crate::pipeline::render(lbt);
    assert!(yaml.contains("matrix: ${{ fromJSON(needs.plan.outputs.shards) }}"), "{yaml}");
    assert!(yaml.contains("needs: [plan, test-build]") && yaml.contains("needs: [test-shard]"), "{yaml}");
    let join = yaml.split("  test-join:").nth(1).unwrap();
    assert!(join.contains("    if: ${{ !cancelled() }}") && join.contains("merge-multiple: \"true\""), "{join}");
    assert!(!yaml.contains("run_attempt"), "a re-run of a failed shard finds the archive and every shard's file");
    let shard = yaml.split("  test-shard:").nth(1).unwrap().split("  test-join:").next().unwrap();
    assert!(
        shard.contains("        if: ${{ !cancelled() }}"),
        "the JUnit file is handed on after a failed shard: {shard}"
    );
    let m = crate::pipeline::matrix_in(&settings, "linux,mac").unwrap();
    assert_eq!(
        (m["include"][0]["unit_tests"].as_str(), m["include"][1]["unit_tests"].as_str()),
        (Some("shards"), Some("here"))
    );
    let pr = serde_json::json!({"pull_request": {"base": {"ref": "main", "sha": "0".repeat(40)}, "head": {"sha": "1".repeat(40)}, "number": 1}});
    let lines = replayed(&shape, "pull_request", pr, Some("lint-build-test"), false);
    let shards: Vec<&String> = lines.iter().filter(|l| l.starts_with("lint-build-test/test-shard")).collect();
    assert_eq!(shards.len(), 3, "{lines:#?}");
    assert!(shards[2].contains("test --shard 3/3 --archive target/ci/tests.tar.zst"), "{shards:?}");
    let test = lines.iter().find(|l| l.starts_with("lint-build-test/test (linux)")).unwrap();
    assert!(test.contains("--unit-tests shards"), "{test}");
    let ours: String = crate::pipeline::all().unwrap().iter().map(crate::pipeline::render).collect();
    assert!(!ours.contains("test-shard"), "this repository runs its tests in one job");
}

/// A job whose only credential is the build cache's compiles (the cache is written while it compiles); the same
/// job is refused once its ID token could be more: an access token for later steps, another service account, an
/// action outside checkout, caches, Python and artifacts, or a secret.
#[test]
fn only_the_build_cache_s_credential_may_compile() {
    let (checkout, auth) = (pinned(&config::ACTION_CHECKOUT), pinned(&config::ACTION_GCP_AUTH));
    let file = |extra: &str, account: &str| {
        format!(
            "name: ci\non:\n  push:\npermissions:\n  contents: read\njobs:\n  test:\n    runs-on: ubuntu-latest\n    \
             permissions:\n      contents: read\n      id-token: write\n    steps:\n      - uses: {checkout}\n        \
             with:\n          persist-credentials: false\n      - uses: {auth}\n        with:\n          \
             workload_identity_provider: ${{{{ vars.P }}}}\n          service_account: {account}\n{extra}      \
             - run: cargo xtask test\n"
        )
    };
    let cargo = |p: &Vec<String>| p.iter().any(|p| p.contains("holds credentials") && p.contains("runs cargo"));
    let cache = "${{ vars.GCP_CACHE_SERVICE_ACCOUNT }}";
    let fine = hand_written_rules("c.yml", &file("", cache));
    assert!(!cargo(&fine), "{fine:?}");
    for (extra, account) in [
        ("          token_format: access_token\n", cache),
        ("", "${{ vars.GCP_SERVICE_ACCOUNT }}"),
        ("      - uses: aws-actions/configure-aws-credentials@0123456789012345678901234567890123456789\n", cache),
        ("      - run: echo ${{ secrets.X }}\n", cache),
        // A second auth step, as the provider's own identity (no service account).
        (
            &format!("      - uses: {auth}\n        with:\n          workload_identity_provider: ${{{{ vars.P }}}}\n"),
            cache,
        ),
    ] {
        let problems = hand_written_rules("c.yml", &file(extra, account));
        assert!(cargo(&problems), "{extra}{account}: {problems:?}");
    }
}

/// `[cache] authenticate = true`: lint-build-test's compiling jobs wait for the plan, get `id-token: write` and the
/// cache's auth step (run where the plan says), and the workflow rules accept them; create-packages' package job
/// gets neither; without the key no compiling job has an ID token.
#[test]
fn only_an_authenticating_cache_gives_compiling_jobs_an_id_token() {
    let text = std::fs::read_to_string(crate::project_root().join("ci.toml")).unwrap();
    let with = text.replace("\n[cache]\n", "\n[cache]\nauthenticate = true\n");
    assert_ne!(with, text, "this repository's ci.toml has a [cache]");
    let settings = crate::settings::Loaded {
        path: "ci.toml".into(),
        settings: crate::settings::parse(&with).unwrap(),
        source: Some(with),
    };
    let shape = Shape { settings: &settings, heavy_tests: true };
    let workflows = crate::pipeline::all_in(&shape).unwrap();
    for w in &workflows {
        for j in &w.jobs {
            let id_token = j.permissions.iter().any(|(k, _)| *k == "id-token");
            let auth = j.steps.iter().any(|s| matches!(s, WStep::Uses { id: Some("cache-gcp"), .. }));
            let compiles = j.steps.iter().any(
                |s| matches!(s, WStep::Xtask { args, .. } if ["lint", "test", "package"].contains(&args[0].as_str())),
            );
            if w.name == "lint-build-test" && compiles {
                assert!(id_token && auth && j.needs.iter().any(|n| n == "plan"), "{}/{}", w.file, j.id);
            } else {
                assert!(!auth, "{}/{} authenticates as the cache", w.file, j.id);
            }
        }
        assert_eq!(security_rules(w.file, &render(w)), Vec::<String>::new(), "{}", w.file);
    }
    let lbt = render(workflows.iter().find(|w| w.name == "lint-build-test").unwrap());
    assert!(lbt.contains("if: fromJSON(needs.plan.outputs.cache_auth)"), "{lbt}");
}
