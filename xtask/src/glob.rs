//! Minimal gitignore-style globs: `*` and `?` within a path component, `**` across components. A pattern
//! without `/` matches the file name in any directory.

pub fn matches(pattern: &str, path: &str) -> bool {
    if pattern.contains('/') {
        match_bytes(pattern.trim_start_matches('/').as_bytes(), path.as_bytes())
    } else {
        let name = path.rsplit('/').next().unwrap_or(path);
        match_bytes(pattern.as_bytes(), name.as_bytes())
    }
}

/// The first of `patterns` that matches `path`.
pub fn first_match<'a>(patterns: &'a [impl AsRef<str>], path: &str) -> Option<&'a str> {
    patterns.iter().map(AsRef::as_ref).find(|p| matches(p, path))
}

fn match_bytes(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) if rest.first() == Some(&b'*') => {
            // `**/` may match zero directories.
            let rest = &rest[1..];
            let rest_no_slash = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=s.len()).any(|i| match_bytes(rest_no_slash, &s[i..]) || match_bytes(rest, &s[i..]))
        }
        Some((b'*', rest)) => {
            for i in 0..=s.len() {
                if match_bytes(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == b'/' {
                    break;
                }
            }
            false
        }
        Some((b'?', rest)) => s.first().is_some_and(|&c| c != b'/') && match_bytes(rest, &s[1..]),
        Some((&c, rest)) => s.first() == Some(&c) && match_bytes(rest, &s[1..]),
    }
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
        ];
        for (p, s, want) in cases {
            assert_eq!(matches(p, s), want, "{p} ~ {s}");
        }
    }
}
