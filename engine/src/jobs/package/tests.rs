use super::*;
use crate::workspace::parse_metadata;

fn pkg(name: &str, version: &str, publishable: bool, deps: &[(&str, &str, bool, &str)]) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        publishable,
        dir: Utf8PathBuf::from(format!("/repo/crates/{name}")),
        deps: deps.iter().map(|(n, r, p, k)| ((*n).into(), (*r).into(), *p, (*k).into())).collect(),
        features: vec![],
        rust_version: None,
        has_lib: true,
        cdylib: false,
        bins: vec![],
    }
}

type PyProjects = Vec<(String, String)>;

const PY_DYNAMIC: &str = "[project]\nname = \"reel-sdk\"\ndynamic = [\"version\"]\n";

#[test]
fn workspace_rules() {
    let good = vec![
        pkg("reel", "1.0.0", true, &[]),
        pkg("reel-cli", "1.0.0", true, &[("reel", "=1.0.0", true, "normal"), ("tempdir", "*", true, "dev")]),
        pkg("reel-py", "1.0.0", false, &[("reel", "*", true, "normal")]),
        pkg("xtask", "0.0.1", false, &[]),
    ];
    let py = vec![("pyproject.toml".to_owned(), PY_DYNAMIC.to_owned())];
    check_workspace(crate::settings::this_repository(), &good, "1.0.0", &py).unwrap();

    let cases: Vec<(Vec<Package>, PyProjects, &str)> = vec![
        (vec![pkg("reel", "1.0.1", true, &[])], py.clone(), "reel has version 1.0.1, the workspace has 1.0.0"),
        (
            vec![pkg("reel-cli", "1.0.0", true, &[("reel", "*", true, "normal")]), pkg("reel", "1.0.0", true, &[])],
            py.clone(),
            "depends on reel by path without a version",
        ),
        (
            vec![
                pkg("reel-cli", "1.0.0", true, &[("internal", "=1.0.0", true, "build")]),
                pkg("internal", "1.0.0", false, &[]),
            ],
            py.clone(),
            "depends on internal, which is not publishable",
        ),
        (vec![], vec![("p.toml".into(), "[project]\nversion = \"0.9\"\n".into())], "p.toml has version 0.9"),
        (vec![], vec![("p.toml".into(), "[project]\nname = \"x\"\n".into())], "declares no version"),
    ];
    for (packages, py, want) in cases {
        let err =
            format!("{:#}", check_workspace(crate::settings::this_repository(), &packages, "1.0.0", &py).unwrap_err());
        assert!(err.contains(want), "want {want:?} in {err}");
    }
}

#[test]
fn the_repository_itself_is_packageable() {
    let root = crate::project_root();
    let version = repo::workspace_version(&root).unwrap();
    let sh = xshell::Shell::new().unwrap();
    sh.change_dir(&root);
    let meta = cmd!(sh, "cargo metadata --format-version 1 --no-deps --locked").quiet().read().unwrap();
    let packages = parse_metadata(&meta).unwrap();
    let publishable: Vec<_> = packages.iter().filter(|p| p.publishable).map(|p| p.name.as_str()).collect();
    assert_eq!(publishable, ["reel-core", "reel-cli", "xtask-engine"]);
    let py: Vec<_> = crate::settings::this_repository()
        .python()
        .iter()
        .map(|p| {
            let path = root.join(&p.dir).join("pyproject.toml");
            (path.to_string(), std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    check_workspace(crate::settings::this_repository(), &packages, &version, &py).unwrap();
}

fn inputs(kinds: &[Kind], dirty: bool, host_target: bool) -> Inputs<'static> {
    Inputs {
        settings: crate::settings::this_repository(),
        root: "/repo".into(),
        staging: "/repo/target/packages/.staging/abc".into(),
        commit: Commit { sha: "a".repeat(40), dirty, source_date_epoch: 1_700_000_000 },
        version: "1.2.3".into(),
        wheel_targets: if host_target {
            vec!["x86_64-unknown-linux-gnu".into()]
        } else {
            vec!["x86_64-unknown-linux-gnu".into(), "aarch64-unknown-linux-gnu".into()]
        },
        host: "x86_64-unknown-linux-gnu".into(),
        kinds: kinds.to_vec(),
        publishable: vec!["reel".into(), "reel-cli".into()],
        toolchain: Some(wasm::Toolchain::Target { toolchain: None }),
        host_wheels: Some("/repo/target/packages/.staging/abc/wheels".into()),
        examples: vec!["sensors".into()],
        cargo_home: Some("/home/u/.cargo".into()),
        native_pythons: vec![],
    }
}

/// The build plan of another repository, built in this process from its settings alone.
#[test]
fn a_build_plan_for_another_repository_s_settings_is_that_repository_s() {
    let i = Inputs {
        settings: crate::testutil::other_repository(),
        publishable: vec!["fx-a".into()],
        examples: vec![],
        ..inputs(&[Kind::Crate, Kind::Wheel, Kind::Wasm], false, true)
    };
    let text: String = plan(&i).steps.iter().map(|s| format!("{}: {}\n", s.name, s.command_line())).collect();
    assert!(text.contains("--package fx-a") && text.contains("py/one/Cargo.toml") && text.contains("fx-web"), "{text}");
    assert!(!text.contains("reel"), "{text}");
}

#[test]
fn plan_is_reproducible_and_kind_named() {
    let plan = plan(&inputs(&Kind::ALL, false, true));
    for s in &plan.steps {
        let kind = s.name.split(':').next().unwrap();
        assert!(Kind::parse(kind).is_some(), "step {} is not named after its kind", s.name);
    }
    let cargo_package = &plan.steps[0];
    assert_eq!(
        cargo_package.command_line().split(' ').skip(2).collect::<Vec<_>>().join(" "),
        "cargo package --locked --target-dir target/package-build --package reel --package reel-cli"
    );
    assert!(cargo_package.env.contains(&("SOURCE_DATE_EPOCH".into(), "1700000000".into())));
    let flags = &cargo_package.env.iter().find(|(k, _)| k == "CARGO_ENCODED_RUSTFLAGS").unwrap().1;
    assert_eq!(flags, "--remap-path-prefix=/repo=/repo\x1f--remap-path-prefix=/home/u/.cargo=/cargo");
    let names: Vec<_> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"recordings: sensors.py") && names.contains(&"wasm: wasm-opt"), "{names:?}");
    assert!(!cargo_package.command_line().contains("--allow-dirty"));
}

