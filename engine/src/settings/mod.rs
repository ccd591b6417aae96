//! The repository's facts, read at run time from `ci.toml` at its root: what it ships (Python packages, wasm
//! bundles, programs, example recordings), its platforms, its PR gates, its artifact store and where it releases
//! to. The engine names none of them; `config.rs` holds only the engine's own facts (tool pins, paths inside
//! `target/`, pinned GitHub actions).
//!
//! The file is parsed with the `toml` crate into the typed structs below: an unknown key, a wrong type or a
//! missing required key stops every job with `ci.toml:LINE:COLUMN: KEY: cause` and exit status 2. A missing file
//! is not replaced by anybody's rules: a job names the section it needs and prints a minimal example (`gates
//! --defaults` runs the documented default gates without one).

use anyhow::{Result, anyhow};
use camino::{Utf8Path, Utf8PathBuf};

/// The file's name, at the repository root.
pub(crate) const FILE: &str = "ci.toml";

mod schema;

pub(crate) use schema::*;

/// The environment variables that override a setting (a flag overrides both): (setting, variable).
pub(crate) const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("release.registry-api", "XTASK_REGISTRY_API"),
    ("release.registry-index", "XTASK_REGISTRY_INDEX"),
    ("release.pypi-upload", "XTASK_PYPI_UPLOAD"),
    ("release.pypi-simple", "XTASK_PYPI_SIMPLE"),
    ("store.web", "XTASK_WEB_STORE"),
];

/// The value of a setting: the flag, else its environment variable (see [`ENV_OVERRIDES`]), else `default`.
pub(crate) fn overridden(flag: Option<&str>, setting: &str, default: &str) -> String {
    let var = ENV_OVERRIDES.iter().find(|(s, _)| *s == setting).map(|(_, v)| *v);
    flag.map(str::to_owned)
        .or_else(|| var.and_then(|v| std::env::var(v).ok()).filter(|v| !v.is_empty()))
        .unwrap_or_else(|| default.to_owned())
}

/// A minimal example of each section, printed when a job needs one the file does not have.
pub(crate) fn example(section: &str) -> &'static str {
    match section {
        "workspace" => "[workspace]\nunversioned = [\"xtask\"]",
        "platform" => {
            "[[platform]]\nname = \"linux\"\nrunner = \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\n\
             wheels = [\"x86_64-unknown-linux-gnu\"]\nbuilds = [\"crates\", \"wheels\", \"wasm\"]"
        }
        "gates" => "[gates]\nmax-file-bytes = 1048576\nforbidden = [\"*.orig\", \"*.rej\"]",
        "store" => "[store]\ndefault = \"target/store\"\nweb = \"target/web-store\"",
        "release" => {
            "[release]\nregistry-api = \"https://crates.io\"\nregistry-index = \"sparse+https://index.crates.io/\"\n\
             pypi-upload = \"https://upload.pypi.org/legacy/\"\npypi-simple = \"https://pypi.org/simple/\"\n\
             signing-key = \"release/minisign.pub\""
        }
        "test" => "[test]\ndefault-parts = [\"rust\"]",
        "lint" => "[lint]\nruff = \"0.15.9\"",
        _ => "",
    }
}

/// The loaded file (or its absence) and where it is.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub path: Utf8PathBuf,
    /// The file's text; `None`: there is no file.
    pub source: Option<String>,
    pub settings: Settings,
}

impl Loaded {
    fn missing(&self, section: &str, job: &str) -> anyhow::Error {
        let (what, fix) = if self.source.is_none() {
            (format!("there is no {} (the repository's CI settings)", self.path), "create it with".to_owned())
        } else {
            (format!("{} has no [{section}] section", self.path), "add".to_owned())
        };
        anyhow!(
            "`{job}` needs the [{section}] section of {FILE}: {what}\nfix: {fix}\n{}\n(CONTRIBUTING.md, \
             \"Adopting this CI in another repository\", lists every section)",
            example(section)
        )
    }

