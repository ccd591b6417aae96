//! `cargo xtask lint`: formatting and lints of every language in the repository, and the workflows.

use anyhow::Result;

use crate::affected::{self, Affected};
use crate::plan::{Plan, Step};
use crate::{Ctx, config, workflows};

pub fn run(ctx: &Ctx, fix: bool, changed_since: Option<&str>) -> Result<()> {
    let affected = affected::for_flag(ctx, changed_since)?;
    let existing: Vec<String> = affected.files.iter().filter(|f| ctx.root.join(f).exists()).cloned().collect();
    let affected = Affected { files: existing, ..affected };
    // The other platforms' targets: added by rustup where it can (not for --dry-run/--json, which install
    // nothing: they plan the step as it would run).
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    if affected.any_rust() && !fix {
        for t in config::CHECK_TARGETS {
            let ready = if ctx.global.dry_run || ctx.global.json {
                Ok(())
            } else {
                crate::targets::ensure(&ctx.sh, t, ctx.global.offline)
            };
            match ready {
                Ok(()) => targets.push((*t).to_owned()),
                Err(e) => skipped
                    .push(format!("skipped: clippy for {t} ({})", format!("{e:#}").lines().next().unwrap_or_default())),
            }
        }
    }
    let mut plan = plan(fix, &affected);
    add_target_checks(&mut plan, &targets, &affected);
    for n in skipped {
        plan.note(n);
    }
    ctx.execute(&plan)
}

/// `cargo clippy --target T` for the other platforms, next to the host's clippy: code behind `cfg(windows)`
/// and `cfg(target_os = "macos")` compiles and is linted on every PR.
fn add_target_checks(plan: &mut Plan, targets: &[String], a: &Affected) {
    let at = plan.steps.iter().position(|s| s.name == "clippy").map_or(plan.steps.len(), |i| i + 1);
    for (n, t) in targets.iter().enumerate() {
        let step =
            Step::run(&format!("clippy ({t})"), "cargo", &["clippy", "--all-targets", "--locked", "--target", t])
                .args(crate_args(a))
                .args(["--", "-D", "warnings"])
                .tools(&["cargo", "clippy"])
                .hint("code for another platform: fix it here (`cargo clippy --target ...`), its runner would fail too")
                .concurrent();
        plan.steps.insert(at + n, step);
    }
}

fn crate_args(a: &Affected) -> Vec<String> {
    if a.everything.is_some() {
        vec!["--workspace".into()]
    } else {
        a.crates.iter().flat_map(|c| ["--package".to_owned(), c.clone()]).collect()
    }
}

