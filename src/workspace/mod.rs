//! The workspace's settings page (admins and owners): how long finished files stay
//! downloadable, within the operator's maximum. The same rules serve the JSON API.

use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// The workspace's settings as the page and the API show them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceSettings {
    pub id: i64,
    pub name: String,
    /// Hours a finished file stays downloadable (`null`: the operator's default).
    pub retention_hours: Option<f64>,
    pub default_retention_hours: f64,
    /// The most a workspace may choose.
    pub max_retention_hours: f64,
}

#[cfg(feature = "ssr")]
pub mod rules {
    use super::WorkspaceSettings;
    use crate::accounts::ssr::Member;
    use crate::error::AppError;
    use crate::server::AppState;

    pub async fn get(state: &AppState, member: &Member) -> Result<WorkspaceSettings, AppError> {
        let store = state.store.as_ref();
        Ok(WorkspaceSettings {
            id: member.workspace_id,
            name: store.workspace_name(member.workspace_id).await?.unwrap_or_default(),
            retention_hours: store.workspace_retention(member.workspace_id).await?,
            default_retention_hours: state.settings.pipeline.retention_hours,
            max_retention_hours: state.settings.pipeline.max_retention_hours,
        })
    }

    /// Sets the retention (`None`: back to the operator's default); files finished from
    /// now on keep it.
    pub async fn set_retention(
        state: &AppState,
        member: &Member,
        hours: Option<f64>,
    ) -> Result<WorkspaceSettings, AppError> {
        if !member.role.manages_all_exports() {
            return Err(AppError::forbidden(
                "Only the workspace's admins and owners change its settings.",
            ));
        }
        let max = state.settings.pipeline.max_retention_hours;
        if let Some(h) = hours
            && !(h.is_finite() && h >= 1.0 && h <= max)
        {
            return Err(AppError::invalid(
                "retention_hours",
                format!("keep files from 1 to {max} hours (this Egress's maximum), or null for the default"),
            ));
        }
        state.store.set_workspace_retention(member.workspace_id, hours).await?;
        get(state, member).await
    }
}

#[leptos::server(prefix = "/rpc", endpoint = "workspace_settings")]
pub async fn read_workspace_settings() -> Result<WorkspaceSettings, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::get(&crate::accounts::ssr::state(), &member).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "set_retention")]
pub async fn set_retention(hours: Option<f64>) -> Result<WorkspaceSettings, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::set_retention(&crate::accounts::ssr::state(), &member, hours).await
    })
    .await
}

#[component]
pub fn WorkspacePage() -> impl IntoView {
    let hours = RwSignal::new(String::new());
    let save = Action::new(|hours: &Option<f64>| {
        let hours = *hours;
        async move { set_retention(hours).await }
    });
    let settings = Resource::new(move || save.version().get(), |_| read_workspace_settings());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = hours.get_untracked();
        let text = text.trim();
        // Empty: the default; anything else the server checks (NaN is refused there).
        save.dispatch((!text.is_empty()).then(|| text.parse().unwrap_or(f64::NAN)));
    };
    view! {
        <Title text="Workspace settings" />
        <section class="webhooks">
            <h1>"Workspace settings"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || settings.get().map(|r| match r {
                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Ok(s) => view! {
                        <p class="lede" data-testid="retention">
                            {match s.retention_hours {
                                Some(h) => format!("{}: finished files stay downloadable for {h} hours.", s.name),
                                None => format!("{}: finished files stay downloadable for {} hours (this Egress's default).", s.name, s.default_retention_hours),
                            }}
                        </p>
                        <p class="hint">{format!("Up to {} hours. Files finished from now on keep the new time.", s.max_retention_hours)}</p>
                    }.into_any(),
                })}
            </Transition>
            <form class="stack token-form" on:submit=submit aria-label="Retention">
                <label for="retention-hours">"Keep files for (hours; empty for the default)"</label>
                <input id="retention-hours" inputmode="decimal" bind:value=hours />
                {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
                <button type="submit" class="primary" disabled=move || save.pending().get()>"Save"</button>
            </form>
            <crate::accounts::people::PeoplePanel />
        </section>
    }
}
