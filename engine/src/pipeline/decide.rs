//! The plan job's decisions, made from the trigger (the event's name and payload), the repository's variables and
//! ci.toml: which platforms, which kinds on which runner, whether the upload and the cloud auth run, which of the
//! repository's own jobs run for this trigger. The workflows only pass the outputs on (`fromJSON(...)`), and
//! [`super::replay()`] evaluates the same decisions locally.

use anyhow::{Result, bail};
use serde_json::json;

use crate::github::Trigger;
use crate::settings::Loaded;

/// The repository variables `workflow`'s plan job reads (`vars.NAME` in its step's environment; locally the
/// shell's environment).
pub(super) fn variables(workflow: &str) -> &'static [&'static str] {
    match workflow {
        "create-packages" => &["ARTIFACT_STORE", "GCP_WORKLOAD_IDENTITY_PROVIDER"],
        "lint-build-test" => &["ARTIFACT_STORE", "GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_CACHE_SERVICE_ACCOUNT"],
        "release" => &["GCP_WORKLOAD_IDENTITY_PROVIDER"],
        _ => &[],
    }
}

/// Whether `workflow` compiles through the shared build cache (ci.toml has a `[cache]`).
pub(crate) fn uses_build_cache(settings: &Loaded, workflow: &str) -> bool {
    matches!(workflow, "lint-build-test" | "create-packages") && settings.settings.cache.is_some()
}

/// Whether `workflow`'s compiling jobs authenticate to write the build cache (`[cache] authenticate`: only
/// lint-build-test, whose workflow holds no other credential).
pub(crate) fn authenticates_for_cache(settings: &Loaded, workflow: &str) -> bool {
    workflow == "lint-build-test" && settings.settings.cache.as_ref().is_some_and(|c| c.authenticate)
}

/// The plan output that says whether the repository's job `name` runs for this trigger.
pub(super) fn extra_key(name: &str) -> String {
    format!("run_{}", name.replace('-', "_"))
}

/// The outputs of `workflow`'s plan job, in order.
pub(crate) fn plan_outputs(settings: &Loaded, workflow: &str) -> Vec<String> {
    let base: &[&str] = match workflow {
        "lint-build-test" => &["matrix", "sizes"],
        "create-packages" => &["matrix", "any", "upload", "gcp"],
        "release" => &["gcp"],
        _ => &[],
    };
    let mut out: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
    if workflow == "lint-build-test" && settings.test_shards() > 1 {
        out.push("shards".to_owned());
    }
    if authenticates_for_cache(settings, workflow) {
        out.push("cache_auth".to_owned());
    }
    out.extend(
        settings.extra_jobs().iter().filter(|j| j.workflow == workflow && !j.on.is_empty()).map(|j| extra_key(&j.name)),
    );
    out
}

/// What the plan job decided: its outputs (strings, as `$GITHUB_OUTPUT` holds them) and why.
#[derive(Clone, Debug, Default)]
pub(crate) struct Decision {
    pub outputs: Vec<(String, String)>,
    pub notes: Vec<String>,
}

impl Decision {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.outputs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    /// A `true`/`false` output.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }
    fn set(&mut self, key: &str, value: impl Into<String>) {
        self.outputs.push((key.to_owned(), value.into()));
    }
}

/// The decisions of `workflow`'s plan job for trigger `t`. `var` reads a repository variable (empty: unset);
/// `platforms` overrides the platforms (the `--platforms` flag).
pub(crate) fn decide(
    settings: &Loaded,
    workflow: &str,
    t: &Trigger,
    platforms: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Decision> {
    let mut d = Decision::default();
    let set = |k: &str| var(k).is_some_and(|v| !v.trim().is_empty());
    match workflow {
        "lint-build-test" | "create-packages" => {
            let (m, notes) = workflow_matrix(settings, workflow, t, platforms)?;
            let any = m["include"].as_array().is_some_and(|rows| !rows.is_empty());
            d.set("matrix", serde_json::to_string(&m)?);
            d.notes = notes;
            if workflow == "lint-build-test" {
                sizes_decision(t, &set, &mut d);
                shards_decision(settings, &mut d)?;
            }
            if workflow == "create-packages" {
                d.set("any", any.to_string());
                let store = set("ARTIFACT_STORE");
                d.set("upload", (any && store).to_string());
                if any && !store {
                    d.notes.push(
                        "upload and sign: skipped (the repository variable ARTIFACT_STORE is not set: the packages stay \
                         in this run's artifacts)"
                            .into(),
                    );
                }
            }
        }
        "release" | "pr-gates" => {}
        other => bail!(
            "no workflow `{}`\nfix: --workflow pr-gates, lint-build-test, create-packages or release",
            crate::plan::printable(other)
        ),
    }
    cache_auth(settings, workflow, t, &set, &mut d);
    if matches!(workflow, "create-packages" | "release") {
        let gcp = set("GCP_WORKLOAD_IDENTITY_PROVIDER");
        d.set("gcp", gcp.to_string());
        if !gcp {
            d.notes.push("cloud auth: skipped (GCP_WORKLOAD_IDENTITY_PROVIDER is not set)".into());
        }
    }
    for j in settings.extra_jobs().iter().filter(|j| j.workflow == workflow && !j.on.is_empty()) {
        // A local run (no event) stands for every trigger.
        let runs = t.name == "local" || j.on.contains(&t.name);
        d.set(&extra_key(&j.name), runs.to_string());
        if !runs {
            d.notes.push(format!("{}: skipped (runs on {}, this is {})", j.name, j.on.join(", "), t.name));
        }
    }
    debug_assert_eq!(d.outputs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), plan_outputs(settings, workflow));
    Ok(d)
}

