//! Destinations (admins and owners): a workspace's own S3-compatible buckets that exports
//! and schedules deliver their files to, each with a `<file>.manifest.json` beside it. The
//! page adds one (endpoint, bucket, region, prefix template, credentials, optional
//! SSE-KMS), tests its connection with a probe object, lists its deliveries and deletes
//! it. The rules are in `rules.rs`; the copying in `notify::delivery`.

#[cfg(feature = "ssr")]
pub mod rules;

use crate::error::AppError;
use crate::webhooks::DeliveryView;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// A new destination, as the page and the API send it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationRequest {
    pub name: String,
    /// An S3-compatible server's URL; empty for Amazon S3.
    #[serde(default)]
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// Where files go in the bucket: a template such as `{dataset}/{date}/`.
    #[serde(default)]
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Server-side encryption: `AES256` (default), `aws:kms` or `none`.
    #[serde(default = "default_sse")]
    pub sse: String,
    /// With `aws:kms`: the KMS key (else the bucket's default key).
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_sse() -> String {
    "AES256".into()
}

/// A destination as the page and the API show it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DestinationView {
    pub id: i64,
    pub name: String,
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    /// The access key's last characters.
    pub access_key_hint: String,
    pub sse: String,
    pub kms_key_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<DeliveryView>,
}

/// What "test connection" found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    pub ok: bool,
    /// The probe object (`s3://bucket/key`).
    pub object: String,
    pub message: String,
}

#[leptos::server(prefix = "/rpc", endpoint = "list_destinations")]
pub async fn list_destinations() -> Result<Vec<DestinationView>, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::list(&crate::accounts::ssr::state(), &member).await
    })
    .await
}

/// The destinations an export may be delivered to: id and name (for every member).
#[leptos::server(prefix = "/rpc", endpoint = "destination_choices")]
pub async fn destination_choices() -> Result<Vec<(i64, String)>, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::choices(&crate::accounts::ssr::state(), &member).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "create_destination", input = leptos::server_fn::codec::Json)]
pub async fn create_destination(request: DestinationRequest) -> Result<DestinationView, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::create(&crate::accounts::ssr::state(), &member, request).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "delete_destination")]
pub async fn delete_destination(id: i64) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::delete(&crate::accounts::ssr::state(), &member, id).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "test_destination")]
pub async fn test_destination(id: i64) -> Result<TestReport, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::test(&crate::accounts::ssr::state(), &member, id).await
    })
    .await
}

