//! Plans are data: a job first describes its steps, then the runner executes them.
//!
//! A step is a command (program, arguments, directory, environment) or a file copy, with a hint printed when
//! it fails. The runner times every step, stops at the first failure unless `--keep-going`, prints the plan
//! with `--dry-run` and emits it as JSON with `--json`. Steps marked `concurrent` that follow each other run
//! at the same time (up to `--jobs`), their output captured and printed per step, in plan order.
//! Under GitHub Actions each step's output is a `::group::`, failures are `::error` annotations and a summary
//! table goes to `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::Utf8Path;
use serde_json::{Value, json};
use xshell::Shell;

use crate::github;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Run a program.
    Run { program: String, args: Vec<String> },
    /// Copy files (or every file in directories, recursively) into a directory, creating it.
    Copy { from: Vec<String>, to: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub name: String,
    pub action: Action,
    /// Working directory relative to the repository root (`None`: the root).
    pub dir: Option<String>,
    pub env: Vec<(String, String)>,
    /// Tools from `config::TOOLS` the step needs.
    pub tools: Vec<&'static str>,
    /// Printed when the step fails: what it means and how to fix it.
    pub hint: String,
    /// May run at the same time as the concurrent steps next to it.
    pub concurrent: bool,
}

impl Step {
    pub fn run(name: &str, program: &str, args: &[&str]) -> Step {
        Step {
            name: name.to_owned(),
            action: Action::Run { program: program.to_owned(), args: args.iter().map(|a| (*a).to_owned()).collect() },
            dir: None,
            env: Vec::new(),
            tools: Vec::new(),
            hint: String::new(),
            concurrent: false,
        }
    }

