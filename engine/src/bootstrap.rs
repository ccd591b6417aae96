//! The system packages the xtask cannot provision into `.tools/` (node, chromium, qemu-user, minisign, a wasm32
//! toolchain fallback, Debian's node 18 and arm64 Python for the lower-bound and aarch64 tests) come from
//! `scripts/bootstrap-debian.sh`. The jobs that need them run it themselves, once per version of the script,
//! where they may (Debian or Ubuntu, as root or with passwordless sudo); elsewhere they stop before any work
//! with the exact command to run. A stamp in the tools directory remembers which version ran.

use anyhow::{Context, Result, bail};
use xshell::cmd;

use crate::Ctx;

pub const SCRIPT: &str = "scripts/bootstrap-debian.sh";
const STAMP: &str = "bootstrap.stamp";

/// How the script may run here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    Root,
    Sudo,
    /// Neither: a person has to run it.
    Nobody,
}

/// What to do, given the facts: nothing (up to date, or not a Debian machine), run it, or stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    UpToDate,
    NotDebian,
    Run { sudo: bool },
    Stop(String),
}

pub fn decide(stamp_matches: bool, debian: bool, offline: bool, runner: Runner) -> Decision {
    match (stamp_matches, debian, runner) {
        (true, ..) => Decision::UpToDate,
        (false, false, _) => Decision::NotDebian,
        (false, true, _) if offline => Decision::Stop(format!(
            "system packages may be missing (--offline forbids installing them)\nfix: sudo {SCRIPT}"
        )),
        (false, true, Runner::Root) => Decision::Run { sudo: false },
        (false, true, Runner::Sudo) => Decision::Run { sudo: true },
        (false, true, Runner::Nobody) => Decision::Stop(format!(
            "the system packages this job needs are not installed, and this user cannot install them (not root, \
             no passwordless sudo)\nfix: sudo {SCRIPT}    (then run the same command again)"
        )),
    }
}

/// Runs the bootstrap script when its current version has not run on this machine yet (never for `--dry-run` or
/// `--json`, which install nothing).
pub fn ensure(ctx: &Ctx) -> Result<()> {
    if ctx.global.dry_run || ctx.global.json {
        return Ok(());
    }
    let script = ctx.root.join(SCRIPT);
    let Ok(text) = std::fs::read(&script) else { return Ok(()) };
    let want = crate::sha256::digest(&text);
    let stamp = ctx.tools.dir().join(STAMP);
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
    match decide(matches, debian, ctx.global.offline, runner) {
        Decision::UpToDate | Decision::NotDebian => Ok(()),
        Decision::Stop(why) => bail!(why),
        Decision::Run { sudo } => {
            eprintln!("xtask: installing the system packages this job needs ({SCRIPT}, once per version of it)");
            let tools = ctx.tools.dir();
            let run = if sudo {
                cmd!(sh, "sudo -n env XTASK_TOOLS_DIR={tools} bash {script}")
            } else {
                cmd!(sh, "bash {script}").env("XTASK_TOOLS_DIR", &tools)
            };
            run.run().with_context(|| format!("{SCRIPT} failed (its output is above)\nfix: sudo {SCRIPT}"))?;
            std::fs::create_dir_all(&tools).with_context(|| format!("creating {tools}"))?;
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
        assert_eq!(decide(true, true, false, Runner::Nobody), Decision::UpToDate);
        assert_eq!(decide(false, false, false, Runner::Root), Decision::NotDebian);
        assert_eq!(decide(false, true, false, Runner::Root), Decision::Run { sudo: false });
        assert_eq!(decide(false, true, false, Runner::Sudo), Decision::Run { sudo: true });
        for (offline, runner) in [(false, Runner::Nobody), (true, Runner::Root)] {
            let Decision::Stop(why) = decide(false, true, offline, runner) else { panic!("{offline} {runner:?}") };
            assert!(why.contains("\nfix: sudo scripts/bootstrap-debian.sh"), "{why}");
        }
    }
}
