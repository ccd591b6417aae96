//! `cargo xtask gates`: the PR gates (labels, blocking keywords, large files, invalid file patterns, the
//! description's checklist), with the
//! same verdict on a laptop (against a base branch) as in CI (against the pull_request event, or the merge_group
//! event of the PR in GitHub's merge queue, whose labels, title and body come from GitHub's API: `api.rs`).

mod api;
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

pub(crate) use checks::{GateResult, Status};
pub(crate) use facts::{Facts, Pr};

use crate::plan::{JobFailed, printable};
use crate::settings::Gates;
use crate::{Ctx, flags, github};

/// What the gates read from the process environment, read once by [`Env::from_process`] and passed down
/// (tests build their own).
#[derive(Clone, Default)]
pub(crate) struct Env {
    /// Under GitHub Actions (or in a replay): `$GITHUB_EVENT_NAME` and `$GITHUB_EVENT_PATH`.
    pub actions: Option<ActionsRun>,
    /// GitHub's REST API: `$GITHUB_API_URL`, else `https://api.github.com`.
    pub api_url: String,
    /// `$GITHUB_TOKEN`, which reads a merge-queue entry's pull request; never printed.
    pub token: Option<String>,
    /// Where curl's response files go.
    pub tmp: Utf8PathBuf,
}

/// The workflow run the gates run in.
#[derive(Clone, Debug, Default)]
pub(crate) struct ActionsRun {
    pub event_name: Option<String>,
    pub event_path: Option<Utf8PathBuf>,
}

impl Env {
    pub(crate) fn from_process(root: &Utf8Path) -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            // Under GitHub Actions, or in a replay of a workflow run (`cargo xtask ci --event FILE`).
            actions: (github::actions() || github::replaying()).then(|| ActionsRun {
                event_name: github::run_var("GITHUB_EVENT_NAME"),
                event_path: github::run_var("GITHUB_EVENT_PATH").map(Utf8PathBuf::from),
            }),
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned()),
            token: var("GITHUB_TOKEN"),
            tmp: root.join(crate::tempfiles::DIR),
        }
    }
}

/// The events whose PR the gates can judge: pull_request (and its kinds) and merge_group.
fn gated_event(name: &str) -> bool {
    name.starts_with("pull_request") || name == "merge_group"
}

/// The PR facts: the event (from `--event`, or `$GITHUB_EVENT_PATH` under GitHub Actions), then the flags,
/// which override it; what a merge_group event does not carry (labels, title, body) and no flag gave is read
/// from GitHub's API.
pub(crate) fn pr_facts(sh: &Shell, args: &flags::Gates, env: &Env) -> Result<Pr> {
    let mut pr = event_and_flags(args, env)?;
    if let Some(entry) = pr.unfetched().cloned() {
        let text = api::fetch_pr(sh, env, &entry)?;
        pr.labels = pr.labels.take().or(Some(text.labels));
        pr.title = pr.title.take().or(Some(text.title));
        pr.body = pr.body.take().or(Some(text.body));
        pr.source = format!("{}, its labels, title and body from GitHub's API", pr.source);
    }
    Ok(pr)
}

/// The PR facts from the event and the flags alone (a dry run's: nothing is fetched).
pub(crate) fn event_and_flags(args: &flags::Gates, env: &Env) -> Result<Pr> {
    let event_path = args.event.clone().or_else(|| env.actions.as_ref().and_then(|a| a.event_path.clone()));
    if args.event.is_none()
        && let Some(name) = env.actions.as_ref().and_then(|a| a.event_name.as_deref())
        && !gated_event(name)
    {
        return Err(facts::input_error(
            format!("gates check pull requests; this workflow run is a `{}` event", printable(name)),
            "trigger the gates workflow on pull_request or merge_group, or pass --event / --labels / --title / --body",
        ));
    }
    let mut pr = match &event_path {
        Some(p) => facts::read_event(p)?,
        None => Pr { source: "flags".to_owned(), ..Pr::default() },
    };
    if let Some(labels) = args.labels() {
        pr.labels = Some(labels);
    }
    if args.title.is_some() {
        pr.title = args.title.clone();
    }
    if args.body.is_some() {
        pr.body = args.body.clone();
    }
    if let Some(head) = &args.head {
        pr.head_sha = Some(head.clone());
        pr.head_from = "--head".to_owned();
    } else if pr.source == "event" {
        // An event names the commit it is about: without it (or with something that is not a commit hash) the
        // verdict would silently be about HEAD. (A merge_group event's head is checked as it is read.)
        match pr.head_sha.as_deref() {
            Some(sha) if crate::workspace::is_full_hash(sha) => {}
            other => {
                return Err(facts::input_error(
                    format!(
                        "the event's `pull_request.head.sha` is {}, not a full commit hash",
                        // By characters: a cut inside a multi-byte one would panic.
                        other.map_or_else(|| "missing".to_owned(), facts::shown)
                    ),
                    "pass the event JSON GitHub writes to $GITHUB_EVENT_PATH, unmodified, or name the commit with --head REV",
                ));
            }
        }
    }
    Ok(pr)
}

pub(crate) struct Report {
    pub facts: Facts,
    pub results: Vec<GateResult>,
    /// The gates' own time, git's aside, in seconds.
    pub own_secs: f64,
}

/// Collects the facts in `repo` and evaluates every gate.
pub(crate) fn evaluate(sh: &Shell, repo: &Utf8Path, args: &flags::Gates, pr: &Pr, cfg: &Gates) -> Result<Report> {
    let t = Instant::now();
    let facts = facts::collect(sh, repo, args.base.as_deref(), pr, cfg)?;
    let results = checks::evaluate(pr, &facts, cfg);
    let own_secs = (t.elapsed().saturating_sub(facts.git_time)).as_secs_f64();
    Ok(Report { facts, results, own_secs })
}

