//! Rust targets other than the host's: installed by rustup where it can, else a clear stop.

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

/// Whether the active toolchain has the standard library for `target`.
pub(crate) fn installed(sh: &Shell, target: &str) -> bool {
    let Ok(sysroot) = cmd!(sh, "rustc --print sysroot").quiet().ignore_stderr().read() else { return false };
    camino::Utf8Path::new(sysroot.trim()).join("lib/rustlib").join(target).join("lib").is_dir()
}

/// Makes sure `target` can be built for: `rustup target add` when it is missing (unless `offline`).
pub(crate) fn ensure(sh: &Shell, target: &str, offline: bool) -> Result<()> {
    if installed(sh, target) {
        return Ok(());
    }
    if offline {
        bail!("the Rust target {target} is not installed\nfix: rustup target add {target} (--offline forbids it here)");
    }
    let added = cmd!(sh, "rustup target add {target}").quiet().ignore_stdout().ignore_stderr().run().is_ok();
    if added && installed(sh, target) {
        eprintln!("provisioned the {target} target with rustup");
        return Ok(());
    }
    bail!(
        "cannot build for {target}: the active toolchain has no standard library for it and `rustup target add \
         {target}` did not add one (a toolchain without rustup, such as Debian's rustc-web, cannot cross-build)\nfix: \
         run `rustup target add {target}` on a rustup toolchain, or build only for this machine with --target <host>"
    );
}
