//! The harness of the engine's tests and of an xtask's integration tests (`xtask_engine::testkit`): scratch
//! directories and repositories, free ports, servers stopped when dropped, an HTTP server whose replies a test
//! writes, TCP proxies that record or cut what passes, and a throwaway wheel. Not part of the engine's API.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

/// A fresh, empty directory under the system's temporary directory, unique to this process and call.
pub fn temp_dir(name: &str) -> Utf8PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server a test started, stopped when dropped.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on 127.0.0.1:`port` (a server the test started; 30 s at most).
pub fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TCP proxy to `target` that forwards the first `good` connections and cuts every later one at once: a
/// server that fails mid-way.
pub struct FlakyProxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl FlakyProxy {
    pub fn start(target: u16, good: usize) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        n += 1;
                        if n > good {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        }
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        let (mut c, mut s) = (client, server);
                        std::thread::spawn(move || pipe(&mut c, &mut s));
                        std::thread::spawn(move || pipe(&mut s2, &mut c2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FlakyProxy { port, stop }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A TCP proxy to `target` that records what clients sent: every HTTP request, as its request line and the
/// bytes after it (headers and body) up to the next request.
pub struct RecordingProxy {
    pub port: u16,
    sent: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl RecordingProxy {
    pub fn start(target: u16) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(std::sync::Mutex::new(Vec::new())));
        let (flag, log) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c, mut s, log) = (client, server, log.clone());
                let index = {
                    let mut l = log.lock().unwrap();
                    l.push(Vec::new());
                    l.len() - 1
                };
                std::thread::spawn(move || tap(&mut c, &mut s, &log, index));
                std::thread::spawn(move || pipe(&mut s2, &mut c2));
            }
        });
        RecordingProxy { port, sent, stop }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request sent so far: (request line, the text after it up to the next request).
    pub fn requests(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for bytes in self.sent.lock().unwrap().iter() {
            let text = String::from_utf8_lossy(bytes);
            let starts: Vec<usize> = text
                .match_indices("\r\n")
                .map(|(i, _)| i + 2)
                .chain([0])
                .filter(|&i| {
                    ["GET /", "POST /", "PUT /", "PATCH /", "DELETE /"].iter().any(|m| text[i..].starts_with(m))
                })
                .collect();
            let mut starts = starts;
            starts.sort();
            for (n, &i) in starts.iter().enumerate() {
                let end = starts.get(n + 1).copied().unwrap_or(text.len());
                let (line, rest) = text[i..end].split_once("\r\n").unwrap_or((&text[i..end], ""));
                out.push((line.to_owned(), rest.to_owned()));
            }
        }
        out
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// [`pipe`], keeping a copy of what passed as connection `index` of `log` (before it is forwarded: what a
/// server answered was sent, and is on record).
fn tap(from: &mut TcpStream, to: &mut TcpStream, log: &std::sync::Mutex<Vec<Vec<u8>>>, index: usize) {
    let mut buf = [0u8; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        log.lock().unwrap()[index].extend_from_slice(&buf[..n]);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn pipe(from: &mut TcpStream, to: &mut TcpStream) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Writes a minimal pure-Python wheel of `dist` `version` (import name: `dist` with `_`) whose package has
/// `VALUE = value`.
pub fn make_wheel(path: &Utf8Path, dist: &str, version: &str, value: u32) {
    let module = dist.replace('-', "_");
    let script = r#"import sys, zipfile
path, dist, module, version, value = sys.argv[1:]
info = f"{module}-{version}.dist-info"
with zipfile.ZipFile(path, "w") as z:
    z.writestr(f"{module}/__init__.py", f"VALUE = {value}\n")
    z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr(f"{info}/RECORD", "")
"#;
    let sh = Shell::new().unwrap();
    let value = value.to_string();
    xshell::cmd!(sh, "python3 -c {script} {path} {dist} {module} {version} {value}").quiet().run().unwrap();
}

/// Writes a minimal source distribution of `dist` `version` (`{dist with _}-{version}/PKG-INFO` and a
/// pyproject.toml), as a `.tar.gz`.
pub fn make_sdist(path: &Utf8Path, dist: &str, version: &str) {
    let script = r#"import io, sys, tarfile
path, dist, version = sys.argv[1:]
top = f"{dist.replace('-', '_')}-{version}"
files = {
    "PKG-INFO": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
    "pyproject.toml": f"[project]\nname = \"{dist}\"\nversion = \"{version}\"\n",
}
with tarfile.open(path, "w:gz") as t:
    for name, text in files.items():
        data = text.encode()
        info = tarfile.TarInfo(f"{top}/{name}")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
"#;
    let sh = Shell::new().unwrap();
    xshell::cmd!(sh, "python3 -c {script} {path} {dist} {version}").quiet().run().unwrap();
}

/// One request a [`MockHttp`] received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Received) -> (u16, String) + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 whose replies come from `handler`; it records every request and stops when
/// dropped. For the endpoints of GitHub, registries and indexes that the tests stand in for.
pub struct MockHttp {
    pub port: u16,
    pub received: Arc<std::sync::Mutex<Vec<Received>>>,
    /// Every connection accepted, whether or not a whole request came over it.
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl MockHttp {
    pub fn start(handler: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static) -> MockHttp {
        MockHttp::start_on(0, handler)
    }

    /// On `port` (0: any free one), for replies that name the server's own address.
    pub fn start_on(port: u16, handler: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static) -> MockHttp {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (log, flag, accepted) = (received.clone(), stop.clone(), connections.clone());
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        stream.set_nonblocking(false).unwrap();
                        let (log, handler) = (log.clone(), handler.clone());
                        std::thread::spawn(move || serve_one(stream, &log, &*handler));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        MockHttp { port, received, connections, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many connections were accepted (a client that connected and sent nothing, or half a request, too).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for MockHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_one(mut stream: TcpStream, log: &std::sync::Mutex<Vec<Received>>, handler: &Handler) {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or_default().to_owned(), first.next().unwrap_or_default().to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "expect" && v.eq_ignore_ascii_case("100-continue")) {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while body.len() < len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let request = Received { method, target, headers, body };
    let (status, reply) = handler(&request);
    log.lock().unwrap().push(request);
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// A scratch directory holding `files` (path, text), parents created.
pub fn scratch(name: &str, files: &[(&str, &str)]) -> Utf8PathBuf {
    let dir = temp_dir(name);
    write_files(&dir, files);
    dir
}

/// Writes `files` (path, text) under `dir`, parents created.
pub fn write_files(dir: &Utf8Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
}

/// Runs `cmd`, which must succeed: its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git ARGS` in `dir` with a fixed identity and no signing, which must succeed: its standard output.
pub fn git(dir: impl AsRef<std::path::Path>, args: &[&str]) -> String {
    run(Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir.as_ref()))
}

/// What a process printed, standard output then standard error.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub const NON_ABI3_VERSION: &str = "0.4.0";
pub const NON_ABI3_INTERPRETERS: &[&str] = &["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.14t"];
pub const NON_ABI3_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
];

fn non_abi3_ci_toml() -> String {
    let quoted = |v: &[&str]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
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
"#,
        interpreters = quoted(NON_ABI3_INTERPRETERS),
        targets = NON_ABI3_TARGETS.iter().map(|t| format!("  \"{t}\"")).collect::<Vec<_>>().join(",\n"),
    )
}

/// The files of a PyO3 project that is not abi3 (ci.toml included): one package `fx-native` listing CPython
/// 3.9-3.14 and 3.14t for manylinux and musllinux on x86_64 and aarch64, with an sdist; its tests need the
/// dependency group `test` (`dirty-equals`); a pure-Rust crate `fx-core` with a doctest; its own ruff rules
/// (single quotes). Its release profile compiles at `opt-level = 0` (the heavy test builds 28 wheels; the bench
/// overrides it). The heavy test and `cargo xtask bench matrix` generate it.
pub fn non_abi3_project(engine: Option<&str>) -> Vec<(&'static str, String)> {
    let pyo3 = "pyo3 = { version = \"0.30.1\", default-features = false, features = [\"macros\"] }";
    let mut files: Vec<(&'static str, String)> = vec![
        ("ci.toml", non_abi3_ci_toml()),
        (
            "Cargo.toml",
            format!(
                "[workspace]\nresolver = \"3\"\nmembers = [\"crates/fx-core\", \"py/native\"]\n\n[workspace.package]\n\
                 version = \"{NON_ABI3_VERSION}\"\nedition = \"2024\"\nlicense = \"MIT\"\n\
                 repository = \"https://example.invalid/fx\"\n\n\
                 # 28 wheels: compile fast (the wheels' code is a few lines).\n[profile.release]\nopt-level = 0\n"
            ),
        ),
        (
            "crates/fx-core/Cargo.toml",
            "[package]\nname = \"fx-core\"\ndescription = \"The arithmetic\"\nversion.workspace = true\n\
             edition.workspace = true\nlicense.workspace = true\nrepository.workspace = true\n"
                .into(),
        ),
        (
            "crates/fx-core/src/lib.rs",
            "//! The arithmetic behind fx-native.\n\n/// Adds two numbers.\n///\n/// ```\n/// assert_eq!(fx_core::add(2, 3), 5);\n\
             /// ```\npub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n"
                .into(),
        ),
        (
            "py/native/Cargo.toml",
            format!(
                "[package]\nname = \"fx-native\"\ndescription = \"Python bindings\"\nversion.workspace = true\n\
                 edition.workspace = true\nlicense.workspace = true\nrepository.workspace = true\npublish = false\n\n\
                 [lib]\nname = \"fx_native\"\ncrate-type = [\"cdylib\"]\ntest = false\ndoctest = false\n\n\
                 [dependencies]\nfx-core = {{ path = \"../../crates/fx-core\" }}\n{pyo3}\n\n\
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
        (
            "py/native/pyproject.toml",
            format!(
                "[build-system]\nrequires = [\"maturin>=1.16,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\n\
                 name = \"fx-native\"\nversion = \"{NON_ABI3_VERSION}\"\ndescription = \"Python bindings\"\n\
                 requires-python = \">=3.9\"\nlicense = \"MIT\"\nreadme = \"README.md\"\n\n[dependency-groups]\ntest = [\"dirty-equals>=0.7\"]\n\n\
                 [tool.maturin]\nfeatures = [\"extension-module\"]\nmodule-name = \"fx_native\"\n\n\
                 [tool.ruff]\nline-length = 100\n\n[tool.ruff.format]\nquote-style = \"single\"\n\n\
                 [tool.ruff.lint]\nselect = [\"E\", \"F\", \"Q\"]\n\n[tool.ruff.lint.flake8-quotes]\n\
                 inline-quotes = \"single\"\n"
            ),
        ),
        (
            "py/native/tests/test_add.py",
            "import sys\n\nimport fx_native\nfrom dirty_equals import IsPositiveInt\n\n\n\
             def test_add() -> None:\n    assert fx_native.add(2, 3) == IsPositiveInt\n    assert fx_native.add(2, 3) == 5\n\n\n\
             def test_version() -> None:\n    assert fx_native.__version__ == '0.4.0', sys.version\n"
                .into(),
        ),
        ("README.md", "# fx\n\nA PyO3 project that is not abi3.\n".into()),
        (".gitignore", "/target\n".into()),
        ("py/native/README.md", "# fx-native\n\nPython bindings of fx-core.\n".into()),
        ("keys/release.pub", "untrusted comment: none\nRWQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".into()),
    ];
    // The adoption, as an adopter does it (an xtask crate of its own depending on the engine, here by path, and
    // the `cargo xtask` alias), where the caller gives the engine's directory.
    if let Some(engine) = engine {
        files.extend([
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
                     {engine}/target/engine-for-fixtures --\"\n"
                ),
            ),
        ]);
    }
    let members = if engine.is_some() { ", \"xtask\"" } else { "" };
    for (path, text) in &mut files {
        if *path == "Cargo.toml" {
            *text = text.replace("\"py/native\"]", &format!("\"py/native\"{members}]"));
        }
    }
    files
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

/// A monorepo of the size this CI was designed for (ci.toml included): [`LARGE_CRATES`] crates in
/// [`LARGE_LEVELS`] levels (crate `i` depends on [`large_deps`]`(i)`), three of them unpublished, each with two
/// real tests (its value, and its dependencies' values); three maturin packages (abi3) and two wasm bundles on
/// top; `[test] shards = 4`. `pyo3` and `wasm_bindgen` are dependency lines (the engine repository's own, so the
/// lock file and the cargo cache have them). The line of one test, `lw_000::tests::flaky`, fails on its first
/// run in a directory and passes on the retry (it leaves a marker file in `CI_FLAKY_DIR`) when that variable
/// is set: what nextest reports as flaky.
pub fn large_workspace(pyo3: &str, wasm_bindgen: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut members: Vec<String> = Vec::new();
    let ident = |i: usize| large_crate(i).replace('-', "_");
    let manifest = |name: &str, publish: bool, deps: &[String]| {
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
    };
    let dep = |i: usize, up: &str| {
        format!("{} = {{ path = \"{up}/{}\", version = \"=1.0.0\" }}", large_crate(i), large_crate(i))
    };
    for i in 0..LARGE_CRATES {
        let name = large_crate(i);
        let deps = large_deps(i);
        members.push(format!("crates/{name}"));
        let lines: Vec<String> = deps.iter().map(|d| dep(*d, "..")).collect();
        files.push((format!("crates/{name}/Cargo.toml"), manifest(&name, !LARGE_UNPUBLISHED.contains(&i), &lines)));
        let sum = deps.iter().map(|d| format!(" + {}::value()", ident(*d))).collect::<String>();
        let below = if deps.is_empty() {
            "0".to_owned()
        } else {
            deps.iter().map(|d| format!("{}::value()", ident(*d))).collect::<Vec<_>>().join(" + ")
        };
        let mut lib = format!(
            "//! `{name}`: one crate of the large workspace.\n\n/// One more than the sum of its dependencies' values.\n\
             pub fn value() -> u64 {{\n    1{sum}\n}}\n\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn is_positive() {{\n        \
             assert!(super::value() >= 1);\n    }}\n\n    #[test]\n    fn exceeds_its_dependencies() {{\n        \
             assert!(super::value() > {});\n    }}\n",
            below
        );
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
        files.push((format!("crates/{name}/src/lib.rs"), lib));
    }
    let tops = large_tops();
    for (k, uses) in tops[..3].iter().map(|t| t.1).enumerate() {
        let dir = format!("py/p{k}");
        let module = format!("lw_py{k}");
        members.push(dir.clone());
        let mut m = manifest(&format!("lw-py{k}"), false, &[dep(uses, "../../crates"), pyo3.to_owned()]);
        m.push_str(&format!(
            "\n[lib]\nname = \"{module}\"\ncrate-type = [\"cdylib\"]\ntest = false\ndoctest = false\n\n\
             [features]\nextension-module = [\"pyo3/extension-module\"]\n"
        ));
        files.push((format!("{dir}/Cargo.toml"), m));
        files.push((
            format!("{dir}/pyproject.toml"),
            format!(
                "[build-system]\nrequires = [\"maturin>=1.16,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\n\
                 name = \"lw-py{k}\"\nreadme = \"README.md\"\nrequires-python = \">=3.9\"\ndynamic = [\"version\"]\n\n\
                 [tool.maturin]\nfeatures = [\"extension-module\"]\n\n[tool.maturin.sbom]\nrust = false\n"
            ),
        ));
        files.push((format!("{dir}/README.md"), format!("# lw-py{k}\n\nThe value of {}.\n", large_crate(uses))));
        files.push((
            format!("{dir}/src/lib.rs"),
            format!(
                "//! The `{module}` module.\n\nuse pyo3::prelude::*;\n\n#[pyfunction]\nfn value() -> u64 {{\n    {}::value()\n}}\n\n\
                 #[pymodule]\nfn {module}(m: &Bound<'_, PyModule>) -> PyResult<()> {{\n    \
                 m.add_function(wrap_pyfunction!(value, m)?)\n}}\n",
                ident(uses)
            ),
        ));
        files.push((
            format!("{dir}/tests/test_{module}.py"),
            format!("import {module}\n\n\ndef test_value():\n    assert {module}.value() >= 1\n"),
        ));
    }
    for (k, uses) in tops[3..].iter().map(|t| t.1).enumerate() {
        let dir = format!("web/w{k}");
        members.push(dir.clone());
        let mut m = manifest(&format!("lw-web{k}"), false, &[dep(uses, "../../crates"), wasm_bindgen.to_owned()]);
        m.push_str("\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n");
        files.push((format!("{dir}/Cargo.toml"), m));
        files.push((
            format!("{dir}/src/lib.rs"),
            format!(
                "//! A page of the large workspace.\n\nuse wasm_bindgen::prelude::*;\n\n/// Its crate's value.\n\
                 #[wasm_bindgen]\npub fn value() -> u32 {{\n    {}::value() as u32\n}}\n",
                ident(uses)
            ),
        ));
        files.push((format!("{dir}/www/index.html"), "<!doctype html>\n<p>large</p>\n".into()));
    }
    let quoted = |v: &[String]| v.iter().map(|m| format!("  \"{m}\",\n")).collect::<String>();
    files.push((
        "Cargo.toml".into(),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\n{}]\n\n[workspace.package]\nversion = \"1.0.0\"\n\
             edition = \"2024\"\nlicense = \"MIT\"\nrepository = \"https://example.invalid/large\"\n",
            quoted(&members)
        ),
    ));
    let py = (0..3)
        .map(|k| format!("\n[[python]]\ndist = \"lw-py{k}\"\nmodule = \"lw_py{k}\"\ndir = \"py/p{k}\"\ntests = \"py/p{k}/tests\"\n"))
        .collect::<String>();
    let web =
        (0..2).map(|k| format!("\n[[wasm]]\npackage = \"lw-web{k}\"\nwww = \"web/w{k}/www\"\n")).collect::<String>();
    files.push((
        "ci.toml".into(),
        format!(
            "# A monorepo of a hundred crates.\n{py}{web}\n[test]\ndefault-parts = [\"rust\", \"python\", \"wasm\"]\n\
             # The Rust tests across four runners: built once, run in four partitions.\nshards = 4\n\n\
             [[platform]]\nname = \"linux\"\nrunner = \"ubuntu-24.04\"\ntarget = \"x86_64-unknown-linux-gnu\"\n\
             wheels = [\"x86_64-unknown-linux-gnu\"]\nbuilds = [\"crates\", \"wheels\", \"wasm\"]\n\n\
             [store]\ndefault = \"target/lw-store\"\nweb = \"target/lw-web\"\n"
        ),
    ));
    files.push((".gitignore".into(), "/target\n".into()));
    files.push(("README.md".into(), "# large\n\nA hundred crates.\n".into()));
    files
}
