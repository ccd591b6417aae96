//! The runner: executes a plan's steps (concurrent ones at the same time, up to `--jobs`), times them, prints
//! each step's header and footer (GitHub Actions groups and annotations), and the job's summary.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::Shell;

use super::chart::{bar, gantt};
use super::{Action, JobFailed, Plan, Step};
use crate::github;

#[derive(Clone, Debug)]
pub(crate) struct RunOpts {
    pub dry_run: bool,
    pub json: bool,
    pub keep_going: bool,
    pub jobs: usize,
    /// The command line that reproduces this job locally.
    pub reproduce: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed(String),
    NotRun,
}

#[derive(Clone, Debug)]
pub(crate) struct StepResult {
    pub name: String,
    pub outcome: Outcome,
    pub time: Duration,
    /// When the step started, from the start of the job (for the timing chart).
    pub start: Duration,
}

/// Executes `plan` (or prints it, with `--dry-run` / `--json`). Fails with [`JobFailed`] if a step failed.
pub(crate) fn execute(sh: &Shell, root: &Utf8Path, plan: &Plan, opts: &RunOpts) -> Result<Vec<StepResult>> {
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
        return Ok(Vec::new());
    }
    if opts.dry_run {
        plan.print();
        return Ok(Vec::new());
    }
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    let started = Instant::now();
    let total = plan.steps.len();
    let mut results: Vec<StepResult> = Vec::new();
    let mut stop = false;
    let mut i = 0;
    while i < total {
        let end = if plan.steps[i].concurrent && opts.jobs > 1 {
            (i..total).find(|&j| !plan.steps[j].concurrent).unwrap_or(total)
        } else {
            i + 1
        };
        let batch = &plan.steps[i..end];
        if stop {
            results.extend(batch.iter().map(|s| StepResult {
                name: s.name.clone(),
                outcome: Outcome::NotRun,
                time: Duration::ZERO,
                start: started.elapsed(),
            }));
            i = end;
            continue;
        }
        if batch.len() == 1 {
            results.push(run_one(sh, root, &batch[0], (i + 1, total), opts, started));
        } else {
            results.extend(run_concurrent(sh, root, batch, i, total, opts, started));
        }
        if results.iter().any(|r| matches!(r.outcome, Outcome::Failed(_))) && !opts.keep_going {
            stop = true;
        }
        i = end;
    }
    summarize(plan, &results, started.elapsed(), opts)?;
    let failed: Vec<_> =
        results.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_))).map(|r| r.name.as_str()).collect();
    if !failed.is_empty() {
        return Err(JobFailed(format!(
            "{} failed: {}\nreproduce locally: {}",
            plan.job,
            failed.join(", "),
            opts.reproduce
        ))
        .into());
    }
    Ok(results)
}

/// Runs step `n` of `total` on its own, its output straight to the terminal.
fn run_one(
    sh: &Shell,
    root: &Utf8Path,
    step: &Step,
    (n, total): (usize, usize),
    opts: &RunOpts,
    started: Instant,
) -> StepResult {
    header(n, total, step);
    let t = Instant::now();
    let outcome = prepare(sh, root, step).run(root, false).1;
    footer(step, &outcome, t.elapsed(), None, &opts.reproduce);
    StepResult { name: step.name.clone(), outcome, time: t.elapsed(), start: t.duration_since(started) }
}

fn header(n: usize, total: usize, step: &Step) {
    if github::actions() {
        println!("::group::{} ({n}/{total})", step.name);
    }
    eprintln!("==> [{n}/{total}] {}\n    $ {}", step.name, step.command_line());
}

/// `file:line` locations in a tool's output (clippy's `--> src/a.rs:3:5`, ruff's and typos' `a.py:3:5: ...`),
/// with the message that follows on the same line, if any.
pub(super) fn locations(output: &str) -> Vec<(String, u32, String)> {
    let mut out = Vec::new();
    for line in output.lines() {
        let t = line.trim_start();
        let t = t.strip_prefix("--> ").unwrap_or(t);
        let t = t.strip_prefix("./").unwrap_or(t);
        let mut parts = t.splitn(4, ':');
        let (Some(path), Some(lineno)) = (parts.next(), parts.next()) else { continue };
        let plausible = !path.is_empty() && !path.contains(' ') && path.contains('.') && !path.contains("://");
        let Ok(lineno) = lineno.trim().parse::<u32>() else { continue };
        if !plausible {
            continue;
        }
        let _col = parts.next();
        let message = parts.next().unwrap_or_default().trim().to_owned();
        out.push((path.to_owned(), lineno, message));
    }
    out.dedup();
    out
}

