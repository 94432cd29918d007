//! The first screen's input: drop zone, file pickers, sample button and load settings.

use std::rc::Rc;

use labelplan_core::Format;
use web_sys::{DragEvent, File, HtmlInputElement};
use yew::prelude::*;

use super::state::Settings;
use crate::protocol::FileHandle;

/// Props of [`DropZone`].
#[derive(Properties, PartialEq)]
pub struct DropZoneProps {
    /// An embeddings file was chosen.
    pub on_file: Callback<FileHandle>,
    /// "Load sample" was clicked.
    pub on_sample: Callback<()>,
    /// A sidecar file was chosen.
    pub on_sidecar: Callback<FileHandle>,
    /// A request is running.
    pub busy: bool,
    /// A dataset is loaded (a sidecar can be joined).
    pub has_dataset: bool,
    /// Current settings.
    pub settings: Rc<Settings>,
    /// Settings changed.
    pub on_settings: Callback<Settings>,
}

fn handle(file: File) -> FileHandle {
    FileHandle { name: file.name(), blob: file.into() }
}

fn first_file(input: &HtmlInputElement) -> Option<File> {
    let file = input.files()?.get(0);
    // Clear the picker so choosing the same file again fires `change` again.
    input.set_value("");
    file
}

/// A file picker's `change` handler that passes the chosen file on.
fn on_chosen(pass_on: Callback<FileHandle>) -> Callback<Event> {
    Callback::from(move |e: Event| {
        let input: HtmlInputElement = e.target_unchecked_into();
        if let Some(file) = first_file(&input) {
            pass_on.emit(handle(file));
        }
    })
}

/// Drop zone and pickers.
#[function_component]
pub fn DropZone(props: &DropZoneProps) -> Html {
    let hover = use_state(|| false);
    let on_drop = {
        let (on_file, hover) = (props.on_file.clone(), hover.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            hover.set(false);
            if let Some(file) = e.data_transfer().and_then(|dt| dt.files()).and_then(|f| f.get(0)) {
                on_file.emit(handle(file));
            }
        })
    };
    let on_drag_over = {
        let hover = hover.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            hover.set(true);
        })
    };
    let on_drag_leave = {
        let hover = hover.clone();
        Callback::from(move |_: DragEvent| hover.set(false))
    };
    let on_pick = on_chosen(props.on_file.clone());
    let on_pick_sidecar = on_chosen(props.on_sidecar.clone());
    let settings = props.settings.clone();
    let on_drop_toggle = {
        let (settings, cb) = (settings.clone(), props.on_settings.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            cb.emit(Settings { drop_non_finite: input.checked(), ..(*settings).clone() });
        })
    };
    let on_array = {
        let (settings, cb) = (settings.clone(), props.on_settings.clone());
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            cb.emit(Settings { array_name: input.value(), ..(*settings).clone() });
        })
    };
    let on_join = {
        let (settings, cb) = (settings.clone(), props.on_settings.clone());
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            cb.emit(Settings { join_column: input.value(), ..(*settings).clone() });
        })
    };
    let on_sample = props.on_sample.reform(|_: MouseEvent| ());
    let accept = Format::EXTENSIONS.join(",");
    let class = classes!("drop-zone", hover.then_some("hover"));
    html! {
        <section class="input-panel">
            <div {class} ondrop={on_drop} ondragover={on_drag_over} ondragleave={on_drag_leave} data-testid="drop-zone">
                <p class="drop-title">{ "Drop an embeddings file here" }</p>
                <p class="formats">{ ".npy · .npz · .safetensors · .parquet · .csv/.tsv · .jsonl — nothing leaves your browser" }</p>
                <div class="actions">
                    <label class={classes!("button", props.busy.then_some("disabled"))}>
                        { "Choose file…" }
                        <input type="file" accept={accept} onchange={on_pick} disabled={props.busy} data-testid="file-input" hidden=true />
                    </label>
                    <button onclick={on_sample} disabled={props.busy} data-testid="load-sample">{ "Load sample (digits, 1797 × 64)" }</button>
                </div>
            </div>
            <details class="settings">
                <summary>{ "Load settings and sidecar" }</summary>
                <label>
                    <input type="checkbox" checked={settings.drop_non_finite} onchange={on_drop_toggle} data-testid="drop-nan" />
                    { " Drop rows with NaN/Inf (and say how many)" }
                </label>
                <label>
                    { "Array or tensor name (.npz / .safetensors with several): " }
                    <input type="text" value={settings.array_name.clone()} oninput={on_array} placeholder="only one? leave empty" />
                </label>
                <label>
                    { "Sidecar id column (empty: join by row order): " }
                    <input type="text" value={settings.join_column.clone()} oninput={on_join} placeholder="e.g. id" />
                </label>
                <label class={classes!("button", (props.busy || !props.has_dataset).then_some("disabled"))}
                    title="a CSV/TSV of ids and metadata for the loaded embeddings">
                    { "Attach ids/metadata (CSV/TSV)…" }
                    <input type="file" accept=".csv,.tsv,.txt" onchange={on_pick_sidecar}
                        disabled={props.busy || !props.has_dataset} data-testid="sidecar-input" hidden=true />
                </label>
            </details>
        </section>
    }
}
