//! The wheel build of a Python package (maturin), shared by the package and test jobs: on Linux with zig at the
//! manylinux (glibc) or musllinux (musl) baseline, for any interpreter maturin has sysconfig data for;
//! elsewhere natively, for the interpreters installed there.

pub(crate) mod content;
pub(crate) mod matrix;

use camino::Utf8PathBuf;
use xshell::{Shell, cmd};

use crate::config;
use crate::interpreter::Interpreter;
use crate::plan::Step;
pub(crate) use matrix::zig_wheel;

/// An interpreter on this machine: its path when the program of its name (or, on Windows, the `py` launcher's
/// `-3.X`) runs and is that interpreter, else why not.
pub(crate) fn find_interpreter(sh: &Shell, i: Interpreter) -> Result<Utf8PathBuf, String> {
    let exe = i.executable();
    let probe = crate::interpreter::PROBE;
    let said = match which::which(&exe) {
        Ok(path) => cmd!(sh, "{path} -c {probe}").quiet().ignore_stderr().read(),
        Err(_) if cfg!(windows) => {
            let version = format!("-{}", i.setup_python());
            cmd!(sh, "py {version} -c {probe}").quiet().ignore_stderr().read()
        }
        Err(_) => return Err(format!("{exe} is not on PATH")),
    };
    let said = said.map_err(|_| format!("{exe} is on PATH but does not run"))?;
    let mut lines = said.lines();
    let (what, path) = (lines.next().unwrap_or_default().trim(), lines.next().unwrap_or_default().trim());
    if what != i.probe_says() {
        return Err(format!("{exe} is {}, not {i}", crate::plan::printable(what)));
    }
    Ok(Utf8PathBuf::from(path))
}

/// maturin's `--compatibility` for a Linux target built with zig: musllinux for musl, else manylinux.
pub(crate) fn compatibility(target: &str) -> &'static str {
    if target.contains("-linux-musl") { config::MUSLLINUX } else { config::MANYLINUX }
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
#[allow(clippy::too_many_arguments)]
pub(crate) fn wheel_step(
    name: &str,
    pkg: &crate::settings::PythonPackage,
    target: &str,
    host: &str,
    out: &str,
    target_dir: &str,
    release: bool,
    interpreters: &[String],
) -> Step {
    let mut step = Step::run(name, "maturin", &["build", "--locked"])
        .args(release.then_some("--release"))
        .args(["--manifest-path".to_owned(), format!("{}/Cargo.toml", pkg.dir)])
        .args(["--out", out, "--target-dir", target_dir]);
    let mut tools = vec![config::tool::MATURIN, config::tool::CARGO];
    if zig_wheel(target, host) {
        step = step.args(["--zig", "--compatibility", compatibility(target)]);
        tools.push(config::tool::ZIGLANG);
    }
    if target != host || zig_wheel(target, host) {
        step = step.args(["--target", target]);
    }
    if !interpreters.is_empty() {
        // Not abi3: one wheel per interpreter, by name or path (zig's cross-builds read maturin's sysconfig data
        // for a name; a native build finds each on PATH).
        step = step.arg("--interpreter").args(interpreters.iter().cloned());
    }
    step.tools(&tools).hint(if zig_wheel(target, host) {
        "a Linux wheel built with zig: the Rust target must be installed (`rustup target add`); maturin finds \
         zig as `python -m ziglang` of the tools virtualenv"
    } else {
        ""
    })
}
