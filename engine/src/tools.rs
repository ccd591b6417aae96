//! Finding, checking and provisioning the external tools pinned in `config::TOOLS`.
//!
//! A tool is looked up first in the project's tools directory (`.tools/`), then on `PATH`, with `which`.
//! A missing or wrong-version tool with a pip, cargo or npm source is installed into `.tools/` at the pinned
//! version; with `--offline`, for system tools, or when installing fails, the job stops with the exact
//! command that fixes it. A wrong version is never run silently.
//!
//! A linter the repository pins to its own version (ci.toml `[lint]`) is installed apart from the engine's tools,
//! into `.tools/pinned/<tool>-<version>/` (`pip install --target`), and that directory is searched first: two
//! checkouts sharing one tools directory may pin different versions without replacing each other's.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use crate::config::{self, Pin, Source, Tool};

/// What was found for one tool.
#[derive(Clone, Debug)]
pub(crate) struct Probe {
    pub tool: &'static Tool,
    /// The version the pin asks for (resolved for `Pin::CargoLock`).
    pub wanted: String,
    pub path: Option<Utf8PathBuf>,
    pub found: Option<String>,
    pub ok: bool,
}

impl Probe {
    pub(crate) fn status(&self) -> &'static str {
        match (&self.path, self.ok) {
            (_, true) => "ok",
            (None, _) => "missing",
            (Some(_), false) if self.found.is_none() => "unknown version",
            (Some(_), false) => "wrong version",
        }
    }
}

pub(crate) struct Tools {
    root: Utf8PathBuf,
    dir: Utf8PathBuf,
    offline: bool,
    cache: Mutex<BTreeMap<&'static str, Probe>>,
    /// The repository's own versions of tools it may pin (ci.toml `[lint]`), by tool name.
    pins: BTreeMap<&'static str, String>,
}

/// The missing tools, sorted by how they are provisioned.
struct Triage<'a> {
    /// Tools that cannot be provisioned here, each with its fix.
    failures: Vec<String>,
    /// `package==version` of the pip-installed ones (one batch).
    pip: Vec<String>,
    /// The cargo- and npm-installed ones and the repository's pinned linters, with their state.
    installs: Vec<(&'a Probe, String)>,
}

impl Tools {
    /// Tools in `.tools/` of `root`, or in `$XTASK_TOOLS_DIR` (to share one tools directory between clones).
    pub(crate) fn new(root: &Utf8Path, offline: bool) -> Tools {
        let dir = match std::env::var("XTASK_TOOLS_DIR") {
            Ok(dir) if !dir.is_empty() => Utf8PathBuf::from(dir),
            _ => root.join(config::TOOLS_DIR),
        };
        Tools::with_dir(root, &dir, offline)
    }

    pub(crate) fn with_dir(root: &Utf8Path, dir: &Utf8Path, offline: bool) -> Tools {
        Tools {
            root: root.to_owned(),
            dir: dir.to_owned(),
            offline,
            cache: Mutex::new(BTreeMap::new()),
            pins: BTreeMap::new(),
        }
    }

    /// These tools at the repository's versions (ci.toml `[lint]`, checked when it was read) instead of the
    /// engine's.
    pub(crate) fn with_pins(mut self, pins: Vec<(&'static str, String)>) -> Tools {
        self.pins = pins.into_iter().collect();
        self
    }

    /// The version the repository pins `name` to, if it does.
    pub(crate) fn repository_pin(&self, name: &str) -> Option<&str> {
        self.pins.get(name).map(String::as_str)
    }

    /// Where the repository's version of a linter is installed: `<tools>/pinned/<tool>-<version>`.
    pub(crate) fn pinned_dir(&self, name: &str, version: &str) -> Utf8PathBuf {
        self.dir.join(config::REPOSITORY_PINS_DIR).join(format!("{name}-{version}"))
    }

    pub(crate) fn dir(&self) -> Utf8PathBuf {
        self.dir.clone()
    }

    fn venv(&self) -> Utf8PathBuf {
        self.dir().join("venv")
    }

    /// The directories provisioned tools live in, searched before `PATH`.
    pub(crate) fn bin_dirs(&self) -> Vec<Utf8PathBuf> {
        let venv_bin = HOST.venv_bin();
        // The repository's pinned linters first: each directory holds its one program.
        let mut dirs: Vec<Utf8PathBuf> = self.pins.iter().map(|(t, v)| self.pinned_dir(t, v).join(venv_bin)).collect();
        dirs.extend([
            self.venv().join(venv_bin),
            self.dir().join("cargo").join("bin"),
            self.dir().join("npm").join("node_modules").join(".bin"),
        ]);
        dirs
    }

    /// `PATH` with the tools directories first: what every step runs with.
    pub(crate) fn path_env(&self) -> OsString {
        let mut dirs: Vec<std::path::PathBuf> = self.bin_dirs().into_iter().map(Into::into).collect();
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).unwrap_or_default()
    }

