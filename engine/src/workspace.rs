//! Facts about the repository and its Cargo workspace, read from git, its files and `cargo metadata`: commits,
//! the one version, the packages and their dependencies, the host, the example scripts.

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{Shell, cmd};

use crate::Ctx;

/// Resolves a `--commit` argument (or HEAD, for `None`) to a full lowercase commit hash. A full hash is taken
/// as is (it may name a commit this clone lacks: the store is keyed by hash); anything else must be a revision
/// git resolves to a commit here. Everything else is refused before any work, with the fix: the hash becomes
/// part of store keys and paths, so nothing but hex digits may reach them.
pub(crate) fn resolve_commit(sh: &Shell, rev: Option<&str>) -> Result<String> {
    let full = rev.unwrap_or("HEAD");
    // Errors quote at most 80 characters of what was given.
    let shown: String = full.chars().take(80).collect();
    let rev = full;
    if is_full_hash(rev) {
        return Ok(rev.to_ascii_lowercase());
    }
    let printable = rev.chars().all(|c| !c.is_control());
    // A revision never starts with `-` (git would read an option) and is never empty.
    if rev.is_empty() || rev.starts_with('-') || !printable || rev.len() > 256 {
        bail!(
            "--commit {shown:?} is not a commit hash or revision\nfix: pass a full 40-digit commit hash (`git rev-parse <rev>`)"
        );
    }
    let spec = format!("{rev}^{{commit}}");
    match cmd!(sh, "git rev-parse --verify --quiet --end-of-options {spec}").quiet().ignore_stderr().read() {
        Ok(hash) if is_full_hash(hash.trim()) => Ok(hash.trim().to_owned()),
        _ => bail!(
            "--commit {shown:?} names no commit in this repository\nfix: pass the full 40-digit hash of the commit \
             (`git rev-parse <rev>` where it exists)"
        ),
    }
}

/// The commit `root`'s checkout is at, if it is a git repository with one.
pub(crate) fn head_commit(root: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["-C", root, "rev-parse", "--verify", "--quiet", "HEAD"])
        .output()
        .ok()?;
    let hash = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && is_full_hash(&hash)).then_some(hash)
}

