//! Minisign-compatible signatures of a commit's manifest, so the standard `minisign` tool can verify what the
//! release job checks.
//!
//! Keys are ordinary minisign keys made without a password: `minisign -G -W -p release/minisign.pub -s KEY`.
//! The public key is committed (`[release] signing-key` in ci.toml); the secret key file's contents go into the CI
//! secret `XTASK_SIGNING_KEY`. Signatures use Ed25519 over the manifest's bytes (minisign's `Ed` algorithm),
//! with a trusted comment naming the commit; they are deterministic, so signing again gives the same file.

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use ed25519_compact::{PublicKey, SecretKey, Signature};

pub(crate) const SIGNATURE_SUFFIX: &str = ".minisig";
pub(crate) const KEY_ENV: &str = "XTASK_SIGNING_KEY";

/// Standard base64 with padding (minisign's files), by the `base64` crate.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| anyhow::anyhow!("not base64: {e}"))
}

/// The base64 line of a minisign file (the line after `untrusted comment:`).
fn payload(text: &str, what: &str) -> Result<Vec<u8>> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .with_context(|| format!("{what} has no key or signature line"))?;
    base64_decode(line).with_context(|| format!("{what} is not a minisign file"))
}

/// A minisign public key: key id and Ed25519 key.
pub(crate) struct Public {
    pub key_id: [u8; 8],
    key: PublicKey,
}

pub(crate) fn parse_public(text: &str) -> Result<Public> {
    let b = payload(text, "the public key")?;
    if b.len() != 42 || &b[..2] != b"Ed" {
        bail!("the public key is not a minisign Ed25519 public key");
    }
    Ok(Public { key_id: b[2..10].try_into()?, key: PublicKey::from_slice(&b[10..42]).context("bad public key")? })
}

pub(crate) struct Secret {
    key_id: [u8; 8],
    key: SecretKey,
}

pub(crate) fn parse_secret(text: &str) -> Result<Secret> {
    let b = payload(text, "the signing key")?;
    if b.len() != 158 || &b[..2] != b"Ed" {
        bail!(
            "{KEY_ENV} is not a minisign secret key\nfix: create one with `minisign -G -W` and store the key file's contents"
        );
    }
    if b[2..4] != [0, 0] {
        bail!(
            "{KEY_ENV} holds a password-protected minisign key\nfix: create one without a password: `minisign -G -W`"
        );
    }
    Ok(Secret { key_id: b[54..62].try_into()?, key: SecretKey::from_slice(&b[62..126]).context("bad secret key")? })
}

/// minisign's legacy algorithm: Ed25519 over the message itself.
const ALG_LEGACY: &[u8] = b"Ed";
/// minisign's default since 0.11: Ed25519 over the message's BLAKE2b-512 hash.
const ALG_PREHASHED: &[u8] = b"ED";

fn prehash(message: &[u8]) -> Vec<u8> {
    blake2b_simd::Params::new().hash_length(64).hash(message).as_bytes().to_vec()
}

/// The trusted comment of our signatures: what they vouch for, covered by the signature. (The manifest's own
/// `commit` and `version` fields are signed too; a plain `minisign -S` signature with its default comment
/// verifies as well.)
fn trusted_comment(commit: &str, version: &str) -> String {
    format!("file:manifest.json\tcommit:{commit}\tversion:{version}")
}

/// A minisign signature file for `message` (minisign's default prehashed `ED` algorithm).
pub(crate) fn sign_with(secret: &Secret, message: &[u8], commit: &str, version: &str) -> String {
    let sig = secret.key.sign(prehash(message), None);
    let mut line = ALG_PREHASHED.to_vec();
    line.extend_from_slice(&secret.key_id);
    line.extend_from_slice(sig.as_ref());
    let trusted = trusted_comment(commit, version);
    let mut global = sig.as_ref().to_vec();
    global.extend_from_slice(trusted.as_bytes());
    let global = secret.key.sign(&global, None);
    format!(
        "untrusted comment: signature of the manifest of {commit} (cargo xtask sign)\n{}\ntrusted comment: {trusted}\n{}\n",
        base64_encode(&line),
        base64_encode(global.as_ref())
    )
}

/// Signs `message` with the key in `$XTASK_SIGNING_KEY`.
pub(crate) fn sign(message: &[u8], commit: &str, version: &str) -> Result<String> {
    let key = std::env::var(KEY_ENV).map_err(|_| {
        anyhow::anyhow!("{KEY_ENV} is not set\nfix: export {KEY_ENV}=\"$(cat KEY)\" with a key from `minisign -G -W` (in CI: a secret)")
    })?;
    Ok(sign_with(&parse_secret(&key)?, message, commit, version))
}

