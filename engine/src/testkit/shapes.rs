//! Generated repositories of other shapes, as files (path, text): a PyO3 project that is not abi3, and a
//! monorepo of a hundred crates. The heavy tests and `cargo xtask bench` write them, commit them and run the
//! engine on them.

/// The version of [`non_abi3_project`].
pub const NON_ABI3_VERSION: &str = "0.4.0";
/// The interpreters [`non_abi3_project`] ships a wheel for.
pub const NON_ABI3_INTERPRETERS: &[&str] = &["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.14t"];
/// Its Linux targets: manylinux and musllinux, x86_64 and aarch64.
pub const NON_ABI3_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
];

fn non_abi3_ci_toml() -> String {
    let interpreters = NON_ABI3_INTERPRETERS.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    let targets = NON_ABI3_TARGETS.iter().map(|t| format!("  \"{t}\"")).collect::<Vec<_>>().join(",\n");
    format!(
        r#"# A PyO3 project that is not abi3.
[workspace]
unversioned = ["xtask"]

[[python]]
dist = "fx-native"
module = "fx_native"
dir = "py/native"
tests = "py/native/tests"
test-group = "test"
interpreters = [{interpreters}]

[test]
default-parts = ["rust", "python"]
exclude = ["xtask"]

[[platform]]
name = "linux"
runner = "ubuntu-24.04"
target = "x86_64-unknown-linux-gnu"
wheels = [
{targets},
]
builds = ["wheels", "sdists"]

[store]
default = "target/fx-store"
web = "target/fx-web"

[release]
registry-api = "https://registry.invalid"
registry-index = "sparse+https://index.registry.invalid/"
pypi-upload = "https://pypi.invalid/legacy/"
pypi-simple = "https://pypi.invalid/simple/"
wheel-targets = [
{targets},
]
signing-key = "keys/release.pub"
"#
    )
}

/// The files of a PyO3 project that is not abi3 (ci.toml included): one package `fx-native` listing CPython
/// 3.9-3.14 and 3.14t for manylinux and musllinux on x86_64 and aarch64, with an sdist; its tests need the
/// dependency group `test` (`dirty-equals`); a pure-Rust crate `fx-core` with a doctest; its own ruff rules
/// (single quotes). Its release profile compiles at `opt-level = 0` (the heavy test builds 28 wheels; the bench
/// overrides it). With `engine` (the engine's directory) it adopts the engine as an adopter does: an xtask crate
/// of its own depending on it by path, and the `cargo xtask` alias.
pub fn non_abi3_project(engine: Option<&str>) -> Vec<(&'static str, String)> {
    let members = if engine.is_some() { ", \"xtask\"" } else { "" };
    let mut files = vec![
        ("ci.toml", non_abi3_ci_toml()),
        (
            "Cargo.toml",
            format!(
                "[workspace]\nresolver = \"3\"\nmembers = [\"crates/fx-core\", \"py/native\"{members}]\n\n\
                 [workspace.package]\nversion = \"{NON_ABI3_VERSION}\"\nedition = \"2024\"\nlicense = \"MIT\"\n\
                 repository = \"https://example.invalid/fx\"\n\n\
                 # 28 wheels: compile fast (the wheels' code is a few lines).\n[profile.release]\nopt-level = 0\n"
            ),
        ),
        ("README.md", "# fx\n\nA PyO3 project that is not abi3.\n".into()),
        (".gitignore", "/target\n".into()),
        (
            "keys/release.pub",
            "untrusted comment: none\nRWQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".into(),
        ),
    ];
    files.extend(non_abi3_rust());
    files.extend(non_abi3_python());
    if let Some(engine) = engine {
        files.extend(adoption(engine));
    }
    files
}

/// `fx-core` (a doctest) and the extension crate over it.
fn non_abi3_rust() -> Vec<(&'static str, String)> {
    let pyo3 = "pyo3 = { version = \"0.30.1\", default-features = false, features = [\"macros\"] }";
    let package = |name: &str, description: &str| {
        format!(
            "[package]\nname = \"{name}\"\ndescription = \"{description}\"\nversion.workspace = true\n\
             edition.workspace = true\nlicense.workspace = true\nrepository.workspace = true\n"
        )
    };
    vec![
        ("crates/fx-core/Cargo.toml", package("fx-core", "The arithmetic")),
        (
            "crates/fx-core/src/lib.rs",
            "//! The arithmetic behind fx-native.\n\n/// Adds two numbers.\n///\n/// ```\n/// assert_eq!(fx_core::add(2, 3), 5);\n\
             /// ```\npub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n"
                .into(),
        ),
        (
            "py/native/Cargo.toml",
            package("fx-native", "Python bindings")
                + &format!(
                    "publish = false\n\n[lib]\nname = \"fx_native\"\ncrate-type = [\"cdylib\"]\ntest = false\n\
                     doctest = false\n\n[dependencies]\nfx-core = {{ path = \"../../crates/fx-core\" }}\n{pyo3}\n\n\
                     [features]\nextension-module = [\"pyo3/extension-module\"]\n"
                ),
        ),
        (
            "py/native/src/lib.rs",
            "use pyo3::prelude::*;\n\n/// fx_core::add, for Python.\n#[pyfunction]\nfn add(a: i64, b: i64) -> i64 {\n    \
             fx_core::add(a, b)\n}\n\n#[pymodule(gil_used = false)]\nfn fx_native(m: &Bound<'_, PyModule>) -> PyResult<()> {\n    \
             m.add_function(wrap_pyfunction!(add, m)?)?;\n    m.add(\"__version__\", env!(\"CARGO_PKG_VERSION\"))\n}\n"
                .into(),
        ),
    ]
}

