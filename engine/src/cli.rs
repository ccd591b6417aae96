//! Every flag of every job, declared once, in one grammar (xflags, as rust-analyzer's xtask does: a proc macro
//! without syn, so the xtask's cold build stays small): `cargo xtask --help` and `cargo xtask JOB --help` are
//! the manual. [`parse_from`] turns the flags into a [`Job`] with its typed arguments.

use anyhow::{Result, bail};

use crate::ctx::Global;
use crate::jobs::Job;
use crate::jobs::test::Part;
use crate::manifest::Kind;

pub mod flags {
    xflags::xflags! {
        /// The CI system of this repository: every CI job is a `cargo xtask` subcommand, run the same way on a
        /// laptop and in CI. Every job builds a plan first: --dry-run prints it, --json emits it (or a report) as
        /// one JSON document; neither acts (no upload, publish, signature, download or install). Exit status: 0
        /// success; 1 the job ran and something failed (the log names the command that reproduces it); 2 the job
        /// could not run and did nothing (bad or contradictory flags, bad input, a missing tool: the message says
        /// how to fix it).
        cmd xtask {
            /// Print the plan (steps, commands, tools) and run nothing.
            optional --dry-run
            /// Emit the plan (or the result, for jobs that report) as JSON and run nothing else.
            optional --json
            /// Run every step even after one fails; report all failures at the end.
            optional --keep-going
            /// Never provision tools; stop with the command that installs a missing one.
            optional --offline
            /// How many independent steps run at once, 1 to 64 [default: the number of CPUs, at least 2].
            optional -j, --jobs n: usize

            /// Check formatting and lints: rustfmt, clippy (this and the other platforms), ruff, taplo, typos,
            /// docs, each crate alone, features, the MSRV, cargo-deny, semver, links, the workflows.
            cmd lint {
                /// Apply the fixes the tools can make (cargo fmt, clippy --fix, ruff, taplo, typos), in the files
                /// the repository's own linter configs select (never what they exclude, such as test data).
                optional --fix
                /// Only what a change since REV affects (`auto`: the pull request's base in GitHub Actions,
                /// everything elsewhere); --dry-run shows why.
                optional --changed-since rev: String
            }
            /// Run the Rust tests, the Python tests on freshly built wheels, and the wasm bundles in node.
            cmd test {
                /// Run only these parts, comma-separated: rust, python, wasm, heavy (the slow scenarios), all
                /// [default: ci.toml's [test] default-parts].
                repeated --part parts: String
                /// Only what a change since REV affects (`auto`: the pull request's base in GitHub Actions).
                optional --changed-since rev: String
                /// After `--`: passed untouched to the Rust test runner (cargo nextest run / cargo test).
                repeated runner_args: String
            }
            /// PR gates: labels, blocking keywords, large files, invalid file patterns, the description's
            /// checklist. Compares HEAD with its merge-base with the base. Under GitHub Actions the pull_request event supplies labels, title, body
            /// and the base (a merge_group event: the base, with the PR's labels, title and body read from GitHub's API
            /// with $GITHUB_TOKEN); locally pass them with the flags. Rules: ci.toml's [gates] (or --defaults). Exit
            /// status: 0 every gate passed or was skipped; 1 a gate failed; 2 bad input.
            cmd gates {
                /// Compare with the merge-base of REV and HEAD [default: origin/HEAD, else ci.toml's main branch].
                optional --base rev: String
                /// A GitHub pull_request or merge_group event JSON [default: $GITHUB_EVENT_PATH under GitHub Actions].
                optional --event path: String
                /// The PR's labels, comma-separated ("" for none); overrides the event.
                optional --labels list: String
                /// One PR label, exactly (a label may hold a comma); repeatable; with --labels, both count.
                repeated --label name: String
                /// The PR title; overrides the event.
                optional --title text: String
                /// The PR body; overrides the event.
                optional --body text: String
                /// Check this commit instead of HEAD (overrides the event's head; refused if not here).
                optional --head rev: String
                /// Use the documented default gates (CONTRIBUTING.md), not ci.toml's [gates] section.
                optional --defaults
            }
            /// Build the commit's artifacts into target/packages/<commit>/ with a manifest.json. Without kind
            /// flags every kind the repository has is built; a kind unchanged on a clean tree is skipped.
            cmd package {
                /// The .crate packages of every publishable crate.
                optional --crates
                /// The Python wheels (maturin, abi3), checked with twine and auditwheel.
                optional --wheels
                /// The wasm bundles (static directories).
                optional --wasm
                /// The example scripts' recordings, made with the host wheel and verified.
                optional --recordings
                /// The programs, a .tar.gz per target.
                optional --binaries
                /// Every kind (the default when no kind is given).
                optional --all
                /// The kinds as a list (what workflows pass): crates,wheels,wasm,recordings,binaries or all.
                repeated --kinds list: String
                /// Wheel and program targets, comma-separated [default: the platform's wheels in ci.toml].
                repeated --target triples: String
                /// The same as --target.
                repeated --targets triples: String
                /// Directory holding one directory per commit [default: target/packages].
                optional --out dir: String
                /// Rebuild even what is up to date.
                optional --force
                /// Package HEAD in two fresh clones in different directories and compare every sha256; a wheel
                /// that differs is opened: the members that differ and the probable cause.
                optional --check-reproducible
            }
            /// Upload the commit's packages to the artifact store under commit/<sha>/: every artifact, a PEP 503
            /// index for the wheels, the manifest last; what is there with the same sha256 is skipped.
            cmd upload {
                /// gs://BUCKET/PREFIX, file:///PATH or a directory [default: ci.toml [store] default].
                optional --store url: String
                /// The GCS API endpoint, e.g. http://127.0.0.1:PORT [default: $STORAGE_EMULATOR_HOST].
                optional --endpoint url: String
                /// The commit to upload [default: HEAD].
                optional --commit sha: String
                /// Where `package` put it [default: target/packages].
                optional --from dir: String
                /// Upload a manifest made from a dirty tree.
                optional --allow-dirty
                /// Replace objects that exist with other content (a commit's artifacts are otherwise immutable).
                optional --overwrite
                /// Also point this mutable name at the commit (no-cache), e.g. branch/main/latest.
                repeated --alias name: String
                /// Change nothing; verify the store's simple index against the manifest.
                optional --check-index
            }
            /// Download a commit's artifacts from the store, each verified against the manifest's sha256.
            cmd download {
                /// gs://BUCKET/PREFIX, file:///PATH or a directory [default: ci.toml [store] default].
                optional --store url: String
                /// The GCS API endpoint, e.g. http://127.0.0.1:PORT [default: $STORAGE_EMULATOR_HOST].
                optional --endpoint url: String
                /// The full commit hash.
                required --commit sha: String
                /// Only these kinds, comma-separated: crates, wheels, wasm, recordings, binaries [default: all].
                repeated --kinds list: String
                /// Where to put them [default: target/downloads/<commit>].
                optional --out dir: String
                /// Download a manifest made from a dirty tree.
                optional --allow-dirty
            }
            /// Sign the store's manifest of a commit with the minisign key in $XTASK_SIGNING_KEY and upload
            /// manifest.json.minisig beside it; `minisign -V -p KEY.pub -m manifest.json` checks it too.
            cmd sign {
                /// gs://BUCKET/PREFIX, file:///PATH or a directory [default: ci.toml [store] default].
                optional --store url: String
                /// The GCS API endpoint, e.g. http://127.0.0.1:PORT [default: $STORAGE_EMULATOR_HOST].
                optional --endpoint url: String
                /// The commit [default: HEAD].
                optional --commit sha: String
                /// Sign with a throwaway key in target/local-signing/ (a laptop's stand-in for the release key).
                optional --local-key
            }
            /// Publish one commit's uploaded, signed artifacts to the crate registry and the package index,
            /// building nothing: downloaded and verified first, then crates in dependency order, wheels, web
            /// bundles; what is there is skipped. Without --execute a dry run. Tokens: CARGO_REGISTRY_TOKEN,
            /// PYPI_TOKEN (never printed).
            cmd release {
                /// The full commit hash; `event`: the one the trigger names (a dispatch's input, a tag push's commit).
                required --commit sha: String
                /// gs://BUCKET/PREFIX, file:///PATH or a directory [default: ci.toml [store] default].
                optional --store url: String
                /// The GCS API endpoint, e.g. http://127.0.0.1:PORT [default: $STORAGE_EMULATOR_HOST].
                optional --endpoint url: String
                /// The release version [default: the vX.Y.Z tag being built, else the workspace's]; `event`: the
                /// trigger's (a dispatch's input, the pushed tag).
                optional --version v: String
                /// Publish for real (otherwise: a dry run).
                optional --execute
                /// The crate registry's API [default: $XTASK_REGISTRY_API, else ci.toml [release] registry-api].
                optional --registry-api url: String
                /// Its index [default: $XTASK_REGISTRY_INDEX, else ci.toml [release] registry-index].
                optional --registry-index url: String
                /// The upload URL [default: $XTASK_PYPI_UPLOAD, else ci.toml [release] pypi-upload].
                optional --pypi-upload url: String
                /// Its simple index [default: $XTASK_PYPI_SIMPLE, else ci.toml [release] pypi-simple].
                optional --pypi-simple url: String
                /// Where the web bundles go [default: $XTASK_WEB_STORE, else ci.toml [store] web].
                optional --web-store url: String
                /// The minisign public key [default: ci.toml [release] signing-key].
                optional --public-key path: String
                /// In GitHub Actions, skip the check that the run is on tag v<version> or the default branch.
                optional --allow-any-ref
            }
            /// Generate .github/workflows/ and CONTRIBUTING.md's job table from the engine's pipeline and ci.toml.
            cmd workflows {
                /// Change nothing; fail with a diff if the committed files drift or break the rules.
                optional --check
            }
            /// Write a first ci.toml from the workspace (cargo metadata, the maturin pyproject.toml files, the
            /// wasm-bindgen crates, origin/HEAD) and say what it could not decide. --dry-run prints it.
            cmd init {
                /// Replace an existing ci.toml.
                optional --force
            }
            /// Run CI jobs locally exactly as CI does: `ci` every job, `ci <workflow>/<job>` one, `ci --event FILE`
            /// the workflow run an event starts; `ci list`, `ci plan`, `ci matrix`.
            cmd ci {
                /// List every workflow job with its commands.
                cmd list {}
                /// The plan job of a workflow: its decisions (platforms, kinds, which jobs run) for the trigger, as
                /// JSON, from the event, the repository's variables (the environment) and ci.toml.
                cmd plan {
                    /// The workflow: pr-gates, lint-build-test, create-packages or release.
                    required --workflow name: String
                    /// Comma-separated platform names [default: what the trigger asks, else ci.toml's first].
                    optional --platforms list: String
                    /// The event payload [default: $GITHUB_EVENT_PATH under GitHub Actions].
                    optional --event path: String
                    /// The event's name: push, schedule, workflow_dispatch, ... [default: $GITHUB_EVENT_NAME].
                    optional --event-name name: String
                    /// Also write each decision to $GITHUB_OUTPUT.
                    optional --github-output
                }
                /// Print the named platforms' matrix as JSON (ci.toml's first without --platforms).
                cmd matrix {
                    /// Comma-separated platform names.
                    optional --platforms list: String
                }
                /// Copy this xtask binary into DIR (`xtask`, or `xtask.exe`) and print its sha256: the engine a
                /// job that holds credentials runs, built in a job that holds none.
                cmd engine {
                    /// The directory to copy it into (relative to the repository root).
                    required --out dir: String
                }
                /// Run one job (WORKFLOW/JOB), or every job; with --event or --event-name, replay the workflow run
                /// that event starts.
                default cmd run {
                    /// The job to run [default: every job].
                    optional job: String
                    /// An event payload, as GitHub writes it to $GITHUB_EVENT_PATH: replay the run it starts.
                    optional --event path: String
                    /// The event's name (push, schedule, workflow_dispatch, pull_request, merge_group) [default:
                    /// read from the payload; without --event a minimal payload for push, schedule and dispatch].
                    optional --event-name name: String
                    /// Replay only this workflow (a dispatch must say which).
                    optional --workflow name: String
                    /// Leave out this job (WORKFLOW/JOB) of a run of every job; repeatable.
                    repeated --skip job: String
                }
            }
            /// Measure the CI system: medians over several runs (a benchmark, not a test).
            cmd bench {
                /// Which benchmarks: build, lint, package, changed, upload, gates, test, provision [default: all].
                repeated cases: String
                /// Runs per measurement, 1 to 100; the median is reported [default: 3].
                optional --runs n: usize
            }
            /// Show every external tool (pinned and found version, path, status, fix) and every setting of
            /// ci.toml with where it came from.
            cmd doctor {
                /// Install every missing or wrong-version tool that can be installed.
                optional --provision
                /// Only this tool (repeatable): its row, and with --provision only its install.
                repeated --tool name: String
            }
        }
    }
}

