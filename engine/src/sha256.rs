//! SHA-256 of bytes and files, hex-encoded: the `sha2` crate (optimized even in dev builds, see the root
//! Cargo.toml; it uses the CPU's SHA instructions where there are some).

use std::io::Read;

use sha2::Digest;

pub(crate) use sha2::Sha256;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The sha256 (hex) of `data`.
pub(crate) fn digest(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The sha256 (hex) and size of a file, streamed.
pub(crate) fn file(path: &camino::Utf8Path) -> anyhow::Result<(String, u64)> {
    use anyhow::Context;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let mut h = Sha256::new();
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
    Ok((hex(&h.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(digest(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(digest(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let long = vec![b'a'; 1_000_000];
        assert_eq!(digest(&long), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
}