    #[cfg(test)]
    pub(crate) fn workspace(&self, job: &str) -> Result<&Workspace> {
        self.settings.workspace.as_ref().ok_or_else(|| self.missing("workspace", job))
    }
    pub(crate) fn gates(&self, job: &str) -> Result<&Gates> {
        self.settings.gates.as_ref().ok_or_else(|| self.missing("gates", job))
    }
    pub(crate) fn store(&self, job: &str) -> Result<&Store> {
        self.settings.store.as_ref().ok_or_else(|| self.missing("store", job))
    }
    pub(crate) fn release(&self, job: &str) -> Result<&Release> {
        self.settings.release.as_ref().ok_or_else(|| self.missing("release", job))
    }
    pub(crate) fn platforms(&self, job: &str) -> Result<&[Platform]> {
        if self.settings.platform.is_empty() {
            return Err(self.missing("platform", job));
        }
        Ok(&self.settings.platform)
    }
    /// The first platform: the default one, and what local runs stand for.
    pub(crate) fn default_platform(&self, job: &str) -> Result<&Platform> {
        Ok(&self.platforms(job)?[0])
    }
    pub(crate) fn test_parts(&self, job: &str) -> Result<&[Part]> {
        self.settings.test.as_ref().map(|t| t.default_parts.as_slice()).ok_or_else(|| self.missing("test", job))
    }
    /// Cargo arguments of the Rust test run (`[test] rust-args`).
    pub(crate) fn test_rust_args(&self) -> &[String] {
        self.settings.test.as_ref().map(|t| t.rust_args.as_slice()).unwrap_or_default()
    }
    /// The size change `cargo xtask sizes` flags, in percent (`[sizes] threshold-percent`, default 2).
    pub(crate) fn size_threshold(&self) -> f64 {
        self.settings.sizes.as_ref().and_then(|s| s.threshold_percent).unwrap_or(2.0)
    }
    /// How many runners the Rust tests spread over in CI (`[test] shards`, 1 to 64).
    pub(crate) fn test_shards(&self) -> u32 {
        self.settings.test.as_ref().and_then(|t| t.shards).unwrap_or(1)
    }
    /// Retries of a failing Rust test (`[test] retries`).
    pub(crate) fn test_retries(&self) -> u32 {
        self.settings.test.as_ref().and_then(|t| t.retries).unwrap_or(2)
    }
    /// The members whose Rust tests are left out (none without a `[test]` section).
    pub(crate) fn test_excluded(&self) -> &[String] {
        self.settings.test.as_ref().map(|t| t.exclude.as_slice()).unwrap_or_default()
    }
    pub(crate) fn python(&self) -> &[PythonPackage] {
        &self.settings.python
    }
    pub(crate) fn wasm(&self) -> &[WasmBundle] {
        &self.settings.wasm
    }
    pub(crate) fn binaries(&self) -> &[Binary] {
        &self.settings.binary
    }
    pub(crate) fn examples(&self) -> Option<&Examples> {
        self.settings.examples.as_ref()
    }
    /// Workspace members that are never shipped (none without a `[workspace]` section).
    pub(crate) fn unversioned(&self) -> &[String] {
        self.settings.workspace.as_ref().map(|w| w.unversioned.as_slice()).unwrap_or_default()
    }
    /// The repository's own jobs (ci.toml `[[job]]`).
    pub(crate) fn extra_jobs(&self) -> &[ExtraJob] {
        &self.settings.job
    }
    /// The hand-written workflow files ci.toml allows.
    pub(crate) fn allowed_workflows(&self) -> &[String] {
        self.settings.workflows.as_ref().map(|w| w.allow.as_slice()).unwrap_or_default()
    }
    pub(crate) fn check_targets(&self) -> &[String] {
        self.settings.workspace.as_ref().map(|w| w.check_targets.as_slice()).unwrap_or_default()
    }
    /// The linters the repository pins to its own versions (ci.toml `[lint]`): `(tool, version)`.
    pub(crate) fn lint_pins(&self) -> Vec<(&'static str, String)> {
        self.settings
            .lint
            .as_ref()
            .map(Lint::pins)
            .unwrap_or_default()
            .into_iter()
            .map(|(t, v)| (t, v.to_owned()))
            .collect()
    }
}

/// Reads and checks `<root>/ci.toml`. A missing file is not an error here (each job says what it needs).
pub(crate) fn load(root: &Utf8Path) -> Result<Loaded> {
    let path = root.join(FILE);
    // A regular file (a symbolic link to one is followed); a FIFO or a device would block or never end.
    match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => {
            return Err(anyhow!("{path} is not a regular file\nfix: make {FILE} a plain TOML file"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.symlink_metadata().is_ok() => {
            return Err(anyhow!("{path} is a symbolic link to nothing\nfix: make {FILE} a plain TOML file"));
        }
        _ => {}
    }
    let source = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded { path, source: None, settings: Settings::default() });
        }
        Err(e) => return Err(anyhow!("reading {path}: {e}\nfix: make it a readable UTF-8 file")),
    };
    let settings = parse(&source).map_err(|e| anyhow!("{path}:{e}"))?;
    Ok(Loaded { path, source: Some(source), settings })
}

/// Parses the file's text: typed, then checked for what types cannot say. Errors read `LINE:COLUMN: KEY: cause`
/// followed by a fix.
pub(crate) fn parse(source: &str) -> Result<Settings, String> {
    let settings: Settings = toml::from_str(source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (line, col) = line_col(source, span.start);
        let key = key_at(source, span.clone()).map(|k| format!("{}: ", crate::plan::printable(&k))).unwrap_or_default();
        let message = crate::plan::printable(&e.message().trim().replace('\n', " "));
        format!("{line}:{col}: {key}{message}\nfix: correct that key (CONTRIBUTING.md lists every key of {FILE})")
    })?;
    check(&settings, source)?;
    Ok(settings)
}

/// A step of a path into the document: a key, or an index into an array.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The byte offset of the value at `path` in the file (0 when it is not there: a default).
fn locate(source: &str, path: &[Seg]) -> usize {
    use toml::de::{DeTable, DeValue};
    let Ok(doc) = DeTable::parse(source) else { return 0 };
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut at = 0;
    let mut value: Option<&DeValue<'_>> = None;
    for seg in path {
        match (seg, value) {
            (Seg::Key(k), None) => match table.iter().find(|(key, _)| key.get_ref() == k) {
                Some((_, v)) => {
                    at = v.span().start;
                    value = Some(v.get_ref());
                    if let DeValue::Table(t) = v.get_ref() {
                        table = t;
                        value = None;
                    }
                }
                None => return at,
            },
            (Seg::Index(i), Some(DeValue::Array(items))) => match items.get(*i) {
                Some(item) => {
                    at = item.span().start;
                    value = Some(item.get_ref());
                    if let DeValue::Table(t) = item.get_ref() {
                        table = t;
                        value = None;
                    }
                }
                None => return at,
            },
            _ => return at,
        }
    }
    at
}

