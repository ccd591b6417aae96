//! Why two builds of one wheel differ: which members differ (a wheel is a zip), where a text member first differs,
//! and the probable cause with its fix. `package --check-reproducible` prints it for each wheel whose two builds
//! are not bit for bit the same.
//!
//! The wheels are read by the tools virtualenv's Python (`zipfile`), as the release reads them
//! (`jobs/release/content.rs`): the package job has that Python already (maturin, twine and auditwheel live
//! there), and no zip reader or inflate crate is compiled into every CI job for a diagnosis.

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use xshell::{Shell, cmd};

/// One member of a wheel: its name, the sha256 of its bytes, its zip timestamp, and its text when it is UTF-8
/// (and at most 1 MiB).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub(crate) struct Member {
    pub name: String,
    pub sha256: String,
    pub time: String,
    pub text: Option<String>,
}

/// How one member differs between the two builds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Change {
    OnlyFirst,
    OnlySecond,
    /// Other bytes; for text, the first line that differs in each build (1-based line number).
    Content(Option<(usize, String, String)>),
    /// The same bytes under another zip timestamp.
    Time(String, String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Difference {
    pub member: String,
    pub change: Change,
}

/// Reads the members of two wheels with `python`.
pub(crate) fn read(sh: &Shell, python: &Utf8Path, wheels: [&Utf8Path; 2]) -> Result<[Vec<Member>; 2]> {
    const SCRIPT: &str = r#"import hashlib, json, sys, zipfile
out = []
for path in sys.argv[1:]:
    members = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            data = z.read(info)
            text = None
            if len(data) <= 1 << 20:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            time = "%04d-%02d-%02d %02d:%02d:%02d" % info.date_time
            members.append({"name": info.filename, "sha256": hashlib.sha256(data).hexdigest(), "time": time, "text": text})
    out.append(members)
print(json.dumps(out))
"#;
    let [a, b] = wheels;
    let text = cmd!(sh, "{python} -c {SCRIPT} {a} {b}")
        .quiet()
        .read()
        .with_context(|| format!("reading the members of {a} and {b} with {python}"))?;
    let v: Vec<Vec<Member>> = serde_json::from_str(&text).context("the wheel reader's output is not JSON")?;
    let Ok([first, second]) = <[Vec<Member>; 2]>::try_from(v) else {
        bail!("the wheel reader did not answer for 2 wheels")
    };
    Ok([first, second])
}

/// Every member that differs between the two builds, in the first build's order (then the second's own).
pub(crate) fn differences(first: &[Member], second: &[Member]) -> Vec<Difference> {
    let mut out = Vec::new();
    for a in first {
        let change = match second.iter().find(|b| b.name == a.name) {
            None => Change::OnlyFirst,
            Some(b) if a.sha256 != b.sha256 => Change::Content(first_difference(a.text.as_deref(), b.text.as_deref())),
            Some(b) if a.time != b.time => Change::Time(a.time.clone(), b.time.clone()),
            Some(_) => continue,
        };
        out.push(Difference { member: a.name.clone(), change });
    }
    for b in second.iter().filter(|b| !first.iter().any(|a| a.name == b.name)) {
        out.push(Difference { member: b.name.clone(), change: Change::OnlySecond });
    }
    out
}

/// The first line where two texts differ: its number and each build's line.
fn first_difference(a: Option<&str>, b: Option<&str>) -> Option<(usize, String, String)> {
    let (a, b) = (a?, b?);
    let (mut la, mut lb) = (a.lines(), b.lines());
    for n in 1.. {
        match (la.next(), lb.next()) {
            (None, None) => return None,
            (x, y) if x != y => {
                return Some((n, x.unwrap_or("(end of file)").to_owned(), y.unwrap_or("(end of file)").to_owned()));
            }
            _ => {}
        }
    }
    None
}

/// What to print about one wheel whose builds differ: the members (with where they differ), the probable cause
/// and its fix.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Diagnosis {
    pub lines: Vec<String>,
    pub cause: String,
    pub fix: String,
}

/// Why a wheel's two builds differ. `roots`: the two checkouts the builds ran in (a line holding each build's
/// own root is a leaked absolute path); `pyproject`: the package's `pyproject.toml`, relative to the root.
pub(crate) fn diagnose(diffs: &[Difference], roots: [&str; 2], pyproject: &str) -> Diagnosis {
    let (cause, fix) = probable_cause(diffs, roots, pyproject);
    Diagnosis { lines: member_lines(diffs), cause, fix }
}

