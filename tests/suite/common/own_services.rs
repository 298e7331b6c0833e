//! Services a test owns, so it can stop and restart them: a Postgres cluster of its own
//! (the machine's shared one must not be restarted) and an s3s-fs server of its own.
//! Both are started and stopped by this process only.

use super::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// A Postgres cluster in a temporary folder, on its own port.
pub struct OwnPostgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

/// Postgres refuses to run as root, so as root the server runs as the `postgres` user.
fn as_server_user(program: &Path) -> Command {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    // Somewhere the server user may be (the checkout may be private to root).
    command.current_dir("/");
    command
}

impl OwnPostgres {
    pub fn start() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("Postgres server binaries in /usr/lib/postgresql")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("pg_ctl").exists())
            .max()
            .expect("pg_ctl");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        // The server user must own its folder and reach it.
        let _ = Command::new("chmod").arg("755").arg(dir.path()).status();
        let _ = Command::new("chown").arg("postgres").arg(&data).status();
        let status = as_server_user(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        let cluster = OwnPostgres {
            _dir: dir,
            data,
            bin,
            port: free_port(),
        };
        cluster.pg_ctl("start");
        cluster
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let status = as_server_user(&self.bin.join("pg_ctl"))
            .args([action, "-w", "-m", "fast", "-l"])
            .arg(self.data.join("server.log"))
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {action}");
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (every connection drops) and starts it again.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .status();
    }
}

/// An s3s-fs server on its own port and folder, with the test credentials.
pub struct OwnS3 {
    pub root: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

pub const BUCKET: &str = "egress-own";
const KEYS: [&str; 2] = ["own-test-key", "own-test-secret"];

impl OwnS3 {
    pub fn start() -> OwnS3 {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let mut s3 = OwnS3 {
            root,
            port: free_port(),
            child: None,
        };
        s3.resume();
        s3
    }

    /// Starts the server again on the same port and folder.
    pub fn resume(&mut self) {
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", KEYS[0], "--secret-key", KEYS[1]])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs on PATH (scripts/bootstrap.sh installs it)");
        self.child = Some(child);
        let started = Instant::now();
        while !port_open(self.port) {
            assert!(started.elapsed() < Duration::from_secs(10), "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server: requests are refused until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn flags(&self) -> Vec<String> {
        [
            "--storage",
            &format!("s3://{BUCKET}?endpoint=http://127.0.0.1:{}&region=us-east-1", self.port),
            "--s3-access-key",
            KEYS[0],
            "--s3-secret-key",
            KEYS[1],
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn storage(&self) -> egress::storage::S3Storage {
        egress::storage::S3Storage::from_url(&self.flags()[1], Some(KEYS[0].to_owned()), Some(KEYS[1].to_owned()))
            .unwrap()
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        self.stop();
    }
}