#[test]
fn dirty_trees_and_cross_targets() {
    let plan = plan(&inputs(&[Kind::Crate, Kind::Wheel], true, false));
    assert!(plan.steps[0].command_line().contains("--allow-dirty"));
    let wheels: Vec<_> = plan.steps.iter().filter(|s| s.name.starts_with("wheels:")).collect();
    assert_eq!(wheels.len(), 2, "one wheel per Linux target");
    for (w, target) in wheels.iter().zip(["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]) {
        let line = w.command_line();
        assert!(line.contains(&format!("--zig --compatibility manylinux2014 --target {target}")), "{line}");
        assert!(w.tools.contains(&"ziglang"), "{:?}", w.tools);
    }
    assert_eq!(plan.steps.len(), 4, "only the requested kinds");
}

#[test]
fn wheel_targets_platforms_and_the_auditwheel_verdict() {
    let linux = "x86_64-unknown-linux-gnu";
    assert_eq!(
        wheel_targets(crate::settings::this_repository(), &[], linux),
        ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]
    );
    assert_eq!(
        wheel_targets(crate::settings::this_repository(), &[], "aarch64-apple-darwin"),
        ["aarch64-apple-darwin"],
        "macOS builds its own"
    );
    assert_eq!(
        wheel_targets(crate::settings::this_repository(), &["aarch64-unknown-linux-gnu".into()], linux),
        ["aarch64-unknown-linux-gnu"]
    );
    // Native builds where zig has no part: Windows and macOS runners build their own wheels.
    let pkg = &crate::settings::this_repository().python()[0];
    let win = wheel_step("w", pkg, "x86_64-pc-windows-msvc", "x86_64-pc-windows-msvc", "out", "t", true, &[]);
    assert!(
        !win.command_line().contains("--zig") && !win.command_line().contains("--target x"),
        "{}",
        win.command_line()
    );
    let targets: Vec<String> = crate::settings::this_repository().release("test").unwrap().wheel_targets.clone();
    let cases = [
        ("cp39-abi3-manylinux2014_aarch64.manylinux_2_17_aarch64", Some("aarch64-unknown-linux-gnu")),
        ("cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64", Some("x86_64-unknown-linux-gnu")),
        ("cp39-abi3-win_amd64", None),
        ("cp39-abi3-musllinux_1_2_x86_64", None),
    ];
    for (tag, want) in cases {
        let file = format!("reel_sdk-0.1.0-{tag}.whl");
        assert_eq!(crate::wheel::matrix::wheel_target(&file, &targets).as_deref(), want, "{tag}");
    }
    let name = "reel_sdk-0.1.0-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl";
    let said = "\nreel_sdk.whl\nis consistent with the following platform tag:\n\"manylinux_2_17_x86_64\".\n";
    assert_eq!(audit_verdict(name, said), Ok(()));
    let newer = said.replace("manylinux_2_17", "manylinux_2_34");
    assert!(audit_verdict(name, &newer).unwrap_err().contains("the file name claims"));
    let newer_claimed = "reel_sdk-0.1.0-cp39-abi3-manylinux_2_34_x86_64.whl";
    assert!(audit_verdict(newer_claimed, &newer).unwrap_err().contains("newer than the baseline manylinux_2_17"));
    assert!(audit_verdict(name, "error: cannot repair").is_err());
}

