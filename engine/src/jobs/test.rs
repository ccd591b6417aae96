//! `cargo xtask test`: the Rust tests, the Python tests against a freshly built wheel installed in a
//! throwaway virtualenv, and the wasm bundle loaded and exercised in node on recordings the wheel wrote.

use anyhow::Result;

pub(crate) mod shard;

use crate::affected::{self, Affected};
use crate::config::tool;
use crate::config::{self, CI_DIR};
use crate::interpreter::Interpreter;
use crate::plan::{Plan, Step};
use crate::workspace as repo;
use crate::{Ctx, tools, wasm};
use xshell::cmd;

pub(crate) fn run(ctx: &Ctx, f: &crate::flags::Test) -> Result<()> {
    let (parts, runner_args, changed_since) = (&f.parts()[..], &f.runner_args[..], f.changed_since.as_deref());
    let defaults: Vec<Part>;
    let parts = if parts.is_empty() {
        defaults = ctx.settings.test_parts("test")?.to_vec();
        &defaults[..]
    } else {
        parts
    };
    let affected = affected::for_flag(ctx, changed_since)?;
    let parts = select(ctx.settings, parts, &affected);
    if !parts.is_empty() {
        crate::bootstrap::ensure(ctx)?;
    }
    let nextest = nextest_usable(ctx)?;
    let toolchain = if parts.contains(&Part::Wasm) { Some(wasm::for_job(&ctx.sh, &ctx.global)?) } else { None };
    // The one version names the wheel to install: only the Python and wasm parts need it.
    let version = if parts.iter().any(|p| matches!(p, Part::Python | Part::Wasm)) {
        repo::workspace_version(&ctx.root)?
    } else {
        String::new()
    };
    let examples = repo::example_scripts(&ctx.root, ctx.settings)?;
    let pythons_here =
        if parts.iter().any(|p| matches!(p, Part::Python | Part::Heavy)) { pythons(ctx) } else { (Vec::new(), None) };
    let inputs = Inputs {
        settings: ctx.settings,
        parts: &parts,
        runner_args,
        nextest,
        toolchain,
        version: &version,
        examples: &examples,
        affected: &affected,
        node_lower_bound: if parts.contains(&Part::Wasm) { node_lower_bound(ctx) } else { Err("not needed".into()) },
        host: crate::workspace::host_triple(ctx)?,
        aarch64: emulated_aarch64(ctx),
        heavy_tests: parts.contains(&Part::Heavy)
            && crate::pipeline::heavy_tests_in(&ctx.root, ctx.settings.test_excluded()),
        aarch64_wheels: crate::pipeline::aarch64_wheel_tests(ctx.settings),
        libs: if parts.contains(&Part::Rust) && nextest {
            crate::workspace::workspace_packages(ctx)?.into_iter().filter(|p| p.has_lib).map(|p| p.name).collect()
        } else {
            Vec::new()
        },
        rust_args: ctx.settings.test_rust_args(),
        python_test_deps: if parts.iter().any(|p| matches!(p, Part::Python | Part::Heavy)) {
            python_test_deps(ctx)?
        } else {
            Vec::new()
        },
        pythons: pythons_here.0,
        default_python: pythons_here.1,
        unit_tests_here: f.unit_tests.unwrap_or_default() == crate::flags::UnitTests::Here,
    };
    ctx.execute(&plan(&inputs))
}

/// Whether cargo nextest is there at its pinned version (if not, the Rust tests run with cargo test, and the
/// note says how to get it).
fn nextest_usable(ctx: &Ctx) -> Result<bool> {
    let probe = ctx.tools.probe(&ctx.sh, config::tool::NEXTEST.tool())?;
    if !probe.ok {
        let fix = ctx.tools.fix_command(probe.tool, &probe.wanted);
        eprintln!(
            "note: nextest {} is not usable ({}); using cargo test. To use nextest: {fix}",
            probe.wanted,
            probe.status()
        );
    }
    Ok(probe.ok)
}

/// Each Python package's test requirements, read from its pyproject.toml.
fn python_test_deps(ctx: &Ctx) -> Result<Vec<(String, Option<crate::pyproject::TestDeps>)>> {
    ctx.settings
        .python()
        .iter()
        .map(|p| Ok((p.dist.clone(), crate::pyproject::test_requirements(&ctx.root, p)?)))
        .collect()
}

pub(crate) use crate::settings::Part;

/// The parts a change needs, among those asked for.
pub(crate) fn select(settings: &crate::settings::Loaded, parts: &[Part], a: &Affected) -> Vec<Part> {
    let web = settings.wasm().iter().any(|b| a.crate_affected(&b.package));
    parts
        .iter()
        .filter(|p| match p {
            Part::Rust => a.any_rust(),
            Part::Python => a.everything.is_some() || a.python || a.examples,
            // The node tests load recordings the wheel writes: the wheel and the examples are inputs too.
            Part::Wasm => a.everything.is_some() || web || a.python || a.examples,
            // Packaging, the release rehearsal and the aarch64 wheel: anything they build or run.
            Part::Heavy => a.everything.is_some() || a.any_rust() || a.python || a.examples,
        })
        .cloned()
        .collect()
}

