//! The data page of a dataset: filters (kept in the URL), the matching count, one page
//! of rows, and keyset paging.

use super::{Cell, ColumnKind, DataPage, Dataset, FilterQuery, browse_dataset, find};
use crate::error::ErrorCode;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

fn filter_query(map: &ParamsMap) -> FilterQuery {
    let text = |k: &str| map.get(k).filter(|v| !v.is_empty());
    let number = |k: &str| map.get(k).and_then(|v| v.parse().ok());
    FilterQuery {
        created_from: text("created_from"),
        created_to: text("created_to"),
        status: text("status"),
        tag: text("tag"),
        after: number("after"),
        before: number("before"),
    }
}

/// The page's URL with the same filters and another page cursor.
fn page_href(dataset: &str, query: &FilterQuery, after: Option<i64>, before: Option<i64>) -> String {
    let mut q = FilterQuery {
        after,
        before,
        ..query.clone()
    };
    if after.is_some() {
        q.before = None;
    }
    let pairs: Vec<String> = [
        ("created_from", q.created_from),
        ("created_to", q.created_to),
        ("status", q.status),
        ("tag", q.tag),
        ("after", q.after.map(|v| v.to_string())),
        ("before", q.before.map(|v| v.to_string())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k}={}", crate::text::percent_encode(&v, b""))))
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
    let filters = move || filter_query(&query.read());
    let page = Resource::new(move || (dataset_id(), filters()), |(id, q)| browse_dataset(id, q));

    move || match find(&dataset_id()) {
        None => view! {
            <Title text="Not found" />
            <section class="narrow">
                <h1>"No such dataset"</h1>
                <p>"Pick one of the datasets at the top of the page."</p>
            </section>
        }
        .into_any(),
        Some(dataset) => view! {
            <Title text=dataset.label />
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let query = filters();
                    match page.await {
                        // A dataset the user's role may not see: why, and nothing to use.
                        Err(e) if e.code == ErrorCode::Forbidden => view! {
                            <section class="narrow">
                                <h1>{dataset.label}</h1>
                                <p class="notice" role="alert">{e.message}</p>
                            </section>
                        }
                        .into_any(),
                        result => view! {
                            <section class="dataset">
                                <div class="dataset-head">
                                    <h1>{dataset.label}</h1>
                                    <crate::exports::ExportDialog dataset filters=query.clone() />
                                </div>
                                <FilterForm dataset=dataset query=query.clone() />
                                {match result {
                                    Ok(data) => view! { <DataTable data=data query=query /> }.into_any(),
                                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                                }}
                            </section>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        }
        .into_any(),
    }
}

/// A GET form: applying it changes the URL (client-side once hydrated), which reloads the page's data.
#[component]
fn FilterForm(dataset: &'static Dataset, query: FilterQuery) -> impl IntoView {
    let date = |v: &Option<String>| v.clone().unwrap_or_default().chars().take(10).collect::<String>();
    let status = query.status.clone().unwrap_or_default();
    view! {
        <Form method="GET" action=format!("/data/{}", dataset.id) attr:class="filters" attr:aria-label="Filters">
            <div class="field">
                <label for="created_from">"Created from"</label>
                <input id="created_from" name="created_from" type="date" value=date(&query.created_from) />
            </div>
            <div class="field">
                <label for="created_to">"Created to"</label>
                <input id="created_to" name="created_to" type="date" value=date(&query.created_to) />
            </div>
            <div class="field">
                <label for="status">"Status"</label>
                <select id="status" name="status">
                    <option value="" selected=status.is_empty()>"Any status"</option>
                    {dataset
                        .statuses
                        .iter()
                        .map(|s| view! { <option value=*s selected=status == *s>{*s}</option> })
                        .collect_view()}
                </select>
            </div>
            {dataset
                .has_tags
                .then(|| {
                    view! {
                        <div class="field">
                            <label for="tag">"Tag"</label>
                            <input id="tag" name="tag" value=query.tag.clone().unwrap_or_default() placeholder="e.g. vip" />
                        </div>
                    }
                })}
            <div class="field actions">
                <button type="submit" class="primary">"Apply filters"</button>
                <A href=format!("/data/{}", dataset.id) attr:class="button ghost">"Clear"</A>
            </div>
        </Form>
    }
}

#[component]
fn DataTable(data: DataPage, query: FilterQuery) -> impl IntoView {
    let newer = data
        .prev_before
        .map(|c| page_href(&data.dataset, &query, None, Some(c)));
    let older = data.next_after.map(|c| page_href(&data.dataset, &query, Some(c), None));
    let kinds = data.kinds.clone();
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
                <div class="table-wrap" tabindex="0" role="region" aria-label=format!("{} rows", data.dataset)>
                    <table class="data">
                        <thead>
                            <tr>{data.labels.iter().map(|l| view! { <th scope="col">{l.clone()}</th> }).collect_view()}</tr>
                        </thead>
                        <tbody>
                            {data
                                .rows
                                .into_iter()
                                .map(|row| {
                                    let kinds = kinds.clone();
                                    view! {
                                        <tr>
                                            {row.into_iter().zip(kinds).map(|(cell, kind)| view! { <DataCell cell kind /> }).collect_view()}
                                        </tr>
                                    }
                                })
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
fn DataCell(cell: Cell, kind: ColumnKind) -> impl IntoView {
    match (cell, kind) {
        (Cell::Null, _) => view! { <td class="null">"—"</td> }.into_any(),
        (Cell::Tags(tags), _) => view! {
            <td>{tags.into_iter().map(|t| view! { <span class="tag">{t}</span> }).collect_view()}</td>
        }
        .into_any(),
        (Cell::Timestamp(t), _) => {
            let iso = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            view! { <td><time datetime=iso.clone() title=iso.clone()>{t.format("%Y-%m-%d %H:%M").to_string()}</time></td> }
                .into_any()
        }
        (cell @ (Cell::Money(_) | Cell::Integer(_)), _) => view! { <td class="num">{cell.display()}</td> }.into_any(),
        (cell, _) => view! { <td>{cell.display()}</td> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_links_keep_the_filters() {
        let q = FilterQuery {
            status: Some("paid".into()),
            tag: Some("a b".into()),
            ..Default::default()
        };
        assert_eq!(
            page_href("orders", &q, Some(10), None),
            "/data/orders?status=paid&tag=a%20b&after=10"
        );
        assert_eq!(page_href("orders", &FilterQuery::default(), None, None), "/data/orders");
    }

    #[test]
    fn counts_have_separators() {
        assert_eq!(with_thousands(0), "0");
        assert_eq!(with_thousands(1234567), "1,234,567");
        assert_eq!(with_thousands(100), "100");
    }
}
