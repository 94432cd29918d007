//! The budget curve: quality estimate and coverage against budget, the fitted curve and
//! the recommended budget, with cost and hours on the top axis. Drawn as SVG from the
//! plan's curve; every point can be hovered or focused for its exact values.

use labelplan_core::plan::{CurvePoint, Plan};
use yew::prelude::*;

/// The drawing's size in SVG units (it scales to its box).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
/// Margins: left and right for the percent scale, top for the cost axis.
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;

/// Where things go: the pure part of the chart, tested natively.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Smallest and largest percent of the pool on the x axis.
    pub x_range: (f64, f64),
    /// Log-scaled x axis.
    pub log_x: bool,
}

impl Layout {
    /// A layout covering every curve point and the recommendation.
    pub fn new(plan: &Plan, log_x: bool) -> Self {
        let percents =
            plan.curve.iter().map(|p| p.percent).chain(plan.recommended.as_ref().map(|r| r.percent));
        let (lo, hi) = percents.fold((f64::INFINITY, 0.0f64), |(lo, hi), p| (lo.min(p), hi.max(p)));
        let hi = if hi > 0.0 { hi } else { 100.0 };
        let lo = if lo.is_finite() && lo > 0.0 { lo } else { hi / 100.0 };
        Layout { x_range: if log_x { (lo, hi) } else { (0.0, hi) }, log_x }
    }

    /// Horizontal position of `percent` of the pool.
    pub fn x(&self, percent: f64) -> f64 {
        let (lo, hi) = self.x_range;
        let t = if self.log_x {
            (percent.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln()).max(1e-12)
        } else {
            (percent - lo) / (hi - lo).max(1e-12)
        };
        LEFT + t.clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }

    /// Vertical position of `value` percent (0 at the bottom, 100 at the top).
    pub fn y(&self, value: f64) -> f64 {
        TOP + (1.0 - value.clamp(0.0, 100.0) / 100.0) * (HEIGHT - TOP - BOTTOM)
    }

    /// Percents to mark on the x axis.
    pub fn ticks(&self) -> Vec<f64> {
        let (lo, hi) = self.x_range;
        if self.log_x {
            [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
                .into_iter()
                .filter(|&t| t >= lo && t <= hi)
                .collect()
        } else {
            let step = [1.0, 2.0, 5.0, 10.0, 20.0, 25.0].into_iter().find(|&s| hi / s <= 6.0).unwrap_or(25.0);
            (0..=(hi / step) as usize).map(|i| i as f64 * step).collect()
        }
    }
}

/// The curve's shares (points without one, in a plan without a fit, are left out).
fn shares<'p>(plan: &'p Plan) -> impl Iterator<Item = (usize, f64, f64)> + 'p {
    plan.curve.iter().enumerate().filter_map(|(i, p)| Some((i, p.percent, p.share?)))
}

/// An SVG polyline's points.
fn polyline(points: impl Iterator<Item = (f64, f64)>) -> String {
    points.map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")
}

/// The exact values of curve point `i`, as read out on hover or focus.
pub fn readout(plan: &Plan, i: usize) -> String {
    let p = &plan.curve[i];
    format!(
        "{} items ({:.1}% of the pool): {} of the reachable quality (est.), {:.1}% covered, mean distance {:.3}, cost {:.2}, {:.1} hours",
        p.count,
        p.percent,
        labelplan_core::write::share_text(p.share),
        p.coverage.within_delta * 100.0,
        p.coverage.mean_distance,
        p.cost,
        p.hours,
    )
}

/// Money for `count` items on the top axis: the curve's recorded costs joined by straight
/// lines from nothing (exact at its points; with a cost column, items differ in price),
/// past the last point at its price per item.
pub fn cost_at(curve: &[CurvePoint], count: f64) -> f64 {
    let mut below = (0.0, 0.0);
    for p in curve {
        let at = (p.count as f64, p.cost);
        if count <= at.0 {
            let t = (count - below.0) / (at.0 - below.0).max(1e-12);
            return below.1 + t * (at.1 - below.1);
        }
        below = at;
    }
    if below.0 > 0.0 {
        count * below.1 / below.0
    } else {
        0.0
    }
}

