//! Every flag of every job, declared once, in one grammar (xflags, as rust-analyzer's xtask does: a proc macro
//! without syn, so the xtask's cold build stays small). The structs it generates are the jobs' arguments: a job
//! takes its own (`flags::Package`, `flags::Release`...) and nothing restates them. Values are typed where the
//! grammar reads them (kinds, parts, counts, paths), so a bad value is refused before anything runs; the few
//! derived values (a package run's kinds from its flags) are methods here.

use std::str::FromStr;

use camino::Utf8PathBuf;

use crate::manifest::Kind;
use crate::plan::printable;
use crate::settings::Part;

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
        optional -j, --jobs n: Jobs

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
            repeated --part parts: Parts
            /// Only what a change since REV affects (`auto`: the pull request's base in GitHub Actions).
            optional --changed-since rev: String
            /// Build the Rust tests once into this nextest archive (alone: only that); with --shard, run from it
            /// (built first when missing) [default with --shard: target/ci/tests.tar.zst].
            optional --archive file: Utf8PathBuf
            /// Run only the K-th of N partitions of the Rust tests (`2/4`), JUnit into target/ci/junit/.
            optional --shard shard: Shard
            /// Join the shards' JUnit files in DIR: every test once, the totals and the flaky tests, by name.
            optional --join dir: Utf8PathBuf
            /// Where the Rust unit tests run: `here`, or `shards` (the shard jobs run them; here only the
            /// doctests and the other parts) [default: here].
            optional --unit-tests where: UnitTests
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
            optional --event path: Utf8PathBuf
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
            /// The Python packages' source distributions (maturin sdist), reproducible.
            optional --sdists
            /// The wasm bundles (static directories).
            optional --wasm
            /// The example scripts' recordings, made with the host wheel and verified.
            optional --recordings
            /// The programs, a .tar.gz per target.
            optional --binaries
            /// Every kind (the default when no kind is given).
            optional --all
            /// The kinds as a list (what workflows pass): crates,wheels,sdists,wasm,recordings,binaries or all.
            repeated --kinds list: Kinds
            /// Wheel and program targets, comma-separated [default: the platform's wheels in ci.toml].
            repeated --target triples: String
            /// The same as --target.
            repeated --targets triples: String
            /// Directory holding one directory per commit [default: target/packages].
            optional --out dir: Utf8PathBuf
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
            optional --from dir: Utf8PathBuf
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
            /// Only these kinds, comma-separated: crates, wheels, sdists, wasm, recordings, binaries or all [default: all].
            repeated --kinds list: Kinds
            /// Where to put them [default: target/downloads/<commit>].
            optional --out dir: Utf8PathBuf
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
        /// Artifact sizes of a commit against the newest main-branch commit before it with a manifest in the
        /// store: two manifests read, nothing built. A table and a chart (changes of ci.toml's [sizes]
        /// threshold-percent or more flagged) printed, added to GitHub's job summary and written as a comment
        /// body.
        cmd sizes {
            /// gs://BUCKET/PREFIX, file:///PATH or a directory [default: ci.toml [store] default].
            optional --store url: String
            /// The GCS API endpoint, e.g. http://127.0.0.1:PORT [default: $STORAGE_EMULATOR_HOST].
            optional --endpoint url: String
            /// The commit [default: HEAD].
            optional --commit rev: String
            /// Compare with this commit [default: the newest main-branch commit before it with a manifest].
            optional --base rev: String
            /// The comment body [default: target/ci/sizes.md].
            optional --out file: Utf8PathBuf
            /// Where the commit has no manifest (a pull request): measure what needs no build here (the crates,
            /// packaged; the wasm bundles this checkout built) and compare that.
            optional --measure
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
            optional --public-key path: Utf8PathBuf
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
                optional --event path: Utf8PathBuf
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
                required --out dir: Utf8PathBuf
            }
            /// Run one job (WORKFLOW/JOB), or every job; with --event or --event-name, replay the workflow run
            /// that event starts.
            default cmd run {
                /// The job to run [default: every job].
                optional job: String
                /// An event payload, as GitHub writes it to $GITHUB_EVENT_PATH: replay the run it starts.
                optional --event path: Utf8PathBuf
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
            /// Which benchmarks: build, lint, package, changed, upload, gates, test, provision, matrix, large [default: all].
            repeated cases: BenchCase
            /// Runs per measurement, 1 to 100; the median is reported [default: 3].
            optional --runs n: Runs
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

/// A comma-separated list's items, trimmed, empty ones dropped.
fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The items of a comma-separated list of `what`s, each one of `all` by `name`, or `all` for every one.
fn named_list<T: Copy>(s: &str, what: &str, all: &[T], name: fn(T) -> &'static str) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for item in items(s) {
        match all.iter().copied().find(|t| name(*t) == item) {
            Some(t) => out.push(t),
            None if item == "all" => out.extend(all),
            None => {
                let names: Vec<&str> = all.iter().map(|t| name(*t)).collect();
                return Err(format!("{}: no such {what}\nfix: choose from {}, all", printable(item), names.join(", ")));
            }
        }
    }
    Ok(out)
}

