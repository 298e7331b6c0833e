//! The page shell, the routes, and the layout around every signed-in page.

use crate::accounts::{self, LoginPage, LogoutButton, SignupPage, Viewer, WorkspaceSwitcher};
use crate::catalog::{CatalogResource, visible_catalog};
use crate::datasets::DatasetPage;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The page's Content-Security-Policy names the nonce Leptos puts on its scripts.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(policy) = axum::http::HeaderValue::from_str(&crate::server::middleware::page_csp(&nonce))
    {
        response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/png" href="/favicon.png" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The signed-in user, loaded once per page and shared with every component.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, crate::error::AppError>>);

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/egress.css" />
        <Title formatter=|text: String| if text.is_empty() { "Egress".to_owned() } else { format!("{text} · Egress") } />
        <Router>
            <Layout />
        </Router>
    }
}

#[component]
fn Layout() -> impl IntoView {
    // Loaded again on every navigation, so that logging in or out shows at once.
    let location = use_location();
    let viewer = Resource::new(move || location.pathname.get(), |_| accounts::current_viewer());
    provide_context(ViewerResource(viewer));
    // The datasets the viewer may see, once per page load (a sign-in or a switch of
    // workspace loads the page again).
    provide_context(CatalogResource(Resource::new(|| (), |_| visible_catalog())));
    provide_context(crate::exports::FollowedExports(RwSignal::new(Vec::new())));
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <Header />
        <crate::exports::ExportToasts />
        <main id="main">
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home />
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/signup") view=SignupPage />
                <Route path=path!("/data/:dataset") view=DatasetPage />
                <Route path=path!("/exports") view=crate::exports::ExportsPage />
                <Route path=path!("/settings/tokens") view=crate::accounts::api_tokens::TokensPage />
                <Route path=path!("/settings/webhooks") view=crate::webhooks::WebhooksPage />
                <Route path=path!("/settings/destinations") view=crate::destinations::DestinationsPage />
                <Route path=path!("/schedules") view=crate::schedules::SchedulesPage />
                <Route path=path!("/settings/workspace") view=crate::workspace::WorkspacePage />
            </Routes>
        </main>
    }
}

#[component]
fn Header() -> impl IntoView {
    let ViewerResource(viewer) = expect_context();
    let CatalogResource(catalog) = expect_context();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Egress"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let datasets = catalog.await.map(|c| c.datasets).unwrap_or_default();
                    match viewer.await {
                        Ok(Some(v)) => view! {
                            <nav class="datasets" aria-label="Datasets">
                                {datasets
                                    .into_iter()
                                    .map(|d| view! { <A href=format!("/data/{}", d.id)>{d.label.clone()}</A> })
                                    .collect_view()}
                                <A href="/exports">"Exports"</A>
                                <A href="/schedules">"Schedules"</A>
                                {v.workspace.role.manages_all_exports().then(|| view! {
                                    <A href="/settings/tokens">"API tokens"</A>
                                    <A href="/settings/webhooks">"Webhooks"</A>
                                    <A href="/settings/destinations">"Destinations"</A>
                                    <A href="/settings/workspace">"Settings"</A>
                                })}
                            </nav>
                            <div class="account">
                                <WorkspaceSwitcher viewer=v.clone() />
                                <span class="who" title=v.email.clone()>{v.name.clone()}</span>
                                <LogoutButton />
                            </div>
                        }
                        .into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}

#[component]
fn Home() -> impl IntoView {
    let CatalogResource(catalog) = expect_context();
    view! {
        <Title text="Your data" />
        <section class="home">
            <h1>"Your data"</h1>
            <p class="lede">
                "Browse a dataset, narrow it down with filters, and export exactly those rows."
            </p>
            <Suspense fallback=|| ()>
            <ul class="cards">
                {move || Suspend::new(async move {
                    catalog.await.map(|c| c.datasets).unwrap_or_default()
                    .into_iter()
                    .map(|d| {
                        view! {
                            <li class="card">
                                <A href=format!("/data/{}", d.id)>
                                    <span class="card-title">{d.label.clone()}</span>
                                    <span class="card-meta">
                                        {if d.description.is_empty() { format!("{} columns", d.columns.len()) } else { d.description.clone() }}
                                    </span>
                                </A>
                            </li>
                        }
                    })
                    .collect_view()
                })}
            </ul>
            </Suspense>
        </section>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Go to your data"</a></p>
        </section>
    }
}