/// The lint plan. In check mode nothing writes, so every step may run at once; fixers write files, so they
/// run one after another. With `--changed-since`, only the linters of what changed run.
pub fn plan(fix: bool, a: &Affected) -> Plan {
    let mut plan = Plan::new(if fix { "lint --fix" } else { "lint" });
    for n in a.summary() {
        plan.note(n);
    }
    let rust = a.any_rust();
    let rs_files = a.has_ext(&[".rs"]);
    let python = a.has_ext(&[".py", "ruff.toml", "pyproject.toml"]);
    let toml = a.has_ext(&[".toml"]);
    let workflow_files: Vec<String> =
        workflows::all().iter().map(|w| format!("{}/{}", workflows::DIR, w.file)).collect();
    let gh = a.everything.is_some() || a.workflows;
    let typos_files: Vec<String> = if a.everything.is_some() { vec![] } else { a.files.clone() };
    let typos = a.everything.is_some() || !typos_files.is_empty();
    let mut steps = Vec::new();
    if fix {
        if rs_files {
            steps.push(Step::run("rustfmt", "cargo", &["fmt", "--all"]).tools(&["cargo", "rustfmt"]));
        }
        if rust {
            steps.push(
                Step::run(
                    "clippy --fix",
                    "cargo",
                    &["clippy", "--fix", "--allow-dirty", "--allow-staged", "--all-targets", "--locked"],
                )
                .args(crate_args(a))
                .tools(&["cargo", "clippy"]),
            );
        }
        if python {
            steps.push(Step::run("ruff check --fix", "ruff", &["check", "--fix", "."]).tools(&["ruff"]));
            steps.push(Step::run("ruff format", "ruff", &["format", "."]).tools(&["ruff"]));
        }
        if toml {
            steps.push(Step::run("taplo fmt", "taplo", &["fmt"]).env("RUST_LOG", "warn").tools(&["taplo"]));
        }
        if typos {
            steps.push(
                Step::run("typos --write-changes", "typos", &["--write-changes"]).args(typos_files).tools(&["typos"]),
            );
        }
        if gh {
            steps.push(Step::run("workflows", "cargo", &["xtask", "workflows"]).tools(&["cargo"]));
        }
    } else {
        if rust {
            steps.push(
                Step::run("clippy", "cargo", &["clippy", "--all-targets", "--locked"])
                    .args(crate_args(a))
                    .args(["--", "-D", "warnings"])
                    .tools(&["cargo", "clippy"])
                    .hint("fix the warnings above; `cargo xtask lint --fix` applies clippy's suggestions"),
            );
        }
        if rs_files {
            steps.push(
                Step::run("rustfmt", "cargo", &["fmt", "--all", "--check"])
                    .tools(&["cargo", "rustfmt"])
                    .hint("run `cargo fmt --all` (or `cargo xtask lint --fix`)"),
            );
        }
        if python {
            steps.push(
                Step::run("ruff check", "ruff", &["check", "--output-format", "concise", "."])
                    .tools(&["ruff"])
                    .hint("run `cargo xtask lint --fix` for the fixable ones"),
            );
            steps.push(
                Step::run("ruff format", "ruff", &["format", "--diff", "."])
                    .tools(&["ruff"])
                    .hint("run `cargo xtask lint --fix` (ruff format)"),
            );
        }
        if toml {
            steps.push(
                Step::run("taplo fmt", "taplo", &["fmt", "--colors", "never", "--check", "--diff"])
                    .env("RUST_LOG", "warn")
                    .tools(&["taplo"])
                    .hint("run `cargo xtask lint --fix` (taplo fmt)"),
            );
        }
        if typos {
            steps.push(
                Step::run("typos", "typos", &["--format", "brief"])
                    .args(typos_files)
                    .tools(&["typos"])
                    .hint("fix the spelling, or allow the word in _typos.toml; `cargo xtask lint --fix` applies typos' corrections"),
            );
        }
        if gh {
            steps.push(
                Step::run("workflows: generated and rules", "cargo", &["xtask", "workflows", "--check"])
                    .tools(&["cargo"])
                    .hint("edit xtask/src/workflows.rs, then run `cargo xtask workflows`"),
            );
            steps.push(
                Step::run("workflows: actionlint", "actionlint", &["-no-color"])
                    .args(workflow_files.clone())
                    .tools(&["actionlint"]),
            );
            steps.push(
                Step::run("workflows: schema", "check-jsonschema", &["--builtin-schema", "vendor.github-workflows"])
                    .args(workflow_files.clone())
                    .tools(&["check-jsonschema"]),
            );
            steps.push(
                Step::run("workflows: zizmor", "zizmor", &["--offline", "--no-progress", "--color", "never"])
                    .args(workflow_files)
                    .tools(&["zizmor"])
                    .hint(
                        "a security finding in a workflow: fix it in xtask/src/workflows.rs (`cargo xtask workflows`)",
                    ),
            );
        }
    }
    for s in steps {
        plan.push(if fix { s } else { s.concurrent() });
    }
    if plan.steps.is_empty() {
        plan.note("nothing to lint for this change");
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn names(p: &Plan) -> Vec<&str> {
        p.steps.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn check_plan_runs_every_linter_concurrently() {
        let plan = plan(false, &Affected::all("test"));
        assert_eq!(
            names(&plan),
            [
                "clippy",
                "rustfmt",
                "ruff check",
                "ruff format",
                "taplo fmt",
                "typos",
                "workflows: generated and rules",
                "workflows: actionlint",
                "workflows: schema",
                "workflows: zizmor"
            ]
        );
        assert!(plan.steps.iter().all(|s| s.concurrent));
        assert_eq!(plan.steps[0].command_line(), "cargo clippy --all-targets --locked --workspace -- -D warnings");
        let files: Vec<String> = workflows::all().iter().map(|w| format!("{}/{}", workflows::DIR, w.file)).collect();
        assert_eq!(plan.steps[7].command_line(), format!("actionlint -no-color {}", files.join(" ")));
    }

    #[test]
    fn the_other_platforms_are_linted_next_to_the_host() {
        let a = Affected::all("test");
        let mut p = plan(false, &a);
        let targets: Vec<String> = config::CHECK_TARGETS.iter().map(|t| (*t).to_owned()).collect();
        add_target_checks(&mut p, &targets, &a);
        assert_eq!(&names(&p)[..3], ["clippy", "clippy (x86_64-pc-windows-msvc)", "clippy (aarch64-apple-darwin)"]);
        assert_eq!(
            p.steps[1].command_line(),
            "cargo clippy --all-targets --locked --target x86_64-pc-windows-msvc --workspace -- -D warnings"
        );
        assert!(p.steps[1].concurrent);
    }

    #[test]
    fn fix_plan_writes_one_step_at_a_time() {
        let plan = plan(true, &Affected::all("test"));
        assert!(plan.steps.iter().all(|s| !s.concurrent));
        assert_eq!(plan.steps[0].command_line(), "cargo fmt --all");
        assert!(plan.steps.iter().any(|s| s.command_line() == "typos --write-changes"));
    }

    #[test]
    fn changed_since_runs_only_what_the_change_needs() {
        let py_only = Affected {
            python: true,
            examples: true,
            files: vec!["examples/python/a.py".into()],
            ..Affected::default()
        };
        let p = plan(false, &py_only);
        assert_eq!(names(&p), ["ruff check", "ruff format", "typos"]);
        assert_eq!(p.steps[2].command_line(), "typos --format brief examples/python/a.py");

        let leaf = Affected {
            crates: BTreeSet::from(["reel-cli".to_owned()]),
            files: vec!["crates/reel-cli/src/main.rs".into()],
            ..Affected::default()
        };
        let p = plan(false, &leaf);
        assert_eq!(names(&p), ["clippy", "rustfmt", "typos"]);
        assert_eq!(p.steps[0].command_line(), "cargo clippy --all-targets --locked --package reel-cli -- -D warnings");
    }
}
