//! What to plan: method and budgets, and the Plan button.

use labelplan_core::plan::Method;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::state::PlanForm;

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
}

/// Method picker, budgets field and the Plan button.
#[function_component]
pub fn PlanFormPanel(props: &PlanFormProps) -> Html {
    let on_method = {
        let (form, cb) = (props.form.clone(), props.on_change.clone());
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            if let Ok(method) = select.value().parse::<Method>() {
                cb.emit(PlanForm { method, ..form.clone() });
            }
        })
    };
    let on_budgets = {
        let (form, cb) = (props.form.clone(), props.on_change.clone());
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            cb.emit(PlanForm { budgets: input.value(), ..form.clone() });
        })
    };
    let on_plan = props.on_plan.reform(|_: MouseEvent| ());
    let current = props.form.method;
    html! {
        <section class="plan-form" data-testid="plan-form">
            <div class="plan-row">
                <label>
                    { "Method " }
                    <select onchange={on_method} data-testid="method">
                        { for Method::ALL.iter().map(|m| html! {
                            <option value={m.name()} selected={*m == current}>{ m.name() }</option>
                        }) }
                    </select>
                </label>
                <label>
                    { "Budgets " }
                    <input type="text" value={props.form.budgets.clone()} oninput={on_budgets}
                        placeholder="e.g. 5%, 200" data-testid="budgets" />
                </label>
                <button onclick={on_plan} disabled={props.busy} data-testid="plan">{ "Plan" }</button>
            </div>
            <p class="hint">{ current.explain() }</p>
        </section>
    }
}
