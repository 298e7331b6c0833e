//! What both benchmarks need: where Postgres and the test S3 server are (from
//! `scripts/bench.sh`), and what `/proc` says about a process's memory.
#![allow(dead_code)]

use anyhow::Context;

/// The Postgres the bench makes its databases on.
pub fn admin_url() -> String {
    std::env::var("EGRESS_BENCH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `admin` with its database replaced by `name`.
pub fn database_url(admin: &str, name: &str) -> anyhow::Result<String> {
    let slash = admin.rfind('/').context("a database URL ends in /<database>")?;
    Ok(format!("{}/{name}", &admin[..slash]))
}

/// The s3s-fs that `scripts/services.sh` started.
pub struct S3 {
    pub url: String,
    pub access_key: String,
    pub secret_key: String,
}

impl S3 {
    pub fn from_env() -> anyhow::Result<S3> {
        let env = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set: run `make bench`"));
        Ok(S3 {
            url: format!(
                "s3://{}?endpoint={}&region=us-east-1",
                env("EGRESS_TEST_S3_BUCKET")?,
                env("EGRESS_TEST_S3_ENDPOINT")?
            ),
            access_key: env("EGRESS_TEST_S3_ACCESS_KEY")?,
            secret_key: env("EGRESS_TEST_S3_SECRET_KEY")?,
        })
    }

    /// The `egress` flags that point at it.
    pub fn flags(&self) -> [&str; 6] {
        [
            "--storage",
            &self.url,
            "--s3-access-key",
            &self.access_key,
            "--s3-secret-key",
            &self.secret_key,
        ]
    }
}

/// A memory figure of a process from `/proc/<pid>/status`, in KiB: `VmRSS` (now) or
/// `VmHWM` (the highest so far).
pub fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))
        .with_context(|| format!("{field} in /proc/{pid}/status"))?;
    Ok(line.split_whitespace().nth(1).context("a number")?.parse()?)
}
