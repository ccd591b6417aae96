//! `cargo xtask bench`: measurements, not tests. Each case runs several times and reports the median.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::Utf8Path;
use xshell::{Shell, cmd};

use crate::flags::BenchCase;
use crate::{Ctx, config, manifest};

/// One measured row of the table.
pub(crate) struct Row {
    pub name: String,
    pub median: Duration,
    pub detail: String,
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub(crate) fn run(ctx: &Ctx, cases: &[BenchCase], runs: usize) -> Result<()> {
    if ctx.global.dry_run || ctx.global.json {
        // Benchmarks build and run things: the plan only says which.
        let plan = serde_json::json!({
            "job": "bench",
            "cases": if cases.is_empty() { vec!["all"] } else { cases.iter().map(|c| c.as_str()).collect() },
            "runs": runs,
            "reports": "the median of each measurement, printed as a table",
        });
        return crate::plan::print_static(&plan, ctx.global.json);
    }
    let mut report = Report::default();
    for case in BenchCase::ALL.into_iter().filter(|c| cases.is_empty() || cases.contains(c)) {
        let measure: Case = match case {
            BenchCase::Build => case_build,
            BenchCase::Lint => case_lint,
            BenchCase::Package => case_package,
            BenchCase::Changed => case_changed,
            BenchCase::Upload => case_upload,
            BenchCase::Gates => case_gates,
            BenchCase::Test => case_test,
            BenchCase::Provision => case_provision,
            BenchCase::Matrix => case_matrix,
            BenchCase::Large => case_large,
        };
        measure(ctx, runs, &mut report)?;
    }
    println!("\n{:<48} {:>10}  detail", "benchmark (median)", "time");
    for r in &report.rows {
        println!("{:<48} {:>8.3} s  {}", r.name, r.median.as_secs_f64(), r.detail);
    }
    if !report.ratios.is_empty() {
        println!("\n{:<48} {:>10}", "ratio", "value");
        for (name, v, goal) in &report.ratios {
            println!("{name:<48} {v:>10.2}  {goal}");
        }
    }
    Ok(())
}

/// A ratio of two measurements: its name, value and goal.
type Ratio = (String, f64, String);

/// A benchmark: its rows and ratios, from `runs` runs per measurement.
type Case = fn(&Ctx, usize, &mut Report) -> Result<()>;

/// What the benchmarks measured.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    ratios: Vec<Ratio>,
}

/// The gates on histories of several sizes.
fn case_gates(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    r.rows.extend(bench_gates(&ctx.root, runs)?);
    Ok(())
}

/// The xtask's cold build, and `--help` through cargo and alone.
fn case_build(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    r.rows.push(bench_cold_build(ctx, runs.min(3))?);
    r.rows.push(time_rows(
        ctx,
        "warm `cargo xtask --help`",
        "cargo",
        &["xtask", "--help"],
        &[],
        runs,
        "goal: <= 0.25 s",
    )?);
    r.rows.push(time_rows(
        ctx,
        "the xtask binary alone, --help",
        exe.to_str().unwrap_or("xtask"),
        &["--help"],
        &[],
        runs,
        "",
    )?);
    Ok(())
}

/// `cargo xtask lint` against the same linters run one after another by hand.
fn case_lint(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    let by_hand = bench_lint_by_hand(ctx, runs)?;
    let xtask = time_rows(ctx, "cargo xtask lint", "cargo", &["xtask", "lint"], &[], runs, "concurrent steps")?;
    r.ratios.push((
        "lint / by hand".into(),
        xtask.median.as_secs_f64() / by_hand.median.as_secs_f64(),
        "goal: <= 0.8".into(),
    ));
    r.rows.push(by_hand);
    r.rows.push(xtask);
    Ok(())
}

