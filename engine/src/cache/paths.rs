//! Cache hits wherever a checkout is. sccache keys a Rust compile by its working directory and by the absolute
//! paths in its arguments and `CARGO_*` variables (`CARGO_MANIFEST_DIR`, ...), and rustc writes the working
//! directory into what it builds: the same crate built in two checkouts never hits. So on Unix every compile of a
//! cached job goes through a wrapper (this very binary, copied once per build of it to
//! `/tmp/xtask-build/bin/HASH/xtask-rustc-wrapper`) that moves it to one directory, the same on every machine:
//! `/tmp/xtask-build/SLOT/`.
//!
//! - `ws/` stands for the workspace root: a real directory of symlinks to the root's entries, so a compile there
//!   sees the same relative paths (`crates/x/src/lib.rs`, what `file!()` and cargo's dep-info say) and has the
//!   same physical working directory on every machine.
//! - `/tmp/xtask-build/cargo-home` links to `$CARGO_HOME` (registry and git crates), for every slot; `SLOT/target`
//!   to a target directory outside the root (`CARGO_TARGET_DIR`).
//! - A compile whose working directory is elsewhere under those (a registry crate's own directory, one `cargo
//!   package` checks in `target/`) runs in a mirror of that directory under `/tmp/xtask-build/mirror/`, made the
//!   same way on first use: a registry crate's once (its files never change), one in the checkout anew each job.
//!
//! The wrapper replaces those prefixes in the working directory, the arguments (`--remap-path-prefix` FROM
//! included) and the `CARGO_*` variables, and runs sccache. What rustc writes (debug info, `file!()`, dep-info)
//! then names the stable paths, which lead to the same files through the links; cargo reads the dep-info relative
//! to its own working directory, as before. A wrapper that fails runs the compile in place, with a warning.
//!
//! What was built there names the stable paths (`env!("CARGO_MANIFEST_DIR")` in a test, say), so a slot stays
//! its checkout's: a job takes the slot its checkout had, else one whose checkout is gone (a runner's, a deleted
//! worktree's), else a new one. A second checkout alive beside the first gets a slot of its own: its workspace
//! crates hit what was built in that slot (its registry crates hit everywhere). A slot is also one job's at a
//! time (a file lock): a second job of one checkout at once takes another.
//! The base directory must be this user's own and writable by nobody else, since whoever can write it can swap
//! the sources a compile reads; where it cannot be had, the cache works without it, hitting only at the same path.
//! A slot's record of its checkout lives in `/tmp`: where `/tmp` cleaning removes it, the slot can go to another
//! checkout, and the first one's test binaries built before then name the other's files until rebuilt.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};

/// The wrapper's file name: the engine's `main` acts as the wrapper when its program has this name.
pub(crate) const WRAPPER: &str = "xtask-rustc-wrapper";
/// The stable base, the same path on every machine (Unix); `XTASK_CACHE_BUILD_DIR` sets another (on every
/// machine alike, or hits stop at that machine).
pub(crate) const BASE: &str = "/tmp/xtask-build";
/// The prefixes the wrapper replaces (JSON: `[[from, to], ...]`, longest first) and the sccache it runs.
const PATHS_VAR: &str = "XTASK_CACHE_PATHS";
const SCCACHE_VAR: &str = "XTASK_CACHE_SCCACHE";
/// A bound on the slots looked at (each live checkout that used the cache keeps one).
const SLOTS: usize = 10_000;

/// Prefix replacements, longest `from` first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Map(Vec<(PathBuf, PathBuf)>);

impl Map {
    pub(crate) fn new(mut pairs: Vec<(PathBuf, PathBuf)>) -> Map {
        pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.as_os_str().len()));
        Map(pairs)
    }

    /// `path` with its mapped prefix replaced (a whole path component: `/a/bc` is not under `/a/b`).
    fn path(&self, path: &Path) -> Option<PathBuf> {
        self.0.iter().find_map(|(from, to)| path.strip_prefix(from).ok().map(|rest| join(to, rest)))
    }

    /// An argument or a variable's value: a path, or `=`-separated parts of which some are paths (`link-arg=PATH`,
    /// `dependency=PATH`, `--remap-path-prefix=FROM=TO`, `FROM=TO`).
    fn value(&self, value: &OsStr) -> Option<OsString> {
        if let Some(p) = self.path(Path::new(value)) {
            return Some(p.into_os_string());
        }
        let text = value.to_str()?;
        let mut changed = false;
        let parts: Vec<String> = text
            .split('=')
            .map(|part| match self.path(Path::new(part)).and_then(|p| p.into_os_string().into_string().ok()) {
                Some(p) if Path::new(part).is_absolute() => {
                    changed = true;
                    p
                }
                _ => part.to_owned(),
            })
            .collect();
        changed.then(|| parts.join("=").into())
    }
}

