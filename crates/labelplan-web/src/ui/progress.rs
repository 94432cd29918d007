//! Progress of the running request: stage, bytes or steps, elapsed time, the time the
//! stage still needs at its pace so far, cancel.

use labelplan_core::progress::Unit;
use yew::prelude::*;

use super::state::Busy;

/// Props of [`ProgressPanel`].
#[derive(Properties, PartialEq)]
pub struct ProgressProps {
    /// The running request.
    pub busy: Busy,
    /// Cancel clicked.
    pub on_cancel: Callback<()>,
}

/// Bytes in a human unit.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Progress bar with a cancel button.
#[function_component]
pub fn ProgressPanel(props: &ProgressProps) -> Html {
    let b = &props.busy;
    let percent = if b.total > 0 { b.done as f64 * 100.0 / b.total as f64 } else { 0.0 };
    let now = js_sys::Date::now();
    let elapsed = (now - b.started_ms) / 1000.0;
    let left = b.eta_seconds(now).filter(|_| elapsed > 2.0);
    let on_cancel = props.on_cancel.reform(|_: MouseEvent| ());
    html! {
        <section class="progress-panel" data-testid="progress">
            <div class="progress-head">
                <strong>{ &b.label }</strong>
                <span>{ format!(" — {} ", b.stage) }</span>
                if b.total > 0 && b.unit == Unit::Bytes {
                    <span>{ format!("{} of {} ({percent:.0}%)", human_bytes(b.done), human_bytes(b.total)) }</span>
                } else if b.total > 0 {
                    <span>{ format!("{} of {} {}", b.done, b.total, b.unit.word(b.total)) }</span>
                }
                <span class="elapsed">{ format!(" · {elapsed:.1} s") }</span>
                if let Some(left) = left {
                    <span class="eta" data-testid="eta">{
                        if left < 1.0 { " · under a second left in this step".to_owned() }
                        else { format!(" · about {left:.0} s left in this step") }
                    }</span>
                }
                <button onclick={on_cancel} data-testid="cancel">{ "Cancel" }</button>
            </div>
            <progress max="100" value={format!("{percent:.1}")}></progress>
        </section>
    }
}
