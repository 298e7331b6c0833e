//! The people of a workspace, and taking someone out of it: an admin on the settings
//! page or through `DELETE /api/members/{id}`, the operator with `egress member
//! remove`, or the host product with a hand-off whose role is `none`. Whichever way, the
//! membership goes, the tokens they made there are revoked, their streams of it end (at
//! once on this node, within `streams::ACCESS_CHECK` on others), and every later request
//! of their sessions no longer reaches the workspace.

use super::Role;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A member of a workspace as the settings page and the API list them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::Person;
    use crate::accounts::Role;
    use crate::accounts::ssr::Member;
    use crate::error::AppError;
    use crate::server::AppState;
    use crate::store::Removal;

    fn may_manage(member: &Member) -> Result<(), AppError> {
        crate::accounts::roles::may_manage(member.role, "its people").map_err(AppError::forbidden)
    }

    pub async fn list(state: &AppState, member: &Member) -> Result<Vec<Person>, AppError> {
        may_manage(member)?;
        Ok(state.store.workspace_people(member.workspace_id).await?)
    }

    /// Takes `user_id` out of `workspace_id`, with everything that goes with it (see the
    /// module's comment): 404 when they are not a member, 409 for the last owner.
    pub async fn remove(state: &AppState, workspace_id: i64, user_id: i64) -> Result<(), AppError> {
        let removal = state
            .store
            .remove_membership(workspace_id, user_id, chrono::Utc::now().timestamp())
            .await?;
        state.streams.recheck();
        match removal {
            Removal::Removed => Ok(()),
            Removal::NotAMember => Err(AppError::not_found("There is no such person in this workspace.")),
            Removal::LastOwner => Err(AppError::new(
                crate::error::ErrorCode::Conflict,
                "This is the workspace's last owner: make someone else an owner first.",
            )),
        }
    }

    /// An admin takes someone out: admins remove members and admins, only owners remove
    /// owners, and the last owner stays.
    pub async fn remove_by(state: &AppState, member: &Member, user_id: i64) -> Result<(), AppError> {
        may_manage(member)?;
        let people = state.store.workspace_people(member.workspace_id).await?;
        let person = people
            .iter()
            .find(|p| p.user_id == user_id)
            .ok_or_else(|| AppError::not_found("There is no such person in this workspace."))?;
        if person.role == Role::Owner && member.role != Role::Owner {
            return Err(AppError::forbidden("Only an owner can remove an owner."));
        }
        remove(state, member.workspace_id, user_id).await?;
        tracing::info!(
            user = user_id,
            workspace = member.workspace_id,
            by = member.user_id,
            "removed from the workspace"
        );
        Ok(())
    }
}

#[leptos::server(prefix = "/rpc", endpoint = "list_people")]
pub async fn list_people() -> Result<Vec<Person>, AppError> {
    crate::error::server_fn(async move {
        let member = super::ssr::require_member().await?;
        ssr::list(&super::ssr::state(), &member).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "remove_person")]
pub async fn remove_person(user_id: i64) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        let member = super::ssr::require_member().await?;
        ssr::remove_by(&super::ssr::state(), &member, user_id).await
    })
    .await
}

/// The settings page's list of people, each with a Remove button that asks once more.
#[component]
pub fn PeoplePanel() -> impl IntoView {
    let remove = Action::new(|id: &i64| {
        let id = *id;
        async move { remove_person(id).await }
    });
    let people = Resource::new(move || remove.version().get(), |_| list_people());
    // The person whose removal waits for a second click.
    let asking = RwSignal::new(None::<i64>);
    view! {
        {move || remove.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || people.get().map(|r| match r {
                // Members may not manage people: for them the panel is not there at all.
                Err(e) if e.code == crate::error::ErrorCode::Forbidden => ().into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                Ok(list) => view! {
                    <h2>"People"</h2>
                    <p class="hint">"Removing someone ends their access here at once: their open pages, progress streams and API tokens of this workspace stop working."</p>
                    <div class="table-wrap" tabindex="0" role="region" aria-label="People">
                        <table class="data">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|p| {
                                    let id = p.user_id;
                                    let email = p.email.clone();
                                    view! {
                                        <tr data-email=p.email.clone()>
                                            <td>{p.name.clone()}</td>
                                            <td>{p.email.clone()}</td>
                                            <td>{p.role.id()}</td>
                                            <td>{move || if asking.get() == Some(id) {
                                                view! {
                                                    <button type="button" class="primary" on:click=move |_| { asking.set(None); remove.dispatch(id); }>{format!("Remove {email}")}</button>
                                                    <button type="button" class="ghost" on:click=move |_| asking.set(None)>"Keep"</button>
                                                }.into_any()
                                            } else {
                                                view! { <button type="button" class="ghost" on:click=move |_| asking.set(Some(id))>"Remove"</button> }.into_any()
                                            }}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            })}
        </Transition>
    }
}
