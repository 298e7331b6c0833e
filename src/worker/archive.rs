//! "All my data": one zip of every dataset the requester may see, each in the chosen
//! format, then `README.md` (a data dictionary from the catalog: each dataset's columns,
//! kinds and meanings, with the rows it holds) and `manifest.json` (each file's rows,
//! bytes and SHA-256). Two scopes: the whole workspace (admins), or one person's own
//! records — the datasets that declare a `subject` column, limited to the rows whose
//! subject is the requester's email.
//!
//! It is an ordinary export job (dataset `@archive`) and goes through the same pipeline:
//! the reader reads the datasets one after another, each in its own snapshot, and marks
//! where each begins (`RowBatch::Next`); the encoder thread writes each into its zip entry
//! as the rows come, through the zip crate's streaming writer (data descriptors instead of
//! seeking back), so memory stays bounded whatever the sizes. Progress counts rows across
//! all datasets, against the sum of their counts taken first.

use crate::accounts::Role;
use crate::catalog::{Catalog, Dataset, Filters, filters};
use crate::formats::{self, EncodeOptions, FileColumns, Format};
use crate::source::{IncrementState, RowBatch, RowSink, Source, SourceError, SourceResult};
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

pub const README: &str = "README.md";
pub const MANIFEST: &str = "manifest.json";

/// One dataset of an archive.
pub struct Part {
    pub dataset: Arc<Dataset>,
    pub filters: Filters,
    pub columns: FileColumns,
    /// Its file in the zip (`contacts.csv`).
    pub entry: String,
}

/// The datasets an archive holds for someone of `role`: every one they may see; for a
/// personal archive (`subject`: their email), those that declare a subject column, each
/// limited to that person's rows.
pub fn parts(catalog: &Catalog, role: Role, subject: Option<&str>, format: Format) -> Vec<Part> {
    catalog
        .visible_to(role)
        .filter(|d| subject.is_none() || d.subject.is_some())
        .map(|d| {
            let mut values = crate::catalog::FilterValues::new();
            if let Some(email) = subject {
                values.insert(filters::SUBJECT.to_owned(), email.to_owned());
            }
            Part {
                dataset: d.clone(),
                filters: Filters(values),
                columns: formats::file_columns(d, None),
                entry: format!("{}.{}", d.id, format.extension()),
            }
        })
        .collect()
}

/// Reads the parts one after another into `sink`: first the sum of their counts, then
/// each part's rows after a `Next`. A part whose rows do not agree with its own count
/// (taken in the same snapshot) fails the read.
pub fn spawn_reader(
    source: Source,
    tenant: String,
    parts: Arc<[Part]>,
    batch: usize,
    sink: RowSink,
) -> tokio::task::JoinHandle<SourceResult<Option<IncrementState>>> {
    tokio::spawn(async move {
        let mut total = 0;
        for part in parts.iter() {
            total += source.count(&part.dataset, &tenant, &part.filters).await?;
        }
        let _ = sink.total.send(total);
        for part in parts.iter() {
            if sink.rows.send(RowBatch::Next).await.is_err() {
                return Ok(None);
            }
            let (part_sink, mut rows, counted) = RowSink::new(4);
            let read = {
                let (source, dataset, tenant, filters) = (
                    source.clone(),
                    part.dataset.clone(),
                    tenant.clone(),
                    part.filters.clone(),
                );
                tokio::spawn(async move {
                    source
                        .export_rows(dataset, &tenant, &filters, None, batch, part_sink)
                        .await
                })
            };
            let mut sent = 0i64;
            while let Some(rows) = rows.recv().await {
                sent += rows.rows() as i64;
                if sink.rows.send(rows).await.is_err() {
                    read.abort();
                    return Ok(None);
                }
            }
            read.await
                .map_err(|e| SourceError::Inconsistent(format!("reading {} stopped: {e}", part.dataset.id)))??;
            if let Ok(count) = counted.await
                && count != sent
            {
                return Err(SourceError::Inconsistent(format!(
                    "{}: counted {count} rows but read {sent}",
                    part.dataset.id
                )));
            }
        }
        Ok(None)
    })
}

/// What the README says about the archive as a whole.
pub struct About {
    pub title: String,
    pub export_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The zip's writer, shared by the entry being written.
type Zip<W> = Arc<Mutex<zip::ZipWriter<zip::write::StreamWriter<W>>>>;

/// The bytes of the entry being written, counted and hashed.
#[derive(Default)]
struct Tally {
    bytes: u64,
    hash: Sha256,
}

/// The current entry: the encoder writes here.
struct Entry<W: Write + Send + 'static> {
    zip: Zip<W>,
    tally: Arc<Mutex<Tally>>,
}

