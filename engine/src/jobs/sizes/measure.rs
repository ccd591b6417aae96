//! `sizes --measure`: what a pull request's commit can be measured by without building anything. Its crates are
//! packaged as they would ship (`cargo package --no-verify`: an archive of the sources, no compile), and the
//! wasm bundles this checkout has built already (the test job's, in `target/ci/web/<bundle>/`, made by the same
//! steps as the packaged ones) are read. Wheels and the rest come from create-packages on the main branch: a
//! pull request's test job builds its wheels in debug, whose sizes say nothing about the shipped ones.

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};

use crate::Ctx;
use crate::config::CI_DIR;
use crate::manifest::{Artifact, Kind, Manifest};

/// What was measured: a manifest of it, and which of the base's artifacts it stands for.
pub(crate) struct Measured {
    pub manifest: Manifest,
    /// The wasm bundles found built here.
    pub bundles: Vec<String>,
    /// What the report says was and was not measured.
    pub notes: Vec<String>,
}

impl Measured {
    /// The base's artifacts this measurement can be compared with: the crates, and the files of the bundles
    /// found here (a bundle the pull request did not build is left out, not reported removed).
    pub(crate) fn comparable(&self, base: &Manifest) -> Manifest {
        let keep = |a: &Artifact| a.kind == Kind::Crate || (a.kind == Kind::Wasm && self.bundles.contains(&a.name));
        Manifest { artifacts: base.artifacts.iter().filter(|a| keep(a)).cloned().collect(), ..base.clone() }
    }
}

/// Measures `commit`'s checkout (see the module's documentation).
pub(crate) fn measure(ctx: &Ctx, commit: &str) -> Result<Measured> {
    let packages = crate::workspace::workspace_packages(ctx)?;
    let publishable: Vec<&crate::workspace::Package> = packages.iter().filter(|p| p.publishable).collect();
    let mut artifacts = crates(ctx, &publishable)?;
    let mut bundles = Vec::new();
    let mut notes = vec![format!("measured here: {} crates, packaged as they ship (not built)", publishable.len())];
    for b in ctx.settings.wasm() {
        let dir = ctx.root.join(CI_DIR).join("web").join(&b.package);
        if dir.is_dir() {
            artifacts.extend(bundle_files(&dir, &b.package)?);
            bundles.push(b.package.clone());
            notes.push(format!("measured here: the wasm bundle {} (built by this run's tests)", b.package));
        } else {
            notes.push(format!("not measured: the wasm bundle {} (this change did not build it)", b.package));
        }
    }
    notes.push("not measured on a pull request: wheels, sdists, recordings, binaries (create-packages measures them on the main branch)".into());
    let version = publishable.first().map(|p| p.version.clone()).unwrap_or_default();
    let manifest = Manifest {
        commit: commit.to_owned(),
        dirty: false,
        source_date_epoch: 0,
        xtask_version: env!("CARGO_PKG_VERSION").into(),
        version,
        artifacts,
    };
    Ok(Measured { manifest, bundles, notes })
}

/// The `.crate` of each of `packages`, packaged into `target/ci/sizes/` without a build.
fn crates(ctx: &Ctx, packages: &[&crate::workspace::Package]) -> Result<Vec<Artifact>> {
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let sh = &ctx.sh;
    let target = ctx.root.join(CI_DIR).join("sizes");
    let names: Vec<String> = packages.iter().flat_map(|p| ["-p".to_owned(), p.name.clone()]).collect();
    let out = cmd_package(sh, &target, &names)?;
    if !out.status.success() {
        bail!(
            "cargo package --no-verify failed: {}\nfix: run the same command here to see why (a crate that cannot \
             be packaged cannot ship either)",
            crate::plan::printable(String::from_utf8_lossy(&out.stderr).trim())
        );
    }
    let mut artifacts = Vec::new();
    for p in packages {
        let file = target.join("package").join(format!("{}-{}.crate", p.name, p.version));
        let size = std::fs::metadata(&file).with_context(|| format!("cargo package wrote no {file}"))?.len();
        artifacts.push(artifact(Kind::Crate, &p.name, &format!("crates/{}-{}.crate", p.name, p.version), size));
    }
    Ok(artifacts)
}

/// `cargo package` of `names`: offline first (the crates' dependencies are usually in cargo's cache already, and
/// an index round trip per dependency costs more than the packaging), else with the network.
fn cmd_package(sh: &xshell::Shell, target: &Utf8Path, names: &[String]) -> Result<std::process::Output> {
    let run = |offline: Option<&str>| {
        xshell::cmd!(
            sh,
            "cargo package --no-verify --locked --allow-dirty --quiet {offline...} --target-dir {target} {names...}"
        )
        .quiet()
        .ignore_status()
        .output()
        .context("running cargo package")
    };
    let out = run(Some("--offline"))?;
    if out.status.success() { Ok(out) } else { run(None) }
}

/// Every file of the bundle built in `dir`, as the manifest names a bundle's files (`web/<bundle>/<path>`).
fn bundle_files(dir: &Utf8Path, bundle: &str) -> Result<Vec<Artifact>> {
    let mut out = Vec::new();
    let mut todo: Vec<Utf8PathBuf> = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in d.read_dir_utf8().with_context(|| format!("reading {d}"))? {
            let e = e?;
            let meta = std::fs::symlink_metadata(e.path())?;
            if meta.is_dir() {
                todo.push(e.path().to_owned());
            } else if meta.is_file() {
                let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
                out.push(artifact(Kind::Wasm, bundle, &format!("web/{bundle}/{rel}"), meta.len()));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn artifact(kind: Kind, name: &str, path: &str, size: u64) -> Artifact {
    Artifact {
        kind,
        name: name.to_owned(),
        path: path.to_owned(),
        size,
        sha256: String::new(),
        version: String::new(),
        platform: None,
        tag: None,
        command: String::new(),
        tools: vec![],
    }
}
