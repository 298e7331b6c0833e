//! The webhooks page (admins and owners): add an endpoint (URL, events, description) and
//! see its signing secret once, rotate or delete it, send a test event, and see each
//! endpoint's latest deliveries (status, response code, latency). The rules are in
//! `rules.rs`; the calls themselves in `notify::webhook`.

#[cfg(feature = "ssr")]
pub mod rules;

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// The events an endpoint can take (`notify::Event`), with what each means.
pub const EVENTS: [(&str, &str); 3] = [
    ("export.completed", "an export's file is ready"),
    ("export.failed", "an export failed for good"),
    ("export.expired", "an export's file was deleted after its time"),
];

/// One try at delivering a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// The call's `webhook-id` (the same on every retry).
    pub message: String,
    pub event: String,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// An endpoint as the page and the API show it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    /// After a rotation: until when the previous secret signs too.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<DeliveryView>,
}

/// An endpoint with its new secret: the only time the secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointWithSecret {
    pub endpoint: EndpointView,
    pub secret: String,
}

#[leptos::server(prefix = "/rpc", endpoint = "list_webhooks")]
pub async fn list_webhooks() -> Result<Vec<EndpointView>, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::list(&crate::accounts::ssr::state(), &member).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "create_webhook", input = leptos::server_fn::codec::Json)]
pub async fn create_webhook(
    url: String,
    events: Vec<String>,
    description: String,
) -> Result<EndpointWithSecret, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        let (endpoint, secret) =
            rules::create(&crate::accounts::ssr::state(), &member, &url, &events, &description).await?;
        Ok(EndpointWithSecret { endpoint, secret })
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(id: i64) -> Result<EndpointWithSecret, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        let (endpoint, secret) = rules::rotate(&crate::accounts::ssr::state(), &member, id).await?;
        Ok(EndpointWithSecret { endpoint, secret })
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "delete_webhook")]
pub async fn delete_webhook(id: i64) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::delete(&crate::accounts::ssr::state(), &member, id).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "send_test_webhook")]
pub async fn send_test_webhook(id: i64) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::send_test(&crate::accounts::ssr::state(), &member, id).await
    })
    .await
}

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = EVENTS.map(|(id, _)| (id, RwSignal::new(id != "export.expired")));
    let create = Action::new(move |(url, events, description): &(String, Vec<String>, String)| {
        let (url, events, description) = (url.clone(), events.clone(), description.clone());
        async move { create_webhook(url, events, description).await }
    });
    let rotate = Action::new(|id: &i64| {
        let id = *id;
        async move { rotate_webhook_secret(id).await }
    });
    let delete = Action::new(|id: &i64| {
        let id = *id;
        async move { delete_webhook(id).await }
    });
    let test = Action::new(|id: &i64| {
        let id = *id;
        async move { send_test_webhook(id).await }
    });
    // Reload after each change, and again a moment after a test call so its delivery shows.
    let refresh = RwSignal::new(0u32);
    let endpoints = Resource::new(
        move || {
            (
                create.version().get(),
                rotate.version().get(),
                delete.version().get(),
                test.version().get(),
                refresh.get(),
            )
        },
        |_| list_webhooks(),
    );
    Effect::new(move |_| {
        if test.version().get() > 0 {
            set_timeout(
                move || refresh.update(|n| *n += 1),
                std::time::Duration::from_millis(1500),
            );
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let events = chosen
            .iter()
            .filter(|(_, on)| on.get_untracked())
            .map(|(id, _)| (*id).to_owned())
            .collect();
        create.dispatch((url.get_untracked(), events, description.get_untracked()));
    };
    let secret_notice = move |made: Option<Result<EndpointWithSecret, AppError>>, what: &'static str| {
        made.map(|r| match r {
            Ok(made) => view! {
                <div class="notice" role="status">
                    <p>{format!("{what} Copy it now: it is not shown again.")}</p>
                    <code class="secret" data-testid="webhook-secret">{made.secret}</code>
                </div>
            }
            .into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
        })
    };
    view! {
        <Title text="Webhooks" />
        <section class="webhooks">
            <h1>"Webhooks"</h1>
            <p class="lede">
                "Egress calls these URLs when an export of this workspace is ready, fails or expires. Each call is signed (Standard Webhooks: "
                <code>"webhook-id"</code>", "<code>"webhook-timestamp"</code>", "<code>"webhook-signature"</code>
                "), retried for over a day until it gets a 2xx answer, and links to the export's page, never to its file."
            </p>
            <form class="stack token-form" on:submit=submit aria-label="New endpoint">
                <label for="webhook-url">"Endpoint URL"</label>
                <input id="webhook-url" type="url" required maxlength="2000" placeholder="https://example.com/hooks/egress" bind:value=url />
                <label for="webhook-description">"Description (optional)"</label>
                <input id="webhook-description" maxlength="200" bind:value=description />
                <fieldset>
                    <legend>"Events"</legend>
                    {chosen
                        .iter()
                        .zip(EVENTS)
                        .map(|((id, on), (_, what))| {
                            let on = *on;
                            view! { <label class="check"><input type="checkbox" bind:checked=on />{format!("{id} — {what}")}</label> }
                        })
                        .collect_view()}
                </fieldset>
                {move || secret_notice(create.value().get(), "The endpoint's signing secret.")}
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Add endpoint"</button>
            </form>
            {move || secret_notice(rotate.value().get(), "The new signing secret (the old one signs too for 24 hours).")}
            {move || test.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || endpoints.get().map(|r| match r {
                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No endpoints yet."</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|w| {
                        let id = w.id;
                        let label = if w.description.is_empty() { w.url.clone() } else { w.description.clone() };
                        view! {
                            <article class="endpoint" aria-label=format!("Endpoint {}", w.url)>
                                <h2 class="endpoint-url"><code>{w.url.clone()}</code></h2>
                                <p class="hint">
                                    {format!("{} · added {}", w.events.join(", "), when(&w.created_at))}
                                    {w.previous_secret_until.map(|t| format!(" · the previous secret signs until {}", when(&t)))}
                                </p>
                                <div class="actions">
                                    <button type="button" class="ghost" aria-label=format!("Send a test event to {label}") on:click=move |_| { test.dispatch(id); }>"Send test event"</button>
                                    <button type="button" class="ghost" aria-label=format!("Rotate the secret of {label}") on:click=move |_| { rotate.dispatch(id); }>"Rotate secret"</button>
                                    <button type="button" class="ghost danger" aria-label=format!("Delete {label}") on:click=move |_| { delete.dispatch(id); }>"Delete"</button>
                                </div>
                                {if w.deliveries.is_empty() {
                                    view! { <p class="empty">"No deliveries yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="table-wrap" tabindex="0" role="region" aria-label=format!("Deliveries to {label}")>
                                            <table class="data">
                                                <thead><tr>
                                                    <th scope="col">"When"</th><th scope="col">"Event"</th><th scope="col">"Try"</th>
                                                    <th scope="col">"Result"</th><th scope="col">"Response"</th><th scope="col">"Time"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {w.deliveries.into_iter().map(|d| view! {
                                                        <tr data-ok=d.ok.to_string()>
                                                            <td>{when(&d.at)}</td>
                                                            <td>{d.event.clone()}</td>
                                                            <td>{d.attempt}</td>
                                                            <td>{if d.ok { "delivered".to_owned() } else { d.error.clone().unwrap_or_else(|| "failed".into()) }}</td>
                                                            <td>{d.status_code.map_or("—".to_owned(), |c| c.to_string())}</td>
                                                            <td>{format!("{} ms", d.latency_ms)}</td>
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