    /// The version `tool` must have.
    pub(crate) fn wanted(&self, tool: &Tool) -> Result<String> {
        if let Some(v) = self.pins.get(tool.name) {
            return Ok(v.clone());
        }
        Ok(match tool.pin {
            Pin::Exact(v) | Pin::AtLeast(v) => v.to_owned(),
            Pin::CargoLock(package) => lock_version(&self.root, package)?,
        })
    }

    /// Looks `tool` up and runs it for its version (cached for the process).
    pub(crate) fn probe(&self, sh: &Shell, tool: &'static Tool) -> Result<Probe> {
        if let Some(p) = self.cache.lock().unwrap().get(tool.name) {
            return Ok(p.clone());
        }
        let wanted = self.wanted(tool)?;
        let cwd = std::env::current_dir().unwrap_or_default();
        // System tools come from the machine, never from the tools directory (whose venv has a python3 too).
        let search = match tool.source {
            Source::System { .. } => std::env::var_os("PATH").unwrap_or_default(),
            _ => self.path_env(),
        };
        let path = which::which_in(tool.bin, Some(search), cwd).ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok());
        let found = path.as_ref().and_then(|p| {
            // Provisioned tools' versions are cached by the binary's size and mtime (some are Python programs
            // that take a third of a second to print a version). System tools are always asked: a rustup
            // proxy's version follows the toolchain file, not the proxy binary.
            let cacheable = !matches!(tool.source, Source::System { .. });
            let stamp = std::fs::metadata(p).ok().map(|m| {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}:{mtime}", m.len())
            });
            if let (true, Some(stamp)) = (cacheable, &stamp)
                && let Some(v) = self.cached_version(p, stamp)
            {
                return Some(v);
            }
            let args = tool.version_args;
            let out = cmd!(sh, "{p} {args...}").quiet().ignore_status().output().ok()?;
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let v = parse_version(&text);
            if let (true, Some(stamp), Some(v)) = (cacheable, &stamp, &v) {
                self.cache_version(p, stamp, v);
            }
            v
        });
        let ok = match (&found, tool.pin) {
            (Some(f), Pin::AtLeast(_)) => version_cmp(f, &wanted).is_ge(),
            (Some(f), _) => version_cmp(f, &wanted).is_eq(),
            (None, _) => false,
        };
        let probe = Probe { tool, wanted, path, found, ok };
        self.cache.lock().unwrap().insert(tool.name, probe.clone());
        Ok(probe)
    }

    fn version_cache(&self) -> Utf8PathBuf {
        self.dir.join("versions.json")
    }

    fn cached_version(&self, path: &Utf8Path, stamp: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.version_cache()).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let entry = v.get(path.as_str())?;
        (entry["stamp"] == stamp).then(|| entry["version"].as_str().map(str::to_owned)).flatten()
    }

    /// Best effort: a cache that cannot be written only costs a `--version` run next time.
    fn cache_version(&self, path: &Utf8Path, stamp: &str, version: &str) {
        let file = self.version_cache();
        let mut v: serde_json::Value = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        v[path.as_str()] = serde_json::json!({ "stamp": stamp, "version": version });
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = file.with_extension(format!("json.{}.{n}", std::process::id()));
        if std::fs::create_dir_all(&self.dir).is_ok() && std::fs::write(&tmp, v.to_string()).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
    }

    /// The exact command that installs `tool` at its pinned version.
    pub(crate) fn fix_command(&self, tool: &Tool, wanted: &str) -> String {
        let dir = self.dir.strip_prefix(&self.root).map_or_else(|_| self.dir.to_string(), |d| d.to_string());
        if let (Source::Pip { package }, true) = (tool.source, self.is_repository_pin(tool.name, wanted)) {
            let py = format!("{}/python", HOST.venv_bin());
            let target = format!("{dir}/{}/{}-{wanted}", config::REPOSITORY_PINS_DIR, tool.name);
            let retries = config::PIP_RETRIES.join(" ");
            return format!(
                "python3 -m venv {dir}/venv && {dir}/venv/{py} -m pip install {retries} --target {target} {package}=={wanted}"
            );
        }
        match tool.source {
            Source::Pip { package } => {
                let py = format!("{}/python", HOST.venv_bin());
                let retries = config::PIP_RETRIES.join(" ");
                format!("python3 -m venv {dir}/venv && {dir}/venv/{py} -m pip install {retries} {package}=={wanted}")
            }
            Source::Cargo { package, locked, build } => {
                let env: String = build.env().iter().map(|(k, v)| format!("{k}={v} ")).collect();
                let locked = if locked { " --locked" } else { "" };
                format!("{env}cargo install {package} --version {wanted} --root {dir}/cargo{locked}")
            }
            Source::Npm { package } => {
                format!("npm install --prefix {dir}/npm --no-audit --no-fund {package}@{wanted}")
            }
            Source::System { fix } => fix.to_owned(),
        }
    }

    fn is_repository_pin(&self, name: &str, version: &str) -> bool {
        self.pins.get(name).is_some_and(|v| v == version)
    }

    /// Probes the named tools at once (each `--version` in its own thread); later `probe`s hit the cache.
    pub(crate) fn probe_all(&self, names: &[&str]) {
        std::thread::scope(|s| {
            for name in names {
                let tool = config::tool_named(name);
                if self.cache.lock().unwrap().contains_key(tool.name) {
                    continue;
                }
                s.spawn(move || {
                    if let Ok(sh) = Shell::new() {
                        let _ = self.probe(&sh, tool);
                    }
                });
            }
        });
    }

    /// Makes sure every named tool is there at its pinned version, provisioning what can be provisioned.
    /// Returns the probes of optional tools that are not usable (so the caller can fall back). The phases:
    /// probe, sort what is missing by how it is provisioned ([`Tools::triage`]), install everything at once
    /// ([`Tools::install_all`]), probe again ([`Tools::verify_installed`]).
    pub(crate) fn ensure(&self, sh: &Shell, names: &[&str]) -> Result<Vec<Probe>> {
        self.probe_all(names);
        let mut missing = Vec::new();
        let mut unusable_optional = Vec::new();
        for name in names {
            let p = self.probe(sh, config::tool_named(name))?;
            if p.ok {
                continue;
            }
            if p.tool.optional {
                unusable_optional.push(p);
            } else {
                missing.push(p);
            }
        }
        if missing.is_empty() {
            return Ok(unusable_optional);
        }
        let Triage { mut failures, pip, installs } = self.triage(&missing);
        failures.extend(self.install_all(sh, &missing, &pip, &installs));
        failures.extend(self.verify_installed(sh, &missing, &failures)?);
        if !failures.is_empty() {
            bail!("required tools are not available:\n  {}", failures.join("\n  "));
        }
        Ok(unusable_optional)
    }

    /// What the machine must provide (or `--offline` forbids) is a failure with its fix; pip packages go in one
    /// batch; cargo and npm packages are installed each by itself.
    fn triage<'a>(&self, missing: &'a [Probe]) -> Triage<'a> {
        let mut t = Triage { failures: Vec::new(), pip: Vec::new(), installs: Vec::new() };
        for p in missing {
            let state = describe(p);
            match p.tool.source {
                Source::System { .. } => t.failures.push(format!(
                    "{} {state}; the machine must provide it: {}",
                    p.tool.name,
                    self.fix_command(p.tool, &p.wanted)
                )),
                _ if self.offline => t.failures.push(format!(
                    "{} {state}; --offline forbids provisioning: {}",
                    p.tool.name,
                    self.fix_command(p.tool, &p.wanted)
                )),
                // The repository's version of a linter: a directory of its own, installed beside the rest.
                Source::Pip { .. } if self.is_repository_pin(p.tool.name, &p.wanted) => {
                    eprintln!(
                        "provisioning {} {} (ci.toml [lint]) into {}",
                        p.tool.name,
                        p.wanted,
                        self.pinned_dir(p.tool.name, &p.wanted)
                    );
                    t.installs.push((p, state));
                }
                Source::Pip { package } => t.pip.push(format!("{package}=={}", p.wanted)),
                _ => {
                    eprintln!("provisioning {} {} into {} ({state})", p.tool.name, p.wanted, config::TOOLS_DIR);
                    t.installs.push((p, state));
                }
            }
        }
        t
    }

    /// Every install at once: the pip batch, and each cargo or npm package in its own process (compiling tools
    /// one after another leaves cores idle at every link and in every crate that builds alone). Returns the
    /// failures, each with its fix.
    fn install_all(&self, sh: &Shell, missing: &[Probe], pip: &[String], installs: &[(&Probe, String)]) -> Vec<String> {
        let failed = std::sync::Mutex::new(Vec::new());
        // The cores shared between the compiles (each would otherwise start a job per core).
        let cores = crate::parallel::cores();
        let compiles = installs.iter().filter(|(p, _)| matches!(p.tool.source, Source::Cargo { .. })).count();
        let jobs = (cores / compiles.max(1)).max(1).to_string();
        std::thread::scope(|s| {
            for (p, state) in installs {
                let (failed, jobs) = (&failed, &jobs);
                s.spawn(move || {
                    let started = std::time::Instant::now();
                    let result = Shell::new().map_err(anyhow::Error::from).and_then(|sh| {
                        // One install of a tool at a time across processes (tests running side by side all
                        // want it): whoever waited finds it installed.
                        let _lock = InstallLock::acquire(&self.dir(), p.tool.name)?;
                        self.cache.lock().unwrap().remove(p.tool.name);
                        if self.probe(&sh, p.tool)?.ok {
                            return Ok(());
                        }
                        sh.set_var("CARGO_BUILD_JOBS", jobs);
                        self.install(&sh, p.tool, &p.wanted)
                    });
                    match result {
                        Ok(()) => eprintln!(
                            "provisioned {} {} in {:.0}s",
                            p.tool.name,
                            p.wanted,
                            started.elapsed().as_secs_f64()
                        ),
                        Err(e) => failed.lock().unwrap().push(format!(
                            "{} {state}, and installing it failed ({e:#}); fix: {}",
                            p.tool.name,
                            self.fix_command(p.tool, &p.wanted)
                        )),
                    }
                });
            }
            if !pip.is_empty() {
                eprintln!("provisioning {} into {}/venv", pip.join(" "), config::TOOLS_DIR);
                if let Err(e) = self.pip_install(sh, pip) {
                    let first = missing.iter().find(|p| matches!(p.tool.source, Source::Pip { .. })).unwrap();
                    let fix = self.fix_command(first.tool, &first.wanted);
                    failed.lock().unwrap().push(format!("installing {} failed ({e:#}); fix: {fix}", pip.join(" ")));
                }
            }
        });
        failed.into_inner().unwrap()
    }

    /// Probes again what was provisioned: it must now be the pinned version. Returns the failures.
    fn verify_installed(&self, sh: &Shell, missing: &[Probe], failed: &[String]) -> Result<Vec<String>> {
        let mut failures = Vec::new();
        for p in missing {
            if failed.iter().any(|f| f.starts_with(p.tool.name)) {
                continue;
            }
            self.cache.lock().unwrap().remove(p.tool.name);
            let again = self.probe(sh, p.tool)?;
            if !again.ok {
                failures.push(format!(
                    "{} is still {} after provisioning; fix: {}",
                    p.tool.name,
                    describe(&again),
                    self.fix_command(p.tool, &p.wanted)
                ));
            }
        }
        Ok(failures)
    }

    /// Makes sure the pinned Python packages (e.g. `config::TEST_SERVERS`) are in the tools virtualenv;
    /// returns the virtualenv's python.
    pub(crate) fn ensure_python_packages(&self, sh: &Shell, packages: &[(&str, &str)]) -> Result<Utf8PathBuf> {
        let python = venv_python(&self.venv());
        let mut missing = Vec::new();
        for (dist, version) in packages {
            // `moto[server]`: the version of `moto` (the extra's packages come with it).
            let name = dist.split('[').next().unwrap_or(dist);
            let probe = format!("import importlib.metadata as m; print(m.version('{name}'))");
            let found = if python.exists() {
                cmd!(sh, "{python} -c {probe}").quiet().ignore_stderr().read().ok()
            } else {
                None
            };
            if found.as_deref().map(str::trim) != Some(*version) {
                missing.push(format!("{dist}=={version}"));
            }
        }
        if !missing.is_empty() {
            if self.offline {
                bail!("{} not in {}; --offline forbids provisioning: {}", missing.join(" "), self.venv(), {
                    format!("{} -m pip install {}", python, missing.join(" "))
                });
            }
            eprintln!("provisioning {} into {}", missing.join(" "), self.venv());
            self.pip_install(sh, &missing)?;
        }
        Ok(python)
    }

    fn pip_install(&self, sh: &Shell, requirements: &[String]) -> Result<()> {
        // One pip at a time in the virtualenv, across processes (pip itself does not lock).
        let _lock = InstallLock::acquire(&self.dir(), "venv")?;
        let python = self.venv_python_created(sh)?;
        let retries = config::PIP_RETRIES;
        without_secrets(cmd!(
            sh,
            "{python} -m pip install --disable-pip-version-check --quiet {retries...} {requirements...}"
        ))
        .run()?;
        Ok(())
    }

    /// The tools virtualenv's python, creating the virtualenv when there is none (call it under the venv lock).
    fn venv_python_created(&self, sh: &Shell) -> Result<Utf8PathBuf> {
        let venv = self.venv();
        let python = venv_python(&venv);
        if !python.exists() {
            let py = self.probe(sh, config::tool::PYTHON3.tool())?;
            let py = py.path.context("python3 is not on PATH")?;
            cmd!(sh, "{py} -m venv {venv}").run().with_context(|| format!("creating the virtualenv {venv}"))?;
        }
        Ok(python)
    }

    /// The repository's version of a linter, into its own directory (`pip install --target`, with the tools
    /// virtualenv's pip): into a temporary directory first, renamed when complete, so a killed install leaves
    /// no half-installed tool behind.
    fn install_pinned(&self, sh: &Shell, name: &str, package: &str, version: &str) -> Result<()> {
        let dest = self.pinned_dir(name, version);
        let python = {
            let _lock = InstallLock::acquire(&self.dir(), "venv")?;
            self.venv_python_created(sh)?
        };
        // The caller holds this tool's install lock: a temporary directory left beside it is a killed install's.
        let stem = format!("{name}-{version}.tmp-");
        for entry in dest.parent().and_then(|d| d.read_dir_utf8().ok()).into_iter().flatten().flatten() {
            if entry.file_name().starts_with(&stem) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let tmp = dest.with_file_name(format!("{stem}{}", std::process::id()));
        let spec = format!("{package}=={version}");
        let retries = config::PIP_RETRIES;
        run_captured(without_secrets(cmd!(
            sh,
            "{python} -m pip install --disable-pip-version-check --quiet {retries...} --no-deps --target {tmp} {spec}"
        )))?;
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::rename(&tmp, &dest).with_context(|| format!("moving {tmp} to {dest}"))?;
        Ok(())
    }

    fn install(&self, sh: &Shell, tool: &Tool, version: &str) -> Result<()> {
        let dir = self.dir();
        match tool.source {
            Source::Cargo { package, locked, build } => {
                let root = dir.join("cargo");
                let locked = locked.then_some("--locked");
                run_captured(without_secrets(
                    cmd!(sh, "cargo install {package} --version {version} --root {root} {locked...}")
                        .envs(build.env().iter().copied()),
                ))?;
            }
            Source::Npm { package } => {
                let prefix = dir.join("npm");
                sh.create_dir(&prefix)?;
                let spec = format!("{package}@{version}");
                run_captured(without_secrets(cmd!(
                    sh,
                    "npm install --prefix {prefix} --no-audit --no-fund --silent {spec}"
                )))?;
            }
            Source::Pip { package } => self.install_pinned(sh, tool.name, package, version)?,
            Source::System { .. } => unreachable!("handled by the caller"),
        }
        Ok(())
    }
}

