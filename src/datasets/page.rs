//! The data page of a dataset: its filters (kept in the URL), the matching count, one
//! page of rows, and keyset paging. Built from the dataset's catalog declaration.

use super::browse_dataset;
use super::fields::{FilterField, all_fields};
use crate::catalog::{CatalogResource, Cell, DataPage, Dataset, FilterValues};
use crate::error::ErrorCode;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::{use_params_map, use_query_map};
use std::sync::Arc;

/// The page's URL with the same filters and another page cursor.
fn page_href(dataset: &str, query: &FilterValues, after: Option<&str>, before: Option<&str>) -> String {
    let mut q = query.clone();
    q.remove("after");
    q.remove("before");
    let pairs: Vec<String> = q
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(after.map(|a| ("after", a)))
        .chain(before.map(|b| ("before", b)))
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::text::percent_encode(k, b""),
                crate::text::percent_encode(v, b"")
            )
        })
        .collect();
    if pairs.is_empty() {
        format!("/data/{dataset}")
    } else {
        format!("/data/{dataset}?{}", pairs.join("&"))
    }
}

fn with_thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[component]
pub fn DatasetPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let dataset_id = move || params.read().get("dataset").unwrap_or_default();
    let values = move || -> FilterValues {
        query
            .read()
            .clone()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.into_owned(), v))
            .collect()
    };
    let page = Resource::new(move || (dataset_id(), values()), |(id, q)| browse_dataset(id, q));
    let CatalogResource(catalog) = expect_context();
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let id = dataset_id();
                let query = values();
                let dataset = catalog.await.ok().and_then(|c| c.find(&id).cloned());
                let page = page.await;
                match (dataset, page) {
                    (_, Err(e)) if e.code == ErrorCode::Forbidden => view! {
                        <Title text="Not available" />
                        <section class="narrow">
                            <h1>"Not available to you"</h1>
                            <p class="notice" role="alert">{e.message}</p>
                        </section>
                    }
                    .into_any(),
                    (None, _) => view! {
                        <Title text="Not found" />
                        <section class="narrow">
                            <h1>"No such dataset"</h1>
                            <p>"Pick one of the datasets at the top of the page."</p>
                        </section>
                    }
                    .into_any(),
                    (Some(dataset), page) => view! { <DatasetView dataset query page /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DatasetView(
    dataset: Arc<Dataset>,
    query: FilterValues,
    page: Result<DataPage, crate::error::AppError>,
) -> impl IntoView {
    view! {
        <Title text=dataset.label.clone() />
        <section class="dataset">
            <div class="dataset-head">
                <h1>{dataset.label.clone()}</h1>
                <crate::exports::ExportDialog dataset=dataset.clone() filters=query.clone() />
            </div>
            {(!dataset.description.is_empty()).then(|| view! { <p class="lede">{dataset.description.clone()}</p> })}
            <FilterForm dataset=dataset.clone() query=query.clone() />
            {match page {
                Ok(data) => view! { <DataTable dataset data query /> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
            }}
        </section>
    }
}

/// A GET form: applying it changes the URL (client-side once hydrated), which reloads the
/// page's data.
#[component]
fn FilterForm(dataset: Arc<Dataset>, query: FilterValues) -> impl IntoView {
    let fields = all_fields(&dataset);
    view! {
        <Form method="GET" action=format!("/data/{}", dataset.id) attr:class="filters" attr:aria-label="Filters">
            {fields
                .into_iter()
                .map(|field| {
                    let initial = query.get(&field.param).cloned().unwrap_or_default();
                    view! { <FilterField dataset=dataset.id.clone() field prefix="" initial /> }
                })
                .collect_view()}
            <div class="field actions">
                <button type="submit" class="primary">"Apply filters"</button>
                <A href=format!("/data/{}", dataset.id) attr:class="button ghost">"Clear"</A>
            </div>
        </Form>
    }
}

#[component]
fn DataTable(dataset: Arc<Dataset>, data: DataPage, query: FilterValues) -> impl IntoView {
    let newer = data
        .prev_before
        .as_deref()
        .map(|c| page_href(&dataset.id, &query, None, Some(c)));
    let older = data
        .next_after
        .as_deref()
        .map(|c| page_href(&dataset.id, &query, Some(c), None));
    let count = match data.total {
        1 => "1 matching row".to_owned(),
        n => format!("{} matching rows", with_thousands(n)),
    };
    view! {
        <p class="count" data-testid="row-count" data-count=data.total.to_string()>{count}</p>
        {if data.rows.is_empty() {
            view! { <p class="empty">"No rows match these filters."</p> }.into_any()
        } else {
            view! {
                // Scrolls sideways on narrow screens, so keyboard users must be able to reach it.
                <div class="table-wrap" tabindex="0" role="region" aria-label=format!("{} rows", dataset.id)>
                    <table class="data">
                        <thead>
                            <tr>{data.labels.iter().map(|l| view! { <th scope="col">{l.clone()}</th> }).collect_view()}</tr>
                        </thead>
                        <tbody>
                            {data
                                .rows
                                .into_iter()
                                .map(|row| view! { <tr>{row.into_iter().map(|cell| view! { <DataCell cell /> }).collect_view()}</tr> })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
        <nav class="pager" aria-label="Pages">
            {newer.map(|href| view! { <A href=href attr:rel="prev">"← Newer"</A> })}
            {older.map(|href| view! { <A href=href attr:rel="next">"Older →"</A> })}
        </nav>
    }
}

#[component]
fn DataCell(cell: Cell) -> impl IntoView {
    match cell {
        Cell::Null => view! { <td class="null">"—"</td> }.into_any(),
        Cell::List(items) => view! {
            <td>{items.into_iter().map(|t| view! { <span class="tag">{t}</span> }).collect_view()}</td>
        }
        .into_any(),
        Cell::Timestamp(t) => {
            let iso = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            view! { <td><time datetime=iso.clone() title=iso.clone()>{t.format("%Y-%m-%d %H:%M").to_string()}</time></td> }
                .into_any()
        }
        cell if cell.is_numeric() => view! { <td class="num">{cell.display()}</td> }.into_any(),
        cell => view! { <td>{cell.display()}</td> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_links_keep_the_filters() {
        let q: FilterValues = [
            ("status".to_owned(), "paid".to_owned()),
            ("tag".to_owned(), "a b".to_owned()),
        ]
        .into();
        assert_eq!(
            page_href("orders", &q, Some("10"), None),
            "/data/orders?status=paid&tag=a%20b&after=10"
        );
        assert_eq!(page_href("orders", &FilterValues::new(), None, None), "/data/orders");
    }

    #[test]
    fn counts_have_separators() {
        assert_eq!(with_thousands(0), "0");
        assert_eq!(with_thousands(1234567), "1,234,567");
        assert_eq!(with_thousands(100), "100");
    }
}
