//! The Rust tests across runners: built once into a nextest archive (`test --archive FILE`), run in partitions
//! elsewhere (`test --shard K/N --archive FILE`, each writing JUnit), and joined (`test --join DIR`: every test
//! exactly once, the totals, and each test that passed only on a retry, by name, also in GitHub's job summary).
//!
//! Partitions are nextest's `slice:K/N`: round-robin over the archive's whole test list, so the shards are even
//! (`count:` deals per test binary, which leaves shards empty where binaries hold few tests) and their union is
//! the archive's tests, each once; the join checks it on the results.

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};

use crate::config::{CI_DIR, tool};
use crate::flags::Shard;
use crate::plan::{JobFailed, Plan, Step};
use crate::{Ctx, affected};

use crate::config::{JUNIT_DIR, TEST_ARCHIVE as DEFAULT_ARCHIVE};
/// The nextest profile the engine's tool configuration defines (retries, JUnit).
const PROFILE: &str = "xtask-ci";

/// The sharded forms take only their own flags: `--join DIR` alone; `--archive`/`--shard` without `--part`,
/// `--unit-tests` or runner arguments (a shard is the Rust unit tests' partition, nothing else).
pub(crate) fn check_flags(f: &crate::flags::Test) -> Result<()> {
    let sharded = f.archive.is_some() || f.shard.is_some();
    let others = !f.part.is_empty() || f.unit_tests.is_some() || !f.runner_args.is_empty();
    if f.join.is_some() && (sharded || others || f.changed_since.is_some()) {
        bail!("--join takes no other flag\nfix: cargo xtask test --join DIR");
    }
    if sharded && others {
        bail!(
            "--archive and --shard run the Rust unit tests' partitions: --part, --unit-tests and runner arguments \
             do not apply\nfix: cargo xtask test --shard K/N [--archive FILE]"
        );
    }
    Ok(())
}

/// `test --archive` and/or `--shard`: the archive built (when missing, or always without `--shard`), then the
/// partition run.
pub(crate) fn run(
    ctx: &Ctx,
    archive: Option<&Utf8Path>,
    shard: Option<Shard>,
    changed_since: Option<&str>,
) -> Result<()> {
    crate::bootstrap::ensure(ctx)?;
    let archive = archive.map(Utf8Path::to_path_buf).unwrap_or_else(|| DEFAULT_ARCHIVE.into());
    let abs = ctx.root.join(&archive);
    let packages = packages(ctx, changed_since)?;
    let config = ctx.root.join(CI_DIR).join("nextest.toml");
    let plan = plan(&Inputs {
        archive: &archive,
        build: shard.is_none() || !abs.is_file(),
        shard,
        packages: &packages,
        rust_args: ctx.settings.test_rust_args(),
        config: &config,
    });
    let from = ctx.root.join("target/nextest").join(PROFILE).join("junit.xml");
    if !(ctx.global.dry_run || ctx.global.json) {
        if shard.is_none() {
            // A new archive starts a new run: no shard's results of an earlier one are joined with it.
            let _ = std::fs::remove_dir_all(ctx.root.join(JUNIT_DIR));
        }
        if let Some(s) = shard {
            // Neither this shard's file of an earlier run nor nextest's last report may stand for this one.
            let _ = std::fs::remove_file(ctx.root.join(JUNIT_DIR).join(junit_name(s)));
            let _ = std::fs::remove_file(&from);
        }
        std::fs::create_dir_all(ctx.root.join(JUNIT_DIR)).context("creating the JUnit directory")?;
        std::fs::write(&config, tool_config(ctx.settings.test_retries())).context("writing nextest's configuration")?;
    }
    let ran = ctx.execute(&plan);
    let Some(s) = shard.filter(|_| !(ctx.global.dry_run || ctx.global.json)) else { return ran };
    // nextest writes JUnit under the target directory, by profile, failed tests included: kept per shard for
    // the join, and summarized here, also when a test failed.
    if !from.is_file() {
        return ran;
    }
    let to = ctx.root.join(JUNIT_DIR).join(junit_name(s));
    std::fs::copy(&from, &to).with_context(|| format!("copying {from} to {to}"))?;
    let results = read_junit(&std::fs::read_to_string(&to)?).with_context(|| format!("reading {to}"))?;
    summarize(&format!("shard {s}"), &results)?;
    ran
}

