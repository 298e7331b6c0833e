//! Log-in and sign-up pages, the workspace switcher and the log-out button.

use super::{Login, Logout, SignInWays, Signup, SwitchWorkspace, Viewer, sign_in_options};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The error of the last submission, if it failed.
fn failure<T: Clone + Send + Sync + 'static>(
    value: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        value().and_then(Result::err).map(|e| {
            view! { <p class="form-error" role="alert">{e.message}</p> }
        })
    }
}

/// How people sign in here, for the links and the pages.
fn options() -> Resource<Result<SignInWays, AppError>> {
    Resource::new(|| (), |_| sign_in_options())
}

/// A password field with a show/hide toggle (it works once the page is hydrated).
#[component]
fn PasswordField(#[prop(into)] autocomplete: String, #[prop(optional)] hint: Option<&'static str>) -> impl IntoView {
    let visible = RwSignal::new(false);
    view! {
        <label for="password">"Password"</label>
        <div class="password">
            <input
                id="password"
                name="password"
                type=move || if visible.get() { "text" } else { "password" }
                autocomplete=autocomplete
                required
            />
            <button
                type="button"
                class="ghost"
                aria-controls="password"
                aria-pressed=move || visible.get().to_string()
                on:click=move |_| visible.update(|v| *v = !*v)
            >
                {move || if visible.get() { "Hide" } else { "Show" }}
            </button>
        </div>
        {hint.map(|h| view! { <p class="hint">{h}</p> })}
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let open = options();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    Effect::new(move |_| {
        if let Some(Ok(target)) = login.value().get() {
            let _ = window().location().set_href(&target);
        }
    });
    view! {
        <Title text="Log in" />
        <section class="auth">
            <h1>"Log in to Egress"</h1>
            <ActionForm action=login attr:class="stack" attr:aria-label="Log in">
                <input type="hidden" name="next" prop:value=next />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required />
                <PasswordField autocomplete="current-password" />
                {failure(move || login.value().get())}
                <button type="submit" class="primary" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Logging in…" } else { "Log in" }}
                </button>
            </ActionForm>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let options = open.await.ok();
                    view! {
                        {options.is_some_and(|o| !o.password).then(|| view! {
                            <p class="notice" role="status">
                                "Password sign-in is off here: open Egress from the product you use."
                            </p>
                        })}
                        {options.is_some_and(|o| o.signup).then(|| view! {
                            <p class="switch">"New here? " <a href="/signup">"Create an account"</a></p>
                        })}
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let open = options();
    view! {
        <Title text="Sign up" />
        <section class="auth">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    if open.await.is_ok_and(|o| o.signup) {
                        view! { <SignupForm /> }.into_any()
                    } else {
                        view! {
                            <h1>"Sign-up is closed"</h1>
                            <p>
                                "New accounts on this Egress are made by its administrators. Ask an admin of your workspace to add you."
                            </p>
                            <p class="switch">"Already have an account? " <a href="/login">"Log in"</a></p>
                        }
                        .into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SignupForm() -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    view! {
        <h1>"Create your workspace"</h1>
        <ActionForm action=signup attr:class="stack" attr:aria-label="Sign up">
            <label for="workspace">"Workspace name"</label>
            <input id="workspace" name="workspace" autocomplete="organization" required />
            <label for="name">"Your name"</label>
            <input id="name" name="name" autocomplete="name" required />
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" required />
            <PasswordField autocomplete="new-password" hint="At least 10 characters." />
            {failure(move || signup.value().get())}
            <button type="submit" class="primary" disabled=move || signup.pending().get()>
                "Create account"
            </button>
        </ActionForm>
        <p class="switch">"Already have an account? " <a href="/login">"Log in"</a></p>
    }
}

#[component]
pub fn LogoutButton() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <ActionForm action=logout attr:class="inline">
            <button type="submit" class="ghost">"Log out"</button>
        </ActionForm>
    }
}

/// Lists the user's workspaces; choosing one switches to it.
#[component]
pub fn WorkspaceSwitcher(viewer: Viewer) -> impl IntoView {
    let switch = ServerAction::<SwitchWorkspace>::new();
    if viewer.workspaces.len() < 2 {
        return view! { <span class="workspace">{viewer.workspace.workspace_name}</span> }.into_any();
    }
    let current = viewer.workspace.workspace_id;
    // Every page shows the workspace's data: after a switch, load the page again.
    Effect::new(move |_| {
        if let Some(Ok(())) = switch.value().get() {
            let _ = window().location().reload();
        }
    });
    view! {
        <ActionForm action=switch attr:class="inline workspace-switcher">
            <label for="workspace-switch" class="visually-hidden">"Workspace"</label>
            <select
                id="workspace-switch"
                name="workspace_id"
                on:change=move |ev| {
                    if let Ok(id) = event_target_value(&ev).parse::<i64>() {
                        switch.dispatch(SwitchWorkspace { workspace_id: id });
                    }
                }
            >
                {viewer
                    .workspaces
                    .iter()
                    .map(|m| {
                        view! {
                            <option value=m.workspace_id.to_string() selected=m.workspace_id == current>
                                {m.workspace_name.clone()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <noscript>
                <button type="submit" class="ghost">"Switch"</button>
            </noscript>
        </ActionForm>
    }
    .into_any()
}
