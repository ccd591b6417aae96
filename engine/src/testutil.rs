//! Helpers for tests that need a real server: free ports, a GCS-API server on 127.0.0.1 (stopped by pid when
//! dropped), a fault-injecting TCP proxy, temporary directories and a test `Ctx`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::Ctx;
use crate::ctx::Global;
use crate::tools::Tools;

pub(crate) fn temp_dir(name: &str) -> Utf8PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A context rooted at `root`, with the repository's tools directory.
pub(crate) fn ctx(root: &Utf8Path) -> Ctx {
    let sh = Shell::new().unwrap();
    sh.change_dir(root);
    Ctx {
        root: root.to_owned(),
        settings: crate::settings::this_repository(),
        sh,
        tools: Tools::new(&crate::project_root(), false),
        global: Global { dry_run: false, json: false, keep_going: false, offline: false, jobs: 4 },
        job: "test",
    }
}

/// The settings of a repository that is not this one (another package, bundle, platform and exclusion), built
/// in-process: a plan built with them must name none of this repository's facts.
pub(crate) fn other_repository() -> &'static crate::settings::Loaded {
    const TEXT: &str = r#"
[[python]]
dist = "fx-one"
module = "fx_one"
dir = "py/one"
tests = "py/one/tests"

[[wasm]]
package = "fx-web"
www = "web/www"

[test]
default-parts = ["rust", "python"]
exclude = ["fx-internal"]

[[platform]]
name = "gnu"
runner = "ubuntu-24.04"
target = "x86_64-unknown-linux-gnu"
wheels = ["x86_64-unknown-linux-gnu"]
builds = ["crates", "wheels", "wasm"]
"#;
    static LOADED: std::sync::OnceLock<crate::settings::Loaded> = std::sync::OnceLock::new();
    LOADED.get_or_init(|| crate::settings::Loaded {
        path: "/other/ci.toml".into(),
        source: Some(TEXT.into()),
        settings: crate::settings::parse(TEXT).unwrap(),
    })
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server a test started, stopped when dropped.
pub(crate) struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on 127.0.0.1:`port` (a server the test started; 30 s at most).
pub(crate) fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// fake-gcs-server on 127.0.0.1 with one bucket (the store's own local server, stopped when dropped).
pub(crate) use crate::store::local::LocalGcs as GcsServer;

impl GcsServer {
    /// In memory.
    pub(crate) fn start_in_memory(bucket: &str) -> GcsServer {
        let tools = Tools::new(&crate::project_root(), false);
        GcsServer::start(&tools, bucket, None).expect("starting fake-gcs-server")
    }

    /// Backed by a directory: like a real deployment's disk, it cannot keep object names that end in `/`.
    pub(crate) fn start_on_disk(bucket: &str, dir: &Utf8Path) -> GcsServer {
        let tools = Tools::new(&crate::project_root(), false);
        GcsServer::start(&tools, bucket, Some(dir)).expect("starting fake-gcs-server")
    }
}

/// A TCP proxy to `target` that forwards the first `good` connections and cuts every later one at once: a
/// server that fails mid-way.
pub(crate) struct FlakyProxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl FlakyProxy {
    pub(crate) fn start(target: u16, good: usize) -> FlakyProxy {
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

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A TCP proxy to `target` that records what clients sent: every HTTP request, as its request line and the
/// bytes after it (headers and body) up to the next request.
pub(crate) struct RecordingProxy {
    pub port: u16,
    sent: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl RecordingProxy {
    pub(crate) fn start(target: u16) -> RecordingProxy {
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

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request sent so far: (request line, the text after it up to the next request).
    pub(crate) fn requests(&self) -> Vec<(String, String)> {
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
pub(crate) fn make_wheel(path: &Utf8Path, dist: &str, version: &str, value: u32) {
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

/// One request a [`MockHttp`] received.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Received) -> (u16, String) + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 whose replies come from `handler`; it records every request and stops when
/// dropped. For the endpoints of GitHub, registries and indexes that the tests stand in for.
pub(crate) struct MockHttp {
    pub port: u16,
    pub received: Arc<std::sync::Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl MockHttp {
    pub(crate) fn start(handler: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static) -> MockHttp {
        MockHttp::start_on(0, handler)
    }

    /// On `port` (0: any free one), for replies that name the server's own address.
    pub(crate) fn start_on(
        port: u16,
        handler: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static,
    ) -> MockHttp {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, flag) = (received.clone(), stop.clone());
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let (log, handler) = (log.clone(), handler.clone());
                        std::thread::spawn(move || serve_one(stream, &log, &*handler));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        MockHttp { port, received, stop }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
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
pub(crate) fn scratch(name: &str, files: &[(&str, &str)]) -> Utf8PathBuf {
    let dir = temp_dir(name);
    write_files(&dir, files);
    dir
}

/// Writes `files` (path, text) under `dir`, parents created.
pub(crate) fn write_files(dir: &Utf8Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
}

/// Runs a planned step's command in `dir` (a scratch workspace), `program` standing for its program when given
/// (a provisioned tool's path): whether it succeeded, and everything it printed.
pub(crate) fn run_step_in(step: &crate::plan::Step, dir: &Utf8Path, program: Option<&Utf8Path>) -> (bool, String) {
    let crate::plan::Action::Run { program: p, args } = &step.action else { panic!("{} copies files", step.name) };
    let mut cmd = Command::new(program.map_or(p.as_str(), Utf8Path::as_str));
    cmd.args(args).current_dir(dir.join(step.dir.as_deref().unwrap_or(".")));
    for (k, v) in &step.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running {}: {e}", step.name));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}
