//! The registries a release publishes to, as protocols: a cargo registry (its index, sparse over HTTP or git, and
//! its web API's publish) in [`crates`], a Python package index (PEP 503 simple pages, the upload) in [`pypi`].
//! What is there is judged by its bytes: the index's `cksum`, the simple page's `#sha256=`, never a name alone.

pub(crate) mod crates;
pub(crate) mod pace;
pub(crate) mod pypi;

use anyhow::Result;
use xshell::Shell;

/// Where one artifact of the release stands on its registry or package index, judged by its bytes, not its name.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Presence {
    Missing,
    /// There, with the signed bytes.
    Same,
    /// There with other bytes: the sha256 of each (several: a registry that took the version twice).
    Other(Vec<String>),
}

impl Presence {
    /// The refusal when other bytes are there: the item, both sha256s.
    pub(crate) fn conflict(&self, what: &str, place: &str, ours: &str) -> Option<String> {
        match self {
            Presence::Other(theirs) => Some(format!(
                "{what} is already on {place} with other bytes: sha256 {} there, {ours} signed for this release",
                theirs.join(", ")
            )),
            _ => None,
        }
    }
}

/// GET `url` (following redirects): the HTTP status and the body; an error when nothing answered.
pub(crate) fn http_get(sh: &Shell, url: &str) -> Result<(u16, String)> {
    let tmp = crate::tempfiles::dir_of(sh);
    let r = crate::http::send(sh, &crate::http::Request::new("GET", url).follow(), None, &tmp)?;
    Ok((r.status, r.text()))
}
