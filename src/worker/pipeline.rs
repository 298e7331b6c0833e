//! One export, streamed: database rows → encoder (on a blocking thread) → parts →
//! multipart upload. Every stage is joined by a small bounded channel, and two part
//! buffers take turns, so memory stays flat whatever the row count. Any failure or a
//! cancel aborts the upload.

use super::archive;
use super::running::{Lost, RunningJob};
use crate::catalog::{Catalog, Dataset, filters};
use crate::exports::{JobStatus, Progress};
use crate::formats::{self, EncodeOptions, FileColumns};
use crate::progress::Hub;
use crate::source::{Increment, IncrementState, RowBatch, RowSink, Source};
use crate::storage::{DynStorage, ObjectWriter, StorageError};
use crate::store::JobRecord;
use bytes::{Bytes, BytesMut};
use flate2::write::GzEncoder;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::Instrument;

const ROWS_PER_BATCH: usize = 500;
const REPORT_EVERY: Duration = Duration::from_millis(250);

pub use crate::store::jobs::Outcome;

#[derive(Debug)]
pub enum Stop {
    Cancelled,
    LeaseLost,
    /// The worker is stopping (a rolling restart): the job goes back to the queue.
    HandedBack,
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

/// Flags the heartbeat sets while the export runs, and the worker's own when it stops.
#[derive(Clone, Default)]
pub struct Signals {
    pub cancel: Arc<AtomicBool>,
    pub lease_lost: Arc<AtomicBool>,
    /// Shared by all of a worker's exports: set when its drain time is up.
    pub hand_back: Arc<AtomicBool>,
}

pub struct Pipeline {
    pub catalog: Arc<Catalog>,
    pub source: Source,
    pub storage: DynStorage,
    pub hub: Hub,
    pub max_rows_per_second: u64,
}

/// Collects the encoder's bytes into chunks for the uploader. The encoder runs on a
/// blocking thread and waits while `CHUNKS_IN_FLIGHT` chunks are queued, so memory stays
/// bounded however slow storage is; the storage backend cuts the chunks into its parts.
struct ChunkWriter {
    chunk: BytesMut,
    chunks: mpsc::Sender<Bytes>,
}

/// Bytes per chunk handed to storage.
const CHUNK: usize = 1024 * 1024;
/// Chunks waiting for storage at most.
const CHUNKS_IN_FLIGHT: usize = 4;

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        let chunk = self.chunk.split().freeze();
        self.chunks
            .blocking_send(chunk)
            .map_err(|_| io::Error::other("the upload stopped"))?;
        self.chunk.reserve(CHUNK);
        Ok(())
    }

    fn close(mut self) -> io::Result<()> {
        if !self.chunk.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.chunk.extend_from_slice(data);
        if self.chunk.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The byte stream under the encoder: plain or gzip.
enum Sink {
    Plain(ChunkWriter),
    Gzip(Box<GzEncoder<ChunkWriter>>),
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
    // What the file is: its name's start, its extension and its type.
    let (stem, ext, content_type) = match (job.is_archive(), job.options.gzip) {
        (true, _) => {
            let whose = if job.archive_subject().is_some() {
                "my-data"
            } else {
                "workspace-data"
            };
            (whose, "zip".to_owned(), "application/zip")
        }
        (false, true) => (
            job.dataset.as_str(),
            format!("{}.gz", job.format.extension()),
            "application/gzip",
        ),
        (false, false) => (
            job.dataset.as_str(),
            job.format.extension().to_owned(),
            job.format.content_type(),
        ),
    };
    // Each attempt writes a key of its own: one that lost its lease can never overwrite
    // the file of the attempt that won.
    let key = format!("exports/{}/{}/{}.{ext}", record.workspace_id, record.uuid, job.attempts);
    let name = format!("{stem}-{}.{ext}", job.created_at.format("%Y%m%d-%H%M%S"));
    (key, name, content_type)
}

/// What an export reads: the dataset's rows of one tenant, filtered, these columns.
struct Selection {
    dataset: Arc<Dataset>,
    filters: crate::catalog::Filters,
    columns: FileColumns,
    tenant: String,
    increment: Option<Increment>,
}

/// One file of one dataset, or an archive of several.
enum Plan {
    File(Selection),
    Archive {
        parts: Arc<[archive::Part]>,
        tenant: String,
    },
}

/// A finished file: what it holds, and where this attempt wrote it.
pub struct Done {
    pub outcome: Outcome,
    pub key: String,
    /// For a run of an incremental schedule: where the next run starts.
    pub increment: Option<IncrementState>,
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
        let plan = if record.job.is_archive() {
            self.archive_plan(running).await?
        } else {
            Plan::File(self.selection(running).await?)
        };
        let (key, file_name, content_type) = object_names(record);

        // An upload left open by an earlier attempt goes first. If storage cannot be
        // reached now, this attempt fails rather than start another upload and forget that
        // one; if it answers no, the attempt goes on (cleanup and bucket rules remain).
        if let (Some(old_key), Some(old_upload)) = (&record.object_key, &record.upload_id) {
            match self.storage.abandon(old_key, old_upload).await {
                Ok(()) => {}
                Err(e @ StorageError::Unreachable(_)) => return Err(Failure::storage(e)),
                Err(e) => {
                    tracing::warn!(job = %record.uuid, error = %e, "the previous attempt's upload was not aborted")
                }
            }
        }
        let object = self
            .storage
            .create(&key, content_type)
            .await
            .map_err(Failure::storage)?;
        let handle = object.handle().to_owned();
        let bucket = self.storage.bucket();
        let result = match running
            .upload_opened(bucket, &key, Some(&handle), content_type, &file_name)
            .await
        {
            Ok(()) => self.stream(running, plan, object, signals).await,
            Err(lost) => {
                let _ = object.abort().await;
                Err(Stop::from(lost))
            }
        };
        match result {
            Ok((outcome, increment)) => Ok(Done {
                outcome,
                key,
                increment,
            }),
            Err(stop) => {
                match self.storage.abandon(&key, &handle).await {
                    // Off the record, so the next attempt has nothing left to abandon.
                    Ok(()) => {
                        let _ = running
                            .upload_opened(bucket, &key, None, content_type, &file_name)
                            .await;
                    }
                    Err(e) => {
                        tracing::warn!(job = %record.uuid, error = %e, "could not abandon the upload; the next attempt or cleanup will")
                    }
                }
                Err(stop)
            }
        }
    }

    /// What a one-dataset export reads, checked again against today's catalog.
    async fn selection(&self, running: &RunningJob) -> Result<Selection, Stop> {
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
        let tenant = self.tenant(record)?;
        let (columns, increment) = match record.increment_of {
            Some(schedule) => (
                formats::increment_columns(&dataset, job.columns.as_deref()),
                Some(self.increment(running, &dataset, schedule).await?),
            ),
            None => (formats::file_columns(&dataset, job.columns.as_deref()), None),
        };
        Ok(Selection {
            dataset,
            filters,
            columns,
            tenant,
            increment,
        })
    }

    fn tenant(&self, record: &JobRecord) -> Result<String, Stop> {
        self.source
            .tenant(record.job.workspace_id, record.tenant_key.as_deref())
            .map_err(|e| Failure::stop("This workspace is not linked to any tenant of the data.", e))
    }

    /// The datasets of an archive, for its maker's role today (a maker who left, or an
    /// admin who is one no longer, gets nothing more).
    async fn archive_plan(&self, running: &RunningJob) -> Result<Plan, Stop> {
        let record = running.record();
        let role = running.maker_role().await.map_err(Failure::database)?.ok_or_else(|| {
            Failure::stop(
                "The person who asked for this archive is no longer in the workspace.",
                "no membership",
            )
        })?;
        let subject = record.job.archive_subject();
        if subject.is_none() && !role.manages_all_exports() {
            return Err(Failure::stop(
                "Only the workspace's admins and owners can archive the whole workspace.",
                "the maker is no longer an admin",
            ));
        }
        let parts = archive::parts(&self.catalog, role, subject, record.job.format);
        if parts.is_empty() {
            return Err(Failure::stop(
                "No dataset holds records of a person.",
                "no dataset declares a subject",
            ));
        }
        Ok(Plan::Archive {
            parts: parts.into(),
            tenant: self.tenant(record)?,
        })
    }

    async fn stream(
        &self,
        running: &RunningJob,
        plan: Plan,
        object: Box<dyn ObjectWriter>,
        signals: &Signals,
    ) -> Result<(Outcome, Option<IncrementState>), Stop> {
        let record = running.record();
        let job = &record.job;

        let (sink, mut batches, mut counted) = RowSink::new(4);
        // The snapshot opens right after this moment (an incremental run's own snapshot
        // time, read from the database, replaces it).
        let read_from = chrono::Utc::now();
        // An archive's count is the sum of its datasets', taken before their snapshots:
        // it guides the progress; each dataset's rows are checked against its own count.
        let whole_count = matches!(plan, Plan::File(_));
        let reader = match &plan {
            Plan::File(selection) => {
                let (source, dataset) = (self.source.clone(), selection.dataset.clone());
                let (tenant, filters, increment) = (
                    selection.tenant.clone(),
                    selection.filters.clone(),
                    selection.increment.clone(),
                );
                let columns = selection.columns.clone();
                let records = job.format.records;
                tokio::spawn(
                    async move {
                        // Read in bulk as the format's records where the source and the
                        // format can (not for the windows of incremental runs); else rows.
                        if let (Some(records), true, None) = (records, source.reads_in_bulk(), &increment) {
                            let writer = records(&columns).into();
                            source
                                .export_records(dataset, &tenant, &filters, &columns, writer, ROWS_PER_BATCH, sink)
                                .await
                                .map(|()| None)
                        } else {
                            source
                                .export_rows(dataset, &tenant, &filters, increment.as_ref(), ROWS_PER_BATCH, sink)
                                .await
                        }
                    }
                    .in_current_span(),
                )
            }
            Plan::Archive { parts, tenant } => {
                archive::spawn_reader(self.source.clone(), tenant.clone(), parts.clone(), ROWS_PER_BATCH, sink)
            }
        };

        let (chunks_tx, mut chunks_rx) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
        let uploader = tokio::spawn(
            async move {
                let mut object = object;
                while let Some(chunk) = chunks_rx.recv().await {
                    if let Err(e) = object.write(chunk).await {
                        let _ = object.abort().await;
                        return Err(e);
                    }
                }
                object.finish().await
            }
            .in_current_span(),
        );

        let (rows_tx, mut rows_rx) = mpsc::channel::<RowBatch>(4);
        let (format, gzip, bom) = (job.format, job.options.gzip, job.options.bom);
        let writer = ChunkWriter {
            chunk: BytesMut::with_capacity(CHUNK),
            chunks: chunks_tx,
        };
        // The encoder's thread logs in the export's span too.
        let span = tracing::Span::current();
        let encoder = match plan {
            Plan::File(selection) => tokio::task::spawn_blocking(move || -> io::Result<u64> {
                let _span = span.enter();
                let sink = if gzip {
                    Sink::Gzip(Box::new(GzEncoder::new(writer, flate2::Compression::new(3))))
                } else {
                    Sink::Plain(writer)
                };
                let options = EncodeOptions { bom: bom && format.bom };
                let mut encoder = formats::encoder(format, selection.columns, options, Box::new(sink))?;
                while let Some(batch) = rows_rx.blocking_recv() {
                    match batch {
                        RowBatch::Rows(rows) => {
                            for row in &rows {
                                encoder.row(row)?;
                            }
                        }
                        RowBatch::Encoded { bytes, .. } => encoder.encoded(&bytes)?,
                        RowBatch::Next => return Err(io::Error::other("one file holds one dataset")),
                    }
                }
                let shortened = encoder.shortened_cells();
                encoder.finish()?.close()?;
                Ok(shortened)
            }),
            Plan::Archive { parts, .. } => {
                let about = archive::About {
                    title: if job.archive_subject().is_some() {
                        format!("Everything about {}", record.user_email)
                    } else {
                        "All the workspace's data".to_owned()
                    },
                    export_id: job.id.clone(),
                    created_at: job.created_at,
                };
                tokio::task::spawn_blocking(move || -> io::Result<u64> {
                    let _span = span.enter();
                    let (writer, shortened) = archive::encode(parts, format, bom, about, rows_rx, writer)?;
                    writer.close()?;
                    Ok(shortened)
                })
            }
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
            } else if signals.hand_back.load(Ordering::Relaxed) {
                stop = Some(Stop::HandedBack);
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
        let bytes = uploaded.map_err(Failure::storage)? as i64;
        let increment = read.map_err(|e| Failure::database(format!("reading rows failed: {e}")))?;
        let shortened = encoded.map_err(|e| Failure::file(format!("writing the file failed: {e}")))?;
        if whole_count && total.is_some_and(|t| t != processed) {
            return Err(Failure::stop(
                "The rows changed while they were read.",
                format!("counted {total:?} rows but wrote {processed}"),
            ));
        }
        let outcome = Outcome {
            rows: processed,
            bytes,
            shortened_cells: shortened as i64,
            snapshot_at: increment.as_ref().map_or(read_from, |s| s.snapshot_at),
        };
        Ok((outcome, increment))
    }

    /// Where this run of an incremental schedule starts: after the latest completed run.
    async fn increment(&self, running: &RunningJob, dataset: &Dataset, schedule: i64) -> Result<Increment, Stop> {
        let changes = dataset.changes.as_ref().ok_or_else(|| {
            Failure::stop(
                "This dataset no longer says which rows changed, so it cannot be exported in increments.",
                format!("dataset `{}` declares no changes column", dataset.id),
            )
        })?;
        let states = running
            .store()
            .fetch_texts(&crate::store::schedules::latest_increment(schedule))
            .await
            .map_err(Failure::database)?;
        let previous = states
            .first()
            .map(|state| serde_json::from_str::<IncrementState>(state))
            .transpose()
            .map_err(|e| Failure::stop("The previous run's record cannot be read.", e))?;
        Ok(Increment {
            previous,
            overlap: chrono::Duration::seconds(changes.overlap_seconds.into()),
        })
    }
}