/// The shard jobs' matrix, where ci.toml asks for more than one.
fn shards_decision(settings: &Loaded, d: &mut Decision) -> Result<()> {
    let n = settings.test_shards();
    if n > 1 {
        let rows: Vec<serde_json::Value> = (1..=n).map(|k| json!({ "shard": format!("{k}/{n}") })).collect();
        d.set("shards", serde_json::to_string(&json!({ "include": rows }))?);
        d.notes.push(format!("the Rust unit tests: built once, run in {n} shards (ci.toml [test] shards)"));
    }
    Ok(())
}

/// Whether the sizes job runs: for a pull request, where the repository has an artifact store (a local run stands
/// for every trigger, against ci.toml's store).
fn sizes_decision(t: &Trigger, set: &dyn Fn(&str) -> bool, d: &mut Decision) {
    let runs = t.name == "local" || (t.name == "pull_request" && set("ARTIFACT_STORE"));
    d.set("sizes", runs.to_string());
    if t.name == "pull_request" && !runs {
        d.notes
            .push("sizes: skipped (the repository variable ARTIFACT_STORE is not set: no manifests to compare)".into());
    }
}

/// Whether the compiling jobs authenticate for the build cache: only where they write it (the default branch) and
/// the repository names the identity (a workload identity provider and the cache's own service account, which may
/// write only the cache's prefix).
fn cache_auth(settings: &Loaded, workflow: &str, t: &Trigger, set: &dyn Fn(&str) -> bool, d: &mut Decision) {
    if !authenticates_for_cache(settings, workflow) {
        return;
    }
    let (mode, why) = crate::cache::for_trigger(t);
    let writes = mode == Some(crate::cache::Mode::ReadWrite);
    let identity = set("GCP_WORKLOAD_IDENTITY_PROVIDER") && set("GCP_CACHE_SERVICE_ACCOUNT");
    d.notes.push(match (writes, identity) {
        (true, true) => format!("build cache: read-write ({why}), authenticated as GCP_CACHE_SERVICE_ACCOUNT"),
        (true, false) => format!(
            "build cache: read-write ({why}), but no cache identity (GCP_WORKLOAD_IDENTITY_PROVIDER and \
             GCP_CACHE_SERVICE_ACCOUNT): it writes only where the runner has credentials"
        ),
        (false, _) => format!("build cache: {} ({why}), no authentication", mode.map_or("off", |m| m.as_str())),
    });
    d.set("cache_auth", (writes && identity).to_string());
}

/// The versions `actions/setup-python` installs on a runner (its `python-version`, one per line): the
/// interpreters `pick` names for each package, then the one the engine's tools run on, last, so that it is the
/// `python3` on PATH.
fn setup_pythons(
    settings: &Loaded,
    pick: impl Fn(&crate::settings::PythonPackage) -> Vec<crate::interpreter::Interpreter>,
) -> String {
    let mut all: Vec<_> = settings.python().iter().flat_map(pick).collect();
    all.sort();
    all.dedup();
    // PyPy first: setup-python puts the later versions first on PATH, and a PyPy's bin/ also has `python3.X`,
    // which must stay the CPython of that version.
    all.sort_by_key(|i| !matches!(i, crate::interpreter::Interpreter::PyPy { .. }));
    let mut lines: Vec<String> = all.iter().map(|i| i.setup_python()).collect();
    lines.retain(|v| v != crate::config::RUNNER_PYTHON);
    lines.push(crate::config::RUNNER_PYTHON.to_owned());
    lines.join("\n")
}

