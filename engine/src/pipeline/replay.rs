//! A workflow run, replayed: for a trigger (an event's name and payload), the workflows it starts, each job that
//! runs or why it does not (the plan job's decisions, by [`super::decide()`], as GitHub would evaluate the `if:` and
//! `needs:` the YAML holds), the matrix expanded, and each job's command lines with the values CI would give them
//! (`matrix.*`, the repository's variables): what `cargo xtask ci --event FILE` runs, in order.

use anyhow::{Result, bail};
use camino::Utf8Path;
use serde_json::{Value, json};

use super::{Cond, On, PR_DEFAULT_TYPES, Shape, WStep, Workflow, all_in, decide};
use crate::github::Trigger;

/// Whether a job runs here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Runs,
    /// It does not run in this workflow run (an `if:` the plan decided false, a skipped need, an empty matrix).
    Skipped(String),
    /// It runs on another operating system's runner: listed, not run on this machine.
    Elsewhere(String),
}

/// A job of the replayed run (one per matrix row).
#[derive(Clone, Debug)]
pub(crate) struct ReplayJob {
    pub workflow: &'static str,
    pub job: String,
    /// The matrix row's platform.
    pub platform: Option<String>,
    pub outcome: Outcome,
    pub commands: Vec<Command>,
    /// The jobs of the same workflow it waits for.
    pub needs: Vec<String>,
}