/// The `--workspace` or `--package` arguments of the archive: what the change affects.
fn packages(ctx: &Ctx, changed_since: Option<&str>) -> Result<Vec<String>> {
    let affected = affected::for_flag(ctx, changed_since)?;
    let excluded = ctx.settings.test_excluded();
    Ok(if affected.everything.is_some() {
        std::iter::once("--workspace".to_owned())
            .chain(excluded.iter().flat_map(|c| ["--exclude".to_owned(), c.clone()]))
            .collect()
    } else {
        affected
            .crates
            .iter()
            .filter(|c| !excluded.contains(c))
            .flat_map(|c| ["--package".to_owned(), c.clone()])
            .collect()
    })
}

/// The JUnit file of shard `s`.
pub(crate) fn junit_name(s: Shard) -> String {
    format!("shard-{}-of-{}.xml", s.k, s.n)
}

/// nextest's configuration for the engine's profile: retries (a test that passes on one is flaky) and JUnit.
fn tool_config(retries: u32) -> String {
    format!(
        "[profile.{PROFILE}]\nretries = {retries}\nfail-fast = false\n\n[profile.{PROFILE}.junit]\npath = \"junit.xml\"\n"
    )
}

/// What a sharded test plan depends on.
pub(crate) struct Inputs<'a> {
    pub archive: &'a Utf8Path,
    /// Build the archive (it is missing, or only the archive is asked for).
    pub build: bool,
    pub shard: Option<Shard>,
    pub packages: &'a [String],
    pub rust_args: &'a [String],
    /// The engine's nextest configuration (retries, JUnit).
    pub config: &'a Utf8Path,
}

pub(crate) fn plan(i: &Inputs<'_>) -> Plan {
    let mut plan = Plan::new("test");
    let archive = i.archive.as_str();
    if i.build {
        plan.push(
            Step::run("rust tests: archive", "cargo", &["nextest", "archive", "--locked", "--archive-file", archive])
                .args(i.packages.iter().cloned())
                .args(i.rust_args.iter().cloned())
                .tools(&[tool::CARGO, tool::NEXTEST])
                .hint("the Rust tests, built once: each shard runs its partition of this archive"),
        );
    } else {
        plan.note(format!("the archive {archive} is there: not built again"));
    }
    let Some(s) = i.shard else { return plan };
    let partition = format!("slice:{s}");
    plan.push(
        Step::run(&format!("rust tests: shard {s}"), "cargo", &["nextest", "run", "--archive-file", archive])
            .args(["--workspace-remap", ".", "--partition", &partition, "--no-tests", "warn"])
            .args(["--profile", PROFILE, "--tool-config-file", &format!("xtask:{}", i.config)])
            .tools(&[tool::CARGO, tool::NEXTEST])
            .hint("one partition of the archive's tests; the other shards run the rest"),
    );
    plan
}

/// One test's result in a JUnit file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TestResult {
    /// `classname name`, e.g. `lw-000 tests::flaky`.
    pub name: String,
    pub failed: bool,
    /// It failed, then passed on a retry.
    pub flaky: bool,
}

/// The test cases of a JUnit file as nextest writes it: `<testcase name=".." classname="..">`, with a
/// `<failure>`/`<error>` child when it failed and `<flakyFailure>` children when it passed on a retry.
pub(crate) fn read_junit(xml: &str) -> Result<Vec<TestResult>> {
    let Some(root) = xml.find("<testsuites").map(|at| &xml[at..]) else {
        bail!("no <testsuites> element: not a JUnit report of nextest\nfix: join only what `test --shard` wrote");
    };
    let head = &root[..root.find('>').unwrap_or(root.len())];
    let declared: Option<usize> =
        head.split(" tests=\"").nth(1).and_then(|v| v.split('"').next()).and_then(|v| v.parse().ok());
    let found = testcases(xml);
    match declared {
        Some(n) if n == found.len() => Ok(found),
        Some(n) => bail!("it declares {n} tests and holds {}: cut short or altered", found.len()),
        None => bail!("its <testsuites> element has no tests count: not a JUnit report of nextest"),
    }
}

