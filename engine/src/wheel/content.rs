//! What a wheel holds, checked against its file name and the release before anything is published: its
//! `*.dist-info/METADATA` `Name` and `Version`, and its `*.dist-info/WHEEL` `Tag:` lines.
//!
//! A wheel is a zip. It is read by the tools virtualenv's Python (`zipfile`), which a release with wheels
//! already needs for twine: no inflate crate and no zip reader of our own to compile into every CI job, and a
//! reader that knows zip64, data descriptors and every compression a wheel may use.

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::artifacts::normalize;
use crate::plan::printable;
pub(crate) use crate::wheel::matrix::parse_wheel_name;

/// The two `.dist-info` files of one wheel, as text.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DistInfo {
    pub metadata: String,
    pub wheel: String,
}

/// Reads each wheel's `*.dist-info/METADATA` and `*.dist-info/WHEEL` with `python`'s zipfile: per wheel, its
/// files, or why they cannot be read (not a zip, no or several `.dist-info` directories).
pub(crate) fn read_dist_infos(
    sh: &Shell,
    python: &Utf8Path,
    wheels: &[&Utf8Path],
) -> Result<Vec<Result<DistInfo, String>>> {
    const SCRIPT: &str = r#"import json, sys, zipfile
out = []
for path in sys.argv[1:]:
    try:
        with zipfile.ZipFile(path) as z:
            got = {}
            for part in ("METADATA", "WHEEL"):
                found = [n for n in z.namelist() if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info") and n.endswith("/" + part)]
                if len(found) != 1:
                    raise ValueError(f"{len(found)} *.dist-info/{part} files, not one")
                got[part] = z.read(found[0]).decode("utf-8")
            out.append({"metadata": got["METADATA"], "wheel": got["WHEEL"]})
    except Exception as e:
        out.append({"error": f"{type(e).__name__}: {e}"})
print(json.dumps(out))
"#;
    let v = run_reader(sh, python, SCRIPT, wheels, "the wheels' metadata")?;
    Ok(v.into_iter()
        .map(|w| match w["error"].as_str() {
            Some(e) => Err(e.to_owned()),
            None => Ok(DistInfo {
                metadata: w["metadata"].as_str().unwrap_or_default().to_owned(),
                wheel: w["wheel"].as_str().unwrap_or_default().to_owned(),
            }),
        })
        .collect())
}

/// Runs a reader `script` (one JSON object per file, in order) with `python` on `files`.
fn run_reader(sh: &Shell, python: &Utf8Path, script: &str, files: &[&Utf8Path], what: &str) -> Result<Vec<Value>> {
    let text = cmd!(sh, "{python} -c {script} {files...}")
        .quiet()
        .read()
        .with_context(|| format!("reading {what} with {python}"))?;
    let v: Vec<Value> = serde_json::from_str(&text).with_context(|| format!("the reader of {what} printed no JSON"))?;
    if v.len() != files.len() {
        bail!("the reader of {what} answered for {} of {} files", v.len(), files.len());
    }
    Ok(v)
}

/// The values of header `name` in an email-style header block (METADATA, WHEEL), up to its first blank line.
fn headers<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// A release version as a wheel spells it (PEP 440): `1.0.0-alpha.1` is `1.0.0a1`, `-beta.2` `b2`, `-rc.3`
/// `rc3`; anything else as it is.
pub(crate) fn wheel_version(release: &str) -> String {
    let Some((base, pre)) = release.split_once('-') else { return release.to_owned() };
    let (label, n) = pre.split_once('.').unwrap_or((pre, "0"));
    let short = match label {
        "alpha" | "a" => "a",
        "beta" | "b" => "b",
        "rc" | "c" => "rc",
        _ => return release.to_owned(),
    };
    if n.bytes().all(|b| b.is_ascii_digit()) { format!("{base}{short}{n}") } else { release.to_owned() }
}

/// Every way the wheel `file` (of project `project` in the manifest) disagrees with its name, the release
/// `version` and its own `.dist-info`; empty when it agrees.
pub(crate) fn wheel_problems(file: &str, project: &str, version: &str, info: &DistInfo) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(parsed) = parse_wheel_name(file) else {
        return vec![format!("{file} is not a wheel file name (name-version-python-abi-platform.whl)")];
    };
    let release = wheel_version(version);
    if normalize(parsed.name) != normalize(project) {
        problems.push(format!("{file} is named for project {}, the manifest says {project}", parsed.name));
    }
    if parsed.version != version && parsed.version != release {
        problems.push(format!("{file} has version {} in its name, the release is {version}", parsed.version));
    }
    match headers(&info.metadata, "Name")[..] {
        [name] if normalize(name) == normalize(parsed.name) => {}
        [name] => {
            problems.push(format!("{file}: METADATA says Name {}, the file name says {}", printable(name), parsed.name))
        }
        ref names => problems.push(format!("{file}: METADATA has {} Name headers, not one", names.len())),
    }
    match headers(&info.metadata, "Version")[..] {
        [v] if v == parsed.version && (v == version || v == release) => {}
        [v] => problems.push(format!(
            "{file}: METADATA says Version {}, the file name says {} and the release is {version}",
            printable(v),
            parsed.version
        )),
        ref vs => problems.push(format!("{file}: METADATA has {} Version headers, not one", vs.len())),
    }
    let mut tags: Vec<String> = headers(&info.wheel, "Tag").into_iter().map(str::to_owned).collect();
    tags.sort();
    tags.dedup();
    if tags != parsed.tags {
        problems.push(format!(
            "{file}: WHEEL says Tag {}, the file name expands to {}",
            if tags.is_empty() { "(none)".to_owned() } else { tags.join(", ") },
            parsed.tags.join(", ")
        ));
    }
    problems
}

