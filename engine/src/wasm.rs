//! The wasm32 toolchain and the steps that build a web bundle (shared by `test` and `package`).
//!
//! Preference: a toolchain that has the wasm32 target (the rustup way: `rustup target add
//! wasm32-unknown-unknown`); otherwise the toolchain named by `XTASK_WASM_TOOLCHAIN` or
//! `config::WASM_BUILD_STD_TOOLCHAIN` (Debian's `rustc-web`), which builds std from source; otherwise stop
//! and name both fixes.

use anyhow::{Result, bail};
use camino::Utf8PathBuf;
use xshell::{Shell, cmd};

use crate::config::tool;
use crate::config::{self, WASM_TARGET};
use crate::plan::Step;
use crate::settings::WasmBundle;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Toolchain {
    /// The active toolchain (or the named one) has the wasm32 target installed.
    Target { toolchain: Option<String> },
    /// A toolchain that builds std from source with `-Zbuild-std` (needs `RUSTC_BOOTSTRAP=1`).
    BuildStd { toolchain: String },
}

impl Toolchain {
    pub(crate) fn describe(&self) -> String {
        match self {
            Toolchain::Target { toolchain: None } => format!("the active toolchain's {WASM_TARGET} target"),
            Toolchain::Target { toolchain: Some(t) } => format!("toolchain `{t}` with the {WASM_TARGET} target"),
            Toolchain::BuildStd { toolchain } => format!("toolchain `{toolchain}` building std from source"),
        }
    }
}

pub(crate) const FIX: &str = "install a wasm32 toolchain: `rustup target add wasm32-unknown-unknown`, or on Debian \
without rustup targets `cargo xtask doctor --provision` (its bootstrap script installs rustc-web and links the `debian-web` toolchain)";

fn sysroot(sh: &Shell, toolchain: Option<&str>) -> Option<Utf8PathBuf> {
    let plus = toolchain.map(|t| format!("+{t}"));
    let out = cmd!(sh, "rustc {plus...} --print sysroot").quiet().ignore_stderr().read().ok()?;
    Some(Utf8PathBuf::from(out.trim()))
}

fn has_target(sysroot: &Utf8PathBuf) -> bool {
    sysroot.join("lib/rustlib").join(WASM_TARGET).join("lib").is_dir()
}

fn has_std_source(sysroot: &Utf8PathBuf) -> bool {
    sysroot.join("lib/rustlib/src/rust/library/std").is_dir()
}

/// Finds a toolchain that can build for wasm32 (without installing anything).
pub(crate) fn detect(sh: &Shell) -> Result<Toolchain> {
    find(sh, false)
}

/// Like [`detect`], but first tries `rustup target add wasm32-unknown-unknown` when the active toolchain
/// lacks the target (unless `offline`): that is how GitHub's runners get it.
pub(crate) fn provision(sh: &Shell, offline: bool) -> Result<Toolchain> {
    find(sh, !offline)
}

/// The toolchain a job's plan names: provisioned when the job will run, only detected for `--dry-run` and
/// `--json` (which install nothing); then a missing toolchain is planned as the rustup target it would add.
pub(crate) fn for_job(sh: &Shell, global: &crate::ctx::Global) -> Result<Toolchain> {
    if global.dry_run || global.json {
        Ok(detect(sh).unwrap_or(Toolchain::Target { toolchain: None }))
    } else {
        provision(sh, global.offline)
    }
}

fn find(sh: &Shell, provision: bool) -> Result<Toolchain> {
    let configured = std::env::var("XTASK_WASM_TOOLCHAIN").ok().filter(|s| !s.is_empty());
    if configured.is_none() && sysroot(sh, None).is_some_and(|s| has_target(&s)) {
        return Ok(Toolchain::Target { toolchain: None });
    }
    if configured.is_none() && provision {
        let added = cmd!(sh, "rustup target add {WASM_TARGET}").quiet().ignore_stdout().ignore_stderr().run().is_ok();
        if added && sysroot(sh, None).is_some_and(|s| has_target(&s)) {
            eprintln!("provisioned the {WASM_TARGET} target with rustup");
            return Ok(Toolchain::Target { toolchain: None });
        }
    }
    let name = configured.clone().unwrap_or_else(|| config::WASM_BUILD_STD_TOOLCHAIN.to_owned());
    match sysroot(sh, Some(&name)) {
        Some(root) if has_target(&root) => Ok(Toolchain::Target { toolchain: Some(name) }),
        Some(root) if has_std_source(&root) => Ok(Toolchain::BuildStd { toolchain: name }),
        Some(root) => bail!(
            "toolchain `{name}` (sysroot {root}) has neither the {WASM_TARGET} target nor the std sources to build it; {FIX}"
        ),
        None if configured.is_some() => {
            bail!("XTASK_WASM_TOOLCHAIN names `{name}`, which rustc does not know; {FIX}")
        }
        None => bail!("no toolchain can build for {WASM_TARGET}; {FIX}"),
    }
}

/// Where the wasm build puts its output (its own target dir, so host builds are not invalidated).
pub(crate) const TARGET_DIR: &str = config::WASM_TARGET_DIR;

/// The steps that turn `bundle` into a static directory `out` (relative to the root) that can be served as is.
pub(crate) fn bundle_steps(bundle: &WasmBundle, toolchain: &Toolchain, out: &str, target_dir: &str) -> Vec<Step> {
    let build_args = ["build", "--locked", "--release", "--target", WASM_TARGET, "--package", &bundle.package];
    let mut build = match toolchain {
        Toolchain::Target { toolchain: None } => Step::run("wasm: cargo build", "cargo", &[]),
        Toolchain::Target { toolchain: Some(t) } => Step::run("wasm: cargo build", "cargo", &[]).arg(format!("+{t}")),
        Toolchain::BuildStd { toolchain } => Step::run("wasm: cargo build (build-std)", "cargo", &[])
            .arg(format!("+{toolchain}"))
            .env("RUSTC_BOOTSTRAP", "1"),
    };
    build = build.args(build_args).args(["--target-dir", target_dir]);
    if matches!(toolchain, Toolchain::BuildStd { .. }) {
        build = build.arg("-Zbuild-std=std,panic_abort");
    }
    let wasm = format!("{target_dir}/{WASM_TARGET}/release/{}.wasm", bundle.artifact());
    let bg = format!("{out}/{}_bg.wasm", bundle.artifact());
    vec![
        build.tools(&[tool::CARGO]).hint(FIX),
        Step::run("wasm: wasm-bindgen", "wasm-bindgen", &["--target", "web", "--no-typescript", "--out-dir", out])
            .arg(wasm)
            .tools(&[tool::WASM_BINDGEN])
            .hint("wasm-bindgen-cli must match the wasm-bindgen version in Cargo.lock (cargo xtask doctor)"),
        Step::run("wasm: wasm-opt", "wasm-opt", &["-Oz", "--enable-bulk-memory", "--enable-reference-types"])
            .args([
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-multivalue",
            ])
            .args([bg.clone(), "-o".into(), bg])
            .tools(&[tool::WASM_OPT]),
        Step::copy("wasm: static page", &[bundle.www.as_str()], out),
    ]
}
