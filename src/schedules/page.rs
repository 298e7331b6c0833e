//! The schedules page: make or edit a schedule (name, dataset, format, cadence, time
//! zone, changes only, delivery), see each one's next run and its history of runs with
//! links to their exports, and pause, resume, run now or delete it. Filters and columns
//! are saved through the API; editing on the page keeps them.

use super::{
    Cadence, Last, MonthDay, ScheduleRequest, ScheduleView, WEEKDAYS, act_on_schedule, list_schedules, save_schedule,
};
use crate::catalog::CatalogResource;
use crate::exports::NewExport;
use crate::formats::Format;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The cadence the form describes.
fn cadence(every: &str, at: String, weekday: String, day: &str, minute: &str, expression: String) -> Cadence {
    match every {
        "hourly" => Cadence::Hourly {
            minute: minute.trim().parse().unwrap_or(u8::MAX),
        },
        "weekly" => Cadence::Weekly { weekday, at },
        "monthly" => Cadence::Monthly {
            day: match day.trim() {
                "last" => MonthDay::Last(Last::Last),
                d => MonthDay::Day(d.parse().unwrap_or(u8::MAX)),
            },
            at,
        },
        "cron" => Cadence::Cron { expression },
        _ => Cadence::Daily { at },
    }
}

/// The browser's time zone (an IANA name), the form's default.
#[cfg(feature = "hydrate")]
fn browser_time_zone() -> Option<String> {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()?
        .as_string()
}

