//! Where a job's time went: a text timeline per step, and a Mermaid gantt chart for GitHub's step summary.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Outcome, StepResult};

/// A step's span on a text timeline `width` columns wide: where the time of the job went, at a glance.
pub(crate) fn bar(r: &StepResult, total: Duration, width: usize) -> String {
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
pub(crate) fn gantt(job: &str, results: &[StepResult], total: Duration) -> String {
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
