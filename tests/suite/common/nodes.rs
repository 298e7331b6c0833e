//! Egress as separate processes (the `egress` binary), for stories about many nodes and
//! crashes. Each process is stopped by its PID when its `Node` is dropped.
//!
//! With `EGRESS_TEST_IMAGE` set (`scripts/image-check.sh`), each node is a container of
//! that image instead, on the host's network and process namespace, so the same stories
//! check the image as a deployment runs it: SIGTERM reaches Egress through `docker run`
//! (which passes signals on), and a kill is `docker kill`.

use super::{free_port, services};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Node {
    /// `http://127.0.0.1:<port>` for `serve`; empty for `worker`.
    pub base: String,
    child: Child,
    /// The container's name, when the node is one.
    container: Option<String>,
    /// The process's log, shown when a test fails.
    log: tempfile::NamedTempFile,
}

/// The S3 and SMTP settings for the test services, as command-line flags.
pub fn service_flags() -> Vec<String> {
    let s = services();
    [
        "--storage",
        &s.storage_url(),
        "--s3-access-key",
        &s.s3_access_key,
        "--s3-secret-key",
        &s.s3_secret_key,
        "--smtp-url",
        &s.smtp_url,
    ]
    .map(String::from)
    .to_vec()
}

fn image() -> Option<String> {
    std::env::var("EGRESS_TEST_IMAGE").ok().filter(|i| !i.is_empty())
}

fn spawn(
    database_url: &str,
    data: &Path,
    command: &[&str],
    flags: &[String],
) -> (Child, Option<String>, tempfile::NamedTempFile) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let (mut process, container) = match image() {
        None => (Command::new(env!("CARGO_BIN_EXE_egress")), None),
        Some(image) => {
            use std::os::unix::fs::PermissionsExt;
            let open_to_all = |path: &Path, mode: u32| {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
            };
            // The image's unprivileged user makes its keys in the data folder, and writes
            // the SQLite database (and its -wal and -shm files) the test made.
            let mut folders = vec![data.to_path_buf()];
            if let Some(file) = database_url.strip_prefix("sqlite://") {
                let folder = Path::new(file.split('?').next().unwrap()).parent().unwrap();
                for entry in std::fs::read_dir(folder).unwrap() {
                    open_to_all(&entry.unwrap().path(), 0o666);
                }
                folders.push(folder.to_path_buf());
            }
            let name = format!("egress-test-{}", uuid::Uuid::new_v4().simple());
            let mut docker = Command::new("docker");
            docker.args(["run", "--rm", "--name", &name, "--network", "host", "--pid", "host"]);
            for folder in folders {
                open_to_all(&folder, 0o777);
                docker.arg("-v").arg(format!("{0}:{0}", folder.display()));
            }
            docker.arg(image);
            (docker, Some(name))
        }
    };
    let child = process
        .args(["--database-url", database_url, "--data-dir"])
        .arg(data)
        .args(["--log", "info"])
        .args(command)
        .args(flags)
        .stdout(Stdio::from(log.reopen().unwrap()))
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .expect("the egress binary starts");
    (child, container, log)
}

impl Node {
    /// `egress serve` (web and worker) on a free port, ready to answer.
    pub async fn serve(database_url: &str, data: &Path, flags: &[String]) -> Node {
        let listen = format!("127.0.0.1:{}", free_port());
        // Without the demo, unless the test asks for it.
        let demo: &[&str] = if flags.iter().any(|f| f == "--demo") {
            &[]
        } else {
            &["--demo", "off"]
        };
        let command: Vec<&str> = ["serve", "--listen", &listen]
            .into_iter()
            .chain(demo.iter().copied())
            .collect();
        let (child, container, log) = spawn(database_url, data, &command, flags);
        let node = Node {
            base: format!("http://{listen}"),
            child,
            container,
            log,
        };
        let started = Instant::now();
        while reqwest::get(node.url("/healthz")).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "egress serve did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        node
    }

    /// `egress worker`: exports and cleanup, no web server.
    pub fn worker(database_url: &str, data: &Path, flags: &[String]) -> Node {
        let (child, container, log) = spawn(database_url, data, &["worker"], flags);
        Node {
            base: String::new(),
            child,
            container,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the process has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Egress's process id (in a container: on the host, as it shares its pid namespace).
    pub fn pid(&self) -> u32 {
        let Some(name) = &self.container else {
            return self.child.id();
        };
        let started = Instant::now();
        loop {
            let out = Command::new("docker")
                .args(["inspect", "--format", "{{.State.Pid}}", name])
                .output()
                .unwrap();
            match String::from_utf8_lossy(&out.stdout).trim().parse::<u32>() {
                Ok(pid) if pid > 0 => return pid,
                _ => assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "container {name} did not start"
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Asks the process to stop (SIGTERM), as a deployment does.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// Waits for the process to exit by itself.
    pub fn wait_for_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < within, "egress did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ends the process at once (SIGKILL), as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        if let Some(name) = &self.container {
            let _ = Command::new("docker")
                .args(["kill", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of egress (pid {}):", self.child.id());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