/// Its pyproject.toml (a dependency group for the tests, ruff's rules of its own), its tests and readme.
fn non_abi3_python() -> Vec<(&'static str, String)> {
    vec![
        (
            "py/native/pyproject.toml",
            format!(
                "[build-system]\nrequires = [\"maturin>=1.16,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\n\
                 name = \"fx-native\"\nversion = \"{NON_ABI3_VERSION}\"\ndescription = \"Python bindings\"\n\
                 requires-python = \">=3.9\"\nlicense = \"MIT\"\nreadme = \"README.md\"\n\n[dependency-groups]\n\
                 test = [\"dirty-equals>=0.7\"]\n\n[tool.maturin]\nfeatures = [\"extension-module\"]\n\
                 module-name = \"fx_native\"\n\n[tool.ruff]\nline-length = 100\n\n[tool.ruff.format]\n\
                 quote-style = \"single\"\n\n[tool.ruff.lint]\nselect = [\"E\", \"F\", \"Q\"]\n\n\
                 [tool.ruff.lint.flake8-quotes]\ninline-quotes = \"single\"\n"
            ),
        ),
        ("py/native/README.md", "# fx-native\n\nPython bindings of fx-core.\n".into()),
        (
            "py/native/tests/test_add.py",
            format!(
                "import sys\n\nimport fx_native\nfrom dirty_equals import IsPositiveInt\n\n\n\
                 def test_add() -> None:\n    assert fx_native.add(2, 3) == IsPositiveInt\n    \
                 assert fx_native.add(2, 3) == 5\n\n\ndef test_version() -> None:\n    \
                 assert fx_native.__version__ == '{NON_ABI3_VERSION}', sys.version\n"
            ),
        ),
    ]
}

/// An xtask crate of the repository's own, depending on the engine in `engine` by path, and the alias. Its target
/// directory is its own: the second shape's xtask (another package of the same name, with a command of its own)
/// builds in `engine-for-fixtures`, and two `xtask` binaries uplifted into one directory by heavy tests running
/// at once would replace each other.
fn adoption(engine: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "xtask/Cargo.toml",
            format!(
                "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nxtask-engine = {{ path = \"{engine}/engine\" }}\n"
            ),
        ),
        (
            "xtask/src/main.rs",
            "//! This repository's `cargo xtask`.\n\nfn main() -> std::process::ExitCode {\n    \
             xtask_engine::main(env!(\"CARGO_MANIFEST_DIR\"))\n}\n"
                .into(),
        ),
        (
            ".cargo/config.toml",
            format!(
                "[alias]\nxtask = \"run --quiet --locked --package xtask --target-dir \
                 {engine}/target/engine-for-fixtures-non-abi3 --\"\n"
            ),
        ),
    ]
}

/// The number of crates of [`large_workspace`], and its levels (each crate depends on crates of the level below).
pub const LARGE_CRATES: usize = 100;
pub const LARGE_LEVELS: usize = 10;
/// Its crates that are never published (on the top level: nothing published depends on them).
pub const LARGE_UNPUBLISHED: &[usize] = &[95, 97, 99];

/// The maturin packages and wasm bundles of [`large_workspace`]: (package, the crate it uses).
pub fn large_tops() -> Vec<(String, usize)> {
    let top = LARGE_CRATES - LARGE_CRATES / LARGE_LEVELS;
    let py = (0..3).map(|k| (format!("lw-py{k}"), top + 2 * k));
    let web = (0..2).map(|k| (format!("lw-web{k}"), top + 6 + 2 * k));
    py.chain(web).collect()
}

/// The name of crate `i` of [`large_workspace`].
pub fn large_crate(i: usize) -> String {
    format!("lw-{i:03}")
}

/// The crates crate `i` of [`large_workspace`] depends on: two of the level below (none on level 0).
pub fn large_deps(i: usize) -> Vec<usize> {
    let per = LARGE_CRATES / LARGE_LEVELS;
    let level = i / per;
    if level == 0 {
        return Vec::new();
    }
    let below = (level - 1) * per;
    let mut d = vec![below + i % per, below + (i + 3) % per];
    d.dedup();
    d
}

