//! `manifest.json`: what `package` built for one commit, and the contract of the later jobs (upload, release).
//! Paths are relative to the commit directory and never leave it; the file is written atomically, last.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use camino::{Utf8Component, Utf8Path};
use serde::{Deserialize, Serialize};
#[cfg(test)]
use serde_json::Value;

pub(crate) const FILE: &str = "manifest.json";
pub(crate) const SCHEMA: u64 = 1;

/// What an artifact is. One spelling each, everywhere: `package --kinds` and its flags (`--wheels`), `download
/// --kinds`, ci.toml's `builds`, the manifest's `kind`, and the directory of the commit directory the files live in.
/// A manifest an earlier engine wrote (`crate`, `wheel`, `recording`, `binary`) still reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Kind {
    #[serde(rename = "crates", alias = "crate")]
    Crate,
    #[serde(rename = "wheels", alias = "wheel")]
    Wheel,
    /// A Python package's source distribution (`maturin sdist`): what pip builds a wheel from where no wheel fits.
    #[serde(rename = "sdists")]
    Sdist,
    #[serde(rename = "wasm")]
    Wasm,
    #[serde(rename = "recordings", alias = "recording")]
    Recording,
    /// A command-line program as a `.tar.gz` per target (what users download when they do not use cargo).
    #[serde(rename = "binaries", alias = "binary")]
    Binary,
}

impl Kind {
    pub(crate) const ALL: [Kind; 6] =
        [Kind::Crate, Kind::Wheel, Kind::Sdist, Kind::Wasm, Kind::Recording, Kind::Binary];