#[component]
pub fn SchedulesPage() -> impl IntoView {
    let CatalogResource(catalog) = expect_context();
    let name = RwSignal::new(String::new());
    let dataset = RwSignal::new(String::new());
    let format = RwSignal::new("csv".to_owned());
    let every = RwSignal::new("weekly".to_owned());
    let at = RwSignal::new("09:00".to_owned());
    let weekday = RwSignal::new("monday".to_owned());
    let day = RwSignal::new("1".to_owned());
    let minute = RwSignal::new("0".to_owned());
    let expression = RwSignal::new("0 9 * * 1-5".to_owned());
    let time_zone = RwSignal::new("UTC".to_owned());
    let incremental = RwSignal::new(false);
    let deliver_to = RwSignal::new(String::new());
    let delivery_only = RwSignal::new(false);
    // Editing a schedule: its id, and its export as saved (the page keeps the filters,
    // columns and options it does not show; the API sets them).
    let editing = RwSignal::new(None::<i64>);
    let kept = RwSignal::new(None::<(NewExport, bool)>);
    let fill = move |s: &ScheduleView| {
        name.set(s.name.clone());
        dataset.set(s.export.dataset.clone());
        format.set(s.export.format.clone());
        time_zone.set(s.time_zone.clone());
        incremental.set(s.incremental);
        deliver_to.set(s.export.options.deliver_to.map(|d| d.to_string()).unwrap_or_default());
        delivery_only.set(s.export.options.delivery_only);
        match &s.cadence {
            Cadence::Hourly { minute: m } => {
                every.set("hourly".into());
                minute.set(m.to_string());
            }
            Cadence::Daily { at: a } => {
                every.set("daily".into());
                at.set(a.clone());
            }
            Cadence::Weekly { weekday: w, at: a } => {
                every.set("weekly".into());
                weekday.set(w.clone());
                at.set(a.clone());
            }
            Cadence::Monthly { day: d, at: a } => {
                every.set("monthly".into());
                day.set(match d {
                    MonthDay::Day(n) => n.to_string(),
                    MonthDay::Last(_) => "last".into(),
                });
                at.set(a.clone());
            }
            Cadence::Cron { expression: e } => {
                every.set("cron".into());
                expression.set(e.clone());
            }
        }
        kept.set(Some((s.export.clone(), s.paused)));
        editing.set(Some(s.id));
    };
    let stop_editing = move || {
        editing.set(None);
        kept.set(None);
        name.set(String::new());
    };
    // Times are most likely meant in the person's own zone: the form starts there.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(zone) = browser_time_zone()
            && time_zone.get_untracked() == "UTC"
        {
            time_zone.set(zone);
        }
    });
    let save = Action::new(|(id, request): &(Option<i64>, ScheduleRequest)| {
        let (id, request) = (*id, request.clone());
        async move { save_schedule(id, request).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            stop_editing();
        }
    });
    let act = Action::new(|(id, action): &(i64, &'static str)| {
        let (id, action) = (*id, action.to_string());
        async move { act_on_schedule(id, action).await }
    });
    // Reload after each change.
    let refresh = RwSignal::new(0u32);
    let schedules = Resource::new(
        move || (save.version().get(), act.version().get(), refresh.get()),
        |_| list_schedules(),
    );
    // While a run is pending or running, look again every two seconds.
    Effect::new(move |_| {
        let running = schedules.get().and_then(|r| r.ok()).is_some_and(|list| {
            list.iter()
                .flat_map(|s| &s.runs)
                .any(|r| r.status.is_some_and(|s| s.is_active()))
        });
        if running {
            set_timeout(move || refresh.update(|n| *n += 1), std::time::Duration::from_secs(2));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = dataset.get_untracked();
        let chosen = if chosen.is_empty() {
            catalog
                .get_untracked()
                .and_then(|c| c.ok())
                .and_then(|c| c.datasets.first().map(|d| d.id.clone()))
                .unwrap_or_default()
        } else {
            chosen
        };
        // An edited schedule keeps what the page does not show, unless its dataset changed.
        let (mut export, paused) = match kept.get_untracked() {
            Some((export, paused)) if export.dataset == chosen => (export, paused),
            other => (
                NewExport {
                    dataset: chosen,
                    format: String::new(),
                    filters: Default::default(),
                    columns: None,
                    options: Default::default(),
                },
                other.is_some_and(|(_, paused)| paused),
            ),
        };
        export.format = format.get_untracked();
        export.options.deliver_to = deliver_to.get_untracked().parse().ok();
        export.options.delivery_only = delivery_only.get_untracked() && export.options.deliver_to.is_some();
        save.dispatch((
            editing.get_untracked(),
            ScheduleRequest {
                name: name.get_untracked(),
                export,
                cadence: cadence(
                    &every.get_untracked(),
                    at.get_untracked(),
                    weekday.get_untracked(),
                    &day.get_untracked(),
                    &minute.get_untracked(),
                    expression.get_untracked(),
                ),
                time_zone: time_zone.get_untracked(),
                paused,
                incremental: incremental.get_untracked(),
            },
        ));
    };
    let shown = move |kinds: &'static [&'static str]| move || !kinds.contains(&every.get().as_str());
    view! {
        <Title text="Schedules" />
        <section class="schedules">
            <h1>"Schedules"</h1>
            <p class="lede">
                "A schedule runs the same export again and again: every hour, day, week or month at a time in your time zone, or on a cron expression. Each run is an ordinary export, with its progress, its email and its download."
            </p>
            <form class="stack token-form" on:submit=submit aria-label=move || if editing.get().is_some() { "Edit schedule" } else { "New schedule" }>
                {move || editing.get().map(|_| view! { <p class="notice" role="status">{format!("Editing {}", name.get_untracked())}</p> })}
                <label for="schedule-name">"Name"</label>
                <input id="schedule-name" required maxlength="100" placeholder="Weekly orders for finance" bind:value=name />
                <label for="schedule-dataset">"Dataset"</label>
                <select id="schedule-dataset" bind:value=dataset>
                    <Suspense>
                        {move || catalog.get().and_then(|c| c.ok()).map(|c| {
                            c.datasets.into_iter().map(|d| view! { <option value=d.id.clone()>{d.label.clone()}</option> }).collect_view()
                        })}
                    </Suspense>
                </select>
                <label for="schedule-format">"Format"</label>
                <select id="schedule-format" bind:value=format>
                    {Format::all().iter().map(|f| view! { <option value=f.id()>{f.label()}</option> }).collect_view()}
                </select>
                <label for="schedule-every">"Runs"</label>
                <select id="schedule-every" bind:value=every>
                    <option value="hourly">"Every hour"</option>
                    <option value="daily">"Every day"</option>
                    <option value="weekly">"Every week"</option>
                    <option value="monthly">"Every month"</option>
                    <option value="cron">"On a cron expression"</option>
                </select>
                <div class="field" hidden=shown(&["weekly"])>
                    <label for="schedule-weekday">"On"</label>
                    <select id="schedule-weekday" bind:value=weekday>
                        {WEEKDAYS.iter().map(|d| view! { <option value=*d>{d.to_string()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field" hidden=shown(&["monthly"])>
                    <label for="schedule-day">"Day of the month (1–28, or last)"</label>
                    <input id="schedule-day" bind:value=day />
                </div>
                <div class="field" hidden=shown(&["hourly"])>
                    <label for="schedule-minute">"Minute past the hour"</label>
                    <input id="schedule-minute" inputmode="numeric" bind:value=minute />
                </div>
                <div class="field" hidden=shown(&["daily", "weekly", "monthly"])>
                    <label for="schedule-at">"At (HH:MM)"</label>
                    <input id="schedule-at" type="time" bind:value=at />
                </div>
                <div class="field" hidden=shown(&["cron"])>
                    <label for="schedule-cron">"Cron expression (minute hour day month weekday)"</label>
                    <input id="schedule-cron" bind:value=expression />
                </div>
                <label for="schedule-tz">"Time zone (IANA name)"</label>
                <input id="schedule-tz" required placeholder="Europe/Berlin" bind:value=time_zone />
                <label class="check">
                    <input type="checkbox" bind:checked=incremental />
                    "Each run exports only the rows added or changed since the last run"
                </label>
                <crate::destinations::DeliverTo id="schedule-deliver-to" deliver_to delivery_only />
                {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || save.pending().get()>
                        {move || if editing.get().is_some() { "Save changes" } else { "Save schedule" }}
                    </button>
                    {move || editing.get().map(|_| view! {
                        <button type="button" class="ghost" on:click=move |_| stop_editing()>"Cancel editing"</button>
                    })}
                </div>
            </form>
            {move || act.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || schedules.get().map(|r| match r {
                    Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No schedules yet."</p> }.into_any(),
                    Ok(list) => list.into_iter().map(|s| {
                        let id = s.id;
                        let editable = s.clone();
                        let label = s.name.clone();
                        let (toggle, toggle_label) = if s.paused { ("resume", "Resume") } else { ("pause", "Pause") };
                        let kind = if s.incremental { " · changes only" } else { "" };
                        let next = match s.next_run_at {
                            Some(t) => format!("next run {}", when(&t)),
                            None => "paused".to_owned(),
                        };
                        view! {
                            <article class="endpoint schedule" aria-label=format!("Schedule {}", s.name)>
                                <h2>{s.name.clone()}</h2>
                                <p class="hint">
                                    {format!("{}{kind} · {} ({}) · {} · {} · by {}", s.export.dataset, s.description, s.time_zone, s.export.format.to_uppercase(), next, s.created_by)}
                                </p>
                                <div class="actions">
                                    <button type="button" class="ghost" aria-label=format!("Run {label} now") on:click=move |_| { act.dispatch((id, "run")); }>"Run now"</button>
                                    <button type="button" class="ghost" aria-label=format!("Edit {label}") on:click=move |_| fill(&editable)>"Edit"</button>
                                    <button type="button" class="ghost" aria-label=format!("{toggle_label} {label}") on:click=move |_| { act.dispatch((id, toggle)); }>{toggle_label}</button>
                                    <button type="button" class="ghost danger" aria-label=format!("Delete {label}") on:click=move |_| { act.dispatch((id, "delete")); }>"Delete"</button>
                                </div>
                                {if s.runs.is_empty() {
                                    view! { <p class="empty">"No runs yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="table-wrap" tabindex="0" role="region" aria-label=format!("Runs of {label}")>
                                            <table class="data">
                                                <thead><tr>
                                                    <th scope="col">"Due"</th><th scope="col">"Outcome"</th><th scope="col">"Rows"</th><th scope="col">"Export"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {s.runs.into_iter().map(|run| {
                                                        let outcome = match (&run.status, &run.note) {
                                                            (Some(status), _) => status.id().to_owned(),
                                                            (None, Some(note)) => note.clone(),
                                                            (None, None) => run.outcome.clone(),
                                                        };
                                                        let link = run.export_id.clone().map(|id| {
                                                            let download = run.status.filter(|s| *s == crate::exports::JobStatus::Completed).map(|_| {
                                                                view! { " · " <a href=format!("/exports/{id}/download") rel="external">"Download"</a> }
                                                            });
                                                            view! { <a href="/exports">"Exports"</a> {download} }
                                                        });
                                                        view! {
                                                            <tr data-outcome=run.outcome.clone()>
                                                                <td>{when(&run.due_at)}</td>
                                                                <td>{outcome}{run.error.map(|e| format!(": {e}"))}</td>
                                                                <td>{run.rows.map_or("—".to_owned(), |r| r.to_string())}</td>
                                                                <td>{link}</td>
                                                            </tr>
                                                        }
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
