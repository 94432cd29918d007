//! The model page's timing of the FFN and of a decoded token against the share of
//! experts off, on this device: what the sparsity saves here, measured.

use yew::prelude::*;

use crate::protocol::SpeedReport;

/// Properties of [`SpeedTable`].
#[derive(Properties, PartialEq)]
pub struct SpeedProps {
    /// The rows, dense first.
    pub report: SpeedReport,
}

/// One row per share of experts off: the FFN's milliseconds per token and decoded
/// tokens per second, each also against dense.
#[function_component]
pub fn SpeedTable(props: &SpeedProps) -> Html {
    let rows = &props.report.rows;
    let Some(dense) = rows.first() else { return html! {} };
    html! {
        <table class="measured" data-testid="lm-speed-table" data-backend={props.report.backend.clone()}>
            <caption>{ format!("Timed on {}", props.report.backend) }</caption>
            <tr><th>{ "experts off" }</th><th>{ "FFN ms/token" }</th><th>{ "× dense" }</th><th>{ "decode tokens/s" }</th><th>{ "token time × dense" }</th></tr>
            { for rows.iter().map(|r| html! {
                <tr data-off={r.off.map(|o| o.to_string()).unwrap_or_else(|| "dense".into())}
                    data-ffn-ratio={r.ffn_ratio(dense).to_string()} data-token-ratio={r.token_ratio(dense).to_string()}
                    data-ffn-ms={r.ffn_ms.to_string()} data-tokens-per-second={r.tokens_per_second.to_string()}>
                    <td>{ &r.name }</td>
                    <td>{ format!("{:.1}", r.ffn_ms) }</td>
                    <td>{ format!("{:.2}", r.ffn_ratio(dense)) }</td>
                    <td>{ format!("{:.2}", r.tokens_per_second) }</td>
                    <td>{ format!("{:.2}", r.token_ratio(dense)) }</td>
                </tr>
            }) }
        </table>
    }
}
