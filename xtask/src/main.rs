//! `cargo xtask`: the CI system of this repository. See `cargo xtask --help` and CONTRIBUTING.md.
//!
//! The engine is the `xtask-engine` crate (`engine/`); this binary is all an adopting repository writes too.

fn main() -> std::process::ExitCode {
    xtask_engine::main(env!("CARGO_MANIFEST_DIR"))
}