/// What the test plan depends on, gathered from the machine and the repository.
pub(crate) struct Inputs<'a> {
    /// The repository's settings (ci.toml).
    pub settings: &'a crate::settings::Loaded,
    pub parts: &'a [Part],
    pub runner_args: &'a [String],
    pub nextest: bool,
    pub toolchain: Option<wasm::Toolchain>,
    pub version: &'a str,
    /// File stems of the example scripts (ci.toml `[examples] dir`).
    pub examples: &'a [String],
    pub affected: &'a Affected,
    /// Node at the pin's lower bound (a program to run), or why there is none.
    pub node_lower_bound: Result<String, String>,
    /// The host's target triple.
    pub host: String,
    /// qemu-user and an aarch64 Python for the aarch64 wheel's tests, or why there are none.
    pub aarch64: Result<Emulated, String>,
    /// Some Rust test of the repository is marked `#[ignore]` (the heavy part's Rust tests).
    pub heavy_tests: bool,
    /// ci.toml ships an aarch64 Linux wheel (tested under qemu in the heavy part).
    pub aarch64_wheels: bool,
    /// The workspace members with a library target (whose doctests run; nextest runs none).
    pub libs: Vec<String>,
    /// Cargo arguments of the Rust test run (ci.toml `[test] rust-args`).
    pub rust_args: &'a [String],
    /// Per Python package: the requirements its tests need and where they come from (its pyproject.toml).
    pub python_test_deps: Vec<(String, Option<crate::pyproject::TestDeps>)>,
    /// The interpreters the non-abi3 packages list, each found on this machine (its path) or why not.
    pub pythons: Vec<Found>,
    /// What `python3` here is (the throwaway virtualenv's interpreter), where it is one a package could list.
    pub default_python: Option<Interpreter>,
    /// The Rust unit tests run here (else in the shard jobs: here only the doctests).
    pub unit_tests_here: bool,
}

/// An interpreter, and its path on this machine or why it is not here.
pub(crate) type Found = (Interpreter, Result<String, String>);

/// The interpreters the non-abi3 packages list, probed, and what `python3` is.
fn pythons(ctx: &Ctx) -> (Vec<Found>, Option<Interpreter>) {
    let mut listed: Vec<Interpreter> = ctx.settings.python().iter().flat_map(|p| p.interpreters()).collect();
    listed.sort();
    listed.dedup();
    let found =
        listed.into_iter().map(|i| (i, crate::wheel::find_interpreter(&ctx.sh, i).map(|p| p.to_string()))).collect();
    let sh = &ctx.sh;
    let probe = crate::interpreter::PROBE;
    let said = cmd!(sh, "python3 -c {probe}").quiet().ignore_stderr().read().unwrap_or_default();
    let default = said.lines().next().and_then(|l| {
        let (implementation, version) = l.split_once(' ')?;
        let spelled = match implementation {
            "cpython" => version.replace(" free-threaded", "t"),
            "pypy" => format!("pypy{version}"),
            _ => return None,
        };
        spelled.parse().ok()
    });
    (found, default)
}

/// The major version of node's pin (`>= 18`): the wasm tests also run on it.
pub(crate) const NODE_LOWER_BOUND: &str = "18";

/// Finds the node at the pin's lower bound that the bootstrap script unpacks into the tools directory, and
/// checks that it is that version.
pub(crate) fn node_lower_bound(ctx: &Ctx) -> Result<String, String> {
    let node = ctx.tools.dir().join(config::NODE_LOWER_BOUND_DIR).join("bin/node");
    if !node.exists() {
        return Err(format!(
            "{node} is missing; on Debian 12 `cargo xtask doctor --provision` (the engine's bootstrap script) unpacks it there"
        ));
    }
    let sh = &ctx.sh;
    match xshell::cmd!(sh, "{node} --version").quiet().ignore_stderr().read() {
        Ok(v) if v.trim().starts_with(&format!("v{NODE_LOWER_BOUND}.")) => Ok(node.to_string()),
        Ok(v) => Err(format!("{node} is {}, not node {NODE_LOWER_BOUND}", v.trim())),
        Err(e) => Err(format!("{node} does not run: {e}")),
    }
}

/// The doctests of the selected crates that have a library (nextest runs none): `cargo test --doc`.
fn doctest_step(plan: &mut Plan, i: &Inputs<'_>, packages: &[String]) {
    let selected: Vec<String> = if packages.first().is_some_and(|p| p == "--workspace") {
        if i.libs.is_empty() { vec![] } else { packages.to_vec() }
    } else {
        packages
            .chunks(2)
            .filter(|pair| pair.len() == 2 && i.libs.contains(&pair[1]))
            .flat_map(|pair| pair.iter().cloned())
            .collect()
    };
    if selected.is_empty() {
        plan.note("no doctests: no selected crate has a library");
        return;
    }
    plan.push(
        Step::run("rust doctests", "cargo", &["test", "--doc", "--locked", "--no-fail-fast"])
            .args(selected)
            .args(i.rust_args.iter().cloned())
            .tools(&[tool::CARGO])
            .hint("the examples in the documentation (`cargo test --doc`): nextest does not run them"),
    );
}

