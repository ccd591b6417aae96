//! The schema of `ci.toml`: every section and key, typed; serde reads the file into these (the loader beside
//! it checks what types cannot say, and names the line of a bad key).

use serde::{Deserialize, Deserializer, Serialize};

use crate::manifest::Kind;

/// Kinds by their one name (the manifest's reader also takes the old singular ones; ci.toml does not).
fn kinds<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Kind>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            Kind::parse(n).ok_or_else(|| {
                serde::de::Error::custom(format!("unknown kind `{n}`, expected one of {}", Kind::names()))
            })
        })
        .collect()
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Settings {
    pub workspace: Option<Workspace>,
    /// Python packages built by maturin.
    #[serde(default)]
    pub python: Vec<PythonPackage>,
    /// Wasm crates bundled as static web pages with wasm-bindgen.
    #[serde(default)]
    pub wasm: Vec<WasmBundle>,
    /// Command-line programs shipped as archives.
    #[serde(default)]
    pub binary: Vec<Binary>,
    /// Example scripts that write recordings, and the program that verifies them.
    pub examples: Option<Examples>,
    pub test: Option<Test>,
    #[serde(default)]
    pub platform: Vec<Platform>,
    pub gates: Option<Gates>,
    pub store: Option<Store>,
    pub release: Option<Release>,
    /// The repository's own CI jobs, generated into the workflows beside the engine's.
    #[serde(default)]
    pub job: Vec<ExtraJob>,
    /// Hand-written workflow files kept beside the generated ones.
    pub workflows: Option<Workflows>,
    /// The repository's own versions of the linters whose findings are its rules.
    pub lint: Option<Lint>,
    /// The artifact size report (`cargo xtask sizes`).
    pub sizes: Option<Sizes>,
    /// The shared build cache (sccache), when `XTASK_CACHE` turns it on.
    pub cache: Option<Cache>,
}

/// Where the shared build cache lives (sccache's backend).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Cache {
    /// `gs://BUCKET/PREFIX`, `s3://BUCKET/PREFIX` or a directory [default: the artifact store's, under `sccache/`].
    pub store: Option<String>,
    /// An S3-compatible server for `s3://` (another than AWS).
    pub endpoint: Option<String>,
    /// The S3 region [default: us-east-1].
    pub region: Option<String>,
    /// lint-build-test's compiling jobs authenticate (workload identity, as `GCP_CACHE_SERVICE_ACCOUNT`) to write
    /// the cache on pushes to the default branch. Off by default: it gives those jobs `id-token: write` on every
    /// event, pull requests included, so the identity provider alone must keep that account to the default
    /// branch (CONTRIBUTING). Without it the cache is written only where the runner has credentials of its own.
    #[serde(default)]
    pub authenticate: bool,
}

/// What `cargo xtask sizes` flags.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Sizes {
    /// A change of this many percent or more is flagged [default: 2].
    pub threshold_percent: Option<f64>,
}

/// The versions of ruff, taplo and typos the repository's code is linted with (each within the range the engine
/// supports, `config::Tool::repository_range`); a tool left out runs at the engine's version.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Lint {
    pub ruff: Option<String>,
    pub taplo: Option<String>,
    pub typos: Option<String>,
}

impl Lint {
    /// `(tool, version)` of each tool the repository pins.
    pub(crate) fn pins(&self) -> Vec<(&'static str, &str)> {
        [("ruff", &self.ruff), ("taplo", &self.taplo), ("typos", &self.typos)]
            .into_iter()
            .filter_map(|(tool, v)| v.as_deref().map(|v| (tool, v)))
            .collect()
    }
}

