use super::*;

/// What nextest writes (quick-junit): a pass, a failure with its reruns, a flaky pass, a self-closing case, and
/// names that need unescaping.
const JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="4" failures="1" errors="0">
    <testsuite name="lw-001" tests="4" disabled="0" errors="0" failures="1">
        <testcase name="tests::is_positive" classname="lw-001" timestamp="2026-12-06T17:00:00Z" time="0.001">
        </testcase>
        <testcase name="tests::exceeds_its_dependencies" classname="lw-001" time="0.002">
            <failure type="test failure">thread panicked</failure>
            <rerunFailure type="test failure">thread panicked</rerunFailure>
        </testcase>
        <testcase name="tests::flaky" classname="lw-000" time="0.001">
            <flakyFailure type="test failure">the first run</flakyFailure>
        </testcase>
        <testcase name="tests::a&lt;b&gt;" classname="lw-001" time="0.001"/>
    </testsuite>
</testsuites>
"#;

#[test]
fn junit_is_read_for_failures_and_flaky_tests() {
    let r = read_junit(JUNIT).unwrap();
    let names: Vec<&str> = r.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "lw-001 tests::is_positive",
            "lw-001 tests::exceeds_its_dependencies",
            "lw-000 tests::flaky",
            "lw-001 tests::a<b>"
        ]
    );
    assert_eq!(
        r.iter().map(|t| (t.failed, t.flaky)).collect::<Vec<_>>(),
        [(false, false), (true, false), (false, true), (false, false)]
    );
    // Not a report, or one cut short (fewer cases than it declares): refused, never counted as zero tests.
    let cut = &JUNIT[..JUNIT.find("<testcase name=\"tests::flaky").unwrap()];
    for bad in ["not xml at all <testcase", "", cut] {
        assert!(read_junit(bad).is_err(), "{bad}");
    }
}

#[test]
fn shards_are_read_as_k_of_n_and_refused_with_the_form() {
    assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { k: 2, n: 4 });
    for bad in ["0/4", "5/4", "4", "a/b", "1/65", "1/4/2", "-1/4"] {
        let e = bad.parse::<Shard>().unwrap_err();
        assert!(e.contains("is no shard") && e.contains("fix: write K/N"), "{bad}: {e}");
    }
}

#[test]
fn the_plan_builds_once_and_runs_one_partition_with_junit_and_retries() {
    let packages = ["--workspace".to_owned()];
    let i = Inputs {
        archive: Utf8Path::new("target/ci/tests.tar.zst"),
        build: true,
        shard: Some(Shard { k: 3, n: 4 }),
        packages: &packages,
        rust_args: &[],
        config: Utf8Path::new("/r/target/ci/nextest.toml"),
    };
    let lines: Vec<String> = plan(&i).steps.iter().map(|s| s.command_line()).collect();
    assert_eq!(
        lines,
        [
            "cargo nextest archive --locked --archive-file target/ci/tests.tar.zst --workspace",
            "cargo nextest run --archive-file target/ci/tests.tar.zst --workspace-remap . --partition slice:3/4 \
         --no-tests warn --profile xtask-ci --tool-config-file xtask:/r/target/ci/nextest.toml",
        ]
    );
    // The archive is there: only the partition; no shard: only the archive.
    let p = plan(&Inputs { build: false, ..i });
    assert_eq!(p.steps.len(), 1);
    assert!(p.notes[0].contains("is there: not built again"));
    assert_eq!(plan(&Inputs { shard: None, ..i }).steps.len(), 1);
    assert!(tool_config(2).contains("retries = 2") && tool_config(2).contains("path = \"junit.xml\""));
    assert_eq!(junit_name(Shard { k: 3, n: 4 }), "shard-3-of-4.xml");
}
