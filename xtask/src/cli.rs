//! Every flag of every job, declared in one place: `cargo xtask --help` is the whole manual.

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::ctx::Global;
use crate::jobs::Job;
use crate::jobs::test::Part;

const ABOUT: &str = "The CI system of this repository: every CI job is a `cargo xtask` subcommand, \
run the same way on a laptop and in CI.";

const AFTER: &str = "\
Exit status: 0 success; 1 the job ran and something failed (a step, a gate, a verification, a release or \
upload that stopped part-way; the log names the command that reproduces it); 2 the job could not run and did \
nothing (bad or contradictory flags, bad input, a missing tool: the message says how to fix it).

Every job builds a plan first: --dry-run prints it, --json emits it (or a report) as one JSON document; \
neither acts (no upload, publish, signature, download or install).";

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue).help(help)
}

fn store_arg() -> Arg {
    Arg::new("store")
        .long("store")
        .value_name("URL")
        .help("gs://BUCKET/PREFIX, file:///PATH or a directory [default: ci.toml [store] default]")
}

fn endpoint_arg() -> Arg {
    Arg::new("endpoint").long("endpoint").value_name("URL").help(
        "The GCS API endpoint, e.g. a local server http://127.0.0.1:PORT [default: $STORAGE_EMULATOR_HOST, else Google's]",
    )
}

fn changed_since() -> Arg {
    Arg::new("changed-since").long("changed-since").value_name("REV|auto").help(
        "Only what a change since REV affects: its crates and every crate depending on them, and the Python, \
         web and workflow parts it touches (Cargo.toml, Cargo.lock, the toolchain or the xtask: everything). \
         `auto`: the pull request's base in GitHub Actions, everything elsewhere. --dry-run shows why.",
    )
}

