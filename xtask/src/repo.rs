//! Facts about the repository read from its files.

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use xshell::{Shell, cmd};

/// Resolves a `--commit` argument (or HEAD, for `None`) to a full lowercase commit hash. A full hash is taken
/// as is (it may name a commit this clone lacks: the store is keyed by hash); anything else must be a revision
/// git resolves to a commit here. Everything else is refused before any work, with the fix: the hash becomes
/// part of store keys and paths, so nothing but hex digits may reach them.
pub fn resolve_commit(sh: &Shell, rev: Option<&str>) -> Result<String> {
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

/// A full SHA-1 or SHA-256 commit hash.
pub fn is_full_hash(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `[workspace.package] version` of the root `Cargo.toml`: the one version of everything.
pub fn workspace_version(root: &Utf8Path) -> Result<String> {
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    workspace_version_in(&text).with_context(|| format!("{path} has no `version` under [workspace.package]"))
}

fn workspace_version_in(text: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section {
            if let Some(rest) = line.strip_prefix("version") {
                let v = rest.trim_start().strip_prefix('=')?.trim().trim_matches('"');
                return Some(v.to_owned());
            }
        }
    }
    None
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