fn footer(step: &Step, outcome: &Outcome, time: Duration, captured: Option<&str>, reproduce: &str) {
    if github::actions() {
        println!("::endgroup::");
    }
    match outcome {
        Outcome::Passed => eprintln!("    ok: {} ({:.1}s)", step.name, time.as_secs_f64()),
        Outcome::Failed(why) => {
            eprintln!("    FAILED: {} ({:.1}s): {why}", step.name, time.as_secs_f64());
            eprintln!("    reproduce locally: {reproduce}   (this step alone: {})", step.command_line());
            if !step.hint.is_empty() {
                eprintln!("    hint: {}", step.hint);
            }
            if github::actions() {
                github::error(None, None, &step.name, &format!("{why}. Reproduce locally: {reproduce}. {}", step.hint));
                // Point at the lines the tool named, so they show up in the pull request's diff.
                for (file, line, message) in captured.map(locations).unwrap_or_default().into_iter().take(50) {
                    let message = if message.is_empty() { format!("{} failed here", step.name) } else { message };
                    github::error(Some(&file), Some(line), &step.name, &message);
                }
            }
        }
        Outcome::NotRun => {}
    }
}

/// Runs a batch of concurrent steps with captured output; prints each step's output in plan order.
fn run_concurrent(
    sh: &Shell,
    root: &Utf8Path,
    batch: &[Step],
    first: usize,
    total: usize,
    opts: &RunOpts,
    started: Instant,
) -> Vec<StepResult> {
    let jobs = opts.jobs;
    let names: Vec<_> = batch.iter().map(|s| s.name.as_str()).collect();
    eprintln!("==> running {} steps concurrently (--jobs {jobs}): {}", batch.len(), names.join(", "));
    // Commands are built here: the shell is not shared with the worker threads.
    let prepared: Vec<Mutex<Option<Prepared>>> = batch.iter().map(|s| Mutex::new(Some(prepare(sh, root, s)))).collect();
    let next = Mutex::new(0usize);
    // Per step: its output, outcome, duration and start.
    type Done = (String, Outcome, Duration, Duration);
    let done: Mutex<Vec<Option<Done>>> = Mutex::new(vec![None; batch.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(batch.len()) {
            scope.spawn(|| {
                loop {
                    let idx = {
                        let mut n = next.lock().unwrap();
                        let idx = *n;
                        *n += 1;
                        idx
                    };
                    let Some(slot) = prepared.get(idx) else { break };
                    let work = slot.lock().unwrap().take().expect("each step runs once");
                    let t = Instant::now();
                    let (output, outcome) = work.run(root, true);
                    done.lock().unwrap()[idx] = Some((output, outcome, t.elapsed(), t.duration_since(started)));
                }
            });
        }
    });
    let done = done.into_inner().unwrap();
    batch
        .iter()
        .zip(done)
        .enumerate()
        .map(|(k, (step, r))| {
            let (output, outcome, time, start) = r.expect("every step ran");
            header(first + k + 1, total, step);
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(output.as_bytes());
            drop(err);
            footer(step, &outcome, time, Some(&output), &opts.reproduce);
            StepResult { name: step.name.clone(), outcome, time, start }
        })
        .collect()
}

/// A step ready to run, independent of the shell.
enum Prepared {
    Command { program: String, cmd: std::process::Command },
    Copy { from: Vec<String>, to: camino::Utf8PathBuf },
}

fn prepare(sh: &Shell, root: &Utf8Path, step: &Step) -> Prepared {
    let dir = match &step.dir {
        Some(d) => root.join(d),
        None => root.to_owned(),
    };
    match &step.action {
        Action::Copy { from, to } => Prepared::Copy { from: from.clone(), to: dir.join(to) },
        Action::Run { program, args } => {
            let mut cmd = sh.cmd(program).args(args).quiet().ignore_status();
            for (k, v) in &step.env {
                cmd = cmd.env(k, v);
            }
            let mut c = std::process::Command::from(cmd);
            c.current_dir(&dir);
            Prepared::Command { program: program.clone(), cmd: c }
        }
    }
}

