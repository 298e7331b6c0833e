//! "Your export is ready" notices: every page listens to the workspace's export updates,
//! so an export started in another tab announces itself here when it completes.

use super::{JobStatus, Progress};
use crate::catalog::CatalogResource;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The jobs a dialog on this page follows; they need no notice.
#[derive(Clone, Copy)]
pub struct FollowedExports(pub RwSignal<Vec<String>>);

#[derive(Clone, Debug, PartialEq)]
struct Toast {
    id: String,
    label: String,
}

#[component]
pub fn ExportToasts() -> impl IntoView {
    let CatalogResource(catalog) = expect_context();
    let toasts = RwSignal::new(Vec::<Toast>::new());
    let update = RwSignal::new(None::<Progress>);
    // Set when the server ends the stream because the session may no longer see the
    // workspace (signed out elsewhere, or removed from it): the page says so at once.
    let ended = RwSignal::new(false);
    let FollowedExports(followed) = expect_context();
    let location = use_location();
    Effect::new(move |_| {
        let Some(p) = update.get() else { return };
        if p.status != JobStatus::Completed {
            return;
        }
        // A job started on this page may finish before its dialog has shown it: decide a
        // moment later, and only for jobs no dialog here follows.
        set_timeout(
            move || {
                let followed_here = followed.with_untracked(|f| f.contains(&p.id));
                if followed_here || toasts.with_untracked(|t| t.iter().any(|x| x.id == p.id)) {
                    return;
                }
                let label = catalog
                    .get_untracked()
                    .and_then(Result::ok)
                    .map_or_else(|| p.dataset.clone(), |c| super::dataset_label(&c, &p.dataset, true));
                toasts.update(|t| {
                    t.push(Toast {
                        id: p.id.clone(),
                        label,
                    });
                    if t.len() > 3 {
                        t.remove(0);
                    }
                });
            },
            std::time::Duration::from_millis(1500),
        );
    });
    // Connect again on every navigation: the stream needs a session, which may have just begun.
    Effect::new(move |_| {
        let _ = location.pathname.get();
        listen(update, ended);
    });
    view! {
        <Show when=move || ended.get()>
            <div class="notice access-ended" role="alert">
                "Your access to this workspace has ended (you were signed out or removed from it). "
                <a href="/" rel="external">"Reload"</a>
            </div>
        </Show>
        <div class="toasts" aria-live="polite">
            <For each=move || toasts.get() key=|t| t.id.clone() let:toast>
                <div class="toast" role="status">
                    <span>{format!("Your {} export is ready.", toast.label.to_lowercase())}</span>
                    <a class="button primary" href=format!("/exports/{}/download", toast.id) rel="external">"Download"</a>
                    <button
                        type="button"
                        class="ghost"
                        aria-label="Dismiss"
                        on:click={
                            let id = toast.id.clone();
                            move |_| toasts.update(|t| t.retain(|x| x.id != id))
                        }
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}

fn listen(update: RwSignal<Option<Progress>>, ended: RwSignal<bool>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let Ok(source) = web_sys::EventSource::new("/api/exports/events") else {
            return;
        };
        let on_progress = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(p) = ev
                .data()
                .as_string()
                .and_then(|t| serde_json::from_str::<Progress>(&t).ok())
            {
                update.set(Some(p));
            }
        });
        // A dropped connection (a node restarting) reconnects by itself, to another node;
        // a refusal (signed out: 401) ends the stream. A server gone for good is given up
        // after ten tries in a row, not retried every few seconds for as long as the tab
        // stays open.
        let failures = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let closer = source.clone();
        let counted = failures.clone();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            counted.set(counted.get() + 1);
            if counted.get() >= 10 {
                closer.close();
            }
        });
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| failures.set(0));
        let ender = source.clone();
        let on_end = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
            ender.close();
            ended.set(true);
        });
        let _ = source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
        on_end.forget();
        let _ = source.add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
        on_progress.forget();
        on_error.forget();
        on_open.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (update, ended);
}