fn testcases(xml: &str) -> Vec<TestResult> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find("<testcase ") {
        rest = &rest[at..];
        let head_end = rest.find('>').unwrap_or(rest.len());
        let head = &rest[..head_end];
        let body_end = if head.ends_with('/') { head_end } else { rest.find("</testcase>").unwrap_or(rest.len()) };
        let body = &rest[head_end.min(body_end)..body_end];
        let attr = |name: &str| -> String {
            let key = format!(" {name}=\"");
            head.find(&key)
                .map(|p| &head[p + key.len()..])
                .and_then(|v| v.split('"').next())
                .map(unescape)
                .unwrap_or_default()
        };
        out.push(TestResult {
            name: format!("{} {}", attr("classname"), attr("name")).trim().to_owned(),
            failed: body.contains("<failure") || body.contains("<error"),
            flaky: body.contains("<flakyFailure") || body.contains("<flakyError"),
        });
        rest = &rest[body_end.max(1)..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The totals and the flaky tests of `results`, printed and added to GitHub's job summary; a failure fails.
fn summarize(what: &str, results: &[TestResult]) -> Result<()> {
    let failed: Vec<&str> = results.iter().filter(|r| r.failed).map(|r| r.name.as_str()).collect();
    let flaky: Vec<&str> = results.iter().filter(|r| r.flaky && !r.failed).map(|r| r.name.as_str()).collect();
    let mut md = format!(
        "### Rust tests: {what}\n\n| tests | passed | failed | flaky |\n|---|---|---|---|\n| {} | {} | {} | {} |\n",
        results.len(),
        results.len() - failed.len(),
        failed.len(),
        flaky.len()
    );
    for (label, names) in [("failed", &failed), ("flaky (passed on a retry)", &flaky)] {
        if !names.is_empty() {
            md.push_str(&format!("\n**{label}**:\n"));
            for n in names.iter() {
                md.push_str(&format!("- `{}`\n", crate::plan::printable(n).replace('`', "'")));
            }
        }
    }
    println!("{md}");
    if let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(&path)?;
        f.write_all(md.as_bytes())?;
    }
    if !failed.is_empty() {
        let names: Vec<String> = failed.iter().map(|n| crate::plan::printable(n)).collect();
        return Err(JobFailed(format!("{what}: {} test(s) failed: {}", failed.len(), names.join(", "))).into());
    }
    Ok(())
}

/// `test --join DIR`: the shards' JUnit files, each test exactly once across them.
pub(crate) fn join(ctx: &Ctx, dir: &Utf8Path) -> Result<()> {
    let dir = if dir.is_absolute() { dir.to_path_buf() } else { ctx.root.join(dir) };
    if ctx.global.dry_run || ctx.global.json {
        let plan = serde_json::json!({ "job": "test --join", "junit": dir.as_str(), "reads": "shard-K-of-N.xml" });
        return crate::plan::print_static(&plan, ctx.global.json);
    }
    let mut files: Vec<Utf8PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {dir}\nfix: download every shard's JUnit file into it"))?
        .filter_map(|e| Utf8PathBuf::from_path_buf(e.ok()?.path()).ok())
        .filter(|p| p.extension() == Some("xml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no JUnit file (*.xml) in {dir}\nfix: download every shard's JUnit file into it");
    }
    complete(&files)?;
    let mut all: Vec<TestResult> = Vec::new();
    let mut twice = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?;
        for r in read_junit(&text).with_context(|| format!("{f}"))? {
            if all.iter().any(|a| a.name == r.name) {
                twice.push(crate::plan::printable(&r.name));
            }
            all.push(r);
        }
    }
    if !twice.is_empty() {
        return Err(JobFailed(format!("tests ran in more than one shard: {}", twice.join(", "))).into());
    }
    summarize(&format!("{} shards joined", files.len()), &all)
}

/// Every shard of one run is there: the files are `shard-K-of-N.xml` for one N and every K of 1..=N.
fn complete(files: &[Utf8PathBuf]) -> Result<()> {
    let mut shards = Vec::new();
    for f in files {
        let name = f.file_name().unwrap_or_default();
        let parsed = name
            .strip_prefix("shard-")
            .and_then(|r| r.strip_suffix(".xml"))
            .and_then(|r| r.split_once("-of-"))
            .and_then(|(k, n)| format!("{k}/{n}").parse::<Shard>().ok());
        match parsed {
            Some(s) => shards.push(s),
            None => bail!(
                "{} is no shard's JUnit file (shard-K-of-N.xml)\nfix: join only what `test --shard` wrote",
                crate::plan::printable(name)
            ),
        }
    }
    let n = shards[0].n;
    if let Some(other) = shards.iter().find(|s| s.n != n) {
        bail!("the files are of two runs (shards of {n} and of {})\nfix: join one run's files", other.n);
    }
    let missing: Vec<String> =
        (1..=n).filter(|k| !shards.iter().any(|s| s.k == *k)).map(|k| format!("{k}/{n}")).collect();
    if !missing.is_empty() {
        return Err(
            JobFailed(format!("shard {} did not report: its tests are unaccounted for", missing.join(", "))).into()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
