//! A real spreadsheet engine as the judge of exported files: LibreOffice Calc, headless
//! (Debian's `libreoffice-calc-nogui`, which `make test` installs). A file is opened as a
//! person would open it — a CSV with a given separator and formulas evaluated, or an
//! XLSX — and saved as flat ODF XML, where a formula cell shows as `table:formula`.

use std::path::Path;
use std::process::Command;

#[derive(Clone, Copy, Debug)]
pub enum Open {
    /// A CSV read with this separator (`,`, `;` or tab), formulas evaluated.
    Csv(char),
    Xlsx,
}

/// The document Calc makes of `bytes`, as flat ODF XML.
pub fn libreoffice(bytes: &[u8], open: Open) -> String {
    convert(bytes, open, "fods", "fods")
}

/// The first sheet as Calc shows it, saved as CSV (UTF-8, `,`, `"`): the values a person
/// sees in each cell.
pub fn libreoffice_csv(bytes: &[u8], open: Open) -> String {
    convert(bytes, open, "csv:Text - txt - csv (StarCalc):44,34,76,1", "csv")
}

fn convert(bytes: &[u8], open: Open, to: &str, extension: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (name, filter) = match open {
        // Tokens: separator, quote ("), UTF-8, from line 1, no column formats, language,
        // quoted as text off, special numbers off, (export-only x3), sheet, evaluate formulas.
        Open::Csv(separator) => (
            "export.csv",
            Some(format!(
                "Text - txt - csv (StarCalc):{},34,76,1,,0,false,false,false,false,false,-1,true",
                separator as u32
            )),
        ),
        Open::Xlsx => ("export.xlsx", None),
    };
    let file = dir.path().join(name);
    std::fs::write(&file, bytes).unwrap();
    let profile = format!("-env:UserInstallation=file://{}", dir.path().join("profile").display());
    let mut command = Command::new(soffice());
    command.args(["--headless", "--norestore", &profile]);
    if let Some(filter) = &filter {
        command.arg(format!("--infilter={filter}"));
    }
    let out = dir.path().join("out");
    let status = command
        .args(["--convert-to", to, "--outdir"])
        .arg(&out)
        .arg(&file)
        .output()
        .expect("soffice runs");
    let converted = out.join(Path::new(name).with_extension(extension));
    std::fs::read_to_string(&converted).unwrap_or_else(|e| {
        panic!(
            "LibreOffice did not convert {name} ({e}): {}",
            String::from_utf8_lossy(&status.stderr)
        )
    })
}

fn soffice() -> &'static str {
    for candidate in ["soffice", "libreoffice"] {
        if Command::new(candidate).arg("--version").output().is_ok() {
            return candidate;
        }
    }
    panic!("LibreOffice is not installed: `make test` installs Debian's libreoffice-calc-nogui")
}

/// The formulas of a flat ODF document (empty for a safe file).
pub fn formulas(fods: &str) -> Vec<String> {
    fods.split("table:formula=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

/// The text of every cell paragraph, unescaped enough to search in.
pub fn cell_texts(fods: &str) -> Vec<String> {
    fods.split("<text:p>")
        .skip(1)
        .map(|rest| {
            rest.split("</text:p>")
                .next()
                .unwrap_or_default()
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}
