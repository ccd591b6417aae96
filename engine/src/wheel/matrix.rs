//! The wheels a Python package ships: abi3 (one wheel per target, for every CPython from its minimum) or one
//! wheel per listed interpreter (CPython versions, free-threaded builds such as `3.14t`, PyPy) per target; the
//! tags each wheel must carry; and which of them need that interpreter installed on the build machine.
//!
//! Linux wheels are cross-built with zig for any interpreter maturin has sysconfig data for, so one Linux
//! runner builds manylinux and musllinux wheels for x86_64 and aarch64 without any of those Pythons installed.
//! Windows and macOS wheels are built natively: a non-abi3 wheel there needs its interpreter on the runner.

use std::fmt;

pub(crate) use crate::interpreter::Interpreter;

/// The ISA part of a platform tag for a Rust target's architecture on Linux (`armv7` is `armv7l`...).
fn linux_arch(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        "i686" => "i686",
        "armv7" => "armv7l",
        "powerpc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64gc" => "riscv64",
        _ => return None,
    })
}

/// Whether one platform tag (`manylinux_2_17_x86_64`, `win_amd64`, `macosx_11_0_arm64`) is for Rust `target`:
/// glibc targets take manylinux tags, musl targets musllinux tags, each for the target's architecture.
pub(crate) fn platform_is_for(tag: &str, target: &str) -> bool {
    let arch = target.split('-').next().unwrap_or_default();
    if target.contains("-linux-gnu") || target.contains("-linux-musl") {
        let family = if target.contains("-musl") { "musllinux_" } else { "manylinux" };
        let Some(isa) = linux_arch(arch) else { return false };
        return tag.starts_with(family) && tag.ends_with(&format!("_{isa}"));
    }
    if target.contains("-windows") {
        return match arch {
            "x86_64" => tag == "win_amd64",
            "aarch64" => tag == "win_arm64",
            "i686" => tag == "win32",
            _ => false,
        };
    }
    if target.contains("-apple-darwin") {
        let isa = match arch {
            "aarch64" => "_arm64",
            "x86_64" => "_x86_64",
            _ => return false,
        };
        return tag.starts_with("macosx_") && (tag.ends_with(isa) || tag.ends_with("_universal2"));
    }
    false
}

/// The parts of a wheel file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
pub(crate) struct WheelName<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub python: &'a str,
    pub abi: &'a str,
    pub platform: &'a str,
    /// Every tag the compressed tag sets expand to (`cp39.cp310-abi3-x.y`: 2 × 1 × 2), sorted.
    pub tags: Vec<String>,
}

pub(crate) fn parse_wheel_name(file: &str) -> Option<WheelName<'_>> {
    let parts: Vec<&str> = file.strip_suffix(".whl")?.split('-').collect();
    if !(5..=6).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let n = parts.len();
    let mut tags = Vec::new();
    for py in parts[n - 3].split('.') {
        for abi in parts[n - 2].split('.') {
            for platform in parts[n - 1].split('.') {
                tags.push(format!("{py}-{abi}-{platform}"));
            }
        }
    }
    tags.sort();
    tags.dedup();
    Some(WheelName {
        name: parts[0],
        version: parts[1],
        python: parts[n - 3],
        abi: parts[n - 2],
        platform: parts[n - 1],
        tags,
    })
}