/// A job of the repository's own (fuzzing, benchmarks, docs...): one command, run by a workflow of the pipeline
/// on a Linux runner (or the named platform's) with read-only permissions and no secrets.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ExtraJob {
    /// The job's id in the workflow (and `cargo xtask ci WORKFLOW/NAME`).
    pub name: String,
    /// The workflow it belongs to: pr-gates, lint-build-test, create-packages or release.
    pub workflow: String,
    /// The events it runs on, among the workflow's triggers [default: every trigger of the workflow].
    #[serde(default)]
    pub on: Vec<String>,
    /// The command, as arguments: `["cargo", "xtask", ...]` or a tool (`["cargo", "doc", "--no-deps"]`).
    pub run: Vec<String>,
    /// Jobs of the same workflow that must succeed first.
    #[serde(default)]
    pub needs: Vec<String>,
    /// The platform whose runner it runs on [default: the first platform].
    pub platform: Option<String>,
    /// [default: 30]
    pub timeout_minutes: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Workflows {
    /// Workflow files under .github/workflows/ that are written by hand (linted like the generated ones, never
    /// regenerated).
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Workspace {
    /// Workspace members that do not carry the one version (they are never shipped), e.g. the xtask.
    #[serde(default)]
    pub unversioned: Vec<String>,
    /// Targets whose code `cargo xtask lint` checks with clippy on every PR from Linux.
    #[serde(default)]
    pub check_targets: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct PythonPackage {
    /// The distribution name on PyPI.
    pub dist: String,
    /// The import name.
    pub module: String,
    /// The directory holding pyproject.toml and the crate.
    pub dir: String,
    /// The pytest directory (run against the installed wheel).
    pub tests: String,
    /// The PEP 735 dependency group of its pyproject.toml that the tests need [default: `test`, if there is one].
    pub test_group: Option<String>,
    /// Or an extra of `[project.optional-dependencies]`.
    pub test_extra: Option<String>,
    /// The interpreters it ships a wheel for, per target (`3.9`, `3.14t`, `pypy3.11`) [default: none, an abi3
    /// package: one wheel per target].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interpreters: Vec<crate::interpreter::Interpreter>,
}

impl PythonPackage {
    /// Its interpreters, each once, oldest first (empty: abi3).
    pub(crate) fn interpreters(&self) -> Vec<crate::interpreter::Interpreter> {
        let mut v = self.interpreters.clone();
        v.sort();
        v.dedup();
        v
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct WasmBundle {
    /// The crate (a cdylib for wasm32).
    pub package: String,
    /// The static files copied beside the generated JS.
    pub www: String,
    /// Node test files that load the bundle (`node --test`); `CI_BUNDLE` and `CI_RECORDINGS` name the bundle
    /// and the recordings directories.
    pub node_tests: Option<String>,
    /// Node test files that drive the bundle's page in headless Chromium.
    pub browser_tests: Option<String>,
}

impl WasmBundle {
    /// The `.wasm` file cargo produces (the crate name with `_`).
    pub(crate) fn artifact(&self) -> String {
        self.package.replace('-', "_")
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Binary {
    pub package: String,
    /// The binary's name (`[[bin]] name`).
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Examples {
    /// The directory of the example scripts (`*.py`, each run as `python SCRIPT OUTPUT`).
    pub dir: String,
    /// The recordings' file extension (without the dot).
    pub extension: String,
    /// The workspace package whose binary verifies them: `cargo run --package VERIFIER -- ARGS... FILE...`.
    pub verifier: String,
    #[serde(default)]
    pub verify_args: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Test {
    /// The parts `cargo xtask test` runs without `--part`.
    pub default_parts: Vec<Part>,
    /// Workspace members whose Rust tests `cargo xtask test` leaves out (e.g. the repository's `xtask`, whose
    /// tests would only compile the engine).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Arguments for cargo in the Rust test run, e.g. `["--all-features"]` or `["--features", "serde"]`.
    #[serde(default)]
    pub rust_args: Vec<String>,
    /// The Rust tests across this many runners in CI: built once (nextest's archive), run in partitions
    /// [default: 1, in the test job].
    pub shards: Option<u32>,
    /// How often a failing Rust test is run again before it fails; one that passes on a retry is reported as
    /// flaky, by name [default: 2].
    pub retries: Option<u32>,
}

/// A part of `cargo xtask test`: one spelling in `--part`, ci.toml's `default-parts` and every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Part {
    Rust,
    Python,
    Wasm,
    /// The slow scenarios: two clean packaging builds (reproducibility), the release rehearsal against real
    /// servers, the aarch64 wheel under qemu. Not in the default run; CI runs it as a job of its own.
    Heavy,
}

impl Part {
    pub(crate) const ALL: [Part; 4] = [Part::Rust, Part::Python, Part::Wasm, Part::Heavy];

    /// Its one name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Part::Rust => "rust",
            Part::Python => "python",
            Part::Wasm => "wasm",
            Part::Heavy => "heavy",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Platform {
    /// What the workflows' `platforms` input calls it.
    pub name: String,
    /// The GitHub runner label.
    pub runner: String,
    /// The runner's own target.
    pub target: String,
    /// The wheels its package job builds (Linux cross-builds both architectures with zig on one runner).
    #[serde(default)]
    pub wheels: Vec<String>,
    /// The artifact kinds its package job builds (`crates`, `wheels`, `wasm`, `recordings`, `binaries`).
    #[serde(deserialize_with = "kinds")]
    pub builds: Vec<Kind>,
}

/// A rule about a pull request's labels.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LabelRule {
    /// Exactly one of these labels (e.g. the changelog category).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exactly_one_of: Vec<String>,
    /// None of these labels (e.g. "do not merge" markers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub none_of: Vec<String>,
}

/// Where blocking keywords are looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum KeywordPlace {
    Title,
    Body,
    CommitMessages,
}

/// The PR gates (`cargo xtask gates`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Gates {
    /// The branch pull requests merge into when the remote does not say (`origin/HEAD`).
    #[serde(default = "main")]
    pub main_branch: String,
    #[serde(default)]
    pub labels: Vec<LabelRule>,
    /// Phrases that block a merge, matched case-insensitively as whole words in the places `keywords-in` names.
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub keywords_in: Vec<KeywordPlace>,
    /// Marker forms that block a merge wherever they are added: whole words, case-sensitively, in added lines.
    #[serde(default)]
    pub markers: Vec<String>,
    /// Files whose added lines are not searched for markers (globs): the files that define them.
    #[serde(default)]
    pub keyword_exempt: Vec<String>,
    /// Files added or grown to this size or more fail (Git LFS files count by their pointer).
    pub max_file_bytes: u64,
    /// Globs of files allowed to be larger.
    #[serde(default)]
    pub large_file_allow: Vec<String>,
    /// Globs no path may match. A glob without `/` matches the file name anywhere; `**` crosses directories.
    #[serde(default)]
    pub forbidden: Vec<String>,
    /// Globs of files that must be Git LFS pointers (e.g. `*.png`).
    #[serde(default)]
    pub lfs: Vec<String>,
    /// Globs exempt from the `lfs` rule (e.g. `assets/icons/**`: small files kept in git on purpose).
    #[serde(default)]
    pub lfs_allow: Vec<String>,
    /// A pull request's description may hold no unticked task-list box (`- [ ]`, `* [ ]`, `+ [ ]`, `1. [ ]`).
    #[serde(default)]
    pub checklist: bool,
    /// Check the files of every commit the PR brings, not only the net change.
    #[serde(default = "yes")]
    pub every_commit: bool,
}

fn yes() -> bool {
    true
}

fn main() -> String {
    "main".into()
}

impl Default for Gates {
    /// The documented defaults (`cargo xtask gates --defaults`; CONTRIBUTING.md): no label or keyword rule,
    /// files of 1 MiB or more, the usual debris, every commit.
    fn default() -> Gates {
        Gates {
            main_branch: main(),
            labels: vec![],
            keywords: vec![],
            keywords_in: vec![],
            markers: vec![],
            keyword_exempt: vec![],
            max_file_bytes: 1024 * 1024,
            large_file_allow: vec![],
            forbidden: ["*.orig", "*.rej", "*.swp", ".DS_Store", "Thumbs.db"].map(String::from).to_vec(),
            lfs: vec![],
            lfs_allow: vec![],
            checklist: false,
            every_commit: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Store {
    /// The artifact store when `--store` is not given: a directory, `file:///PATH` or `gs://BUCKET/PREFIX`.
    pub default: String,
    /// The web bundle's store (`version/<V>/` and `latest/`) when `--web-store` is not given.
    pub web: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Release {
    /// The crate registry's web API (`$XTASK_REGISTRY_API`, `--registry-api` override it).
    pub registry_api: String,
    /// Its index, `sparse+https://...` or a git URL.
    pub registry_index: String,
    pub pypi_upload: String,
    pub pypi_simple: String,
    /// Platforms a release must have a wheel for.
    #[serde(default)]
    pub wheel_targets: Vec<String>,
    /// The committed minisign public key release signatures are checked against.
    pub signing_key: String,
    /// Crate publishes in flight at once (1-16; default 4): the registry's rate limit paces them either way.
    pub concurrent_publishes: Option<usize>,
    /// Earlier addresses of this project's repository: a crate name whose versions on the registry name one of
    /// them is this project's (a release refuses a name whose versions name another repository).
    #[serde(default)]
    pub former_repositories: Vec<String>,
}
