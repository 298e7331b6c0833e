//! An independent reader of exported Parquet files: Apache Arrow's `pyarrow` (which
//! `make test` installs), run as a separate program. It answers the schema as Arrow sees
//! it, the number of row groups, and every row with its values in plain JSON: decimals as
//! text, times in ISO 8601, UUIDs in their usual form, lists as arrays.

use serde_json::Value;

const READ: &str = r#"
import datetime, decimal, json, sys, uuid
import pyarrow.parquet as pq

def plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return str(uuid.UUID(bytes=bytes(v))) if len(v) == 16 else v.hex()
    if isinstance(v, list):
        return [plain(x) for x in v]
    return str(v)

file = pq.ParquetFile(sys.argv[1])
table = file.read()
print(json.dumps({
    "schema": [[f.name, str(f.type)] for f in table.schema],
    "row_groups": file.num_row_groups,
    "rows": [[plain(v) for v in row.values()] for row in table.to_pylist()],
}))
"#;

pub struct Read {
    /// Each column's name and Arrow type (`int64`, `decimal128(18, 3)`, …).
    pub schema: Vec<(String, String)>,
    pub row_groups: u64,
    pub rows: Vec<Vec<Value>>,
}

/// What pyarrow reads in `bytes`.
pub fn read(bytes: &[u8]) -> Read {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.parquet");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", READ])
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pyarrow could not read the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    Read {
        schema: read["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f[0].as_str().unwrap().to_owned(), f[1].as_str().unwrap().to_owned()))
            .collect(),
        row_groups: read["row_groups"].as_u64().unwrap(),
        rows: read["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().clone())
            .collect(),
    }
}

/// A decimal's text without its trailing zeros (`12.500` and `12.50` are both `12.5`).
pub fn decimal(text: &str) -> String {
    match text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => text.to_owned(),
    }
}