/// Refuses flags that contradict each other (exit 2, before anything runs). `--dry-run` and `--json` promise
/// that nothing acts; a flag that asks to act (`release --execute`, `lint --fix`) cannot be combined with them.
pub fn check_combination(g: &Global, job: &Job) -> anyhow::Result<()> {
    let acting = match job {
        Job::Release(a) if a.execute => Some("release --execute"),
        Job::Lint { fix: true, .. } => Some("lint --fix"),
        Job::Doctor { provision: true, .. } => Some("doctor --provision"),
        _ => None,
    };
    let mode = if g.dry_run {
        Some("--dry-run")
    } else if g.json {
        Some("--json")
    } else {
        None
    };
    if let (Some(acting), Some(mode)) = (acting, mode) {
        anyhow::bail!(
            "`{acting}` acts and `{mode}` promises that nothing acts: they contradict each other\nfix: drop one of them \
             (`{mode}` alone prints the plan)"
        );
    }
    Ok(())
}

/// Parses the process's arguments; bad flags exit 2 with the cause and the fix, `--help` prints the manual.
/// The engine's subcommands (a repository's own commands may not take these names).
pub const JOBS: &[&str] = &[
    "lint",
    "test",
    "doctor",
    "gates",
    "package",
    "upload",
    "download",
    "sign",
    "release",
    "workflows",
    "init",
    "ci",
    "bench",
];

