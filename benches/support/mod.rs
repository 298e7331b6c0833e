//! What both benchmarks need: where Postgres and the test S3 server are (from
//! `scripts/bench.sh`), and what `/proc` says about a process's memory and CPU.
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

/// From a `/proc/<pid>/stat`: user plus system CPU seconds (in clock ticks of 1/100 s),
/// with `children` also those of the children it has reaped; `None` if unreadable.
pub fn stat_cpu(stat: &str, children: bool) -> Option<f64> {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let reaped: &[usize] = if children { &[13, 14] } else { &[] };
    let ticks: u64 = [11, 12]
        .iter()
        .chain(reaped)
        .map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some(ticks as f64 / 100.0)
}

/// CPU seconds of every process named `name` so far, with the children they reaped: the
/// Postgres server's backends, live or ended (the postmaster reaps them), or s3s-fs.
pub fn cpu_of(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let command = format!("({name})");
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.split(' ').nth(1) == Some(command.as_str()))
        .filter_map(|stat| stat_cpu(&stat, true))
        .sum()
}
