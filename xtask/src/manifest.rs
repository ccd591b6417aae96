//! `manifest.json`: what `package` built for one commit, and the contract of the later jobs (upload, release).
//! Paths are relative to the commit directory and never leave it; the file is written atomically, last.

use anyhow::{Context, Result, bail};
use camino::{Utf8Component, Utf8Path};
use serde_json::{Value, json};

pub const FILE: &str = "manifest.json";
pub const SCHEMA: u64 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Crate,
    Wheel,
    Wasm,
    Recording,
    /// A command-line program as a `.tar.gz` per target (what users download when they do not use cargo).
    Binary,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Crate, Kind::Wheel, Kind::Wasm, Kind::Recording, Kind::Binary];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Crate => "crate",
            Kind::Wheel => "wheel",
            Kind::Wasm => "wasm",
            Kind::Recording => "recording",
            Kind::Binary => "binary",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The directory of the commit directory this kind's files live in.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Crate => "crates",
            Kind::Wheel => "wheels",
            Kind::Wasm => "web",
            Kind::Recording => "recordings",
            Kind::Binary => "binaries",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
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
pub struct Manifest {
    pub commit: String,
    pub dirty: bool,
    pub source_date_epoch: u64,
    pub xtask_version: String,
    pub version: String,
    pub artifacts: Vec<Artifact>,
}

/// Refuses paths that are absolute, contain `..`, `.` or empty components, or backslashes.
pub fn check_path(path: &str) -> Result<()> {
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
pub fn check_binding(m: &Manifest, commit: &str, expected_version: Option<&str>) -> Result<()> {
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

impl Manifest {
    pub fn to_json(&self) -> Value {
        json!({
            "schema": SCHEMA,
            "commit": self.commit,
            "dirty": self.dirty,
            "source_date_epoch": self.source_date_epoch,
            "xtask_version": self.xtask_version,
            "version": self.version,
            "artifacts": self.artifacts.iter().map(|a| json!({
                "kind": a.kind.as_str(),
                "name": a.name,
                "path": a.path,
                "size": a.size,
                "sha256": a.sha256,
                "version": a.version,
                "platform": a.platform,
                "tag": a.tag,
                "command": a.command,
                "tools": a.tools.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_json()).expect("JSON");
        s.push('\n');
        s
    }

    /// Parses and validates a manifest; every problem names the field.
    pub fn parse(text: &str) -> Result<Manifest> {
        let v: Value = serde_json::from_str(text).context("not valid JSON")?;
        let field = |v: &Value, k: &str| v.get(k).cloned().with_context(|| format!("missing field `{k}`"));
        let string = |v: &Value, k: &str| -> Result<String> {
            field(v, k)?.as_str().map(str::to_owned).with_context(|| format!("field `{k}` is not a string"))
        };
        let opt_string = |v: &Value, k: &str| -> Result<Option<String>> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => bail!("field `{k}` is not a string"),
            }
        };
        let schema = field(&v, "schema")?.as_u64().context("field `schema` is not a number")?;
        if schema != SCHEMA {
            bail!("schema {schema} is not supported (this xtask reads schema {SCHEMA})");
        }
        let commit = string(&v, "commit")?;
        if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("field `commit` is not a 40-digit commit hash: {commit:?}");
        }
        let mut artifacts = Vec::new();
        let items = field(&v, "artifacts")?;
        let items = items.as_array().context("field `artifacts` is not an array")?;
        for (i, a) in items.iter().enumerate() {
            let parsed = (|| -> Result<Artifact> {
                let kind = string(a, "kind")?;
                let kind = Kind::parse(&kind).with_context(|| format!("unknown kind {kind:?}"))?;
                let path = string(a, "path")?;
                check_path(&path)?;
                let sha256 = string(a, "sha256")?;
                if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!("field `sha256` is not 64 hex digits");
                }
                let tools = match a.get("tools") {
                    Some(Value::Object(m)) => {
                        m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()
                    }
                    _ => Vec::new(),
                };
                Ok(Artifact {
                    kind,
                    name: string(a, "name")?,
                    path,
                    size: field(a, "size")?.as_u64().context("field `size` is not a number")?,
                    sha256: sha256.to_ascii_lowercase(),
                    version: string(a, "version")?,
                    platform: opt_string(a, "platform")?,
                    tag: opt_string(a, "tag")?,
                    command: opt_string(a, "command")?.unwrap_or_default(),
                    tools,
                })
            })()
            .with_context(|| format!("artifact {i}"))?;
            artifacts.push(parsed);
        }
        let mut seen = std::collections::HashSet::new();
        for a in &artifacts {
            if !seen.insert(a.path.as_str()) {
                bail!("artifact path {} is listed twice", a.path);
            }
        }
        Ok(Manifest {
            commit,
            dirty: field(&v, "dirty")?.as_bool().context("field `dirty` is not a boolean")?,
            source_date_epoch: field(&v, "source_date_epoch")?
                .as_u64()
                .context("field `source_date_epoch` is not a number")?,
            xtask_version: string(&v, "xtask_version")?,
            version: string(&v, "version")?,
            artifacts,
        })
    }

    pub fn read(path: &Utf8Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        Manifest::parse(&text).map_err(|e| {
            anyhow::anyhow!(
                "{path} is not a valid manifest: {e:#}\nfix: write it again: `cargo xtask package --force` for a \
                 package directory, `cargo xtask upload` for a store's manifest"
            )
        })
    }

    /// Writes next to `path` and renames over it, so a reader sees the old or the new manifest, never half.
    pub fn write_atomic(&self, path: &Utf8Path) -> Result<()> {
        let tmp = path.with_extension(format!("json.tmp.{}", std::process::id()));
        std::fs::write(&tmp, self.to_text()).with_context(|| format!("writing {tmp}"))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming {tmp} to {path}"))?;
        Ok(())
    }

    /// Files under `dir` that are missing or whose size or sha256 differ from the manifest.
    pub fn mismatches<'a>(&self, dir: &Utf8Path, artifacts: impl IntoIterator<Item = &'a Artifact>) -> Vec<String> {
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

    pub fn sample() -> Manifest {
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
            ("{", "not valid JSON"),
            ("{\"schema\": 9}", "schema 9 is not supported"),
            ("{\"schema\": 1, \"commit\": \"abc\"}", "not a 40-digit commit hash"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Manifest::parse(text).unwrap_err());
            assert!(err.contains(want), "{text}: {err}");
        }
        let mut v = sample().to_json();
        v["artifacts"][0]["sha256"] = json!("zz");
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