/// The aarch64 wheel's tests on an x86_64 Linux machine: the wheel cross-built with zig, installed with pytest
/// into a directory for that platform, and pytest run by an aarch64 Python under qemu-user. Without qemu or the
/// aarch64 Python the plan says it skipped them, and why.
fn aarch64_steps(plan: &mut Plan, i: &Inputs<'_>) {
    const TARGET: &str = "aarch64-unknown-linux-gnu";
    if i.host != "x86_64-unknown-linux-gnu" {
        return; // an aarch64 host tests its own wheel natively; elsewhere there is no Linux wheel to emulate
    }
    let emulated = match &i.aarch64 {
        Ok(e) => e,
        Err(why) => {
            plan.note(format!("skipped: the aarch64 wheel's tests under qemu ({why})"));
            return;
        }
    };
    let wheels = format!("{CI_DIR}/wheels/{TARGET}");
    let site = format!("{CI_DIR}/site-{TARGET}");
    // A virtualenv of its own: pip there installs the aarch64 packages into `site` for the emulated Python.
    let venv = format!("{CI_DIR}/venv-{TARGET}");
    let venv_python = tools::venv_python(camino::Utf8Path::new(&venv)).to_string();
    plan.push(
        Step::run("aarch64: virtualenv for pip", "python3", &["-m", "venv", "--clear", &venv]).tools(&[tool::PYTHON3]),
    );
    let pip_for_aarch64 = |name: &str| {
        Step::run(name, &venv_python, &["-m", "pip", "install", "--quiet", "--upgrade", "--target", &site])
            .args(config::PIP_RETRIES)
            .args(["--platform", &format!("{}_aarch64", config::MANYLINUX), "--python-version", "3.11"])
            .args(["--implementation", "cp", "--only-binary=:all:"])
    };
    for pkg in i.settings.python() {
        let Some(interpreters) = emulated_interpreters(plan, pkg) else { continue };
        let name = format!("wheel: {} ({TARGET})", pkg.dist);
        plan.push(crate::wheel::wheel_step(&name, pkg, TARGET, &i.host, &wheels, "target", false, &interpreters));
        plan.push(pip_for_aarch64(&format!("aarch64: install pytest for {}", pkg.dist)).arg(config::PYTEST));
        let deps = i.python_test_deps.iter().find(|(d, _)| *d == pkg.dist).and_then(|(_, d)| d.as_ref());
        if let Some(deps) = deps.filter(|d| !d.requirements.is_empty()) {
            plan.push(
                pip_for_aarch64(&format!("aarch64: install the test dependencies of {}", pkg.dist))
                    .args(deps.requirements.iter().cloned())
                    .hint(format!("{} of its pyproject.toml, as wheels for aarch64", deps.from)),
            );
        }
        plan.push(
            pip_for_aarch64(&format!("aarch64: install the {} wheel", pkg.dist))
                .args(["--no-index", "--no-deps", "--find-links", &wheels])
                .arg(format!("{}=={}", pkg.dist, i.version)),
        );
        plan.push(
            Step::run(&format!("pytest under qemu ({TARGET}): {}", pkg.dist), &emulated.qemu, &["-L", &emulated.root])
                .arg(format!("{}/usr/bin/python3.11", emulated.root))
                .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", &pkg.tests])
                .env("PYTHONPATH", &site)
                .hint("the aarch64 wheel under qemu-user with Debian's arm64 Python (the engine's bootstrap script)"),
        );
    }
}

/// The `-i` of the aarch64 wheel run under qemu: none for abi3; the emulated Python (Debian's 3.11) where the
/// package lists it; else the plan says why there is none.
fn emulated_interpreters(plan: &mut Plan, pkg: &crate::settings::PythonPackage) -> Option<Vec<String>> {
    let cp311 = Interpreter::CPython { minor: 11, free_threaded: false };
    match pkg.interpreters() {
        v if v.is_empty() => Some(vec![]),
        v if v.contains(&cp311) => Some(vec![cp311.executable()]),
        _ => {
            plan.note(format!(
                "skipped: {}'s aarch64 wheel under qemu (the emulated Python is 3.11, which the package does not list)",
                pkg.dist
            ));
            None
        }
    }
}

/// qemu-user and an aarch64 Python root, as the bootstrap script leaves them.
#[derive(Clone, Debug)]
pub(crate) struct Emulated {
    pub qemu: String,
    pub root: String,
}

/// Finds qemu-aarch64 and the aarch64 Python the bootstrap script unpacks into the tools directory.
pub(crate) fn emulated_aarch64(ctx: &Ctx) -> Result<Emulated, String> {
    let root = ctx.tools.dir().join("aarch64-python/root");
    let qemu = which::which("qemu-aarch64").map_err(|_| {
        "qemu-aarch64 is not installed; `cargo xtask doctor --provision` (the engine's bootstrap script) installs qemu-user".to_owned()
    })?;
    if !root.join("usr/bin/python3.11").exists() {
        return Err(format!(
            "no aarch64 Python in {root}; on Debian `cargo xtask doctor --provision` (the engine's bootstrap script) unpacks Debian's arm64 python3.11 there"
        ));
    }
    Ok(Emulated { qemu: qemu.to_string_lossy().into_owned(), root: root.to_string() })
}

