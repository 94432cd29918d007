//! Where compute runs, in the header: the badge (WebGPU and the adapter, or the CPU),
//! why (the probe's times, the user's choice, no WebGPU), and the choice itself.

use labelplan_run::BackendPolicy;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::protocol::BackendStatus;

/// Props of [`Badge`].
#[derive(Properties, PartialEq)]
pub struct BadgeProps {
    /// Where plans run, once the worker has said.
    pub backend: Option<BackendStatus>,
    /// The user's choice.
    pub policy: BackendPolicy,
    /// The user chose another.
    pub on_backend: Callback<BackendPolicy>,
}

/// The menu's words for a policy.
fn label(policy: BackendPolicy) -> &'static str {
    match policy {
        BackendPolicy::Auto => "Auto (the faster, measured)",
        BackendPolicy::Gpu => "WebGPU",
        BackendPolicy::Cpu => "CPU",
    }
}

/// "WebGPU: <adapter>" or "CPU", why, and a menu to force either.
#[function_component]
pub fn Badge(props: &BadgeProps) -> Html {
    let Some(status) = &props.backend else {
        return html! { <span class="badge pending" data-testid="backend">{ "starting worker…" }</span> };
    };
    let (class, text) = match (&status.gpu, status.on_gpu) {
        (Ok(name), true) => ("gpu", format!("WebGPU: {name}")),
        (Ok(_), false) => ("cpu", "CPU".to_owned()),
        (Err(_), _) => ("cpu", "CPU (no WebGPU)".to_owned()),
    };
    let on_change = props.on_backend.reform(|e: Event| {
        let select: HtmlSelectElement = e.target_unchecked_into();
        select.value().parse().unwrap_or_default()
    });
    let no_gpu = status.gpu.as_ref().err();
    html! {
        <div class="backend">
            <span class={classes!("badge", class)} data-testid="backend" title={status.why.clone()}>{ text }</span>
            <label class="backend-choice">
                { "Compute on " }
                <select data-testid="backend-policy" onchange={on_change}>
                    { for BackendPolicy::ALL.into_iter().map(|p| html! {
                        <option value={p.key()} selected={p == props.policy}
                            disabled={p == BackendPolicy::Gpu && no_gpu.is_some()}
                            title={(p == BackendPolicy::Gpu).then(|| no_gpu.cloned()).flatten()}>
                            { label(p) }
                        </option>
                    }) }
                </select>
            </label>
            <span class="backend-why" data-testid="backend-why">{ &status.why }</span>
        </div>
    }
}
