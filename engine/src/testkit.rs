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

/// A reply: the status, headers beyond the usual ones, the body.
pub type Reply = (u16, Vec<(String, String)>, String);

type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

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
        MockHttp::start_replying(port, move |r| {
            let (status, body) = handler(r);
            (status, Vec::new(), body)
        })
    }

    /// On `port` (0: any free one), with replies that may carry headers of their own (`Retry-After`).
    pub fn start_replying(port: u16, handler: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> MockHttp {
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
    let (status, extra, reply) = handler(&request);
    log.lock().unwrap().push(request);
    let extra: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{reply}",
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

/// The last `n` lines of what a process printed (where a job prints its summary and its error).
pub fn tail(out: &Output, n: usize) -> String {
    let t = text(out);
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Keeps what a command a heavy test ran printed in a file of `dir` and prints one line for it: its name, exit
/// status and that file. A test's failure message then comes first in its output, not after thousands of lines of
/// commands that went well (a CI log that keeps only a log's head and tail lost it there).
pub fn keep_output(dir: &std::path::Path, label: &str, out: &Output) -> std::path::PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let _ = std::fs::create_dir_all(dir);
    let name: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(60).collect();
    let file = dir.join(format!("{}-{:03}-{name}.log", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::write(&file, text(out));
    eprintln!("--- {label}: {}; its output: {}", out.status, file.display());
    file
}

mod registry;
mod shapes;
pub use registry::*;
pub use shapes::*;

/// Writes `files` (path, text) into a fresh `dir`, copies `lock` beside them as its Cargo.lock (pruned by cargo
/// offline: every dependency must be one that lock file's repository uses), and commits it all on `branch`.
pub fn commit_repository<P: AsRef<str>>(
    dir: &std::path::Path,
    files: &[(P, String)],
    lock: &std::path::Path,
    branch: &str,
) {
    let _ = std::fs::remove_dir_all(dir);
    for (path, text) in files {
        let p = dir.join(path.as_ref());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
    run(Command::new("cargo").args(["metadata", "--offline", "--format-version", "1"]).current_dir(dir));
    git(dir, &["init", "-q", "-b", branch]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "a generated repository"]);
}
