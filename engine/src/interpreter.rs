//! An interpreter a Python package that is not abi3 ships a wheel for: CPython versions, free-threaded builds
//! (`3.14t`), PyPy; as ci.toml, maturin, actions/setup-python, wheel tags and a probe of the machine spell it.

use std::fmt;
use std::str::FromStr;

/// One interpreter a non-abi3 package ships a wheel for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Interpreter {
    CPython { minor: u8, free_threaded: bool },
    PyPy { minor: u8 },
}

/// The spellings ci.toml takes, for messages.
pub(crate) const SPELLINGS: &str =
    "a CPython version (`3.13`), a free-threaded CPython build (`3.14t`) or a PyPy version (`pypy3.11`)";

/// The CPython minor versions (3.X) the pinned maturin has sysconfig data for (`maturin list-python --target
/// aarch64-unknown-linux-musl`: 3.7 to 3.15), and its PyPy ones (3.8 to 3.12).
const CPYTHON: std::ops::RangeInclusive<u8> = 7..=15;
const PYPY: std::ops::RangeInclusive<u8> = 8..=12;

impl FromStr for Interpreter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{}` is no interpreter: write {SPELLINGS}", crate::plan::printable(s));
        let minor = |v: &str, range: std::ops::RangeInclusive<u8>| -> Result<u8, String> {
            let minor = v.strip_prefix("3.").ok_or_else(bad)?;
            let ok = !minor.is_empty() && minor.len() <= 2 && minor.bytes().all(|b| b.is_ascii_digit());
            let n: u8 = if ok { minor.parse().map_err(|_| bad())? } else { return Err(bad()) };
            if range.contains(&n) {
                return Ok(n);
            }
            Err(format!(
                "{}: the pinned maturin builds for 3.{} to 3.{} of it (PyO3 may ask for newer)",
                bad(),
                range.start(),
                range.end()
            ))
        };
        if let Some(v) = s.strip_prefix("pypy") {
            return Ok(Interpreter::PyPy { minor: minor(v, PYPY)? });
        }
        match s.strip_suffix('t') {
            Some(v) => {
                let minor = minor(v, CPYTHON)?;
                if minor < 13 {
                    return Err(format!("{}: free-threaded builds exist from CPython 3.13", bad()));
                }
                Ok(Interpreter::CPython { minor, free_threaded: true })
            }
            None => Ok(Interpreter::CPython { minor: minor(s, CPYTHON)?, free_threaded: false }),
        }
    }
}

impl fmt::Display for Interpreter {
    /// As people say it: `CPython 3.14t`, `PyPy 3.11`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interpreter::CPython { minor, free_threaded } => {
                write!(f, "CPython 3.{minor}{}", if *free_threaded { "t" } else { "" })
            }
            Interpreter::PyPy { minor } => write!(f, "PyPy 3.{minor}"),
        }
    }
}

impl Interpreter {
    /// Its program name, which maturin's `-i` takes (and finds, or knows from its sysconfig data when
    /// cross-compiling): `python3.14t`, `pypy3.11`.
    pub(crate) fn executable(self) -> String {
        match self {
            Interpreter::CPython { minor, free_threaded } => {
                format!("python3.{minor}{}", if free_threaded { "t" } else { "" })
            }
            Interpreter::PyPy { minor } => format!("pypy3.{minor}"),
        }
    }

    /// Its version as `actions/setup-python` takes it: `3.14t`, `pypy3.11`.
    pub(crate) fn setup_python(self) -> String {
        match self {
            Interpreter::CPython { minor, free_threaded } => {
                format!("3.{minor}{}", if free_threaded { "t" } else { "" })
            }
            Interpreter::PyPy { minor } => format!("pypy3.{minor}"),
        }
    }

    /// The wheel's python tag: `cp314`, `pp311`.
    pub(crate) fn python_tag(self) -> String {
        match self {
            Interpreter::CPython { minor, .. } => format!("cp3{minor}"),
            Interpreter::PyPy { minor } => format!("pp3{minor}"),
        }
    }

    /// Whether `abi` is this interpreter's ABI tag: `cp314`, `cp314t`, `pypy311_pp73` (any PyPy release).
    pub(crate) fn abi_matches(self, abi: &str) -> bool {
        match self {
            Interpreter::CPython { minor, free_threaded } => {
                abi == format!("cp3{minor}{}", if free_threaded { "t" } else { "" })
            }
            Interpreter::PyPy { minor } => {
                abi.strip_prefix(&format!("pypy3{minor}_pp")).is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit()))
            }
        }
    }

    /// The version `sys.version_info` and `sysconfig` report on this interpreter, as a probe prints it.
    pub(crate) fn probe_says(self) -> String {
        match self {
            Interpreter::CPython { minor, free_threaded } => {
                format!("cpython 3.{minor}{}", if free_threaded { " free-threaded" } else { "" })
            }
            Interpreter::PyPy { minor } => format!("pypy 3.{minor}"),
        }
    }
}

/// What a probe of an interpreter prints, its implementation and version (compared with
/// [`Interpreter::probe_says`]: a shim that is not that Python, such as pyenv's "command not found", or another
/// version under its name does not count), then its own path.
pub(crate) const PROBE: &str = "import sys, sysconfig; ft = sysconfig.get_config_var('Py_GIL_DISABLED'); \
     print(sys.implementation.name, '%d.%d' % sys.version_info[:2] + (' free-threaded' if ft else '')); \
     print(sys.executable)";

impl<'de> serde::Deserialize<'de> for Interpreter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Interpreter {
    /// As ci.toml spells it (`3.14t`, `pypy3.11`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.setup_python())
    }
}
