use super::*;

fn pkg(interpreters: &[&str]) -> crate::settings::PythonPackage {
    crate::settings::PythonPackage {
        dist: "fx-py".into(),
        module: "fx".into(),
        dir: "py".into(),
        tests: "py/tests".into(),
        test_group: None,
        test_extra: None,
        interpreters: interpreters.iter().map(|i| i.parse().unwrap()).collect(),
    }
}

#[test]
fn interpreters_are_read_in_every_spelling_and_refused_with_the_spellings() {
    let ft: Interpreter = "3.14t".parse().unwrap();
    assert_eq!(ft, Interpreter::CPython { minor: 14, free_threaded: true });
    assert_eq!(
        (ft.executable(), ft.setup_python(), ft.python_tag()),
        ("python3.14t".into(), "3.14t".into(), "cp314".into())
    );
    assert!(ft.abi_matches("cp314t") && !ft.abi_matches("cp314"));
    let pypy: Interpreter = "pypy3.11".parse().unwrap();
    assert_eq!((pypy.executable(), pypy.python_tag()), ("pypy3.11".into(), "pp311".into()));
    assert!(pypy.abi_matches("pypy311_pp73") && !pypy.abi_matches("pypy310_pp73") && !pypy.abi_matches("pypy311_ppx"));
    let cp: Interpreter = "3.9".parse().unwrap();
    assert!(cp.abi_matches("cp39") && !cp.abi_matches("cp39t") && !cp.abi_matches("abi3"));
    assert_eq!(cp.to_string(), "CPython 3.9");
    assert!(cp < "3.10".parse().unwrap(), "oldest first");
    for bad in [
        "3",
        "3.",
        "python3.9",
        "2.7",
        "3.6",
        "3.12t",
        "3.x",
        "3.100",
        "3.99",
        "3.16",
        "pypy3.7",
        "4.0",
        "pypy",
        "3.9\u{1b}[2J",
    ] {
        let e = bad.parse::<Interpreter>().unwrap_err();
        assert!(e.contains("is no interpreter") && !e.contains('\u{1b}'), "{bad}: {e}");
    }
}

#[test]
fn platform_tags_belong_to_one_target_family_and_architecture() {
    let yes = [
        ("manylinux_2_17_x86_64", "x86_64-unknown-linux-gnu"),
        ("manylinux2014_aarch64", "aarch64-unknown-linux-gnu"),
        ("musllinux_1_2_aarch64", "aarch64-unknown-linux-musl"),
        ("manylinux_2_17_armv7l", "armv7-unknown-linux-gnueabihf"),
        ("win_amd64", "x86_64-pc-windows-msvc"),
        ("win_arm64", "aarch64-pc-windows-msvc"),
        ("macosx_11_0_arm64", "aarch64-apple-darwin"),
        ("macosx_10_12_universal2", "x86_64-apple-darwin"),
    ];
    for (tag, target) in yes {
        assert!(platform_is_for(tag, target), "{tag} {target}");
    }
    let no = [
        ("musllinux_1_2_x86_64", "x86_64-unknown-linux-gnu"),
        ("manylinux_2_17_x86_64", "x86_64-unknown-linux-musl"),
        ("manylinux_2_17_x86_64", "aarch64-unknown-linux-gnu"),
        ("linux_x86_64", "x86_64-unknown-linux-gnu"),
        ("win_amd64", "aarch64-pc-windows-msvc"),
        ("macosx_11_0_x86_64", "aarch64-apple-darwin"),
    ];
    for (tag, target) in no {
        assert!(!platform_is_for(tag, target), "{tag} {target}");
    }
}

#[test]
fn the_matrix_names_what_is_missing_and_what_was_not_asked_for() {
    let targets = ["x86_64-unknown-linux-gnu".to_owned(), "aarch64-unknown-linux-musl".to_owned()];
    let expected = expected(&[pkg(&["3.13", "3.14t", "3.13"])], &targets);
    assert_eq!(expected.len(), 4, "2 targets × 2 interpreters (3.13 once)");
    let files = [
        "fx_py-1.0.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "fx_py-1.0.0-cp314-cp314t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "fx_py-1.0.0-cp313-cp313-musllinux_1_2_aarch64.whl",
        // The GIL build where the free-threaded one was asked for, and the same wheel twice.
        "fx_py-1.0.0-cp314-cp314-musllinux_1_2_aarch64.whl",
        "fx_py-1.0.0-cp313-cp313-manylinux_2_17_x86_64.whl",
    ];
    let (missing, unexpected) = compare(&expected, &files);
    assert_eq!(
        missing.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        ["the fx-py wheel for CPython 3.14t on aarch64-unknown-linux-musl"]
    );
    assert_eq!(unexpected, [files[3], files[4]]);
    // abi3: one wheel per target, any cp3X python tag; a version-specific wheel is not it.
    let abi3 = super::expected(&[pkg(&[])], &targets[..1]);
    assert!(abi3[0].matches("fx_py-1.0.0-cp39-abi3-manylinux_2_17_x86_64.whl"));
    assert!(!abi3[0].matches("fx_py-1.0.0-cp39-cp39-manylinux_2_17_x86_64.whl"));
    assert!(!abi3[0].matches("other-1.0.0-cp39-abi3-manylinux_2_17_x86_64.whl"));
    assert_eq!(abi3[0].to_string(), "the fx-py abi3 wheel for x86_64-unknown-linux-gnu");
    // What the release lets ship for an abi3 package: its abi3 wheels (or pure-Python ones), for its targets.
    let linux = Some("x86_64-unknown-linux-gnu");
    assert!(abi3[0].is("fx-py", linux, "fx_py-1.0.0-cp39-abi3-manylinux_2_17_x86_64.whl"));
    assert!(abi3[0].is("fx-py", linux, "fx_py-1.0.0-py3-none-any.whl"));
    assert!(!abi3[0].is("fx-py", linux, "fx_py-1.0.0-cp313-cp313-manylinux_2_17_x86_64.whl"));
    assert!(!abi3[0].is("fx-py", Some("aarch64-unknown-linux-gnu"), "fx_py-1.0.0-cp39-abi3-manylinux_2_17_x86_64.whl"));
    assert!(!abi3[0].is("other", linux, "other-1.0.0-cp39-abi3-manylinux_2_17_x86_64.whl"));
}

#[test]
fn only_native_builds_of_version_specific_wheels_need_an_installed_interpreter() {
    let linux = "x86_64-unknown-linux-gnu";
    let p = pkg(&["3.12", "3.14t"]);
    assert!(native_interpreters(&p, "aarch64-unknown-linux-musl", linux).is_empty(), "zig: sysconfig data");
    assert!(native_interpreters(&p, linux, linux).is_empty());
    assert_eq!(native_interpreters(&p, "x86_64-pc-windows-msvc", "x86_64-pc-windows-msvc").len(), 2);
    assert!(native_interpreters(&pkg(&[]), "aarch64-apple-darwin", "aarch64-apple-darwin").is_empty(), "abi3");
}

#[test]
fn a_wheel_file_names_the_one_target_it_is_for() {
    let targets: Vec<String> =
        ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(wheel_target("a-1-cp39-abi3-musllinux_1_2_x86_64.whl", &targets).as_deref(), Some(targets[1].as_str()));
    assert_eq!(wheel_target("a-1-cp39-abi3-manylinux_2_17_x86_64.whl", &targets).as_deref(), Some(targets[0].as_str()));
    assert_eq!(wheel_target("a-1-cp39-abi3-win_amd64.whl", &targets), None);
    assert_eq!(wheel_target("not-a-wheel.whl", &targets), None);
}