/// `--kinds crates,wheels` (or `all`). Never empty: `--kinds ""` (an unset variable in a workflow step) must not
/// mean "everything".
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Kinds(pub Vec<Kind>);

impl FromStr for Kinds {
    type Err = String;
    fn from_str(s: &str) -> Result<Kinds, String> {
        let kinds = named_list(s, "kind", &Kind::ALL, Kind::as_str)?;
        if kinds.is_empty() {
            return Err(format!("is empty\nfix: name the kinds ({}, all), or leave the flag out", Kind::names()));
        }
        Ok(Kinds(kinds))
    }
}

/// `--part rust,wasm` (or `all`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Parts(pub Vec<Part>);

impl FromStr for Parts {
    type Err = String;
    fn from_str(s: &str) -> Result<Parts, String> {
        named_list(s, "part", &Part::ALL, Part::as_str).map(Parts)
    }
}

/// A count within bounds: `--jobs` (1 to 64), `--runs` (1 to 100).
fn count(s: &str, flag: &str, max: usize) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{} is out of range\nfix: pass {flag} 1 to {max}", printable(s))),
    }
}

/// `--jobs N`: how many independent steps run at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Jobs(pub usize);

impl FromStr for Jobs {
    type Err = String;
    fn from_str(s: &str) -> Result<Jobs, String> {
        count(s, "--jobs", 64).map(Jobs)
    }
}

/// `bench --runs N`: runs per measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Runs(pub usize);

impl FromStr for Runs {
    type Err = String;
    fn from_str(s: &str) -> Result<Runs, String> {
        count(s, "--runs", 100).map(Runs)
    }
}