    /// Its one name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Crate => "crates",
            Kind::Wheel => "wheels",
            Kind::Sdist => "sdists",
            Kind::Wasm => "wasm",
            Kind::Recording => "recordings",
            Kind::Binary => "binaries",
        }
    }

    /// The kind called `s` (its one name).
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Every name, for messages: `crates, wheels, wasm, recordings, binaries`.
    pub(crate) fn names() -> String {
        Kind::ALL.map(Kind::as_str).join(", ")
    }

    /// Its flag of `cargo xtask package`: `--wheels`.
    pub(crate) fn flag(self) -> String {
        format!("--{}", self.as_str())
    }

    /// The directory of the commit directory this kind's files live in: its name.
    pub(crate) fn dir(self) -> &'static str {
        self.as_str()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Artifact {
    pub kind: Kind,
    /// Package, bundle or recording name.
    pub name: String,
    /// Relative to the commit directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub version: String,
    /// Target triple for platform-specific artifacts (wheels).
    pub platform: Option<String>,
    /// Wheel tag, e.g. `cp39-abi3-manylinux_2_34_x86_64`.
    pub tag: Option<String>,
    /// The command that produced it.
    pub command: String,
    /// Tool name -> version used.
    pub tools: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Manifest {
    pub commit: String,
    pub dirty: bool,
    pub source_date_epoch: u64,
    pub xtask_version: String,
    pub version: String,
    pub artifacts: Vec<Artifact>,
}

/// Refuses paths that are absolute, contain `..`, `.` or empty components, or backslashes.
pub(crate) fn check_path(path: &str) -> Result<()> {
    let p = Utf8Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\\')
        && !path.contains("//")
        && p.components().all(|c| matches!(c, Utf8Component::Normal(_)));
    if !ok {
        bail!("artifact path {path:?} would leave the commit directory (absolute, `..`, `.` or empty components)");
    }
    Ok(())
}

/// Checks that a manifest read from `commit/<commit>/` is that commit's: its own `commit` field (signed with
/// it), its version (`expected_version`, where known) and every artifact's version agree. A manifest of another
/// commit substituted under this key is refused with both values named.
pub(crate) fn check_binding(m: &Manifest, commit: &str, expected_version: Option<&str>) -> Result<()> {
    let mut problems = Vec::new();
    if !m.commit.eq_ignore_ascii_case(commit) {
        problems.push(format!(
            "the manifest stored under commit/{commit}/ is for commit {}: it was substituted or misplaced",
            m.commit
        ));
    }
    if let Some(v) = expected_version.filter(|v| *v != m.version) {
        problems.push(format!("the manifest is for version {}, the release is {v}", m.version));
    }
    for a in m.artifacts.iter().filter(|a| a.version != m.version) {
        problems.push(format!("{} has version {}, the manifest's is {}", a.path, a.version, m.version));
    }
    if problems.is_empty() { Ok(()) } else { bail!("{}", problems.join("\n")) }
}

/// The file, as written: fields in alphabetical order (the order of every manifest so far, so the bytes of a
/// rebuilt manifest do not change).
#[derive(Serialize, Deserialize)]
struct File {
    artifacts: Vec<FileArtifact>,
    commit: String,
    dirty: bool,
    schema: u64,
    source_date_epoch: u64,
    version: String,
    xtask_version: String,
}

#[derive(Serialize, Deserialize)]
struct FileArtifact {
    #[serde(default)]
    command: String,
    kind: Kind,
    name: String,
    path: String,
    platform: Option<String>,
    sha256: String,
    size: u64,
    tag: Option<String>,
    #[serde(default)]
    tools: BTreeMap<String, String>,
    version: String,
}

/// What is checked before the rest is read: a newer schema, or another commit's manifest, is named as such.
#[derive(Deserialize)]
struct Head {
    schema: u64,
    commit: Option<String>,
}

impl Manifest {
    fn file(&self) -> File {
        File {
            artifacts: self
                .artifacts
                .iter()
                .map(|a| FileArtifact {
                    command: a.command.clone(),
                    kind: a.kind,
                    name: a.name.clone(),
                    path: a.path.clone(),
                    platform: a.platform.clone(),
                    sha256: a.sha256.clone(),
                    size: a.size,
                    tag: a.tag.clone(),
                    tools: a.tools.iter().cloned().collect(),
                    version: a.version.clone(),
                })
                .collect(),
            commit: self.commit.clone(),
            dirty: self.dirty,
            schema: SCHEMA,
            source_date_epoch: self.source_date_epoch,
            version: self.version.clone(),
            xtask_version: self.xtask_version.clone(),
        }
    }

    #[cfg(test)]
    pub(crate) fn to_json(&self) -> Value {
        serde_json::to_value(self.file()).expect("a manifest is JSON")
    }

    pub(crate) fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.file()).expect("a manifest is JSON");
        s.push('\n');
        s
    }

    /// Parses and validates a manifest; every problem names the field or the place.
    pub(crate) fn parse(text: &str) -> Result<Manifest> {
        let head: Head = serde_json::from_str(text).context("not a manifest")?;
        if head.schema != SCHEMA {
            bail!("schema {} is not supported (this xtask reads schema {SCHEMA})", head.schema);
        }
        if let Some(c) = head.commit.filter(|c| c.len() != 40 || !c.bytes().all(|b| b.is_ascii_hexdigit())) {
            bail!("field `commit` is not a 40-digit commit hash: {c:?}");
        }
        let file: File = serde_json::from_str(text).context("not a manifest")?;
        let mut artifacts = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, a) in file.artifacts.into_iter().enumerate() {
            let checked = (|| -> Result<()> {
                check_path(&a.path)?;
                if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!("field `sha256` is not 64 hex digits");
                }
                Ok(())
            })();
            checked.with_context(|| format!("artifact {i}"))?;
            if !seen.insert(a.path.clone()) {
                bail!("artifact path {} is listed twice", a.path);
            }
            artifacts.push(Artifact {
                kind: a.kind,
                name: a.name,
                path: a.path,
                size: a.size,
                sha256: a.sha256.to_ascii_lowercase(),
                version: a.version,
                platform: a.platform,
                tag: a.tag,
                command: a.command,
                tools: a.tools.into_iter().collect(),
            });
        }
        Ok(Manifest {
            commit: file.commit,
            dirty: file.dirty,
            source_date_epoch: file.source_date_epoch,
            xtask_version: file.xtask_version,
            version: file.version,
            artifacts,
        })
    }

    pub(crate) fn read(path: &Utf8Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        Manifest::parse(&text).map_err(|e| {
            anyhow::anyhow!(
                "{path} is not a valid manifest: {e:#}\nfix: write it again: `cargo xtask package --force` for a \
                 package directory, `cargo xtask upload` for a store's manifest"
            )
        })
    }

    /// Writes next to `path` and renames over it, so a reader sees the old or the new manifest, never half.
    pub(crate) fn write_atomic(&self, path: &Utf8Path) -> Result<()> {
        let tmp = path.with_extension(format!("json.tmp.{}", std::process::id()));
        std::fs::write(&tmp, self.to_text()).with_context(|| format!("writing {tmp}"))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming {tmp} to {path}"))?;
        Ok(())
    }

    /// Files under `dir` that are missing or whose size or sha256 differ from the manifest.
    pub(crate) fn mismatches<'a>(
        &self,
        dir: &Utf8Path,
        artifacts: impl IntoIterator<Item = &'a Artifact>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for a in artifacts {
            match crate::sha256::file(&dir.join(&a.path)) {
                Ok((sha, size)) if sha == a.sha256 && size == a.size => {}
                Ok((sha, size)) => {
                    out.push(format!(
                        "{}: sha256 {sha} ({size} bytes), manifest says {} ({} bytes)",
                        a.path, a.sha256, a.size
                    ));
                }
                Err(_) => out.push(format!("{}: missing", a.path)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample() -> Manifest {
        Manifest {
            commit: "a".repeat(40),
            dirty: false,
            source_date_epoch: 1_700_000_000,
            xtask_version: "0.1.0".into(),
            version: "0.1.0".into(),
            artifacts: vec![Artifact {
                kind: Kind::Wheel,
                name: "reel-sdk".into(),
                path: "wheels/reel_sdk-0.1.0-cp39-abi3-manylinux_2_34_x86_64.whl".into(),
                size: 3,
                sha256: crate::sha256::digest(b"abc"),
                version: "0.1.0".into(),
                platform: Some("x86_64-unknown-linux-gnu".into()),
                tag: Some("cp39-abi3-manylinux_2_34_x86_64".into()),
                command: "maturin build".into(),
                tools: vec![("maturin".into(), "1.16.0".into())],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Manifest::parse(&m.to_text()).unwrap(), m);
    }

    /// One spelling of each kind is written; a manifest an earlier engine wrote (singular kinds) still reads.
    #[test]
    fn kinds_have_one_spelling_and_old_manifests_still_read() {
        let m = sample();
        let text = m.to_text();
        assert!(text.contains("\"kind\": \"wheels\""), "{text}");
        let old = text.replace("\"kind\": \"wheels\"", "\"kind\": \"wheel\"");
        assert_ne!(old, text);
        assert_eq!(Manifest::parse(&old).unwrap(), m);
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!((k.dir(), k.flag()), (k.as_str(), format!("--{}", k.as_str())));
        }
        assert_eq!(Kind::parse("wheel"), None, "flags and ci.toml take the one spelling");
    }

    #[test]
    fn paths_stay_inside() {
        for bad in ["../x", "/etc/passwd", "a/../../b", "a//b", "", "./a", "a\\b"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        check_path("web/reel-web/index.html").unwrap();
        let mut m = sample();
        m.artifacts[0].path = "../../escape".into();
        let err = format!("{:#}", Manifest::parse(&m.to_text()).unwrap_err());
        assert!(err.contains("artifact 0") && err.contains("would leave the commit directory"), "{err}");
    }

    #[test]
    fn malformed_manifests_name_the_problem() {
        let cases = [
            ("{", "not a manifest"),
            ("{\"schema\": 9}", "schema 9 is not supported"),
            ("{\"schema\": 1, \"commit\": \"abc\"}", "not a 40-digit commit hash"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Manifest::parse(text).unwrap_err());
            assert!(err.contains(want), "{text}: {err}");
        }
        let mut v = sample().to_json();
        v["artifacts"][0]["sha256"] = serde_json::json!("zz");
        assert!(format!("{:#}", Manifest::parse(&v.to_string()).unwrap_err()).contains("64 hex digits"));
        let mut v = sample().to_json();
        let a = v["artifacts"][0].clone();
        v["artifacts"].as_array_mut().unwrap().push(a);
        assert!(format!("{:#}", Manifest::parse(&v.to_string()).unwrap_err()).contains("listed twice"));
    }

    #[test]
    fn atomic_write_and_mismatch_detection() {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-manifest-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("wheels")).unwrap();
        let m = sample();
        let path = dir.join(FILE);
        m.write_atomic(&path).unwrap();
        assert_eq!(Manifest::read(&path).unwrap(), m);
        assert_eq!(m.mismatches(&dir, &m.artifacts), [format!("{}: missing", m.artifacts[0].path)]);
        std::fs::write(dir.join(&m.artifacts[0].path), b"abc").unwrap();
        assert!(m.mismatches(&dir, &m.artifacts).is_empty());
        std::fs::write(dir.join(&m.artifacts[0].path), b"abX").unwrap();
        assert!(m.mismatches(&dir, &m.artifacts)[0].contains("manifest says"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
