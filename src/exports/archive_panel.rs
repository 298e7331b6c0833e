//! "All my data" on the exports page: one zip of everything about the person asking (the
//! datasets that declare a subject), or — for admins and owners — of the whole workspace,
//! each dataset in the chosen format with a README data dictionary and a manifest.

use super::{ArchiveRequest, ArchiveScope, request_archive};
use crate::formats::Format;
use leptos::prelude::*;

#[component]
pub fn ArchivePanel(#[prop(into)] on_requested: Callback<()>) -> impl IntoView {
    let crate::app::ViewerResource(viewer) = expect_context();
    let format = RwSignal::new("csv".to_owned());
    let ask = Action::new(move |scope: &ArchiveScope| {
        let request = ArchiveRequest {
            scope: *scope,
            format: format.get_untracked(),
            bom: false,
        };
        async move { request_archive(request).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = ask.value().get() {
            on_requested.run(());
        }
    });
    let admin = move || {
        viewer
            .get()
            .and_then(Result::ok)
            .flatten()
            .is_some_and(|v| v.workspace.role.manages_all_exports())
    };
    view! {
        <details class="archive-panel">
            <summary>"All my data, in one archive"</summary>
            <p class="hint">
                "One zip with a file per dataset, a README that explains every column, and a manifest of the files. "
                "\u{201c}Everything about me\u{201d} holds only the records about you (by your email)."
            </p>
            <label for="archive-format">"Format of each file"</label>
            <select id="archive-format" prop:value=move || format.get() on:change=move |ev| format.set(event_target_value(&ev))>
                {Format::all().iter().map(|f| view! { <option value=f.id()>{f.label()}</option> }).collect_view()}
            </select>
            <div class="actions">
                <button type="button" class="primary" disabled=move || ask.pending().get()
                    on:click=move |_| { ask.dispatch(ArchiveScope::Me); }>"Everything about me"</button>
                <Transition fallback=|| ()>
                    {move || admin().then(|| view! {
                        <button type="button" class="ghost" disabled=move || ask.pending().get()
                            on:click=move |_| { ask.dispatch(ArchiveScope::Workspace); }>"The whole workspace"</button>
                    })}
                </Transition>
            </div>
            {move || ask.value().get().map(|r| match r {
                Ok(_) => view! { <p class="notice" role="status">"Archive requested: it is in the list below, and you get an email when it is ready."</p> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
            })}
        </details>
    }
}
