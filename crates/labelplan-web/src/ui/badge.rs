//! The compute-backend badge in the header.

use yew::prelude::*;

use crate::protocol::Backend;

/// Props of [`Badge`].
#[derive(Properties, PartialEq)]
pub struct BadgeProps {
    /// The backend, once the worker has said.
    pub backend: Option<Backend>,
}

/// Shows "WebGPU: <adapter>" or "CPU (no WebGPU)".
#[function_component]
pub fn Badge(props: &BadgeProps) -> Html {
    match &props.backend {
        None => html! { <span class="badge pending" data-testid="backend">{ "starting worker…" }</span> },
        Some(Backend::Gpu(name)) => html! {
            <span class="badge gpu" data-testid="backend" title="compute runs on WebGPU">{ format!("WebGPU: {name}") }</span>
        },
        Some(Backend::Cpu(why)) => html! {
            <span class="badge cpu" data-testid="backend" title={why.clone()}>{ "CPU (no WebGPU)" }</span>
        },
    }
}
