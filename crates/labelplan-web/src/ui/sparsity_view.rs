//! What the model page shows of contextual sparsity: the layers × tokens heatmap of the
//! share of experts each token used (a token's column opens its experts per layer), and
//! the chart of perplexity against FFN sparsity of every router kind from the shipped
//! evaluation. Both are SVG.

use labelplan_lm::shipped::Measured;
use yew::prelude::*;

use crate::protocol::ExpertUse;

/// Heatmap cells in SVG units.
const CELL_W: f64 = 14.0;
const CELL_H: f64 = 10.0;
/// Room on the left for the layer numbers.
const LABELS: f64 = 28.0;

/// Share of experts set in `mask`.
fn share(mask: u64, experts: u32) -> f64 {
    f64::from(mask.count_ones()) / f64::from(experts.max(1))
}

/// A cell's fill for a share of experts used: pale (few) to deep blue (all).
fn fill(share: f64) -> String {
    let light = 95.0 - 60.0 * share.clamp(0.0, 1.0);
    format!("hsl(215, 70%, {light:.0}%)")
}

/// Properties of [`ExpertHeatmap`].
#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    /// What the generation used.
    pub usage: ExpertUse,
}

/// Layers (rows, the first at the top) × tokens (columns): the share of each layer's
/// experts each token ran. Clicking a column shows that token's experts per layer.
#[function_component]
pub fn ExpertHeatmap(props: &HeatmapProps) -> Html {
    let selected = use_state(|| None::<usize>);
    let u = &props.usage;
    let layers = u.used.first().map_or(0, Vec::len);
    let width = LABELS + CELL_W * u.used.len() as f64;
    let height = CELL_H * layers as f64;
    let mean = u.used.iter().flatten().map(|&m| share(m, u.experts)).sum::<f64>()
        / (u.used.len() * layers).max(1) as f64;
    let columns = u.used.iter().enumerate().map(|(t, masks)| {
        let onclick = {
            let selected = selected.clone();
            Callback::from(move |_| selected.set(Some(t)))
        };
        let x = LABELS + CELL_W * t as f64;
        let token = u.tokens.get(t).cloned().unwrap_or_default();
        let used = masks.iter().map(|&m| share(m, u.experts)).sum::<f64>() / layers.max(1) as f64;
        html! {
            <g class={classes!("column", (*selected == Some(t)).then_some("selected"))} {onclick}
                data-token={t.to_string()}>
                <title>{ format!("token {t} {token:?}: {:.0}% of the experts on average", 100.0 * used) }</title>
                { for masks.iter().enumerate().map(|(l, &m)| html! {
                    <rect x={x.to_string()} y={(CELL_H * l as f64).to_string()} width={CELL_W.to_string()}
                        height={CELL_H.to_string()} fill={fill(share(m, u.experts))} />
                }) }
            </g>
        }
    });
    let ticks = (0..layers).step_by(5).map(|l| {
        html! { <text x="0" y={(CELL_H * (l as f64 + 0.9)).to_string()}>{ l.to_string() }</text> }
    });
    html! {
        <section class="expert-heatmap" data-testid="lm-heatmap" data-mean-share={format!("{mean:.4}")}>
            <h3>{ "Experts used per layer and token" }</h3>
            <p class="hint">{ format!(
                "Rows are the {layers} layers (first at the top), columns the {} tokens read; darker means more of a layer's {} experts ran ({:.0}% on average). Click a column for its experts.",
                u.used.len(), u.experts, 100.0 * mean,
            ) }</p>
            <div class="heatmap-scroll">
                <svg viewBox={format!("0 0 {width} {height}")} width={width.to_string()} height={height.to_string()}
                    role="img" aria-label="share of experts used per layer and token">
                    { for ticks }
                    { for columns }
                </svg>
            </div>
            if let Some(t) = *selected {
                <TokenExperts usage={u.clone()} token={t} />
            }
        </section>
    }
}