pub(crate) fn plan(i: &Inputs<'_>) -> Plan {
    let mut plan = Plan::new("test");
    for n in i.affected.summary() {
        plan.note(n);
    }
    if i.parts.is_empty() {
        plan.note("no test part is affected by this change");
    }
    if i.parts.contains(&Part::Rust) {
        rust_steps(&mut plan, i);
    }
    if i.parts.contains(&Part::Heavy) {
        heavy_steps(&mut plan, i);
    }
    let wants_python = i.parts.contains(&Part::Python);
    let wants_wasm = i.parts.contains(&Part::Wasm);
    if wants_python || wants_wasm {
        // The wheel tested is built the way the shipped one is (on Linux: with zig, at the manylinux baseline), in
        // a directory of its own per target, so no other wheel can be picked instead.
        let wheels = format!("{CI_DIR}/wheels/{}", i.host);
        for pkg in i.settings.python() {
            let name = format!("wheel: {}", pkg.dist);
            // Not abi3: the wheel of the virtualenv's interpreter (`python3`).
            let interpreters = if pkg.interpreters().is_empty() { vec![] } else { vec!["python3".to_owned()] };
            plan.push(crate::wheel::wheel_step(&name, pkg, &i.host, &i.host, &wheels, "target", false, &interpreters));
        }
        let venv = format!("{CI_DIR}/venv");
        plan.push(
            Step::run("throwaway virtualenv", "python3", &["-m", "venv", "--clear", &venv]).tools(&[tool::PYTHON3]),
        );
        let python = tools::venv_python(camino::Utf8Path::new(&venv)).to_string();
        if wants_python {
            python_test_dependencies(&mut plan, i, &python, None);
        }
        wheel_steps(&mut plan, i, &python, &wheels, wants_python, None);
        let recordings = format!("{CI_DIR}/recordings");
        recording_steps(&mut plan, i, &python, &recordings);
        if wants_wasm {
            wasm_steps(&mut plan, i, &recordings);
        }
        if wants_python {
            interpreter_steps(&mut plan, i);
        }
    }
    plan
}

/// The non-abi3 packages' tests on every other interpreter they list that runs here: per interpreter, a wheel
/// for it, a virtualenv of it with pytest and the test dependencies, the import and pytest. The plan names each
/// interpreter it could not run, and why.
fn interpreter_steps(plan: &mut Plan, i: &Inputs<'_>) {
    for pkg in i.settings.python().iter().filter(|p| !p.interpreters().is_empty()) {
        for interpreter in pkg.interpreters() {
            if Some(interpreter) == i.default_python {
                continue; // tested above, in the throwaway virtualenv
            }
            let found = i.pythons.iter().find(|(f, _)| *f == interpreter).map(|(_, r)| r.clone());
            let path = match found.unwrap_or_else(|| Err("not probed".into())) {
                Ok(path) => path,
                Err(why) => {
                    plan.note(format!(
                        "not tested here: {} on {interpreter} ({why}; CI's test job installs it with setup-python)",
                        pkg.dist
                    ));
                    continue;
                }
            };
            let exe = interpreter.executable();
            let wheels = format!("{CI_DIR}/wheels/{}-{exe}", i.host);
            let name = format!("wheel: {} ({interpreter})", pkg.dist);
            plan.push(crate::wheel::wheel_step(
                &name,
                pkg,
                &i.host,
                &i.host,
                &wheels,
                "target",
                false,
                std::slice::from_ref(&path),
            ));
            let venv = format!("{CI_DIR}/venv-{exe}");
            plan.push(Step::run(&format!("virtualenv ({interpreter})"), &path, &["-m", "venv", "--clear", &venv]));
            let python = tools::venv_python(camino::Utf8Path::new(&venv)).to_string();
            // This package's steps alone (its test dependencies, wheel, import and tests), named for the
            // interpreter.
            let mut own = Plan::new("one interpreter");
            python_test_dependencies(&mut own, i, &python, Some(&pkg.dist));
            wheel_steps(&mut own, i, &python, &wheels, true, Some(&pkg.dist));
            for s in own.steps {
                plan.push(Step { name: format!("{} ({interpreter})", s.name), ..s });
            }
        }
    }
    let musl = i.settings.settings.platform.iter().flat_map(|p| &p.wheels).any(|t| t.contains("-linux-musl"));
    if musl && !i.settings.python().is_empty() {
        plan.note(
            "not tested here: the musllinux wheels (no musl Python on this machine; maturin's audit checked them)",
        );
    }
}

/// The Rust tests of the affected crates (cargo nextest, else cargo test), and their doctests.
fn rust_steps(plan: &mut Plan, i: &Inputs<'_>) {
    let step = if i.nextest {
        // A workspace whose only tests are doctests has nothing for nextest: not a failure.
        Step::run("rust tests", "cargo", &["nextest", "run", "--locked", "--no-fail-fast", "--no-tests", "warn"])
            .tools(&[tool::CARGO, tool::NEXTEST])
    } else {
        Step::run("rust tests", "cargo", &["test", "--locked", "--no-fail-fast"]).tools(&[tool::CARGO])
    };
    let excluded = i.settings.test_excluded();
    let packages: Vec<String> = if i.affected.everything.is_some() {
        std::iter::once("--workspace".to_owned())
            .chain(excluded.iter().flat_map(|c| ["--exclude".to_owned(), c.clone()]))
            .collect()
    } else {
        i.affected
            .crates
            .iter()
            .filter(|c| !excluded.contains(c))
            .flat_map(|c| ["--package".to_owned(), c.clone()])
            .collect()
    };
    if packages.is_empty() {
        plan.note("no Rust tests: only crates that ci.toml's [test] exclude leaves out changed");
        return;
    }
    // cargo's own arguments (features...) before the runner's.
    if i.unit_tests_here {
        plan.push(step.args(packages.clone()).args(i.rust_args.iter().cloned()).args(i.runner_args.iter().cloned()));
    } else {
        plan.note("the Rust unit tests run in the shard jobs (`test --shard K/N`): here only the doctests");
    }
    if i.nextest || !i.unit_tests_here {
        doctest_step(plan, i, &packages);
    }
}

