use super::*;
use crate::manifest::Kind;

fn artifact(kind: Kind, name: &str, path: &str, size: u64, platform: Option<&str>) -> Artifact {
    Artifact {
        kind,
        name: name.into(),
        path: path.into(),
        size,
        sha256: "0".repeat(64),
        version: "1.0.0".into(),
        platform: platform.map(Into::into),
        tag: None,
        command: String::new(),
        tools: vec![],
    }
}

fn manifest(artifacts: Vec<Artifact>) -> Manifest {
    Manifest {
        commit: "a".repeat(40),
        dirty: false,
        source_date_epoch: 0,
        xtask_version: "0".into(),
        version: "1.0.0".into(),
        artifacts,
    }
}

/// Artifacts are matched across versions by kind, name and platform; changes over the threshold, added and
/// removed ones are flagged; the names a repository chose cannot break the table or the chart.
#[test]
fn sizes_are_matched_by_artifact_and_flagged_over_the_threshold() {
    let linux = Some("x86_64-unknown-linux-gnu");
    let base = manifest(vec![
        artifact(Kind::Crate, "core", "crates/core-0.9.0.crate", 10_000, None),
        artifact(Kind::Wheel, "sdk", "wheels/sdk-0.9.0-x.whl", 2_000_000, linux),
        artifact(Kind::Crate, "gone", "crates/gone-0.9.0.crate", 500, None),
    ]);
    let this = manifest(vec![
        artifact(Kind::Crate, "core", "crates/core-1.0.0.crate", 10_100, None),
        artifact(Kind::Wheel, "sdk", "wheels/sdk-1.0.0-x.whl", 2_100_000, linux),
        artifact(Kind::Crate, "new|one`\u{1b}", "crates/new-1.0.0.crate", 700, None),
    ]);
    let rows = compare(&base, &this);
    let find = |w: &str| rows.iter().find(|r| r.what.starts_with(w)).unwrap();
    assert_eq!(find("crates core").percent(), Some(1.0));
    assert!(!find("crates core").flagged(2.0), "1 % is under 2 %");
    assert!(find("wheels sdk (x86_64-unknown-linux-gnu)").flagged(2.0), "5 %");
    assert!(find("crates gone").flagged(2.0) && find("crates new").flagged(2.0), "removed and added");
    let md = render(&rows, &"b".repeat(40), &"c".repeat(40), 2.0);
    assert!(md.contains("4 artifacts; 3 changed by 2 % or more, added or removed."), "{md}");
    assert!(md.contains("| crates core | 9.8 KiB | 9.9 KiB | +1.0 % |"), "{md}");
    assert!(md.contains("| wheels sdk (x86_64-unknown-linux-gnu) | 1.91 MiB | 2.00 MiB | +5.0 % ⚠️ |"), "{md}");
    assert!(md.contains("| — | 500 B | removed ⚠️ |") || md.contains("| 500 B | — | removed ⚠️ |"), "{md}");
    assert!(md.contains("new\\|one`\\u{1b}") && !md.contains('\u{1b}'), "escaped: {md}");
    assert!(md.contains("```mermaid\nxychart-beta") && md.contains("bar [1.00, 5.00]"), "{md}");
}