/// `to` joined with `rest`, without a trailing separator for an empty `rest`.
fn join(to: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() { to.to_owned() } else { to.join(rest) }
}

/// One compile as the wrapper runs it: where, with what arguments, and the variables that change.
#[derive(Debug, PartialEq)]
pub(crate) struct Moved {
    pub(crate) cwd: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) vars: Vec<(OsString, OsString)>,
    /// The directory to mirror at `cwd` first, when `cwd` is a mirror (`None` for the root's, made up front).
    pub(crate) mirror_of: Option<PathBuf>,
}

/// Moves one compile (`cwd`, the arguments after the wrapper, the environment) to the stable directory: the
/// root's mirror `ws` (made up front), or for another mapped working directory a mirror under `BASE/mirror/`.
pub(crate) fn moved(map: &Map, ws: &Path, cwd: &Path, args: &[OsString], env: &[(OsString, OsString)]) -> Moved {
    let base = ws.parent().and_then(Path::parent).unwrap_or(ws);
    let (cwd, mirror_of) = match map.path(cwd) {
        Some(p) if p == ws => (p, None),
        Some(p) => match p.strip_prefix(base) {
            Ok(rel) => (base.join("mirror").join(rel), Some(cwd.to_owned())),
            Err(_) => (cwd.to_owned(), None),
        },
        None => (cwd.to_owned(), None),
    };
    let args = args.iter().map(|a| map.value(a).unwrap_or_else(|| a.clone())).collect();
    // The variables cargo sets for a compile (and sccache hashes), and `OUT_DIR`; not `PATH` and the like.
    // (Not `CARGO_ENCODED_RUSTFLAGS`: sccache leaves it out, and the flags reach rustc as arguments.)
    let moves = |k: &OsStr| {
        k.to_str().is_some_and(|k| (k.starts_with("CARGO") && k != "CARGO_ENCODED_RUSTFLAGS") || k == "OUT_DIR")
    };
    let vars = env.iter().filter(|(k, _)| moves(k)).filter_map(|(k, v)| map.value(v).map(|v| (k.clone(), v))).collect();
    Moved { cwd, args, vars, mirror_of }
}

/// `real`'s entries as symlinks in a new directory `at` (made beside it and renamed into place, so a compile
/// running at once sees it whole or not at all). Nothing to do when `at` is there.
fn mirror(real: &Path, at: &Path) -> std::io::Result<()> {
    if at.is_dir() {
        return Ok(());
    }
    let parent = at.parent().unwrap_or(at);
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".{}.{}", std::process::id(), at.file_name().unwrap_or_default().display()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp)?;
    for entry in std::fs::read_dir(real)? {
        let entry = entry?;
        link(&entry.path(), &tmp.join(entry.file_name()))?;
    }
    match std::fs::rename(&tmp, at) {
        Ok(()) => Ok(()),
        // Another compile made it first.
        Err(_) if at.is_dir() => std::fs::remove_dir_all(&tmp),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn link(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "symlinks are Unix only here"))
}

