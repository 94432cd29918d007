//! Compare methods: plan other methods on the same data and settings, overlay their
//! curves on the budget chart (see `curve`), and set their figures side by side: the
//! recommended budget, share of the reachable quality, coverage, and how many of the
//! shown plan's picks each method also picks.

use std::collections::HashSet;
use std::rc::Rc;

use labelplan_core::plan::{Method, Plan};
use yew::prelude::*;

use super::state::Planned;

/// One line of the differences table.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The method.
    pub method: Method,
    /// Recommended items and their cost, if a recommendation was made.
    pub recommended: Option<(usize, f64)>,
    /// Share of the reachable quality at the first requested budget (%), measured
    /// against the shown plan's curve so that the methods compare.
    pub share: Option<f64>,
    /// Share within the coverage distance of a pick at that budget (%).
    pub covered: f64,
    /// Share of the shown plan's picks at that budget this plan picks too (%).
    pub same_picks: f64,
    /// Seconds the plan took.
    pub seconds: f64,
}

/// The differences of `plans` (the shown plan first) at the first requested budget.
pub fn differences(plans: &[&Planned]) -> Vec<Difference> {
    let Some(first) = plans.first() else { return Vec::new() };
    let main: HashSet<u32> =
        first.plan.budgets.first().map(|b| b.rows.iter().copied().collect()).unwrap_or_default();
    plans
        .iter()
        .map(|p| {
            let b = p.plan.budgets.first();
            let shared = b.map_or(0, |b| b.rows.iter().filter(|r| main.contains(r)).count());
            Difference {
                method: p.plan.manifest.settings.method,
                recommended: p.plan.recommended.as_ref().map(|r| (r.count, r.cost)),
                share: b.and_then(|b| first.plan.fit.as_ref()?.share(b.estimate)),
                covered: b.map_or(0.0, |b| 100.0 * b.coverage.within_delta),
                same_picks: if main.is_empty() { 0.0 } else { 100.0 * shared as f64 / main.len() as f64 },
                seconds: p.seconds,
            }
        })
        .collect()
}