/// A command of a replayed job: the step's name, its words, and the environment CI gives it.
#[derive(Clone, Debug)]
pub(crate) struct Command {
    pub step: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl ReplayJob {
    /// `workflow/job`, with the platform of a matrix row.
    pub(crate) fn key(&self) -> String {
        match &self.platform {
            Some(p) => format!("{}/{} ({p})", self.workflow, self.job),
            None => format!("{}/{}", self.workflow, self.job),
        }
    }
}

/// The events this pipeline's workflows run on.
const EVENTS: &[&str] = &["push", "schedule", "workflow_dispatch", "pull_request", "merge_group"];

/// The trigger of a replay: the payload from `event` (a file as GitHub writes `$GITHUB_EVENT_PATH`), the name
/// from `event_name` or else read from the payload's shape; without a file, a minimal payload where one is enough
/// (a push to the main branch, the schedule, a dispatch without inputs).
pub(crate) fn trigger_of(event: Option<&Utf8Path>, event_name: Option<&str>, shape: &Shape<'_>) -> Result<Trigger> {
    let mut t = match event {
        Some(_) => Trigger::read(event, Some(event_name.unwrap_or("local")))?,
        None => Trigger { name: event_name.unwrap_or_default().to_owned(), payload: json!({}) },
    };
    if event_name.is_none() {
        let p = &t.payload;
        t.name = if p.get("pull_request").is_some() {
            "pull_request"
        } else if p.get("merge_group").is_some() {
            "merge_group"
        } else if p.get("inputs").is_some() {
            "workflow_dispatch"
        } else if p.get("schedule").is_some() {
            "schedule"
        } else if p.get("ref").is_some() && (p.get("before").is_some() || p.get("pusher").is_some()) {
            "push"
        } else {
            bail!("cannot tell which event the file is\nfix: name it with --event-name ({})", EVENTS.join(", "));
        }
        .to_owned();
    }
    if !EVENTS.contains(&t.name.as_str()) {
        bail!(
            "no workflow of this pipeline runs on `{}`\nfix: --event-name one of {}",
            crate::plan::printable(&t.name),
            EVENTS.join(", ")
        );
    }
    if event.is_some() {
        check_payload(&t)?;
    }
    if event.is_none() {
        t.payload = match t.name.as_str() {
            "push" => json!({ "ref": format!("refs/heads/{}", shape.main_branch()) }),
            "workflow_dispatch" => json!({ "inputs": {} }),
            "schedule" => json!({}),
            other => bail!(
                "a {other} event needs its payload (the PR it is about)\nfix: pass --event FILE: the JSON GitHub \
                 wrote to $GITHUB_EVENT_PATH (a run's event is on its page, or `gh api` the PR into that shape)"
            ),
        };
    }
    Ok(t)
}

/// The fields of the payload a replay reads have the types GitHub gives them: a hostile or hand-edited file is
/// refused with its fix instead of being read as something else (a number as no action, a missing ref as main).
fn check_payload(t: &Trigger) -> Result<()> {
    let p = &t.payload;
    let kind = crate::github::json_kind;
    let fix = "fix: pass the event GitHub wrote to $GITHUB_EVENT_PATH (a run's `cat \"$GITHUB_EVENT_PATH\"`)";
    let want = |ptr: &str, ok: fn(&Value) -> bool, what: &str, required: bool| -> Result<()> {
        match p.pointer(ptr) {
            None if !required => Ok(()),
            None => bail!("the {} event has no `{}`\n{fix}", t.name, &ptr[1..].replace('/', ".")),
            Some(v) if ok(v) => Ok(()),
            Some(v) => bail!("the event's `{}` is {}, not {what}\n{fix}", &ptr[1..].replace('/', "."), kind(v)),
        }
    };
    let string = |v: &Value| v.is_string();
    want("/action", string, "a string", false)?;
    match t.name.as_str() {
        "pull_request" => {
            want("/pull_request", Value::is_object, "an object", true)?;
            want("/pull_request/number", Value::is_u64, "a pull request number", false)?;
        }
        "merge_group" => want("/merge_group/head_ref", string, "a string", true)?,
        "push" => want(
            "/ref",
            |v| v.as_str().is_some_and(|r| r.starts_with("refs/")),
            "a ref (refs/heads/..., refs/tags/...)",
            true,
        )?,
        "workflow_dispatch" => {
            want("/inputs", Value::is_object, "an object", false)?;
            want("/workflow", string, "a string", false)?;
            want("/ref", string, "a string", false)?;
        }
        "schedule" => want("/schedule", string, "a string", false)?,
        _ => {}
    }
    Ok(())
}

/// Whether `on` starts workflow `file` for trigger `t`.
fn starts(on: &On, t: &Trigger, file: &str) -> bool {
    let field = |k: &str| t.payload.get(k).and_then(Value::as_str);
    match on {
        On::PullRequest(types) => {
            let action = field("action").unwrap_or("opened");
            t.name == "pull_request"
                && if types.is_empty() { PR_DEFAULT_TYPES.contains(&action) } else { types.contains(&action) }
        }
        On::MergeGroup => t.name == "merge_group",
        On::Push { branches, tags } => {
            t.name == "push"
                && match field("ref") {
                    Some(r) => match (r.strip_prefix("refs/heads/"), r.strip_prefix("refs/tags/")) {
                        (Some(b), _) => branches.iter().any(|p| crate::glob::matches(p, b)),
                        (_, Some(tag)) => tags.iter().any(|p| crate::glob::matches(p, tag)),
                        _ => false,
                    },
                    None => false,
                }
        }
        On::Schedule(cron) => t.name == "schedule" && field("schedule").is_none_or(|s| s == *cron),
        On::Dispatch(_) => {
            t.name == "workflow_dispatch"
                && field("workflow").is_none_or(|w| w.rsplit('/').next() == Some(file) || w == file)
        }
    }
}

/// The workflows `t` starts (only `only`, if given).
pub(super) fn started<'w>(workflows: &'w [Workflow], t: &Trigger, only: Option<&str>) -> Result<Vec<&'w Workflow>> {
    if let Some(o) = only
        && !workflows.iter().any(|w| w.name == o)
    {
        let names: Vec<_> = workflows.iter().map(|w| w.name).collect();
        bail!("no workflow `{}`\nfix: --workflow one of {}", crate::plan::printable(o), names.join(", "));
    }
    let found: Vec<&Workflow> = workflows
        .iter()
        .filter(|w| only.is_none_or(|o| o == w.name) && w.on.iter().any(|on| starts(on, t, w.file)))
        .collect();
    if t.name == "workflow_dispatch" && found.len() > 1 {
        let names: Vec<_> = found.iter().map(|w| w.name).collect();
        bail!(
            "a workflow_dispatch runs one workflow, and the event does not say which\nfix: pass --workflow, one of {}",
            names.join(", ")
        );
    }
    Ok(found)
}

