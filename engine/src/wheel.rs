//! The wheel build of a Python package (maturin), shared by the package and test jobs: on Linux with zig at the
//! manylinux baseline, elsewhere natively.

use crate::config;
use crate::plan::Step;

/// Whether a wheel for `target` is built with zig at the manylinux baseline: Linux glibc targets, from a
/// Linux host (any architecture zig cross-compiles from).
pub(crate) fn zig_wheel(target: &str, host: &str) -> bool {
    target.ends_with("-unknown-linux-gnu") && host.ends_with("-unknown-linux-gnu")
}

/// `maturin sdist` of a Python package into `out`: its crate and the workspace crates it depends on, trimmed to
/// what the package needs, with the lock file. Reproducible (the engine sets SOURCE_DATE_EPOCH; maturin writes
/// fixed owners and modes).
pub(crate) fn sdist_step(pkg: &crate::settings::PythonPackage, out: &str) -> Step {
    Step::run(&format!("sdists: maturin sdist {}", pkg.dist), "maturin", &["sdist"])
        .args(["--manifest-path".to_owned(), format!("{}/Cargo.toml", pkg.dir)])
        .args(["--out", out])
        .tools(&[config::tool::MATURIN, config::tool::CARGO])
        .hint("the source distribution pip builds a wheel from where none of the wheels fits")
}

/// `maturin build` of one Python package for one target, into `out`.
pub(crate) fn wheel_step(
    name: &str,
    pkg: &crate::settings::PythonPackage,
    target: &str,
    host: &str,
    out: &str,
    target_dir: &str,
    release: bool,
) -> Step {
    let mut step = Step::run(name, "maturin", &["build", "--locked"])
        .args(release.then_some("--release"))
        .args(["--manifest-path".to_owned(), format!("{}/Cargo.toml", pkg.dir)])
        .args(["--out", out, "--target-dir", target_dir]);
    let mut tools = vec![config::tool::MATURIN, config::tool::CARGO];
    if zig_wheel(target, host) {
        step = step.args(["--zig", "--compatibility", config::MANYLINUX]);
        tools.push(config::tool::ZIGLANG);
    }
    if target != host || zig_wheel(target, host) {
        step = step.args(["--target", target]);
    }
    step.tools(&tools).hint(if zig_wheel(target, host) {
        "a manylinux wheel built with zig: the Rust target must be installed (`rustup target add`); maturin finds \
         zig as `python -m ziglang` of the tools virtualenv"
    } else {
        ""
    })
}