/// One partition of the Rust tests: the K-th of N (1 <= K <= N <= 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub k: u32,
    pub n: u32,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{}` is no shard\nfix: write K/N, e.g. 2/4 (1 <= K <= N <= 64)", printable(s));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if k == 0 || k > n || n > 64 {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Where the Rust unit tests run: in the test job, or in the shard jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum UnitTests {
    #[default]
    Here,
    Shards,
}

impl FromStr for UnitTests {
    type Err = String;
    fn from_str(s: &str) -> Result<UnitTests, String> {
        match s {
            "here" => Ok(UnitTests::Here),
            "shards" => Ok(UnitTests::Shards),
            _ => Err(format!("`{}` is no place for the unit tests\nfix: write here or shards", printable(s))),
        }
    }
}

/// A benchmark of `cargo xtask bench`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BenchCase {
    Build,
    Lint,
    Package,
    Changed,
    Upload,
    Gates,
    Test,
    Provision,
    Matrix,
    Large,
}

impl BenchCase {
    pub(crate) const ALL: [BenchCase; 10] = [
        BenchCase::Build,
        BenchCase::Lint,
        BenchCase::Package,
        BenchCase::Changed,
        BenchCase::Upload,
        BenchCase::Gates,
        BenchCase::Test,
        BenchCase::Provision,
        BenchCase::Matrix,
        BenchCase::Large,
    ];

    /// Its one name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BenchCase::Build => "build",
            BenchCase::Lint => "lint",
            BenchCase::Package => "package",
            BenchCase::Changed => "changed",
            BenchCase::Upload => "upload",
            BenchCase::Gates => "gates",
            BenchCase::Test => "test",
            BenchCase::Provision => "provision",
            BenchCase::Matrix => "matrix",
            BenchCase::Large => "large",
        }
    }
}

impl FromStr for BenchCase {
    type Err = String;
    fn from_str(s: &str) -> Result<BenchCase, String> {
        BenchCase::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = BenchCase::ALL.iter().map(|c| c.as_str()).collect();
            format!("no benchmark `{}`\nfix: choose from {}", printable(s), names.join(", "))
        })
    }
}

impl XtaskCmd {
    /// The subcommand's name (as typed).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            XtaskCmd::Lint(_) => "lint",
            XtaskCmd::Test(_) => "test",
            XtaskCmd::Doctor(_) => "doctor",
            XtaskCmd::Gates(_) => "gates",
            XtaskCmd::Package(_) => "package",
            XtaskCmd::Upload(_) => "upload",
            XtaskCmd::Download(_) => "download",
            XtaskCmd::Sign(_) => "sign",
            XtaskCmd::Sizes(_) => "sizes",
            XtaskCmd::Release(_) => "release",
            XtaskCmd::Workflows(_) => "workflows",
            XtaskCmd::Init(_) => "init",
            XtaskCmd::Ci(_) => "ci",
            XtaskCmd::Bench(_) => "bench",
        }
    }

    /// The flag that asks this job to act outside the plan (`release --execute`...), if given.
    pub(crate) fn acting_flag(&self) -> Option<&'static str> {
        match self {
            XtaskCmd::Release(r) if r.execute => Some("release --execute"),
            XtaskCmd::Lint(l) if l.fix => Some("lint --fix"),
            XtaskCmd::Doctor(d) if d.provision => Some("doctor --provision"),
            _ => None,
        }
    }
}

impl Test {
    /// The parts named, sorted, each once (empty: ci.toml's `[test] default-parts`).
    pub(crate) fn parts(&self) -> Vec<Part> {
        let mut parts: Vec<Part> = self.part.iter().flat_map(|p| p.0.iter().copied()).collect();
        parts.sort();
        parts.dedup();
        parts
    }
}

impl Gates {
    /// The PR's labels from `--labels` and `--label` (None: neither given, the event's count).
    pub(crate) fn labels(&self) -> Option<Vec<String>> {
        if self.labels.is_none() && self.label.is_empty() {
            return None;
        }
        let listed = self.labels.iter().flat_map(|l| items(l)).map(str::to_owned);
        Some(listed.chain(self.label.iter().cloned()).collect())
    }
}

impl Package {
    /// The kinds named, sorted: the kind flags, `--kinds`, `--all` (empty: none named, every kind the repository
    /// has).
    pub(crate) fn kinds(&self) -> Vec<Kind> {
        let listed: Vec<Kind> = self.kinds.iter().flat_map(|k| k.0.iter().copied()).collect();
        let flags = [
            (self.crates, Kind::Crate),
            (self.wheels, Kind::Wheel),
            (self.sdists, Kind::Sdist),
            (self.wasm, Kind::Wasm),
            (self.recordings, Kind::Recording),
            (self.binaries, Kind::Binary),
        ];
        let mut kinds: Vec<Kind> =
            flags.into_iter().filter(|(set, k)| *set || self.all || listed.contains(k)).map(|(_, k)| k).collect();
        kinds.sort();
        kinds
    }

    /// `--target` and `--targets`, each a comma-separated list.
    pub(crate) fn target_list(&self) -> Vec<String> {
        self.target.iter().chain(&self.targets).flat_map(|t| items(t)).map(str::to_owned).collect()
    }
}

impl Download {
    /// The kinds to download (empty: all).
    pub(crate) fn kind_list(&self) -> Vec<Kind> {
        let mut kinds: Vec<Kind> = self.kinds.iter().flat_map(|k| k.0.iter().copied()).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }
}

impl Clone for Release {
    fn clone(&self) -> Release {
        Release {
            commit: self.commit.clone(),
            store: self.store.clone(),
            endpoint: self.endpoint.clone(),
            version: self.version.clone(),
            execute: self.execute,
            registry_api: self.registry_api.clone(),
            registry_index: self.registry_index.clone(),
            pypi_upload: self.pypi_upload.clone(),
            pypi_simple: self.pypi_simple.clone(),
            web_store: self.web_store.clone(),
            public_key: self.public_key.clone(),
            allow_any_ref: self.allow_any_ref,
        }
    }
}

/// The flags of a job given no flags (a required one empty): what tests start from (`..Default::default()`).
#[cfg(test)]
mod defaults {
    use super::*;

    fn parsed(args: &[&str]) -> XtaskCmd {
        Xtask::from_vec(args.iter().map(Into::into).collect()).unwrap().subcommand
    }

    macro_rules! default_from {
        ($ty:ident, $variant:ident, $args:expr) => {
            impl Default for $ty {
                fn default() -> $ty {
                    match parsed($args) {
                        XtaskCmd::$variant(f) => f,
                        other => unreachable!("{other:?}"),
                    }
                }
            }
        };
    }
    default_from!(Gates, Gates, &["gates"]);
    default_from!(Package, Package, &["package"]);
    default_from!(Upload, Upload, &["upload"]);
    default_from!(Download, Download, &["download", "--commit", ""]);
    default_from!(Release, Release, &["release", "--commit", ""]);

    impl Default for Run {
        fn default() -> Run {
            match parsed(&["ci"]) {
                XtaskCmd::Ci(Ci { subcommand: CiCmd::Run(f) }) => f,
                other => unreachable!("{other:?}"),
            }
        }
    }
}