/// A line per differing member (and the first differing line of its text), RECORD after the members it lists.
fn member_lines(diffs: &[Difference]) -> Vec<String> {
    let is_record = |m: &str| m.ends_with(".dist-info/RECORD");
    let others = diffs.iter().filter(|d| !is_record(&d.member)).count();
    let mut lines = Vec::new();
    for d in diffs {
        let what = match &d.change {
            Change::OnlyFirst => "only in the first build".to_owned(),
            Change::OnlySecond => "only in the second build".to_owned(),
            Change::Time(a, b) => format!("the same bytes, other timestamps ({a} and {b})"),
            Change::Content(_) if is_record(&d.member) && others > 0 => {
                "differs (it lists each member's sha256: it follows the members above)".to_owned()
            }
            Change::Content(_) => "differs".to_owned(),
        };
        lines.push(format!("{}: {what}", crate::plan::printable(&d.member)));
        if let Change::Content(Some((n, a, b))) = &d.change
            && !(is_record(&d.member) && others > 0)
        {
            lines.push(format!("  line {n}, first build:  {}", clip(a)));
            lines.push(format!("  line {n}, second build: {}", clip(b)));
        }
    }
    lines
}

/// The probable cause of the differences, and its fix: the SBOM first, then a leaked checkout path, a member in
/// one build only, timestamps, the zip itself.
fn probable_cause(diffs: &[Difference], roots: [&str; 2], pyproject: &str) -> (String, String) {
    let content = |d: &&Difference| matches!(d.change, Change::Content(_));
    let holds_root = |d: &Difference| match &d.change {
        Change::Content(Some((_, a, b))) => a.contains(roots[0]) && b.contains(roots[1]),
        _ => false,
    };
    let sbom = diffs.iter().filter(content).find(|d| {
        let parts: Vec<&str> = d.member.split('/').collect();
        parts.len() == 3 && parts[0].ends_with(".dist-info") && parts[1] == "sboms"
    });
    if let Some(d) = sbom {
        (
            format!(
                "{} is maturin's Rust SBOM (PEP 770), which records the checkout's absolute path \
                 (`path+file:///...`): two checkouts of one commit build two wheels",
                crate::plan::printable(&d.member)
            ),
            format!(
                "set `rust = false` under `[tool.maturin.sbom]` in {pyproject} (maturin 1.16 has no command-line \
                 flag or environment variable for it); or keep the SBOM and accept wheels that are reproducible \
                 only from the same directory"
            ),
        )
    } else if let Some(d) = diffs.iter().find(|d| holds_root(d)) {
        (
            format!("{} holds the absolute path of the checkout it was built in", crate::plan::printable(&d.member)),
            "keep absolute paths out of what the wheel packs: the Rust code is built with --remap-path-prefix, a \
             file a build script or a tool writes is not"
                .to_owned(),
        )
    } else if diffs.iter().any(|d| matches!(d.change, Change::OnlyFirst | Change::OnlySecond)) {
        (
            "a member is in one build only: something generates it, or names it, differently from build to build"
                .to_owned(),
            "make the generated file's name and presence depend on the commit alone".to_owned(),
        )
    } else if !diffs.is_empty() && diffs.iter().all(|d| matches!(d.change, Change::Time(..))) {
        (
            "the members are the same, their timestamps are not: something packs them ignoring SOURCE_DATE_EPOCH"
                .to_owned(),
            "build with a maturin that honours SOURCE_DATE_EPOCH (the engine sets it to the commit's time)".to_owned(),
        )
    } else if diffs.is_empty() {
        (
            "every member and timestamp is the same: the zip itself differs (member order or compression)".to_owned(),
            "compare the two files with `diffoscope` (both kept under target/reproducible/)".to_owned(),
        )
    } else {
        (
            "the members above differ between two clean builds of one commit".to_owned(),
            "compare them (both wheels are kept under target/reproducible/): a timestamp, a random seed or an \
             absolute path written at build time is the usual cause"
                .to_owned(),
        )
    }
}

