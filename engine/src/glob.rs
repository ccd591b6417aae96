//! Gitignore-style globs, by the `glob` crate: `*` and `?` within a path component, `[...]` classes, `**` as a
//! whole component across directories. A pattern without `/` matches the file name in any directory; a leading
//! `/` anchors at the root (as it is anyway).

use ::glob::{MatchOptions, Pattern};

const OPTIONS: MatchOptions =
    MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: false };

/// Whether `pattern` is a glob this module matches with; the cause otherwise (ci.toml is checked with it).
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    Pattern::new(pattern.trim_start_matches('/')).map(drop).map_err(|e| format!("{pattern:?} is not a glob: {}", e.msg))
}

pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let Ok(p) = Pattern::new(pattern.trim_start_matches('/')) else { return false };
    if pattern.contains('/') {
        p.matches_with(path, OPTIONS)
    } else {
        p.matches_with(path.rsplit('/').next().unwrap_or(path), OPTIONS)
    }
}

/// The first of `patterns` that matches `path`.
pub(crate) fn first_match<'a>(patterns: &'a [impl AsRef<str>], path: &str) -> Option<&'a str> {
    patterns.iter().map(AsRef::as_ref).find(|p| matches(p, path))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases = [
            ("*.orig", "a/b/c.orig", true),
            ("*.orig", "c.orig.txt", false),
            (".env", "deploy/.env", true),
            ("Cargo.lock", "Cargo.lock", true),
            ("examples/data/**", "examples/data/x/y.bin", true),
            ("examples/data/**", "examples/other.bin", false),
            ("crates/*/big.bin", "crates/a/big.bin", true),
            ("crates/*/big.bin", "crates/a/b/big.bin", false),
            ("crates/**/big.bin", "crates/big.bin", true),
            ("crates/**/big.bin", "crates/a/b/big.bin", true),
            ("file?.txt", "file1.txt", true),
            ("file?.txt", "file10.txt", false),
            ("/top.txt", "top.txt", true),
            ("*.[ch]", "src/x.h", true),
            ("*.[ch]", "src/x.o", false),
            ("docs/**/*.png", "docs/a/b/logo.png", true),
            ("docs/**/*.png", "docs/logo.png", true),
            ("docs/**/*.png", "other/logo.png", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(matches(p, s), want, "{p} ~ {s}");
        }
    }

    #[test]
    fn malformed_globs_are_named() {
        assert!(super::check("a/**/b").is_ok());
        for bad in ["a**b", "[unclosed", "x/***"] {
            let e = super::check(bad).unwrap_err();
            assert!(e.contains("is not a glob"), "{bad}: {e}");
            assert!(!super::matches(bad, "anything"), "{bad}");
        }
    }
}