/// The heavy part: the Rust scenarios marked `#[ignore = "heavy ..."]` (every crate's, whatever changed: they
/// exercise the whole pipeline) and the aarch64 wheel's tests.
fn heavy_steps(plan: &mut Plan, i: &Inputs<'_>) {
    if !i.heavy_tests && !i.aarch64_wheels {
        plan.note(
            "the heavy part: nothing to do (no Rust test is marked #[ignore], and no aarch64 Linux wheel to test)",
        );
        return;
    }
    let excludes: Vec<String> =
        i.settings.test_excluded().iter().flat_map(|c| ["--exclude".to_owned(), c.clone()]).collect();
    let step = if i.nextest {
        Step::run("rust tests (heavy)", "cargo", &["nextest", "run", "--locked", "--no-fail-fast", "--workspace"])
            .args(excludes)
            // A marked test the build does not compile (behind a feature, in a file no target includes) leaves
            // none to run: said, not failed.
            .args(["--run-ignored", "only", "--no-tests", "warn"])
            .tools(&[tool::CARGO, tool::NEXTEST])
    } else {
        Step::run("rust tests (heavy)", "cargo", &["test", "--locked", "--no-fail-fast", "--workspace"])
            .args(excludes)
            .args(["--", "--ignored"])
            .tools(&[tool::CARGO])
    };
    if i.heavy_tests {
        plan.push(
            step.hint("the slow scenarios: two clean packaging builds, the release rehearsal against real servers"),
        );
    } else {
        plan.note("no heavy Rust tests: no Rust test is marked #[ignore]");
    }
    if i.aarch64_wheels {
        aarch64_steps(plan, i);
    } else {
        plan.note("no aarch64 wheel's tests: ci.toml ships no aarch64 Linux wheel");
    }
}

/// pytest, and each package's own test dependencies (its pyproject.toml), from the package index (`only`: that
/// package's alone).
fn python_test_dependencies(plan: &mut Plan, i: &Inputs<'_>, python: &str, only: Option<&str>) {
    plan.push(
        Step::run("install pytest", python, &["-m", "pip", "install", "--quiet"])
            .args(config::PIP_RETRIES)
            .arg(config::PYTEST),
    );
    for (dist, deps) in i.python_test_deps.iter().filter(|(d, _)| only.is_none_or(|o| o == d)) {
        match deps {
            Some(d) if !d.requirements.is_empty() => plan.push(
                Step::run(
                    &format!("install the test dependencies of {dist}"),
                    python,
                    &["-m", "pip", "install", "--quiet"],
                )
                .args(config::PIP_RETRIES)
                .args(d.requirements.iter().cloned())
                .hint(format!("{} of its pyproject.toml", d.from)),
            ),
            Some(d) => plan.note(format!("{dist}: {} is empty: pytest only", d.from)),
            None => plan.note(format!(
                "{dist}: no test dependencies declared (a `test` dependency group in its pyproject.toml, or \
                 ci.toml's test-group / test-extra): pytest only"
            )),
        }
    }
}

/// Each package's wheel (`only`: that package's) installed into the virtualenv and imported, and its tests run
/// against it.
fn wheel_steps(plan: &mut Plan, i: &Inputs<'_>, python: &str, wheels: &str, pytest: bool, only: Option<&str>) {
    for pkg in i.settings.python().iter().filter(|p| only.is_none_or(|o| o == p.dist)) {
        plan.push(
            Step::run(&format!("install the {} wheel", pkg.dist), python, &["-m", "pip", "install", "--quiet"])
                .args(["--no-index", "--find-links", wheels, "--force-reinstall"])
                .arg(format!("{}=={}", pkg.dist, i.version)),
        );
        plan.push(
            Step::run(&format!("import {}", pkg.module), python, &["-c"])
                .arg(format!("import {m}; print({m}.__name__, {m}.__version__, 'from', {m}.__file__)", m = pkg.module)),
        );
        if pytest {
            // -p no:cacheprovider: no .pytest_cache in the source tree.
            plan.push(
                Step::run(&format!("pytest: {}", pkg.dist), python, &["-m", "pytest", "-q", "-p", "no:cacheprovider"])
                    .arg(&pkg.tests)
                    .hint("the tests run against the installed wheel, not the source tree"),
            );
        }
    }
}

/// The example scripts run with the installed wheel, and their recordings verified (what the wasm tests read).
fn recording_steps(plan: &mut Plan, i: &Inputs<'_>, python: &str, recordings: &str) {
    let Some(examples) = i.settings.examples() else { return };
    let mut files = Vec::new();
    for stem in i.examples {
        let out = format!("{recordings}/{stem}.{}", examples.extension);
        plan.push(
            Step::run(&format!("example {stem}.py"), python, &[&format!("{}/{stem}.py", examples.dir)]).arg(&out),
        );
        files.push(out);
    }
    if !files.is_empty() {
        plan.push(
            Step::run(
                "verify the recordings",
                "cargo",
                &["run", "--quiet", "--locked", "--package", &examples.verifier, "--"],
            )
            .args(examples.verify_args.iter().cloned())
            .args(files)
            .tools(&[tool::CARGO]),
        );
    }
}

