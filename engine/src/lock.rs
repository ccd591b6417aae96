//! Exclusive locks across processes: an OS file lock (`flock`), so a lock is released when its holder ends,
//! however it ends (no stale lock files to take over). The file itself stays; only the lock on it matters.

use std::fs::{File, OpenOptions};

use anyhow::{Context, Result};
use camino::Utf8Path;

/// Opens (creating) the lock file `path`.
fn open(path: &Utf8Path) -> Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
    }
    OpenOptions::new().create(true).truncate(false).write(true).open(path).with_context(|| format!("opening {path}"))
}

/// The lock on `path`, held until the returned file is dropped. When another process (or another open of the
/// same file) holds it, says so on stderr (`who`: what holds it, for the message) and waits.
pub(crate) fn exclusive(path: &Utf8Path, who: &str) -> Result<File> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!("waiting for {who} to finish (it holds {path})");
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {path}")),
    }
    file.lock().with_context(|| format!("locking {path}"))?;
    Ok(file)
}

/// The lock on `path` if nobody holds it (its file then says `pid <this process>`, for the message of the next
/// one); `Err(holder)` with what the file says of the holder when somebody does.
pub(crate) fn try_exclusive(path: &Utf8Path) -> Result<Result<File, String>> {
    use std::io::Write as _;
    let mut file = open(path)?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.set_len(0).and_then(|()| write!(file, "pid {}", std::process::id()));
            Ok(Ok(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            Ok(Err(std::fs::read_to_string(path).unwrap_or_default().trim().to_owned()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {path}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second holder waits until the first lets go; a try while it is held says so.
    #[test]
    fn one_holder_at_a_time() {
        let dir = crate::testutil::temp_dir("lock");
        let path = dir.join("sub/x.lock");
        let first = exclusive(&path, "test").unwrap();
        assert!(try_exclusive(&path).unwrap().is_err(), "held: a try gets the holder");
        let order = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let _second = exclusive(&path, "the first holder").unwrap();
                order.lock().unwrap().push("second");
            });
            std::thread::sleep(std::time::Duration::from_millis(200));
            order.lock().unwrap().push("first lets go");
            drop(first);
            waiter.join().unwrap();
        });
        assert_eq!(*order.lock().unwrap(), ["first lets go", "second"]);
        let _held = try_exclusive(&path).unwrap().expect("free again");
        assert_eq!(try_exclusive(&path).unwrap().unwrap_err(), format!("pid {}", std::process::id()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