/// Properties of [`TokenExperts`].
#[derive(Properties, PartialEq)]
struct TokenProps {
    usage: ExpertUse,
    token: usize,
}

/// One token's experts: a row per layer, a square per expert, filled if it ran.
#[function_component]
fn TokenExperts(props: &TokenProps) -> Html {
    let u = &props.usage;
    let Some(masks) = u.used.get(props.token) else { return html! {} };
    let side = 6.0;
    let width = LABELS + side * f64::from(u.experts);
    let height = side * masks.len() as f64;
    let on: u32 = masks.iter().map(|m| m.count_ones()).sum();
    html! {
        <div class="token-experts" data-testid="lm-token-experts" data-on={on.to_string()}>
            <p>{ format!(
                "Token {} {:?}: {on} of {} experts ran over the {} layers.",
                props.token, u.tokens.get(props.token).cloned().unwrap_or_default(),
                u.experts as usize * masks.len(), masks.len(),
            ) }</p>
            <svg viewBox={format!("0 0 {width} {height}")} width={width.to_string()} height={height.to_string()}
                role="img" aria-label="the token's experts per layer">
                { for masks.iter().enumerate().flat_map(|(l, &m)| (0..u.experts).map(move |e| {
                    let ran = m >> e & 1 == 1;
                    html! {
                        <rect x={(LABELS + side * f64::from(e)).to_string()} y={(side * l as f64).to_string()}
                            width={(side - 1.0).to_string()} height={(side - 1.0).to_string()}
                            fill={if ran { "hsl(215, 70%, 40%)" } else { "hsl(215, 20%, 92%)" }} />
                    }
                })) }
            </svg>
        </div>
    }
}

/// The chart's size in SVG units.
const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 36.0;
const TOP: f64 = 12.0;
const RIGHT: f64 = 170.0;

/// A kind's colour and name in the legend.
fn kind_style(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "dense" => ("#8a8a8a", "dense"),
        "lte" => ("#1f6fd1", "LTE"),
        "lte-stage1" => ("#7fb0ea", "LTE, stage 1 only"),
        "posthoc" => ("#d1731f", "post-hoc router"),
        "thresholds" => ("#3a9a4a", "thresholds"),
        _ => ("#888", "other"),
    }
}

/// A point's radius: the chosen set's ringed and larger, stage 1's smaller.
fn radius(kind: &str, chosen: bool) -> &'static str {
    match (chosen, kind) {
        (true, _) => "7",
        (false, "lte-stage1") => "2.5",
        _ => "4.5",
    }
}

/// Properties of [`SparsityChart`].
#[derive(Properties, PartialEq)]
pub struct ChartProps {
    /// The measured rows.
    pub rows: Vec<Measured>,
    /// What they were measured on.
    pub text: String,
    /// Rows measured in the page on the user's text, drawn hollow.
    pub measured: Vec<Measured>,
    /// The label of the chosen set, ringed.
    pub chosen: Option<String>,
}