/// [`verify`] for a signature file's raw bytes: anything but minisign's text is refused, saying what was expected.
pub(crate) fn verify_bytes(public: &Public, message: &[u8], signature: &[u8], commit: &str) -> Result<()> {
    let text = std::str::from_utf8(signature).map_err(|_| {
        anyhow::anyhow!(
            "it is not a minisign signature: binary data, expected four lines of text (minisign -S writes them)"
        )
    })?;
    verify(public, message, text, commit)
}

/// Verifies a minisign signature of `message` with `public`, and that its trusted comment names `commit`.
pub(crate) fn verify(public: &Public, message: &[u8], signature: &str, commit: &str) -> Result<()> {
    let lines: Vec<&str> = signature.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let [_, sig_line, trusted_line, global_line] = lines[..] else {
        bail!(
            "it is not a minisign signature: {} non-empty lines, expected four (untrusted comment, signature, \
             trusted comment, comment signature)",
            lines.len()
        );
    };
    let sig = base64_decode(sig_line).context("its signature line (line 2) is not base64")?;
    if sig.len() != 74 || (&sig[..2] != ALG_LEGACY && &sig[..2] != ALG_PREHASHED) {
        bail!("the signature is not a minisign Ed25519 signature (algorithm `Ed` or `ED`, 74 bytes)");
    }
    if sig[2..10] != public.key_id {
        bail!(
            "the manifest was signed by key {}, not by the committed key {}",
            hex_id(&sig[2..10]),
            hex_id(&public.key_id)
        );
    }
    let ed = Signature::from_slice(&sig[10..74]).context("malformed signature")?;
    let signed = if &sig[..2] == ALG_PREHASHED { prehash(message) } else { message.to_vec() };
    public
        .key
        .verify(signed, &ed)
        .map_err(|_| anyhow::anyhow!("the signature does not match the manifest: it was changed after signing"))?;
    let trusted = trusted_line.strip_prefix("trusted comment: ").context("no trusted comment")?;
    let mut global = sig[10..74].to_vec();
    global.extend_from_slice(trusted.as_bytes());
    let g = Signature::from_slice(&base64_decode(global_line).context("its comment signature (line 4) is not base64")?)
        .context("malformed comment signature (line 4)")?;
    public
        .key
        .verify(&global, &g)
        .map_err(|_| anyhow::anyhow!("the signature's trusted comment was changed after signing"))?;
    // Our comment names the commit; minisign's default names none (the signed manifest's own `commit` field
    // binds it then, checked by the caller).
    if let Some(signed_for) = trusted.split('\t').find_map(|f| f.strip_prefix("commit:"))
        && signed_for != commit
    {
        bail!("the signature is for another commit: its trusted comment says {signed_for}, the release is {commit}");
    }
    Ok(())
}

fn hex_id(id: &[u8]) -> String {
    id.iter().rev().map(|b| format!("{b:02X}")).collect()
}

/// The committed public key.
pub(crate) fn committed_public(root: &Utf8Path, settings: &crate::settings::Loaded) -> Result<Public> {
    let path = root.join(&settings.release("sign")?.signing_key);
    let fix = "fix: commit the release's minisign public key there (ci.toml [release] signing-key names the path), \
               or pass --public-key FILE";
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read the release public key {path}: {e}\n{fix}"))?;
    parse_public(&text)
        .map_err(|e| anyhow::anyhow!("the release public key {path} is not a minisign public key: {e:#}\n{fix}"))
}

/// Where `--local-key` keeps a throwaway key pair, for running the pipeline on a laptop.
pub(crate) const LOCAL_KEY_DIR: &str = crate::config::LOCAL_KEY_DIR;