/// The stroke colours of compared plans' curves, in order (the shown plan keeps the
/// page's accent).
pub const COLOURS: [&str; 5] = ["#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];

/// Props of [`Compare`].
#[derive(Properties, PartialEq)]
pub struct CompareProps {
    /// The shown plan.
    pub planned: Planned,
    /// The plans to compare with it.
    pub compared: Vec<Planned>,
    /// Plan this method on the same data and settings.
    pub on_compare: Callback<Method>,
    /// Whether a request is running (the button waits).
    pub busy: bool,
}

/// The compare panel: a method picker and the differences table.
#[function_component]
pub fn Compare(props: &CompareProps) -> Html {
    let shown = props.planned.plan.manifest.settings.method;
    let taken: Vec<Method> = std::iter::once(shown).chain(props.compared.iter().map(method_of)).collect();
    let choice = use_state(|| None::<Method>);
    let chosen = choice
        .filter(|m| !taken.contains(m))
        .or_else(|| Method::ALL.into_iter().find(|m| !taken.contains(m)));
    let onchange = {
        let choice = choice.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            choice.set(select.value().parse().ok());
        })
    };
    let onclick = {
        let on_compare = props.on_compare.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(m) = chosen {
                on_compare.emit(m);
            }
        })
    };
    let plans: Vec<&Planned> = std::iter::once(&props.planned).chain(&props.compared).collect();
    let budget = props.planned.plan.budgets.first().map(|b| b.budget.to_string()).unwrap_or_default();
    html! {
        <section class="compare" data-testid="compare">
            <h3>{ "Compare methods" }</h3>
            <p class="meta">
                { format!("Plan another method on the same data and settings: its curve joins the chart above and its figures the table below, all label-free. The table compares the first budget ({budget}).") }
            </p>
            <div class="compare-controls">
                <label for="compare-method">{ "Method" }</label>
                <select id="compare-method" data-testid="compare-method" {onchange}>
                    { for Method::ALL.into_iter().filter(|m| !taken.contains(m)).map(|m| html! {
                        <option value={m.name()} selected={Some(m) == chosen}>{ m.name() }</option>
                    }) }
                </select>
                <button data-testid="compare-run" {onclick} disabled={props.busy || chosen.is_none()}>{ "Plan and compare" }</button>
            </div>
            if plans.len() > 1 {
                <div class="table-scroll"><table class="differences" data-testid="differences">
                    <thead>
                        <tr>
                            <th>{ "Method" }</th>
                            <th>{ "Recommended" }</th>
                            <th>{ format!("Share of reachable quality (est.) at {budget}") }</th>
                            <th>{ format!("Covered at {budget}") }</th>
                            <th title={format!("share of {shown}'s picks at {budget} that this method picks too")}>{ format!("Same picks as {shown}") }</th>
                            <th>{ "Plan time" }</th>
                        </tr>
                    </thead>
                    <tbody>
                        { for differences(&plans).into_iter().enumerate().map(|(i, d)| {
                            let style = (i > 0).then(|| format!("border-left: 4px solid {}", COLOURS[(i - 1) % COLOURS.len()]));
                            html! {
                                <tr data-testid="difference-row">
                                    <td {style}>{ d.method.name() }</td>
                                    <td>{ d.recommended.map_or_else(|| "—".to_owned(), |(n, cost)| format!("{n} items ({cost:.2})")) }</td>
                                    <td>{ labelplan_core::write::share_text(d.share) }</td>
                                    <td>{ format!("{:.1}%", d.covered) }</td>
                                    <td>{ if i == 0 { "—".to_owned() } else { format!("{:.0}%", d.same_picks) } }</td>
                                    <td>{ format!("{:.1} s", d.seconds) }</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table></div>
            }
        </section>
    }
}

fn method_of(p: &Planned) -> Method {
    p.plan.manifest.settings.method
}

/// The plans drawn beside the shown one on the budget chart, with their colours.
pub fn overlays(compared: &[Planned]) -> Vec<(Rc<Plan>, &'static str)> {
    compared.iter().enumerate().map(|(i, p)| (p.plan.clone(), COLOURS[i % COLOURS.len()])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use labelplan_core::plan::{InputInfo, Manifest, Settings};
    use labelplan_core::Dataset;

    fn planned(method: Method, rows: Vec<u32>) -> Planned {
        let data = Dataset::from_matrix("x.npy", vec![0.0; 20], 10, 2);
        let settings = Settings { method, ..Settings::default() };
        let manifest = Manifest {
            tool: "labelplan".into(),
            version: "0".into(),
            input: InputInfo::unhashed(&data),
            backend: "CPU".into(),
            settings,
        };
        let budget = labelplan_core::plan::BudgetPlan {
            budget: labelplan_core::plan::Budget::Count(rows.len() as u64),
            count: rows.len(),
            rows,
            cost: 0.0,
            hours: 0.0,
            beta: None,
            coverage: labelplan_core::plan::Coverage {
                mean_distance: 0.1,
                p95_distance: 0.2,
                within_delta: 0.5,
                clusters_hit: 1,
            },
            estimate: 80.0,
            share: None,
            per_cluster: Vec::new(),
            per_value: Vec::new(),
            shortfall: Vec::new(),
        };
        let plan = Plan {
            manifest,
            pool: 10,
            labeled: 0,
            clustering: labelplan_core::plan::Clustering {
                k: 1,
                chosen_by: "fixed".into(),
                tried: Vec::new(),
                sizes: vec![10],
            },
            budgets: vec![budget],
            curve: Vec::new(),
            fit: None,
            recommended: None,
            reaches: None,
            ranked: Vec::new(),
            cluster: vec![0; 10],
            score: None,
        };
        Planned { plan: Rc::new(plan), map: Rc::default(), seconds: 1.0, note: None }
    }

    #[test]
    fn same_picks_is_the_share_of_the_shown_plans_picks() {
        let (a, b) = (planned(Method::Coverage, vec![1, 2, 3, 4]), planned(Method::Random, vec![3, 4, 5, 6]));
        let d = differences(&[&a, &b]);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].same_picks, 100.0, "the shown plan against itself");
        assert_eq!(d[1].same_picks, 50.0);
        assert_eq!(d[1].method, Method::Random);
        assert_eq!(d[1].covered, 50.0);
    }
}