/// A line of a member as printed: escaped and at most 160 characters.
fn clip(line: &str) -> String {
    let line = line.trim();
    let mut out: String = line.chars().take(160).collect();
    if out.len() < line.len() {
        out.push_str("...");
    }
    crate::plan::printable(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, text: &str) -> Member {
        Member {
            name: name.into(),
            sha256: crate::sha256::digest(text.as_bytes()),
            time: "2024-01-01 00:00:00".into(),
            text: Some(text.into()),
        }
    }

    const SBOM: &str = "w-1.0.dist-info/sboms/w.cyclonedx.json";
    const RECORD: &str = "w-1.0.dist-info/RECORD";

    /// Two small wheels built in the test with Python's zipfile, alike but for the SBOM (which names each
    /// checkout, as maturin's does) and so RECORD: the diagnosis names the SBOM, shows the line, and gives the fix.
    #[test]
    fn a_differing_sbom_is_named_with_the_line_and_the_pyproject_fix() {
        let dir = crate::testutil::temp_dir("wheel-diff");
        let sh = Shell::new().unwrap();
        let python = crate::tools::venv_python(&crate::project_root().join(".tools/venv"));
        let python = if python.exists() { python } else { "python3".into() };
        let make = r#"import sys, zipfile
path, root = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(path, "w") as z:
    for name, text in [("w/__init__.py", "x = 1\n"), ("w-1.0.dist-info/METADATA", "Name: w\n"),
                       ("w-1.0.dist-info/sboms/w.cyclonedx.json", '{\n  "bom-ref": "path+file://' + root + '#w@1.0"\n}\n'),
                       ("w-1.0.dist-info/RECORD", "w/__init__.py,sha256=" + root + "\n")]:
        z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), text)
"#;
        let (a, b) = (dir.join("first.whl"), dir.join("second.whl"));
        cmd!(sh, "{python} -c {make} {a} /r/first/repo").run().unwrap();
        cmd!(sh, "{python} -c {make} {b} /r/second-build/repo").run().unwrap();
        let [first, second] = read(&sh, &python, [&a, &b]).unwrap();
        assert_eq!(first.len(), 4);
        let diffs = differences(&first, &second);
        let names: Vec<&str> = diffs.iter().map(|d| d.member.as_str()).collect();
        assert_eq!(names, [SBOM, RECORD]);
        let d = diagnose(&diffs, ["/r/first/repo", "/r/second-build/repo"], "py/pyproject.toml");
        assert_eq!(d.lines[0], format!("{SBOM}: differs"));
        assert_eq!(d.lines[1], "  line 2, first build:  \"bom-ref\": \"path+file:///r/first/repo#w@1.0\"");
        assert!(d.lines[3].starts_with(RECORD) && d.lines[3].contains("follows the members above"), "{:?}", d.lines);
        assert!(d.cause.starts_with(SBOM) && d.cause.contains("maturin's Rust SBOM"), "{}", d.cause);
        assert!(d.fix.starts_with("set `rust = false` under `[tool.maturin.sbom]` in py/pyproject.toml"), "{}", d.fix);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The other causes, as data: a leaked path in any member, a member in one build only, timestamps alone.
    #[test]
    fn each_kind_of_difference_gets_its_own_cause() {
        let roots = ["/r/first/repo", "/r/second-build/repo"];
        let a = [member("w/paths.txt", "root=/r/first/repo\n"), member("w/x.py", "x = 1\n")];
        let b = [member("w/paths.txt", "root=/r/second-build/repo\n"), member("w/x.py", "x = 1\n")];
        let d = diagnose(&differences(&a, &b), roots, "pyproject.toml");
        assert!(d.cause.starts_with("w/paths.txt holds the absolute path of the checkout"), "{}", d.cause);
        let extra = [a[0].clone(), a[1].clone(), member("w/gen_123.py", "")];
        let diffs = differences(&a, &extra);
        assert_eq!(diffs, [Difference { member: "w/gen_123.py".into(), change: Change::OnlySecond }]);
        assert!(diagnose(&diffs, roots, "p").cause.starts_with("a member is in one build only"));
        let mut later = a.clone();
        later[1].time = "2024-05-01 00:00:00".into();
        let d = diagnose(&differences(&a, &later), roots, "p");
        assert!(d.cause.contains("SOURCE_DATE_EPOCH") && d.lines[0].contains("other timestamps"), "{d:?}");
        assert!(diagnose(&[], roots, "p").cause.contains("member order or compression"));
        let binary = Member { text: None, sha256: "00".into(), ..a[1].clone() };
        let d = diagnose(&differences(&a, &[a[0].clone(), binary]), roots, "p");
        assert_eq!(d.lines, ["w/x.py: differs"]);
    }
}