/// The manual, then the repository's own commands (name, one line each).
pub fn print_help_with<'a>(own: impl Iterator<Item = (&'a str, &'a str)>) {
    let args = ["--help".to_owned()];
    if let Err(e) = parse_from(&args) {
        println!("{e}");
    }
    println!("\nThe repository's own commands (`cargo xtask NAME ARGS...`):");
    for (name, about) in own {
        println!("  {name:<12} {about}");
    }
}

pub fn parse() -> (Global, Job) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_from(&args) {
        Ok(parsed) => parsed,
        Err(e) if e.downcast_ref::<xflags::Error>().is_some_and(xflags::Error::is_help) => {
            println!("{}", help_for(&e.to_string(), &args));
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2)
        }
    }
}

/// The manual of the job the arguments name (`cargo xtask gates --help`: the `xtask gates` section), else all
/// of it.
fn help_for(full: &str, args: &[String]) -> String {
    let sections: Vec<&str> =
        full.lines().filter_map(|l| l.strip_prefix("xtask ")).filter(|n| !n.contains(' ')).collect();
    let Some(job) = args.iter().find(|a| sections.contains(&a.as_str())) else { return full.to_owned() };
    let head = format!("xtask {job}");
    let mut on = false;
    let mut out = Vec::new();
    for line in full.lines() {
        if line.starts_with("xtask") {
            on = line == head || line.starts_with(&format!("{head} "));
        }
        if on {
            out.push(line);
        }
    }
    format!(
        "{}\n\nOptions every job takes (--dry-run, --json, --keep-going, --offline, --jobs): cargo xtask --help",
        out.join("\n").trim_end()
    )
}

