//! The API tokens page (admins and owners): make a token with scopes and an expiry, see
//! its secret once, see each token's last use, revoke one. The rules are in `tokens.rs`.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// List, read, follow and download exports.
    ExportsRead,
    /// Start, cancel and delete exports.
    ExportsWrite,
    /// Add, rotate, test and delete webhook endpoints (an admin's token).
    WebhooksManage,
    /// Add, test and delete delivery destinations (an admin's token).
    DestinationsManage,
    /// Change the workspace's settings (an admin's token).
    WorkspaceManage,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::ExportsRead,
        Scope::ExportsWrite,
        Scope::WebhooksManage,
        Scope::DestinationsManage,
        Scope::WorkspaceManage,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Scope::ExportsRead => "exports:read",
            Scope::ExportsWrite => "exports:write",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::DestinationsManage => "destinations:manage",
            Scope::WorkspaceManage => "workspace:manage",
        }
    }

    /// What the scope allows, as the tokens page says it.
    pub fn what(self) -> &'static str {
        match self {
            Scope::ExportsRead => "list, follow and download exports",
            Scope::ExportsWrite => "start, cancel and delete exports",
            Scope::WebhooksManage => "add, test, rotate and delete webhook endpoints",
            Scope::DestinationsManage => "add, test and delete delivery destinations",
            Scope::WorkspaceManage => "change the workspace's settings (how long files stay)",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.id() == s)
    }
}

/// A token as the page lists it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    /// The secret's first characters, to tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

/// A token just made: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: TokenView,
    pub secret: String,
}

#[leptos::server(prefix = "/rpc", endpoint = "list_api_tokens")]
pub async fn list_api_tokens() -> Result<Vec<TokenView>, AppError> {
    crate::error::server_fn(async move {
        let member = super::ssr::require_member().await?;
        super::tokens::list(&super::ssr::state(), &member).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "create_api_token", input = leptos::server_fn::codec::Json)]
pub async fn create_api_token(
    name: String,
    scopes: Vec<String>,
    expires_in_days: Option<u32>,
) -> Result<CreatedToken, AppError> {
    crate::error::server_fn(async move {
        let member = super::ssr::require_member().await?;
        let (token, secret) =
            super::tokens::create(&super::ssr::state(), &member, &name, &scopes, expires_in_days).await?;
        Ok(CreatedToken { token, secret })
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: i64) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        let member = super::ssr::require_member().await?;
        super::tokens::revoke(&super::ssr::state(), &member, id).await
    })
    .await
}

fn day(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let chosen = Scope::ALL.map(|scope| (scope, RwSignal::new(scope == Scope::ExportsRead)));
    let days = RwSignal::new("90".to_owned());
    let create = Action::new(move |(name, scopes, days): &(String, Vec<String>, Option<u32>)| {
        let (name, scopes, days) = (name.clone(), scopes.clone(), *days);
        async move { create_api_token(name, scopes, days).await }
    });
    let revoke = Action::new(|id: &i64| {
        let id = *id;
        async move { revoke_api_token(id).await }
    });
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_tokens(),
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scopes = chosen
            .iter()
            .filter(|(_, on)| on.get_untracked())
            .map(|(s, _)| s.id().to_owned())
            .collect();
        let days = days.get_untracked().trim().parse::<u32>().ok();
        create.dispatch((name.get_untracked(), scopes, days));
    };
    view! {
        <Title text="API tokens" />
        <section class="tokens">
            <h1>"API tokens"</h1>
            <p class="lede">
                "For your product's back end and your integrations: send "
                <code>"Authorization: Bearer <token>"</code>
                " to the JSON API. A token acts for this workspace with your role."
            </p>
            <form class="stack token-form" on:submit=submit aria-label="New token">
                <label for="token-name">"Name"</label>
                <input id="token-name" required maxlength="100" placeholder="e.g. Nightly sync" bind:value=name />
                <fieldset>
                    <legend>"Scopes"</legend>
                    {chosen
                        .iter()
                        .map(|(scope, on)| {
                            let on = *on;
                            view! { <label class="check"><input type="checkbox" bind:checked=on />{format!("{} — {}", scope.id(), scope.what())}</label> }
                        })
                        .collect_view()}
                </fieldset>
                <label for="token-days">"Expires after (days; empty for never)"</label>
                <input id="token-days" type="number" min="1" max="3650" bind:value=days />
                {move || create.value().get().map(|r| match r {
                    Ok(made) => view! {
                        <div class="notice" role="status">
                            <p>"Copy the token now: it is not shown again."</p>
                            <code class="secret" data-testid="token-secret">{made.secret}</code>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                })}
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create token"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || tokens.get().map(|r| match r {
                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No tokens yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap" tabindex="0" role="region" aria-label="Tokens">
                            <table class="data">
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Token"</th><th scope="col">"Scopes"</th>
                                    <th scope="col">"Made by"</th><th scope="col">"Made"</th><th scope="col">"Expires"</th>
                                    <th scope="col">"Last used"</th><th scope="col">"Status"</th><th scope="col">"Actions"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| {
                                        let id = t.id;
                                        let active = t.status == "active";
                                        view! {
                                            <tr data-status=t.status.clone()>
                                                <td>{t.name.clone()}</td>
                                                <td><code>{format!("{}…", t.prefix)}</code></td>
                                                <td>{t.scopes.join(", ")}</td>
                                                <td>{t.created_by.clone()}</td>
                                                <td>{day(&t.created_at)}</td>
                                                <td>{t.expires_at.as_ref().map_or("never".to_owned(), day)}</td>
                                                <td>{t.last_used_at.as_ref().map_or("never".to_owned(), day)}</td>
                                                <td>{t.status.clone()}</td>
                                                <td>{active.then(|| view! {
                                                    <button type="button" class="ghost" on:click=move |_| { revoke.dispatch(id); }>"Revoke"</button>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