#[test]
fn describes_wheels_by_their_tag() {
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-describe-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("wheels")).unwrap();
    std::fs::write(dir.join("wheels/reel_sdk-1.2.3-cp39-abi3-manylinux_2_34_x86_64.whl"), b"zip").unwrap();
    let targets = vec!["x86_64-unknown-linux-gnu".to_owned()];
    let a = describe(&dir, Kind::Wheel, "1.2.3", &targets, crate::settings::this_repository(), "maturin build", &[])
        .unwrap();
    assert_eq!(a[0].platform.as_deref(), Some("x86_64-unknown-linux-gnu"));
    assert_eq!(a[0].name, "reel-sdk");
    assert_eq!(a[0].tag.as_deref(), Some("cp39-abi3-manylinux_2_34_x86_64"));
    assert_eq!(a[0].path, "wheels/reel_sdk-1.2.3-cp39-abi3-manylinux_2_34_x86_64.whl");
    assert_eq!((a[0].size, a[0].sha256.len()), (3, 64));
    let err = describe(&dir, Kind::Crate, "1.2.3", &targets, crate::settings::this_repository(), "", &[]).unwrap_err();
    assert!(err.to_string().contains("produced no files"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn recorded_commands_name_no_directory_of_this_machine() {
    let places = Places::new(
        Utf8Path::new("/home/a/repo"),
        Utf8Path::new("/home/a/repo/target/packages"),
        Some("/home/a/.cargo/"),
    );
    let cmd = "SOURCE_DATE_EPOCH=1 CARGO_ENCODED_RUSTFLAGS='--remap-path-prefix=/home/a/repo=/repo\x1f--remap-path-prefix=/home/a/.cargo=/cargo' \
               maturin build --out /home/a/repo/target/packages/.staging/abc/wheels --manifest-path crates/x/Cargo.toml \
               /home/a/repository/keep";
    let got = portable(cmd, &places);
    assert_eq!(
        got,
        "SOURCE_DATE_EPOCH=1 CARGO_ENCODED_RUSTFLAGS='--remap-path-prefix=$REPO=/repo\x1f--remap-path-prefix=$CARGO_HOME=/cargo' \
         maturin build --out $OUT/.staging/abc/wheels --manifest-path crates/x/Cargo.toml /home/a/repository/keep"
    );
    // Two clones in two directories write the same command.
    let other = Places::new(Utf8Path::new("/tmp/b/reel"), Utf8Path::new("/tmp/b/out"), None);
    let a = portable("cargo package --out /tmp/b/out/.staging/x && cd /tmp/b/reel/y", &other);
    assert_eq!(a, "cargo package --out $OUT/.staging/x && cd $REPO/y");
}

#[test]
fn cli_programs_are_packed_per_target_reproducibly() {
    let steps =
        binary_steps("reel-cli", "reel", "aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu", "1.2.3", "/s", 42);
    let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "binaries: cargo zigbuild reel-cli (aarch64-unknown-linux-gnu)",
            "binaries: pack reel (aarch64-unknown-linux-gnu)"
        ]
    );
    assert!(steps[0].command_line().contains("--target aarch64-unknown-linux-gnu.2.17"), "{}", steps[0].command_line());
    let pack = steps[1].command_line();
    assert!(pack.ends_with("target/package-build/bin/aarch64-unknown-linux-gnu/release/reel /s/binaries/reel-1.2.3-aarch64-unknown-linux-gnu.tar.gz reel-1.2.3-aarch64-unknown-linux-gnu 42"), "{pack}");
    // The host's program is run before it is packed.
    let host =
        binary_steps("reel-cli", "reel", "x86_64-unknown-linux-gnu", "x86_64-unknown-linux-gnu", "1.2.3", "/s", 42);
    assert_eq!(host[1].command_line(), "target/package-build/bin/x86_64-unknown-linux-gnu/release/reel --help");
    // Windows builds natively, with its .exe.
    let win = binary_steps("reel-cli", "reel", "x86_64-pc-windows-msvc", "x86_64-pc-windows-msvc", "1.2.3", "/s", 42);
    assert!(
        win[0]
            .command_line()
            .starts_with("cargo build --release --locked --package reel-cli --target x86_64-pc-windows-msvc")
    );
    assert!(win[1].command_line().contains("release/reel.exe --help"));
}

