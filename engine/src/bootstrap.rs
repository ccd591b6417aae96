//! The system packages the xtask cannot provision into `.tools/` (node, chromium, qemu-user, minisign, a wasm32
//! toolchain fallback, Debian's node 18 and arm64 Python for the lower-bound and aarch64 tests) come from the
//! engine's `bootstrap-debian.sh`, built into it (so a repository that adopts the engine by a dependency line has
//! it too). The jobs that need them write it into the tools directory and run it themselves, once per version of
//! the script, where they may (Debian or Ubuntu, as root or with passwordless sudo); elsewhere they stop before
//! any work with the exact command to run. A stamp in the tools directory remembers which version ran.

use anyhow::{Context, Result, bail};
use xshell::cmd;

use crate::Ctx;

/// The script, as the engine was built with it.
const SCRIPT: &str = include_str!("../bootstrap-debian.sh");
/// Its file in the tools directory (written before it runs, and before a command naming it is printed).
pub(crate) const SCRIPT_FILE: &str = "bootstrap-debian.sh";
const STAMP: &str = "bootstrap.stamp";

/// How the script may run here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Runner {
    Root,
    Sudo,
    /// Neither: a person has to run it.
    Nobody,
}

/// What to do, given the facts: nothing (up to date, or not a Debian machine), run it, or stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    UpToDate,
    NotDebian,
    Run { sudo: bool },
    Stop(String),
}

/// `script` is where the script is (what a printed fix runs).
pub(crate) fn decide(stamp_matches: bool, debian: bool, offline: bool, runner: Runner, script: &str) -> Decision {
    match (stamp_matches, debian, runner) {
        (true, ..) => Decision::UpToDate,
        (false, false, _) => Decision::NotDebian,
        (false, true, _) if offline => Decision::Stop(format!(
            "system packages may be missing (--offline forbids installing them)\nfix: sudo bash {script}"
        )),
        (false, true, Runner::Root) => Decision::Run { sudo: false },
        (false, true, Runner::Sudo) => Decision::Run { sudo: true },
        (false, true, Runner::Nobody) => Decision::Stop(format!(
            "the system packages this job needs are not installed, and this user cannot install them (not root, \
             no passwordless sudo)\nfix: sudo bash {script}    (then run the same command again)"
        )),
    }
}

/// Runs the bootstrap script when its current version has not run on this machine yet (never for `--dry-run` or
/// `--json`, which install nothing).
pub(crate) fn ensure(ctx: &Ctx) -> Result<()> {
    if ctx.global.dry_run || ctx.global.json {
        return Ok(());
    }
    let tools = ctx.tools.dir();
    let script = tools.join(SCRIPT_FILE);
    let want = crate::sha256::digest(SCRIPT.as_bytes());
    let stamp = tools.join(STAMP);
    let matches = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want);
    let debian = camino::Utf8Path::new("/etc/debian_version").exists() && which::which("apt-get").is_ok();
    let sh = &ctx.sh;
    let runner = if matches || !debian {
        Runner::Nobody // not needed
    } else if cmd!(sh, "id -u").quiet().read().is_ok_and(|u| u.trim() == "0") {
        Runner::Root
    } else if cmd!(sh, "sudo -n true").quiet().ignore_stdout().ignore_stderr().run().is_ok() {
        Runner::Sudo
    } else {
        Runner::Nobody
    };
    let decision = decide(matches, debian, ctx.global.offline, runner, script.as_str());
    if matches!(decision, Decision::Run { .. } | Decision::Stop(_)) {
        // The script the decision runs or names, as this engine has it.
        std::fs::create_dir_all(&tools).with_context(|| format!("creating {tools}"))?;
        if std::fs::read(&script).ok().as_deref() != Some(SCRIPT.as_bytes()) {
            std::fs::write(&script, SCRIPT).with_context(|| format!("writing {script}"))?;
        }
    }
    match decision {
        Decision::UpToDate | Decision::NotDebian => Ok(()),
        Decision::Stop(why) => bail!(why),
        Decision::Run { sudo } => {
            eprintln!("xtask: installing the system packages this job needs ({script}, once per version of it)");
            let run = if sudo {
                cmd!(sh, "sudo -n env XTASK_TOOLS_DIR={tools} bash {script}")
            } else {
                cmd!(sh, "bash {script}").env("XTASK_TOOLS_DIR", &tools)
            };
            run.run().with_context(|| format!("{script} failed (its output is above)\nfix: sudo bash {script}"))?;
            std::fs::write(&stamp, format!("{want}\n")).with_context(|| format!("writing {stamp}"))?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_run_installs_where_it_may_and_stops_with_the_command_elsewhere() {
        let s = ".tools/bootstrap-debian.sh";
        assert_eq!(decide(true, true, false, Runner::Nobody, s), Decision::UpToDate);
        assert_eq!(decide(false, false, false, Runner::Root, s), Decision::NotDebian);
        assert_eq!(decide(false, true, false, Runner::Root, s), Decision::Run { sudo: false });
        assert_eq!(decide(false, true, false, Runner::Sudo, s), Decision::Run { sudo: true });
        for (offline, runner) in [(false, Runner::Nobody), (true, Runner::Root)] {
            let Decision::Stop(why) = decide(false, true, offline, runner, s) else { panic!("{offline} {runner:?}") };
            assert!(why.contains("\nfix: sudo bash .tools/bootstrap-debian.sh"), "{why}");
        }
        // The engine carries the script (an adopter's repository has no copy of it).
        assert!(SCRIPT.starts_with("#!/usr/bin/env bash") && SCRIPT.contains("apt-get"));
    }
}