impl Prepared {
    /// Runs the step; with `capture`, returns its combined output instead of streaming it.
    fn run(self, root: &Utf8Path, capture: bool) -> (String, Outcome) {
        match self {
            Prepared::Copy { from, to } => match copy(root, &from, &to) {
                Ok(n) => (format!("    copied {n} files\n"), Outcome::Passed),
                Err(e) => (String::new(), Outcome::Failed(format!("{e:#}"))),
            },
            Prepared::Command { program, mut cmd } if capture => {
                cmd.stdin(std::process::Stdio::null());
                match cmd.output() {
                    Ok(out) => {
                        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                        text.push_str(&String::from_utf8_lossy(&out.stderr));
                        (text, status_outcome(out.status))
                    }
                    Err(e) => (String::new(), Outcome::Failed(format!("cannot run `{program}`: {e}"))),
                }
            }
            Prepared::Command { program, mut cmd } => match cmd.status() {
                Ok(status) => (String::new(), status_outcome(status)),
                Err(e) => (String::new(), Outcome::Failed(format!("cannot run `{program}`: {e}"))),
            },
        }
    }
}

fn status_outcome(status: std::process::ExitStatus) -> Outcome {
    if status.success() {
        Outcome::Passed
    } else {
        Outcome::Failed(match status.code() {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".to_owned(),
        })
    }
}

/// A symbolic link where artifact contents are collected: never followed (it may lead out of the repository, to
/// a secret file on the runner, and into a published bundle), an error naming it.
fn refuse_link(path: &Utf8Path) -> anyhow::Error {
    let target = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".to_owned());
    anyhow::anyhow!(
        "{path} is a symbolic link (to {target}): what goes into an artifact is never read through a link\nfix: \
         commit the file itself in place of the link"
    )
}

pub(super) fn copy(root: &Utf8Path, from: &[String], to: &Utf8Path) -> Result<usize> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {to}"))?;
    let mut n = 0;
    for f in from {
        let src = root.join(f);
        let meta = std::fs::symlink_metadata(&src).with_context(|| format!("reading {src}"))?;
        if meta.file_type().is_symlink() {
            return Err(refuse_link(&src));
        }
        if meta.is_dir() {
            n += copy_dir(&src, to)?;
        } else {
            let name = src.file_name().with_context(|| format!("{src} has no file name"))?;
            std::fs::copy(&src, to.join(name)).with_context(|| format!("copying {src} to {to}"))?;
            n += 1;
        }
    }
    Ok(n)
}

fn copy_dir(src: &Utf8Path, to: &Utf8Path) -> Result<usize> {
    let mut n = 0;
    for entry in src.read_dir_utf8().with_context(|| format!("reading {src}"))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            return Err(refuse_link(entry.path()));
        }
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            n += copy_dir(entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {} to {target}", entry.path()))?;
            n += 1;
        }
    }
    Ok(n)
}

fn summarize(plan: &Plan, results: &[StepResult], total: Duration, opts: &RunOpts) -> Result<()> {
    eprintln!("\n{} summary ({:.1}s):", plan.job, total.as_secs_f64());
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in results {
        let (mark, status) = match &r.outcome {
            Outcome::Passed => ("ok", String::new()),
            Outcome::Failed(why) => ("FAILED", format!("  {why}")),
            Outcome::NotRun => ("not run", String::new()),
        };
        eprintln!("  {:<width$}  {mark:<7} {:>6.1}s  {}{status}", r.name, r.time.as_secs_f64(), bar(r, total, 30));
    }
    if github::actions() {
        let mut md = format!("### `cargo xtask {}`\n\n| step | status | time |\n|---|---|---|\n", plan.job);
        for r in results {
            let status = match &r.outcome {
                Outcome::Passed => "✅ passed".to_owned(),
                Outcome::Failed(why) => format!("❌ failed ({why})"),
                Outcome::NotRun => "⏭ not run".to_owned(),
            };
            let _ = writeln!(md, "| {} | {status} | {:.1}s |", r.name, r.time.as_secs_f64());
        }
        if results.iter().any(|r| matches!(r.outcome, Outcome::Failed(_))) {
            let _ = writeln!(md, "\nReproduce locally: `{}`", opts.reproduce);
        }
        md.push_str(&gantt(&plan.job, results, total));
        github::summary(&md)?;
    }
    Ok(())
}
