//! The export dialog: choose a format, filters and options, start, then watch the job
//! over server-sent events until it can be downloaded. The job's id is kept in the URL
//! (`?export=…`), so a reload or a dropped connection picks up where the job is.

use super::{ExportJob, ExportOptions, JobStatus, NewExport, Progress, cancel_export, create_export, get_export};
use crate::catalog::{Dataset, FilterValues};
use crate::datasets::browse_dataset;
use crate::datasets::fields::{FilterField, all_fields};
use crate::error::AppError;
use crate::formats::Format;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::collections::HashMap;
use std::sync::Arc;

/// Opens the dialog for the page's dataset, prefilled with the page's filters.
#[component]
pub fn ExportDialog(dataset: Arc<Dataset>, filters: FilterValues) -> impl IntoView {
    // Only the dataset's filters: not the page's cursor or the followed job.
    let params = dataset.filter_params();
    let filters: FilterValues = filters.into_iter().filter(|(k, _)| params.contains(k)).collect();
    let dataset_id = dataset.id.clone();
    let query = use_query_map();
    let navigate = use_navigate();
    let job_id = Memo::new(move |_| query.read().get("export").filter(|s| !s.is_empty()));
    let open = RwSignal::new(false);
    // Navigating to a job's URL (or reloading it) shows its progress.
    Effect::new(move |_| {
        if job_id.get().is_some() {
            open.set(true);
        }
    });
    let set_job = {
        let navigate = navigate.clone();
        move |id: Option<String>| {
            let path = match &id {
                Some(id) => with_param(&query.get_untracked(), "export", Some(id)),
                None => with_param(&query.get_untracked(), "export", None),
            };
            navigate(
                &format!("/data/{dataset_id}{path}"),
                leptos_router::NavigateOptions {
                    replace: true,
                    scroll: false,
                    ..Default::default()
                },
            );
        }
    };
    let close = {
        let set_job = set_job.clone();
        move || {
            open.set(false);
            if job_id.get_untracked().is_some() {
                set_job(None);
            }
        }
    };
    let close_on_escape = close.clone();
    view! {
        <button type="button" class="primary" aria-haspopup="dialog" on:click=move |_| open.set(true)>
            "Export…"
        </button>
        <Show when=move || open.get()>
            {
                let close = close.clone();
                let close_key = close_on_escape.clone();
                let set_job = set_job.clone();
                let filters = filters.clone();
                let dataset = dataset.clone();
                // Focus moves into the dialog when it opens, so the keyboard works in it.
                let dialog_ref = NodeRef::<leptos::html::Div>::new();
                Effect::new(move |_| {
                    if let Some(dialog) = dialog_ref.get() {
                        let _ = dialog.focus();
                    }
                });
                view! {
                    <div class="backdrop" on:click={
                        let close = close.clone();
                        move |_| close()
                    }></div>
                    <div
                        node_ref=dialog_ref
                        tabindex="-1"
                        class="dialog"
                        role="dialog"
                        aria-modal="true"
                        aria-labelledby="export-title"
                        on:keydown=move |ev| {
                            if ev.key() == "Escape" {
                                close_key();
                            } else if ev.key() == "Tab" {
                                trap_focus(&ev);
                            }
                        }
                    >
                        <h2 id="export-title">{format!("Export {}", dataset.label.to_lowercase())}</h2>
                        {move || match job_id.get() {
                            None => view! { <ExportForm dataset=dataset.clone() filters=filters.clone() on_started=set_job.clone() /> }.into_any(),
                            Some(id) => view! { <ExportProgress id on_new=set_job.clone() /> }.into_any(),
                        }}
                        <button type="button" class="ghost close" aria-label="Close" on:click={
                            let close = close.clone();
                            move |_| close()
                        }>"×"</button>
                    </div>
                }
            }
        </Show>
    }
}

