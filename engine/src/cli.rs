//! The command line: [`parse_from`] reads the arguments with the grammar of [`crate::flags`] into the global options
//! and the job's own flags; `cargo xtask --help` and `cargo xtask JOB --help` are the manual.

use anyhow::{Result, bail};

use crate::ctx::Global;
use crate::flags::{self, XtaskCmd};
use crate::plan::printable;

/// Refuses flags that contradict each other (exit 2, before anything runs). `--dry-run` and `--json` promise
/// that nothing acts; a flag that asks to act (`release --execute`, `lint --fix`) cannot be combined with them.
pub(crate) fn check_combination(g: &Global, job: &XtaskCmd) -> anyhow::Result<()> {
    let mode = if g.dry_run {
        Some("--dry-run")
    } else if g.json {
        Some("--json")
    } else {
        None
    };
    if let (Some(acting), Some(mode)) = (job.acting_flag(), mode) {
        anyhow::bail!(
            "`{acting}` acts and `{mode}` promises that nothing acts: they contradict each other\nfix: drop one of them \
             (`{mode}` alone prints the plan)"
        );
    }
    Ok(())
}

/// Parses the process's arguments; bad flags exit 2 with the cause and the fix, `--help` prints the manual.
/// The engine's subcommands (a repository's own commands may not take these names).
pub(crate) const JOBS: &[&str] = &[
    "lint",
    "test",
    "doctor",
    "gates",
    "package",
    "upload",
    "download",
    "sign",
    "sizes",
    "release",
    "workflows",
    "init",
    "ci",
    "bench",
];

/// The manual, then the repository's own commands (name, one line each).
pub(crate) fn print_help_with<'a>(own: impl Iterator<Item = (&'a str, &'a str)>) {
    let args = ["--help".to_owned()];
    if let Err(e) = parse_from(&args) {
        println!("{e}");
    }
    println!("\nThe repository's own commands (`cargo xtask NAME ARGS...`):");
    for (name, about) in own {
        println!("  {name:<12} {about}");
    }
}

pub(crate) fn parse() -> (Global, XtaskCmd) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_from(&args) {
        Ok(parsed) => parsed,
        Err(e) if e.downcast_ref::<xflags::Error>().is_some_and(xflags::Error::is_help) => {
            println!("{}", help_for(&e.to_string(), &args));
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2)
        }
    }
}

/// The manual of the job the arguments name (`cargo xtask gates --help`: the `xtask gates` section), else all
/// of it.
fn help_for(full: &str, args: &[String]) -> String {
    let sections: Vec<&str> =
        full.lines().filter_map(|l| l.strip_prefix("xtask ")).filter(|n| !n.contains(' ')).collect();
    let Some(job) = args.iter().find(|a| sections.contains(&a.as_str())) else { return full.to_owned() };
    let head = format!("xtask {job}");
    let mut on = false;
    let mut out = Vec::new();
    for line in full.lines() {
        if line.starts_with("xtask") {
            on = line == head || line.starts_with(&format!("{head} "));
        }
        if on {
            out.push(line);
        }
    }
    format!(
        "{}\n\nOptions every job takes (--dry-run, --json, --keep-going, --offline, --jobs): cargo xtask --help",
        out.join("\n").trim_end()
    )
}

/// `--flag=value` as two arguments (up to a `--`, after which everything is the test runner's).
fn split_equals(args: &[String]) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        match a.split_once('=') {
            _ if rest => out.push(a.into()),
            Some((flag, value)) if flag.starts_with("--") && flag.len() > 2 => {
                out.push(flag.into());
                out.push(value.into());
            }
            _ => {
                rest = a == "--";
                out.push(a.into());
            }
        }
    }
    out
}

