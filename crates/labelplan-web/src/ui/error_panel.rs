//! The last error, with a retry that drops NaN/Inf rows when that would help, or a
//! reload when the worker stopped.

use yew::prelude::*;

use crate::protocol::Failure;

/// Props of [`ErrorPanel`].
#[derive(Properties, PartialEq)]
pub struct ErrorProps {
    /// What failed.
    pub failure: Failure,
    /// "Drop those rows and load" clicked.
    pub on_retry_dropping: Callback<()>,
    /// Whether a dataset loaded before is still there.
    pub has_dataset: bool,
    /// Whether the worker stopped (a reload is the only way on).
    pub worker_stopped: bool,
}

/// A red panel naming the file, the place and what was expected.
#[function_component]
pub fn ErrorPanel(props: &ErrorProps) -> Html {
    let retry = props.on_retry_dropping.reform(|_: MouseEvent| ());
    let reload = Callback::from(|_: MouseEvent| {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    });
    html! {
        <section class="error-panel" role="alert" data-testid="error">
            <p>{ &props.failure.message }</p>
            if let Some(n) = props.failure.non_finite_rows {
                <button onclick={retry} data-testid="drop-and-load">{ format!("Drop those {n} rows and load") }</button>
            }
            if props.worker_stopped {
                <button onclick={reload} data-testid="reload">{ "Reload the page" }</button>
            } else if props.has_dataset {
                <p class="hint">{ "The dataset loaded before is still loaded." }</p>
            }
        </section>
    }
}