    pub fn copy(name: &str, from: &[&str], to: &str) -> Step {
        Step {
            action: Action::Copy { from: from.iter().map(|s| (*s).to_owned()).collect(), to: to.to_owned() },
            ..Step::run(name, "", &[])
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Step {
        if let Action::Run { args, .. } = &mut self.action {
            args.push(a.into());
        }
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, more: I) -> Step {
        if let Action::Run { args, .. } = &mut self.action {
            args.extend(more.into_iter().map(Into::into));
        }
        self
    }

    #[cfg(test)]
    pub fn dir(mut self, dir: &str) -> Step {
        self.dir = Some(dir.to_owned());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Step {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub fn tools(mut self, tools: &[crate::config::tool::Name]) -> Step {
        self.tools.extend(tools.iter().map(|t| t.as_str()));
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Step {
        self.hint = hint.into();
        self
    }

    pub fn concurrent(mut self) -> Step {
        self.concurrent = true;
        self
    }

    /// The step as a shell command line a person can paste.
    pub fn command_line(&self) -> String {
        let mut s = String::new();
        if let Some(dir) = &self.dir {
            let _ = write!(s, "cd {} && ", quote(dir));
        }
        for (k, v) in &self.env {
            let _ = write!(s, "{k}={} ", quote(v));
        }
        match &self.action {
            Action::Run { program, args } => {
                s.push_str(&quote(program));
                for a in args {
                    s.push(' ');
                    s.push_str(&quote(a));
                }
            }
            Action::Copy { from, to } => {
                let _ =
                    write!(s, "copy {} -> {}", from.iter().map(|f| quote(f)).collect::<Vec<_>>().join(" "), quote(to));
            }
        }
        s
    }

    pub fn to_json(&self) -> Value {
        let (kind, program, args) = match &self.action {
            Action::Run { program, args } => ("run", json!(program), json!(args)),
            Action::Copy { from, to } => ("copy", Value::Null, json!({ "from": from, "to": to })),
        };
        json!({
            "name": self.name,
            "kind": kind,
            "program": program,
            "args": args,
            "dir": self.dir,
            "env": self.env.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "tools": self.tools,
            "hint": self.hint,
            "concurrent": self.concurrent,
            "command": self.command_line(),
        })
    }
}

/// Quotes `s` for a shell when it needs it. A string with control characters (a newline, an escape sequence:
/// PR titles and file names are untrusted) is written in bash's `$'...'` form with every such character escaped,
/// so a printed command is always one line that cannot forge a workflow command or drive the terminal, and still
/// means the same string when pasted into bash or zsh.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c)) {
        s.to_owned()
    } else if s.chars().any(github::is_unsafe_char) {
        let mut out = String::from("$'");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if github::is_unsafe_char(c) => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `s` with every character a printed line never holds raw escaped (`\\n`, `\\u{1b}`...): file names, titles and
/// messages can come from a PR, and a newline in one must not start a line of its own (a forged `::warning::`
/// workflow command), nor an escape sequence reach the terminal.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if github::is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The job, e.g. `lint`.
    pub job: String,
    pub steps: Vec<Step>,
    /// Why the plan looks the way it does (skipped parts, fallbacks), printed before it runs.
    pub notes: Vec<String>,
}

impl Plan {
    pub fn new(job: &str) -> Plan {
        Plan { job: job.to_owned(), ..Plan::default() }
    }

    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        // Notes can name changed files: printed, they are one line each.
        self.notes.push(printable(&note.into()));
    }

    pub fn tools(&self) -> Vec<&'static str> {
        let mut t: Vec<_> = self.steps.iter().flat_map(|s| s.tools.iter().copied()).collect();
        t.sort();
        t.dedup();
        t
    }

    pub fn to_json(&self) -> Value {
        json!({
            "job": self.job,
            "notes": self.notes,
            "tools": self.tools(),
            "steps": self.steps.iter().map(Step::to_json).collect::<Vec<_>>(),
        })
    }

    pub fn print(&self) {
        println!("plan for `{}` ({} steps):", self.job, self.steps.len());
        for n in &self.notes {
            println!("  note: {n}");
        }
        for (i, s) in self.steps.iter().enumerate() {
            let par = if s.concurrent { " [concurrent]" } else { "" };
            println!("  {:>2}. {}{par}\n      {}", i + 1, s.name, s.command_line());
        }
    }
}

/// Prints the plan of a job that is not a list of steps (sign, download, release, upload): as one JSON
/// document on stdout with `--json`, else readably. Nothing else goes to stdout in either mode.
pub fn print_static(plan: &Value, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(plan)?);
    } else {
        println!("plan (--dry-run: nothing is read from or written to any store, registry or index):");
        if let Value::Object(fields) = plan {
            for (k, v) in fields {
                match v {
                    Value::String(s) => println!("  {k}: {}", printable(s)),
                    other => println!("  {k}: {other}"),
                }
            }
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct RunOpts {
    pub dry_run: bool,
    pub json: bool,
    pub keep_going: bool,
    pub jobs: usize,
    /// The command line that reproduces this job locally.
    pub reproduce: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    NotRun,
}

#[derive(Clone, Debug)]
pub struct StepResult {
    pub name: String,
    pub outcome: Outcome,
    pub time: Duration,
    /// When the step started, from the start of the job (for the timing chart).
    pub start: Duration,
}

/// Set when a job ran and something in it failed (exit code 1), as opposed to bad input (exit code 2).
#[derive(Debug)]
pub struct JobFailed(pub String);

impl std::fmt::Display for JobFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JobFailed {}

/// Executes `plan` (or prints it, with `--dry-run` / `--json`). Fails with [`JobFailed`] if a step failed.
pub fn execute(sh: &Shell, root: &Utf8Path, plan: &Plan, opts: &RunOpts) -> Result<Vec<StepResult>> {
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
            let step = &batch[0];
            header(i + 1, total, step);
            let t = Instant::now();
            let outcome = prepare(sh, root, step).run(root, false).1;
            footer(step, &outcome, t.elapsed(), None, &opts.reproduce);
            results.push(StepResult {
                name: step.name.clone(),
                outcome,
                time: t.elapsed(),
                start: t.duration_since(started),
            });
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

fn header(n: usize, total: usize, step: &Step) {
    if github::actions() {
        println!("::group::{} ({n}/{total})", step.name);
    }
    eprintln!("==> [{n}/{total}] {}\n    $ {}", step.name, step.command_line());
}

/// `file:line` locations in a tool's output (clippy's `--> src/a.rs:3:5`, ruff's and typos' `a.py:3:5: ...`),
/// with the message that follows on the same line, if any.
pub fn locations(output: &str) -> Vec<(String, u32, String)> {
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

fn copy(root: &Utf8Path, from: &[String], to: &Utf8Path) -> Result<usize> {
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

/// A step's span on a text timeline `width` columns wide: where the time of the job went, at a glance.
pub fn bar(r: &StepResult, total: Duration, width: usize) -> String {
    let total = total.as_secs_f64().max(1e-9);
    let col = |d: Duration| ((d.as_secs_f64() / total) * width as f64).round() as usize;
    let from = col(r.start).min(width);
    let len = if r.time.is_zero() { 0 } else { col(r.time).max(1).min(width - from.min(width)) };
    let mut s = String::with_capacity(width + 2);
    s.push('|');
    s.push_str(&" ".repeat(from));
    s.push_str(&"█".repeat(len));
    s.push_str(&" ".repeat(width.saturating_sub(from + len)));
    s.push('|');
    s
}

/// A Mermaid `gantt` block of the steps (GitHub renders it as a chart in the step summary): the critical path
/// of a job, concurrent steps side by side.
pub fn gantt(job: &str, results: &[StepResult], total: Duration) -> String {
    let clean = |s: &str| {
        s.chars().map(|c| if matches!(c, ':' | ';' | '#' | '\n' | '`') { ' ' } else { c }).collect::<String>()
    };
    let mut out = format!(
        "\n```mermaid\ngantt\n    title cargo xtask {} ({:.1} s)\n    dateFormat x\n    axisFormat %M:%S\n    section steps\n",
        clean(job),
        total.as_secs_f64()
    );
    for (i, r) in results.iter().enumerate().filter(|(_, r)| r.outcome != Outcome::NotRun) {
        let state = if matches!(r.outcome, Outcome::Failed(_)) { "crit" } else { "done" };
        let (start, end) = (r.start.as_millis(), (r.start + r.time).as_millis().max(r.start.as_millis() + 1));
        let _ = writeln!(out, "    {} ({:.1} s) :{state}, s{i}, {start}, {end}", clean(&r.name), r.time.as_secs_f64());
    }
    out.push_str("```\n");
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tool;

    #[test]
    fn command_lines_are_pasteable() {
        let s = Step::run("t", "cargo", &["clippy", "--", "-D", "warnings"])
            .dir("crates/x")
            .env("RUSTFLAGS", "-C opt-level=1");
        assert_eq!(s.command_line(), "cd crates/x && RUSTFLAGS='-C opt-level=1' cargo clippy -- -D warnings");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        // Control characters: one line, escaped, the same string for bash.
        let hostile = "t\n::warning::x\u{1b}[2J it's";
        let q = quote(hostile);
        assert_eq!(q, "$'t\\n::warning::x\\x1b[2J it\\'s'");
        assert!(!q.contains('\n') && !q.contains('\u{1b}'));
        let back = std::process::Command::new("bash").args(["-c", &format!("printf %s {q}")]).output().unwrap();
        assert_eq!(String::from_utf8(back.stdout).unwrap(), hostile, "bash reads back the same string");
        // Notes (they can name changed files) and printed strings are one line, without escape sequences.
        let mut p = Plan::new("x");
        p.note("changed: evil\n::warning::x\u{1b}[2J");
        assert_eq!(p.notes[0], "changed: evil\\n::warning::x\\u{1b}[2J");
        assert_eq!(printable("ok \u{202e}x"), "ok \\u{202e}x");
    }

    #[test]
    fn tool_output_locations() {
        let out = "error: unused variable: `x`\n  --> crates/reel/src/summary.rs:59:4\n./README.md:8:7: error: a spelling finding\nexamples/a.py:1:2: F401 unused import\nFinished in 1.2s: ok\nhttp://x:80/y\n";
        assert_eq!(
            locations(out),
            [
                ("crates/reel/src/summary.rs".to_owned(), 59, String::new()),
                ("README.md".to_owned(), 8, "error: a spelling finding".to_owned()),
                ("examples/a.py".to_owned(), 1, "F401 unused import".to_owned()),
            ]
        );
    }

    /// A link in the sources of an artifact (a web bundle's static files) is never followed out of the repository:
    /// the copy stops, naming it, and the secret it points at is not copied.
    #[cfg(unix)]
    #[test]
    fn a_copy_never_follows_a_link() {
        let dir = crate::testutil::temp_dir("copy-links");
        std::fs::write(dir.join("secret"), "runner secret").unwrap();
        std::fs::create_dir_all(dir.join("repo/www/sub")).unwrap();
        std::fs::write(dir.join("repo/www/index.html"), "<html>").unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), dir.join("repo/www/sub/leak.txt")).unwrap();
        let err = format!("{:#}", copy(&dir.join("repo"), &["www".into()], &dir.join("out")).unwrap_err());
        assert!(err.contains("www/sub/leak.txt is a symbolic link") && err.contains("\nfix: "), "{err}");
        assert!(!dir.join("out/sub/leak.txt").exists(), "the secret was copied");
        std::os::unix::fs::symlink(dir.join("secret"), dir.join("repo/top.txt")).unwrap();
        let err = format!("{:#}", copy(&dir.join("repo"), &["top.txt".into()], &dir.join("out2")).unwrap_err());
        assert!(err.contains("top.txt is a symbolic link"), "{err}");
        std::fs::remove_file(dir.join("repo/www/sub/leak.txt")).unwrap();
        assert_eq!(copy(&dir.join("repo"), &["www".into()], &dir.join("out3")).unwrap(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plan_json_is_data() {
        let mut plan = Plan::new("lint");
        plan.push(Step::run("fmt", "cargo", &["fmt"]).tools(&[tool::CARGO]).concurrent());
        plan.push(Step::copy("www", &["a/b"], "out"));
        let v = plan.to_json();
        assert_eq!(v["job"], "lint");
        assert_eq!(v["steps"][0]["args"], json!(["fmt"]));
        assert_eq!(v["steps"][0]["concurrent"], true);
        assert_eq!(v["steps"][1]["kind"], "copy");
        assert_eq!(v["tools"], json!(["cargo"]));
    }

    fn opts(keep_going: bool, jobs: usize) -> RunOpts {
        RunOpts { dry_run: false, json: false, keep_going, jobs, reproduce: "cargo xtask t".into() }
    }

    fn run_plan(steps: Vec<Step>, o: &RunOpts) -> (Result<Vec<StepResult>>, Vec<StepResult>) {
        let sh = Shell::new().unwrap();
        let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = Plan { job: "t".into(), steps, notes: vec![] };
        let r = execute(&sh, root, &plan, o);
        let results = match &r {
            Ok(v) => v.clone(),
            Err(_) => vec![],
        };
        (r, results)
    }

    #[test]
    fn stops_at_the_first_failure_unless_keep_going() {
        let steps =
            || vec![Step::run("ok", "true", &[]), Step::run("bad", "false", &[]), Step::run("after", "true", &[])];
        let (r, _) = run_plan(steps(), &opts(false, 1));
        let err = r.unwrap_err();
        let failed = err.downcast_ref::<JobFailed>().expect("a JobFailed");
        assert!(failed.0.contains("t failed: bad") && failed.0.contains("reproduce locally: cargo xtask t"));

        let (ok, _) = run_plan(vec![Step::run("ok", "true", &[])], &opts(false, 1));
        assert_eq!(ok.unwrap()[0].outcome, Outcome::Passed);
    }

    #[test]
    fn keep_going_reports_every_failure_and_concurrency_keeps_the_order() {
        for jobs in [1, 3] {
            let steps: Vec<Step> = vec![
                Step::run("a", "sh", &["-c", "sleep 0.2; exit 3"]).concurrent(),
                Step::run("b", "true", &[]).concurrent(),
                Step::run("c", "false", &[]).concurrent(),
                Step::run("d", "no-such-program-xtask", &[]),
            ];
            let (r, _) = run_plan(steps, &opts(true, jobs));
            let msg = r.unwrap_err().to_string();
            assert!(msg.contains("t failed: a, c, d"), "jobs {jobs}: {msg}");
        }
    }

    #[test]
    fn the_timing_chart_shows_where_the_time_went() {
        let step = |name: &str, start: u64, time: u64, outcome: Outcome| StepResult {
            name: name.into(),
            outcome,
            time: Duration::from_secs(time),
            start: Duration::from_secs(start),
        };
        let results = [
            step("clippy", 0, 6, Outcome::Passed),
            step("ruff: check", 0, 2, Outcome::Failed("exit code 1".into())),
            step("typos", 6, 4, Outcome::Passed),
            step("later", 10, 0, Outcome::NotRun),
        ];
        let total = Duration::from_secs(10);
        assert_eq!(bar(&results[0], total, 10), "|██████    |");
        assert_eq!(bar(&results[2], total, 10), "|      ████|");
        assert_eq!(bar(&results[3], total, 10), "|          |");
        let g = gantt("lint", &results, total);
        assert!(g.starts_with("\n```mermaid\ngantt\n    title cargo xtask lint (10.0 s)\n    dateFormat x\n"), "{g}");
        assert!(g.contains("    clippy (6.0 s) :done, s0, 0, 6000\n"), "{g}");
        assert!(
            g.contains("    ruff  check (2.0 s) :crit, s1, 0, 2000\n"),
            "a `:` in a name cannot break the chart: {g}"
        );
        assert!(g.contains("    typos (4.0 s) :done, s2, 6000, 10000\n") && !g.contains("later"), "{g}");
        assert!(g.ends_with("```\n"));
    }
}