/// A throwaway minisign key pair in `target/local-signing/` (made once): the secret key file's text.
pub(crate) fn local_key(root: &Utf8Path) -> Result<String> {
    let dir = root.join(LOCAL_KEY_DIR);
    let secret_path = dir.join("minisign.key");
    if let Ok(text) = std::fs::read_to_string(&secret_path) {
        return Ok(text);
    }
    let mut seed = [0u8; 32];
    let mut id = [0u8; 8];
    let mut urandom = std::fs::File::open("/dev/urandom")
        .context("no /dev/urandom for a local key\nfix: set XTASK_SIGNING_KEY to a key from `minisign -G -W`")?;
    std::io::Read::read_exact(&mut urandom, &mut seed)?;
    std::io::Read::read_exact(&mut urandom, &mut id)?;
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
    // minisign's unencrypted secret key layout (the checksum is not used by this tool).
    let mut sk = b"Ed".to_vec();
    sk.extend_from_slice(&[0, 0]);
    sk.extend_from_slice(b"B2");
    sk.extend_from_slice(&[0u8; 48]);
    sk.extend_from_slice(&id);
    sk.extend_from_slice(pair.sk.as_ref());
    sk.extend_from_slice(&[0u8; 32]);
    let mut pk = b"Ed".to_vec();
    pk.extend_from_slice(&id);
    pk.extend_from_slice(pair.pk.as_ref());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    let secret =
        format!("untrusted comment: throwaway local key (cargo xtask sign --local-key)\n{}\n", base64_encode(&sk));
    std::fs::write(
        dir.join("minisign.pub"),
        format!("untrusted comment: minisign public key {}\n{}\n", hex_id(&id), base64_encode(&pk)),
    )?;
    std::fs::write(&secret_path, &secret)?;
    eprintln!("made a throwaway signing key in {dir} (for local runs only)");
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"ab", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base64_decode(&base64_encode(data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert!(base64_decode("not*base64").is_err());
    }

    /// A key made by the real `minisign -G -W`, a signature made here, verified by the real `minisign -V` and
    /// by `verify`; tampering is caught by both.
    #[test]
    fn minisign_verifies_our_signatures() {
        let dir = crate::testutil::temp_dir("minisign");
        let sh = xshell::Shell::new().unwrap();
        sh.change_dir(&dir);
        if xshell::cmd!(sh, "minisign -v").quiet().ignore_stderr().read().is_err() {
            panic!("the minisign tool is needed: apt-get install minisign (the engine's bootstrap-debian.sh)");
        }
        xshell::cmd!(sh, "minisign -G -W -p k.pub -s k.key").quiet().ignore_stdout().ignore_stderr().run().unwrap();
        let secret = parse_secret(&std::fs::read_to_string(dir.join("k.key")).unwrap()).unwrap();
        let public = parse_public(&std::fs::read_to_string(dir.join("k.pub")).unwrap()).unwrap();
        let commit = "ab".repeat(20);
        let message = b"{\"commit\": \"abab\"}\n";
        let sig = sign_with(&secret, message, &commit, "1.2.3");
        assert_eq!(sig, sign_with(&secret, message, &commit, "1.2.3"), "deterministic");
        assert_eq!(&base64_decode(sig.lines().nth(1).unwrap()).unwrap()[..2], b"ED", "minisign's default algorithm");
        std::fs::write(dir.join("manifest.json"), message).unwrap();
        std::fs::write(dir.join("manifest.json.minisig"), &sig).unwrap();
        let out = xshell::cmd!(sh, "minisign -V -p k.pub -m manifest.json").read().unwrap();
        assert!(out.contains(&format!("commit:{commit}\tversion:1.2.3")), "{out}");
        verify(&public, message, &sig, &commit).unwrap();
        // The reverse: signatures made by the minisign tool itself, its default (prehashed) and legacy ones.
        for (flags, alg) in [(&[][..], "ED"), (&["-l"][..], "Ed")] {
            std::fs::remove_file(dir.join("manifest.json.minisig")).unwrap();
            xshell::cmd!(sh, "minisign -S -s k.key -m manifest.json {flags...}").quiet().ignore_stdout().run().unwrap();
            let theirs = std::fs::read_to_string(dir.join("manifest.json.minisig")).unwrap();
            assert_eq!(&base64_decode(theirs.lines().nth(1).unwrap()).unwrap()[..2], alg.as_bytes(), "{theirs}");
            verify(&public, message, &theirs, &commit).unwrap_or_else(|e| panic!("minisign -S {flags:?}: {e:#}"));
            let err = verify(&public, b"{\"commit\": \"other\"}\n", &theirs, &commit).unwrap_err().to_string();
            assert!(err.contains("changed after signing"), "{err}");
        }
        std::fs::write(dir.join("manifest.json.minisig"), &sig).unwrap();

        std::fs::write(dir.join("manifest.json"), b"{\"commit\": \"abac\"}\n").unwrap();
        assert!(xshell::cmd!(sh, "minisign -V -p k.pub -m manifest.json").quiet().ignore_stderr().run().is_err());
        let err = verify(&public, b"{\"commit\": \"abac\"}\n", &sig, &commit).unwrap_err().to_string();
        assert!(err.contains("changed after signing"), "{err}");
        let err = verify(&public, message, &sig, &"cd".repeat(20)).unwrap_err().to_string();
        assert!(err.contains("another commit") && err.contains(&commit), "{err}");

        xshell::cmd!(sh, "minisign -G -W -p other.pub -s other.key")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .unwrap();
        let other = parse_public(&std::fs::read_to_string(dir.join("other.pub")).unwrap()).unwrap();
        let err = verify(&other, message, &sig, &commit).unwrap_err().to_string();
        assert!(err.contains("not by the committed key"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn encrypted_or_foreign_keys_are_refused() {
        let mut encrypted = b"Ed".to_vec();
        encrypted.extend_from_slice(b"Sc");
        encrypted.resize(158, 0);
        let text = format!("untrusted comment: x\n{}\n", base64_encode(&encrypted));
        assert!(parse_secret(&text).err().unwrap().to_string().contains("password-protected"));
        assert!(
            parse_secret("untrusted comment: x\nZm9v\n")
                .err()
                .unwrap()
                .to_string()
                .contains("not a minisign secret key")
        );
    }
}
