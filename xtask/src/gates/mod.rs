//! `cargo xtask gates`: the PR gates (labels, blocking keywords, large files, invalid file patterns), with the
//! same verdict on a laptop (against a base branch) as in CI (against the pull_request event).

mod checks;
mod facts;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::json;
use xshell::Shell;

pub use checks::{GateResult, Status};
pub use facts::{Facts, Pr};

use crate::config::{self, Gates};
use crate::plan::JobFailed;
use crate::{Ctx, github};

#[derive(Clone, Debug, Default)]
pub struct Args {
    pub base: Option<String>,
    pub event: Option<Utf8PathBuf>,
    pub labels: Option<Vec<String>>,
    pub title: Option<String>,
    pub body: Option<String>,
}

/// The PR facts: the event (from `--event`, or `$GITHUB_EVENT_PATH` under GitHub Actions), then the flags,
/// which override it.
pub fn pr_facts(args: &Args) -> Result<Pr> {
    let in_actions = github::actions();
    let event_path = args
        .event
        .clone()
        .or_else(|| in_actions.then(|| std::env::var("GITHUB_EVENT_PATH").ok().map(Utf8PathBuf::from)).flatten());
    if args.event.is_none() && in_actions {
        if let Ok(name) = std::env::var("GITHUB_EVENT_NAME") {
            if !name.starts_with("pull_request") {
                return Err(facts::input_error(
                    format!("gates check pull requests; this workflow run is a `{name}` event"),
                    "trigger the gates workflow on pull_request, or pass --event / --labels / --title / --body",
                ));
            }
        }
    }
    let mut pr = match &event_path {
        Some(p) => facts::read_event(p)?,
        None => Pr { source: "flags".to_owned(), ..Pr::default() },
    };
    if args.labels.is_some() {
        pr.labels = args.labels.clone();
    }
    if args.title.is_some() {
        pr.title = args.title.clone();
    }
    if args.body.is_some() {
        pr.body = args.body.clone();
    }
    Ok(pr)
}

pub struct Report {
    pub facts: Facts,
    pub results: Vec<GateResult>,
    /// The gates' own time, git's aside, in seconds.
    pub own_secs: f64,
}

/// Collects the facts in `repo` and evaluates every gate.
pub fn evaluate(sh: &Shell, repo: &Utf8Path, args: &Args, pr: &Pr, cfg: &Gates) -> Result<Report> {
    let t = Instant::now();
    let facts = facts::collect(sh, repo, args.base.as_deref(), pr, cfg.main_branch)?;
    let results = checks::evaluate(pr, &facts, cfg);
    let own_secs = (t.elapsed().saturating_sub(facts.git_time)).as_secs_f64();
    Ok(Report { facts, results, own_secs })
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<()> {
    let pr = pr_facts(args)?;
    let cfg = &config::GATES;
    if ctx.global.dry_run {
        println!(
            "gates would compare HEAD with {}",
            args.base.as_deref().unwrap_or("the merge-base with origin/main (or main)")
        );
        println!("PR facts from {}: labels {:?}, title {:?}", pr.source, pr.labels, pr.title);
        println!("labels: {:?}", cfg.label_rules);
        println!("keywords: {:?} (exempt: {:?})", cfg.keywords, cfg.keyword_exempt);
        println!("large files: over {} bytes (allowed: {:?})", cfg.max_file_bytes, cfg.large_file_allow);
        println!("file patterns: symlinks, case clashes, Windows names, conflict markers, {:?}", cfg.forbidden_globs);
        return Ok(());
    }
    let report = evaluate(&ctx.sh, &ctx.root, args, &pr, cfg)?;
    if ctx.global.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&report))?);
    } else {
        print!("{}", render(&report));
    }
    if github::actions() {
        for r in &report.results {
            for f in &r.findings {
                github::error(f.file.as_deref(), f.line, &format!("gate {}", r.name), &f.message);
            }
        }
        github::summary(&summary_markdown(&report))?;
    }
    let failed: Vec<&str> = report.results.iter().filter(|r| r.status == Status::Fail).map(|r| r.name).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(JobFailed(format!(
            "gates failed: {}\nreproduce locally: cargo xtask gates --base {}{}",
            failed.join(", "),
            &report.facts.merge_base[..12.min(report.facts.merge_base.len())],
            label_flags(&pr)
        ))
        .into())
    }
}

fn label_flags(pr: &Pr) -> String {
    match &pr.labels {
        Some(l) => format!(" --labels {}", crate::plan::quote(&l.join(","))),
        None => String::new(),
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// One line per gate, then the details of each failure.
pub fn render(r: &Report) -> String {
    let f = &r.facts;
    let mut out = format!(
        "gates: {}..{} (base: {}): {} commits, {} files changed\n",
        short(&f.merge_base),
        short(&f.head),
        f.base_desc,
        f.commits.len(),
        f.files.len()
    );
    for g in &r.results {
        let _ = writeln!(out, "  {:<8} {:<14} {}", g.status.as_str(), g.name, g.summary);
    }
    let failures: Vec<_> = r.results.iter().filter(|g| g.status == Status::Fail).collect();
    if !failures.is_empty() {
        out.push_str("\nfailures:\n");
        for g in failures {
            for finding in &g.findings {
                let _ = writeln!(out, "  {}: {}: {}", g.name, finding.location(), finding.message);
            }
        }
    }
    let _ =
        writeln!(out, "gates' own time: {:.0} ms (git: {:.0} ms)", r.own_secs * 1e3, f.git_time.as_secs_f64() * 1e3);
    out
}

pub fn to_json(r: &Report) -> serde_json::Value {
    json!({
        "base": r.facts.merge_base,
        "head": r.facts.head,
        "base_desc": r.facts.base_desc,
        "commits": r.facts.commits.len(),
        "files": r.facts.files.len(),
        "passed": r.results.iter().all(|g| g.status != Status::Fail),
        "gates": r.results.iter().map(|g| json!({
            "name": g.name,
            "status": g.status.as_str().to_lowercase(),
            "summary": g.summary,
            "findings": g.findings.iter().map(|f| json!({
                "file": f.file, "line": f.line, "commit": f.commit, "message": f.message,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn summary_markdown(r: &Report) -> String {
    let mut md = String::from("### PR gates\n\n| gate | status | details |\n|---|---|---|\n");
    for g in &r.results {
        let icon = match g.status {
            Status::Pass => "✅ pass",
            Status::Fail => "❌ fail",
            Status::Skipped => "⏭ skipped",
        };
        let details = if g.findings.is_empty() {
            g.summary.clone()
        } else {
            g.findings.iter().map(|f| format!("`{}` {}", f.location(), f.message)).collect::<Vec<_>>().join("<br>")
        };
        let _ = writeln!(md, "| {} | {icon} | {} |", g.name, details.replace('|', "\\|"));
    }
    md
}