/// How a string value must look, by its key: the names and branches that reach the generated workflows and
/// the logs are plain words; paths stay inside the repository; nothing holds a control character.
fn check_string(key: &str, value: &str) -> Result<(), String> {
    let word = |extra: &str| {
        !value.is_empty()
            && value.len() <= 128
            && !value.starts_with(['-', '.', '/'])
            && !value.ends_with('/')
            && !value.contains("..")
            && value.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c) || extra.contains(c))
    };
    match key {
        "name" | "runner" | "target" | "wheels" | "check-targets" | "builds" | "default-parts" | "dist" | "package"
        | "verifier" | "exclude" | "unversioned" | "extension" | "wheel-targets" | "workflow" | "on" | "needs"
        | "platform" | "allow" | "test-group" | "test-extra"
            if !word("") =>
        {
            return Err(format!(
                "{value:?} is not a plain name: letters, digits and `._+-`, not starting with `-` or `.`, at most \
                 128 characters"
            ));
        }
        "module" if !word("") || value.contains(['-', '+']) => {
            return Err(format!("{value:?} is not a Python module name: letters, digits, `_` and `.`"));
        }
        // No `+`: GitHub's branch filters read it as a pattern (one or more of the character before).
        "main-branch" if !word("/") || value.contains('+') => {
            return Err(format!("{value:?} is not a branch name: letters, digits, `._-` and `/`"));
        }
        "run" if value.contains("${{") => {
            return Err(format!(
                "{value:?} holds a `${{{{` expression: GitHub would paste it into the script; the command is plain words"
            ));
        }
        "keyword-exempt" | "large-file-allow" | "forbidden" | "lfs" | "lfs-allow" => crate::glob::check(value)?,
        "dir" | "tests" | "www" | "node-tests" | "browser-tests" | "signing-key" => {
            let inside = !value.is_empty()
                && !value.starts_with('/')
                && !value.contains('\\')
                && value.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
            if !inside {
                return Err(format!(
                    "{value:?} is not a path inside the repository: relative, `/`-separated, without `.`, `..` or \
                     empty parts"
                ));
            }
        }
        _ => {}
    }
    if value.is_empty() {
        return Err("an empty string".into());
    }
    if let Some(c) = value.chars().find(|c| crate::github::is_unsafe_char(*c)) {
        return Err(format!("{value:?} holds the control character {:?}", c));
    }
    Ok(())
}

/// What the types do not say: every string is well-formed for its use (see [`check_string`]), the names a job
/// will look up are unique, the parts and kinds are known.
fn check(s: &Settings, source: &str) -> Result<(), String> {
    let fail = |path: &[Seg], cause: String| {
        let (line, col) = line_col(source, locate(source, path));
        let key = crate::plan::printable(&display(path));
        let cause = crate::plan::printable(&cause);
        format!("{line}:{col}: {key}: {cause}\nfix: correct that key (CONTRIBUTING.md lists every key of {FILE})")
    };
    for (path, value) in string_values(s) {
        let key = path.iter().rev().find_map(|s| if let Seg::Key(k) = s { Some(k.as_str()) } else { None });
        if let Err(cause) = check_string(key.unwrap_or_default(), &value) {
            return Err(fail(&path, cause));
        }
    }
    check_names(s).map_err(|(path, cause)| fail(&path, cause))?;
    check_numbers(s).map_err(|(path, cause)| fail(&path, cause))?;
    check_jobs(s).map_err(|(path, cause)| fail(&path, cause))?;
    if let Some(lint) = &s.lint
        && let Err((tool, cause, fix)) = check_lint(lint)
    {
        let (line, col) = line_col(source, locate(source, &[Seg::Key("lint".into()), Seg::Key(tool.into())]));
        return Err(format!("{line}:{col}: lint.{tool}: {}\nfix: {}", crate::plan::printable(&cause), fix));
    }
    Ok(())
}