/// Parses arguments (without the program name) into the global options and the job's flags.
pub(crate) fn parse_from(args: &[String]) -> Result<(Global, XtaskCmd)> {
    let f = match flags::Xtask::from_vec(split_equals(args)) {
        Ok(f) => f,
        Err(e) if e.is_help() => return Err(e.into()),
        Err(e) => {
            let message = e.to_string();
            // xflags says "can't parse `--kinds`, debs: no such kind\nfix: ...": a typed value's own words and fix
            // (the flag's name is the grammar's; the value was made printable where it was read).
            let typed = message.strip_prefix("can't parse `").and_then(|m| m.split_once("`, "));
            if let Some((flag, (why, fix))) = typed.and_then(|(flag, m)| Some((flag, m.split_once("\nfix: ")?))) {
                let cause = if flag.starts_with('-') { format!("{flag} {why}") } else { why.to_owned() };
                bail!("{}\nfix: {}", printable(&cause), printable(fix));
            }
            let job = args.iter().find(|a| !a.starts_with('-')).map_or("", String::as_str);
            let help =
                if job.is_empty() { "cargo xtask --help".to_owned() } else { format!("cargo xtask {job} --help") };
            bail!("{}\nfix: see `{}`", printable(&message), printable(&help));
        }
    };
    let jobs = f.jobs.map_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().max(2)), |j| j.0);
    let global = Global { dry_run: f.dry_run, json: f.json, keep_going: f.keep_going, offline: f.offline, jobs };
    Ok((global, f.subcommand))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`JOBS`] is the grammar's list of subcommands.
    #[test]
    fn the_list_of_jobs_is_the_grammar_s() {
        let help = parse_from(&["--help".to_owned()]).unwrap_err().to_string();
        let mut sections: Vec<&str> =
            help.lines().filter_map(|l| l.strip_prefix("xtask ")).filter(|n| !n.contains(' ')).collect();
        let mut jobs = JOBS.to_vec();
        sections.sort();
        jobs.sort();
        assert_eq!(sections, jobs);
    }

    use crate::flags::XtaskCmd as C;
    use crate::settings::Part;

    fn parse(args: &[&str]) -> Result<(Global, XtaskCmd)> {
        parse_from(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn bad_flags_name_the_cause_and_the_fix_in_two_lines() {
        for (args, want) in [
            (&["package", "--wheel"][..], "unexpected flag: `--wheel`\nfix: see `cargo xtask package --help`"),
            (&["frobnicate"][..], "\nfix: see `cargo xtask frobnicate --help`"),
            (&["lint", "--jobs", "0"][..], "--jobs 0 is out of range\nfix: pass --jobs 1 to 64"),
            (&["bench", "--runs", "0"][..], "--runs 0 is out of range"),
            (&["bench", "bogus"][..], "no benchmark `bogus`\nfix: choose from build"),
            (&["download", "--commit", "abc", "--kinds", "debs"][..], "--kinds debs: no such kind"),
            (&["package", "--kinds", ""][..], "--kinds is empty\nfix: name the kinds"),
            (&["release"][..], "flag is required: `--commit`"),
            (&["test", "--part", "a\u{1b}[2J"][..], "--part a\\u{1b}[2J: no such part"),
            (&["lint", "--fix\nfix: x\u{1b}[2J"][..], "`--fix\\nfix: x\\u{1b}[2J`\nfix: see `cargo xtask lint --help`"),
        ] {
            let e = format!("{:#}", parse(args).unwrap_err());
            assert!(e.contains(want), "{args:?}: {e}");
            assert_eq!(e.lines().count(), 2, "{args:?}: {e}");
        }
        // `--flag=value` is two arguments; after `--` nothing is split.
        let (_, job) = parse(&["release", "--commit=-h", "--version=1.0.0"]).unwrap();
        assert!(matches!(job, C::Release(a) if a.commit == "-h" && a.version.as_deref() == Some("1.0.0")));
        let (_, job) = parse(&["test", "--", "--exact=a"]).unwrap();
        assert!(matches!(job, C::Test(t) if t.runner_args == ["--exact=a"]));
        // `--help` is help, not an error; a job's help is its own section.
        let e = parse(&["gates", "--help"]).unwrap_err();
        assert!(e.downcast_ref::<xflags::Error>().is_some_and(xflags::Error::is_help));
        let gates = help_for(&e.to_string(), &["gates".to_owned(), "--help".to_owned()]);
        assert!(gates.starts_with("xtask gates") && gates.contains("--defaults"), "{gates}");
        assert!(!gates.contains("xtask lint") && gates.ends_with("cargo xtask --help"), "{gates}");
        let ci = help_for(&e.to_string(), &["--jobs".to_owned(), "3".to_owned(), "ci".to_owned()]);
        assert!(ci.contains("xtask ci list") && ci.contains("xtask ci matrix") && !ci.contains("xtask bench"));
    }

    #[test]
    fn global_flags_go_anywhere() {
        let (g, job) = parse(&["lint", "--dry-run", "--jobs", "3"]).unwrap();
        assert!(g.dry_run && !g.json);
        assert_eq!(g.jobs, 3);
        assert!(matches!(job, C::Lint(l) if !l.fix && l.changed_since.is_none()));
        let (g, _) = parse(&["--keep-going", "test"]).unwrap();
        assert!(g.keep_going);
        let (g, _) = parse(&["ci", "matrix", "--json"]).unwrap();
        assert!(g.json);
    }

    #[test]
    fn test_parts_and_runner_args() {
        let (_, job) = parse(&["test", "--part", "wasm,rust", "--part", "rust", "--", "--no-capture"]).unwrap();
        let C::Test(t) = job else { panic!("{job:?}") };
        assert_eq!(t.parts(), vec![Part::Rust, Part::Wasm]);
        assert_eq!(t.runner_args, vec!["--no-capture"]);
        let C::Test(t) = parse(&["test", "--part", "all"]).unwrap().1 else { panic!() };
        assert_eq!(t.parts(), Part::ALL);
        assert!(parse(&["test", "--part", "java"]).is_err());
        assert!(parse(&["lint", "--jobs", "0"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        let C::Gates(g) =
            parse(&["gates", "--labels", "kind: fix, wip", "--label", "a,b", "--base", "main"]).unwrap().1
        else {
            panic!()
        };
        assert_eq!(g.labels(), Some(vec!["kind: fix".to_owned(), "wip".to_owned(), "a,b".to_owned()]));
        assert_eq!(g.base.as_deref(), Some("main"));
        use crate::manifest::Kind;
        let kinds = |args: &[&str]| match parse(args).unwrap().1 {
            C::Package(p) => p.kinds(),
            other => panic!("{other:?}"),
        };
        assert_eq!(kinds(&["package", "--kinds", "wasm,crates", "--wheels"]), [Kind::Crate, Kind::Wheel, Kind::Wasm]);
        assert_eq!(kinds(&["package", "--kinds", "all"]).len(), Kind::ALL.len());
        assert_eq!(kinds(&["package", "--all"]).len(), Kind::ALL.len());
        assert_eq!(kinds(&["package"]), [], "none named: every kind the repository has");
        assert!(parse(&["package", "--kinds", "debs"]).is_err());
        let C::Gates(g) = parse(&["gates", "--labels", ""]).unwrap().1 else { panic!() };
        assert_eq!(g.labels(), Some(vec![]));
        let C::Gates(g) = parse(&["gates"]).unwrap().1 else { panic!() };
        assert_eq!(g.labels(), None, "no flag: the event's labels count");
        let C::Download(d) = parse(&["download", "--commit", "c", "--kinds", "wheels,crates,wheels"]).unwrap().1 else {
            panic!()
        };
        assert_eq!(d.kind_list(), [Kind::Crate, Kind::Wheel]);
    }

    /// Every `cargo xtask ...` command in the README and CONTRIBUTING code blocks parses with the CLI's own
    /// parser: a renamed or removed flag in the docs fails here. (Lines with shell variables, `$X`, are checked
    /// up to the variable's use.)
    #[test]
    fn the_commands_in_the_docs_are_real_invocations() {
        let root = crate::project_root();
        let mut checked = 0;
        for doc in ["README.md", "CONTRIBUTING.md"] {
            let text = std::fs::read_to_string(root.join(doc)).unwrap();
            for (n, line) in text.lines().enumerate() {
                let Some(code) = line.strip_prefix("    ") else { continue };
                // Comments after the command, then each `&&`-chained command.
                let code = code.split("  #").next().unwrap_or_default();
                for cmd in code.split("&&") {
                    let Some(rest) = cmd.trim().strip_prefix("cargo xtask ") else { continue };
                    let words = shell_words(rest.split('$').next().unwrap_or_default());
                    match parse_from(&words) {
                        Ok(_) => {}
                        // A variable may hold the required flags (`cargo xtask release $R`).
                        Err(e) if rest.contains('$') && format!("{e}").contains("flag is required") => {}
                        Err(e) => panic!("{doc}:{}: `cargo xtask {rest}` does not parse:\n{e:#}", n + 1),
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20, "found {checked} commands in the docs");
        // And the check itself can fail.
        assert!(parse(&["package", "--wheel"]).is_err());
    }

    /// Splits a command line as a POSIX shell would (quotes, no expansion).
    fn shell_words(s: &str) -> Vec<String> {
        let (mut words, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None::<char>, false);
        for c in s.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '"' | '\'') => {
                    quote = Some(c);
                    any = true;
                }
                (None, c) if c.is_whitespace() => {
                    if any || !cur.is_empty() {
                        words.push(std::mem::take(&mut cur));
                    }
                    any = false;
                }
                (None, c) => cur.push(c),
            }
        }
        if any || !cur.is_empty() {
            words.push(cur);
        }
        words
    }
}