/// A full SHA-1 or SHA-256 commit hash.
pub(crate) fn is_full_hash(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `[workspace.package] version` of the root `Cargo.toml`: the one version of everything.
pub(crate) fn workspace_version(root: &Utf8Path) -> Result<String> {
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    workspace_version_in(&text).with_context(|| format!("{path} has no `version` under [workspace.package]"))
}

fn workspace_version_in(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Root {
        workspace: Option<Workspace>,
    }
    #[derive(serde::Deserialize)]
    struct Workspace {
        package: Option<WorkspacePackage>,
    }
    #[derive(serde::Deserialize)]
    struct WorkspacePackage {
        version: Option<String>,
    }
    toml::from_str::<Root>(text).ok()?.workspace?.package?.version
}

/// A workspace package as `cargo metadata` describes it.
#[derive(Clone, Debug)]
pub(crate) struct Package {
    pub name: String,
    pub version: String,
    pub publishable: bool,
    /// The directory of its Cargo.toml.
    pub dir: Utf8PathBuf,
    /// (name, version requirement, is a path dependency, kind: normal/build/dev)
    pub deps: Vec<(String, String, bool, String)>,
    /// Its features (`default` aside).
    pub features: Vec<String>,
    /// The `rust-version` it declares (its MSRV).
    pub rust_version: Option<String>,
    /// It has a library target (a public API others compile against).
    pub has_lib: bool,
    /// Its library is a `cdylib` (a Python extension or a wasm module).
    pub cdylib: bool,
    /// The names of its binary targets.
    pub bins: Vec<String>,
}

/// The workspace's packages, read with `cargo metadata` once per job (the first call) and kept in its `Ctx`.
pub(crate) fn workspace_packages(ctx: &Ctx) -> Result<Vec<Package>> {
    let out = match ctx.metadata.get() {
        Some(out) => out,
        None => {
            let sh = &ctx.sh;
            let out = cmd!(sh, "cargo metadata --format-version 1 --no-deps --locked")
                .quiet()
                .read()
                .context("cargo metadata")?;
            ctx.metadata.get_or_init(|| out)
        }
    };
    parse_metadata(out)
}

/// The parts of `cargo metadata --format-version 1` the jobs read.
#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(serde::Deserialize)]
struct MetaPackage {
    name: String,
    version: String,
    /// `null`: any registry; `[]`: `publish = false`; a list: those registries.
    publish: Option<Vec<String>>,
    manifest_path: String,
    #[serde(default)]
    dependencies: Vec<MetaDependency>,
    #[serde(default)]
    features: std::collections::BTreeMap<String, Vec<String>>,
    rust_version: Option<String>,
    #[serde(default)]
    targets: Vec<MetaTarget>,
}

#[derive(serde::Deserialize)]
struct MetaDependency {
    name: String,
    req: String,
    path: Option<String>,
    /// `null` for normal dependencies, else `dev` or `build`.
    kind: Option<String>,
}

#[derive(serde::Deserialize)]
struct MetaTarget {
    name: String,
    kind: Vec<String>,
}

pub(crate) fn parse_metadata(json: &str) -> Result<Vec<Package>> {
    let m: Metadata = serde_json::from_str(json).context("cargo metadata printed JSON of another shape")?;
    Ok(m.packages
        .into_iter()
        .map(|p| {
            let manifest_path = Utf8PathBuf::from(p.manifest_path);
            Package {
                name: p.name,
                version: p.version,
                publishable: p.publish.is_none_or(|regs| !regs.is_empty()),
                dir: manifest_path.parent().map(Utf8Path::to_owned).unwrap_or_default(),
                deps: p
                    .dependencies
                    .into_iter()
                    .map(|d| (d.name, d.req, d.path.is_some(), d.kind.unwrap_or_else(|| "normal".into())))
                    .collect(),
                features: p.features.into_keys().filter(|k| k != "default").collect(),
                rust_version: p.rust_version,
                has_lib: p
                    .targets
                    .iter()
                    .any(|t| t.kind.iter().any(|k| matches!(k.as_str(), "lib" | "rlib" | "dylib"))),
                cdylib: p.targets.iter().any(|t| t.kind.iter().any(|k| k == "cdylib")),
                bins: p.targets.iter().filter(|t| t.kind.iter().any(|k| k == "bin")).map(|t| t.name.clone()).collect(),
            }
        })
        .collect())
}

pub(crate) fn host_triple(ctx: &Ctx) -> Result<String> {
    let sh = &ctx.sh;
    let out = cmd!(sh, "rustc -vV").quiet().read().context("rustc -vV")?;
    out.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_owned).context("rustc -vV printed no host")
}

/// The example scripts' file stems (none without an `[examples]` section in ci.toml).
pub(crate) fn example_scripts(root: &camino::Utf8Path, settings: &crate::settings::Loaded) -> Result<Vec<String>> {
    let Some(examples) = settings.examples() else { return Ok(vec![]) };
    let dir = root.join(&examples.dir);
    let mut out = Vec::new();
    for e in dir.read_dir_utf8().map_err(|e| anyhow::anyhow!("reading {dir}: {e}"))? {
        let e = e?;
        if let Some(stem) = e.file_name().strip_suffix(".py") {
            out.push(stem.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_arguments_resolve_to_a_full_hash_or_are_refused() {
        let sh = Shell::new().unwrap();
        sh.change_dir(crate::project_root());
        let head = resolve_commit(&sh, None).unwrap();
        assert!(is_full_hash(&head), "{head}");
        assert_eq!(resolve_commit(&sh, Some(&head.to_uppercase())).unwrap(), head);
        // A full hash this clone lacks is still a key in the store.
        assert_eq!(resolve_commit(&sh, Some(&"ab".repeat(20))).unwrap(), "ab".repeat(20));
        for bad in ["", "../../etc", "-h", "--output=x", "héllo", "a\nb", "commit/../x", "\u{1b}[31m"] {
            let err = resolve_commit(&sh, Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--commit {bad:?}")) && err.contains("\nfix: "), "{bad:?}: {err}");
        }
    }

    #[test]
    fn reads_the_workspace_version() {
        let text = "[package]\nversion = \"9.9.9\"\n[workspace.package]\n# one version\nversion = \"0.3.1\"\n";
        assert_eq!(workspace_version_in(text).as_deref(), Some("0.3.1"));
        assert_eq!(workspace_version_in("[workspace]\n"), None);
        let root = crate::project_root();
        assert!(workspace_version(&root).unwrap().split('.').count() >= 3);
    }
}