/// `--flag=value` as two arguments (up to a `--`, after which everything is the test runner's).
fn split_equals(args: &[String]) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        match a.split_once('=') {
            _ if rest => out.push(a.into()),
            Some((flag, value)) if flag.starts_with("--") && flag.len() > 2 => {
                out.push(flag.into());
                out.push(value.into());
            }
            _ => {
                rest = a == "--";
                out.push(a.into());
            }
        }
    }
    out
}

/// Comma-separated lists, each item trimmed, empty ones dropped.
fn items(lists: &[String]) -> Vec<String> {
    lists.iter().flat_map(|l| l.split(',')).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Parses arguments (without the program name) into the global options and the job.
pub fn parse_from(args: &[String]) -> Result<(Global, Job)> {
    use flags::XtaskCmd as C;
    let f = match flags::Xtask::from_vec(split_equals(args)) {
        Ok(f) => f,
        Err(e) if e.is_help() => return Err(e.into()),
        Err(e) => {
            let job = args.iter().find(|a| !a.starts_with('-')).map_or("", String::as_str);
            let help =
                if job.is_empty() { "cargo xtask --help".to_owned() } else { format!("cargo xtask {job} --help") };
            bail!("{}\nfix: see `{}`", crate::plan::printable(&e.to_string()), crate::plan::printable(&help));
        }
    };
    let jobs = match f.jobs {
        Some(n) if (1..=64).contains(&n) => n,
        Some(n) => bail!("--jobs {n} is out of range\nfix: pass --jobs 1 to 64"),
        None => std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
    };
    let global = Global { dry_run: f.dry_run, json: f.json, keep_going: f.keep_going, offline: f.offline, jobs };
    let job = match f.subcommand {
        C::Lint(l) => Job::Lint { fix: l.fix, changed_since: l.changed_since },
        C::Test(t) => {
            let mut parts = Vec::new();
            for p in items(&t.part) {
                match (p.as_str(), Part::named(&p)) {
                    ("all", _) => parts.extend(Part::ALL),
                    (_, Some(part)) => parts.push(part),
                    (other, None) => bail!(
                        "--part {}: no such part\nfix: choose from rust, python, wasm, heavy, all",
                        crate::plan::printable(other)
                    ),
                }
            }
            // No --part: ci.toml's `[test] default-parts` (the job reads them).
            parts.sort();
            parts.dedup();
            Job::Test { parts, runner_args: t.runner_args, changed_since: t.changed_since }
        }
        C::Gates(g) => Job::Gates(crate::jobs::gates::Args {
            base: g.base,
            event: g.event.map(Into::into),
            labels: match (g.labels, g.label.is_empty()) {
                (None, true) => None,
                (listed, _) => {
                    Some(listed.map(|l| items(&[l])).unwrap_or_default().into_iter().chain(g.label).collect())
                }
            },
            title: g.title,
            body: g.body,
            head: g.head,
            defaults: g.defaults,
        }),
        C::Package(p) => {
            let listed = items(&p.kinds);
            // `--kinds ""` (an unset variable in a workflow step) must not mean "everything".
            if !p.kinds.is_empty() && listed.is_empty() {
                bail!(
                    "--kinds is empty\nfix: name the kinds ({}, all), or leave the flag out to build all",
                    Kind::names()
                );
            }
            if let Some(bad) = listed.iter().find(|k| *k != "all" && Kind::parse(k).is_none()) {
                bail!("--kinds {}: no such kind\nfix: choose from {}, all", crate::plan::printable(bad), Kind::names());
            }
            let flags = [
                (p.crates, Kind::Crate),
                (p.wheels, Kind::Wheel),
                (p.wasm, Kind::Wasm),
                (p.recordings, Kind::Recording),
                (p.binaries, Kind::Binary),
            ];
            let mut kinds: Vec<Kind> = flags
                .into_iter()
                .filter(|(set, k)| *set || p.all || listed.iter().any(|l| l == k.as_str() || l == "all"))
                .map(|(_, k)| k)
                .collect();
            kinds.sort();
            let targets = p.target.into_iter().chain(p.targets).collect::<Vec<_>>();
            Job::Package(crate::jobs::package::Args {
                kinds,
                targets: items(&targets),
                out: p.out.map(Into::into),
                force: p.force,
                check_reproducible: p.check_reproducible,
            })
        }
        C::Upload(u) => Job::Upload(crate::jobs::upload::UploadArgs {
            store: u.store,
            endpoint: u.endpoint,
            commit: u.commit,
            from: u.from.map(Into::into),
            allow_dirty: u.allow_dirty,
            overwrite: u.overwrite,
            aliases: u.alias,
            check_index: u.check_index,
        }),
        C::Download(d) => {
            let mut kinds = Vec::new();
            for k in items(&d.kinds) {
                match Kind::parse(&k) {
                    Some(kind) => kinds.push(kind),
                    None => bail!(
                        "--kinds {}: no such kind\nfix: choose from {}",
                        crate::plan::printable(&k),
                        Kind::names()
                    ),
                }
            }
            Job::Download(crate::jobs::download::DownloadArgs {
                store: d.store,
                endpoint: d.endpoint,
                commit: d.commit,
                kinds,
                out: d.out.map(Into::into),
                allow_dirty: d.allow_dirty,
            })
        }
        C::Sign(s) => Job::Sign { store: s.store, endpoint: s.endpoint, commit: s.commit, local_key: s.local_key },
        C::Release(r) => Job::Release(crate::jobs::release::Args {
            commit: r.commit,
            store: r.store,
            endpoint: r.endpoint,
            version: r.version,
            execute: r.execute,
            registry_api: r.registry_api,
            registry_index: r.registry_index,
            pypi_upload: r.pypi_upload,
            pypi_simple: r.pypi_simple,
            web_store: r.web_store,
            public_key: r.public_key.map(Into::into),
            allow_any_ref: r.allow_any_ref,
        }),
        C::Workflows(w) => Job::Workflows { check: w.check },
        C::Init(i) => Job::Init { force: i.force },
        C::Ci(c) => match c.subcommand {
            flags::CiCmd::List(_) => Job::CiList,
            flags::CiCmd::Plan(p) => Job::CiPlan(crate::jobs::ci::PlanArgs {
                workflow: p.workflow,
                platforms: p.platforms,
                event: p.event.map(Into::into),
                event_name: p.event_name,
                github_output: p.github_output,
            }),
            flags::CiCmd::Matrix(m) => Job::CiMatrix { platforms: m.platforms },
            flags::CiCmd::Engine(e) => Job::CiEngine { out: e.out.into() },
            flags::CiCmd::Run(r) => Job::Ci(crate::jobs::ci::RunArgs {
                job: r.job,
                event: r.event.map(Into::into),
                event_name: r.event_name,
                workflow: r.workflow,
                skip: r.skip,
            }),
        },
        C::Bench(b) => {
            const CASES: &[&str] = &["build", "lint", "package", "changed", "upload", "gates", "test", "provision"];
            if let Some(bad) = b.cases.iter().find(|c| !CASES.contains(&c.as_str())) {
                bail!("no benchmark `{}`\nfix: choose from {}", crate::plan::printable(bad), CASES.join(", "));
            }
            let runs = match b.runs {
                None => 3,
                Some(n) if (1..=100).contains(&n) => n,
                Some(n) => bail!("--runs {n} is out of range\nfix: pass --runs 1 to 100"),
            };
            Job::Bench { cases: b.cases, runs }
        }
        C::Doctor(d) => Job::Doctor { provision: d.provision, tools: d.tool },
    };
    Ok((global, job))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`JOBS`] is the grammar's list of subcommands.
    #[test]
    fn the_list_of_jobs_is_the_grammar_s() {
        let help = parse_from(&["--help".to_owned()]).unwrap_err().to_string();
        let mut sections: Vec<&str> =
            help.lines().filter_map(|l| l.strip_prefix("xtask ")).filter(|n| !n.contains(' ')).collect();
        let mut jobs = JOBS.to_vec();
        sections.sort();
        jobs.sort();
        assert_eq!(sections, jobs);
    }

    fn parse(args: &[&str]) -> Result<(Global, Job)> {
        parse_from(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn bad_flags_name_the_cause_and_the_fix_in_two_lines() {
        for (args, want) in [
            (&["package", "--wheel"][..], "unexpected flag: `--wheel`\nfix: see `cargo xtask package --help`"),
            (&["frobnicate"][..], "\nfix: see `cargo xtask frobnicate --help`"),
            (&["lint", "--jobs", "0"][..], "--jobs 0 is out of range\nfix: pass --jobs 1 to 64"),
            (&["bench", "--runs", "0"][..], "--runs 0 is out of range"),
            (&["bench", "bogus"][..], "no benchmark `bogus`\nfix: choose from build"),
            (&["download", "--commit", "abc", "--kinds", "debs"][..], "--kinds debs: no such kind"),
            (&["release"][..], "flag is required: `--commit`"),
            (&["test", "--part", "a\u{1b}[2J"][..], "--part a\\u{1b}[2J: no such part"),
        ] {
            let e = format!("{:#}", parse(args).unwrap_err());
            assert!(e.contains(want), "{args:?}: {e}");
            assert_eq!(e.lines().count(), 2, "{args:?}: {e}");
        }
        // `--flag=value` is two arguments; after `--` nothing is split.
        let (_, job) = parse(&["release", "--commit=-h", "--version=1.0.0"]).unwrap();
        assert!(matches!(job, Job::Release(a) if a.commit == "-h" && a.version.as_deref() == Some("1.0.0")));
        let (_, job) = parse(&["test", "--", "--exact=a"]).unwrap();
        assert!(matches!(job, Job::Test { runner_args, .. } if runner_args == ["--exact=a"]));
        // `--help` is help, not an error; a job's help is its own section.
        let e = parse(&["gates", "--help"]).unwrap_err();
        assert!(e.downcast_ref::<xflags::Error>().is_some_and(xflags::Error::is_help));
        let gates = help_for(&e.to_string(), &["gates".to_owned(), "--help".to_owned()]);
        assert!(gates.starts_with("xtask gates") && gates.contains("--defaults"), "{gates}");
        assert!(!gates.contains("xtask lint") && gates.ends_with("cargo xtask --help"), "{gates}");
        let ci = help_for(&e.to_string(), &["--jobs".to_owned(), "3".to_owned(), "ci".to_owned()]);
        assert!(ci.contains("xtask ci list") && ci.contains("xtask ci matrix") && !ci.contains("xtask bench"));
    }

    #[test]
    fn global_flags_go_anywhere() {
        let (g, job) = parse(&["lint", "--dry-run", "--jobs", "3"]).unwrap();
        assert!(g.dry_run && !g.json);
        assert_eq!(g.jobs, 3);
        assert!(matches!(job, Job::Lint { fix: false, changed_since: None }));
        let (g, _) = parse(&["--keep-going", "test"]).unwrap();
        assert!(g.keep_going);
        let (g, _) = parse(&["ci", "matrix", "--json"]).unwrap();
        assert!(g.json);
    }

    #[test]
    fn test_parts_and_runner_args() {
        let (_, job) = parse(&["test", "--part", "wasm,rust", "--", "--no-capture"]).unwrap();
        match job {
            Job::Test { parts, runner_args, .. } => {
                assert_eq!(parts, vec![Part::Rust, Part::Wasm]);
                assert_eq!(runner_args, vec!["--no-capture"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["test", "--part", "java"]).is_err());
        assert!(parse(&["lint", "--jobs", "0"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        match parse(&["gates", "--labels", "kind: fix, wip", "--base", "main"]).unwrap().1 {
            Job::Gates(a) => {
                assert_eq!(a.labels, Some(vec!["kind: fix".to_owned(), "wip".to_owned()]));
                assert_eq!(a.base.as_deref(), Some("main"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["package", "--kinds", "wasm,crates", "--wheels"]).unwrap().1 {
            Job::Package(a) => {
                use crate::manifest::Kind;
                assert_eq!(a.kinds, [Kind::Crate, Kind::Wheel, Kind::Wasm]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["package", "--kinds", "all"]).unwrap().1 {
            Job::Package(a) => assert_eq!(a.kinds.len(), 5),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["package", "--kinds", "debs"]).is_err());
        match parse(&["gates", "--labels", ""]).unwrap().1 {
            Job::Gates(a) => assert_eq!(a.labels, Some(vec![])),
            other => panic!("{other:?}"),
        }
    }

    /// Every `cargo xtask ...` command in the README and CONTRIBUTING code blocks parses with the CLI's own
    /// parser: a renamed or removed flag in the docs fails here. (Lines with shell variables, `$X`, are checked
    /// up to the variable's use.)
    #[test]
    fn the_commands_in_the_docs_are_real_invocations() {
        let root = crate::project_root();
        let mut checked = 0;
        for doc in ["README.md", "CONTRIBUTING.md"] {
            let text = std::fs::read_to_string(root.join(doc)).unwrap();
            for (n, line) in text.lines().enumerate() {
                let Some(code) = line.strip_prefix("    ") else { continue };
                // Comments after the command, then each `&&`-chained command.
                let code = code.split("  #").next().unwrap_or_default();
                for cmd in code.split("&&") {
                    let Some(rest) = cmd.trim().strip_prefix("cargo xtask ") else { continue };
                    let words = shell_words(rest.split('$').next().unwrap_or_default());
                    match parse_from(&words) {
                        Ok(_) => {}
                        // A variable may hold the required flags (`cargo xtask release $R`).
                        Err(e) if rest.contains('$') && format!("{e}").contains("flag is required") => {}
                        Err(e) => panic!("{doc}:{}: `cargo xtask {rest}` does not parse:\n{e:#}", n + 1),
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20, "found {checked} commands in the docs");
        // And the check itself can fail.
        assert!(parse(&["package", "--wheel"]).is_err());
    }

    /// Splits a command line as a POSIX shell would (quotes, no expansion).
    fn shell_words(s: &str) -> Vec<String> {
        let (mut words, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None::<char>, false);
        for c in s.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '"' | '\'') => {
                    quote = Some(c);
                    any = true;
                }
                (None, c) if c.is_whitespace() => {
                    if any || !cur.is_empty() {
                        words.push(std::mem::take(&mut cur));
                    }
                    any = false;
                }
                (None, c) => cur.push(c),
            }
        }
        if any || !cur.is_empty() {
            words.push(cur);
        }
        words
    }
}