pub fn command() -> Command {
    Command::new("xtask")
        .bin_name("cargo xtask")
        .about(ABOUT)
        .after_help(AFTER)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .disable_version_flag(true)
        .arg(flag("dry-run", "Print the plan (steps, commands, tools) and run nothing").global(true))
        .arg(
            flag("json", "Emit the plan (or the result, for jobs that report) as JSON and run nothing else")
                .global(true),
        )
        .arg(flag("keep-going", "Run every step even after one fails; report all failures at the end").global(true))
        .arg(flag("offline", "Never provision tools; stop with the command that installs a missing one").global(true))
        .arg(
            Arg::new("jobs")
                .long("jobs")
                .short('j')
                .global(true)
                .value_name("N")
                .value_parser(value_parser!(u16).range(1..=64))
                .help("How many independent steps run at once [default: the number of CPUs, at least 2]"),
        )
        .subcommand(
            Command::new("lint")
                .about("Check formatting and lints: rustfmt, clippy, ruff, taplo, typos")
                .arg(flag("fix", "Apply the fixes the tools can make (cargo fmt, clippy --fix, ruff, taplo, typos)"))
                .arg(changed_since()),
        )
        .subcommand(
            Command::new("test")
                .about("Run the Rust tests, the Python tests on freshly built wheels, and the wasm bundles in node")
                .arg(
                    Arg::new("part")
                        .long("part")
                        .value_name("PART")
                        .action(ArgAction::Append)
                        .value_delimiter(',')
                        .value_parser(["rust", "python", "wasm", "heavy", "all"])
                        .help("Run only these parts [default: ci.toml's [test] default-parts; `heavy` is the slow scenarios; `all` is every part]"),
                )
                .arg(changed_since())
                .arg(
                    Arg::new("runner-args")
                        .num_args(0..)
                        .last(true)
                        .value_name("ARGS")
                        .help("Passed untouched to the Rust test runner (cargo nextest run / cargo test)"),
                ),
        )
        .subcommand(
            Command::new("gates")
                .about("PR gates: labels, blocking keywords, large files, invalid file patterns")
                .long_about(
                    "PR gates: labels, blocking keywords, large files, invalid file patterns.\n\n\
                     Compares HEAD with its merge-base with the base (default: origin/main, else main). \
                     Under GitHub Actions the pull_request event ($GITHUB_EVENT_PATH) supplies labels, title, body \
                     and the base; locally pass them with the flags. Rules, thresholds and lists: the [gates] section of ci.toml \
                     (or the documented defaults with --defaults).\n\n\
                     Exit status: 0 every gate passed or was skipped; 1 a gate failed; 2 bad input (event file, base).",
                )
                .arg(Arg::new("base").long("base").value_name("REV").help("Compare with the merge-base of REV and HEAD"))
                .arg(
                    Arg::new("event")
                        .long("event")
                        .value_name("PATH")
                        .help("A GitHub pull_request event JSON [default: $GITHUB_EVENT_PATH under GitHub Actions]"),
                )
                .arg(
                    Arg::new("labels")
                        .long("labels")
                        .value_name("A,B")
                        .help("The PR's labels, comma-separated (\"\" for none); overrides the event"),
                )
                .arg(
                    Arg::new("label")
                        .long("label")
                        .value_name("NAME")
                        .action(ArgAction::Append)
                        .help("One PR label, exactly (a label may hold a comma); repeatable; with --labels, both count"),
                )
                .arg(Arg::new("title").long("title").value_name("TEXT").help("The PR title; overrides the event"))
                .arg(flag("defaults", "Use the documented default gates (CONTRIBUTING.md), not ci.toml's [gates] section"))
                .arg(Arg::new("body").long("body").value_name("TEXT").help("The PR body; overrides the event"))
                .arg(
                    Arg::new("head")
                        .long("head")
                        .value_name("REV")
                        .help("Check this commit instead of HEAD (overrides the event's head; refused if not here)"),
                ),
        )
        .subcommand(
            Command::new("package")
                .about("Build the commit's artifacts (.crate, wheels, wasm bundle, recordings) with a manifest.json")
                .long_about(
                    "Build the commit's artifacts into target/packages/<commit>/ with a manifest.json (kind, path, size, \
                     sha256, version, platform, command, tool versions; commit, dirty, source date).\n\n\
                     Without kind flags every kind is built. A kind whose artifacts and tool versions are unchanged on a \
                     clean tree is reported up to date and skipped; a kind built later merges into the same manifest. \
                     A dirty tree is allowed but marks the manifest dirty.",
                )
                .arg(flag("crates", "Build the .crate packages of every publishable crate"))
                .arg(flag("wheels", "Build the Python wheels (maturin, abi3) and check them with twine"))
                .arg(flag("wasm", "Build the wasm bundles (static directories)"))
                .arg(flag("recordings", "Run the example scripts on the host wheel; verify the recordings"))
                .arg(flag("binaries", "Build the CLI programs as a .tar.gz per target (Linux: both architectures, glibc 2.17, with zig)"))
                .arg(flag("all", "Build every kind (the default when no kind is given)"))
                .arg(
                    Arg::new("kinds")
                        .long("kinds")
                        .value_name("LIST")
                        .value_delimiter(',')
                        .action(ArgAction::Append)
                        .value_parser(["crates", "wheels", "wasm", "recordings", "binaries", "all"])
                        .help("The kinds as a list (what workflows pass): crates,wheels,wasm,recordings,binaries or all"),
                )
                .arg(
                    Arg::new("target")
                        .long("target")
                        .alias("targets")
                        .value_name("TRIPLE[,TRIPLE]")
                        .action(ArgAction::Append)
                        .value_delimiter(',')
                        .help("Build wheels for these targets [default: on Linux both Linux architectures (zig, manylinux2014), elsewhere the host]"),
                )
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("DIR")
                        .help("Directory holding one directory per commit [default: target/packages]"),
                )
                .arg(flag("force", "Rebuild even what is up to date"))
                .arg(flag(
                    "check-reproducible",
                    "Package HEAD in two fresh clones in different directories and compare every sha256",
                )),
        )
        .subcommand(
            Command::new("upload")
                .about("Upload the commit's packages to the artifact store (manifest last; finished objects skipped)")
                .long_about(
                    "Upload target/packages/<commit>/ to the store under commit/<commit>/: every artifact in parallel, \
                     a PEP 503 simple index for the wheels, then the manifest last (a manifest in the store means \
                     the set is complete). An object already there with the same sha256 is skipped; one with other \
                     content is refused unless --overwrite.\n\nStores: gs://BUCKET/PREFIX (GCS JSON API; \
                     $STORAGE_EMULATOR_HOST for a local server; token from $GOOGLE_OAUTH_ACCESS_TOKEN or gcloud), \
                     file:///PATH or a directory [default: ci.toml [store] default].",
                )
                .arg(store_arg())
                .arg(endpoint_arg())
                .arg(Arg::new("commit").long("commit").value_name("SHA").help("The commit to upload [default: HEAD]"))
                .arg(Arg::new("from").long("from").value_name("DIR").help("Where `package` put it [default: target/packages]"))
                .arg(flag("allow-dirty", "Upload a manifest made from a dirty tree"))
                .arg(flag("overwrite", "Replace objects that exist with other content (a commit's artifacts are otherwise immutable)"))
                .arg(
                    Arg::new("alias")
                        .long("alias")
                        .value_name("NAME")
                        .action(ArgAction::Append)
                        .help("Also point this mutable name at the commit (no-cache), e.g. branch/main/latest"),
                )
                .arg(flag("check-index", "Change nothing; verify the store's simple index against the manifest")),
        )
        .subcommand(
            Command::new("download")
                .about("Download a commit's artifacts from the store, each verified against the manifest's sha256")
                .arg(store_arg())
                .arg(endpoint_arg())
                .arg(Arg::new("commit").long("commit").value_name("SHA").required(true).help("The full commit hash"))
                .arg(
                    Arg::new("kinds")
                        .long("kinds")
                        .value_name("LIST")
                        .value_delimiter(',')
                        .action(ArgAction::Append)
                        .value_parser(["crate", "wheel", "wasm", "recording", "binary"])
                        .help("Only these kinds [default: all]"),
                )
                .arg(Arg::new("out").long("out").value_name("DIR").help("Where to put them [default: target/downloads/<commit>]"))
                .arg(flag("allow-dirty", "Download a manifest made from a dirty tree")),
        )
        .subcommand(
            Command::new("sign")
                .about("Sign the store's manifest of a commit (minisign format) and upload the signature beside it")
                .long_about(
                    "Sign the store's manifest of a commit with the minisign key in $XTASK_SIGNING_KEY (the contents of a \
                     key file from `minisign -G -W`) and upload manifest.json.minisig beside it. The release job checks \
                     the signature against the committed public key (ci.toml [release] signing-key); `minisign -V -p KEY.pub -m manifest.json` \
                     checks it too.",
                )
                .arg(store_arg())
                .arg(endpoint_arg())
                .arg(Arg::new("commit").long("commit").value_name("SHA").help("The commit [default: HEAD]"))
                .arg(flag(
                    "local-key",
                    "Sign with a throwaway key in target/local-signing/ (a laptop's stand-in for the release key)",
                )),
        )
        .subcommand(
            Command::new("release")
                .about("Publish a commit's uploaded artifacts (verified, signed) to the crate registry and PyPI; builds nothing")
                .long_about(
                    "Publish one commit's pre-built artifacts from the store, building nothing. First everything is \
                     downloaded and checked: the manifest's signature against the committed key (ci.toml [release] signing-key), every sha256, the \
                     set is complete, every version is the release version, the manifest is clean. Then crates go to \
                     the registry's web API in dependency order, wheels to the package index (twine), the web bundle to \
                     version/<V>/ and latest/; whatever is already there is skipped, so a re-run finishes an \
                     interrupted release.\n\nWithout --execute this is a dry run that prints the plan and changes \
                     nothing. Tokens: CARGO_REGISTRY_TOKEN, PYPI_TOKEN (never printed).",
                )
                .arg(Arg::new("commit").long("commit").value_name("SHA").required(true).help("The full commit hash"))
                .arg(store_arg())
                .arg(endpoint_arg())
                .arg(Arg::new("version").long("version").value_name("V").help("The release version [default: the vX.Y.Z tag being built, else the workspace's]"))
                .arg(flag("execute", "Publish for real (otherwise: a dry run)"))
                .arg(Arg::new("registry-api").long("registry-api").value_name("URL").help("The crate registry's API [default: $XTASK_REGISTRY_API, else ci.toml [release] registry-api]"))
                .arg(Arg::new("registry-index").long("registry-index").value_name("URL").help("Its index: sparse+https://... or a git URL [default: $XTASK_REGISTRY_INDEX, else ci.toml [release] registry-index]"))
                .arg(Arg::new("pypi-upload").long("pypi-upload").value_name("URL").help("The package index's upload URL [default: $XTASK_PYPI_UPLOAD, else ci.toml [release] pypi-upload]"))
                .arg(Arg::new("pypi-simple").long("pypi-simple").value_name("URL").help("Its simple index [default: $XTASK_PYPI_SIMPLE, else ci.toml [release] pypi-simple]"))
                .arg(Arg::new("web-store").long("web-store").value_name("URL").help("Where the web bundle goes [default: $XTASK_WEB_STORE, else ci.toml [store] web]"))
                .arg(Arg::new("public-key").long("public-key").value_name("PATH").help("The minisign public key [default: ci.toml [release] signing-key]"))
                .arg(flag("allow-any-ref", "In GitHub Actions, skip the check that the run is on tag v<version> or the default branch (rehearsals)")),
        )
        .subcommand(
            Command::new("workflows")
                .about("Generate .github/workflows/ and CONTRIBUTING.md's job table from xtask/src/pipeline.rs and ci.toml")
                .arg(flag("check", "Change nothing; fail with a diff if the committed files drift or break the rules")),
        )
        .subcommand(
            Command::new("ci")
                .about("Run CI jobs locally exactly as CI does: `ci list`, `ci <workflow>/<job>`, `ci` for all")
                .long_about(
                    "Run CI jobs locally exactly as CI does.\n\n  cargo xtask ci                  every job, in pipeline order (the whole pipeline)\n  \
                     cargo xtask ci <workflow>/<job> one job's commands, in order (e.g. lint-build-test/test)\n  \
                     cargo xtask ci list             every job with the exact commands it runs\n  \
                     cargo xtask ci matrix           the platform matrix as JSON (what the workflows read)",
                )
                .args_conflicts_with_subcommands(true)
                .arg(Arg::new("job").value_name("WORKFLOW/JOB").help("The job to run [default: every job]"))
                .subcommand(Command::new("list").about("List every workflow job with its commands"))
                .subcommand(
                    Command::new("matrix")
                        .about("Print the platform matrix as JSON for `fromJSON`")
                        .arg(
                            Arg::new("platforms")
                                .long("platforms")
                                .value_name("LIST")
                                .default_value("linux")
                                .help("Comma-separated platforms: linux, windows, macos"),
                        )
                        .arg(flag("github-output", "Also write `matrix=<json>` to $GITHUB_OUTPUT")),
                ),
        )
        .subcommand(
            Command::new("bench")
                .about("Measure the CI system: medians over several runs (a benchmark, not a test)")
                .arg(
                    Arg::new("case")
                        .value_name("CASE")
                        .num_args(0..)
                        .value_parser(["build", "lint", "package", "changed", "upload", "gates", "test", "provision"])
                        .help("Which benchmarks [default: all]"),
                )
                .arg(
                    Arg::new("runs")
                        .long("runs")
                        .value_name("N")
                        .default_value("3")
                        .value_parser(value_parser!(u16).range(1..=100))
                        .help("Runs per measurement; the median is reported"),
                ),
        )
        .subcommand(
            Command::new("doctor")
                .about("Show every external tool: pinned version, found version and path, status, fix")
                .arg(flag("provision", "Install every missing or wrong-version tool that can be installed"))
                .arg(
                    Arg::new("tool")
                        .long("tool")
                        .value_name("NAME")
                        .action(ArgAction::Append)
                        .help("Only this tool (repeatable): its row, and with --provision only its install"),
                ),
        )
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