pub(crate) fn run(ctx: &Ctx, args: &flags::Gates) -> Result<()> {
    let env = Env::from_process(&ctx.root);
    // A dry run reads no API: the plan says what would be fetched.
    let pr = if ctx.global.dry_run { event_and_flags(args, &env)? } else { pr_facts(&ctx.sh, args, &env)? };
    let defaults = Gates::default();
    let cfg = if args.defaults { &defaults } else { ctx.settings.gates("gates")? };
    if ctx.global.dry_run {
        let plan = json!({
            "job": "gates",
            "base": args.base.clone().or_else(|| pr.base_sha.clone()).unwrap_or_else(|| format!("the merge-base with origin/HEAD, origin/{0} or {0}", cfg.main_branch)),
            "head": pr.head_sha.clone().unwrap_or_else(|| "HEAD".into()),
            "facts_from": pr.source,
            "fetch": pr.unfetched().map(|q| format!("the labels, title and body of PR #{} from GET {}", q.number, crate::http::redact(&api::pr_url(&env, q)))),
            "labels": pr.labels,
            "title": pr.title,
            "settings": if args.defaults { "the documented defaults (--defaults)".to_owned() } else { ctx.settings.path.to_string() },
            "label_rules": format!("{:?}", cfg.labels),
            "keywords": format!("{:?} in {:?}; markers {:?} in added lines too (exempt: {:?})", cfg.keywords, cfg.keywords_in, cfg.markers, cfg.keyword_exempt),
            "large_files": format!("{} bytes or more (allowed: {:?}); every commit: {}", cfg.max_file_bytes, cfg.large_file_allow, cfg.every_commit),
            "file_patterns": format!("names (UTF-8, no control characters), symlinks, case clashes, Windows names, conflict markers, {:?}; in Git LFS: {:?} (exempt: {:?})", cfg.forbidden, cfg.lfs, cfg.lfs_allow),
            "checklist": if cfg.checklist { "every task-list box of the PR description ticked" } else { "off" },
        });
        return crate::plan::print_static(&plan, ctx.global.json);
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
                // With --json, stdout holds the one JSON document: the annotations go to stderr (the runner
                // reads workflow commands from both).
                github::error_to(
                    ctx.global.json,
                    f.file.as_deref().map(printable).as_deref(),
                    f.line,
                    &format!("gate {}", r.name),
                    &printable(&f.message),
                );
            }
        }
        github::summary(&summary_markdown(&report))?;
    }
    let failed: Vec<&str> = report.results.iter().filter(|r| r.status == Status::Fail).map(|r| r.name).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(JobFailed(format!("gates failed: {}\nreproduce locally: {}", failed.join(", "), reproduce(&report, &pr)))
            .into())
    }
}

/// The command that gives the same verdict on a laptop: the same base and head commits and the same PR facts.
pub(crate) fn reproduce(report: &Report, pr: &Pr) -> String {
    let mut args = vec![
        "cargo".to_owned(),
        "xtask".into(),
        "gates".into(),
        "--base".into(),
        report.facts.base.clone(),
        "--head".into(),
        report.facts.head.clone(),
    ];
    // One `--label` per label, exactly as it is (a label may hold a comma); `--labels ''` for none.
    match &pr.labels {
        Some(l) if l.is_empty() => args.extend(["--labels".to_owned(), String::new()]),
        Some(l) => l.iter().for_each(|label| args.extend(["--label".to_owned(), label.clone()])),
        None => {}
    }
    if let Some(t) = &pr.title {
        args.extend(["--title".to_owned(), t.clone()]);
    }
    if let Some(b) = &pr.body {
        args.extend(["--body".to_owned(), b.clone()]);
    }
    args.iter().map(|a| crate::plan::quote(a)).collect::<Vec<_>>().join(" ")
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// One line per gate, then the details of each failure.
pub(crate) fn render(r: &Report) -> String {
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
        let _ = writeln!(out, "  {:<8} {:<14} {}", g.status.as_str(), g.name, printable(&g.summary));
    }
    let failures: Vec<_> = r.results.iter().filter(|g| g.status == Status::Fail).collect();
    if !failures.is_empty() {
        out.push_str("\nfailures:\n");
        for g in failures {
            for finding in &g.findings {
                let _ =
                    writeln!(out, "  {}: {}: {}", g.name, printable(&finding.location()), printable(&finding.message));
            }
        }
    }
    let _ =
        writeln!(out, "gates' own time: {:.0} ms (git: {:.0} ms)", r.own_secs * 1e3, f.git_time.as_secs_f64() * 1e3);
    out
}

pub(crate) fn to_json(r: &Report) -> serde_json::Value {
    json!({
        "base": r.facts.merge_base,
        "head": r.facts.head,
        "base_desc": r.facts.base_desc,
        "commits": r.facts.commits.len(),
        "files": r.facts.files.len(),
        // What the gates' own work took, apart from git's (cargo xtask bench reads it).
        "timing": {"own_ms": r.own_secs * 1e3, "git_ms": r.facts.git_time.as_secs_f64() * 1e3},
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

/// PR-controlled text for a cell of the step summary's table: printable, and HTML/markdown special characters
/// escaped so a file name cannot add markup, links or table cells.
fn markdown_text(s: &str) -> String {
    let mut out = String::new();
    for c in printable(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' | '*' | '_' | '[' | ']' | '\\' | '!' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
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
            markdown_text(&g.summary)
        } else {
            g.findings
                .iter()
                .map(|f| format!("<code>{}</code> {}", markdown_text(&f.location()), markdown_text(&f.message)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(md, "| {} | {icon} | {details} |", g.name);
    }
    md
}