/// Every string of the settings, with its path.
fn string_values(s: &Settings) -> Vec<(Vec<Seg>, String)> {
    fn strings(v: &toml::Value, path: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, String)>) {
        match v {
            toml::Value::String(s) => out.push((path.clone(), s.clone())),
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    strings(item, path, out);
                    path.pop();
                }
            }
            toml::Value::Table(t) => {
                for (k, item) in t {
                    path.push(Seg::Key(k.clone()));
                    strings(item, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut all = Vec::new();
    if let Ok(v) = toml::Value::try_from(s) {
        strings(&v, &mut Vec::new(), &mut all);
    }
    all
}

/// The numbers are in their ranges: `[test] shards` 1 to 64, `retries` 0 to 10, `[sizes] threshold-percent` a
/// finite percentage of 0 or more.
fn check_numbers(s: &Settings) -> Result<(), (Vec<Seg>, String)> {
    let key = |k: &str| Seg::Key(k.into());
    let test = s.test.as_ref();
    if let Some(n) = test.and_then(|t| t.shards).filter(|n| !(1..=64).contains(n)) {
        return Err((vec![key("test"), key("shards")], format!("{n} shards: from 1 (no sharding) to 64")));
    }
    if let Some(n) = test.and_then(|t| t.retries).filter(|n| *n > 10) {
        return Err((vec![key("test"), key("retries")], format!("{n} retries: at most 10")));
    }
    let publishes = s.release.as_ref().and_then(|r| r.concurrent_publishes);
    if let Some(n) = publishes.filter(|n| !(1..=16).contains(n)) {
        return Err((vec![key("release"), key("concurrent-publishes")], format!("{n} at once: from 1 to 16")));
    }
    let threshold = s.sizes.as_ref().and_then(|z| z.threshold_percent);
    if let Some(t) = threshold.filter(|t| !t.is_finite() || *t < 0.0) {
        return Err((vec![key("sizes"), key("threshold-percent")], format!("{t} %: a percentage of 0 or more")));
    }
    Ok(())
}

/// The names a job will look up are unique (platforms, Python distributions), the parts and kinds are known.
fn check_names(s: &Settings) -> Result<(), (Vec<Seg>, String)> {
    let key = |k: &str| Seg::Key(k.into());
    if s.test.as_ref().is_some_and(|t| t.default_parts.is_empty()) {
        return Err((
            vec![key("test"), key("default-parts")],
            "no part: list at least one (rust, python, wasm, heavy)".into(),
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for (n, p) in s.platform.iter().enumerate() {
        if !names.insert(p.name.as_str()) {
            return Err((vec![key("platform"), Seg::Index(n), key("name")], format!("`{}` is named twice", p.name)));
        }
    }
    let mut dists = std::collections::BTreeSet::new();
    for (n, p) in s.python.iter().enumerate() {
        if !dists.insert(p.dist.as_str()) {
            return Err((vec![key("python"), Seg::Index(n), key("dist")], format!("`{}` is listed twice", p.dist)));
        }
    }
    Ok(())
}

/// Each version of `[lint]` is exact (`X.Y.Z`: it names what is installed) and in the range the engine supports.
/// An error is `(tool, cause, fix)`.
fn check_lint(lint: &Lint) -> Result<(), (&'static str, String, String)> {
    for (tool, version) in lint.pins() {
        let t = crate::config::tool_named(tool);
        let range = t.repository_range.expect("every tool of [lint] has a repository range");
        let engine = t.exact_pin().unwrap_or("version");
        let leave_out = format!("or leave `{tool}` out to use the engine's {engine}");
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return Err((
                tool,
                format!("{version:?} is not an exact version: three numbers, X.Y.Z"),
                format!("write the version you want installed, e.g. {tool} = \"{engine}\", {leave_out}"),
            ));
        }
        if !crate::tools::in_range(version, range) {
            let fix = if crate::tools::version_cmp(version, range.from).is_lt() {
                format!("pin {tool} {} or newer (older ones lack options the lint job passes), {leave_out}", range.from)
            } else {
                format!(
                    "pin a {tool} older than {} (the lint job is written against the command line up to that \
                     series; a newer one needs a newer engine), {leave_out}",
                    range.below
                )
            };
            return Err((tool, format!("{tool} {version} is outside the versions the engine supports ({range})"), fix));
        }
    }
    Ok(())
}

/// The workflows of the pipeline, their triggers, and the jobs the engine defines in each (an extra job may not
/// take their names).
pub(crate) const WORKFLOWS: &[(&str, &[&str], &[&str])] = &[
    ("pr-gates", &["pull_request", "merge_group"], &["gates"]),
    (
        "lint-build-test",
        &["pull_request", "push", "workflow_dispatch", "merge_group"],
        &["plan", "lint", "test", "test-heavy"],
    ),
    ("create-packages", &["push", "schedule", "workflow_dispatch"], &["plan", "package", "upload", "sign"]),
    ("release", &["push", "workflow_dispatch"], &["plan", "release"]),
];

/// The `[[job]]` and `[workflows]` entries: known workflows and triggers, unique names, needs within the workflow,
/// a command, and hand-written files that are workflow files the engine does not write.
fn check_jobs(s: &Settings) -> Result<(), (Vec<Seg>, String)> {
    for (n, j) in s.job.iter().enumerate() {
        check_job(s, n, j)?;
    }
    check_needs_cycles(s)?;
    let key = |k: &str| Seg::Key(k.into());
    if let Some(w) = &s.workflows {
        for (i, f) in w.allow.iter().enumerate() {
            let path = vec![key("workflows"), key("allow"), Seg::Index(i)];
            if !(f.ends_with(".yml") || f.ends_with(".yaml")) {
                return Err((path, format!("`{f}` is not a workflow file name (NAME.yml or NAME.yaml)")));
            }
            if WORKFLOWS.iter().any(|(w, ..)| format!("{w}.yml") == *f) {
                return Err((
                    path,
                    format!("`{f}` is generated by `cargo xtask workflows`: it cannot be hand-written"),
                ));
            }
        }
    }
    Ok(())
}

/// One `[[job]]`: a known workflow and its triggers, a job id of its own, a command, needs within its workflow.
fn check_job(s: &Settings, n: usize, j: &ExtraJob) -> Result<(), (Vec<Seg>, String)> {
    let key = |k: &str| Seg::Key(k.into());
    let at = |k: &str| vec![key("job"), Seg::Index(n), key(k)];
    let Some((_, triggers, engine_jobs)) = WORKFLOWS.iter().find(|(w, ..)| *w == j.workflow) else {
        let names: Vec<_> = WORKFLOWS.iter().map(|w| w.0).collect();
        return Err((at("workflow"), format!("no workflow `{}`: one of {}", j.workflow, names.join(", "))));
    };
    check_job_id(s, n, j, engine_jobs)?;
    if let Some(i) = j.on.iter().position(|e| !triggers.contains(&e.as_str())) {
        let mut path = at("on");
        path.push(Seg::Index(i));
        return Err((path, format!("{} runs on {}, not `{}`", j.workflow, triggers.join(", "), j.on[i])));
    }
    if !j.on.is_empty() && j.workflow == "pr-gates" {
        return Err((at("on"), "every pr-gates job runs on every trigger: leave `on` out".into()));
    }
    if j.run.is_empty() {
        return Err((at("run"), "no command: e.g. run = [\"cargo\", \"xtask\", \"lint\"]".into()));
    }
    for (i, need) in j.needs.iter().enumerate() {
        let known = engine_jobs.contains(&need.as_str())
            || s.job.iter().any(|o| o.workflow == j.workflow && o.name == *need && o.name != j.name);
        if !known {
            let mut path = at("needs");
            path.push(Seg::Index(i));
            return Err((path, format!("no job `{need}` in {}", j.workflow)));
        }
    }
    if let Some(p) = &j.platform
        && !s.platform.iter().any(|q| q.name == *p)
    {
        return Err((at("platform"), format!("no [[platform]] named `{p}`")));
    }
    if j.timeout_minutes.is_some_and(|t| t == 0 || t > 360) {
        return Err((at("timeout-minutes"), "between 1 and 360 (GitHub's limit)".into()));
    }
    Ok(())
}

/// A job id GitHub takes, and none of the engine's or another `[[job]]`'s in its workflow.
fn check_job_id(s: &Settings, n: usize, j: &ExtraJob, engine_jobs: &[&str]) -> Result<(), (Vec<Seg>, String)> {
    let at = vec![Seg::Key("job".into()), Seg::Index(n), Seg::Key("name".into())];
    let id_ok = j.name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && j.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err((at, format!("`{}` is not a job id: letters, digits, `-` and `_`, from a letter", j.name)));
    }
    // GitHub compares job ids without case; the plan's output for a job maps `-` to `_`.
    let same = |a: &str, b: &str| a.to_ascii_lowercase().replace('-', "_") == b.to_ascii_lowercase().replace('-', "_");
    if let Some(e) = engine_jobs.iter().find(|e| same(e, &j.name)) {
        return Err((at, format!("`{}` is the job `{e}` the engine defines in {}", j.name, j.workflow)));
    }
    if let Some(o) = s.job[..n].iter().find(|o| same(&o.name, &j.name) && o.workflow == j.workflow) {
        return Err((
            at,
            format!(
                "`{}` and `{}` are one job id in {} (GitHub ignores case; `-` and `_` are one output)",
                o.name, j.name, j.workflow
            ),
        ));
    }
    Ok(())
}

/// An extra job may need one declared after it, but not around in a circle.
fn check_needs_cycles(s: &Settings) -> Result<(), (Vec<Seg>, String)> {
    let key = |k: &str| Seg::Key(k.into());
    for j in &s.job {
        let mut seen = vec![j.name.as_str()];
        let mut frontier: Vec<&str> = j.needs.iter().map(String::as_str).collect();
        while let Some(n) = frontier.pop() {
            if n == j.name {
                let i = s.job.iter().position(|o| std::ptr::eq(o, j)).unwrap_or(0);
                return Err((vec![key("job"), Seg::Index(i), key("needs")], format!("`{}` needs itself", j.name)));
            }
            if seen.contains(&n) {
                continue;
            }
            seen.push(n);
            if let Some(o) = s.job.iter().find(|o| o.workflow == j.workflow && o.name == n) {
                frontier.extend(o.needs.iter().map(String::as_str));
            }
        }
    }
    Ok(())
}

/// 1-based line and column of a byte offset.
fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let before = &source[..pos.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted key whose value (or key) the span points into, found in the parsed document: a type error's span
/// covers the value, not the key.
fn key_at(source: &str, span: std::ops::Range<usize>) -> Option<String> {
    use toml::de::{DeTable, DeValue};
    // Tables' spans cover their header only: every table is searched, the deepest match wins.
    fn walk(t: &DeTable<'_>, span: &std::ops::Range<usize>, path: &str) -> Option<String> {
        let covers = |s: std::ops::Range<usize>| s.start <= span.start && span.end <= s.end;
        for (k, v) in t.iter() {
            let name = if path.is_empty() { k.get_ref().to_string() } else { format!("{path}.{}", k.get_ref()) };
            if k.span().start == span.start {
                return Some(name);
            }
            let found = match v.get_ref() {
                DeValue::Table(t) => walk(t, span, &name),
                DeValue::Array(a) => a.iter().find_map(|item| match item.get_ref() {
                    DeValue::Table(t) => walk(t, span, &name).or_else(|| covers(item.span()).then(|| name.clone())),
                    _ => None,
                }),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
            if covers(v.span()) {
                return Some(name);
            }
        }
        None
    }
    let doc = DeTable::parse(source).ok()?;
    walk(doc.get_ref(), &span, "")
}

/// Where each setting came from: `(dotted key, value, origin)` for every leaf of the effective settings, the
/// origin being `ci.toml:LINE` or `default` (a key the file leaves out).
pub(crate) fn provenance(loaded: &Loaded) -> Vec<(String, String, String)> {
    let Ok(toml::Value::Table(effective)) = toml::Value::try_from(&loaded.settings) else { return vec![] };
    let mut lines: Vec<(String, usize)> = Vec::new();
    if let Some(src) = &loaded.source
        && let Ok(doc) = toml::de::DeTable::parse(src)
    {
        collect_lines(doc.get_ref(), "", src, &mut lines);
    }
    let mut out = Vec::new();
    flatten(&toml::Value::Table(effective), "", &mut |key, value| {
        let origin = lines
            .iter()
            .find(|(k, _)| *k == key)
            .map_or_else(|| "default".to_owned(), |(_, line)| format!("{FILE}:{line}"));
        out.push((key.to_owned(), value, origin));
    });
    out
}

fn collect_lines(t: &toml::de::DeTable<'_>, path: &str, src: &str, out: &mut Vec<(String, usize)>) {
    use toml::de::DeValue;
    for (k, v) in t.iter() {
        let name = if path.is_empty() { k.get_ref().to_string() } else { format!("{path}.{}", k.get_ref()) };
        match v.get_ref() {
            DeValue::Table(t) => collect_lines(t, &name, src, out),
            DeValue::Array(a) if a.iter().all(|i| matches!(i.get_ref(), DeValue::Table(_))) && !a.is_empty() => {
                for (i, item) in a.iter().enumerate() {
                    if let DeValue::Table(t) = item.get_ref() {
                        collect_lines(t, &format!("{name}[{i}]"), src, out);
                    }
                }
            }
            _ => out.push((name, line_col(src, k.span().start).0)),
        }
    }
}

fn flatten(v: &toml::Value, path: &str, f: &mut dyn FnMut(&str, String)) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(v, &if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, f);
            }
        }
        toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table) => {
            for (i, item) in a.iter().enumerate() {
                flatten(item, &format!("{path}[{i}]"), f);
            }
        }
        other => f(path, serde_json::to_string(other).unwrap_or_default()),
    }
}

