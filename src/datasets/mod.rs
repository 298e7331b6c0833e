//! The data pages: a dataset of the catalog, browsed a page at a time with its filters.

pub mod fields;
mod page;

pub use page::DatasetPage;

use crate::catalog::{DataPage, FilterValues};
use crate::error::AppError;

#[cfg(feature = "ssr")]
async fn browse(dataset: String, mut query: FilterValues) -> Result<DataPage, AppError> {
    use crate::catalog::query::PageRequest;
    use crate::catalog::{filters, parse_cursor};
    let member = crate::accounts::ssr::require_member().await?;
    let state = crate::accounts::ssr::state();
    let ds = crate::exports::service::visible_dataset(&state.catalog, &dataset, member.role)?;
    // A cursor is the key of a row: as many values as the key has, each of its kind.
    let key_kinds: Vec<_> = ds
        .key
        .iter()
        .filter_map(|k| ds.column(k).map(|c| crate::catalog::kinds::spec(c.kind)))
        .collect();
    let mut cursor = |param: &str| {
        query
            .remove(param)
            .filter(|t| !t.is_empty())
            .map(|token| {
                parse_cursor(&token, ds.key.len())
                    .filter(|key| key.iter().zip(&key_kinds).all(|(v, kind)| kind.valid_param(v)))
                    .ok_or_else(|| AppError::invalid(param, "not a page of this dataset"))
            })
            .transpose()
    };
    let page = match (cursor("after")?, cursor("before")?) {
        (Some(key), _) => PageRequest::After(key),
        (None, Some(key)) => PageRequest::Before(key),
        (None, None) => PageRequest::First,
    };
    let filters = filters::check(ds, &query).map_err(|e| AppError::invalid(e.param, e.message))?;
    let tenant = state.source.tenant(member.workspace_id, member.tenant_key.as_deref())?;
    Ok(state.source.page(ds, &tenant, &filters, &page).await?)
}

/// A page of `dataset` in the caller's workspace: `query` holds the filters and the page
/// cursor (`after` or `before`) as the page's URL carries them.
#[leptos::server(prefix = "/rpc", endpoint = "browse_dataset", input = leptos::server_fn::codec::Json)]
pub async fn browse_dataset(dataset: String, query: FilterValues) -> Result<DataPage, AppError> {
    crate::error::server_fn(browse(dataset, query)).await
}

/// The values a `values_from_data` filter offers: those in the workspace's rows.
#[leptos::server(prefix = "/rpc", endpoint = "offered_values")]
pub async fn offered_values(dataset: String, filter: String) -> Result<Vec<String>, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        let state = crate::accounts::ssr::state();
        let ds = crate::exports::service::visible_dataset(&state.catalog, &dataset, member.role)?;
        let f = ds.filter(&filter).filter(|f| f.values_from_data).ok_or_else(|| {
            AppError::invalid(
                "filter",
                format!("{dataset} has no filter `{filter}` with values from data"),
            )
        })?;
        let tenant = state.source.tenant(member.workspace_id, member.tenant_key.as_deref())?;
        Ok(state.source.distinct(ds, &tenant, &f.column).await?)
    })
    .await
}