/// Each source distribution's `PKG-INFO` (in its one top directory), read with `python`'s tarfile: per file,
/// its text, or why it cannot be read.
pub(crate) fn read_pkg_infos(
    sh: &Shell,
    python: &Utf8Path,
    sdists: &[&Utf8Path],
) -> Result<Vec<Result<String, String>>> {
    const SCRIPT: &str = r#"import json, sys, tarfile
out = []
for path in sys.argv[1:]:
    try:
        with tarfile.open(path, "r:gz") as t:
            tops = {n.split("/")[0] for n in t.getnames()}
            if len(tops) != 1:
                raise ValueError(f"{len(tops)} top directories, not one")
            f = t.extractfile(tops.pop() + "/PKG-INFO")
            if f is None:
                raise ValueError("PKG-INFO is not a file")
            out.append({"pkg_info": f.read(1 << 20).decode("utf-8")})
    except Exception as e:
        out.append({"error": f"{type(e).__name__}: {e}"})
print(json.dumps(out))
"#;
    let v = run_reader(sh, python, SCRIPT, sdists, "the source distributions' PKG-INFO")?;
    Ok(v.into_iter()
        .map(|f| match f["error"].as_str() {
            Some(e) => Err(e.to_owned()),
            None => Ok(f["pkg_info"].as_str().unwrap_or_default().to_owned()),
        })
        .collect())
}

