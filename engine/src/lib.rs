//! The CI engine behind `cargo xtask`: every CI job of a Rust (+ Python + wasm) workspace is a subcommand, and the
//! GitHub workflows only call them. A repository adopts it with a dependency and a main of one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     xtask_engine::main(env!("CARGO_MANIFEST_DIR"))
//! }
//! ```
//!
//! and a `ci.toml` (`cargo xtask init` writes a first one). The jobs, their flags and ci.toml's keys:
//! `cargo xtask --help` and the repository's CONTRIBUTING.md.
//!
//! A repository's own subcommands go beside the engine's with [`main_with`] (and into its workflows with a
//! ci.toml `[[job]]` that runs them).

mod affected;
mod artifacts;
mod bootstrap;
mod cache;
mod cli;
mod config;
mod ctx;
mod flags;
mod github;
mod glob;
mod http;
mod interpreter;
mod jobs;
mod lock;
mod manifest;
mod oidc;
mod parallel;
mod pipeline;
mod plan;
mod pyproject;
mod registry;
mod root;
mod semver;
mod settings;
mod sha256;
mod signature;
mod store;
mod store_plan;
mod targets;
mod tempfiles;
/// The test harness of the engine and of an xtask's integration tests: not part of the API (no semver
/// promise). Always compiled (a feature would build the engine twice and relink the xtask binary between
/// `cargo xtask` and its own tests, which Windows refuses while the binary runs); unused, it is not linked in.
#[doc(hidden)]
pub mod testkit;
#[cfg(test)]
mod testutil;
mod tools;
mod wasm;
mod wheel;
mod wheel_diff;
mod workspace;

use std::process::ExitCode;

use anyhow::Result;

use crate::ctx::Ctx;
use crate::ctx::Global;
use crate::flags::XtaskCmd;
use crate::plan::JobFailed;
#[cfg(test)]
use crate::root::project_root;

/// Runs the `cargo xtask` command line of this process and returns its exit code: 0 done, 1 a job failed (its
/// steps say which and how to reproduce it), 2 bad input (one line of cause and the fix).
///
/// `xtask_manifest_dir` is the calling xtask crate's `env!("CARGO_MANIFEST_DIR")`: the repository is its parent
/// (unless `$XTASK_ROOT` or cargo's `CARGO_MANIFEST_DIR` of this run say otherwise), wherever the engine itself
/// was compiled.
pub fn main(xtask_manifest_dir: &str) -> ExitCode {
    main_with(xtask_manifest_dir, &[])
}

/// A subcommand of the repository's own, beside the engine's: `cargo xtask NAME ARGS...` calls `run` with the
/// repository and the arguments after the name, in the repository's root directory.
pub struct Command {
    /// Its name: letters, digits and `-`, and none of the engine's subcommands.
    pub name: &'static str,
    /// One line for `cargo xtask --help`.
    pub about: &'static str,
    pub run: fn(&Repository, &[String]) -> CommandResult,
}

/// What a repository's own command returns: an error is a failed job (exit 1), printed with its name.
pub type CommandResult = Result<(), Box<dyn std::error::Error>>;

/// The repository a command of its own works on.
#[derive(Debug)]
pub struct Repository {
    /// Its root (the workspace's; the current directory when the command runs).
    pub root: std::path::PathBuf,
}

/// [`main`], with the repository's own `commands` beside the engine's. An error a command returns is a failed
/// job (exit 1).
pub fn main_with(xtask_manifest_dir: &str, commands: &[Command]) -> ExitCode {
    // A copy of this binary is the build cache's compiler wrapper (`cache::paths`).
    if let Some(code) = cache::paths::as_wrapper() {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = check_commands(commands) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Some((command, rest)) = own_command(&args, commands) {
        return run_own(xtask_manifest_dir, command, rest);
    }
    if !commands.is_empty() && args.iter().any(|a| a == "--help" || a == "-h") && args.len() == 1 {
        cli::print_help_with(commands.iter().map(|c| (c.name, c.about)));
        return ExitCode::SUCCESS;
    }
    let (global, job) = cli::parse();
    exit_code(run(xtask_manifest_dir, global, job))
}

/// The command of the repository's own that the arguments name first, and its arguments.
fn own_command<'a>(args: &'a [String], commands: &'a [Command]) -> Option<(&'a Command, &'a [String])> {
    let first = args.first()?;
    commands.iter().find(|c| c.name == first).map(|c| (c, &args[1..]))
}

/// Refuses names a command line could not reach or that would hide an engine job.
fn check_commands(commands: &[Command]) -> std::result::Result<(), String> {
    for (i, c) in commands.iter().enumerate() {
        let plain = !c.name.is_empty()
            && !c.name.starts_with('-')
            && c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
        if !plain {
            return Err(format!(
                "the repository's command {:?} has a name no command line reaches\nfix: use letters, digits and `-`",
                c.name
            ));
        }
        if cli::JOBS.contains(&c.name) {
            return Err(format!(
                "the repository's command `{}` has the name of an engine subcommand\nfix: rename it",
                c.name
            ));
        }
        if commands[..i].iter().any(|o| o.name == c.name) {
            return Err(format!("two of the repository's commands are called `{}`\nfix: rename one", c.name));
        }
    }
    Ok(())
}

/// Runs a command of the repository's own in its root.
fn run_own(xtask_manifest_dir: &str, command: &Command, args: &[String]) -> ExitCode {
    let root = root::repository_root(xtask_manifest_dir);
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!("error: cannot enter the repository {root}: {e}");
        return ExitCode::from(2);
    }
    eprintln!("xtask: repository {root} (the repository's own command `{}`)", command.name);
    match (command.run)(&Repository { root: root.into_std_path_buf() }, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {e}", command.name);
            ExitCode::from(1)
        }
    }
}

/// A job's result as the process's exit code.
fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(failed) = e.downcast_ref::<JobFailed>() {
                eprintln!("error: {failed}");
                ExitCode::from(1)
            } else {
                // `{:#}` prints the cause chain on one line, without a backtrace.
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

fn run(xtask_manifest_dir: &str, global: Global, job: XtaskCmd) -> Result<()> {
    cli::check_combination(&global, &job)?;
    let ctx = Ctx::new(root::repository_root(xtask_manifest_dir), global, job.name())?;
    jobs::run(&ctx, job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Repository, _: &[String]) -> CommandResult {
        Ok(())
    }

    /// A repository's own command is found by its name, first, with the arguments after it; names that a command
    /// line cannot reach, that hide an engine job or that repeat are refused.
    #[test]
    fn a_repository_s_own_commands_beside_the_engine_s() {
        let cmd = |name| Command { name, about: "", run: ok };
        let commands = [cmd("fx-hello"), cmd("report")];
        let args: Vec<String> = ["report", "--since", "v1"].map(String::from).to_vec();
        let (c, rest) = own_command(&args, &commands).unwrap();
        assert_eq!((c.name, rest), ("report", &args[1..]));
        assert!(own_command(&["lint".to_owned()], &commands).is_none(), "the engine's jobs are the engine's");
        assert!(own_command(&["--dry-run".to_owned(), "report".to_owned()], &commands).is_none());
        assert!(check_commands(&commands).is_ok());
        for bad in [vec![cmd("lint")], vec![cmd("a b")], vec![cmd("-x")], vec![cmd("r"), cmd("r")]] {
            let e = check_commands(&bad).unwrap_err();
            assert!(e.contains("\nfix: "), "{e}");
        }
    }
}