/// An exclusive lock on installing one thing into the tools directory, across processes: a file created
/// exclusively (`.locks/<name>`, holding the owner's pid), removed when dropped. A lock whose process is gone
/// (a killed run) is taken over; where that cannot be told (no /proc), after an hour.
struct InstallLock(Utf8PathBuf);

impl InstallLock {
    fn acquire(dir: &Utf8Path, name: &str) -> Result<InstallLock> {
        let locks = dir.join(".locks");
        std::fs::create_dir_all(&locks).with_context(|| format!("creating {locks}"))?;
        let path = locks.join(name);
        let started = std::time::Instant::now();
        let mut told = false;
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write as _;
                    write!(f, "{}", std::process::id()).with_context(|| format!("writing {path}"))?;
                    return Ok(InstallLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                    let proc = std::path::Path::new("/proc/self").exists();
                    let gone = match owner {
                        Some(pid) if proc => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                        _ => started.elapsed() > std::time::Duration::from_secs(3600),
                    };
                    if gone {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if !told {
                        eprintln!("waiting for another process installing {name} ({path})");
                        told = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                Err(e) => return Err(anyhow::Error::from(e).context(format!("creating {path}"))),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `cmd` with its output kept (installs run side by side: interleaved logs would say nothing); on failure
/// the error ends with the last lines it printed.
fn run_captured(cmd: xshell::Cmd<'_>) -> Result<()> {
    let out = cmd.quiet().ignore_status().output()?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    bail!("{}; its last lines:\n{}", out.status, lines[lines.len().saturating_sub(15)..].join("\n"))
}

/// `cmd` without the credentials of [`config::SECRET_VARS`] in its environment.
pub(crate) fn without_secrets(mut cmd: xshell::Cmd<'_>) -> xshell::Cmd<'_> {
    for var in config::SECRET_VARS {
        cmd = cmd.env_remove(var);
    }
    cmd
}

fn describe(p: &Probe) -> String {
    match (&p.path, &p.found) {
        (None, _) => format!("is missing (pinned {})", p.wanted),
        (Some(path), Some(found)) => format!("at {path} is version {found}, pinned {}", p.wanted),
        (Some(path), None) => format!("at {path} did not report a version (pinned {})", p.wanted),
    }
}

/// How a platform lays out virtualenvs and executables: one value per platform, so the Windows logic is tested
/// on Linux too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Platform {
    pub windows: bool,
}

/// The platform this xtask runs on.
pub(crate) const HOST: Platform = Platform { windows: cfg!(windows) };

impl Platform {
    /// A virtualenv's directory of executables.
    pub(crate) fn venv_bin(self) -> &'static str {
        if self.windows { "Scripts" } else { "bin" }
    }

    /// An executable's file name.
    pub(crate) fn exe(self, name: &str) -> String {
        if self.windows && !name.ends_with(".exe") { format!("{name}.exe") } else { name.to_owned() }
    }

    pub(crate) fn venv_python(self, venv: &Utf8Path) -> Utf8PathBuf {
        venv.join(self.venv_bin()).join(self.exe("python"))
    }
}

pub(crate) fn venv_python(venv: &Utf8Path) -> Utf8PathBuf {
    HOST.venv_python(venv)
}

/// A store key (`/`-separated) for a path relative to a directory, whatever the platform's separator.
pub(crate) fn key_of(relative: &str) -> String {
    relative.replace('\\', "/")
}

/// The first version-looking token of a `--version` output: `typos-cli 1.52.0` -> `1.52.0`,
/// `v20.1.0` -> `20.1.0`, `wasm-opt version 132 (version_132)` -> `132`, `rustfmt 1.8.0-stable` -> `1.8.0`.
pub(crate) fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|token| {
        let t = token.strip_prefix('v').unwrap_or(token);
        if !t.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let v: String = t.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        Some(v.trim_end_matches('.').to_owned())
    })
}

/// Compares dotted versions numerically, missing components counting as 0.
pub(crate) fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |s: &str| s.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    let (mut a, mut b) = (parse(a), parse(b));
    let n = a.len().max(b.len());
    a.resize(n, 0);
    b.resize(n, 0);
    a.cmp(&b)
}

/// Whether `version` is in `range` (`from` or newer, older than `below`).
pub(crate) fn in_range(version: &str, range: config::Range) -> bool {
    version_cmp(version, range.from).is_ge() && version_cmp(version, range.below).is_lt()
}

/// The version of `package` recorded in the workspace's `Cargo.lock`.
pub(crate) fn lock_version(root: &Utf8Path, package: &str) -> Result<String> {
    let path = root.join("Cargo.lock");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {path}\nfix: cargo generate-lockfile (the jobs build with --locked)"))?;
    lock_version_in(&text, package).with_context(|| {
        format!(
            "{path} has no package `{package}`: no crate of this workspace depends on it\nfix: add `{package}` to the \
             dependencies of the crate that needs it"
        )
    })
}

/// The version of `package` in a Cargo.lock (the first, if several).
fn lock_version_in(lock: &str, package: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<LockPackage>,
    }
    #[derive(serde::Deserialize)]
    struct LockPackage {
        name: String,
        version: String,
    }
    let lock: Lock = toml::from_str(lock).ok()?;
    lock.package.into_iter().find(|p| p.name == package).map(|p| p.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One installer at a time: a second waits until the first lock is dropped; a lock left by a process that
    /// is gone is taken over at once.
    #[test]
    fn install_locks_exclude_each_other_and_outlive_no_dead_process() {
        let dir = crate::testutil::temp_dir("locks");
        let first = InstallLock::acquire(&dir, "tool").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dir.clone();
        let waiter = std::thread::spawn(move || {
            let lock = InstallLock::acquire(&d, "tool").unwrap();
            tx.send(()).unwrap();
            drop(lock);
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(800)).is_err(), "the second waits");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("and gets it once the first is gone");
        waiter.join().unwrap();
        assert!(!dir.join(".locks/tool").exists());
        // A lock file naming a process that does not exist (pid far above pid_max) is stale.
        std::fs::write(dir.join(".locks/tool"), "4194999").unwrap();
        drop(InstallLock::acquire(&dir, "tool").unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
    use std::cmp::Ordering::*;

    #[test]
    fn parses_versions_of_real_tools() {
        let cases = [
            ("maturin 1.16.0", "1.16.0"),
            ("typos-cli 1.52.0", "1.52.0"),
            ("twine version 7.0.0 (readme-renderer: 46.0)", "7.0.0"),
            ("cargo-nextest 0.9.143 (60fa45f63 2026-08-04)\nrelease: 0.9.143", "0.9.143"),
            ("wasm-opt version 132 (version_132)", "132"),
            ("v20.20.2", "20.20.2"),
            ("Python 3.11.7", "3.11.7"),
            ("rustfmt 1.8.0-stable (59807616e 2026-04-14)", "1.8.0"),
            ("clippy 0.1.95 (59807616e 2026-04-14)", "0.1.95"),
            ("git version 2.47.3", "2.47.3"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text).as_deref(), Some(want), "{text}");
        }
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn compares_versions_numerically() {
        assert_eq!(version_cmp("0.9.143", "0.9.99"), Greater);
        assert_eq!(version_cmp("1.16", "1.16.0"), Equal);
        assert_eq!(version_cmp("3.9", "3.11.7"), Less);
        assert_eq!(version_cmp("20.20.2", "18"), Greater);
    }

    #[test]
    fn reads_versions_from_a_lockfile() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n\n[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"0.2.130\"\n";
        assert_eq!(lock_version_in(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(lock_version_in(lock, "wasm"), None);
    }

    #[test]
    fn every_tool_is_pinned_once_and_fixable() {
        let tools = Tools::with_dir(Utf8Path::new("/repo"), Utf8Path::new("/repo/.tools"), true);
        let mut names: Vec<_> = config::TOOLS.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), config::TOOLS.len(), "a tool is listed twice");
        for t in config::TOOLS {
            let fix = tools.fix_command(t, "1.2.3");
            assert!(!fix.is_empty(), "{}", t.name);
            if !matches!(t.source, Source::System { .. }) {
                assert!(fix.contains("1.2.3") && fix.contains(config::TOOLS_DIR), "{fix}");
            }
        }
    }

    #[test]
    fn the_wasm_bindgen_pin_follows_cargo_lock() {
        let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let tools = Tools::new(root, true);
        let wanted = tools.wanted(config::tool::WASM_BINDGEN.tool()).unwrap();
        let manifest = std::fs::read_to_string(root.join("crates/reel-web/Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("\"={wanted}\"")), "reel-web must pin wasm-bindgen ={wanted}");
    }

    #[cfg(unix)]
    #[test]
    fn a_wrong_version_is_refused_with_the_fix_not_run() {
        use std::os::unix::fs::PermissionsExt;
        let root = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-tools-{}", std::process::id()));
        let bin = root.join(".tools/venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("maturin");
        std::fs::write(&fake, "#!/bin/sh\necho 'maturin 0.1.0'\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sh = Shell::new().unwrap();
        let tools = Tools::with_dir(&root, &root.join(".tools"), true);
        let p = tools.probe(&sh, config::tool::MATURIN.tool()).unwrap();
        assert_eq!((p.found.as_deref(), p.ok, p.status()), (Some("0.1.0"), false, "wrong version"));
        assert_eq!(p.path.as_deref(), Some(fake.as_path()));
        let err = format!("{:#}", tools.ensure(&sh, &["maturin"]).unwrap_err());
        assert!(err.contains("is version 0.1.0, pinned 1.16.0"), "{err}");
        // The version is cached by the binary's size and mtime; a replaced binary is asked again.
        assert!(std::fs::read_to_string(root.join(".tools/versions.json")).unwrap().contains("0.1.0"));
        std::fs::write(&fake, "#!/bin/sh\necho 'maturin 1.16.0'\n").unwrap();
        let fresh = Tools::with_dir(&root, &root.join(".tools"), true);
        assert!(fresh.probe(&sh, config::tool::MATURIN.tool()).unwrap().ok, "a changed binary is probed again");
        assert!(err.contains("--offline forbids provisioning: python3 -m venv .tools/venv"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn platform_layouts_are_tested_on_every_host() {
        let (win, unix) = (Platform { windows: true }, Platform { windows: false });
        let venv = Utf8Path::new(".tools/venv");
        assert_eq!(win.venv_python(venv), Utf8Path::new(".tools/venv/Scripts/python.exe"));
        assert_eq!(unix.venv_python(venv), Utf8Path::new(".tools/venv/bin/python"));
        assert_eq!(
            (win.exe("zizmor"), win.exe("a.exe"), unix.exe("zizmor")),
            ("zizmor.exe".into(), "a.exe".into(), "zizmor".into())
        );
        assert_eq!(
            key_of("wheels\\reel_sdk-0.1.0-cp39-abi3-win_amd64.whl"),
            "wheels/reel_sdk-0.1.0-cp39-abi3-win_amd64.whl"
        );
        assert_eq!(key_of("web/reel-web/index.html"), "web/reel-web/index.html");
        assert_eq!(HOST.windows, cfg!(windows));
    }

    /// A linter the repository pins (ci.toml `[lint]`) is wanted at its version, found first in its own
    /// directory, installed there (never over the engine's), and the engine's version of it is not used instead.
    #[cfg(unix)]
    #[test]
    fn a_repository_pin_is_wanted_searched_and_installed_apart() {
        use std::os::unix::fs::PermissionsExt;
        // The engine's own version of each such tool is in the range it lets a repository pin.
        for t in config::TOOLS.iter().filter(|t| t.repository_range.is_some()) {
            let range = t.repository_range.unwrap();
            assert!(in_range(t.exact_pin().unwrap(), range) && !in_range(range.below, range), "{}", t.name);
            assert!(in_range(range.from, range), "{}", t.name);
        }
        let root = crate::testutil::temp_dir("tools-pins");
        let fake = |path: &Utf8Path, version: &str| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, format!("#!/bin/sh\necho 'ruff {version}'\n")).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        fake(&root.join(".tools/venv/bin/ruff"), "0.17.6");
        let sh = Shell::new().unwrap();
        let dir = root.join(".tools");
        let engine = Tools::with_dir(&root, &dir, true);
        assert!(engine.probe(&sh, config::tool::RUFF.tool()).unwrap().ok, "without a pin: the engine's");
        let pinned = Tools::with_dir(&root, &dir, true).with_pins(vec![("ruff", "0.15.9".to_owned())]);
        assert_eq!(pinned.wanted(config::tool::RUFF.tool()).unwrap(), "0.15.9");
        assert_eq!(pinned.wanted(config::tool::TAPLO.tool()).unwrap(), "0.9.3");
        assert_eq!(pinned.bin_dirs()[0], dir.join("pinned/ruff-0.15.9").join(HOST.venv_bin()));
        let p = pinned.probe(&sh, config::tool::RUFF.tool()).unwrap();
        assert_eq!((p.found.as_deref(), p.ok), (Some("0.17.6"), false), "the engine's ruff is not the pinned one");
        let err = format!("{:#}", pinned.ensure(&sh, &["ruff"]).unwrap_err());
        assert!(
            err.contains(
                "--offline forbids provisioning: python3 -m venv .tools/venv && .tools/venv/bin/python -m pip install \
                 --retries 10 --target .tools/pinned/ruff-0.15.9 ruff==0.15.9"
            ),
            "{err}"
        );
        fake(&dir.join("pinned/ruff-0.15.9/bin/ruff"), "0.15.9");
        let pinned = Tools::with_dir(&root, &dir, true).with_pins(vec![("ruff", "0.15.9".to_owned())]);
        let p = pinned.probe(&sh, config::tool::RUFF.tool()).unwrap();
        assert!(p.ok && p.path == Some(dir.join("pinned/ruff-0.15.9/bin/ruff")), "{p:?}");
        assert!(pinned.path_env().to_string_lossy().starts_with(dir.join("pinned/ruff-0.15.9/bin").as_str()));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