/// A re-run of `package` on a packaged commit, and the wheels: the host's alone, then both Linux ones.
fn case_package(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    r.rows.push(bench_package_rerun(ctx, runs)?);
    // Both Linux wheels (zig, manylinux2014) against the host's alone, each a forced rebuild of a warm
    // build directory (what a re-run of the package job pays per wheel).
    let exe_s = exe.to_str().unwrap_or("xtask").to_owned();
    let host = crate::workspace::host_triple(ctx)?;
    let out = ctx.root.join(config::BENCH_DIR).join("wheels");
    let one = time_rows(
        ctx,
        "package --wheels, the host's wheel alone",
        &exe_s,
        &["package", "--wheels", "--force", "--targets", &host, "--out", out.as_str()],
        &[],
        runs.min(2),
        "warm, forced",
    )?;
    let both = time_rows(
        ctx,
        "package --wheels, x86_64 + aarch64 (zig)",
        &exe_s,
        &["package", "--wheels", "--force", "--out", out.as_str()],
        &[],
        runs.min(2),
        "warm, forced; manylinux2014",
    )?;
    r.ratios.push((
        "both Linux wheels / the host's wheel".into(),
        both.median.as_secs_f64() / one.median.as_secs_f64(),
        "the cost of the second architecture".into(),
    ));
    r.rows.extend([one, both]);
    Ok(())
}