/// This repository's settings, loaded once (for the engine's unit tests; jobs get theirs from their `Ctx`).
#[cfg(test)]
pub(crate) fn this_repository() -> &'static Loaded {
    static LOADED: std::sync::OnceLock<Loaded> = std::sync::OnceLock::new();
    LOADED.get_or_init(|| {
        load(&crate::project_root()).unwrap_or_else(|e| panic!("{FILE} of this repository does not load: {e:#}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_repository_s_file_loads_and_has_every_section() {
        let l = load(&crate::project_root()).unwrap();
        assert!(l.source.is_some());
        let job = "lint";
        l.workspace(job).unwrap();
        l.gates(job).unwrap();
        l.store(job).unwrap();
        l.release(job).unwrap();
        l.platforms(job).unwrap();
        l.test_parts(job).unwrap();
    }

    #[test]
    fn unknown_keys_wrong_types_and_missing_keys_name_line_and_key() {
        let e = parse("[gates]\nmax-file-bytes = 10\nmax-size = 3\n").unwrap_err();
        assert!(e.starts_with("3:1: gates.max-size: unknown field `max-size`"), "{e}");
        let e = parse("[gates]\nmax-file-bytes = \"big\"\n").unwrap_err();
        assert!(e.starts_with("2:18: gates.max-file-bytes: invalid type: string"), "{e}");
        let e = parse("[[python]]\ndist = \"a\"\nmodule = \"a\"\ndir = \"a\"\n").unwrap_err();
        assert!(e.starts_with("1:1: python: missing field `tests`"), "{e}");
        let e = parse("[gates]\nmax-file-bytes = 1\nkeywords-in = [\"title\", \"footer\"]\n").unwrap_err();
        assert!(e.starts_with("3:25: gates.keywords-in: unknown variant `footer`"), "{e}");
        let e = parse("[test]\ndefault-parts = [\"rust\", \"fuzz\"]\n").unwrap_err();
        assert!(e.starts_with("2:26: test.default-parts: unknown variant `fuzz`, expected one of `rust`"), "{e}");
        // Numbers out of their range are refused at their key, never clamped.
        let e = parse("[test]\ndefault-parts = [\"rust\"]\nshards = 500\n").unwrap_err();
        assert!(e.starts_with("3:10: test.shards: 500 shards: from 1 (no sharding) to 64"), "{e}");
        let e = parse("[test]\ndefault-parts = [\"rust\"]\nretries = 1000\n").unwrap_err();
        assert!(e.starts_with("3:") && e.contains(": test.retries: 1000 retries: at most 10"), "{e}");
        let release = "[release]\nregistry-api = \"a\"\nregistry-index = \"b\"\npypi-upload = \"c\"\npypi-simple = \"d\"\n\
                       signing-key = \"k\"\nconcurrent-publishes = 0\n";
        let e = parse(release).unwrap_err();
        assert!(e.contains(": release.concurrent-publishes: 0 at once: from 1 to 16"), "{e}");
        let e = parse("[sizes]\nthreshold-percent = -5.0\n").unwrap_err();
        assert!(e.starts_with("2:") && e.contains(": sizes.threshold-percent: -5 %"), "{e}");
        let e = parse("verbose = true\n").unwrap_err();
        assert!(e.starts_with("1:1: verbose: unknown field `verbose`"), "{e}");
        for e in [e, parse("[store\n").unwrap_err()] {
            assert_eq!(e.lines().count(), 2, "one line of cause, one of fix: {e}");
            assert!(e.lines().nth(1).unwrap().starts_with("fix: "), "{e}");
        }
    }

    #[test]
    fn names_that_reach_workflows_and_logs_are_plain_and_paths_stay_inside() {
        let platform_building = |name: &str, runner: &str, builds: &str| {
            format!(
                "[gates]\nmax-file-bytes = 1\n\n[[platform]]\nname = \"l\"\nrunner = \"r\"\ntarget = \"t\"\nbuilds = []\n\n[[platform]]\nname = {name}\nrunner = {runner}\ntarget = \"t\"\nbuilds = [{builds}]\n"
            )
        };
        let platform = |name: &str, runner: &str| platform_building(name, runner, "\"wasm\"");
        // A runner that would add YAML keys to the generated workflow.
        let e = parse(&platform("\"m\"", "\"ubuntu-24.04\\n    steps: [] #\"")).unwrap_err();
        assert!(
            e.starts_with("12:10: platform[1].runner: \"ubuntu-24.04\\n    steps: [] #\" is not a plain name"),
            "{e}"
        );
        let e = parse(&platform("\"a' }}\"", "\"r\"")).unwrap_err();
        assert!(e.starts_with("11:8: platform[1].name: "), "{e}");
        let e = parse(&platform("\"\"", "\"r\"")).unwrap_err();
        assert!(e.starts_with("11:8: platform[1].name: \"\" is not a plain name"), "{e}");
        // A kind ci.toml does not know (kinds are typed: the reader names the key and the kinds there are).
        let e = parse(&platform_building("\"m\"", "\"r\"", "\"wasm\", \"bad\"")).unwrap_err();
        assert!(e.starts_with("14:10: platform.builds: unknown kind `bad`, expected one of crates, wheels"), "{e}");
        let e = parse("[gates]\nmax-file-bytes = 1\nmain-branch = \"dev+x\"\n").unwrap_err();
        assert!(
            e.starts_with("3:15: gates.main-branch: \"dev+x\" is not a branch name"),
            "GitHub's filters read `+`: {e}"
        );
        let e = parse("[gates]\nmax-file-bytes = 1\nmain-branch = \"x]\\n    paths: [z]\"\n").unwrap_err();
        assert!(e.starts_with("3:15: gates.main-branch: "), "{e}");
        for dir in ["../../etc", "/etc", "a/../../b", "a//b", ""] {
            let text = format!("[[python]]\ndist = \"d\"\nmodule = \"m\"\ndir = \"{dir}\"\ntests = \"t\"\n");
            let e = parse(&text).unwrap_err();
            assert!(e.starts_with("4:7: python[0].dir: ") && e.contains("not a path inside the repository"), "{e}");
        }
        // Control characters anywhere, escaped in the message (which is one line of cause, one of fix).
        let e = parse("[gates]\nmax-file-bytes = 1\nkeywords = [\"ok\", \"a\\u001b[2Jb\"]\n").unwrap_err();
        assert!(e.starts_with("3:19: gates.keywords[1]: ") && e.contains("control character"), "{e}");
        assert!(!e.contains('\u{1b}') && e.lines().count() == 2, "{e:?}");
        let e = parse("[gates]\nmax-file-bytes = 1\n\"\\u001b[31mEVIL\" = 1\n").unwrap_err();
        assert!(!e.contains('\u{1b}') && e.contains("unknown field"), "{e:?}");
        // A glob the gates could not match with.
        let e = parse("[gates]\nmax-file-bytes = 1\nlfs = [\"*.png\", \"a**b\"]\n").unwrap_err();
        assert!(e.starts_with("3:17: gates.lfs[1]: \"a**b\" is not a glob"), "{e}");
        let e = parse("[gates]\nmax-file-bytes = 1\nlfs-allow = [\"a**b\"]\n").unwrap_err();
        assert!(e.contains("gates.lfs-allow[0]: \"a**b\" is not a glob"), "{e}");
        // This repository's own values pass.
        parse(&std::fs::read_to_string(crate::project_root().join(FILE)).unwrap()).unwrap();
    }

    #[test]
    fn the_repository_s_own_jobs_and_workflows_are_checked_with_line_and_fix() {
        let base = "[[platform]]\nname = \"l\"\nrunner = \"r\"\ntarget = \"t\"\nbuilds = []\n\n";
        let job = |body: &str| format!("{base}[[job]]\n{body}\n");
        let ok = job(
            "name = \"docs\"\nworkflow = \"lint-build-test\"\non = [\"push\"]\nrun = [\"cargo\", \"doc\"]\nneeds = [\"lint\"]",
        );
        let s = parse(&ok).unwrap();
        assert_eq!(s.job[0].run, ["cargo", "doc"]);
        let cases: &[(&str, &str)] = &[
            ("name = \"x\"\nworkflow = \"nightly\"\nrun = [\"a\"]", "9:12: job[0].workflow: no workflow `nightly`"),
            (
                "name = \"lint\"\nworkflow = \"lint-build-test\"\nrun = [\"a\"]",
                "job[0].name: `lint` is the job `lint` the engine defines",
            ),
            (
                "name = \"PLAN\"\nworkflow = \"create-packages\"\nrun = [\"a\"]",
                "job[0].name: `PLAN` is the job `plan` the engine",
            ),
            ("name = \"a.b\"\nworkflow = \"lint-build-test\"\nrun = [\"a\"]", "job[0].name: `a.b` is not a job id"),
            (
                "name = \"x\"\nworkflow = \"release\"\non = [\"schedule\"]\nrun = [\"a\"]",
                "job[0].on[0]: release runs on push, workflow_dispatch, not `schedule`",
            ),
            (
                "name = \"x\"\nworkflow = \"pr-gates\"\non = [\"pull_request\"]\nrun = [\"a\"]",
                "job[0].on: every pr-gates job runs on every trigger",
            ),
            ("name = \"x\"\nworkflow = \"release\"\nrun = []", "job[0].run: no command"),
            (
                "name = \"x\"\nworkflow = \"release\"\nrun = [\"echo\", \"${{ github.event.pull_request.title }}\"]",
                "job[0].run[1]: ",
            ),
            (
                "name = \"x\"\nworkflow = \"release\"\nrun = [\"a\"]\nneeds = [\"lint\"]",
                "job[0].needs[0]: no job `lint` in release",
            ),
            (
                "name = \"x\"\nworkflow = \"release\"\nrun = [\"a\"]\nplatform = \"beos\"",
                "job[0].platform: no [[platform]] named `beos`",
            ),
            (
                "name = \"x\"\nworkflow = \"release\"\nrun = [\"a\"]\ntimeout-minutes = 0",
                "job[0].timeout-minutes: between 1 and 360",
            ),
        ];
        for (body, want) in cases {
            let e = parse(&job(body)).unwrap_err();
            assert!(e.contains(want) && e.contains("\nfix: "), "{body}: {e}");
        }
        let cycle = format!(
            "{base}[[job]]\nname = \"a\"\nworkflow = \"release\"\nrun = [\"x\"]\nneeds = [\"b\"]\n\n[[job]]\nname = \"b\"\nworkflow = \"release\"\nrun = [\"x\"]\nneeds = [\"a\"]\n"
        );
        assert!(parse(&cycle).unwrap_err().contains("job[0].needs: `a` needs itself"));
        let twice = format!(
            "{base}[[job]]\nname = \"a\"\nworkflow = \"release\"\nrun = [\"x\"]\n\n[[job]]\nname = \"a\"\nworkflow = \"release\"\nrun = [\"y\"]\n"
        );
        assert!(parse(&twice).unwrap_err().contains("job[1].name: `a` and `a` are one job id in release"));
        let alike = twice.replacen("name = \"a\"", "name = \"A-b\"", 1).replacen("name = \"a\"", "name = \"a_B\"", 1);
        assert!(parse(&alike).unwrap_err().contains("`A-b` and `a_B` are one job id in release"), "{alike}");
        let e = parse(&format!("{base}[workflows]\nallow = [\"fuzz.yml\", \"release.yml\"]\n")).unwrap_err();
        assert!(e.contains("workflows.allow[1]: `release.yml` is generated"), "{e}");
        let e = parse(&format!("{base}[workflows]\nallow = [\"fuzz.sh\"]\n")).unwrap_err();
        assert!(e.contains("workflows.allow[0]: `fuzz.sh` is not a workflow file name"), "{e}");
        assert!(parse(&format!("{base}[workflows]\nallow = [\"fuzz.yml\", \"docs.yaml\"]\n")).is_ok());
    }

    #[test]
    #[cfg(unix)]
    fn only_a_regular_file_is_read() {
        let dir = crate::testutil::scratch("settings-kinds", &[]);
        std::fs::create_dir(dir.join(FILE)).unwrap();
        let e = format!("{:#}", load(&dir).unwrap_err());
        assert!(e.contains("is not a regular file\nfix: "), "{e}");
        std::fs::remove_dir(dir.join(FILE)).unwrap();
        std::os::unix::fs::symlink(dir.join("nowhere"), dir.join(FILE)).unwrap();
        let e = format!("{:#}", load(&dir).unwrap_err());
        assert!(e.contains("is a symbolic link to nothing\nfix: "), "{e}");
        std::fs::remove_file(dir.join(FILE)).unwrap();
        let fifo = dir.join(FILE);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = format!("{:#}", load(&dir).unwrap_err());
        assert!(e.contains("is not a regular file"), "a FIFO is refused, not read: {e}");
    }

    #[test]
    fn a_missing_file_or_section_names_the_section_and_shows_an_example() {
        let dir = crate::testutil::scratch("settings", &[]);
        let l = load(&dir).unwrap();
        let e = format!("{:#}", l.gates("gates").unwrap_err());
        assert!(e.contains("`gates` needs the [gates] section of ci.toml: there is no"), "{e}");
        assert!(e.contains("max-file-bytes = "), "{e}");
        // Every example parses, and is the section it names.
        for section in ["workspace", "platform", "gates", "store", "release", "test"] {
            let s = parse(example(section)).unwrap_or_else(|e| panic!("{section}: {e}"));
            let l = Loaded { path: "ci.toml".into(), source: Some(String::new()), settings: s };
            let ok = match section {
                "workspace" => l.workspace("x").is_ok(),
                "platform" => l.platforms("x").is_ok(),
                "gates" => l.gates("x").is_ok(),
                "store" => l.store("x").is_ok(),
                "release" => l.release("x").is_ok(),
                _ => l.test_parts("x").is_ok(),
            };
            assert!(ok, "{section}");
        }
        std::fs::write(dir.join(FILE), "[store]\ndefault = \"d\"\nweb = \"w\"\n").unwrap();
        let e = format!("{:#}", load(&dir).unwrap().release("release").unwrap_err());
        assert!(e.contains("ci.toml has no [release] section\nfix: add\n[release]"), "{e}");
    }

    #[test]
    fn provenance_names_the_line_or_the_default() {
        let src =
            "[gates]\nmax-file-bytes = 10\n\n[[platform]]\nname = \"l\"\nrunner = \"r\"\ntarget = \"t\"\nbuilds = []\n";
        let l = Loaded { path: "ci.toml".into(), source: Some(src.into()), settings: parse(src).unwrap() };
        let p = provenance(&l);
        let find = |k: &str| p.iter().find(|(key, ..)| key == k).unwrap_or_else(|| panic!("{k} in {p:?}"));
        assert_eq!(find("gates.max-file-bytes").1, "10");
        assert_eq!(find("gates.max-file-bytes").2, "ci.toml:2");
        assert_eq!(find("gates.every-commit").2, "default");
        assert_eq!(find("platform[0].runner").2, "ci.toml:6");
    }

    /// `[lint]`: the repository's versions of the linters, each exact and in the engine's range; anything else
    /// is refused at its line and column with a fix that names the range.
    #[test]
    fn lint_versions_are_exact_known_and_in_the_engine_s_range() {
        let s = parse("[lint]\nruff = \"0.15.9\"\ntypos = \"1.40.0\"\n").unwrap();
        let l = Loaded { path: FILE.into(), source: Some(String::new()), settings: s };
        assert_eq!(l.lint_pins(), [("ruff", "0.15.9".to_owned()), ("typos", "1.40.0".to_owned())]);
        let cases = [
            ("black = \"24.1.0\"", "2:1: lint.black: unknown field `black`, expected one of `ruff`, `taplo`, `typos`"),
            (
                "ruff = \"0.4.10\"",
                "2:8: lint.ruff: ruff 0.4.10 is outside the versions the engine supports (0.5.0 or newer, older than \
                 0.18)\nfix: pin ruff 0.5.0 or newer",
            ),
            ("ruff = \"0.18.0\"", "2:8: lint.ruff: ruff 0.18.0 is outside the versions the engine supports"),
            ("taplo = \"0.10.0\"", "(0.8.0 or newer, older than 0.10)\nfix: pin a taplo older than 0.10"),
            ("typos = \"2.0.0\"", "2:9: lint.typos: typos 2.0.0 is outside"),
            ("typos = \"1.16.22\"", "fix: pin typos 1.16.23 or newer"),
            ("ruff = \">=0.15\"", "2:8: lint.ruff: \">=0.15\" is not an exact version: three numbers, X.Y.Z"),
            ("ruff = \"0.15\"", "is not an exact version"),
            ("ruff = 0.15", "2:8: lint.ruff: invalid type: floating point `0.15`, expected a string"),
        ];
        for (line, want) in cases {
            let e = parse(&format!("[lint]\n{line}\n")).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
            assert_eq!(e.lines().count(), 2, "one line of cause, one of fix: {e}");
            assert!(e.lines().nth(1).unwrap().starts_with("fix: "), "{e}");
        }
        let e = parse("[lint]\nruff = \"0.20.1\"\n").unwrap_err();
        assert!(e.contains("or leave `ruff` out to use the engine's 0.17.6"), "{e}");
        assert!(parse(example("lint")).unwrap().lint.is_some());
    }
}
