//! The engine's own test helpers: a test `Ctx`, another repository's settings, a GCS-API server on 127.0.0.1
//! (stopped by pid when dropped), a planned step run in a scratch workspace; and everything of [`crate::testkit`].

use std::process::Command;

use camino::Utf8Path;
use xshell::Shell;

pub(crate) use crate::testkit::*;

use crate::Ctx;
use crate::ctx::Global;
use crate::tools::Tools;

/// A context rooted at `root`, with the repository's tools directory.
pub(crate) fn ctx(root: &Utf8Path) -> Ctx {
    let sh = Shell::new().unwrap();
    sh.change_dir(root);
    Ctx {
        root: root.to_owned(),
        settings: crate::settings::this_repository(),
        sh,
        tools: Tools::new(&crate::project_root(), false),
        global: Global { dry_run: false, json: false, keep_going: false, offline: false, jobs: 4 },
        job: "test",
        metadata: std::sync::OnceLock::new(),
    }
}

/// Settings read from `text` (a ci.toml), as a test's fixture.
pub(crate) fn loaded(text: &str) -> crate::settings::Loaded {
    crate::settings::Loaded {
        path: "/fx/ci.toml".into(),
        source: Some(text.into()),
        settings: crate::settings::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}")),
    }
}

/// The settings of a package that is not abi3: CPython 3.9-3.14, 3.14t and PyPy 3.11, for manylinux and
/// musllinux on x86_64 and aarch64 (cross-built with zig on the Linux runner) and natively on Windows.
pub(crate) fn non_abi3_repository() -> &'static crate::settings::Loaded {
    const TEXT: &str = r#"
[[python]]
dist = "fx-native"
module = "fx_native"
dir = "py"
tests = "py/tests"
interpreters = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.14t", "pypy3.11"]

[test]
default-parts = ["rust", "python"]

[[platform]]
name = "linux"
runner = "ubuntu-latest"
target = "x86_64-unknown-linux-gnu"
wheels = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
builds = ["wheels", "sdists"]

[[platform]]
name = "windows"
runner = "windows-latest"
target = "x86_64-pc-windows-msvc"
wheels = ["x86_64-pc-windows-msvc"]
builds = ["wheels"]
"#;
    static LOADED: std::sync::OnceLock<crate::settings::Loaded> = std::sync::OnceLock::new();
    LOADED.get_or_init(|| loaded(TEXT))
}

/// The settings of a repository that is not this one (another package, bundle, platform and exclusion), built
/// in-process: a plan built with them must name none of this repository's facts.
pub(crate) fn other_repository() -> &'static crate::settings::Loaded {
    const TEXT: &str = r#"
[[python]]
dist = "fx-one"
module = "fx_one"
dir = "py/one"
tests = "py/one/tests"

[[wasm]]
package = "fx-web"
www = "web/www"

[test]
default-parts = ["rust", "python"]
exclude = ["fx-internal"]

[[platform]]
name = "gnu"
runner = "ubuntu-24.04"
target = "x86_64-unknown-linux-gnu"
wheels = ["x86_64-unknown-linux-gnu"]
builds = ["crates", "wheels", "wasm"]
"#;
    static LOADED: std::sync::OnceLock<crate::settings::Loaded> = std::sync::OnceLock::new();
    LOADED.get_or_init(|| crate::settings::Loaded {
        path: "/other/ci.toml".into(),
        source: Some(TEXT.into()),
        settings: crate::settings::parse(TEXT).unwrap(),
    })
}

/// fake-gcs-server on 127.0.0.1 with one bucket (the store's own local server, stopped when dropped).
pub(crate) use crate::store::local::LocalGcs as GcsServer;

impl GcsServer {
    /// In memory.
    pub(crate) fn start_in_memory(bucket: &str) -> GcsServer {
        let tools = Tools::new(&crate::project_root(), false);
        GcsServer::start(&tools, bucket, None).expect("starting fake-gcs-server")
    }

    /// Backed by a directory: like a real deployment's disk, it cannot keep object names that end in `/`.
    pub(crate) fn start_on_disk(bucket: &str, dir: &Utf8Path) -> GcsServer {
        let tools = Tools::new(&crate::project_root(), false);
        GcsServer::start(&tools, bucket, Some(dir)).expect("starting fake-gcs-server")
    }
}

/// Runs a planned step's command in `dir` (a scratch workspace), `program` standing for its program when given
/// (a provisioned tool's path): whether it succeeded, and everything it printed.
pub(crate) fn run_step_in(step: &crate::plan::Step, dir: &Utf8Path, program: Option<&Utf8Path>) -> (bool, String) {
    let crate::plan::Action::Run { program: p, args } = &step.action else { panic!("{} copies files", step.name) };
    let mut cmd = Command::new(program.map_or(p.as_str(), Utf8Path::as_str));
    cmd.args(args).current_dir(dir.join(step.dir.as_deref().unwrap_or(".")));
    for (k, v) in &step.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running {}: {e}", step.name));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}
