//! `cargo xtask ci`: the workflow jobs as a person runs them. `ci list` shows every job and its commands,
//! `ci <workflow>/<job>` runs one job's commands in order exactly as CI does (cloud auth and caches are CI-only
//! `uses:` steps; the rest is identical), `ci` alone runs every job, the whole pipeline. `ci matrix` prints
//! the platform matrix the workflows read with `fromJSON`.

use anyhow::{Result, bail};
use serde_json::json;

use crate::plan::{Plan, Step};
use crate::{Ctx, github};

pub fn list(as_json: bool) -> Result<()> {
    crate::settings::get().platforms("ci list")?;
    let local = crate::pipeline::local_jobs()?;
    if as_json {
        let jobs: Vec<_> = local
            .iter()
            .map(|j| {
                json!({
                    "job": j.key,
                    "commands": j.commands.iter().map(|c| crate::pipeline::run_line(c)).collect::<Vec<_>>(),
                    "ci_commands": j.ci_commands,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "jobs": jobs })).unwrap_or_default());
        return Ok(());
    }
    for j in local {
        println!("{}", j.key);
        for ((c, ci), overridden) in j.commands.iter().zip(&j.ci_commands).zip(&j.local_override) {
            if *overridden {
                println!("    {}    # in CI: {ci}", crate::pipeline::run_line(c));
            } else {
                println!("    {}", crate::pipeline::run_line(c));
            }
        }
    }
    Ok(())
}

/// The plan of one job (or all): each step one `cargo xtask` command.
pub fn plan(job: Option<&str>) -> Result<Plan> {
    crate::settings::get().platforms("ci")?;
    let jobs = crate::pipeline::local_jobs()?;
    let selected: Vec<_> = match job {
        None => jobs.iter().collect(),
        Some(key) => {
            let found: Vec<_> = jobs.iter().filter(|j| j.key == key || j.key.ends_with(&format!("/{key}"))).collect();
            if found.len() != 1 {
                let known: Vec<_> = jobs.iter().map(|j| j.key.as_str()).collect();
                bail!("no single CI job `{}`\nfix: name one of: {}", crate::plan::printable(key), known.join(", "));
            }
            found
        }
    };
    let mut plan = Plan::new(&format!("ci {}", job.unwrap_or("(all jobs)")));
    for j in selected {
        for c in &j.commands {
            let mut args = vec!["xtask".to_owned()];
            args.extend(c.iter().cloned());
            plan.push(
                Step::run(&format!("{}: {}", j.key, c.first().map(String::as_str).unwrap_or("")), "cargo", &[])
                    .args(args)
                    .tools(&["cargo"]),
            );
        }
    }
    Ok(plan)
}

pub fn run(ctx: &Ctx, job: Option<&str>) -> Result<()> {
    let plan = plan(job)?;
    // The system packages first (where this user may install them), so the jobs below find them.
    crate::bootstrap::ensure(ctx)?;
    ctx.execute(&plan)
}

/// `ci engine --out DIR`: this binary, copied for the jobs that hold credentials. They run it instead of
/// `cargo xtask`, so no build script or proc macro of the xtask's dependencies ever runs where a secret or the
/// OIDC request token is in the environment (the workflows build it in a job without either).
pub fn engine(ctx: &Ctx, out: &camino::Utf8Path) -> Result<()> {
    use anyhow::Context as _;
    if out.as_str().trim().is_empty() {
        bail!("--out is empty\nfix: name the directory the engine goes to, e.g. --out target/engine");
    }
    let out = if out.is_absolute() { out.to_owned() } else { ctx.root.join(out) };
    let name = if cfg!(windows) { "xtask.exe" } else { "xtask" };
    let exe = std::env::current_exe().context("finding this xtask's binary")?;
    if ctx.global.dry_run || ctx.global.json {
        let plan = json!({"job": "ci engine", "copy": exe.display().to_string(), "to": out.join(name).as_str()});
        return crate::plan::print_static(&plan, ctx.global.json);
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {out}"))?;
    let dest = out.join(name);
    std::fs::copy(&exe, &dest).with_context(|| format!("copying {} to {dest}", exe.display()))?;
    let (sha, size) = crate::sha256::file(&dest)?;
    println!("{dest}: {size} bytes, sha256 {sha}");
    Ok(())
}

/// `{"include":[{"platform":..,"os":..,"target":..}]}` for the named platforms.
pub fn matrix_json(platforms: &str) -> Result<serde_json::Value> {
    matrix_in(crate::settings::get(), platforms)
}

/// [`matrix_json`] of the repository `settings` describe.
fn matrix_in(settings: &crate::settings::Loaded, platforms: &str) -> Result<serde_json::Value> {
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
                "kinds": p.builds.join(","),
            }));
        }
    }
    if include.is_empty() {
        let names: Vec<_> = settings.settings.platform.iter().map(|p| p.name.as_str()).collect();
        bail!("no platform given\nfix: pass --platforms NAME, one of {}", names.join(", "));
    }
    Ok(json!({ "include": include }))
}