/// The engine's `main` as the wrapper: `Some(exit code)` when this process is `xtask-rustc-wrapper` (cargo's
/// `RUSTC_WRAPPER`, called as `WRAPPER RUSTC ARGS...`), `None` otherwise.
pub(crate) fn as_wrapper() -> Option<std::process::ExitCode> {
    let program = std::env::args_os().next()?;
    let name = Path::new(&program).file_stem()?;
    if name != WRAPPER {
        return None;
    }
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let sccache = std::env::var_os(SCCACHE_VAR);
    let err = match wrap(sccache.as_deref(), &args) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    // The cache is never why a build fails: this compile runs where it is, through sccache if it can.
    eprintln!("warning: {WRAPPER}: {err:#}; this compile runs in place");
    let (program, rest) = match &sccache {
        Some(s) => (s.as_os_str(), &args[..]),
        None => match args.split_first() {
            Some((rustc, rest)) => (rustc.as_os_str(), rest),
            None => (OsStr::new("rustc"), &args[..]),
        },
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    let err = match exec(cmd) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    eprintln!("error: {WRAPPER}: {err:#}\nfix: unset RUSTC_WRAPPER and XTASK_CACHE");
    Some(std::process::ExitCode::from(2))
}

/// Runs `sccache` on the moved compile in place of this process; returns only on failure.
fn wrap(sccache: Option<&OsStr>, args: &[OsString]) -> Result<std::convert::Infallible> {
    let sccache = sccache.context("XTASK_CACHE_SCCACHE is not set")?;
    let pairs: Vec<(PathBuf, PathBuf)> =
        serde_json::from_str(&std::env::var(PATHS_VAR).context("XTASK_CACHE_PATHS is not set")?)
            .context("reading XTASK_CACHE_PATHS")?;
    let ws = pairs.iter().find(|(_, to)| to.file_name().is_some_and(|n| n == "ws")).map(|(_, to)| to.clone());
    let ws = ws.context("XTASK_CACHE_PATHS names no workspace mirror")?;
    let map = Map::new(pairs);
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let m = moved(&map, &ws, &cwd, args, &env);
    if let Some(real) = &m.mirror_of {
        mirror(real, &m.cwd).with_context(|| format!("mirroring {} at {}", real.display(), m.cwd.display()))?;
    }
    let mut cmd = std::process::Command::new(sccache);
    cmd.args(&m.args).current_dir(&m.cwd).envs(m.vars.iter().map(|(k, v)| (k, v)));
    exec(cmd)
}

#[cfg(unix)]
fn exec(mut cmd: std::process::Command) -> Result<std::convert::Infallible> {
    use std::os::unix::process::CommandExt as _;
    Err(cmd.exec()).context("running sccache")
}

#[cfg(not(unix))]
fn exec(mut cmd: std::process::Command) -> Result<std::convert::Infallible> {
    let status = cmd.status().context("running sccache")?;
    std::process::exit(status.code().unwrap_or(1))
}

/// A stable directory held for one job: the variables that send its compiles through the wrapper. Let go (its
/// lock) when dropped.
pub(crate) struct Farm {
    pub(crate) dir: Utf8PathBuf,
    pub(crate) vars: Vec<(String, String)>,
    _lock: std::fs::File,
}

/// What the farm maps: the workspace root, the target directory when it is outside it, and `$CARGO_HOME`.
pub(crate) struct Places {
    pub(crate) root: Utf8PathBuf,
    pub(crate) target: Utf8PathBuf,
    pub(crate) cargo_home: Option<Utf8PathBuf>,
}

impl Places {
    /// This process's: `CARGO_TARGET_DIR` (else `ROOT/target`) and `CARGO_HOME` (else `~/.cargo`), each resolved
    /// to its physical path (what a compile's working directory reads).
    pub(crate) fn of(root: &Utf8Path) -> Places {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let target = env("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
        let home = env("HOME").map(|h| Utf8PathBuf::from(h).join(".cargo"));
        let cargo_home = env("CARGO_HOME").map(|h| root.join(h)).or(home);
        let real = |p: &Utf8Path| p.canonicalize_utf8().unwrap_or_else(|_| p.to_owned());
        let _ = std::fs::create_dir_all(&target);
        Places { root: real(root), target: real(&target), cargo_home: cargo_home.as_deref().map(real) }
    }
}

/// Takes the first free slot under `base` (made this user's own, closed to others), mirrors the root there,
/// copies this binary in as the wrapper, and returns the variables that send compiles through it to `sccache`.
pub(crate) fn prepare(base: &Utf8Path, places: &Places, sccache: &Utf8Path) -> Result<Farm> {
    if !cfg!(unix) {
        bail!("a stable build directory needs symlinks (Unix)");
    }
    own_base(base)?;
    let (dir, lock) = slot(base, &places.root)?;
    let ws = dir.join("ws");
    if ws.exists() {
        std::fs::remove_dir_all(&ws).with_context(|| format!("removing the old {ws}"))?;
    }
    // Mirrors of directories in the checkout (a crate `cargo package` checks in target/) are this job's: made
    // anew from what is there now. Those of registry crates, whose files never change, stay for every slot.
    let own_mirrors = base.join("mirror").join(dir.file_name().unwrap_or_default());
    let _ = std::fs::remove_dir_all(&own_mirrors);
    mirror(places.root.as_std_path(), ws.as_std_path()).with_context(|| format!("mirroring the root at {ws}"))?;
    let mut pairs = vec![(places.root.clone(), ws)];
    let mut place = |at: Utf8PathBuf, real: &Utf8Path| -> Result<()> {
        let _ = std::fs::remove_file(&at);
        link(real.as_std_path(), at.as_std_path()).with_context(|| format!("linking {at} to {real}"))?;
        pairs.push((real.to_owned(), at));
        Ok(())
    };
    if !places.target.starts_with(&places.root) {
        place(dir.join("target"), &places.target)?;
    }
    if let Some(home) = &places.cargo_home {
        // One link for every slot, so a registry crate hits whichever checkout built it (its files are the
        // same wherever it was unpacked); a slot's own where the shared one leads to another `$CARGO_HOME`.
        let shared = base.join("cargo-home");
        let _held = crate::lock::exclusive(&base.join("cargo-home.lock"), "another job linking cargo-home")?;
        if !shared.exists() {
            // Not there, or leading to a `$CARGO_HOME` that is gone (so no job uses it).
            let _ = std::fs::remove_file(&shared);
            let _ = link(home.as_std_path(), shared.as_std_path());
        }
        match shared.read_link_utf8() {
            Ok(to) if to == *home => pairs.push((home.clone(), shared)),
            _ => place(dir.join("cargo-home"), home)?,
        }
    }
    let wrapper = copy_self(base)?;
    let pairs: Vec<(String, String)> = pairs.into_iter().map(|(a, b)| (a.into_string(), b.into_string())).collect();
    let vars = vec![
        ("RUSTC_WRAPPER".to_owned(), wrapper.into_string()),
        (PATHS_VAR.to_owned(), serde_json::to_string(&pairs)?),
        (SCCACHE_VAR.to_owned(), sccache.to_string()),
    ];
    Ok(Farm { dir, vars, _lock: lock })
}

/// Makes `base` (if it is not there), checks it is a directory of this user's, and closes it to everybody else
/// (mode 0700).
fn own_base(base: &Utf8Path) -> Result<()> {
    #[cfg(unix)]
    let made = {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new().mode(0o700).create(base)
    };
    #[cfg(not(unix))]
    let made = std::fs::DirBuilder::new().create(base);
    match made {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {base}")),
    }
    let meta = std::fs::symlink_metadata(base).with_context(|| format!("reading {base}"))?;
    if !meta.file_type().is_dir() {
        bail!("{base} is not a directory (a symlink or a file is in its place)");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        // Whose it is: a file made new in it is this user's (root included, who could write anyone's). Made new:
        // never through a symlink somebody put there.
        let probe = base.join(format!(".owner-{}", std::process::id()));
        let made = std::fs::OpenOptions::new().write(true).create_new(true).open(&probe);
        let mine = made.and_then(|f| f.metadata()).map(|m| m.uid());
        let _ = std::fs::remove_file(&probe);
        if mine.ok() != Some(meta.uid()) {
            bail!("{base} belongs to another user");
        }
        if meta.mode() & 0o022 != 0 {
            // Others could write it before: what they may have put in it cannot be told apart.
            bail!("{base} is writable by other users\nfix: remove it (rm -rf {base}); the next job makes it anew");
        }
        std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("closing {base} to other users"))?;
    }
    Ok(())
}

/// A slot for the checkout at `root`, with its lock: one it had before (so what it built keeps naming its own
/// files), else one no existing checkout has, else a new one; it is then `root`'s (its file `root` says so).
fn slot(base: &Utf8Path, root: &Utf8Path) -> Result<(Utf8PathBuf, std::fs::File)> {
    let owner = |n: usize| std::fs::read_to_string(base.join(n.to_string()).join("root")).ok();
    let mine = |o: &Option<String>| o.as_deref() == Some(root.as_str());
    let unowned = |o: &Option<String>| o.as_deref().is_none_or(|o| !Utf8Path::new(o).exists());
    let mut slots: Vec<usize> =
        base.read_dir_utf8().into_iter().flatten().flatten().filter_map(|e| e.file_name().parse().ok()).collect();
    slots.sort_unstable();
    let mine: Vec<usize> = slots.iter().copied().filter(|&n| mine(&owner(n))).collect();
    let free: Vec<usize> = slots.iter().copied().filter(|&n| unowned(&owner(n))).collect();
    let new = (0..SLOTS).filter(|n| slots.binary_search(n).is_err());
    for n in mine.into_iter().chain(free).chain(new) {
        let dir = base.join(n.to_string());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
        if let Ok(lock) = crate::lock::try_exclusive(&dir.join("lock"))? {
            std::fs::write(dir.join("root"), root.as_str()).with_context(|| format!("writing {dir}/root"))?;
            return Ok((dir, lock));
        }
    }
    bail!("{SLOTS} stable build directories under {base} belong to other checkouts or are in use")
}

/// This binary under the wrapper's name: a copy (cargo may rebuild the original meanwhile) in `BASE/bin/HASH/`,
/// made once per build of it. Copies of other builds not used for a week go.
fn copy_self(base: &Utf8Path) -> Result<Utf8PathBuf> {
    let exe = std::env::current_exe().context("finding this program")?;
    let exe = Utf8PathBuf::try_from(exe).context("this program's path is not UTF-8")?;
    let (hash, _) = crate::sha256::file(&exe)?;
    let bin = base.join("bin");
    let dir = bin.join(&hash[..16]);
    let at = dir.join(format!("{WRAPPER}{}", std::env::consts::EXE_SUFFIX));
    if !at.is_file() {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        let copied = std::fs::copy(&exe, &tmp).map(drop).and_then(|()| std::fs::rename(&tmp, &at));
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("copying {exe} to {at}"));
        }
    }
    // This build's copy is in use: its directory's time says so (before looking at the others').
    let _ = std::fs::File::open(&dir).and_then(|d| d.set_modified(std::time::SystemTime::now()));
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    for entry in bin.read_dir_utf8().into_iter().flatten().flatten() {
        let idle = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if entry.path() != dir && idle.is_some_and(|d| d > week) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(at)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn map() -> Map {
        Map::new(vec![
            ("/home/me/.cargo".into(), "/tmp/xtask-build/cargo-home".into()),
            ("/home/me/src/repo".into(), "/tmp/xtask-build/0/ws".into()),
            ("/home/me/src/repo/target".into(), "/tmp/xtask-build/0/ws/target".into()),
        ])
    }

    /// A workspace crate compiles in the root's mirror with the same relative arguments; absolute paths under the
    /// root, the target directory and `$CARGO_HOME` move, in arguments (a remapped prefix included, so the
    /// remapping still applies) and variables; the rest stays.
    #[test]
    fn a_compile_moves_to_the_stable_directory() {
        let ws = Path::new("/tmp/xtask-build/0/ws");
        let args = os(&[
            "rustc",
            "--crate-name",
            "leaf",
            "crates/leaf/src/lib.rs",
            "--out-dir",
            "/home/me/src/repo/target/debug/deps",
            "-C",
            "link-arg=/home/me/src/repo/x.ld",
            "-L",
            "dependency=/home/me/src/repo/target/debug/deps",
            "/home/me/src/repository/elsewhere.rs",
            "--remap-path-prefix=/home/me/src/repo=/repo",
            "--remap-path-prefix",
            "/home/me/.cargo=/cargo",
        ]);
        let env: Vec<(OsString, OsString)> = vec![
            ("CARGO_MANIFEST_DIR".into(), "/home/me/src/repo/crates/leaf".into()),
            ("CARGO_HOME".into(), "/home/me/.cargo".into()),
            ("CARGO_PKG_NAME".into(), "leaf".into()),
            ("PATH".into(), "/home/me/src/repo/.tools:/usr/bin".into()),
            ("CARGO_ENCODED_RUSTFLAGS".into(), "--remap-path-prefix=/home/me/src/repo=/repo".into()),
        ];
        let m = moved(&map(), ws, Path::new("/home/me/src/repo"), &args, &env);
        assert_eq!(m.cwd, Path::new("/tmp/xtask-build/0/ws"));
        assert_eq!(m.mirror_of, None, "the root's mirror is made up front");
        let want = os(&[
            "rustc",
            "--crate-name",
            "leaf",
            "crates/leaf/src/lib.rs",
            "--out-dir",
            "/tmp/xtask-build/0/ws/target/debug/deps",
            "-C",
            "link-arg=/tmp/xtask-build/0/ws/x.ld",
            "-L",
            "dependency=/tmp/xtask-build/0/ws/target/debug/deps",
            "/home/me/src/repository/elsewhere.rs",
            "--remap-path-prefix=/tmp/xtask-build/0/ws=/repo",
            "--remap-path-prefix",
            "/tmp/xtask-build/cargo-home=/cargo",
        ]);
        assert_eq!(m.args, want, "a sibling named like the root's prefix stays");
        let vars: Vec<(OsString, OsString)> = vec![
            ("CARGO_MANIFEST_DIR".into(), "/tmp/xtask-build/0/ws/crates/leaf".into()),
            ("CARGO_HOME".into(), "/tmp/xtask-build/cargo-home".into()),
        ];
        assert_eq!(m.vars, vars, "only values under a mapped place change");
    }

    /// A registry crate compiles in a mirror of its own directory, named by its stable path (the same for every
    /// slot).
    #[test]
    fn a_registry_crate_compiles_in_a_mirror_of_its_directory() {
        let ws = Path::new("/tmp/xtask-build/0/ws");
        let pkg = "/home/me/.cargo/registry/src/index.crates.io-1/serde-1.0.0";
        let args = os(&["rustc", &format!("{pkg}/src/lib.rs")]);
        let m = moved(&map(), ws, Path::new(pkg), &args, &[]);
        assert_eq!(m.cwd, Path::new("/tmp/xtask-build/mirror/cargo-home/registry/src/index.crates.io-1/serde-1.0.0"));
        assert_eq!(m.mirror_of.as_deref(), Some(Path::new(pkg)));
        assert_eq!(m.args[1], "/tmp/xtask-build/cargo-home/registry/src/index.crates.io-1/serde-1.0.0/src/lib.rs");
        let outside = moved(&map(), ws, Path::new("/opt/shared"), &os(&["rustc", "src/lib.rs"]), &[]);
        assert_eq!((outside.cwd.as_path(), outside.mirror_of), (Path::new("/opt/shared"), None), "unmapped: as is");
    }

    /// The root's mirror has its entries as links (so relative paths reach the same files), a second job at
    /// once takes the next slot, and a base that is not a directory of this user's is refused.
    #[test]
    fn a_slot_mirrors_the_root_and_is_one_job_s_at_a_time() {
        let tmp = crate::testutil::temp_dir("cache-farm");
        let root = tmp.join("repo");
        std::fs::create_dir_all(root.join("crates/leaf/src")).unwrap();
        std::fs::write(root.join("crates/leaf/src/lib.rs"), "pub fn f() {}").unwrap();
        std::fs::write(root.join("Cargo.toml"), "[workspace]").unwrap();
        let home = tmp.join("cargo-home");
        std::fs::create_dir_all(&home).unwrap();
        let places = Places { root: root.clone(), target: tmp.join("elsewhere/target"), cargo_home: Some(home) };
        std::fs::create_dir_all(&places.target).unwrap();
        let base = tmp.join("base");
        let first = prepare(&base, &places, Utf8Path::new("/bin/sccache")).unwrap();
        assert_eq!(first.dir, base.join("0"));
        let text = std::fs::read_to_string(first.dir.join("ws/crates/leaf/src/lib.rs")).unwrap();
        assert_eq!(text, "pub fn f() {}", "the mirror reaches the root's files");
        assert!(first.dir.join("ws").symlink_metadata().unwrap().is_dir(), "the mirror is a real directory");
        assert!(first.dir.join("target").read_link().is_ok(), "a target directory outside the root: linked");
        assert_eq!(base.join("cargo-home").read_link().unwrap(), tmp.join("cargo-home"), "one link for every slot");
        let var = |f: &Farm, k: &str| f.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        let wrapper = Utf8PathBuf::from(var(&first, "RUSTC_WRAPPER"));
        assert!(wrapper.starts_with(base.join("bin")) && wrapper.ends_with(WRAPPER) && wrapper.is_file(), "{wrapper}");
        let pairs: Vec<(String, String)> = serde_json::from_str(&var(&first, PATHS_VAR)).unwrap();
        assert!(pairs.contains(&(root.to_string(), base.join("0/ws").to_string())), "{pairs:?}");
        let second = prepare(&base, &places, Utf8Path::new("/bin/sccache")).unwrap();
        assert_eq!(second.dir, base.join("1"), "the first slot is held");
        assert_eq!(Utf8PathBuf::from(var(&second, "RUSTC_WRAPPER")), wrapper, "one copy of one build");
        drop((first, second));
        let third = prepare(&base, &places, Utf8Path::new("/bin/sccache")).unwrap();
        assert_eq!(third.dir, base.join("0"), "let go, it is free again");
        drop(third);
        // Another checkout alive beside it: a slot of its own; once the first is gone, the first's slot.
        let other = tmp.join("other");
        std::fs::create_dir_all(&other).unwrap();
        let elsewhere = Places { root: other.clone(), target: other.join("target"), cargo_home: None };
        let fourth = prepare(&base, &elsewhere, Utf8Path::new("/bin/sccache")).unwrap();
        assert_eq!(fourth.dir, base.join("2"), "slots 0 and 1 are the first checkout's");
        drop(fourth);
        std::fs::remove_dir_all(&root).unwrap();
        let fifth = prepare(&base, &elsewhere, Utf8Path::new("/bin/sccache")).unwrap();
        assert_eq!(fifth.dir, base.join("2"), "its own slot first");
        drop(fifth);
        std::fs::remove_file(base.join("2/root")).unwrap();
        let sixth = prepare(&base, &elsewhere, Utf8Path::new("/bin/sccache")).unwrap();
        assert_eq!(sixth.dir, base.join("0"), "the gone checkout's slot is free");
        let file = tmp.join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let e = prepare(&file, &places, Utf8Path::new("/bin/sccache")).err().unwrap();
        assert!(format!("{e:#}").contains("is not a directory"), "{e:#}");
        let link_base = tmp.join("link-base");
        std::os::unix::fs::symlink(&base, &link_base).unwrap();
        assert!(prepare(&link_base, &places, Utf8Path::new("/bin/sccache")).is_err(), "a symlink in its place");
    }

    /// A base others could write is refused, and the ownership probe never writes through a planted symlink.
    #[test]
    fn a_base_others_could_touch_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = crate::testutil::temp_dir("cache-base");
        let open = tmp.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = own_base(&open).unwrap_err().to_string();
        assert!(e.contains("writable by other users") && e.contains("\nfix: "), "{e}");
        let planted = tmp.join("planted");
        std::fs::create_dir(&planted).unwrap();
        let precious = tmp.join("precious");
        std::fs::write(&precious, "keep me").unwrap();
        std::os::unix::fs::symlink(&precious, planted.join(format!(".owner-{}", std::process::id()))).unwrap();
        assert!(own_base(&planted).is_err(), "a probe that cannot be made new proves nothing");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me", "nothing written through the link");
        let fresh = tmp.join("fresh");
        own_base(&fresh).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700, "made closed");
    }

    /// A registry crate's mirror is made on first use and reaches its files.
    #[test]
    fn a_mirror_is_made_once() {
        let tmp = crate::testutil::temp_dir("cache-mirror");
        std::fs::create_dir_all(tmp.join("pkg/src")).unwrap();
        std::fs::write(tmp.join("pkg/src/lib.rs"), "x").unwrap();
        let at = tmp.join("farm/mirror/pkg");
        mirror(tmp.join("pkg").as_std_path(), at.as_std_path()).unwrap();
        mirror(tmp.join("pkg").as_std_path(), at.as_std_path()).unwrap();
        assert_eq!(std::fs::read_to_string(at.join("src/lib.rs")).unwrap(), "x");
    }
}