/// The page's query string with one parameter set or removed.
fn with_param(map: &leptos_router::params::ParamsMap, key: &str, value: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = map
        .clone()
        .into_iter()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v))
        .collect();
    if let Some(v) = value {
        pairs.push((key.to_owned(), v.to_owned()));
    }
    if pairs.is_empty() {
        return String::new();
    }
    format!(
        "?{}",
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::text::percent_encode(v, b":")))
            .collect::<Vec<_>>()
            .join("&")
    )
}

/// Keeps Tab and Shift-Tab inside the dialog.
fn trap_focus(ev: &leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(dialog) = document().query_selector(".dialog").ok().flatten() else {
            return;
        };
        let Ok(nodes) = dialog.query_selector_all("button:not([disabled]), input:not([disabled]), select, a[href]")
        else {
            return;
        };
        let (Some(first), Some(last)) = (nodes.item(0), nodes.item(nodes.length().saturating_sub(1))) else {
            return;
        };
        let active = document().active_element();
        let at = |n: &web_sys::Node| active.as_ref().is_some_and(|a| a.is_same_node(Some(n)));
        let focus = |n: web_sys::Node| {
            if let Ok(el) = n.dyn_into::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        };
        if ev.shift_key() && at(&first) {
            ev.prevent_default();
            focus(last);
        } else if !ev.shift_key() && at(&last) {
            ev.prevent_default();
            focus(first);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// The dataset's columns in the dialog's order, each chosen or not.
type Choice = Vec<(String, String, bool)>;

/// The columns to ask for: `None` when every column is chosen in catalog order (the
/// default), else the chosen ones in order.
fn chosen_columns(dataset: &Dataset, choice: &Choice) -> Option<Vec<String>> {
    let chosen: Vec<String> = choice
        .iter()
        .filter(|(_, _, on)| *on)
        .map(|(n, _, _)| n.clone())
        .collect();
    let all: Vec<&String> = dataset.columns.iter().map(|c| &c.name).collect();
    (chosen.iter().collect::<Vec<_>>() != all).then_some(chosen)
}

#[component]
fn ExportForm(
    dataset: Arc<Dataset>,
    filters: FilterValues,
    on_started: impl Fn(Option<String>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let format = RwSignal::new("csv".to_owned());
    let values = RwSignal::new(filters);
    let choice = RwSignal::new(
        dataset
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.label.clone(), true))
            .collect::<Choice>(),
    );
    let gzip = RwSignal::new(false);
    let single_use = RwSignal::new(false);
    let bom = RwSignal::new(false);
    // Delivery to one of the workspace's own buckets (none offered when it has none).
    let deliver_to = RwSignal::new(String::new());
    let delivery_only = RwSignal::new(false);
    let export_filters =
        move || -> FilterValues { values.get().into_iter().filter(|(_, v)| !v.trim().is_empty()).collect() };
    let count = {
        let id = dataset.id.clone();
        Resource::new(export_filters, move |f| browse_dataset(id.clone(), f))
    };
    let start = Action::new(move |request: &NewExport| {
        let request = request.clone();
        async move { create_export(request).await }
    });
    let errors = Memo::new(move |_| {
        let mut map: HashMap<String, String> = HashMap::new();
        if let Some(Err(e)) = start.value().get() {
            let message = e.field_message().to_owned();
            let field = e.field.unwrap_or_else(|| "form".into());
            // Every bad column is reported on the column list.
            let field = if field.starts_with("columns") {
                "columns".to_owned()
            } else {
                field
            };
            map.insert(field, message);
        }
        map
    });
    let error_for = move |field: String| move || errors.get().get(&field).cloned();
    let error_view = move |field: &'static str| {
        move || {
            errors.get().get(field).map(
                |m| view! { <p class="field-error" id=format!("{}-error", field.replace('.', "-"))>{m.clone()}</p> },
            )
        }
    };
    let followed = use_context::<super::FollowedExports>();
    Effect::new(move |_| {
        if let Some(Ok(job)) = start.value().get() {
            if let Some(super::FollowedExports(f)) = followed {
                f.update(|f| f.push(job.id.clone()));
            }
            on_started(Some(job.id.clone()));
        }
    });
    // What the chosen format allows (the registry says).
    let chosen_format = move || Format::parse(&format.get());
    let bom_applies = move || chosen_format().is_some_and(|f| f.bom);
    let gzip_applies = move || chosen_format().is_some_and(|f| !f.compressed);
    let submit = {
        let dataset = dataset.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            start.dispatch(NewExport {
                dataset: dataset.id.clone(),
                format: format.get_untracked(),
                filters: export_filters(),
                columns: choice.with_untracked(|c| chosen_columns(&dataset, c)),
                options: ExportOptions {
                    gzip: gzip.get_untracked() && untrack(gzip_applies),
                    bom: bom.get_untracked() && untrack(bom_applies),
                    single_use: single_use.get_untracked(),
                    deliver_to: deliver_to.get_untracked().parse().ok(),
                    delivery_only: delivery_only.get_untracked() && !deliver_to.get_untracked().is_empty(),
                },
            });
        }
    };
    let move_column = move |at: usize, up: bool| {
        choice.update(|c| {
            let to = if up {
                at.checked_sub(1)
            } else {
                Some(at + 1).filter(|to| *to < c.len())
            };
            if let Some(to) = to {
                c.swap(at, to);
            }
        })
    };
    let fields = all_fields(&dataset);
    view! {
        <form class="export-form" on:submit=submit>
            <fieldset>
                <legend>"Format"</legend>
                <div class="formats">
                    {Format::all()
                        .iter()
                        .map(|f| {
                            let id = f.id();
                            view! {
                                <label class="format">
                                    <input type="radio" name="format" value=id prop:checked=move || format.get() == id on:change=move |_| format.set(id.to_owned()) />
                                    {f.label()}
                                </label>
                            }
                        })
                        .collect_view()}
                </div>
                {error_view("format")}
            </fieldset>
            <fieldset>
                <legend>"Rows"</legend>
                <div class="grid">
                    {fields
                        .into_iter()
                        .map(|field| {
                            let error = Signal::derive(error_for(format!("filters.{}", field.param)));
                            view! { <FilterField dataset=dataset.id.clone() field prefix="export-" initial=String::new() value=values error /> }
                        })
                        .collect_view()}
                </div>
                <p class="match-count" aria-live="polite">
                    <Transition fallback=|| "Counting…">
                        {move || count.get().map(|r| match r {
                            Ok(page) => format!("{} rows match", page.total),
                            Err(e) => e.message,
                        })}
                    </Transition>
                </p>
            </fieldset>
            <fieldset class="columns">
                <legend>"Columns"</legend>
                <p class="hint">"The file has the chosen columns, in this order."</p>
                <ol class="column-list">
                    {move || {
                        let all = choice.get();
                        let last = all.len().saturating_sub(1);
                        all.into_iter()
                            .enumerate()
                            .map(|(at, (name, label, on))| {
                                let id = format!("column-{name}");
                                view! {
                                    <li>
                                        <input
                                            type="checkbox"
                                            id=id.clone()
                                            aria-label=format!("Include {label}")
                                            prop:checked=on
                                            on:change=move |ev| {
                                                let checked = event_target_checked(&ev);
                                                choice.update(|c| c[at].2 = checked);
                                            }
                                        />
                                        <label for=id>{label.clone()}</label>
                                        <button type="button" class="ghost small" aria-label=format!("Move {label} up") disabled=at == 0 on:click=move |_| move_column(at, true)>"↑"</button>
                                        <button type="button" class="ghost small" aria-label=format!("Move {label} down") disabled=at == last on:click=move |_| move_column(at, false)>"↓"</button>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ol>
                {error_view("columns")}
            </fieldset>
            <fieldset>
                <legend>"Options"</legend>
                <label class="check"><input type="checkbox" bind:checked=gzip disabled=move || !gzip_applies() />"Compress with gzip"</label>
                <label class="check"><input type="checkbox" bind:checked=single_use />"Single-use link: delete the file after its first download"</label>
                <label class="check">
                    <input type="checkbox" bind:checked=bom disabled=move || !bom_applies() />
                    "UTF-8 BOM for Excel"
                </label>
                <p class="hint">"Excel needs the BOM to show accents and non-Latin letters in a CSV correctly."</p>
                {error_view("options.bom")}
                <crate::destinations::DeliverTo id="export-deliver-to" deliver_to delivery_only />
                {error_view("options.deliver_to")}
                {error_view("options.delivery_only")}
                {error_view("options.single_use")}
            </fieldset>
            {move || errors.get().get("form").map(|m| {
                let limit = m.contains("exports running");
                view! {
                    <p class="form-error" role="alert">
                        {m.clone()}
                        {limit.then(|| view! { " " <a href="/exports">"See the running exports"</a> })}
                    </p>
                }
            })}
            <div class="actions">
                <button type="submit" class="primary" disabled=move || start.pending().get()>
                    {move || if start.pending().get() { "Starting…" } else { "Start export" }}
                </button>
            </div>
        </form>
    }
}

/// Follows a job: the state from the server first, then every update over SSE.
#[component]
fn ExportProgress(id: String, on_new: impl Fn(Option<String>) + Clone + Send + Sync + 'static) -> impl IntoView {
    if let Some(super::FollowedExports(followed)) = use_context() {
        followed.update(|f| f.push(id.clone()));
    }
    let progress = RwSignal::new(None::<Progress>);
    let details = Resource::new(
        {
            let id = id.clone();
            move || (id.clone(), progress.get().map(|p| p.status))
        },
        |(id, _)| get_export(id),
    );
    subscribe(&id, progress);
    let started_at = RwSignal::new(None::<(f64, i64)>);
    let cancel = Action::new({
        let id = id.clone();
        move |_: &()| {
            let id = id.clone();
            async move { cancel_export(id).await }
        }
    });
    let retry = Action::new(move |job: &ExportJob| {
        let request = job.as_request();
        async move { create_export(request).await }
    });
    {
        let on_new = on_new.clone();
        Effect::new(move |_| {
            if let Some(Ok(job)) = retry.value().get() {
                on_new(Some(job.id.clone()));
            }
        });
    }
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || details.get().map(|r| match r {
                Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                Ok(job) => {
                    let live = progress.get().filter(|p| p.id == job.id);
                    let status = live.as_ref().map_or(job.status, |p| p.status);
                    let processed = live.as_ref().map_or(job.processed_rows, |p| p.processed_rows);
                    let total = live.as_ref().and_then(|p| p.total_rows).or(job.total_rows);
                    view! { <ProgressView job status processed total started_at cancel retry on_new=on_new.clone() /> }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn ProgressView(
    job: ExportJob,
    status: JobStatus,
    processed: i64,
    total: Option<i64>,
    started_at: RwSignal<Option<(f64, i64)>>,
    cancel: Action<(), Result<Option<ExportJob>, AppError>>,
    retry: Action<ExportJob, Result<ExportJob, AppError>>,
    on_new: impl Fn(Option<String>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let percent = match total {
        Some(0) => 100.0,
        Some(t) => (processed as f64 / t as f64 * 100.0).min(100.0),
        None => 0.0,
    };
    if status == JobStatus::Processing && started_at.get_untracked().is_none() {
        started_at.set(Some((now_ms(), processed)));
    }
    let eta = match (status, started_at.get_untracked(), total) {
        (JobStatus::Processing, Some((t0, r0)), Some(t)) if processed > r0 => {
            let rate = (processed - r0) as f64 / ((now_ms() - t0) / 1000.0).max(0.001);
            let left = ((t - processed) as f64 / rate).ceil() as i64;
            Some(if left < 60 {
                format!("about {left} s left")
            } else {
                format!("about {} min left", left / 60 + 1)
            })
        }
        _ => None,
    };
    let headline = match status {
        JobStatus::Pending => "Queued — waiting for a worker…".to_owned(),
        JobStatus::Processing => "Exporting…".to_owned(),
        JobStatus::Completed => "Your file is ready.".to_owned(),
        JobStatus::Failed => "The export failed.".to_owned(),
        JobStatus::Cancelled => "The export was cancelled.".to_owned(),
        JobStatus::Expired => "This export has expired.".to_owned(),
    };
    let counts = match total {
        Some(t) => format!("{} of {} rows ({:.0} %)", processed, t, percent),
        None => format!("{processed} rows"),
    };
    let new_export = move |_| on_new(None);
    let job_for_retry = job.clone();
    view! {
        <div class="progress-view" data-status=status.id()>
            <p class="headline" aria-live="polite">{headline}</p>
            {status.is_active().then(|| view! {
                <progress class="bar" max="100" value=format!("{percent:.1}") aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{percent:.0}") aria-label="Export progress"></progress>
                <p class="counts" aria-live="polite">{counts.clone()} {eta.map(|e| format!(" · {e}"))}</p>
                <button type="button" class="ghost" on:click=move |_| { cancel.dispatch(()); }>"Cancel export"</button>
            })}
            {(status == JobStatus::Completed).then(|| {
                let size = job.bytes.map(crate::text::human_size).unwrap_or_default();
                view! {
                    <dl class="summary">
                        <dt>"Rows"</dt><dd data-testid="export-rows">{job.total_rows.unwrap_or(processed)}</dd>
                        <dt>"Size"</dt><dd>{size}</dd>
                        <dt>"File"</dt><dd>{job.file_name.clone()}</dd>
                        <dt>"Available until"</dt><dd>{job.expires_at.map(|t| view! { <LocalTime t /> })}</dd>
                    </dl>
                    {(job.shortened_cells > 0).then(|| view! {
                        <p class="notice" role="status" data-testid="export-shortened">
                            {format!(
                                "{} {} longer than Excel's limit of 32,767 characters {} cut to fit. Export as CSV or JSON to get {} whole.",
                                job.shortened_cells,
                                if job.shortened_cells == 1 { "cell" } else { "cells" },
                                if job.shortened_cells == 1 { "was" } else { "were" },
                                if job.shortened_cells == 1 { "it" } else { "them" },
                            )}
                        </p>
                    })}
                    <a class="button primary" href=format!("/exports/{}/download", job.id) download="" rel="external">"Download"</a>
                }
            })}
            {(status == JobStatus::Failed).then(|| view! {
                <p class="form-error" role="alert">{job.error.clone().unwrap_or_else(|| "Something went wrong.".into())}</p>
                <button type="button" class="primary" on:click=move |_| { retry.dispatch(job_for_retry.clone()); }>"Retry"</button>
            })}
            {status.is_terminal().then(|| view! { <button type="button" class="ghost" on:click=new_export>"New export"</button> })}
        </div>
    }
}

/// A UTC time shown in the reader's time zone once the page runs, with UTC on hover.
#[component]
pub fn LocalTime(t: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let iso = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let text = RwSignal::new(t.format("%Y-%m-%d %H:%M UTC").to_string());
    #[cfg(feature = "hydrate")]
    {
        let iso = iso.clone();
        Effect::new(move |_| {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&iso));
            text.set(String::from(
                date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED),
            ));
        });
    }
    view! { <time datetime=iso.clone() title=format!("{} (UTC)", iso)>{move || text.get()}</time> }
}

fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    0.0
}

/// Opens the job's event stream in the browser; updates land in `progress`. The stream
/// is closed at a terminal state (else the browser would reconnect forever) and when the
/// component goes away. A dropped connection reconnects by itself and starts again from
/// the server's current state.
fn subscribe(id: &str, progress: RwSignal<Option<Progress>>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let Ok(source) = web_sys::EventSource::new(&format!("/api/exports/{id}/events")) else {
            return;
        };
        let closer = source.clone();
        let on_progress = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(update) = ev
                .data()
                .as_string()
                .and_then(|t| serde_json::from_str::<Progress>(&t).ok())
            {
                if update.status.is_terminal() {
                    closer.close();
                }
                progress.set(Some(update));
            }
        });
        let _ = source.add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
        on_progress.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, progress);
}