impl<W: Write + Send + 'static> Write for Entry<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self
            .zip
            .lock()
            .map_err(|_| io::Error::other("zip poisoned"))?
            .write(data)?;
        let mut tally = self.tally.lock().map_err(|_| io::Error::other("tally poisoned"))?;
        tally.bytes += n as u64;
        tally.hash.update(&data[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> formats::Output for Entry<W> {
    fn close(self: Box<Self>) -> io::Result<()> {
        Ok(()) // the entry ends when the next one starts, or the zip ends
    }
}

/// What one part's file came to.
struct Written {
    rows: u64,
    bytes: u64,
    sha256: String,
}

fn zip_error(e: zip::result::ZipError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes the archive into `out` from the reader's batches; the text cells cut to fit.
pub fn encode<W: Write + Send + 'static>(
    parts: Arc<[Part]>,
    format: Format,
    bom: bool,
    about: About,
    mut batches: mpsc::Receiver<RowBatch>,
    out: W,
) -> io::Result<(W, u64)> {
    let zip: Zip<W> = Arc::new(Mutex::new(zip::ZipWriter::new_stream(out)));
    let method = if format.compressed {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    let start = |name: &str, options| {
        zip.lock()
            .map_err(|_| io::Error::other("zip poisoned"))?
            .start_file(name, options)
            .map_err(zip_error)
    };
    let mut written: Vec<Written> = Vec::new();
    let mut shortened = 0;
    /// The part being written: its encoder, its rows so far, its bytes' tally.
    type Current = (Box<dyn formats::Encoder<formats::Out>>, u64, Arc<Mutex<Tally>>);
    let mut current: Option<Current> = None;
    // Ends the part being written: its encoder's last bytes, its size and hash.
    let end = |current: Option<Current>, written: &mut Vec<Written>, shortened: &mut u64| -> io::Result<()> {
        if let Some((encoder, rows, tally)) = current {
            *shortened += encoder.shortened_cells();
            encoder.finish()?;
            let tally = std::mem::take(&mut *tally.lock().map_err(|_| io::Error::other("tally poisoned"))?);
            written.push(Written {
                rows,
                bytes: tally.bytes,
                sha256: hex::encode(tally.hash.finalize()),
            });
        }
        Ok(())
    };
    while let Some(batch) = batches.blocking_recv() {
        match batch {
            RowBatch::Next => {
                end(current.take(), &mut written, &mut shortened)?;
                let part = parts
                    .get(written.len())
                    .ok_or_else(|| io::Error::other("more datasets than planned"))?;
                start(&part.entry, options)?;
                let tally = Arc::new(Mutex::new(Tally::default()));
                let entry = Entry {
                    zip: zip.clone(),
                    tally: tally.clone(),
                };
                let encoder = formats::encoder(
                    format,
                    part.columns.clone(),
                    EncodeOptions { bom: bom && format.bom },
                    Box::new(entry),
                )?;
                current = Some((encoder, 0, tally));
            }
            RowBatch::Rows(rows) => {
                let (encoder, count, _) = current
                    .as_mut()
                    .ok_or_else(|| io::Error::other("rows before a dataset"))?;
                for row in &rows {
                    encoder.row(row)?;
                }
                *count += rows.len() as u64;
            }
            RowBatch::Encoded { .. } => return Err(io::Error::other("an archive reads rows, not records")),
        }
    }
    end(current.take(), &mut written, &mut shortened)?;
    if written.len() != parts.len() {
        return Err(io::Error::other("the archive's reading stopped early"));
    }
    let text = options.compression_method(zip::CompressionMethod::Deflated);
    start(README, text)?;
    write_all(&zip, readme(&parts, &written, format, &about).as_bytes())?;
    start(MANIFEST, text)?;
    let manifest = serde_json::to_vec_pretty(&manifest(&parts, &written, format, &about)).map_err(io::Error::other)?;
    write_all(&zip, &manifest)?;
    let zip = Arc::try_unwrap(zip)
        .map_err(|_| io::Error::other("an archive entry is still open"))?
        .into_inner()
        .map_err(|_| io::Error::other("zip poisoned"))?;
    Ok((zip.finish().map_err(zip_error)?.into_inner(), shortened))
}

fn write_all<W: Write + Send + 'static>(zip: &Zip<W>, data: &[u8]) -> io::Result<()> {
    zip.lock()
        .map_err(|_| io::Error::other("zip poisoned"))?
        .write_all(data)
}

/// Markdown text in a table cell: no line breaks, no column separators.
fn cell(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// The data dictionary.
fn readme(parts: &[Part], written: &[Written], format: Format, about: &About) -> String {
    let mut out = format!(
        "# {}\n\nExport {} of {} UTC, in {}. Each dataset is one file; `{MANIFEST}` lists each file's rows, \
         bytes and SHA-256. Each dataset was read in one consistent snapshot, one after another.\n\n",
        cell(&about.title),
        about.export_id,
        about.created_at.format("%Y-%m-%d %H:%M:%S"),
        format.label()
    );
    out.push_str("| File | Dataset | Rows |\n| --- | --- | --- |\n");
    for (part, w) in parts.iter().zip(written) {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            part.entry,
            cell(&part.dataset.label),
            w.rows
        ));
    }
    for part in parts {
        let d = &part.dataset;
        out.push_str(&format!("\n## {} (`{}`)\n\n", cell(&d.label), part.entry));
        if !d.description.is_empty() {
            out.push_str(&format!("{}\n\n", cell(&d.description)));
        }
        if let Some(subject) = &d.subject {
            out.push_str(&format!("The person each row is about is in `{subject}`.\n\n"));
        }
        out.push_str("| Column | Name | Kind | Meaning |\n| --- | --- | --- | --- |\n");
        for c in part.columns.iter() {
            let meaning = d
                .column(&c.name)
                .map(|col| col.description.as_str())
                .unwrap_or_default();
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                cell(&c.label),
                c.name,
                c.kind.id(),
                cell(meaning)
            ));
        }
    }
    out
}

fn manifest(parts: &[Part], written: &[Written], format: Format, about: &About) -> serde_json::Value {
    serde_json::json!({
        "export": about.export_id,
        "title": about.title,
        "created_at": about.created_at,
        "format": format.id(),
        "files": parts.iter().zip(written).map(|(p, w)| serde_json::json!({
            "file": p.entry,
            "dataset": p.dataset.id,
            "rows": w.rows,
            "bytes": w.bytes,
            "sha256": w.sha256,
            "columns": p.columns.iter().map(|c| serde_json::json!({"name": c.name, "label": c.label, "kind": c.kind.id()})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
