//! SHA-256 of files; the hashing itself is the `xtask-sha256` crate (optimized even in dev builds).

use std::io::Read;

pub use xtask_sha256::{Sha256, digest, hex};

/// The sha256 (hex) and size of a file, streamed.
pub fn file(path: &camino::Utf8Path) -> anyhow::Result<(String, u64)> {
    use anyhow::Context;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let mut h = Sha256::default();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).with_context(|| format!("reading {path}"))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((hex(&h.finish()), size))
}