fn ident(i: usize) -> String {
    large_crate(i).replace('-', "_")
}

/// A member's Cargo.toml in the large workspace.
fn large_manifest(name: &str, publish: bool, deps: &[String]) -> String {
    let mut t = format!(
        "[package]\nname = \"{name}\"\ndescription = \"{name}, a crate of the large workspace\"\n\
         version.workspace = true\nedition.workspace = true\nlicense.workspace = true\n\
         repository.workspace = true\n"
    );
    if !publish {
        t.push_str("publish = false\n");
    }
    t.push_str("\n[dependencies]\n");
    for d in deps {
        t.push_str(d);
        t.push('\n');
    }
    t
}

/// The dependency line on crate `i`, from a member `up` directories away from `crates/`.
fn large_dep(i: usize, up: &str) -> String {
    format!("{} = {{ path = \"{up}/{}\", version = \"=1.0.0\" }}", large_crate(i), large_crate(i))
}

/// A monorepo of the size this CI was designed for (ci.toml included): [`LARGE_CRATES`] crates in
/// [`LARGE_LEVELS`] levels (crate `i` depends on [`large_deps`]`(i)`), three of them unpublished, each with two
/// real tests; three maturin packages (abi3) and two wasm bundles on top ([`large_tops`]); `[test] shards = 4`.
/// `pyo3` and `wasm_bindgen` are dependency lines (the engine repository's own, so the lock file and the cargo
/// cache have them). Two more tests: `lw-000 tests::flaky` fails on its first run and passes on the retry when
/// `CI_FLAKY_DIR` is set (it leaves a marker file there): what nextest reports as flaky; `lw-001
/// tests::fails_when_asked` fails where `CI_FAIL` is set.
pub fn large_workspace(pyo3: &str, wasm_bindgen: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = (0..LARGE_CRATES).flat_map(large_crate_files).collect();
    let mut members: Vec<String> = (0..LARGE_CRATES).map(|i| format!("crates/{}", large_crate(i))).collect();
    for (k, (name, uses)) in large_tops().into_iter().enumerate() {
        let (dir, more) =
            if k < 3 { large_python(k, &name, uses, pyo3) } else { large_wasm(k - 3, &name, uses, wasm_bindgen) };
        members.push(dir);
        files.extend(more);
    }
    files.extend(large_root(&members));
    files
}

/// Crate `i`: its manifest, and a library with two tests (three for crate 0: the flaky one).
fn large_crate_files(i: usize) -> Vec<(String, String)> {
    let name = large_crate(i);
    let deps = large_deps(i);
    let lines: Vec<String> = deps.iter().map(|d| large_dep(*d, "..")).collect();
    let manifest = large_manifest(&name, !LARGE_UNPUBLISHED.contains(&i), &lines);
    let values: Vec<String> = deps.iter().map(|d| format!("{}::value()", ident(*d))).collect();
    let below = if values.is_empty() { "0".to_owned() } else { values.join(" + ") };
    let sum: String = values.iter().map(|v| format!(" + {v}")).collect();
    let mut lib = format!(
        "//! `{name}`: one crate of the large workspace.\n\n/// One more than the sum of its dependencies' values.\npub fn \
         value() -> u64 {{\n    1{sum}\n}}\n\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn is_positive() {{\n        \
         assert!(super::value() >= 1);\n    }}\n\n    #[test]\n    fn exceeds_its_dependencies() {{\n        \
         assert!(super::value() > {below});\n    }}\n"
    );
    if i == 1 {
        lib.push_str(
            "\n    /// Fails where `CI_FAIL` is set: a broken test, on purpose.\n    #[test]\n    fn fails_when_asked() {\n        \
             assert!(std::env::var_os(\"CI_FAIL\").is_none(), \"asked to fail\");\n    }\n",
        );
    }
    if i == 0 {
        lib.push_str(
            "\n    /// Fails once per `CI_FLAKY_DIR`, then passes: a flaky test, on purpose.\n    #[test]\n    fn flaky() {\n        \
             let Ok(dir) = std::env::var(\"CI_FLAKY_DIR\") else { return };\n        \
             let marker = std::path::Path::new(&dir).join(\"flaky-ran-once\");\n        \
             if !marker.exists() {\n            std::fs::write(&marker, b\"\").unwrap();\n            \
             panic!(\"the first run of a flaky test\");\n        }\n    }\n",
        );
    }
    lib.push_str("}\n");
    vec![(format!("crates/{name}/Cargo.toml"), manifest), (format!("crates/{name}/src/lib.rs"), lib)]
}

