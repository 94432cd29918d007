//! The summary of the loaded dataset.

use yew::prelude::*;

use super::progress::human_bytes;
use super::state::Loaded;

/// Props of [`SummaryPanel`].
#[derive(Properties, PartialEq)]
pub struct SummaryProps {
    /// The loaded dataset's summary.
    pub loaded: Loaded,
}

fn row(label: &str, key: &str, value: String) -> Html {
    html! { <tr><th>{ label }</th><td data-testid={key.to_owned()}>{ value }</td></tr> }
}

/// A table of what was loaded.
#[function_component]
pub fn SummaryPanel(props: &SummaryProps) -> Html {
    let s = &props.loaded.summary;
    let columns = if s.columns.is_empty() { "none".to_owned() } else { s.columns.join(", ") };
    html! {
        <section class="summary-panel" data-testid="summary">
            <h2>{ &s.file }</h2>
            <table>
                { row("Rows", "rows", s.rows.to_string()) }
                { row("Dimensions", "dim", s.dim.to_string()) }
                { row("Data type in file", "dtype", s.dtype.clone()) }
                { row("File size", "file-size", human_bytes(s.file_bytes)) }
                { row("Memory used", "memory", human_bytes(s.memory_bytes)) }
                { row("Vector norms (min / mean / max)", "norms", format!("{:.4} / {:.4} / {:.4}", s.norms.min, s.norms.mean, s.norms.max)) }
                { row("Exact duplicate rows", "duplicates", s.duplicate_rows.to_string()) }
                { row("Rows dropped (NaN/Inf)", "dropped", s.dropped_rows.to_string()) }
                { row("Ids", "ids", if s.has_ids { "yes".into() } else { "no (row numbers)".into() }) }
                { row("Metadata columns", "columns", columns) }
                { row("Norms computed on", "norms-on", props.loaded.norms_on.clone()) }
                <tr>
                    <th>{ "Parse time" }</th>
                    <td data-testid="parse-time" data-seconds={props.loaded.parse_seconds.to_string()}>
                        { format!("{:.2} s", props.loaded.parse_seconds) }
                    </td>
                </tr>
            </table>
        </section>
    }
}