/// Props of [`BudgetCurve`].
#[derive(Properties, PartialEq)]
pub struct BudgetCurveProps {
    /// The plan whose curve is drawn.
    pub plan: std::rc::Rc<Plan>,
    /// Plans of other methods to overlay (their quality curves and recommendations),
    /// each with its colour.
    #[prop_or_default]
    pub others: Vec<(std::rc::Rc<Plan>, &'static str)>,
}

/// The chart, its log-x switch and the read-out of the hovered or focused point.
#[function_component]
pub fn BudgetCurve(props: &BudgetCurveProps) -> Html {
    let plan = &props.plan;
    let log_x = use_state(|| false);
    let focused = use_state(|| None::<usize>);
    if plan.curve.is_empty() {
        return html! {};
    }
    let layout = Layout::new(plan, *log_x);
    let settings = &plan.manifest.settings;
    let eligible = (plan.pool - plan.labeled).max(1) as f64;
    let share = polyline(shares(plan).map(|(_, x, y)| (layout.x(x), layout.y(y))));
    let coverage =
        polyline(plan.curve.iter().map(|p| (layout.x(p.percent), layout.y(p.coverage.within_delta * 100.0))));
    let fit = plan.fit.map(|f| {
        // Drawn over the measured budgets only: below them the fit falls without bound.
        let (lo, hi) = (plan.curve.iter().map(|p| p.percent).fold(f64::INFINITY, f64::min), layout.x_range.1);
        polyline((0..=60).map(|i| {
            let p = if layout.log_x {
                lo * (hi / lo).powf(i as f64 / 60.0)
            } else {
                lo + (hi - lo) * i as f64 / 60.0
            };
            (layout.x(p), layout.y(f.share(f.at(p)).unwrap_or(0.0)))
        }))
    });
    // Other methods' share curves and recommendations, in their colours.
    let overlays = props.others.iter().map(|(other, colour)| {
        // Against the shown plan's curve, so that the methods compare.
        let on_ours = |p: &CurvePoint| Some((p.percent, plan.fit.as_ref()?.share(p.estimate)?));
        let line = polyline(other.curve.iter().filter_map(on_ours).map(|(x, y)| (layout.x(x), layout.y(y))));
        let method = other.manifest.settings.method.name();
        html! {
            <g class="overlay" data-testid="curve-overlay" data-method={method}>
                <polyline points={line} style={format!("stroke: {colour}")} />
                if let Some(r) = &other.recommended {
                    <line class="overlay-mark" x1={layout.x(r.percent).to_string()} x2={layout.x(r.percent).to_string()}
                        y1={TOP.to_string()} y2={(HEIGHT - BOTTOM).to_string()} style={format!("stroke: {colour}")}>
                        <title>{ format!("{method}: recommended {} items", r.count) }</title>
                    </line>
                }
            </g>
        }
    });
    let on_log = {
        let log_x = log_x.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            log_x.set(input.checked());
        })
    };
    let bottom = HEIGHT - BOTTOM;
    let point = |(i, percent, share): (usize, f64, f64)| {
        let (x, y) = (layout.x(percent), layout.y(share));
        let (enter, leave) = (focused.setter(), focused.setter());
        let label = readout(plan, i);
        html! {
            <circle class={classes!("point", (*focused == Some(i)).then_some("focused"))} cx={format!("{x:.1}")} cy={format!("{y:.1}")} r="5"
                tabindex="0" role="img" aria-label={label.clone()} data-testid="curve-point"
                onmouseenter={Callback::from(move |_| enter.set(Some(i)))}
                onfocus={Callback::from(move |_| leave.set(Some(i)))}>
                <title>{ label }</title>
            </circle>
        }
    };
    html! {
        <figure class="budget-curve" data-testid="budget-curve">
            <figcaption>
                <span>{ "What each budget buys:" }</span>
                <span class="key quality">{ "share of the reachable quality (label-free estimate)" }</span>
                <span class="key coverage">{ format!("share within distance {} of a pick", settings.coverage_delta) }</span>
                if fit.is_some() { <span class="key fit">{ "fitted curve" }</span> }
                { for props.others.iter().map(|(other, colour)| html! {
                    <span class="key other" style={format!("--key: {colour}")}>
                        { format!("{} (share; dotted: its recommendation)", other.manifest.settings.method.name()) }
                    </span>
                }) }
                <label class="log-x"><input type="checkbox" checked={*log_x} onchange={on_log} data-testid="log-x" />{ " log scale" }</label>
            </figcaption>
            <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="group" aria-label="budget curve">
                { for [0.0, 25.0, 50.0, 75.0, 100.0].into_iter().map(|v| html! {
                    <g class="grid">
                        <line x1={LEFT.to_string()} x2={(WIDTH - RIGHT).to_string()} y1={layout.y(v).to_string()} y2={layout.y(v).to_string()} />
                        <text x={(LEFT - 6.0).to_string()} y={(layout.y(v) + 4.0).to_string()} text-anchor="end">{ format!("{v:.0}%") }</text>
                    </g>
                }) }
                { for layout.ticks().into_iter().map(|t| {
                    let x = layout.x(t);
                    let count = (t / 100.0 * eligible).round();
                    html! {
                        <g class="tick">
                            <line x1={x.to_string()} x2={x.to_string()} y1={bottom.to_string()} y2={(bottom + 4.0).to_string()} />
                            <text x={x.to_string()} y={(bottom + 16.0).to_string()} text-anchor="middle">{ format!("{t}%") }</text>
                            // Nothing costs nothing: no labels at 0%, where the row titles sit.
                            if t > 0.0 {
                                <text class="cost" x={x.to_string()} y={(TOP - 20.0).to_string()} text-anchor="middle">{ format!("{:.0}", cost_at(&plan.curve, count)) }</text>
                                <text class="cost" x={x.to_string()} y={(TOP - 8.0).to_string()} text-anchor="middle">{ format!("{:.1} h", count / settings.labels_per_hour.max(1e-9)) }</text>
                            }
                        </g>
                    }
                }) }
                <text class="axis-title" x={((LEFT + WIDTH - RIGHT) / 2.0).to_string()} y={(HEIGHT - 6.0).to_string()} text-anchor="middle">{ "budget, % of the pool" }</text>
                <text class="axis-title cost" x={(LEFT - 14.0).to_string()} y={(TOP - 20.0).to_string()} text-anchor="end">{ "cost" }</text>
                <text class="axis-title cost" x={(LEFT - 14.0).to_string()} y={(TOP - 8.0).to_string()} text-anchor="end">{ "hours" }</text>
                if let Some(r) = &plan.recommended {
                    <g class="recommended-mark" data-testid="curve-recommended">
                        <line x1={layout.x(r.percent).to_string()} x2={layout.x(r.percent).to_string()} y1={TOP.to_string()} y2={bottom.to_string()} />
                        <text x={(layout.x(r.percent) + 4.0).to_string()} y={(bottom - 8.0).to_string()}>{ format!("recommended: {} items", r.count) }</text>
                    </g>
                }
                if let Some(t) = &plan.reaches {
                    <g class="reaches-mark" data-testid="curve-reaches">
                        <line x1={layout.x(t.percent).to_string()} x2={layout.x(t.percent).to_string()} y1={TOP.to_string()} y2={bottom.to_string()} />
                        <text x={(layout.x(t.percent) + 4.0).to_string()} y={(bottom - 24.0).to_string()}>{ format!("{}%: {} items", settings.target_share, t.count) }</text>
                    </g>
                }
                if let Some(fit) = fit { <polyline class="fit" points={fit} /> }
                { for overlays }
                <polyline class="coverage" points={coverage} />
                <polyline class="quality" points={share} />
                { for shares(plan).map(point) }
            </svg>
            <p class="readout" data-testid="curve-readout" aria-live="polite">
                { focused.map_or_else(|| "Hover or focus a point for its exact values.".to_owned(), |i| readout(plan, i)) }
            </p>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use labelplan_core::plan::Coverage;

    fn layout(lo: f64, hi: f64, log_x: bool) -> Layout {
        Layout { x_range: if log_x { (lo, hi) } else { (0.0, hi) }, log_x }
    }

    #[test]
    fn the_axes_map_their_ends_to_the_plot_edges() {
        let l = layout(1.0, 50.0, false);
        assert_eq!(l.x(0.0), LEFT);
        assert_eq!(l.x(50.0), WIDTH - RIGHT);
        assert!((l.x(25.0) - (LEFT + WIDTH - RIGHT) / 2.0).abs() < 1e-9);
        assert_eq!(l.y(100.0), TOP);
        assert_eq!(l.y(0.0), HEIGHT - BOTTOM);
        let log = layout(1.0, 100.0, true);
        assert!((log.x(10.0) - (LEFT + WIDTH - RIGHT) / 2.0).abs() < 1e-9, "10% is halfway from 1% to 100%");
        assert_eq!(log.x(0.01), LEFT, "below the range clamps to the edge");
    }

    #[test]
    fn the_cost_axis_follows_the_recorded_costs() {
        let coverage = Coverage { mean_distance: 0.1, p95_distance: 0.2, within_delta: 0.5, clusters_hit: 1 };
        let point = |count: usize, cost: f64| CurvePoint {
            count,
            percent: 0.0,
            coverage,
            estimate: 50.0,
            share: None,
            cost,
            hours: 0.0,
        };
        let curve = [point(10, 1.0), point(20, 5.0)];
        assert_eq!(cost_at(&curve, 0.0), 0.0);
        assert_eq!(cost_at(&curve, 5.0), 0.5);
        assert_eq!(cost_at(&curve, 10.0), 1.0);
        assert_eq!(cost_at(&curve, 15.0), 3.0);
        assert_eq!(cost_at(&curve, 40.0), 10.0, "past the curve at the last point's price");
        assert_eq!(cost_at(&[], 40.0), 0.0);
    }

    #[test]
    fn ticks_stay_in_range_and_are_few() {
        assert_eq!(layout(1.0, 50.0, false).ticks(), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0]);
        assert_eq!(layout(1.0, 50.0, true).ticks(), vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        assert_eq!(layout(1.0, 5.0, false).ticks(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }
}