/// Perplexity (log scale) against the share of experts off, a point per measured set,
/// coloured by kind.
#[function_component]
pub fn SparsityChart(props: &ChartProps) -> Html {
    let drawable = |r: &&Measured| r.perplexity.is_finite() && r.perplexity > 0.0;
    let mut rows: Vec<&Measured> = props.rows.iter().filter(drawable).collect();
    // Stage 1 only sits next to its stage 2: drawn last and smaller, so neither hides
    // the other.
    rows.sort_by_key(|r| r.kind == "lte-stage1");
    let measured: Vec<&Measured> = props.measured.iter().filter(drawable).collect();
    let (lo, hi) = rows
        .iter()
        .chain(&measured)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), r| (lo.min(r.perplexity), hi.max(r.perplexity)));
    // Ticks at 1, 2 and 5 times powers of ten; the axis runs from the tick under the
    // lowest perplexity to the one over the highest.
    let ticks: Vec<f64> = (-1..8).flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e))).collect();
    let lo = ticks.iter().copied().rfind(|&t| t <= lo).unwrap_or(ticks[0]);
    let hi = ticks.iter().copied().find(|&t| t >= hi && t > lo).unwrap_or(lo * 10.0);
    let (lo, hi) = (lo.log10(), hi.log10());
    let x = |s: f64| LEFT + s.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT);
    let y = |p: f64| TOP + (1.0 - (p.log10() - lo) / (hi - lo)) * (HEIGHT - TOP - BOTTOM);
    let values = ticks.iter().copied().filter(|&t| t.log10() >= lo - 1e-9 && t.log10() <= hi + 1e-9);
    let y_ticks = values.map(|v| {
        html! {
            <g>
                <line x1={LEFT.to_string()} x2={(WIDTH - RIGHT).to_string()} y1={y(v).to_string()} y2={y(v).to_string()} class="grid" />
                <text x={(LEFT - 6.0).to_string()} y={(y(v) + 4.0).to_string()} text-anchor="end">{ format!("{v:.0}") }</text>
            </g>
        }
    });
    let x_ticks = [0.0, 0.25, 0.5, 0.75, 1.0].map(|s| html! {
        <text x={x(s).to_string()} y={(HEIGHT - BOTTOM + 16.0).to_string()} text-anchor="middle">{ format!("{:.0}%", 100.0 * s) }</text>
    });
    let mut kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    kinds.dedup();
    kinds.sort_unstable();
    kinds.dedup();
    html! {
        <section class="sparsity-chart" data-testid="lm-chart" data-points={rows.len().to_string()}>
            <h3>{ "Perplexity against FFN sparsity" }</h3>
            <p class="hint">{ format!(
                "Filled: measured with labelplan-lm eval on {} (lower is better){}.",
                props.text,
                if measured.is_empty() { "" } else { "; hollow: measured here on your text" },
            ) }</p>
            <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img" aria-label="perplexity against the share of experts off">
                { for y_ticks }
                { for x_ticks }
                <text x={((LEFT + WIDTH - RIGHT) / 2.0).to_string()} y={(HEIGHT - 4.0).to_string()} text-anchor="middle">{ "share of FFN experts off" }</text>
                { for measured.iter().map(|r| {
                    let (colour, _) = kind_style(&r.kind);
                    html! {
                        <circle class="measured-here" cx={x(r.sparsity).to_string()} cy={y(r.perplexity).to_string()} r="5"
                            fill="none" stroke={colour} stroke-width="2">
                            <title>{ format!("{} on your text: perplexity {:.1} at {:.1}% of experts off", r.label, r.perplexity, 100.0 * r.sparsity) }</title>
                        </circle>
                    }
                }) }
                { for rows.iter().map(|r| {
                    let (colour, _) = kind_style(&r.kind);
                    let chosen = props.chosen.as_deref() == Some(r.label.as_str());
                    html! {
                        <circle cx={x(r.sparsity).to_string()} cy={y(r.perplexity).to_string()} r={radius(&r.kind, chosen)}
                            fill={colour} stroke={if chosen { "#000" } else { "none" }} stroke-width="2">
                            <title>{ format!("{}: perplexity {:.1} at {:.1}% of experts off", r.label, r.perplexity, 100.0 * r.sparsity) }</title>
                        </circle>
                    }
                }) }
                { for kinds.iter().enumerate().map(|(i, kind)| {
                    let (colour, name) = kind_style(kind);
                    let ly = TOP + 16.0 * i as f64 + 6.0;
                    html! {
                        <g>
                            <circle cx={(WIDTH - RIGHT + 16.0).to_string()} cy={ly.to_string()} r={radius(kind, false)} fill={colour} />
                            <text x={(WIDTH - RIGHT + 26.0).to_string()} y={(ly + 4.0).to_string()}>{ name }</text>
                        </g>
                    }
                }) }
            </svg>
        </section>
    }
}