/// Every way the source distribution `file` (of project `project` in the manifest) disagrees with its name
/// (`{name}-{version}.tar.gz`), the release `version` and its own `PKG-INFO`; empty when it agrees.
pub(crate) fn sdist_problems(file: &str, project: &str, version: &str, pkg_info: &str) -> Vec<String> {
    let Some((name, file_version)) = file.strip_suffix(".tar.gz").and_then(|s| s.rsplit_once('-')) else {
        return vec![format!("{file} is not a source distribution file name (name-version.tar.gz)")];
    };
    let release = wheel_version(version);
    let mut problems = Vec::new();
    if normalize(name) != normalize(project) {
        problems.push(format!("{file} is named for project {name}, the manifest says {project}"));
    }
    if file_version != version && file_version != release {
        problems.push(format!("{file} has version {file_version} in its name, the release is {version}"));
    }
    match headers(pkg_info, "Name")[..] {
        [n] if normalize(n) == normalize(name) => {}
        [n] => problems.push(format!("{file}: PKG-INFO says Name {}, the file name says {name}", printable(n))),
        ref names => problems.push(format!("{file}: PKG-INFO has {} Name headers, not one", names.len())),
    }
    match headers(pkg_info, "Version")[..] {
        [v] if v == file_version => {}
        [v] => {
            problems.push(format!("{file}: PKG-INFO says Version {}, the file name says {file_version}", printable(v)))
        }
        ref vs => problems.push(format!("{file}: PKG-INFO has {} Version headers, not one", vs.len())),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, version: &str, tags: &[&str]) -> DistInfo {
        let tags: String = tags.iter().map(|t| format!("Tag: {t}\n")).collect();
        DistInfo {
            metadata: format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not a header\n"),
            wheel: format!("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n{tags}"),
        }
    }

    #[test]
    fn compressed_tag_sets_expand_to_their_cartesian_product() {
        let w = parse_wheel_name("reel-1.0.0-cp39.cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        assert_eq!((w.name, w.version), ("reel", "1.0.0"));
        assert_eq!(
            w.tags,
            [
                "cp310-abi3-manylinux2014_x86_64",
                "cp310-abi3-manylinux_2_17_x86_64",
                "cp39-abi3-manylinux2014_x86_64",
                "cp39-abi3-manylinux_2_17_x86_64"
            ]
        );
        assert_eq!(parse_wheel_name("a-1.0-1build-py3-none-any.whl").unwrap().tags, ["py3-none-any"]);
        assert!(parse_wheel_name("a-1.0-py3-none.whl").is_none());
    }

    #[test]
    fn metadata_and_tags_must_agree_with_the_file_name_and_the_release() {
        let file = "xtask_demo_pkg-0.1.0-py3-none-any.whl";
        assert!(
            wheel_problems(file, "xtask-demo-pkg", "0.1.0", &info("Xtask.Demo_Pkg", "0.1.0", &["py3-none-any"]))
                .is_empty()
        );
        let p = wheel_problems(file, "xtask-demo-pkg", "0.1.0", &info("xtask-demo-pkg", "0.2.0", &["py3-none-any"]));
        assert_eq!(
            p,
            [format!("{file}: METADATA says Version 0.2.0, the file name says 0.1.0 and the release is 0.1.0")]
        );
        let p = wheel_problems(
            file,
            "xtask-demo-pkg",
            "0.1.0",
            &info("xtask-demo-pkg", "0.1.0", &["cp311-cp311-linux_x86_64"]),
        );
        assert_eq!(
            p,
            [format!("{file}: WHEEL says Tag cp311-cp311-linux_x86_64, the file name expands to py3-none-any")]
        );
        let p = wheel_problems(file, "other", "0.1.0", &info("another", "0.1.0", &["py3-none-any"]));
        assert!(p[0].contains("named for project xtask_demo_pkg, the manifest says other"), "{p:?}");
        assert!(p[1].contains("METADATA says Name another"), "{p:?}");
        // A subset of the file name's tags is a disagreement too.
        let abi3 = "reel-1.0.0-cp39.cp310-abi3-linux_x86_64.whl";
        let p = wheel_problems(abi3, "reel", "1.0.0", &info("reel", "1.0.0", &["cp39-abi3-linux_x86_64"]));
        assert!(p[0].contains("the file name expands to cp310-abi3-linux_x86_64, cp39-abi3-linux_x86_64"), "{p:?}");
        // A pre-release as PEP 440 spells it.
        let pre = "reel-1.0.0rc1-py3-none-any.whl";
        assert!(wheel_problems(pre, "reel", "1.0.0-rc.1", &info("reel", "1.0.0rc1", &["py3-none-any"])).is_empty());
    }

    /// Real zips, read by a real Python (the system's, standing in for the tools virtualenv's).
    #[test]
    fn wheels_are_read_by_pythons_zipfile() {
        let dir = crate::testutil::temp_dir("wheel-content");
        let sh = Shell::new().unwrap();
        let good = dir.join("good.whl");
        crate::testutil::make_wheel(&good, "xtask-demo-pkg", "0.1.0", 7);
        let junk = dir.join("junk.whl");
        std::fs::write(&junk, b"not a zip").unwrap();
        let python = Utf8Path::new("python3");
        let got = read_dist_infos(&sh, python, &[&good, &junk]).unwrap();
        let first = got[0].as_ref().unwrap();
        assert_eq!(headers(&first.metadata, "Version"), ["0.1.0"]);
        assert_eq!(headers(&first.wheel, "Tag"), ["py3-none-any"]);
        assert!(got[1].as_ref().unwrap_err().contains("BadZipFile"), "{got:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A source distribution is judged like a wheel: its file name, the release and its PKG-INFO agree.
    #[test]
    fn a_source_distribution_agrees_with_its_name_and_the_release() {
        let pkg_info = |name: &str, version: &str| format!("Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n");
        assert!(
            sdist_problems("reel_sdk-0.1.0.tar.gz", "reel-sdk", "0.1.0", &pkg_info("reel-sdk", "0.1.0")).is_empty()
        );
        let pre =
            sdist_problems("reel_sdk-1.0.0a1.tar.gz", "reel-sdk", "1.0.0-alpha.1", &pkg_info("reel-sdk", "1.0.0a1"));
        assert!(pre.is_empty(), "{pre:?}");
        let lies = sdist_problems("reel_sdk-0.1.0.tar.gz", "reel-sdk", "0.1.0", &pkg_info("other", "0.2.0"));
        assert_eq!(lies.len(), 2, "{lies:?}");
        assert!(lies[0].contains("PKG-INFO says Name other") && lies[1].contains("PKG-INFO says Version 0.2.0"));
        let renamed = sdist_problems("evil-0.1.0.tar.gz", "reel-sdk", "0.2.0", &pkg_info("evil", "0.1.0"));
        assert!(renamed[0].contains("named for project evil") && renamed[1].contains("version 0.1.0 in its name"));
        assert!(sdist_problems("reel_sdk.zip", "reel-sdk", "0.1.0", "")[0].contains("not a source distribution"));
    }
}
