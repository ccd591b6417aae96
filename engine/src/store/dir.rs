//! The store in a directory (`file:///PATH` or a path): the bucket's layout on disk, each object a file whose
//! sha256 is computed when asked. An object's generation is its content's sha256; a conditional replace compares
//! it and renames under an exclusive lock on the store (`.xtask-store.lock`, an OS file lock: released when its
//! process ends, however it ends), so concurrent uploads to one directory behave as they do on a bucket.

use anyhow::{Context, Result, anyhow, bail};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use super::{Backend, Object, Put, PutItem};

pub(super) struct Dir {
    pub root: Utf8PathBuf,
}

impl Dir {
    fn path(&self, name: &str) -> Utf8PathBuf {
        // A name ending in `/` (a directory page for pip) is that directory's index.html on disk.
        if name.ends_with('/') || name.is_empty() {
            self.root.join(name).join("index.html")
        } else {
            self.root.join(name)
        }
    }

    fn put_one(&self, name: &str, item: &PutItem) -> Result<Put> {
        self.check_can_write(&item.key, name)?;
        let dest = self.path(name);
        let parent = dest.parent().context("object path has a parent")?;
        std::fs::create_dir_all(parent).with_context(|| format!("creating {parent}"))?;
        // Unique per write: two writers of one key (even in one process) must not share a temp file.
        // Hidden (listings skip it), removed on every path, swept by the next run if this one is killed.
        let tmp = crate::tempfiles::temp_file(parent, &format!(".{}", dest.file_name().unwrap_or("x")))?;
        std::fs::copy(&item.file, &tmp).with_context(|| format!("copying {} to {tmp}", item.file))?;
        let result = if item.generation.as_deref() == Some("0") {
            // hard_link fails if the destination exists: an atomic create-only.
            match std::fs::hard_link(&tmp, &dest) {
                Ok(()) => Ok(Put::Created),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Put::Exists),
                Err(e) => Err(anyhow!("creating {dest}: {e}")),
            }
        } else {
            // Every replace holds the store's lock, so a compare-and-swap sees no write between its compare and
            // its rename.
            let _lock = self.lock()?;
            let current = if dest.is_file() { Some(crate::sha256::file(&dest)?.0) } else { None };
            match &item.generation {
                Some(want) if current.as_ref() != Some(want) => Ok(Put::Changed),
                _ => std::fs::rename(&tmp, &dest).map(|()| Put::Created).with_context(|| format!("replacing {dest}")),
            }
        };
        drop(tmp);
        result
    }
}

impl Dir {
    /// The store's exclusive lock, held until the returned file is dropped (or its process ends).
    fn lock(&self) -> Result<std::fs::File> {
        crate::lock::exclusive(&self.root.join(".xtask-store.lock"), "another writer of this store")
    }
}

impl Backend for Dir {
    fn describe(&self, _prefix: &str) -> String {
        format!("file://{}", self.root)
    }

    fn public_url(&self, name: &str) -> String {
        format!("file://{}", self.root.join(name))
    }

    /// Not a directory, no file where a directory of its path must be, and no symbolic link leading out of the
    /// store.
    fn check_can_write(&self, key: &str, name: &str) -> Result<()> {
        let root = &self.root;
        let dest = self.path(name);
        if dest.is_dir() {
            bail!("{key:?}: the store holds a directory of that name\nfix: choose another name");
        }
        // The deepest directory of the path that exists must be inside the store, and every part a directory.
        let mut dir = dest.parent().map(Utf8Path::to_owned);
        while let Some(d) = dir.clone() {
            if d.exists() || d == *root {
                break;
            }
            dir = d.parent().map(Utf8Path::to_owned);
        }
        if let Some(d) = dir.filter(|d| d.exists()) {
            if !d.is_dir() {
                bail!("{key:?}: {d} is an object of the store, not a directory\nfix: choose another name");
            }
            let (inside, store) =
                (std::fs::canonicalize(&d)?, std::fs::canonicalize(root).unwrap_or_else(|_| root.clone().into()));
            if !inside.starts_with(&store) {
                bail!(
                    "{key:?} leads outside the store ({d} resolves to {}): a symbolic link?\nfix: remove the link from the store",
                    inside.display()
                );
            }
        }
        Ok(())
    }

    fn head(&self, _sh: &Shell, name: &str) -> Result<Option<Object>> {
        let path = self.path(name);
        if !path.is_file() {
            return Ok(None);
        }
        let (sha, size) = crate::sha256::file(&path)?;
        Ok(Some(Object { size, sha256: Some(sha.clone()), generation: Some(sha) }))
    }

    fn list(&self, _sh: &Shell, prefix: &str) -> Result<Vec<(String, Object)>> {
        fn walk(dir: &Utf8Path, out: &mut Vec<Utf8PathBuf>) {
            let Ok(entries) = dir.read_dir_utf8() else { return };
            for e in entries.flatten() {
                match e.file_type() {
                    Ok(t) if t.is_dir() => walk(e.path(), out),
                    Ok(_) if !e.file_name().starts_with('.') => out.push(e.path().to_owned()),
                    _ => {}
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.root.join(prefix), &mut files);
        let mut out = Vec::new();
        for f in files {
            let (sha, size) = crate::sha256::file(&f)?;
            let name = crate::tools::key_of(f.strip_prefix(&self.root).expect("under root").as_str());
            out.push((name, Object { size, sha256: Some(sha.clone()), generation: Some(sha) }));
        }
        Ok(out)
    }

    fn put_batch(&self, _sh: &Shell, items: &[(String, &PutItem)], _parallel: usize) -> Vec<Result<Put>> {
        items.iter().map(|(name, item)| self.put_one(name, item)).collect()
    }

    fn get(&self, _sh: &Shell, name: &str, dest: &Utf8Path) -> Result<bool> {
        let src = self.path(name);
        if !src.is_file() {
            return Ok(false);
        }
        std::fs::copy(&src, dest).with_context(|| format!("copying {src} to {dest}"))?;
        Ok(true)
    }
}
