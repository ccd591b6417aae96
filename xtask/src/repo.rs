//! Facts about the repository read from its files.

use anyhow::{Context, Result};
use camino::Utf8Path;

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
    fn reads_the_workspace_version() {
        let text = "[package]\nversion = \"9.9.9\"\n[workspace.package]\n# one version\nversion = \"0.3.1\"\n";
        assert_eq!(workspace_version_in(text).as_deref(), Some("0.3.1"));
        assert_eq!(workspace_version_in("[workspace]\n"), None);
        let root = crate::project_root();
        assert!(workspace_version(&root).unwrap().split('.').count() >= 3);
    }
}