/// Whether a matrix row's platform is this machine's (its target's architecture and operating system).
fn is_this_machine(target: &str) -> bool {
    let os = match std::env::consts::OS {
        "macos" => "apple",
        os => os,
    };
    target.starts_with(std::env::consts::ARCH) && target.contains(os)
}

/// The value CI gives an expression of the workflows, here: a matrix row's field, a repository variable or secret
/// (this machine's environment variable of that name), the checkout (`root`).
fn resolve(
    text: &str,
    env_name: &str,
    row: Option<&Value>,
    var: &dyn Fn(&str) -> Option<String>,
    root: &str,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else { bail!("an unclosed expression in {text}") };
        let expr = rest[i + 3..i + j].trim();
        let value = if let Some(k) = expr.strip_prefix("matrix.") {
            row.and_then(|r| r.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned()
        } else if let Some(k) = expr.strip_prefix("vars.").or_else(|| expr.strip_prefix("secrets.")) {
            var(k).unwrap_or_default()
        } else if expr == "github.workspace" {
            root.to_owned()
        } else if expr == "github.token" {
            var("GITHUB_TOKEN").unwrap_or_default()
        } else if expr.starts_with("steps.") {
            // A step's output this machine has no step for (the cloud token): its variable, if set.
            var(env_name).unwrap_or_default()
        } else {
            bail!("the replay cannot evaluate `${{{{ {expr} }}}}`");
        };
        out.push_str(&value);
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The replay of trigger `t`: every job of every workflow it starts (only `only`, if given), in order. `var` reads
/// the repository's variables and secrets (locally: the environment); `root` is the checkout. A replay never
/// publishes: `--execute` is left out of every command (said in the notes).
pub(crate) fn replay(
    shape: &Shape<'_>,
    t: &Trigger,
    only: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
    root: &str,
) -> Result<(Vec<ReplayJob>, Vec<String>)> {
    let workflows = all_in(shape)?;
    let mut jobs = Vec::new();
    let mut notes = Vec::new();
    for w in started(&workflows, t, only)? {
        let has_plan = w.jobs.iter().any(|j| j.id == "plan");
        let decision =
            if has_plan { decide(shape.settings, w.name, t, None, var)? } else { super::Decision::default() };
        notes.extend(decision.notes.iter().map(|n| format!("{}: {n}", w.name)));
        let mut not_run: Vec<&str> = Vec::new();
        for j in &w.jobs {
            let rows: Vec<Option<Value>> = match &j.matrix {
                Some(expr) => {
                    // `${{ fromJSON(needs.plan.outputs.KEY) }}`: the plan's output KEY.
                    let key = expr.split("needs.plan.outputs.").nth(1).and_then(|r| r.split(')').next());
                    let m: Value = serde_json::from_str(decision.get(key.unwrap_or("matrix")).unwrap_or("{}"))?;
                    m["include"].as_array().cloned().unwrap_or_default().into_iter().map(Some).collect()
                }
                None => vec![None],
            };
            let job = |platform, outcome, commands| ReplayJob {
                workflow: w.name,
                job: j.id.clone(),
                platform,
                outcome,
                commands,
                needs: j.needs.clone(),
            };
            if let Some(why) = skipped(j, &not_run, &decision, rows.is_empty()) {
                not_run.push(&j.id);
                jobs.push(job(None, Outcome::Skipped(why), vec![]));
                continue;
            }
            for row in &rows {
                let mut commands = Vec::new();
                for s in &j.steps {
                    let Some(mut c) = command(s, row.as_ref(), var, root)? else { continue };
                    if c.argv.iter().any(|a| a == "--execute") {
                        c.argv.retain(|a| a != "--execute");
                        notes.push(format!("{}/{}: --execute left out (a replay publishes nothing)", w.name, j.id));
                    }
                    commands.push(c);
                }
                let platform = row.as_ref().and_then(|r| r["platform"].as_str()).map(str::to_owned);
                jobs.push(job(platform, outcome(shape, j, row.as_ref()), commands));
            }
        }
    }
    Ok((jobs, notes))
}

/// Why job `j` does not run, as GitHub would decide: a need that does not run, an `if:` the plan decided false,
/// an empty matrix.
fn skipped(j: &super::WorkflowJob, not_run: &[&str], decision: &super::Decision, no_rows: bool) -> Option<String> {
    j.needs
        .iter()
        .find(|n| not_run.contains(&n.as_str()))
        .map(|n| format!("needs {n}, which does not run"))
        .or_else(|| {
            j.cond
                .as_ref()
                .and_then(Cond::plan_key)
                .filter(|k| !decision.flag(k))
                .map(|k| format!("the plan decided {k}=false"))
        })
        .or_else(|| no_rows.then(|| "the plan's matrix is empty".to_owned()))
}

/// The command of step `s` (none for a `uses:` step) with the values CI gives it: its environment resolved, the
/// engine's `$NAME` words expanded from it as the shell would; a declared command's words stay literal (the
/// workflow quotes them so).
fn command(
    s: &WStep,
    row: Option<&Value>,
    var: &dyn Fn(&str) -> Option<String>,
    root: &str,
) -> Result<Option<Command>> {
    let (step, mut argv, env) = match s {
        WStep::Xtask { name, args, env, .. } | WStep::Engine { name, args, env, .. } => {
            let mut argv = vec!["cargo".to_owned(), "xtask".to_owned()];
            argv.extend(args.iter().cloned());
            ((*name).to_owned(), argv, env.clone())
        }
        WStep::Command { name, argv } => {
            return Ok(Some(Command { step: name.clone(), argv: argv.clone(), env: vec![] }));
        }
        WStep::Uses { .. } => return Ok(None),
    };
    let mut resolved = Vec::new();
    for (k, v) in &env {
        let value = resolve(v, k, row, var, root)?;
        if !value.is_empty() {
            resolved.push(((*k).to_owned(), value));
        }
    }
    for a in &mut argv {
        if let Some(name) = a.strip_prefix('$') {
            *a = resolved.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        } else {
            *a = resolve(a, "", row, var, root)?;
        }
    }
    Ok(Some(Command { step, argv, env: resolved }))
}

/// Whether job `j` (a matrix `row` of it) runs on this machine: a row runs on its platform's runner where the job
/// says so (`runs-on: ${{ matrix.os }}`), another job on the runner its label names; the first platform is what a
/// local run stands for, so its jobs run on any machine.
fn outcome(shape: &Shape<'_>, j: &super::WorkflowJob, row: Option<&Value>) -> Outcome {
    let target = if j.runs_on.contains("matrix.os") {
        row.and_then(|r| r["target"].as_str()).map(str::to_owned)
    } else {
        shape.settings.settings.platform.iter().find(|p| p.runner == j.runs_on).map(|p| p.target.clone())
    };
    let default_target = &shape.settings.settings.platform[0].target;
    match target {
        Some(t) if t != *default_target && !is_this_machine(&t) => Outcome::Elsewhere(format!(
            "runs on {}, not this machine",
            row.and_then(|r| r["os"].as_str()).unwrap_or(&j.runs_on)
        )),
        _ => Outcome::Runs,
    }
}

/// The environment a replayed command gets so that it reads the trigger as under GitHub Actions
/// (`github::run_var`): the event's name and file, and the ref it is about.
pub(crate) fn event_env(t: &Trigger, event_file: &str, main_branch: &str, head: &str) -> Vec<(String, String)> {
    let p = &t.payload;
    let at = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
    let git_ref = match t.name.as_str() {
        "pull_request" => {
            p.pointer("/pull_request/number").and_then(Value::as_u64).map(|n| format!("refs/pull/{n}/merge"))
        }
        "merge_group" => at("/merge_group/head_ref"),
        _ => at("/ref"),
    }
    .unwrap_or_else(|| format!("refs/heads/{main_branch}"));
    let (ref_type, ref_name) = match (git_ref.strip_prefix("refs/tags/"), git_ref.strip_prefix("refs/heads/")) {
        (Some(tag), _) => ("tag", tag.to_owned()),
        (_, Some(branch)) => ("branch", branch.to_owned()),
        // GitHub names a pull request's ref `N/merge`.
        _ => ("branch", git_ref.trim_start_matches("refs/pull/").trim_start_matches("refs/").to_owned()),
    };
    // The commit the run is about: the event's, else this checkout's HEAD.
    let sha = match t.name.as_str() {
        "push" => at("/after"),
        "pull_request" => at("/pull_request/head/sha"),
        "merge_group" => at("/merge_group/head_sha"),
        _ => None,
    }
    .filter(|s| crate::workspace::is_full_hash(s))
    .unwrap_or_else(|| head.to_owned());
    vec![
        ("XTASK_REPLAY".into(), "1".into()),
        ("GITHUB_EVENT_NAME".into(), t.name.clone()),
        ("GITHUB_EVENT_PATH".into(), event_file.to_owned()),
        ("GITHUB_REF".into(), git_ref),
        ("GITHUB_REF_TYPE".into(), ref_type.into()),
        ("GITHUB_REF_NAME".into(), ref_name),
        ("GITHUB_SHA".into(), sha),
    ]
}

/// The critical path of each workflow of a replayed run: the chain of jobs through `needs` whose times add up
/// to the most, i.e. how long the run takes when every job has a runner at once (plus each job's start, checkout
/// and cache restore, which a laptop does not measure). `secs` is a job's measured time (`None`: not run here; a
/// matrix job waits for its slowest row). One line per workflow.
pub(crate) fn critical_paths(jobs: &[ReplayJob], secs: &dyn Fn(&ReplayJob) -> Option<f64>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut workflows: Vec<&str> = jobs.iter().map(|j| j.workflow).collect();
    workflows.dedup();
    for w in workflows {
        // Each job's own time (its slowest measured row), in the workflow's order (needs come first).
        let mut own: Vec<(&str, String, f64)> = Vec::new();
        for j in jobs.iter().filter(|j| j.workflow == w) {
            let Some(t) = secs(j) else { continue };
            match own.iter_mut().find(|(id, ..)| *id == j.job) {
                Some(entry) if t > entry.2 => *entry = (&j.job, j.key(), t),
                Some(_) => {}
                None => own.push((&j.job, j.key(), t)),
            }
        }
        // The longest chain ending at each job.
        let mut best: Vec<(f64, Vec<usize>)> = Vec::new();
        for (i, (id, ..)) in own.iter().enumerate() {
            let needs =
                jobs.iter().find(|j| j.workflow == w && j.job == *id).map(|j| j.needs.clone()).unwrap_or_default();
            let before = needs
                .iter()
                .filter_map(|n| own.iter().position(|(other, ..)| other == n))
                .filter(|k| *k < i)
                .max_by(|a, b| best[*a].0.total_cmp(&best[*b].0));
            let (t, mut chain) = before.map_or((0.0, vec![]), |k| best[k].clone());
            chain.push(i);
            best.push((t + own[i].2, chain));
        }
        if let Some((total, chain)) = best.iter().max_by(|a, b| a.0.total_cmp(&b.0)) {
            let path: Vec<String> = chain.iter().map(|&i| format!("{} {:.1}s", own[i].1, own[i].2)).collect();
            lines.push(format!("critical path of {w}: {} = {total:.1}s", path.join(" -> ")));
        }
    }
    lines
}