/// `ci matrix`'s arguments.
#[derive(Clone, Debug, Default)]
pub struct MatrixArgs {
    pub platforms: Option<String>,
    pub workflow: Option<String>,
    pub event: Option<camino::Utf8PathBuf>,
    pub event_name: Option<String>,
    pub github_output: bool,
}

/// The kinds a package job may build (ci.toml `[[platform]] builds`).
const KINDS: &[&str] = &["crates", "wheels", "wasm", "recordings", "binaries"];

/// The matrix of `workflow` for `trigger`: which platforms (a dispatch's `platforms` input, every platform on the
/// schedule, else the first), and for create-packages the kinds each builds: what the trigger asks (a dispatch's
/// `kinds` input, the wasm bundle on a push to the main branch, everything on the schedule and locally) within
/// that platform's ci.toml `builds`, and among the kinds the repository has (no wasm bundle without a `[[wasm]]`,
/// no wheels without a `[[python]]`, ...). A platform left with nothing to build is left out, and said in the
/// notes.
pub fn workflow_matrix(
    settings: &crate::settings::Loaded,
    workflow: &str,
    t: &github::Trigger,
    flag: Option<&str>,
) -> Result<(serde_json::Value, Vec<String>)> {
    let all = settings.platforms("ci matrix")?;
    let default = all[0].name.clone();
    let every = all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(",");
    let platforms = match (flag, t.input("platforms"), t.name.as_str()) {
        (Some(f), ..) => f.to_owned(),
        (None, Some(asked), _) => asked,
        (None, None, "schedule") if workflow == "create-packages" => every,
        _ => default,
    };
    let mut m = matrix_in(settings, &platforms)?;
    // The kinds this repository has at all (crates: the workspace says, which `package` reads itself).
    let has = |kind: &str| match kind {
        "wheels" => !settings.python().is_empty(),
        "wasm" => !settings.wasm().is_empty(),
        "binaries" => !settings.binaries().is_empty(),
        "recordings" => settings.examples().is_some(),
        _ => true,
    };
    let mut notes = Vec::new();
    match workflow {
        "lint-build-test" => {}
        "create-packages" => {
            let asked: Vec<String> = match (t.input("kinds"), t.name.as_str()) {
                (Some(k), _) => k.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
                (None, "push") => vec!["wasm".into()],
                _ => vec!["all".into()],
            };
            if let Some(bad) = asked.iter().find(|k| *k != "all" && !KINDS.contains(&k.as_str())) {
                bail!(
                    "the dispatch input kinds names `{}`, which is no kind\nfix: dispatch with kinds from {}, or all",
                    crate::plan::printable(bad),
                    KINDS.join(", ")
                );
            }
            let rows = m["include"].as_array_mut().expect("matrix_json makes an array");
            rows.retain_mut(|row| {
                let builds: Vec<&str> =
                    row["kinds"].as_str().unwrap_or_default().split(',').filter(|k| !k.is_empty()).collect();
                let kinds: Vec<&str> =
                    builds.into_iter().filter(|k| asked.iter().any(|a| a == "all" || a == k) && has(k)).collect();
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
        }
        other => bail!(
            "no platform matrix for the workflow `{}`\nfix: --workflow create-packages or lint-build-test",
            crate::plan::printable(other)
        ),
    }
    Ok((m, notes))
}

/// `ci matrix`: the platforms (and kinds) the trigger asks for; without `--workflow` the named platforms (ci.toml's
/// first without `--platforms`).
pub fn matrix(args: &MatrixArgs) -> Result<()> {
    let (m, notes) = match &args.workflow {
        Some(w) => workflow_matrix(
            crate::settings::get(),
            w,
            &github::Trigger::read(args.event.as_deref(), args.event_name.as_deref())?,
            args.platforms.as_deref(),
        )?,
        None => {
            let default = crate::settings::get().default_platform("ci matrix")?.name.clone();
            (matrix_json(args.platforms.as_deref().unwrap_or(&default))?, Vec::new())
        }
    };
    for n in &notes {
        eprintln!("note: {n}");
    }
    let any = !m["include"].as_array().is_none_or(Vec::is_empty);
    let text = serde_json::to_string(&m)?;
    println!("{text}");
    if args.github_output {
        github::output("matrix", &text)?;
        github::output("any", if any { "true" } else { "false" })?;
    }
    Ok(())
}
