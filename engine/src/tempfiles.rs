//! Temporary files of the store, upload, sign and release jobs. Each is named after the process that owns it
//! (`<what>.xtmp-<pid>-<n>`) and removed by a guard on every path out of the code that made it (success,
//! error, panic); what a run that was killed left behind (Ctrl-C, SIGTERM, SIGKILL) is removed by the next run
//! that uses the same directory ([`sweep`]), so nothing grows without bound.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// Where the jobs' temporary files go, relative to the repository root.
pub(crate) const DIR: &str = crate::config::STORE_TMP_DIR;

const MARK: &str = ".xtmp-";

/// [`DIR`] of the repository `sh` works in (every job's shell starts in the repository root).
pub(crate) fn dir_of(sh: &xshell::Shell) -> Utf8PathBuf {
    let here = sh.current_dir();
    Utf8PathBuf::from_path_buf(here).unwrap_or_else(|p| Utf8PathBuf::from(p.to_string_lossy().into_owned())).join(DIR)
}

/// A temporary file's path, removed when dropped.
#[derive(Debug)]
pub(crate) struct TempFile(Utf8PathBuf);

impl TempFile {
    pub(crate) fn path(&self) -> &Utf8Path {
        &self.0
    }
}

impl std::ops::Deref for TempFile {
    type Target = Utf8Path;
    fn deref(&self) -> &Utf8Path {
        &self.0
    }
}

impl std::fmt::Display for TempFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl AsRef<std::ffi::OsStr> for TempFile {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl AsRef<std::path::Path> for TempFile {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_std_path()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new unique temporary path in `dir` (created if needed); nothing is created at the path itself. The first
/// use of a directory in a process sweeps what killed runs left there.
pub(crate) fn temp_file(dir: &Utf8Path, what: &str) -> Result<TempFile> {
    static N: AtomicU64 = AtomicU64::new(0);
    static SWEPT: std::sync::Mutex<Vec<Utf8PathBuf>> = std::sync::Mutex::new(Vec::new());
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    {
        let mut swept = SWEPT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !swept.iter().any(|d| d == dir) {
            swept.push(dir.to_owned());
            sweep(dir);
        }
    }
    let n = N.fetch_add(1, Ordering::Relaxed);
    Ok(TempFile(dir.join(format!("{what}{MARK}{}-{n}", std::process::id()))))
}

/// Removes the temporary files in `dir` whose process no longer runs; returns how many.
pub(crate) fn sweep(dir: &Utf8Path) -> usize {
    let Ok(entries) = dir.read_dir_utf8() else { return 0 };
    let mut removed = 0;
    for e in entries.flatten() {
        let Some(pid) = owner(e.file_name()) else { continue };
        let stale = pid != std::process::id() && !alive(pid, e.path());
        if stale && (std::fs::remove_file(e.path()).is_ok() || std::fs::remove_dir_all(e.path()).is_ok()) {
            removed += 1;
        }
    }
    removed
}

/// The pid in a temporary file's name.
fn owner(name: &str) -> Option<u32> {
    let rest = &name[name.rfind(MARK)? + MARK.len()..];
    rest.split('-').next()?.parse().ok()
}

/// Whether process `pid` still runs: /proc where there is one; elsewhere, a file younger than a day counts
/// as in use.
fn alive(pid: u32, path: &Utf8Path) -> bool {
    let proc = Utf8Path::new("/proc");
    if proc.join("self").exists() {
        return proc.join(pid.to_string()).exists();
    }
    let age = std::fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
    age.is_none_or(|a| a.as_secs() < 24 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_remove_and_sweeps_collect_what_killed_runs_left() {
        let dir = crate::testutil::temp_dir("tempfiles");
        let kept = {
            let t = temp_file(&dir, "body").unwrap();
            std::fs::write(t.path(), b"x").unwrap();
            assert!(t.path().as_str().contains(&format!("body.xtmp-{}-", std::process::id())));
            t.path().to_owned()
        };
        assert!(!kept.exists(), "dropped: removed");
        // Left by a process that is gone (a pid no process has), and by this one (still running).
        std::fs::write(dir.join("resp.xtmp-4000000000-0"), b"x").unwrap();
        std::fs::create_dir_all(dir.join("release.xtmp-4000000001-3")).unwrap();
        let mine = temp_file(&dir, "manifest").unwrap();
        std::fs::write(mine.path(), b"x").unwrap();
        std::fs::write(dir.join("unrelated.txt"), b"x").unwrap();
        assert_eq!(sweep(&dir), 2);
        assert!(mine.path().exists() && dir.join("unrelated.txt").exists());
        assert_eq!(owner("a.b.xtmp-17-2"), Some(17));
        assert_eq!(owner("plain-17-2"), None);
        drop(mine);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
