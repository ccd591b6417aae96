//! `cargo xtask ci`: the workflow jobs as a person runs them. `ci list` shows every job and its commands,
//! `ci <workflow>/<job>` runs one job's commands in order exactly as CI does (cloud auth and caches are CI-only
//! `uses:` steps; the rest is identical), `ci` alone runs every job, the whole pipeline; `ci --event FILE` replays
//! one workflow run: the jobs that trigger starts, with the plan job's decisions, in order. `ci plan` is the
//! plan job's command (the decisions as JSON and step outputs), `ci matrix` the platform matrix.

use anyhow::{Context as _, Result, bail};
use serde_json::json;

use crate::config::tool;
use crate::flags;
use crate::pipeline::{Outcome, Shape};
use crate::plan::{Plan, Step};
use crate::{Ctx, github};

pub(crate) fn list(ctx: &Ctx) -> Result<()> {
    ctx.settings.platforms("ci list")?;
    let local = crate::pipeline::local_jobs(&Shape::of(&ctx.root, ctx.settings))?;
    if ctx.global.json {
        let jobs: Vec<_> = local
            .iter()
            .map(|j| {
                json!({
                    "job": j.key,
                    "commands": j.commands.iter().map(|c| crate::pipeline::command_line(c)).collect::<Vec<_>>(),
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
                println!("    {}    # in CI: {ci}", crate::pipeline::command_line(c));
            } else {
                println!("    {}", crate::pipeline::command_line(c));
            }
        }
    }
    Ok(())
}

/// A step running `argv` (`cargo xtask ...` or a declared tool).
fn command_step(name: &str, argv: &[String]) -> Step {
    let program = argv.first().map(String::as_str).unwrap_or("cargo");
    let step = Step::run(name, program, &[]).args(argv.iter().skip(1).cloned());
    if program == "cargo" { step.tools(&[tool::CARGO]) } else { step }
}

/// The plan of one job (or all): each step one command, with the local stand-ins.
#[cfg(test)]
pub(crate) fn plan(job: Option<&str>) -> Result<Plan> {
    plan_skipping(&Shape::current(), job, &[])
}

/// The plan of one job (or all but the jobs named in `skip`, each of which must be a job): each step one command,
/// with the local stand-ins.
pub(crate) fn plan_skipping(shape: &Shape<'_>, job: Option<&str>, skip: &[String]) -> Result<Plan> {
    shape.settings.platforms("ci")?;
    let mut jobs = crate::pipeline::local_jobs(shape)?;
    if let Some(bad) = skip.iter().find(|s| !jobs.iter().any(|j| j.key == **s)) {
        let known: Vec<_> = jobs.iter().map(|j| j.key.as_str()).collect();
        bail!("--skip {}: no such CI job\nfix: name one of: {}", crate::plan::printable(bad), known.join(", "));
    }
    jobs.retain(|j| !skip.contains(&j.key));
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
    for s in skip {
        plan.note(format!("{s}: left out (--skip)"));
    }
    for j in selected {
        for c in &j.commands {
            let what = if c.get(..2) == Some(&["cargo".to_owned(), "xtask".to_owned()]) { c.get(2) } else { c.first() };
            plan.push(command_step(&format!("{}: {}", j.key, what.map(String::as_str).unwrap_or("")), c));
        }
    }
    Ok(plan)
}

pub(crate) fn run(ctx: &Ctx, args: &flags::Run) -> Result<()> {
    if !args.skip.is_empty() && (args.job.is_some() || args.event.is_some() || args.event_name.is_some()) {
        bail!("--skip leaves jobs out of a run of every job\nfix: drop the job name or the event, or --skip");
    }
    if args.event.is_some() || args.event_name.is_some() {
        if let Some(job) = &args.job {
            bail!(
                "`ci {}` with --event: a replay runs the jobs the event starts\nfix: drop the job name, or --workflow NAME \
                 to replay one workflow",
                crate::plan::printable(job)
            );
        }
        return replay(ctx, args);
    }
    if args.workflow.is_some() {
        bail!("--workflow selects a workflow of a replay\nfix: pass --event FILE or --event-name NAME with it");
    }
    let plan = plan_skipping(&Shape::of(&ctx.root, ctx.settings), args.job.as_deref(), &args.skip)?;
    // The system packages first (where this user may install them), so the jobs below find them.
    crate::bootstrap::ensure(ctx)?;
    ctx.execute(&plan)
}

/// The plan of a replayed workflow run: every job the trigger starts, in order, each command with the environment
/// CI gives it and the event (as `github::run_var` reads it); jobs that do not run, or run on another system's
/// runner, in the notes. Also the replayed jobs (for the critical path after the run).
pub(crate) fn replay_plan(
    shape: &Shape<'_>,
    t: &github::Trigger,
    args: &flags::Run,
    event_file: &str,
    var: &dyn Fn(&str) -> Option<String>,
    root: &str,
) -> Result<(Plan, Vec<crate::pipeline::ReplayJob>)> {
    let (jobs, notes) = crate::pipeline::replay(shape, t, args.workflow.as_deref(), var, root)?;
    let mut plan = Plan::new(&format!("ci --event ({})", t.name));
    if jobs.is_empty() {
        let which = args
            .workflow
            .as_deref()
            .map_or_else(|| "no workflow of this pipeline".to_owned(), |w| format!("the {w} workflow"));
        plan.note(format!("{which} runs on this {} event (see its `on:`): nothing to do", t.name));
    }
    let head = crate::workspace::head_commit(root).unwrap_or_default();
    let event = crate::pipeline::event_env(t, event_file, &shape.main_branch(), &head);
    for j in &jobs {
        match &j.outcome {
            Outcome::Skipped(why) => plan.note(format!("{}: does not run ({why})", j.key())),
            Outcome::Elsewhere(why) => {
                // Resolved words, shown as they are passed (a declared command's `$HOME` stays literal).
                let lines: Vec<String> =
                    j.commands.iter().map(|c| crate::pipeline::literal_command_line(&c.argv)).collect();
                plan.note(format!("{}: not replayed here ({why}): {}", j.key(), lines.join("; ")));
            }
            Outcome::Runs => {
                for c in &j.commands {
                    let mut step = command_step(&format!("{}: {}", j.key(), c.step), &c.argv);
                    for (k, v) in c.env.iter().chain(&event) {
                        step = step.env(k, v.clone());
                    }
                    plan.push(step);
                }
            }
        }
    }
    for n in notes {
        plan.note(n);
    }
    Ok((plan, jobs))
}

fn replay(ctx: &Ctx, args: &flags::Run) -> Result<()> {
    let shape = Shape::of(&ctx.root, ctx.settings);
    let t = crate::pipeline::trigger_of(args.event.as_deref(), args.event_name.as_deref(), &shape)?;
    // The commands read the event from a file: the one given, or the minimal payload written under target/.
    let event_file = match &args.event {
        Some(p) => {
            // Read where it was given (relative to the working directory), handed on absolute.
            let cwd = std::env::current_dir().ok().and_then(|d| camino::Utf8PathBuf::from_path_buf(d).ok());
            match (p.is_absolute(), cwd) {
                (false, Some(cwd)) => cwd.join(p).to_string(),
                _ => p.to_string(),
            }
        }
        None => {
            let p = ctx.root.join("target/ci-replay").join(format!("{}.json", t.name));
            if !ctx.global.dry_run && !ctx.global.json {
                std::fs::create_dir_all(p.parent().unwrap_or(&ctx.root)).with_context(|| format!("creating {p}"))?;
                std::fs::write(&p, serde_json::to_string_pretty(&t.payload)?)
                    .with_context(|| format!("writing {p}"))?;
            }
            p.to_string()
        }
    };
    let var = |k: &str| std::env::var(k).ok();
    let (plan, jobs) = replay_plan(&shape, &t, args, &event_file, &var, ctx.root.as_str())?;
    let acting = !ctx.global.dry_run && !ctx.global.json;
    if acting {
        crate::bootstrap::ensure(ctx)?;
    }
    let results = ctx.execute_timed(&plan)?;
    if acting {
        // What the run would wait for with a runner per job: each job's measured time along its `needs`.
        let secs = |j: &crate::pipeline::ReplayJob| {
            let prefix = format!("{}: ", j.key());
            let steps: Vec<_> = results.iter().filter(|r| r.name.starts_with(&prefix)).collect();
            (j.outcome == Outcome::Runs && !steps.is_empty())
                .then(|| steps.iter().map(|r| r.time.as_secs_f64()).sum::<f64>())
        };
        for line in crate::pipeline::critical_paths(&jobs, &secs) {
            println!("{line}");
        }
    }
    Ok(())
}

/// `ci engine --out DIR`: this binary, copied for the jobs that hold credentials. They run it instead of
/// `cargo xtask`, so no build script or proc macro of the xtask's dependencies ever runs where a secret or the
/// OIDC request token is in the environment (the workflows build it in a job without either).
pub(crate) fn engine(ctx: &Ctx, out: &camino::Utf8Path) -> Result<()> {
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

/// `ci plan --workflow W`: the plan job's decisions for this trigger (the event, from the flags or GitHub's
/// variables), the repository's variables (the environment) and ci.toml, as JSON; with `--github-output` also
/// each as a step output, which the workflow's later jobs read (`fromJSON(needs.plan.outputs.KEY)`).
pub(crate) fn plan_job(ctx: &Ctx, args: &flags::Plan) -> Result<()> {
    let (settings, dry_run) = (ctx.settings, ctx.global.dry_run || ctx.global.json);
    let t = github::Trigger::read(args.event.as_deref(), args.event_name.as_deref())?;
    let var = |k: &str| std::env::var(k).ok();
    let d = crate::pipeline::decide(settings, &args.workflow, &t, args.platforms.as_deref(), &var)?;
    for n in &d.notes {
        eprintln!("note: {n}");
    }
    let mut outputs = serde_json::Map::new();
    for (k, v) in &d.outputs {
        // The matrix is JSON itself: shown as such.
        outputs.insert(k.clone(), serde_json::from_str(v).unwrap_or_else(|_| json!(v)));
    }
    println!(
        "{}",
        serde_json::to_string(
            &json!({"workflow": args.workflow, "event": t.name, "outputs": outputs, "notes": d.notes})
        )?
    );
    if args.github_output && dry_run {
        eprintln!("note: --dry-run or --json: the decisions are not written to $GITHUB_OUTPUT");
    } else if args.github_output {
        for (k, v) in &d.outputs {
            github::output(k, v)?;
        }
    }
    Ok(())
}

/// `ci matrix`: the named platforms' matrix (ci.toml's first without `--platforms`).
pub(crate) fn matrix(ctx: &Ctx, platforms: Option<&str>) -> Result<()> {
    let settings = ctx.settings;
    let default = settings.default_platform("ci matrix")?.name.clone();
    let m = crate::pipeline::matrix_in(settings, platforms.unwrap_or(&default))?;
    println!("{}", serde_json::to_string(&m)?);
    Ok(())
}