/// The platform matrix: `{"include":[{"platform":..,"os":..,"target":..,..}]}` for the named platforms.
pub(crate) fn matrix_in(settings: &Loaded, platforms: &str) -> Result<serde_json::Value> {
    let mut include = Vec::new();
    for name in platforms.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let all = settings.platforms("ci matrix")?;
        let Some(p) = all.iter().find(|p| p.name == name) else {
            let known: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
            bail!("unknown platform `{}`\nfix: choose from {}", crate::plan::printable(name), known.join(", "));
        };
        if !include.iter().any(|i: &serde_json::Value| i["platform"] == p.name) {
            let how = if p.wheels.len() > 1 || p.wheels != [p.target.clone()] {
                "cross-built on this runner (zig)"
            } else {
                "built natively on its own runner"
            };
            include.push(json!({
                "platform": p.name,
                "os": p.runner,
                "target": p.target,
                "wheel_targets": p.wheels.join(","),
                "wheels": if p.wheels.is_empty() { "none".to_owned() } else { format!("{}: {how}", p.wheels.join(", ")) },
                "kinds": p.builds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(","),
                "build_pythons": setup_pythons(settings, |pkg| p.wheels.iter().flat_map(|t| {
                    crate::wheel::matrix::native_interpreters(pkg, t, &p.target)
                }).collect()),
                "test_pythons": setup_pythons(settings, |pkg| pkg.interpreters()),
                // Where its Rust unit tests run: the first platform's in the shard jobs where ci.toml has them.
                "unit_tests": if settings.test_shards() > 1 && all[0].name == p.name { "shards" } else { "here" },
            }));
        }
    }
    if include.is_empty() {
        let names: Vec<_> = settings.settings.platform.iter().map(|p| p.name.as_str()).collect();
        bail!("no platform given\nfix: pass --platforms NAME, one of {}", names.join(", "));
    }
    Ok(json!({ "include": include }))
}

/// The matrix of `workflow` for `trigger`: which platforms (a dispatch's `platforms` input, every platform on the
/// schedule, else the first), and for create-packages the kinds each builds: what the trigger asks (a dispatch's
/// `kinds` input, the wasm bundle on a push to the main branch, everything on the schedule and locally) within
/// that platform's ci.toml `builds`, and among the kinds the repository has (no wasm bundle without a `[[wasm]]`,
/// no wheels without a `[[python]]`, ...). A platform left with nothing to build is left out, and said in the
/// notes.
pub(crate) fn workflow_matrix(
    settings: &Loaded,
    workflow: &str,
    t: &Trigger,
    flag: Option<&str>,
) -> Result<(serde_json::Value, Vec<String>)> {
    let all = settings.platforms("ci plan")?;
    let default = all[0].name.clone();
    let every = all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(",");
    let platforms = match (flag, t.input("platforms")?, t.name.as_str()) {
        (Some(f), ..) => f.to_owned(),
        (None, Some(asked), _) => asked,
        (None, None, "schedule") if workflow == "create-packages" => every,
        _ => default,
    };
    let mut m = matrix_in(settings, &platforms)?;
    let notes = match workflow {
        "lint-build-test" => Vec::new(),
        "create-packages" => keep_what_builds(settings, t, &mut m)?,
        other => bail!(
            "no platform matrix for the workflow `{}`\nfix: --workflow create-packages or lint-build-test",
            crate::plan::printable(other)
        ),
    };
    Ok((m, notes))
}

/// The kinds each platform of the create-packages matrix `m` builds: what the trigger asks within its `builds`,
/// among the kinds the repository has (crates: the workspace says, which `package` reads itself). A platform
/// left with nothing is dropped, and said in the notes returned.
fn keep_what_builds(settings: &Loaded, t: &Trigger, m: &mut serde_json::Value) -> Result<Vec<String>> {
    use crate::manifest::Kind;
    let has = |kind: Kind| match kind {
        Kind::Wheel | Kind::Sdist => !settings.python().is_empty(),
        Kind::Wasm => !settings.wasm().is_empty(),
        Kind::Binary => !settings.binaries().is_empty(),
        Kind::Recording => settings.examples().is_some(),
        Kind::Crate => true,
    };
    let asked: Vec<String> = match (t.input("kinds")?, t.name.as_str()) {
        (Some(k), _) => k.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
        (None, "push") => vec!["wasm".into()],
        _ => vec!["all".into()],
    };
    if let Some(bad) = asked.iter().find(|k| *k != "all" && Kind::parse(k).is_none()) {
        bail!(
            "the dispatch input kinds names `{}`, which is no kind\nfix: dispatch with kinds from {}, or all",
            crate::plan::printable(bad),
            Kind::names()
        );
    }
    let mut notes = Vec::new();
    let rows = m["include"].as_array_mut().expect("matrix_in makes an array");
    rows.retain_mut(|row| {
        let builds: Vec<&str> =
            row["kinds"].as_str().unwrap_or_default().split(',').filter(|k| !k.is_empty()).collect();
        let kinds: Vec<&str> = builds
            .into_iter()
            .filter(|k| asked.iter().any(|a| a == "all" || a == k) && Kind::parse(k).is_some_and(has))
            .collect();
        if kinds.is_empty() {
            notes.push(format!(
                "{}: nothing to build ({} asks for {}; ci.toml builds {} there, of what the repository has)",
                row["platform"].as_str().unwrap_or_default(),
                t.name,
                asked.join(","),
                row["kinds"].as_str().filter(|k| !k.is_empty()).unwrap_or("nothing")
            ));
            return false;
        }
        row["kinds"] = json!(kinds.join(","));
        true
    });
    Ok(notes)
}
