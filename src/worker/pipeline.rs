//! One export, streamed: database rows → encoder (on a blocking thread) → parts →
//! multipart upload. Every stage is joined by a small bounded channel, and two part
//! buffers take turns, so memory stays flat whatever the row count. Any failure or a
//! cancel aborts the upload.

use super::running::{Lost, RunningJob};
use crate::catalog::{Catalog, Dataset, filters};
use crate::exports::{JobStatus, Progress};
use crate::formats::{self, EncodeOptions, FileColumns};
use crate::progress::Hub;
use crate::source::{RowBatch, RowSink, Source};
use crate::storage::{DynStorage, StorageError, UploadedPart};
use crate::store::JobRecord;
use bytes::Bytes;
use flate2::write::GzEncoder;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Parts start at this size (S3's minimum is 5 MiB) and double every 1,000 parts, so the
/// 10,000-part limit is never reached.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
const ROWS_PER_BATCH: usize = 500;
const REPORT_EVERY: Duration = Duration::from_millis(250);

pub use crate::store::jobs::Outcome;

#[derive(Debug)]
pub enum Stop {
    Cancelled,
    LeaseLost,
    Failed(Failure),
}

/// Why an attempt failed: a sentence for the people who see the export (never a SQL
/// error or a storage endpoint), and the detail for the log and the audit trail.
#[derive(Debug)]
pub struct Failure {
    pub reason: &'static str,
    pub detail: String,
}

impl Failure {
    fn stop(reason: &'static str, detail: impl std::fmt::Display) -> Stop {
        Stop::Failed(Failure {
            reason,
            detail: detail.to_string(),
        })
    }

    fn storage(e: StorageError) -> Stop {
        let reason = match e {
            StorageError::Unreachable(_) => "Egress could not reach its file storage.",
            _ => "The file storage did not accept the file.",
        };
        Failure::stop(reason, e)
    }

    fn database(e: impl std::fmt::Display) -> Stop {
        Failure::stop("The database stopped sending the rows.", e)
    }

    fn file(e: impl std::fmt::Display) -> Stop {
        Failure::stop("The file could not be written.", e)
    }
}

/// Flags the heartbeat sets while the export runs.
#[derive(Clone, Default)]
pub struct Signals {
    pub cancel: Arc<AtomicBool>,
    pub lease_lost: Arc<AtomicBool>,
}

pub struct Pipeline {
    pub catalog: Arc<Catalog>,
    pub source: Source,
    pub storage: DynStorage,
    pub hub: Hub,
    pub part_size: usize,
    pub max_rows_per_second: u64,
}

/// Collects encoded bytes into parts and hands each full part to the uploader. Only two
/// part buffers ever exist: the one being filled and the one being uploaded; the uploader
/// hands each buffer back when its part is stored, so memory does not depend on how fast
/// storage is, and no large buffer is allocated and freed per part.
struct PartWriter {
    buffer: Vec<u8>,
    part_size: usize,
    parts_sent: usize,
    parts: mpsc::Sender<Bytes>,
    spare: mpsc::Receiver<Vec<u8>>,
}

impl PartWriter {
    fn send_part(&mut self, more_to_come: bool) -> io::Result<()> {
        let stopped = || io::Error::other("the upload stopped");
        self.parts_sent += 1;
        if self.parts_sent.is_multiple_of(1000) {
            self.part_size *= 2;
        }
        let part = std::mem::take(&mut self.buffer);
        self.parts.blocking_send(Bytes::from(part)).map_err(|_| stopped())?;
        if more_to_come {
            self.buffer = if self.parts_sent == 1 {
                Vec::with_capacity(self.part_size)
            } else {
                // The previous part's buffer, once it is uploaded.
                self.spare.blocking_recv().ok_or_else(stopped)?
            };
            self.buffer.clear();
            self.buffer.reserve_exact(self.part_size);
        }
        Ok(())
    }

    fn close(mut self) -> io::Result<()> {
        if !self.buffer.is_empty() || self.parts_sent == 0 {
            self.send_part(false)
        } else {
            Ok(())
        }
    }
}

impl Write for PartWriter {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let written = data.len();
        // Parts are filled exactly, so a buffer never grows past its part size.
        while !data.is_empty() {
            let take = (self.part_size - self.buffer.len()).min(data.len());
            self.buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buffer.len() >= self.part_size {
                self.send_part(true)?;
            }
        }
        Ok(written)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The byte stream under the encoder: plain or gzip.
enum Sink {
    Plain(PartWriter),
    Gzip(Box<GzEncoder<PartWriter>>),
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(data),
            Sink::Gzip(w) => w.write(data),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl formats::Output for Sink {
    fn close(self: Box<Self>) -> io::Result<()> {
        match *self {
            Sink::Plain(w) => w.close(),
            Sink::Gzip(w) => w.finish()?.close(),
        }
    }
}

/// Where the file goes and what it is called.
pub fn object_names(record: &JobRecord) -> (String, String, &'static str) {
    let job = &record.job;
    let gz = if job.options.gzip { ".gz" } else { "" };
    let ext = job.format.extension();
    // Each attempt writes a key of its own: one that lost its lease can never overwrite
    // the file of the attempt that won.
    let key = format!(
        "exports/{}/{}/{}.{ext}{gz}",
        record.workspace_id, record.uuid, job.attempts
    );
    let name = format!("{}-{}.{ext}{gz}", job.dataset, job.created_at.format("%Y%m%d-%H%M%S"));
    let content_type = if job.options.gzip {
        "application/gzip"
    } else {
        job.format.content_type()
    };
    (key, name, content_type)
}

/// What an export reads: the dataset's rows of one tenant, filtered, these columns.
struct Selection {
    dataset: Arc<Dataset>,
    filters: crate::catalog::Filters,
    columns: FileColumns,
    tenant: String,
}

/// A finished file: what it holds, and where this attempt wrote it.
pub struct Done {
    pub outcome: Outcome,
    pub key: String,
}

impl From<Lost> for Stop {
    fn from(lost: Lost) -> Stop {
        match lost {
            Lost::Fence => Stop::LeaseLost,
            Lost::Store(e) => Failure::database(e),
        }
    }
}

impl Pipeline {
    pub async fn run(&self, running: &RunningJob, signals: &Signals) -> Result<Done, Stop> {
        let record = running.record();
        let job = &record.job;
        let dataset = self.catalog.find(&job.dataset).cloned().ok_or_else(|| {
            Failure::stop(
                "This dataset is no longer offered.",
                format!("unknown dataset `{}`", job.dataset),
            )
        })?;
        // The catalog may have changed since the export was asked for: check again.
        let filters = filters::check(&dataset, &job.filters.0)
            .map_err(|e| Failure::stop("The export's filters no longer fit the dataset.", e))?;
        if let Some(missing) = job.columns.iter().flatten().find(|c| dataset.column(c).is_none()) {
            return Err(Failure::stop(
                "A column the export asked for is no longer offered.",
                format!("unknown column `{missing}`"),
            ));
        }
        let tenant = self
            .source
            .tenant(job.workspace_id, record.tenant_key.as_deref())
            .map_err(|e| Failure::stop("This workspace is not linked to any tenant of the data.", e))?;
        let columns = formats::file_columns(&dataset, job.columns.as_deref());
        let (key, file_name, content_type) = object_names(record);

        // An upload left open by an earlier attempt goes first. If storage cannot be
        // reached now, this attempt fails rather than start another upload and forget that
        // one; if it answers no, the attempt goes on (cleanup and bucket rules remain).
        if let (Some(old_key), Some(old_upload)) = (&record.object_key, &record.upload_id) {
            match self.storage.abort_upload(old_key, old_upload).await {
                Ok(()) => {}
                Err(e @ StorageError::Unreachable(_)) => return Err(Failure::storage(e)),
                Err(e) => {
                    tracing::warn!(job = %record.uuid, error = %e, "the previous attempt's upload was not aborted")
                }
            }
        }
        let upload_id = self
            .storage
            .begin_upload(&key, content_type)
            .await
            .map_err(Failure::storage)?;
        let result = match running
            .upload_opened(self.storage.bucket(), &key, Some(&upload_id), content_type, &file_name)
            .await
        {
            Ok(()) => {
                self.stream(
                    running,
                    Selection {
                        dataset,
                        filters,
                        columns,
                        tenant,
                    },
                    &key,
                    &upload_id,
                    signals,
                )
                .await
            }
            Err(lost) => Err(Stop::from(lost)),
        };
        match result {
            Ok((outcome, parts)) => {
                self.storage
                    .complete_upload(&key, &upload_id, &parts)
                    .await
                    .map_err(Failure::storage)?;
                Ok(Done { outcome, key })
            }
            Err(stop) => {
                match self.storage.abort_upload(&key, &upload_id).await {
                    // Off the record, so the next attempt has nothing left to abort.
                    Ok(()) => {
                        let bucket = self.storage.bucket();
                        let _ = running
                            .upload_opened(bucket, &key, None, content_type, &file_name)
                            .await;
                    }
                    Err(e) => {
                        tracing::warn!(job = %record.uuid, error = %e, "could not abort the upload; the next attempt or cleanup will")
                    }
                }
                Err(stop)
            }
        }
    }

    async fn stream(
        &self,
        running: &RunningJob,
        Selection {
            dataset,
            filters,
            columns,
            tenant,
        }: Selection,
        key: &str,
        upload_id: &str,
        signals: &Signals,
    ) -> Result<(Outcome, Vec<UploadedPart>), Stop> {
        let record = running.record();
        let job = &record.job;

        let (sink, mut batches, mut counted) = RowSink::new(4);
        let reader = {
            let (source, dataset) = (self.source.clone(), dataset.clone());
            let columns = columns.clone();
            let csv = job.format.copy_csv;
            tokio::spawn(async move {
                // CSV straight from the database where it can write it; else rows.
                if csv && source.writes_csv() {
                    source
                        .export_csv(dataset, &tenant, &filters, &columns, ROWS_PER_BATCH, sink)
                        .await
                } else {
                    source
                        .export_rows(dataset, &tenant, &filters, ROWS_PER_BATCH, sink)
                        .await
                }
            })
        };

        let (parts_tx, mut parts_rx) = mpsc::channel::<Bytes>(1);
        let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>(1);
        let uploader = {
            let storage = self.storage.clone();
            let (key, upload_id) = (key.to_owned(), upload_id.to_owned());
            tokio::spawn(async move {
                let mut parts = Vec::new();
                let mut bytes = 0i64;
                while let Some(data) = parts_rx.recv().await {
                    bytes += data.len() as i64;
                    let number = parts.len() as i32 + 1;
                    parts.push(storage.upload_part(&key, &upload_id, number, data.clone()).await?);
                    // The buffer goes back to the encoder (a new one if storage kept a copy).
                    let buffer = data.try_into_mut().map_or_else(|_| Vec::new(), Vec::from);
                    let _ = spare_tx.send(buffer).await;
                }
                Ok::<_, crate::storage::StorageError>((parts, bytes))
            })
        };

        let (rows_tx, mut rows_rx) = mpsc::channel::<RowBatch>(4);
        let encoder = {
            let (format, gzip, bom, part_size) = (job.format, job.options.gzip, job.options.bom, self.part_size);
            tokio::task::spawn_blocking(move || -> io::Result<u64> {
                let writer = PartWriter {
                    buffer: Vec::with_capacity(part_size),
                    part_size,
                    parts_sent: 0,
                    parts: parts_tx,
                    spare: spare_rx,
                };
                let sink = if gzip {
                    Sink::Gzip(Box::new(GzEncoder::new(writer, flate2::Compression::new(3))))
                } else {
                    Sink::Plain(writer)
                };
                let options = EncodeOptions { bom: bom && format.bom };
                let mut encoder = formats::encoder(format, columns, options, Box::new(sink))?;
                while let Some(batch) = rows_rx.blocking_recv() {
                    match batch {
                        RowBatch::Rows(rows) => {
                            for row in &rows {
                                encoder.row(row)?;
                            }
                        }
                        RowBatch::Csv { bytes, .. } => encoder.encoded(&bytes)?,
                    }
                }
                let shortened = encoder.shortened_cells();
                encoder.finish()?.close()?;
                Ok(shortened)
            })
        };

        let mut processed = 0i64;
        let mut total = None;
        let started = Instant::now();
        // Progress is saved and published at most every REPORT_EVERY: a million rows
        // would otherwise cost two thousand UPDATEs and NOTIFYs.
        let mut last_report: Option<Instant> = None;
        let mut stop = None;
        let mut counting = true;
        loop {
            // The count first whenever it is there: it makes the progress a percentage.
            let batch = tokio::select! {
                biased;
                count = &mut counted, if counting => {
                    counting = false;
                    if let Ok(n) = count {
                        total = Some(n);
                        last_report = None; // the total goes out at once
                    }
                    None
                }
                batch = batches.recv() => match batch {
                    Some(batch) => Some(batch),
                    None => break,
                },
            };
            if signals.cancel.load(Ordering::Relaxed) {
                stop = Some(Stop::Cancelled);
            } else if signals.lease_lost.load(Ordering::Relaxed) {
                stop = Some(Stop::LeaseLost);
            }
            if stop.is_some() {
                break;
            }
            if let Some(rows) = batch {
                let n = rows.rows() as i64;
                if rows_tx.send(rows).await.is_err() {
                    break; // the encoder stopped; its error is read below
                }
                processed += n;
                if self.max_rows_per_second > 0 {
                    let due = Duration::from_secs_f64(processed as f64 / self.max_rows_per_second as f64);
                    tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
                }
            }
            if last_report.is_some_and(|at| at.elapsed() < REPORT_EVERY) {
                continue;
            }
            last_report = Some(Instant::now());
            match running.progress(processed, total).await {
                Ok(false) => {}
                Ok(true) => {
                    stop = Some(Stop::Cancelled);
                    break;
                }
                Err(Lost::Fence) => {
                    stop = Some(Stop::LeaseLost);
                    break;
                }
                Err(e) => tracing::warn!(job = %record.uuid, error = %e, "progress not saved"),
            }
            self.hub.publish(Progress {
                id: job.id.clone(),
                workspace_id: record.workspace_id,
                user_id: record.user_id,
                dataset: job.dataset.clone(),
                status: JobStatus::Processing,
                processed_rows: processed,
                total_rows: total,
                bytes: None,
                error: None,
            });
        }
        drop(rows_tx);
        drop(batches);
        if counting && stop.is_none() {
            // The rows came before the count: it is on its way (or the read failed).
            total = counted.await.ok();
        }

        if let Some(stop) = stop {
            reader.abort();
            uploader.abort();
            let _ = encoder.await;
            return Err(stop);
        }
        let read = reader
            .await
            .map_err(|e| Failure::database(format!("reading rows stopped: {e}")))?;
        let encoded = encoder
            .await
            .map_err(|e| Failure::file(format!("encoding stopped: {e}")))?;
        let uploaded = uploader
            .await
            .map_err(|e| Failure::storage(StorageError::Remote(format!("uploading stopped: {e}"))))?;
        // The most telling error first: a failed upload makes the encoder fail too.
        let (parts, bytes) = uploaded.map_err(Failure::storage)?;
        read.map_err(|e| Failure::database(format!("reading rows failed: {e}")))?;
        let shortened = encoded.map_err(|e| Failure::file(format!("writing the file failed: {e}")))?;
        if total.is_some_and(|t| t != processed) {
            return Err(Failure::stop(
                "The rows changed while they were read.",
                format!("counted {total:?} rows but wrote {processed}"),
            ));
        }
        let outcome = Outcome {
            rows: processed,
            bytes,
            shortened_cells: shortened as i64,
        };
        Ok((outcome, parts))
    }
}
