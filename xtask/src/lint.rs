//! `cargo xtask lint`: formatting and lints of every language in the repository.

use anyhow::Result;

use crate::Ctx;
use crate::plan::{Plan, Step};

pub fn run(ctx: &Ctx, fix: bool) -> Result<()> {
    ctx.execute(&plan(fix))
}

/// The lint plan. Independent checks are marked concurrent; with `fix`, the fixers run one after another
/// (they write files) and the checks that have no fixer still run.
pub fn plan(fix: bool) -> Plan {
    let mut plan = Plan::new(if fix { "lint --fix" } else { "lint" });
    let steps = if fix {
        vec![
            Step::run("rustfmt", "cargo", &["fmt", "--all"]).tools(&["cargo", "rustfmt"]),
            Step::run("clippy --fix", "cargo", &["clippy", "--fix", "--allow-dirty", "--allow-staged"])
                .args(["--workspace", "--all-targets", "--locked"])
                .tools(&["cargo", "clippy"]),
            Step::run("ruff check --fix", "ruff", &["check", "--fix", "."]).tools(&["ruff"]),
            Step::run("ruff format", "ruff", &["format", "."]).tools(&["ruff"]),
            Step::run("taplo fmt", "taplo", &["fmt"]).tools(&["taplo"]),
            Step::run("typos --write-changes", "typos", &["--write-changes"]).tools(&["typos"]),
        ]
    } else {
        vec![
            Step::run("clippy", "cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])
                .tools(&["cargo", "clippy"])
                .hint("fix the warnings above; `cargo xtask lint --fix` applies clippy's suggestions"),
            Step::run("rustfmt", "cargo", &["fmt", "--all", "--check"])
                .tools(&["cargo", "rustfmt"])
                .hint("run `cargo fmt --all` (or `cargo xtask lint --fix`)"),
            Step::run("ruff check", "ruff", &["check", "--output-format", "concise", "."])
                .tools(&["ruff"])
                .hint("run `cargo xtask lint --fix` for the fixable ones"),
            Step::run("ruff format", "ruff", &["format", "--diff", "."])
                .tools(&["ruff"])
                .hint("run `cargo xtask lint --fix` (ruff format)"),
            Step::run("taplo fmt", "taplo", &["fmt", "--colors", "never", "--check", "--diff"])
                .env("RUST_LOG", "warn")
                .tools(&["taplo"])
                .hint("run `cargo xtask lint --fix` (taplo fmt)"),
            Step::run("typos", "typos", &["--format", "brief"])
                .tools(&["typos"])
                .hint("fix the spelling, or allow the word in _typos.toml; `cargo xtask lint --fix` applies typos' corrections"),
        ]
    };
    for s in steps {
        // In check mode nothing writes, so everything may run at once; fixers write files, so they do not.
        plan.push(if fix { s } else { s.concurrent() });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_plan_runs_every_linter_concurrently() {
        let plan = plan(false);
        let names: Vec<_> = plan.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["clippy", "rustfmt", "ruff check", "ruff format", "taplo fmt", "typos"]);
        assert!(plan.steps.iter().all(|s| s.concurrent));
        let clippy = plan.steps[0].command_line();
        assert_eq!(clippy, "cargo clippy --workspace --all-targets --locked -- -D warnings");
        assert_eq!(plan.tools(), ["cargo", "clippy", "ruff", "rustfmt", "taplo", "typos"]);
    }

    #[test]
    fn fix_plan_writes_one_step_at_a_time() {
        let plan = plan(true);
        assert!(plan.steps.iter().all(|s| !s.concurrent));
        assert_eq!(plan.steps[0].command_line(), "cargo fmt --all");
        assert!(plan.steps.iter().any(|s| s.command_line() == "typos --write-changes"));
    }
}