/// Each wasm bundle built, and its tests run in node (also on the pin's lower bound) and in a browser.
fn wasm_steps(plan: &mut Plan, i: &Inputs<'_>, recordings: &str) {
    let toolchain = i.toolchain.clone().expect("the wasm part has a toolchain");
    for b in i.settings.wasm() {
        let out = format!("{CI_DIR}/web/{}", b.package);
        plan.steps.extend(wasm::bundle_steps(b, &toolchain, &out, wasm::TARGET_DIR));
        // The tests find the bundle and the recordings through these two variables.
        let env = |s: Step| s.env("CI_BUNDLE", &out).env("CI_RECORDINGS", recordings);
        if let Some(tests) = &b.node_tests {
            plan.push(env(Step::run(&format!("node: {}", b.package), "node", &["--test", tests]).tools(&[tool::NODE])));
            match &i.node_lower_bound {
                Ok(node) => plan.push(env(Step::run(
                    &format!("node {NODE_LOWER_BOUND} (the pin's lower bound): {}", b.package),
                    node,
                    &["--test", tests],
                ))),
                Err(why) => plan
                    .note(format!("skipped: the wasm tests on node {NODE_LOWER_BOUND}, the pin's lower bound ({why})")),
            }
        }
        if let Some(tests) = &b.browser_tests {
            plan.push(
                env(Step::run(&format!("browser: {}", b.package), "node", &["--test", tests]))
                    .tools(&[tool::NODE])
                    .hint("the page in headless Chromium; without Chromium these tests report as skipped"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ALL: std::sync::LazyLock<Affected> = std::sync::LazyLock::new(|| Affected::all("test"));

    fn inputs(parts: &[Part]) -> Inputs<'_> {
        Inputs {
            settings: crate::settings::this_repository(),
            affected: &ALL,
            parts,
            runner_args: &[],
            nextest: true,
            toolchain: Some(wasm::Toolchain::BuildStd { toolchain: "debian-web".into() }),
            version: "1.2.3",
            examples: &[],
            node_lower_bound: Ok("/t/node-lower-bound/bin/node".into()),
            host: "x86_64-unknown-linux-gnu".into(),
            aarch64: Ok(Emulated { qemu: "/usr/bin/qemu-aarch64".into(), root: "/t/aarch64-python/root".into() }),
            heavy_tests: true,
            aarch64_wheels: true,
            libs: vec!["reel".into()],
            rust_args: &[],
            python_test_deps: vec![("reel-sdk".into(), None)],
            pythons: vec![],
            default_python: "3.11".parse().ok(),
            unit_tests_here: true,
        }
    }

    fn names(plan: &Plan) -> Vec<&str> {
        plan.steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// The plan of another repository, built in this process from its settings alone: its package, its
    /// exclusion, nothing of this repository's.
    #[test]
    fn a_plan_for_another_repository_s_settings_is_that_repository_s() {
        let other = crate::testutil::other_repository();
        let i = Inputs {
            settings: other,
            python_test_deps: vec![("fx-one".into(), None)],
            aarch64_wheels: false,
            ..inputs(&[Part::Rust, Part::Python])
        };
        let p = plan(&i);
        let text: String = p.steps.iter().map(|s| format!("{}: {}\n", s.name, s.command_line())).collect();
        assert!(text.contains("wheel: fx-one") && text.contains("py/one/tests"), "{text}");
        assert!(text.contains("--workspace --exclude fx-internal"), "{text}");
        assert!(!text.contains("reel") && !text.contains("examples"), "{text}");
    }

    #[test]
    fn full_plan_runs_rust_then_python_on_the_wheel_then_wasm_in_node() {
        let examples = ["a".to_owned(), "b".to_owned()];
        let plan = plan(&Inputs { examples: &examples, ..inputs(&[Part::Rust, Part::Python, Part::Wasm]) });
        let n = names(&plan);
        let pos = |name: &str| n.iter().position(|s| *s == name).unwrap_or_else(|| panic!("no step {name}: {n:?}"));
        assert_eq!(pos("rust tests"), 0);
        assert!(pos("wheel: reel-sdk") < pos("install the reel-sdk wheel"));
        assert!(pos("install the reel-sdk wheel") < pos("pytest: reel-sdk"));
        assert!(pos("example b.py") < pos("verify the recordings"));
        assert!(pos("verify the recordings") < pos("node: reel-web"));
        let install = &plan.steps[pos("install the reel-sdk wheel")].command_line();
        assert!(install.contains("--no-index") && install.ends_with("reel-sdk==1.2.3"), "{install}");
        let verify = plan.steps[pos("verify the recordings")].command_line();
        assert!(verify.ends_with("verify target/ci/recordings/a.reel target/ci/recordings/b.reel"), "{verify}");
        let build = &plan.steps[pos("wasm: cargo build (build-std)")];
        assert_eq!(build.env, [("RUSTC_BOOTSTRAP".to_owned(), "1".to_owned())]);
        assert!(build.command_line().contains("+debian-web build"));
    }

    #[test]
    fn the_wasm_tests_run_on_node_the_pins_lower_bound_and_in_a_browser() {
        let p = plan(&inputs(&[Part::Wasm]));
        let lower = p.steps.iter().find(|s| s.name == "node 18 (the pin's lower bound): reel-web").unwrap();
        assert!(
            lower.command_line().contains("/t/node-lower-bound/bin/node --test crates/reel-web/tests/bundle.test.mjs")
        );
        assert!(names(&p).contains(&"browser: reel-web"));
        let missing = plan(&Inputs { node_lower_bound: Err("not there".into()), ..inputs(&[Part::Wasm]) });
        assert!(!names(&missing).iter().any(|n| n.starts_with("node 18")));
        assert!(
            missing.notes.iter().any(|n| n.contains("skipped: the wasm tests on node 18") && n.contains("not there"))
        );
        // The pin and the lower bound agree.
        let node = config::tool::NODE.tool();
        assert!(format!("{:?}", node.pin).contains(&format!("\"{NODE_LOWER_BOUND}\"")), "{:?}", node.pin);
    }

    #[test]
    fn the_aarch64_wheel_is_tested_under_qemu_or_reported_skipped() {
        let p = plan(&inputs(&[Part::Python, Part::Heavy]));
        let n = names(&p);
        let wheel = p.steps.iter().find(|s| s.name == "wheel: reel-sdk").unwrap();
        assert!(wheel.command_line().contains("--zig --compatibility manylinux2014 --target x86_64-unknown-linux-gnu"));
        let i = n.iter().position(|s| *s == "wheel: reel-sdk (aarch64-unknown-linux-gnu)").unwrap();
        assert_eq!(
            &n[i..i + 4],
            [
                "wheel: reel-sdk (aarch64-unknown-linux-gnu)",
                "aarch64: install pytest for reel-sdk",
                "aarch64: install the reel-sdk wheel",
                "pytest under qemu (aarch64-unknown-linux-gnu): reel-sdk"
            ]
        );
        let qemu = &p.steps[i + 3];
        assert_eq!(
            qemu.command_line(),
            "PYTHONPATH=target/ci/site-aarch64-unknown-linux-gnu /usr/bin/qemu-aarch64 -L /t/aarch64-python/root \
             /t/aarch64-python/root/usr/bin/python3.11 -m pytest -q -p no:cacheprovider crates/reel-py/tests"
        );
        let install = p.steps[i + 2].command_line();
        assert!(install.contains("--platform manylinux2014_aarch64") && install.contains("--no-index"), "{install}");
        let without = plan(&Inputs { aarch64: Err("no qemu here".into()), ..inputs(&[Part::Heavy]) });
        assert!(!names(&without).iter().any(|s| s.contains("qemu")));
        assert!(without.notes.iter().any(|n| n == "skipped: the aarch64 wheel's tests under qemu (no qemu here)"));
    }

    #[test]
    fn the_heavy_part_is_not_in_the_default_run() {
        let default = plan(&inputs(&[Part::Rust, Part::Python, Part::Wasm]));
        assert!(!names(&default).iter().any(|n| n.contains("heavy") || n.contains("qemu")), "{:?}", names(&default));
        let heavy = plan(&inputs(&[Part::Heavy]));
        assert_eq!(
            heavy.steps[0].command_line(),
            "cargo nextest run --locked --no-fail-fast --workspace --run-ignored only --no-tests warn"
        );
        let fallback = plan(&Inputs { nextest: false, ..inputs(&[Part::Heavy]) });
        assert_eq!(fallback.steps[0].command_line(), "cargo test --locked --no-fail-fast --workspace -- --ignored");
        assert!(names(&heavy).iter().any(|n| n.starts_with("pytest under qemu")));
        // A repository without #[ignore] tests or an aarch64 wheel: the heavy part has nothing to do, and says so
        // (nextest would fail with "no tests to run").
        let nothing = plan(&Inputs { heavy_tests: false, aarch64_wheels: false, ..inputs(&[Part::Heavy]) });
        assert!(nothing.steps.is_empty(), "{:?}", names(&nothing));
        assert!(nothing.notes.iter().any(|n| n.starts_with("the heavy part: nothing to do")), "{:?}", nothing.notes);
        let only_rust = plan(&Inputs { aarch64_wheels: false, ..inputs(&[Part::Heavy]) });
        assert!(
            !names(&only_rust).iter().any(|n| n.contains("qemu") || n.contains("aarch64")),
            "{:?}",
            names(&only_rust)
        );
        assert!(only_rust.notes.iter().any(|n| n.contains("ships no aarch64 Linux wheel")));
        let only_arm = plan(&Inputs { heavy_tests: false, ..inputs(&[Part::Heavy]) });
        assert!(
            !names(&only_arm).contains(&"rust tests (heavy)") && names(&only_arm).iter().any(|n| n.contains("qemu"))
        );
    }

    /// Doctests beside nextest (which runs none), for the selected crates that have a library; the repository's
    /// cargo arguments on both; each Python package's own test dependencies before its tests.
    #[test]
    fn doctests_features_and_test_dependencies_are_the_project_s() {
        let args = ["--features".to_owned(), "serde".to_owned()];
        let group = crate::pyproject::TestDeps {
            requirements: vec!["dirty-equals>=0.7".to_owned()],
            from: "the dependency group `test`".to_owned(),
        };
        let deps = vec![("reel-sdk".to_owned(), Some(group))];
        let p = plan(&Inputs { rust_args: &args, python_test_deps: deps, ..inputs(&[Part::Rust, Part::Python]) });
        let lines: Vec<String> = p.steps.iter().map(|s| s.command_line()).collect();
        assert_eq!(lines[0], "cargo nextest run --locked --no-fail-fast --no-tests warn --workspace --features serde");
        assert_eq!(lines[1], "cargo test --doc --locked --no-fail-fast --workspace --features serde");
        let install = lines
            .iter()
            .position(|l| l.ends_with("pip install --quiet --retries 10 'dirty-equals>=0.7'"))
            .expect("the group");
        let pytest = lines.iter().position(|l| l.contains("-m pytest")).unwrap();
        assert!(install < pytest, "{lines:?}");
        // cargo test runs the doctests itself.
        let plain = plan(&Inputs { nextest: false, ..inputs(&[Part::Rust]) });
        assert!(!names(&plain).contains(&"rust doctests"), "{:?}", names(&plain));
        // A change to a binary-only crate: its tests, no doctest step.
        let mut changed = Affected::default();
        changed.crates.insert("reel-cli".into());
        changed.crates.insert("reel".into());
        let p = plan(&Inputs { affected: &changed, ..inputs(&[Part::Rust]) });
        let doc = p.steps.iter().find(|s| s.name == "rust doctests").unwrap().command_line();
        assert_eq!(doc, "cargo test --doc --locked --no-fail-fast --package reel");
        let mut bin_only = Affected::default();
        bin_only.crates.insert("reel-cli".into());
        let p = plan(&Inputs { affected: &bin_only, ..inputs(&[Part::Rust]) });
        assert!(!names(&p).contains(&"rust doctests") && p.notes.iter().any(|n| n.starts_with("no doctests")));
    }

    /// A non-abi3 package is tested on every interpreter it lists that runs here (its own wheel, virtualenv,
    /// test dependencies and pytest); the plan names each one it could not run, and why.
    #[test]
    fn a_version_specific_package_is_tested_on_each_interpreter_found_here() {
        let settings = crate::testutil::non_abi3_repository();
        let group = crate::pyproject::TestDeps { requirements: vec!["dirty-equals".into()], from: "group".into() };
        let i = Inputs {
            settings,
            examples: &[],
            python_test_deps: vec![("fx-native".into(), Some(group))],
            pythons: vec![
                ("3.9".parse().unwrap(), Err("python3.9 is not on PATH".into())),
                ("3.11".parse().unwrap(), Ok("/usr/bin/python3.11".into())),
                ("3.14t".parse().unwrap(), Ok("/opt/py/bin/python3.14t".into())),
            ],
            default_python: "3.11".parse().ok(),
            ..inputs(&[Part::Python])
        };
        let p = plan(&i);
        let lines: Vec<String> = p.steps.iter().map(|s| s.command_line()).collect();
        // The virtualenv's own interpreter first (python3 is 3.11 here), then 3.14t by its path; 3.9 is named.
        assert!(lines[0].contains("--interpreter python3"), "{lines:?}");
        let ft = lines.iter().position(|l| l.contains("--interpreter /opt/py/bin/python3.14t")).expect("3.14t wheel");
        assert!(lines[ft + 1].starts_with("/opt/py/bin/python3.14t -m venv --clear"), "{lines:?}");
        let rest = &names(&p)[ft..];
        for want in [
            "install pytest (CPython 3.14t)",
            "install the test dependencies of fx-native (CPython 3.14t)",
            "install the fx-native wheel (CPython 3.14t)",
            "import fx_native (CPython 3.14t)",
            "pytest: fx-native (CPython 3.14t)",
        ] {
            assert!(rest.contains(&want), "{want}: {rest:?}");
        }
        assert_eq!(lines.iter().filter(|l| l.contains("-m pytest")).count(), 2, "3.11 and 3.14t");
        let notes = p.notes.join("\n");
        assert!(notes.contains("not tested here: fx-native on CPython 3.9 (python3.9 is not on PATH"), "{notes}");
        assert!(notes.contains("the musllinux wheels"), "{notes}");
    }

    #[test]
    fn python_only_skips_rust_and_wasm() {
        let plan = plan(&inputs(&[Part::Python]));
        let n = names(&plan);
        assert!(!n.contains(&"rust tests") && !n.iter().any(|s| s.starts_with("wasm") || s.starts_with("node")));
        assert!(n.contains(&"pytest: reel-sdk"));
    }

    #[test]
    fn wasm_only_still_makes_recordings_but_skips_pytest() {
        let examples = ["a".to_owned()];
        let plan = plan(&Inputs { examples: &examples, ..inputs(&[Part::Wasm]) });
        let n = names(&plan);
        assert!(n.contains(&"example a.py") && n.contains(&"node: reel-web"));
        assert!(!n.contains(&"pytest: reel-sdk") && !n.contains(&"install pytest"));
    }

    #[test]
    fn falls_back_to_cargo_test_and_passes_runner_args() {
        let args = ["--skip".to_owned(), "slow".to_owned()];
        let plan = plan(&Inputs { nextest: false, runner_args: &args, ..inputs(&[Part::Rust]) });
        assert_eq!(plan.steps[0].command_line(), "cargo test --locked --no-fail-fast --workspace --skip slow");
    }

    #[test]
    fn changed_since_selects_parts_and_crates() {
        use std::collections::BTreeSet;
        let all = [Part::Rust, Part::Python, Part::Wasm];
        let examples = Affected { examples: true, python: true, ..Affected::default() };
        assert_eq!(
            select(crate::settings::this_repository(), &all, &examples),
            [Part::Python, Part::Wasm],
            "examples only: no Rust tests"
        );
        let core = Affected {
            crates: ["reel", "reel-cli", "reel-py", "reel-web"].map(String::from).into(),
            python: true,
            ..Affected::default()
        };
        assert_eq!(select(crate::settings::this_repository(), &all, &core), all);
        let leaf = Affected { crates: BTreeSet::from(["reel-cli".to_owned()]), ..Affected::default() };
        assert_eq!(select(crate::settings::this_repository(), &all, &leaf), [Part::Rust]);
        let plan = plan(&Inputs { affected: &leaf, ..inputs(&[Part::Rust]) });
        assert_eq!(
            plan.steps[0].command_line(),
            "cargo nextest run --locked --no-fail-fast --no-tests warn --package reel-cli"
        );
        assert_eq!(
            select(crate::settings::this_repository(), &[Part::Python], &leaf),
            [],
            "asking for python on a Rust-only change runs nothing"
        );
    }

    #[test]
    fn the_repository_has_examples() {
        let ex = crate::workspace::example_scripts(&crate::project_root(), crate::settings::this_repository()).unwrap();
        assert!(ex.len() >= 2, "{ex:?}");
    }
}
