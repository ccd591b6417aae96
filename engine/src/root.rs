//! The repository the xtask works on: where it is, and a refusal to work on another one by surprise.

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

/// The repository root, resolved at run time: `$XTASK_ROOT` (used to run a job on another checkout, e.g. a
/// fresh clone in the reproducibility check), else the parent of the `CARGO_MANIFEST_DIR` that `cargo run`
/// (the `cargo xtask` alias) sets for this invocation, else the parent of `compiled_in`: the xtask crate's
/// manifest directory when it was compiled (given by its main). The compiled-in path alone is wrong when one
/// target directory serves several checkouts: the binary built for one would work on the other.
pub(crate) fn repository_root(compiled_in: &str) -> Utf8PathBuf {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // Its physical path, as git and cargo report theirs (a root reached through a symlink would be a prefix of
    // none of the paths they name). Not on Windows, where that path is a `\\?\` one few tools take.
    let physical = |p: Utf8PathBuf| if cfg!(unix) { p.canonicalize_utf8().unwrap_or(p) } else { p };
    if let Some(root) = var("XTASK_ROOT") {
        return physical(Utf8PathBuf::from(root));
    }
    let manifest_dir = var("CARGO_MANIFEST_DIR")
        .map(Utf8PathBuf::from)
        .filter(|d| d.join("Cargo.toml").is_file())
        .unwrap_or_else(|| Utf8PathBuf::from(compiled_in));
    physical(manifest_dir.parent().map(Utf8Path::to_owned).unwrap_or(manifest_dir))
}

/// The repository of the engine itself (for its unit tests: this crate's parent directory).
#[cfg(test)]
pub(crate) fn project_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Refuses to run from inside another git repository than the root (a job would silently check, or with
/// `--fix` edit, a checkout the user is not looking at). `$XTASK_ROOT` says explicitly which one is meant.
pub(crate) fn check_current_repository(sh: &Shell, root: &Utf8Path) -> Result<()> {
    if std::env::var_os("XTASK_ROOT").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    let Ok(here) = xshell::cmd!(sh, "git rev-parse --show-toplevel").quiet().ignore_stderr().read() else {
        return Ok(()); // not in a git repository: nothing to confuse
    };
    let canon = |p: &Utf8Path| std::fs::canonicalize(p).ok();
    let (here, there) = (canon(Utf8Path::new(here.trim())), canon(root));
    match (here, there) {
        (Some(here), Some(there)) if here != there => Err(anyhow::anyhow!(
            "the current directory is in the repository {}, but this xtask works on {}\nfix: run `cargo xtask` from {}, \
             or set XTASK_ROOT={} to run this xtask on the current repository",
            here.display(),
            there.display(),
            there.display(),
            here.display()
        )),
        _ => Ok(()),
    }
}
