//! The exports page: the workspace's exports, newest first, with their state and what can
//! be done with each. Running exports refresh every two seconds.

use super::dialog::LocalTime;
use super::{ExportJob, NewExport, cancel_export, create_export, list_exports};
use crate::catalog::{CatalogResource, Dataset};
use crate::text::human_size;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The export's filters as a person reads them, with the dataset's labels.
fn filters_in_words(job: &ExportJob, dataset: Option<&Dataset>) -> String {
    let label = |param: &str| -> String {
        dataset
            .and_then(|d| {
                d.filters.iter().find_map(|f| {
                    let params = f.kind.params(&f.id);
                    let at = params.iter().position(|p| p == param)?;
                    Some(match (params.len(), at) {
                        (2, 0) => format!("{} from", f.label),
                        (2, _) => format!("{} to", f.label),
                        _ => f.label.clone(),
                    })
                })
            })
            .unwrap_or_else(|| param.replace('_', " "))
            .to_lowercase()
    };
    let parts: Vec<String> = job
        .filters
        .0
        .iter()
        .map(|(param, value)| {
            // Times are shown as their date.
            let value = if value.len() > 10 && value.as_bytes().get(10) == Some(&b'T') {
                &value[..10]
            } else {
                value
            };
            format!("{} {value}", label(param))
        })
        .collect();
    if parts.is_empty() {
        "all rows".into()
    } else {
        parts.join(", ")
    }
}

#[component]
pub fn ExportsPage() -> impl IntoView {
    let CatalogResource(catalog) = expect_context();
    let query = use_query_map();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let tick = RwSignal::new(0u32);
    let act = Action::new(|(id, run_again): &(String, Option<NewExport>)| {
        let (id, run_again) = (id.clone(), run_again.clone());
        async move {
            match run_again {
                Some(request) => create_export(request).await.map(|_| ()),
                None => cancel_export(id).await.map(|_| ()),
            }
        }
    });
    let exports = Resource::new(
        move || (page(), tick.get(), act.version().get()),
        |(p, _, _)| list_exports(p),
    );
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let running = exports
                    .get_untracked()
                    .and_then(Result::ok)
                    .is_some_and(|(list, _)| list.iter().any(|j| j.status.is_active()));
                if running {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_secs(2),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text="Exports" />
        <section class="exports">
            <h1>"Exports"</h1>
            <super::archive_panel::ArchivePanel on_requested=move |()| tick.update(|t| *t += 1) />
            {move || act.value().get().and_then(Result::err).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || exports.get().map(|r| match r {
                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Ok((list, _)) if list.is_empty() => view! {
                        <div class="empty-state">
                            <p>"No exports yet."</p>
                            <p>"Open a dataset, filter it down to what you need, and press " <strong>"Export…"</strong> "."</p>
                            <a class="button primary" href="/data/contacts">"Browse contacts"</a>
                        </div>
                    }.into_any(),
                    Ok((list, total)) => {
                        let pages = (total + 19) / 20;
                        let current = page();
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Exports">
                                <table class="data exports-table">
                                    <thead><tr>
                                        <th scope="col">"Dataset"</th><th scope="col">"Format"</th><th scope="col">"Filters"</th>
                                        <th scope="col">"Started by"</th><th scope="col">"Status"</th><th scope="col">"Rows"</th>
                                        <th scope="col">"Size"</th><th scope="col">"Created"</th><th scope="col">"Expires"</th><th scope="col">"Actions"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|job| {
                                            let dataset = catalog.get_untracked().and_then(Result::ok).and_then(|c| c.find(&job.dataset).cloned());
                                            let label = catalog.get_untracked().and_then(Result::ok).map_or(job.dataset.clone(), |c| {
                                                super::dataset_label(&c, &job.dataset, job.archive_subject().is_some())
                                            });
                                            let archive = job.is_archive();
                                            let rows = match (job.status.is_active(), job.total_rows) {
                                                (true, Some(t)) => format!("{} / {}", job.processed_rows, t),
                                                (_, Some(t)) => t.to_string(),
                                                (_, None) => job.processed_rows.to_string(),
                                            };
                                            let (id, again_request) = (job.id.clone(), job.as_request());
                                            let cancel_id = id.clone();
                                            view! {
                                                <tr data-status=job.status.id()>
                                                    <td>{label}</td>
                                                    <td>{job.format.label()}{job.options.gzip.then_some(" (gzip)")}</td>
                                                    <td>{match job.archive_subject() {
                                                        Some(email) => format!("the records about {email}"),
                                                        None if archive => "every dataset".to_owned(),
                                                        None => filters_in_words(&job, dataset.as_deref()),
                                                    }}</td>
                                                    <td>{job.created_by.clone()}</td>
                                                    <td><span class=format!("status status-{}", job.status.id())>{job.status.id()}</span>
                                                        {job.error.clone().map(|e| view! { <span class="hint">{e}</span> })}</td>
                                                    <td class="num">{rows}</td>
                                                    <td class="num">{job.bytes.map(human_size)}</td>
                                                    <td><LocalTime t=job.created_at /></td>
                                                    <td>{job.expires_at.filter(|_| job.status == super::JobStatus::Completed).map(|t| view! { <LocalTime t /> })}</td>
                                                    <td class="row-actions">
                                                        {(job.status == super::JobStatus::Completed).then(|| view! {
                                                            <a class="button" href=format!("/exports/{id}/download") rel="external">"Download"</a>
                                                        })}
                                                        <button type="button" class="ghost" on:click=move |_| { act.dispatch((cancel_id.clone(), None)); }>
                                                            {if job.status.is_active() { "Cancel" } else { "Delete" }}
                                                        </button>
                                                        {(!archive).then(|| view! {
                                                            <button type="button" class="ghost" on:click=move |_| { act.dispatch((String::new(), Some(again_request.clone()))); }>
                                                                "Run again"
                                                            </button>
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <nav class="pager" aria-label="Pages">
                                {(current > 1).then(|| view! { <a href=format!("/exports?page={}", current - 1) rel="prev">"← Newer"</a> })}
                                {(current < pages).then(|| view! { <a href=format!("/exports?page={}", current + 1) rel="next">"Older →"</a> })}
                            </nav>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}