#[test]
fn pyproject_versions_are_read_by_a_toml_parser() {
    let cases = [
        ("[project]\nname = \"a\"\ndynamic = [\n  \"readme\",\n  \"version\",\n]\n", PyVersion::Dynamic),
        ("[project]\nname = \"a\"\nversion = \"1.2.3\" # pinned\n", PyVersion::Static("1.2.3".into())),
        // A `version` key of another table, and a string that mentions "version", are not the project's.
        (
            "[tool.x]\nversion = \"9\"\n[project]\nname = \"a\"\ndescription = \"dynamic = [\\\"version\\\"]\"\n",
            PyVersion::Missing,
        ),
        ("[build-system]\nrequires = []\n", PyVersion::Missing),
    ];
    for (text, want) in cases {
        assert_eq!(pyproject_version(text), want, "{text}");
    }
    assert!(matches!(pyproject_version("[project\n"), PyVersion::Invalid(_)));
}

/// The reproducibility diagnosis names the pyproject.toml to edit: the one of the package the wheel is built from.
#[test]
fn a_wheel_s_pyproject_is_its_package_s() {
    let settings = crate::settings::this_repository();
    let wheel = "wheels/reel_sdk-0.1.0-cp39-abi3-manylinux_2_17_x86_64.whl";
    assert_eq!(pyproject_of(settings, wheel), "crates/reel-py/pyproject.toml");
    assert_eq!(pyproject_of(settings, "wheels/other-1.0-py3-none-any.whl"), "the package's pyproject.toml");
}

#[test]
fn a_version_specific_package_builds_every_interpreter_per_target_with_zig_on_linux() {
    let settings = crate::testutil::non_abi3_repository();
    let targets = wheel_targets(settings, &[], "x86_64-unknown-linux-gnu");
    assert_eq!(targets.len(), 4);
    let i = Inputs { settings, wheel_targets: targets, kinds: vec![Kind::Wheel], ..inputs(&[], false, false) };
    let linux = plan(&i);
    assert_eq!(linux.steps.len(), 4, "one maturin build per target, every interpreter in it");
    let pythons = "--interpreter python3.9 python3.10 python3.11 python3.12 python3.13 python3.14 python3.14t pypy3.11";
    for (step, compat) in linux.steps.iter().zip(["manylinux2014", "manylinux2014", "musllinux_1_2", "musllinux_1_2"]) {
        let line = step.command_line();
        assert!(line.contains(pythons) && line.contains(&format!("--zig --compatibility {compat}")), "{line}");
    }
    assert!(linux.notes.iter().all(|n| n.contains("cross-built with zig for 8 interpreters")), "{:?}", linux.notes);
    assert_eq!(crate::wheel::matrix::expected(settings.python(), &i.wheel_targets).len(), 32);
    // On the Windows runner the same package is built natively: the interpreters found there, by path, and the
    // plan says each must be installed.
    let win = "x86_64-pc-windows-msvc".to_owned();
    let found: Vec<(Interpreter, Result<Utf8PathBuf, String>)> = settings.python()[0]
        .interpreters()
        .into_iter()
        .map(|p| {
            (
                p,
                if p.to_string() == "CPython 3.9" {
                    Err("not on PATH".into())
                } else {
                    Ok(format!("C:/py/{}", p.executable()).into())
                },
            )
        })
        .collect();
    let i = Inputs { host: win.clone(), wheel_targets: vec![win], native_pythons: found, ..i };
    let native = plan(&i);
    let line = native.steps[0].command_line();
    assert!(line.contains("--interpreter python3.9 C:/py/python3.10") && !line.contains("--zig"), "{line}");
    assert!(native.notes[0].contains("built natively, for CPython 3.9, CPython 3.10"), "{:?}", native.notes);
}

#[test]
fn an_interpreter_ci_toml_cannot_mean_is_refused_at_its_key() {
    let text = "[[python]]\ndist = \"a\"\nmodule = \"a\"\ndir = \"a\"\ntests = \"a/t\"\ninterpreters = [\"3.12t\"]\n";
    let e = crate::settings::parse(text).unwrap_err();
    assert!(
        e.starts_with("6:") && e.contains("free-threaded builds exist from CPython 3.13") && e.contains("fix:"),
        "{e}"
    );
}