/// The Rust target, among `targets`, a wheel file name's platform tags are for (none when no target or several
/// match).
pub(crate) fn wheel_target(file: &str, targets: &[String]) -> Option<String> {
    let name = parse_wheel_name(file)?;
    let matching: Vec<&String> =
        targets.iter().filter(|t| name.platform.split('.').any(|p| platform_is_for(p, t))).collect();
    match matching[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// One wheel a release of a package must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExpectedWheel {
    pub dist: String,
    pub target: String,
    /// None: abi3, one wheel for every CPython from the package's minimum.
    pub interpreter: Option<Interpreter>,
}

impl ExpectedWheel {
    /// Whether the wheel file `file` is this one: its project, its platform tag for the target, and the
    /// interpreter's python and ABI tags (abi3: a `cp3X` python tag and the `abi3` ABI).
    pub(crate) fn matches(&self, file: &str) -> bool {
        let Some(name) = parse_wheel_name(file) else { return false };
        let same_project = crate::artifacts::normalize(name.name) == crate::artifacts::normalize(&self.dist);
        let platform = name.platform.split('.').any(|p| platform_is_for(p, &self.target));
        let interpreter = match self.interpreter {
            Some(i) => name.python.split('.').any(|p| p == i.python_tag()) && i.abi_matches(name.abi),
            None => name.abi == "abi3" && name.python.split('.').all(|p| p.starts_with("cp3")),
        };
        same_project && platform && interpreter
    }
}

impl ExpectedWheel {
    /// Whether a manifest's wheel (its project, its target, its file name) is this one. The target is the
    /// manifest's word (checked against the file's tags when it was packaged); a version-specific wheel must carry
    /// its interpreter's python and ABI tags.
    pub(crate) fn is(&self, project: &str, target: Option<&str>, file: &str) -> bool {
        use crate::artifacts::normalize;
        if normalize(project) != normalize(&self.dist) || target != Some(self.target.as_str()) {
            return false;
        }
        match (self.interpreter, parse_wheel_name(file)) {
            // abi3: an abi3 wheel (or one of no ABI, pure Python); never one for a single interpreter.
            (None, Some(n)) => n.abi == "abi3" || n.abi == "none",
            (None, None) => false,
            (Some(i), Some(n)) => n.python.split('.').any(|p| p == i.python_tag()) && i.abi_matches(n.abi),
            (Some(_), None) => false,
        }
    }
}

impl fmt::Display for ExpectedWheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.interpreter {
            Some(i) => write!(f, "the {} wheel for {i} on {}", self.dist, self.target),
            None => write!(f, "the {} abi3 wheel for {}", self.dist, self.target),
        }
    }
}

/// Every wheel of `pkgs` for `targets`: per package, per target, per interpreter (or the one abi3 wheel).
pub(crate) fn expected(pkgs: &[crate::settings::PythonPackage], targets: &[String]) -> Vec<ExpectedWheel> {
    let mut out = Vec::new();
    for pkg in pkgs {
        for target in targets {
            let interpreters = pkg.interpreters();
            if interpreters.is_empty() {
                out.push(ExpectedWheel { dist: pkg.dist.clone(), target: target.clone(), interpreter: None });
            }
            for i in interpreters {
                out.push(ExpectedWheel { dist: pkg.dist.clone(), target: target.clone(), interpreter: Some(i) });
            }
        }
    }
    out
}

/// What a set of wheel files lacks and holds beyond `expected`: the expected wheels no file is, and the files
/// that are no expected wheel (or the same one twice).
pub(crate) fn compare<'a>(expected: &'a [ExpectedWheel], files: &[&'a str]) -> (Vec<&'a ExpectedWheel>, Vec<&'a str>) {
    let missing = expected.iter().filter(|e| !files.iter().any(|f| e.matches(f))).collect();
    let mut unexpected = Vec::new();
    let mut seen: Vec<&ExpectedWheel> = Vec::new();
    for f in files {
        match expected.iter().find(|e| e.matches(f)) {
            Some(e) if !seen.contains(&e) => seen.push(e),
            _ => unexpected.push(*f),
        }
    }
    (missing, unexpected)
}

/// Whether the wheel for `target` is cross-built with zig from sysconfig data (no interpreter needed on the
/// machine): Linux targets, glibc and musl, from a Linux host.
pub(crate) fn zig_wheel(target: &str, host: &str) -> bool {
    (target.contains("-linux-gnu") || target.contains("-linux-musl")) && host.contains("-linux-gnu")
}

/// The interpreters a wheel build of `pkg` for `target` needs installed on a `host` machine: none for abi3 and
/// for zig's cross-builds; each listed interpreter for a native Windows or macOS build.
pub(crate) fn native_interpreters(pkg: &crate::settings::PythonPackage, target: &str, host: &str) -> Vec<Interpreter> {
    if zig_wheel(target, host) { Vec::new() } else { pkg.interpreters() }
}

#[cfg(test)]
mod tests;