/// The whole wheel matrix of a non-abi3 PyO3 project (`testkit::non_abi3_project`: 7 interpreters × manylinux
/// and musllinux × x86_64 and aarch64, 28 wheels) built from one fresh checkout, at the release profile's usual
/// `opt-level = 3`: the wall time a Linux package job pays with no cache, and wheels per minute. One cold run.
fn case_matrix(ctx: &Ctx, _runs: usize, r: &mut Report) -> Result<()> {
    let dir = ctx.root.join(config::BENCH_DIR).join("wheel-matrix");
    let files: Vec<(String, String)> =
        crate::testkit::non_abi3_project(None).into_iter().map(|(p, t)| (p.to_owned(), t)).collect();
    let sh = write_repository(ctx, &dir, &files)?;
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let env = [("XTASK_ROOT", dir.as_str()), ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")];
    let tools = ctx.tools.dir().to_string();
    let env: Vec<(&str, &str)> = env.into_iter().chain([("XTASK_TOOLS_DIR", tools.as_str())]).collect();
    eprintln!("bench: the wheel matrix of a non-abi3 package (28 wheels, one cold run)");
    let took = time_once(&sh, exe.to_str().unwrap_or("xtask"), &["package", "--kinds", "wheels"], &env)?;
    let wheels = std::fs::read_dir(dir.join("target/packages"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_dir(e.path().join("wheels")).ok())
        .flat_map(|d| d.filter_map(|e| e.ok()))
        .count();
    let per_minute = wheels as f64 / took.as_secs_f64() * 60.0;
    r.rows.push(row(
        "package: the wheel matrix of a non-abi3 package",
        took,
        &format!(
            "{wheels} wheels (7 interpreters × 4 Linux targets, zig), cold, opt-level 3: {per_minute:.1} wheels/min"
        ),
    ));
    Ok(())
}

/// A generated repository in `dir` (emptied first): `files`, the engine repository's lock file pruned by cargo
/// (its pyo3 and wasm-bindgen; elsewhere cargo resolves afresh), one commit. A shell in it.
fn write_repository(ctx: &Ctx, dir: &Utf8Path, files: &[(String, String)]) -> Result<Shell> {
    let _ = std::fs::remove_dir_all(dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap_or(dir)).with_context(|| format!("creating {p}"))?;
        std::fs::write(&p, text).with_context(|| format!("writing {p}"))?;
    }
    let _ = std::fs::copy(ctx.root.join("Cargo.lock"), dir.join("Cargo.lock"));
    let sh = Shell::new()?;
    sh.change_dir(dir);
    cmd!(sh, "cargo metadata --format-version 1").quiet().ignore_stdout().run()?;
    let who = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"];
    for args in [&["init", "-q", "-b", "main"][..], &["add", "-A"], &["commit", "-q", "-m", "bench"]] {
        cmd!(sh, "git {who...} {args...}").quiet().run()?;
    }
    Ok(sh)
}

/// The dependency line of `name` in one of this repository's manifests (the large workspace uses the same).
fn dependency_line(ctx: &Ctx, manifest: &str, name: &str) -> Result<String> {
    let text = std::fs::read_to_string(ctx.root.join(manifest))
        .with_context(|| format!("reading {manifest}: `bench large` runs in the engine's own repository"))?;
    text.lines()
        .find(|l| l.starts_with(&format!("{name} = ")))
        .map(str::to_owned)
        .with_context(|| format!("{manifest} names no {name}"))
}

/// The generated hundred-crate workspace (`testkit::large_workspace`): the test job's critical path with one
/// shard and with four (build the archive once + the slowest shard; the shards measured one after another
/// here), and how long each job takes to make its plan (`--json`: no step runs).
fn case_large(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    let dir = ctx.root.join(config::BENCH_DIR).join("large-workspace");
    let pyo3 = dependency_line(ctx, "crates/reel-py/Cargo.toml", "pyo3")?;
    let wasm_bindgen = dependency_line(ctx, "crates/reel-web/Cargo.toml", "wasm-bindgen")?;
    let files = crate::testkit::large_workspace(&pyo3, &wasm_bindgen);
    let sh = write_repository(ctx, &dir, &files)?;
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let exe = exe.to_str().unwrap_or("xtask");
    let tools = ctx.tools.dir().to_string();
    let env = [("XTASK_ROOT", dir.as_str()), ("XTASK_TOOLS_DIR", tools.as_str())];
    let archive = "target/ci/tests.tar.zst";
    eprintln!("bench: the large workspace: the test archive, then its shards one after another");
    let build = time_once(&sh, exe, &["test", "--archive", archive], &env)?;
    let one = time_once(&sh, exe, &["test", "--shard", "1/1", "--archive", archive], &env)?;
    let mut slowest = Duration::ZERO;
    for k in 1..=4 {
        let shard = format!("{k}/4");
        slowest = slowest.max(time_once(&sh, exe, &["test", "--shard", &shard, "--archive", archive], &env)?);
    }
    let (path1, path4) = (build + one, build + slowest);
    r.rows.push(row(
        "test, 1 shard: archive + the run",
        path1,
        &format!("{} crates, cold archive", crate::testkit::LARGE_CRATES),
    ));
    r.rows.push(row("test, 4 shards: archive + the slowest shard", path4, "the critical path of the sharded job"));
    r.rows.push(row("test: the archive (built once)", build, "what every shard job downloads"));
    r.rows.push(row("test: the run, 1 shard", one, ""));
    r.rows.push(row("test: the run, the slowest of 4 shards", slowest, ""));
    r.ratios.push(("4 shards / 1 shard (critical path)".into(), path4.as_secs_f64() / path1.as_secs_f64(), "".into()));
    for (name, args) in [
        ("plan: lint (large workspace)", &["lint", "--json"][..]),
        ("plan: test (large workspace)", &["test", "--json"]),
        ("plan: test --changed-since HEAD (large)", &["test", "--changed-since", "HEAD", "--json"]),
        ("plan: package (large workspace)", &["package", "--json"]),
        ("plan: ci plan lint-build-test (large)", &["ci", "plan", "--workflow", "lint-build-test"]),
    ] {
        let times = (0..runs.max(1)).map(|_| time_once(&sh, exe, args, &env)).collect::<Result<Vec<_>>>()?;
        r.rows.push(row(name, median(times), "goal: < 1 s"));
    }
    let sizes = time_once(&sh, exe, &["sizes", "--measure"], &env)?;
    r.rows.push(row("sizes --measure (large workspace)", sizes, "its crates packaged, no compile; goal: < 5 s"));
    large_cache(ctx, &files, r)
}

/// The build cache on the large workspace: its test archive built clean into an empty cache (a directory), and
/// again from a clone at another path once the first is gone (a runner's checkout, then a laptop's).
fn large_cache(ctx: &Ctx, files: &[(String, String)], r: &mut Report) -> Result<()> {
    let bench = ctx.root.join(config::BENCH_DIR);
    let store = bench.join("sccache");
    let _ = std::fs::remove_dir_all(&store);
    // A stable directory of the bench's own: no other cached job takes its slot between the two builds.
    let base = bench.join("xtask-build");
    let _ = std::fs::remove_dir_all(&base);
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let exe = exe.to_str().unwrap_or("xtask");
    let tools = ctx.tools.dir().to_string();
    let mut timed = Vec::new();
    for (dir, mode) in
        [(bench.join("cached/large-workspace"), "read-write"), (bench.join("elsewhere/large"), "read-only")]
    {
        let sh = write_repository(ctx, &dir, files)?;
        let env = [
            ("XTASK_ROOT", dir.as_str()),
            ("XTASK_TOOLS_DIR", tools.as_str()),
            ("XTASK_CACHE", mode),
            ("XTASK_CACHE_STORE", store.as_str()),
            ("XTASK_CACHE_BUILD_DIR", base.as_str()),
        ];
        eprintln!("bench: the large workspace's test archive through the build cache ({mode}) at {dir}");
        timed.push(time_once(&sh, exe, &["test", "--archive", "target/ci/tests.tar.zst"], &env)?);
        drop(sh);
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {dir}"))?;
    }
    r.rows.push(row("test archive, clean, empty build cache", timed[0], "writing the cache"));
    r.rows.push(row("test archive, clean, cached (another path)", timed[1], "the compiles hit; linking remains"));
    r.ratios.push((
        "cached / cold clean build (large workspace)".into(),
        timed[1].as_secs_f64() / timed[0].as_secs_f64(),
        "".into(),
    ));
    Ok(())
}

/// `test --changed-since` for a leaf change against a full run.
fn case_changed(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    let (leaf, full) = bench_changed_since(ctx, runs.min(2))?;
    r.ratios.push((
        "test --changed-since leaf / full".into(),
        leaf.median.as_secs_f64() / full.median.as_secs_f64(),
        "goal: <= 0.3".into(),
    ));
    r.rows.push(leaf);
    r.rows.push(full);
    Ok(())
}

/// Uploads against parallel curl, a second upload, and bulk throughput.
fn case_upload(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    let (ours, curl, again, bulk_ours, bulk_curl) = bench_upload(ctx, runs)?;
    r.ratios.push((
        "upload throughput / parallel curl, bulk (8 x 4 MiB)".into(),
        bulk_curl.median.as_secs_f64() / bulk_ours.median.as_secs_f64(),
        "goal: >= 0.8".into(),
    ));
    r.ratios.push((
        "upload throughput / parallel curl, this commit's packages".into(),
        curl.median.as_secs_f64() / ours.median.as_secs_f64(),
        String::new(),
    ));
    r.rows.extend([ours, curl, again, bulk_ours, bulk_curl]);
    Ok(())
}

/// The PR's critical path (goal: <= 60 s warm) and the heavy part CI runs beside it.
fn case_test(ctx: &Ctx, runs: usize, r: &mut Report) -> Result<()> {
    r.rows.push(time_rows(
        ctx,
        "cargo xtask test (default parts), warm",
        "cargo",
        &["xtask", "test"],
        &[],
        runs.min(2),
        "goal: <= 60 s",
    )?);
    r.rows.push(time_rows(
        ctx,
        "cargo xtask test --part heavy, warm",
        "cargo",
        &["xtask", "test", "--part", "heavy"],
        &[],
        1,
        "its own CI job, in parallel",
    )?);
    Ok(())
}

/// Every pinned tool from nothing, into a throwaway tools directory (the system packages aside).
fn case_provision(ctx: &Ctx, _runs: usize, r: &mut Report) -> Result<()> {
    let dir = ctx.root.join(config::BENCH_DIR).join("tools");
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("bench: provisioning every tool into {dir}");
    let sh = &ctx.sh;
    let t = std::time::Instant::now();
    // Nothing of this checkout's own tools directory on PATH (this process put it first), or every tool is
    // "found" there.
    let ours: Vec<std::path::PathBuf> = ctx.tools.bin_dirs().into_iter().map(Into::into).collect();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::env::split_paths(&path).filter(|p| !ours.contains(p)))?;
    cmd!(sh, "cargo xtask doctor --provision").env("XTASK_TOOLS_DIR", &dir).env("PATH", path).run()?;
    r.rows.push(row("every pinned tool provisioned from nothing", t.elapsed(), "one run; cargo installs dominate"));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn time_once(sh: &Shell, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Duration> {
    let mut c = sh.cmd(program).args(args).quiet().ignore_stdout().ignore_stderr();
    for (k, v) in env {
        c = c.env(k, v);
    }
    let t = Instant::now();
    c.run().with_context(|| format!("bench: {program} {}", args.join(" ")))?;
    Ok(t.elapsed())
}

/// One warm-up, then `runs` timed runs.
fn time_rows(
    ctx: &Ctx,
    name: &str,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    runs: usize,
    detail: &str,
) -> Result<Row> {
    eprintln!("bench: {name}");
    time_once(&ctx.sh, program, args, env)?;
    let times = (0..runs).map(|_| time_once(&ctx.sh, program, args, env)).collect::<Result<Vec<_>>>()?;
    Ok(row(name, median(times), detail))
}

/// A row, also printed at once (a later case that fails does not lose it).
fn row(name: &str, median: Duration, detail: &str) -> Row {
    eprintln!("bench: {name}: {:.3} s {detail}", median.as_secs_f64());
    Row { name: name.into(), median, detail: detail.into() }
}

fn bench_cold_build(ctx: &Ctx, runs: usize) -> Result<Row> {
    eprintln!("bench: cold build of the xtask ({runs} runs)");
    let dir = ctx.root.join(config::BENCH_DIR).join("cold");
    let sh = &ctx.sh;
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let _ = std::fs::remove_dir_all(&dir);
        times.push(time_once(
            sh,
            "cargo",
            &["build", "--quiet", "--locked", "--package", "xtask"],
            &[("CARGO_TARGET_DIR", dir.as_str())],
        )?);
    }
    let tree = cmd!(sh, "cargo tree --locked --package xtask --edges normal,build --prefix none").quiet().read()?;
    let mut crates: Vec<&str> = tree
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(l))
        .filter(|c| !["xtask", "xtask-engine"].contains(c))
        .collect();
    crates.sort();
    crates.dedup();
    let detail =
        format!("{} dependencies (normal + build, deduplicated); rust-analyzer's xtask: about 8 s here", crates.len());
    Ok(row("cold build of the xtask", median(times), &detail))
}

