//! Plans are data: a job first describes its steps, then the runner executes them.
//!
//! A step is a command (program, arguments, directory, environment) or a file copy, with a hint printed when
//! it fails. The runner times every step, stops at the first failure unless `--keep-going`, prints the plan
//! with `--dry-run` and emits it as JSON with `--json`. Steps marked `concurrent` that follow each other run
//! at the same time (up to `--jobs`), their output captured and printed per step, in plan order.
//! Under GitHub Actions each step's output is a `::group::`, failures are `::error` annotations and a summary
//! table goes to `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::{Value, json};

pub(crate) mod chart;
mod run;

pub(crate) use run::{Outcome, RunOpts, StepResult, execute};

use crate::github;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    /// Run a program.
    Run { program: String, args: Vec<String> },
    /// Copy files (or every file in directories, recursively) into a directory, creating it.
    Copy { from: Vec<String>, to: String },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Step {
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
    pub(crate) fn run(name: &str, program: &str, args: &[&str]) -> Step {
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

    pub(crate) fn copy(name: &str, from: &[&str], to: &str) -> Step {
        Step {
            action: Action::Copy { from: from.iter().map(|s| (*s).to_owned()).collect(), to: to.to_owned() },
            ..Step::run(name, "", &[])
        }
    }

    pub(crate) fn arg(mut self, a: impl Into<String>) -> Step {
        if let Action::Run { args, .. } = &mut self.action {
            args.push(a.into());
        }
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, more: I) -> Step {
        if let Action::Run { args, .. } = &mut self.action {
            args.extend(more.into_iter().map(Into::into));
        }
        self
    }

    #[cfg(test)]
    pub(crate) fn dir(mut self, dir: &str) -> Step {
        self.dir = Some(dir.to_owned());
        self
    }

    pub(crate) fn env(mut self, key: &str, value: impl Into<String>) -> Step {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub(crate) fn tools(mut self, tools: &[crate::config::tool::Name]) -> Step {
        self.tools.extend(tools.iter().map(|t| t.as_str()));
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Step {
        self.hint = hint.into();
        self
    }

    pub(crate) fn concurrent(mut self) -> Step {
        self.concurrent = true;
        self
    }

    /// The step as a shell command line a person can paste.
    pub(crate) fn command_line(&self) -> String {
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

    pub(crate) fn to_json(&self) -> Value {
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
pub(crate) fn quote(s: &str) -> String {
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
pub(crate) fn printable(s: &str) -> String {
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
pub(crate) struct Plan {
    /// The job, e.g. `lint`.
    pub job: String,
    pub steps: Vec<Step>,
    /// Why the plan looks the way it does (skipped parts, fallbacks), printed before it runs.
    pub notes: Vec<String>,
}

impl Plan {
    pub(crate) fn new(job: &str) -> Plan {
        Plan { job: job.to_owned(), ..Plan::default() }
    }

    pub(crate) fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        // Notes can name changed files: printed, they are one line each.
        self.notes.push(printable(&note.into()));
    }

    pub(crate) fn tools(&self) -> Vec<&'static str> {
        let mut t: Vec<_> = self.steps.iter().flat_map(|s| s.tools.iter().copied()).collect();
        t.sort();
        t.dedup();
        t
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "job": self.job,
            "notes": self.notes,
            "tools": self.tools(),
            "steps": self.steps.iter().map(Step::to_json).collect::<Vec<_>>(),
        })
    }

    pub(crate) fn print(&self) {
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
pub(crate) fn print_static(plan: &Value, json: bool) -> Result<()> {
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

/// Set when a job ran and something in it failed (exit code 1), as opposed to bad input (exit code 2).
#[derive(Debug)]
pub(crate) struct JobFailed(pub String);

impl std::fmt::Display for JobFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JobFailed {}

#[cfg(test)]
mod tests {
    use super::chart::{bar, gantt};
    use super::run::locations;
    use super::*;
    use crate::config::tool;
    use camino::Utf8Path;
    use std::time::Duration;
    use xshell::Shell;

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
        use super::run::copy;
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