/// "Deliver to" for the export dialog and the schedule form: a choice of the
/// workspace's destinations (nothing shown when it has none) and "keep no copy in
/// Egress". `deliver_to` holds the chosen id as text (empty: Egress only).
#[component]
pub fn DeliverTo(id: &'static str, deliver_to: RwSignal<String>, delivery_only: RwSignal<bool>) -> impl IntoView {
    let destinations = Resource::new(|| (), |_| destination_choices());
    view! {
        <Transition fallback=|| ()>
            {move || destinations.get().and_then(Result::ok).filter(|d| !d.is_empty()).map(|list| view! {
                <label for=id>"Deliver to"</label>
                <select id=id prop:value=move || deliver_to.get() on:change=move |ev| deliver_to.set(event_target_value(&ev))>
                    <option value="">"Egress only (download here)"</option>
                    {list.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{format!("Egress and {name}")}</option> }).collect_view()}
                </select>
                <label class="check">
                    <input type="checkbox" bind:checked=delivery_only disabled=move || deliver_to.get().is_empty() />
                    "Keep no copy in Egress once delivered"
                </label>
            })}
        </Transition>
    }
}

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[component]
pub fn DestinationsPage() -> impl IntoView {
    let form = RwSignal::new(DestinationRequest {
        region: default_region(),
        sse: default_sse(),
        prefix: "{dataset}/{date}/".into(),
        ..Default::default()
    });
    let field = move |get: fn(&DestinationRequest) -> String, set: fn(&mut DestinationRequest, String)| {
        (
            move || get(&form.read()),
            move |ev: leptos::ev::Event| form.update(|f| set(f, event_target_value(&ev))),
        )
    };
    let create = Action::new(|request: &DestinationRequest| {
        let request = request.clone();
        async move { create_destination(request).await }
    });
    let delete = Action::new(|id: &i64| {
        let id = *id;
        async move { delete_destination(id).await }
    });
    let test = Action::new(|id: &i64| {
        let id = *id;
        async move { (id, test_destination(id).await) }
    });
    let destinations = Resource::new(
        move || (create.version().get(), delete.version().get(), test.version().get()),
        |_| list_destinations(),
    );
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            form.update(|f| {
                f.name.clear();
                f.access_key_id.clear();
                f.secret_access_key.clear();
            });
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(form.get_untracked());
    };
    let input = move |id: &'static str,
                      label: &'static str,
                      kind: &'static str,
                      required: bool,
                      hint: &'static str,
                      get: fn(&DestinationRequest) -> String,
                      set: fn(&mut DestinationRequest, String)| {
        let (value, on_input) = field(get, set);
        view! {
            <label for=id>{label}</label>
            <input id=id type=kind required=required maxlength="1024" autocomplete="off" prop:value=value on:input=on_input />
            {(!hint.is_empty()).then(|| view! { <p class="hint">{hint}</p> })}
        }
    };
    view! {
        <Title text="Destinations" />
        <section class="destinations">
            <h1>"Destinations"</h1>
            <p class="lede">
                "Exports and schedules can deliver their files straight into your own S3-compatible bucket, each with a "
                <code>"<file>.manifest.json"</code>" beside it (rows, bytes, SHA-256, columns, snapshot time). "
                "Credentials are kept encrypted and never shown again; give them only s3:PutObject and s3:DeleteObject on the prefix."
            </p>
            <form class="stack token-form" on:submit=submit aria-label="New destination">
                {input("destination-name", "Name", "text", true, "", |f| f.name.clone(), |f, v| f.name = v)}
                {input("destination-endpoint", "Endpoint (empty for Amazon S3)", "url", false,
                    "An S3-compatible server such as https://minio.example.com", |f| f.endpoint.clone(), |f, v| f.endpoint = v)}
                {input("destination-bucket", "Bucket", "text", true, "", |f| f.bucket.clone(), |f, v| f.bucket = v)}
                {input("destination-region", "Region", "text", true, "", |f| f.region.clone(), |f, v| f.region = v)}
                {input("destination-prefix", "Prefix", "text", false,
                    "{dataset}, {format}, {date}, {year}, {month}, {day}, {hour} and {export} are filled in for each file",
                    |f| f.prefix.clone(), |f, v| f.prefix = v)}
                {input("destination-access-key", "Access key id", "text", true, "", |f| f.access_key_id.clone(), |f, v| f.access_key_id = v)}
                {input("destination-secret", "Secret access key", "password", true, "", |f| f.secret_access_key.clone(), |f, v| f.secret_access_key = v)}
                <label for="destination-sse">"Server-side encryption"</label>
                <select id="destination-sse" prop:value=move || form.read().sse.clone()
                    on:change=move |ev| form.update(|f| f.sse = event_target_value(&ev))>
                    <option value="AES256">"SSE-S3 (AES256)"</option>
                    <option value="aws:kms">"SSE-KMS"</option>
                    <option value="none">"None"</option>
                </select>
                <Show when=move || form.read().sse == "aws:kms">
                    <label for="destination-kms">"KMS key id (empty: the bucket's default key)"</label>
                    <input id="destination-kms" maxlength="2048" prop:value=move || form.read().kms_key_id.clone().unwrap_or_default()
                        on:input=move |ev| form.update(|f| f.kms_key_id = Some(event_target_value(&ev)).filter(|k| !k.is_empty())) />
                </Show>
                {move || create.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Add destination"</button>
            </form>
            {move || test.value().get().map(|(_, r)| match r {
                Ok(report) => view! {
                    <p class=if report.ok { "notice" } else { "form-error" } role="status" data-testid="destination-test">{report.message}</p>
                }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || destinations.get().map(|r| match r {
                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No destinations yet."</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|d| {
                        let id = d.id;
                        let name = d.name.clone();
                        let (name_test, name_delete) = (name.clone(), name.clone());
                        view! {
                            <article class="endpoint" aria-label=format!("Destination {name}")>
                                <h2 class="endpoint-url">{name.clone()}</h2>
                                <p class="hint">
                                    <code>{format!("s3://{}/{}", d.bucket, d.prefix)}</code>
                                    {format!(" · {} · {} · key {} · {} · added {}",
                                        d.endpoint.clone().unwrap_or_else(|| "Amazon S3".into()), d.region, d.access_key_hint, d.sse, when(&d.created_at))}
                                </p>
                                <div class="actions">
                                    <button type="button" class="ghost" aria-label=format!("Test the connection to {name_test}")
                                        disabled=move || test.pending().get() on:click=move |_| { test.dispatch(id); }>"Test connection"</button>
                                    <button type="button" class="ghost danger" aria-label=format!("Delete {name_delete}")
                                        on:click=move |_| { delete.dispatch(id); }>"Delete"</button>
                                </div>
                                {if d.deliveries.is_empty() {
                                    view! { <p class="empty">"No deliveries yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="table-wrap" tabindex="0" role="region" aria-label=format!("Deliveries to {name}")>
                                            <table class="data">
                                                <thead><tr>
                                                    <th scope="col">"When"</th><th scope="col">"Try"</th><th scope="col">"Result"</th><th scope="col">"Time"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {d.deliveries.into_iter().map(|t| view! {
                                                        <tr data-ok=t.ok.to_string()>
                                                            <td>{when(&t.at)}</td>
                                                            <td>{t.attempt}</td>
                                                            <td>{if t.ok { "delivered".to_owned() } else { t.error.clone().unwrap_or_else(|| "failed".into()) }}</td>
                                                            <td>{format!("{} ms", t.latency_ms)}</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        </div>
                                    }.into_any()
                                }}
                            </article>
                        }
                    }).collect_view().into_any(),
                })}
            </Transition>
        </section>
    }
}