/// The lint plan's commands run one after another, as a person would by hand.
fn bench_lint_by_hand(ctx: &Ctx, runs: usize) -> Result<Row> {
    // The lint plan, as the job emits it (plans are data), with its tools provisioned.
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let json = cmd!(ctx.sh, "{exe} lint --json").env("XTASK_ROOT", &ctx.root).quiet().read().context("lint --json")?;
    let plan: serde_json::Value = serde_json::from_str(&json).context("lint --json printed no JSON")?;
    let tools: Vec<&str> = plan["tools"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
    ctx.tools.ensure(&ctx.sh, &tools)?;
    let steps: Vec<&serde_json::Value> =
        plan["steps"].as_array().into_iter().flatten().filter(|s| s["kind"] == "run").collect();
    let run_all = || -> Result<Duration> {
        let t = Instant::now();
        for s in &steps {
            let program = s["program"].as_str().unwrap_or_default();
            let args: Vec<&str> = s["args"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
            let env: Vec<(&str, &str)> = s["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|kv| Some((kv[0].as_str()?, kv[1].as_str()?)))
                .collect();
            time_once(&ctx.sh, program, &args, &env)?;
        }
        Ok(t.elapsed())
    };
    eprintln!("bench: the lint tools by hand, one after another");
    run_all()?;
    let times = (0..runs).map(|_| run_all()).collect::<Result<Vec<_>>>()?;
    Ok(row("lint tools by hand, sequentially", median(times), &format!("{} commands", steps.len())))
}

fn bench_package_rerun(ctx: &Ctx, runs: usize) -> Result<Row> {
    let status = cmd!(ctx.sh, "git status --porcelain").quiet().read()?;
    let detail = if status.trim().is_empty() {
        "clean tree: every kind up to date; goal: about 1 s"
    } else {
        "DIRTY tree: a dirty tree always rebuilds, so this is not the re-run case"
    };
    time_rows(ctx, "cargo xtask package --all, again", "cargo", &["xtask", "package", "--all"], &[], runs, detail)
}

/// In a clone: `test --changed-since HEAD` after a one-line change in a leaf crate, versus the full run.
fn bench_changed_since(ctx: &Ctx, runs: usize) -> Result<(Row, Row)> {
    let sh = &ctx.sh;
    let clone = ctx.root.join(config::BENCH_DIR).join("changed-clone");
    let root = &ctx.root;
    if !clone.join(".git").exists() {
        cmd!(sh, "git clone --quiet --no-hardlinks {root} {clone}").run()?;
    }
    let head = cmd!(sh, "git -C {root} rev-parse HEAD").quiet().read()?;
    cmd!(sh, "git -C {clone} fetch --quiet {root} HEAD").run()?;
    cmd!(sh, "git -C {clone} checkout --quiet --force {head}").run()?;
    // A leaf: a workspace crate no other one depends on (the first such, by name); a line added to its
    // lib.rs or main.rs.
    let packages = crate::workspace::workspace_packages(ctx)?;
    let leaf_pkg = packages
        .iter()
        .filter(|p| !packages.iter().any(|o| o.deps.iter().any(|d| d.0 == p.name)))
        .filter(|p| p.dir.join("src").is_dir() && !p.dir.starts_with(ctx.root.join("xtask")))
        .min_by(|a, b| a.name.cmp(&b.name))
        .context("no leaf crate in the workspace")?;
    let src = leaf_pkg.dir.join("src");
    let file =
        ["lib.rs", "main.rs"].iter().map(|f| src.join(f)).find(|f| f.is_file()).context("no lib.rs or main.rs")?;
    let leaf = clone.join(file.strip_prefix(&ctx.root)?);
    let text = std::fs::read_to_string(&leaf)?;
    std::fs::write(&leaf, format!("{text}// a one-line change for the benchmark\n"))?;
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().context("exe path")?;
    let tools = ctx.tools.dir();
    let env = [("XTASK_ROOT", clone.as_str()), ("XTASK_TOOLS_DIR", tools.as_str())];
    let leaf_row = time_rows(
        ctx,
        "test --changed-since HEAD (leaf crate changed)",
        exe,
        &["test", "--changed-since", "HEAD"],
        &env,
        runs,
        &format!("runs {}'s tests only", leaf_pkg.name),
    )?;
    let full = time_rows(ctx, "test, full run (same clone, warm)", exe, &["test"], &env, runs, "")?;
    std::fs::write(&leaf, text)?;
    Ok((leaf_row, full))
}

/// Medians (after one warm-up) of `xtask upload` of `commit` from `from` versus one curl process per file, all
/// at once, to the `bench` bucket at `url`; every run writes under fresh names.
#[allow(clippy::too_many_arguments)]
fn upload_vs_curl(
    exe: &str,
    url: &str,
    label: &str,
    commit: &str,
    from: &Utf8Path,
    dir: &Utf8Path,
    artifacts: &[manifest::Artifact],
    runs: usize,
) -> Result<(Duration, Duration)> {
    let sh = Shell::new()?;
    let (mut ours, mut curl) = (Vec::new(), Vec::new());
    for i in 0..runs + 1 {
        let store = format!("gs://bench/{label}-xtask-{i}");
        let t = Instant::now();
        cmd!(sh, "{exe} upload --store {store} --endpoint {url} --commit {commit} --from {from}")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()?;
        ours.push(t.elapsed());
        let t = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = artifacts
                .iter()
                .map(|a| {
                    let sh = Shell::new().unwrap();
                    let file = dir.join(&a.path);
                    let target =
                        format!("{url}/upload/storage/v1/b/bench/o?uploadType=media&name={label}-curl-{i}/{}", a.path);
                    s.spawn(move || {
                        cmd!(sh, "curl -sS -f -o /dev/null -X POST --data-binary @{file} {target}").quiet().run()
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| anyhow::anyhow!("curl thread panicked"))??;
            }
            Ok(())
        })?;
        curl.push(t.elapsed());
    }
    Ok((median(ours[1..].to_vec()), median(curl[1..].to_vec())))
}

/// The commit's artifacts to a local GCS server: `cargo xtask upload` versus plain parallel curl.
fn bench_upload(ctx: &Ctx, runs: usize) -> Result<(Row, Row, Row, Row, Row)> {
    let sh = &ctx.sh;
    let head = cmd!(sh, "git rev-parse HEAD").quiet().read()?;
    let dir = ctx.root.join(config::PACKAGES_DIR).join(head.trim());
    if !dir.join(manifest::FILE).exists() {
        cmd!(sh, "cargo xtask package --all").run()?;
    }
    let m = manifest::Manifest::read(&dir.join(manifest::FILE))?;
    let bytes: u64 = m.artifacts.iter().map(|a| a.size).sum();
    // The store's own local server (what the tests start too), stopped when `server` drops.
    let server = crate::store::local::LocalGcs::start(&ctx.tools, "bench", None)?;
    let url = server.endpoint();
    let result = (|| -> Result<(Row, Row, Row, Row, Row)> {
        let exe = std::env::current_exe()?;
        let exe = exe.to_str().context("exe path")?;
        let head = head.trim().to_owned();
        let packages = ctx.root.join(config::PACKAGES_DIR);
        let (ours, curl) = upload_vs_curl(exe, &url, "small", &head, &packages, &dir, &m.artifacts, runs)?;
        let (bulk_ours_row, bulk_curl_row) = bulk_rows(ctx, exe, &url, runs)?;
        let again = time_rows(
            ctx,
            "upload again (everything already there)",
            exe,
            &["upload", "--store", "gs://bench/xtask-0", "--endpoint", &url],
            &[],
            runs,
            "sends 0 bytes; goal: about 1 s",
        )?;
        let mib = |d: Duration| bytes as f64 / 1048576.0 / d.as_secs_f64();
        Ok((
            row(
                "cargo xtask upload (local GCS server)",
                ours,
                &format!("{} objects, {bytes} bytes, {:.1} MiB/s", m.artifacts.len(), mib(ours)),
            ),
            row("plain parallel curl upload, same files", curl, &format!("{:.1} MiB/s", mib(curl))),
            again,
            bulk_ours_row,
            bulk_curl_row,
        ))
    })();
    drop(server);
    result
}

/// Bulk: 8 files of 4 MiB (what several platforms' wheels and bundles weigh), where throughput, not the
/// per-request round trips of nine small files, decides: this xtask's upload against parallel curl.
fn bulk_rows(ctx: &Ctx, exe: &str, url: &str, runs: usize) -> Result<(Row, Row)> {
    let bulk_commit = "b".repeat(40);
    let bulk_root = ctx.root.join(config::BENCH_DIR).join("bulk");
    let bulk_dir = bulk_root.join(&bulk_commit);
    let artifacts = write_bulk_commit(&bulk_dir, &bulk_commit)?;
    let bulk_bytes: u64 = artifacts.iter().map(|a| a.size).sum();
    let (bulk_ours, bulk_curl) =
        upload_vs_curl(exe, url, "bulk", &bulk_commit, &bulk_root, &bulk_dir, &artifacts, runs)?;
    let bmib = |d: Duration| bulk_bytes as f64 / 1048576.0 / d.as_secs_f64();
    let bulk_ours_row =
        row("cargo xtask upload, bulk (8 x 4 MiB)", bulk_ours, &format!("{:.0} MiB/s", bmib(bulk_ours)));
    let bulk_curl_row = row(
        "plain parallel curl, bulk (8 x 4 MiB)",
        bulk_curl,
        &format!(
            "{:.0} MiB/s; throughput ratio {:.2}",
            bmib(bulk_curl),
            bulk_curl.as_secs_f64() / bulk_ours.as_secs_f64()
        ),
    );
    Ok((bulk_ours_row, bulk_curl_row))
}

/// A packaged commit of 8 pseudo-random 4 MiB wheels in `dir`, with its manifest; returns its artifacts.
fn write_bulk_commit(dir: &Utf8Path, commit: &str) -> Result<Vec<manifest::Artifact>> {
    let mut artifacts = Vec::new();
    std::fs::create_dir_all(dir.join("wheels"))?;
    for i in 0..8u8 {
        let data: Vec<u8> = (0..4u32 << 20).map(|j| (j.wrapping_mul(2_654_435_761) >> 13) as u8 ^ i).collect();
        let rel = format!("wheels/bulk-{i}.whl");
        std::fs::write(dir.join(&rel), &data)?;
        artifacts.push(manifest::Artifact {
            kind: manifest::Kind::Wheel,
            name: format!("bulk-{i}"),
            path: rel,
            size: data.len() as u64,
            sha256: crate::sha256::digest(&data),
            version: "0.0.0".into(),
            platform: Some("bench".into()),
            tag: None,
            command: String::new(),
            tools: vec![],
        });
    }
    manifest::Manifest {
        commit: commit.to_owned(),
        dirty: false,
        source_date_epoch: 0,
        xtask_version: "0".into(),
        version: "0.0.0".into(),
        artifacts: artifacts.clone(),
    }
    .write_atomic(&dir.join(manifest::FILE))?;
    Ok(artifacts)
}

/// A repository of 20,000 files whose branch `change` changes 300 of them and adds 200.
fn make_gates_repository(sh: &Shell, dir: &Utf8Path) -> Result<()> {
    eprintln!("bench gates: creating a 20,000-file repository in {dir}");
    let _ = std::fs::remove_dir_all(dir);
    for i in 0..20_000 {
        let p = dir.join(format!("d{:03}/f{i:05}.txt", i % 400));
        std::fs::create_dir_all(p.parent().unwrap())?;
        std::fs::write(&p, format!("line one of {i}\nline two\nline three\n"))?;
    }
    sh.change_dir(dir);
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
    Ok(())
}

/// Gates on a synthetic repository of 20,000 files with a 500-file change (200 of them new).
fn bench_gates(root: &Utf8Path, runs: usize) -> Result<Vec<Row>> {
    let dir = root.join(config::BENCH_DIR).join("gates-repo");
    let sh = Shell::new()?;
    if !dir.join(".git").exists() {
        make_gates_repository(&sh, &dir)?;
    }
    // The gates job on that repository, with the documented default gates (it has no ci.toml); its JSON report
    // says how long its own work and git's took.
    let exe = std::env::current_exe().context("finding the xtask executable")?;
    let (mut own, mut git, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut files = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = cmd!(sh, "{exe} gates --defaults --base main --labels= --json")
            .env("XTASK_ROOT", &dir)
            .quiet()
            .ignore_status()
            .read()
            .context("bench gates")?;
        total.push(t.elapsed());
        let r: serde_json::Value = serde_json::from_str(&out).context("gates --json printed no JSON")?;
        own.push(Duration::from_secs_f64(r["timing"]["own_ms"].as_f64().unwrap_or_default() / 1e3));
        git.push(Duration::from_secs_f64(r["timing"]["git_ms"].as_f64().unwrap_or_default() / 1e3));
        files = r["files"].as_u64().unwrap_or_default();
    }
    Ok(vec![
        row(
            "gates: own work (20k files, 500 changed)",
            median(own),
            &format!("{files} changed files; goal: well under 1 s"),
        ),
        row("gates: git's time", median(git), ""),
        row("gates: total", median(total), ""),
    ])
}