/// Maturin package `k` over crate `uses`: its directory and files.
fn large_python(k: usize, name: &str, uses: usize, pyo3: &str) -> (String, Vec<(String, String)>) {
    let dir = format!("py/p{k}");
    let module = format!("lw_py{k}");
    let mut manifest = large_manifest(name, false, &[large_dep(uses, "../../crates"), pyo3.to_owned()]);
    manifest.push_str(&format!(
        "\n[lib]\nname = \"{module}\"\ncrate-type = [\"cdylib\"]\ntest = false\ndoctest = false\n\n\
         [features]\nextension-module = [\"pyo3/extension-module\"]\n"
    ));
    let files = vec![
        (format!("{dir}/Cargo.toml"), manifest),
        (
            format!("{dir}/pyproject.toml"),
            format!(
                "[build-system]\nrequires = [\"maturin>=1.16,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\n\
                 name = \"{name}\"\nreadme = \"README.md\"\nrequires-python = \">=3.9\"\ndynamic = [\"version\"]\n\n\
                 [tool.maturin]\nfeatures = [\"extension-module\"]\n\n[tool.maturin.sbom]\nrust = false\n"
            ),
        ),
        (format!("{dir}/README.md"), format!("# {name}\n\nThe value of {}.\n", large_crate(uses))),
        (
            format!("{dir}/src/lib.rs"),
            format!(
                "//! The `{module}` module.\n\nuse pyo3::prelude::*;\n\n#[pyfunction]\nfn value() -> u64 {{\n    {}::value()\n}}\n\n\
                 #[pymodule]\nfn {module}(m: &Bound<'_, PyModule>) -> PyResult<()> {{\n    \
                 m.add_function(wrap_pyfunction!(value, m)?)?;\n    m.add(\"__version__\", env!(\"CARGO_PKG_VERSION\"))\n}}\n",
                ident(uses)
            ),
        ),
        (
            format!("{dir}/tests/test_{module}.py"),
            format!("import {module}\n\n\ndef test_value():\n    assert {module}.value() >= 1\n"),
        ),
    ];
    (dir, files)
}

/// Wasm bundle `k` over crate `uses`: its directory and files.
fn large_wasm(k: usize, name: &str, uses: usize, wasm_bindgen: &str) -> (String, Vec<(String, String)>) {
    let dir = format!("web/w{k}");
    let mut manifest = large_manifest(name, false, &[large_dep(uses, "../../crates"), wasm_bindgen.to_owned()]);
    manifest.push_str("\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n");
    let lib = format!(
        "//! A page of the large workspace.\n\nuse wasm_bindgen::prelude::*;\n\n/// Its crate's value.\n\
         #[wasm_bindgen]\npub fn value() -> u32 {{\n    {}::value() as u32\n}}\n",
        ident(uses)
    );
    let files = vec![
        (format!("{dir}/Cargo.toml"), manifest),
        (format!("{dir}/src/lib.rs"), lib),
        (format!("{dir}/www/index.html"), "<!doctype html>\n<p>large</p>\n".into()),
    ];
    (dir, files)
}

/// The workspace manifest, ci.toml and the rest of the root.
fn large_root(members: &[String]) -> Vec<(String, String)> {
    let quoted: String = members.iter().map(|m| format!("  \"{m}\",\n")).collect();
    let py: String = (0..3)
        .map(|k| format!("\n[[python]]\ndist = \"lw-py{k}\"\nmodule = \"lw_py{k}\"\ndir = \"py/p{k}\"\ntests = \"py/p{k}/tests\"\n"))
        .collect();
    let web: String =
        (0..2).map(|k| format!("\n[[wasm]]\npackage = \"lw-web{k}\"\nwww = \"web/w{k}/www\"\n")).collect();
    vec![
        (
            "Cargo.toml".into(),
            format!(
                "[workspace]\nresolver = \"3\"\nmembers = [\n{quoted}]\n\n[workspace.package]\nversion = \"1.0.0\"\n\
                 edition = \"2024\"\nlicense = \"MIT\"\nrepository = \"https://example.invalid/large\"\n"
            ),
        ),
        (
            "ci.toml".into(),
            format!(
                "# A monorepo of a hundred crates.\n{py}{web}\n[test]\ndefault-parts = [\"rust\", \"python\", \"wasm\"]\n\
                 # The Rust tests across four runners: built once, run in four partitions.\nshards = 4\n\n\
                 [[platform]]\nname = \"linux\"\nrunner = \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\n\
                 wheels = [\"x86_64-unknown-linux-gnu\"]\nbuilds = [\"crates\", \"wheels\", \"wasm\"]\n\n\
                 [store]\ndefault = \"target/lw-store\"\nweb = \"target/lw-web\"\n"
            ),
        ),
        (".gitignore".into(), "/target\n".into()),
        ("README.md".into(), "# large\n\nA hundred crates.\n".into()),
    ]
}
