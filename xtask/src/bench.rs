//! `cargo xtask bench`: measurements, not tests. Each case runs several times and reports the median.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{Shell, cmd};

use crate::{Ctx, config, gates};

/// One measured row of the table.
pub struct Row {
    pub name: String,
    pub median: Duration,
    pub detail: String,
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(ctx: &Ctx, cases: &[String], runs: usize) -> Result<()> {
    let all = cases.is_empty();
    let want = |c: &str| all || cases.iter().any(|x| x == c);
    let mut rows = Vec::new();
    if want("gates") {
        rows.extend(bench_gates(&ctx.root, runs)?);
    }
    println!("\n{:<44} {:>10}  detail", "benchmark", "median");
    for r in &rows {
        println!("{:<44} {:>8.3} s  {}", r.name, r.median.as_secs_f64(), r.detail);
    }
    Ok(())
}

/// Gates on a synthetic repository of 20,000 files with a 500-file change (200 of them new).
fn bench_gates(root: &Utf8Path, runs: usize) -> Result<Vec<Row>> {
    let dir = root.join("target/bench/gates-repo");
    let sh = Shell::new()?;
    if !dir.join(".git").exists() {
        eprintln!("bench gates: creating a 20,000-file repository in {dir}");
        let _ = std::fs::remove_dir_all(&dir);
        for i in 0..20_000 {
            let p = dir.join(format!("d{:03}/f{i:05}.txt", i % 400));
            std::fs::create_dir_all(p.parent().unwrap())?;
            std::fs::write(&p, format!("line one of {i}\nline two\nline three\n"))?;
        }
        sh.change_dir(&dir);
        let _e = [
            sh.push_env("GIT_AUTHOR_NAME", "bench"),
            sh.push_env("GIT_AUTHOR_EMAIL", "bench@example.com"),
            sh.push_env("GIT_COMMITTER_NAME", "bench"),
            sh.push_env("GIT_COMMITTER_EMAIL", "bench@example.com"),
        ];
        cmd!(sh, "git init -q -b main").run()?;
        cmd!(sh, "git add -A").run()?;
        cmd!(sh, "git commit -q -m base").run()?;
        cmd!(sh, "git checkout -q -b change").run()?;
        for i in 0..300 {
            let p = dir.join(format!("d{:03}/f{i:05}.txt", i % 400));
            std::fs::write(&p, format!("line one of {i}\nline two changed\nline three\nand a fourth\n"))?;
        }
        for i in 0..200 {
            let p = dir.join(format!("new/n{i:04}.rs"));
            std::fs::create_dir_all(p.parent().unwrap())?;
            let body: String = (0..40).map(|l| format!("fn f{l}() {{ /* {i} */ }}\n")).collect();
            std::fs::write(&p, body)?;
        }
        cmd!(sh, "git add -A").run()?;
        cmd!(sh, "git commit -q -m change").run()?;
    }
    let args = gates::Args { base: Some("main".into()), ..Default::default() };
    let pr = gates::Pr::default();
    let (mut own, mut git, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut files = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = gates::evaluate(&sh, &dir, &args, &pr, &config::GATES).context("bench gates")?;
        total.push(t.elapsed());
        own.push(Duration::from_secs_f64(r.own_secs));
        git.push(r.facts.git_time);
        files = r.facts.files.len();
    }
    Ok(vec![
        Row {
            name: "gates: own work (20k files, 500 changed)".into(),
            median: median(own),
            detail: format!("{files} changed files; goal: well under 1 s"),
        },
        Row { name: "gates: git's time".into(), median: median(git), detail: String::new() },
        Row { name: "gates: total".into(), median: median(total), detail: String::new() },
    ])
}
