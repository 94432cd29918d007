//! The last error, with a retry that drops NaN/Inf rows when that would help.

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
}

/// A red panel naming the file, the place and what was expected.
#[function_component]
pub fn ErrorPanel(props: &ErrorProps) -> Html {
    let retry = props.on_retry_dropping.reform(|_: MouseEvent| ());
    html! {
        <section class="error-panel" role="alert" data-testid="error">
            <p>{ &props.failure.message }</p>
            if let Some(n) = props.failure.non_finite_rows {
                <button onclick={retry} data-testid="drop-and-load">{ format!("Drop those {n} rows and load") }</button>
            }
            if props.has_dataset {
                <p class="hint">{ "The dataset loaded before is still loaded." }</p>
            }
        </section>
    }
}