pub fn parse() -> (Global, Job) {
    from_matches(&command().get_matches())
}

pub fn from_matches(m: &ArgMatches) -> (Global, Job) {
    let (name, sub) = m.subcommand().expect("subcommand_required");
    let global = Global {
        dry_run: sub.get_flag("dry-run"),
        json: sub.get_flag("json"),
        keep_going: sub.get_flag("keep-going"),
        offline: sub.get_flag("offline"),
        jobs: sub
            .get_one::<u16>("jobs")
            .map(|&j| usize::from(j))
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().max(2))),
    };
    let one = |id: &str| sub.get_one::<String>(id).cloned();
    let strings =
        |id: &str| -> Vec<String> { sub.get_many::<String>(id).map(|v| v.cloned().collect()).unwrap_or_default() };
    let job = match name {
        "lint" => Job::Lint { fix: sub.get_flag("fix"), changed_since: one("changed-since") },
        "test" => {
            let mut parts: Vec<Part> = strings("part")
                .iter()
                .flat_map(|p| {
                    Part::named(p).map_or_else(|| vec![Part::Rust, Part::Python, Part::Wasm, Part::Heavy], |p| vec![p])
                })
                .collect();
            // No --part: ci.toml's `[test] default-parts` (the job reads them).
            parts.sort();
            parts.dedup();
            Job::Test { parts, runner_args: strings("runner-args"), changed_since: one("changed-since") }
        }
        "doctor" => Job::Doctor { provision: sub.get_flag("provision"), tools: strings("tool") },
        "bench" => Job::Bench { cases: strings("case"), runs: usize::from(*sub.get_one::<u16>("runs").unwrap()) },
        "package" => {
            use crate::manifest::Kind;
            let mut kinds: Vec<Kind> = [
                ("crates", Kind::Crate),
                ("wheels", Kind::Wheel),
                ("wasm", Kind::Wasm),
                ("recordings", Kind::Recording),
                ("binaries", Kind::Binary),
            ]
            .into_iter()
            .filter(|(flag, _)| {
                let listed = strings("kinds");
                sub.get_flag(flag) || sub.get_flag("all") || listed.iter().any(|k| k == flag || k == "all")
            })
            .map(|(_, k)| k)
            .collect();
            kinds.sort();
            Job::Package(crate::jobs::package::Args {
                kinds,
                targets: strings("target").into_iter().filter(|t| !t.trim().is_empty()).collect(),
                out: sub.get_one::<String>("out").map(Into::into),
                force: sub.get_flag("force"),
                check_reproducible: sub.get_flag("check-reproducible"),
            })
        }
        "upload" => Job::Upload(crate::jobs::upload::UploadArgs {
            store: one("store"),
            endpoint: one("endpoint"),
            commit: one("commit"),
            from: one("from").map(Into::into),
            allow_dirty: sub.get_flag("allow-dirty"),
            overwrite: sub.get_flag("overwrite"),
            aliases: strings("alias"),
            check_index: sub.get_flag("check-index"),
        }),
        "download" => Job::Download(crate::jobs::download::DownloadArgs {
            store: one("store"),
            endpoint: one("endpoint"),
            commit: one("commit").unwrap_or_default(),
            kinds: strings("kinds").iter().filter_map(|k| crate::manifest::Kind::parse(k)).collect(),
            out: one("out").map(Into::into),
            allow_dirty: sub.get_flag("allow-dirty"),
        }),
        "sign" => Job::Sign {
            store: one("store"),
            endpoint: one("endpoint"),
            commit: one("commit"),
            local_key: sub.get_flag("local-key"),
        },
        "release" => Job::Release(crate::jobs::release::Args {
            commit: one("commit").unwrap_or_default(),
            store: one("store"),
            endpoint: one("endpoint"),
            version: one("version"),
            execute: sub.get_flag("execute"),
            registry_api: one("registry-api"),
            registry_index: one("registry-index"),
            pypi_upload: one("pypi-upload"),
            pypi_simple: one("pypi-simple"),
            web_store: one("web-store"),
            public_key: one("public-key").map(Into::into),
            allow_any_ref: sub.get_flag("allow-any-ref"),
        }),
        "workflows" => Job::Workflows { check: sub.get_flag("check") },
        "ci" => match sub.subcommand() {
            Some(("list", _)) => Job::CiList,
            Some(("matrix", m)) => Job::CiMatrix {
                platforms: m.get_one::<String>("platforms").cloned().unwrap_or_default(),
                github_output: m.get_flag("github-output"),
            },
            _ => Job::Ci { job: one("job") },
        },
        "gates" => Job::Gates(crate::jobs::gates::Args {
            base: one("base"),
            event: one("event").map(Into::into),
            labels: {
                let listed: Option<Vec<String>> = one("labels")
                    .map(|l| l.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect());
                let exact = strings("label");
                match (listed, exact.is_empty()) {
                    (None, true) => None,
                    (listed, _) => Some(listed.unwrap_or_default().into_iter().chain(exact).collect::<Vec<String>>()),
                }
            },
            title: one("title"),
            body: one("body"),
            head: one("head"),
            defaults: sub.get_flag("defaults"),
        }),
        other => unreachable!("unknown subcommand {other}"),
    };
    (global, job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Global, Job), clap::Error> {
        let m = command().try_get_matches_from(std::iter::once("xtask").chain(args.iter().copied()))?;
        Ok(from_matches(&m))
    }

    #[test]
    fn the_cli_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let (g, job) = parse(&["lint", "--dry-run", "--jobs", "3"]).unwrap();
        assert!(g.dry_run && !g.json);
        assert_eq!(g.jobs, 3);
        assert!(matches!(job, Job::Lint { fix: false, changed_since: None }));
        let (g, _) = parse(&["--keep-going", "test"]).unwrap();
        assert!(g.keep_going);
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
                    let argv = std::iter::once("xtask".to_owned()).chain(words);
                    match command().try_get_matches_from(argv) {
                        Ok(_) => {}
                        // A variable may hold the required flags (`cargo xtask release $R`).
                        Err(e) if rest.contains('$') && e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
                        }
                        Err(e) => panic!("{doc}:{}: `cargo xtask {rest}` does not parse:\n{e}", n + 1),
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20, "found {checked} commands in the docs");
        // And the check itself can fail.
        let argv = ["xtask", "package", "--wheel"].map(String::from);
        assert!(command().try_get_matches_from(argv).is_err());
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
