//! The inputs of a dataset's filters, built from their declarations: both the data
//! page's filter form (a GET form, so the values live in the URL) and the export dialog
//! (whose values live in a signal) show them.

use crate::catalog::{Dataset, Filter, FilterKind, FilterValues};
use leptos::prelude::*;

/// One input: its parameter, its label, and how it is entered.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub param: String,
    pub label: String,
    pub input: Input,
    /// For `values_from_data` filters: the data offers the values.
    pub offered_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Date,
    Number,
    Text { placeholder: &'static str },
    Choice(Vec<String>),
}

/// The inputs of one filter, in order.
pub fn fields(filter: &Filter) -> Vec<Field> {
    let params = filter.kind.params(&filter.id);
    let field = |param: &str, label: String, input: Input| Field {
        param: param.to_owned(),
        label,
        input,
        offered_by: filter.values_from_data.then(|| filter.id.clone()),
    };
    match filter.kind {
        FilterKind::TimeRange => vec![
            field(&params[0], format!("{} from", filter.label), Input::Date),
            field(&params[1], format!("{} to", filter.label), Input::Date),
        ],
        FilterKind::NumberRange => vec![
            field(&params[0], format!("{} at least", filter.label), Input::Number),
            field(&params[1], format!("{} at most", filter.label), Input::Number),
        ],
        FilterKind::OneOf if !filter.values.is_empty() => {
            vec![field(
                &params[0],
                filter.label.clone(),
                Input::Choice(filter.values.clone()),
            )]
        }
        FilterKind::ListContains => vec![field(
            &params[0],
            filter.label.clone(),
            Input::Text {
                placeholder: "e.g. vip",
            },
        )],
        FilterKind::TextSearch => vec![field(
            &params[0],
            filter.label.clone(),
            Input::Text {
                placeholder: "starts with…",
            },
        )],
        _ => vec![field(&params[0], filter.label.clone(), Input::Text { placeholder: "" })],
    }
}

/// Every input of a dataset's filters.
pub fn all_fields(dataset: &Dataset) -> Vec<Field> {
    dataset.filters.iter().flat_map(fields).collect()
}

/// What a date input shows of a value that may be a whole RFC 3339 time.
fn date_part(value: &str) -> String {
    value.chars().take(10).collect()
}

/// Fills a `<datalist>` with the values the data offers, once the page runs (no
/// suspense: the input works before they arrive).
fn offer_values(dataset: String, filter: String, options: RwSignal<Vec<String>>) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        if let Ok(values) = super::offered_values(dataset, filter).await {
            options.set(values);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (dataset, filter, options);
}

/// One filter input. With `value` it is controlled by that signal (the dialog); without
/// it, a plain named input with `initial` (the page's GET form).
#[component]
pub fn FilterField(
    dataset: String,
    field: Field,
    /// The element id prefix, so the page and the dialog do not share ids.
    prefix: &'static str,
    initial: String,
    #[prop(optional)] value: Option<RwSignal<FilterValues>>,
    /// The server's complaint about this field, shown under it.
    #[prop(optional, into)]
    error: Option<Signal<Option<String>>>,
) -> impl IntoView {
    let id = format!("{prefix}{}", field.param);
    let error_id = format!("filters-{}", field.param);
    let param = field.param.clone();
    let current = move || match value {
        Some(values) => values.with(|v| v.get(&param).cloned().unwrap_or_default()),
        None => initial.clone(),
    };
    let set = {
        let param = field.param.clone();
        move |text: String| {
            if let Some(values) = value {
                values.update(|v| {
                    v.insert(param.clone(), text);
                });
            }
        }
    };
    let name = value.is_none().then(|| field.param.clone());
    let list = field.offered_by.as_ref().map(|_| format!("{id}-values"));
    let options = RwSignal::new(Vec::<String>::new());
    if let Some(filter) = field.offered_by.clone() {
        offer_values(dataset, filter, options);
    }
    let input = match field.input.clone() {
        Input::Choice(values) => {
            let any = format!("Any {}", field.label.to_lowercase());
            let set = set.clone();
            let current = current.clone();
            view! {
                <select id=id.clone() name=name on:change=move |ev| set(event_target_value(&ev)) prop:value=current.clone()>
                    <option value="">{any}</option>
                    {values
                        .into_iter()
                        .map(|v| {
                            let selected = current() == v;
                            view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
                        })
                        .collect_view()}
                </select>
            }
            .into_any()
        }
        input => {
            let (kind, step, placeholder) = match input {
                Input::Date => ("date", None, ""),
                Input::Number => ("number", Some("any"), ""),
                Input::Text { placeholder } => ("text", None, placeholder),
                Input::Choice(_) => unreachable!("handled above"),
            };
            let shown = move || {
                let v = current();
                if kind == "date" { date_part(&v) } else { v }
            };
            view! {
                <input
                    id=id.clone()
                    name=name
                    type=kind
                    step=step
                    list=list.clone()
                    placeholder=placeholder
                    prop:value=shown.clone()
                    value=shown()
                    on:input=move |ev| set(event_target_value(&ev))
                />
            }
            .into_any()
        }
    };
    view! {
        <div class="field">
            <label for=id.clone()>{field.label.clone()}</label>
            {input}
            {list.map(|list| view! {
                <datalist id=list>
                    {move || options.get().into_iter().map(|v| view! { <option value=v></option> }).collect_view()}
                </datalist>
            })}
            {move || error.and_then(|e| e.get()).map(|m| view! { <p class="field-error" id=format!("{error_id}-error")>{m}</p> })}
        </div>
    }
}
