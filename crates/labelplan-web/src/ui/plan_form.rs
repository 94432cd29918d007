//! What to plan: method and budgets up front, every other setting under "All settings"
//! (each with its help, its default and, when refused, why, in place), and the Plan
//! button.

use labelplan_core::plan::{Method, ScoreKind, Settings, Storage};
use labelplan_core::settings::{self, Field, FIELDS};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::form::PlanForm;

/// Props of [`PlanFormPanel`].
#[derive(Properties, PartialEq)]
pub struct PlanFormProps {
    /// Current plan settings.
    pub form: PlanForm,
    /// Plan settings changed.
    pub on_change: Callback<PlanForm>,
    /// "Plan" clicked.
    pub on_plan: Callback<()>,
    /// A request is running.
    pub busy: bool,
    /// A setting the engine refused at the last plan (its key) and why: shown at the
    /// field until the form changes.
    #[prop_or_default]
    pub refused: Option<(String, String)>,
}

/// The settings shown above the fold; the rest go under "All settings".
const UP_FRONT: [&str; 2] = ["method", "budget"];

/// The choices of a setting that has a fixed set of values.
fn choices(key: &str) -> Option<Vec<&'static str>> {
    match key {
        "method" => Some(Method::ALL.iter().map(|m| m.name()).collect()),
        "head" => Some(vec!["linear", "mlp"]),
        "score" => Some(ScoreKind::ALL.iter().map(|s| s.name()).collect()),
        "storage" => Some(Storage::ALL.iter().map(|s| s.name()).collect()),
        _ => None,
    }
}

/// One setting: its label, a select or a text box, its help and default, and why its
/// text is refused.
fn setting(field: &'static Field, props: &PlanFormProps) -> Html {
    let (form, on_change) = (&props.form, &props.on_change);
    let key = field.key;
    let text = form.text(key).to_owned();
    let refused = props.refused.as_ref().filter(|(k, _)| k == key).map(|(_, why)| why.clone());
    let error = form.error(key).or(refused);
    let default = (field.get)(&Settings::default());
    let control = match choices(key) {
        Some(values) => {
            let (form, cb) = (form.clone(), on_change.clone());
            let onchange = Callback::from(move |e: Event| {
                let select: HtmlSelectElement = e.target_unchecked_into();
                cb.emit(form.with(key, select.value()));
            });
            html! {
                <select id={format!("setting-{key}")} {onchange} data-testid={testid(key)}>
                    { for values.into_iter().map(|v| html! { <option value={v} selected={v == text}>{ v }</option> }) }
                </select>
            }
        }
        None => {
            let (form, cb) = (form.clone(), on_change.clone());
            let oninput = Callback::from(move |e: InputEvent| {
                let input: HtmlInputElement = e.target_unchecked_into();
                cb.emit(form.with(key, input.value()));
            });
            let placeholder = if default.is_empty() { "automatic".to_owned() } else { default.clone() };
            html! {
                <input type="text" id={format!("setting-{key}")} value={text} {oninput} {placeholder}
                    aria-invalid={error.is_some().to_string()} aria-describedby={format!("help-{key}")}
                    data-testid={testid(key)} />
            }
        }
    };
    let default_words = if default.is_empty() { "none or automatic".to_owned() } else { default };
    html! {
        <div class={classes!("setting", error.is_some().then_some("refused"))}>
            <label for={format!("setting-{key}")}>{ field.label }</label>
            { control }
            <p class="help" id={format!("help-{key}")}>
                { field.help }{ " · default: " }<span class="default">{ default_words }</span>
            </p>
            if let Some(message) = error {
                <p class="field-error" role="alert" data-testid={format!("error-{key}")}>{ message }</p>
            }
        </div>
    }
}

/// The test id of a setting's control (the first two keep their original ids).
fn testid(key: &str) -> String {
    match key {
        "method" => "method".into(),
        "budget" => "budgets".into(),
        _ => format!("setting-{key}"),
    }
}

/// Method and budgets, every other setting under "All settings", and the Plan button.
#[function_component]
pub fn PlanFormPanel(props: &PlanFormProps) -> Html {
    let on_plan = props.on_plan.reform(|_: MouseEvent| ());
    let method: Option<Method> = props.form.text("method").parse().ok();
    let field = |key: &str| settings::field(key).expect("a setting");
    let refused_inside = props.refused.as_ref().is_some_and(|(key, _)| !UP_FRONT.contains(&key.as_str()));
    // Opened when the engine refused a setting in it, so the message is seen; never
    // closed from here (an `open` attribute would close what the user opened).
    let details = use_node_ref();
    {
        let details = details.clone();
        use_effect_with(refused_inside, move |&inside| {
            if let Some(d) = details.cast::<web_sys::HtmlDetailsElement>().filter(|_| inside) {
                d.set_open(true);
            }
        });
    }
    html! {
        <section class="plan-form" data-testid="plan-form">
            <div class="plan-row">
                { for UP_FRONT.iter().map(|key| setting(field(key), props)) }
                <button onclick={on_plan} disabled={props.busy} data-testid="plan">{ "Plan" }</button>
            </div>
            <p class="hint">{ method.map_or("", Method::explain) }</p>
            <details class="all-settings" data-testid="all-settings" ref={details}>
                <summary>{ "All settings" }</summary>
                <div class="settings-grid">
                    { for FIELDS.iter().filter(|f| !UP_FRONT.contains(&f.key)).map(|f| setting(f, props)) }
                </div>
            </details>
        </section>
    }
}
