//! Coverage bars: for one requested budget, each pseudo-label cluster's (and, when the
//! plan balances by a column, each value's) share of the pool beside its share of the
//! picks, with quotas that could not be met called out as shortfalls; and the same for
//! any metadata column the user picks (its values coded by the worker).

use std::rc::Rc;

use labelplan_core::plan::{GroupCount, Plan};
use yew::prelude::*;

use crate::protocol::ColumnCodes;

/// One bar pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The cluster number or value.
    pub label: String,
    /// Items of the pool in the group, and the group's share of the pool (0–1).
    pub pool: usize,
    /// Share of the pool.
    pub pool_share: f64,
    /// Picks in the group.
    pub picked: usize,
    /// Share of the picks.
    pub pick_share: f64,
    /// Picks a quota asked for and did not get.
    pub short_by: Option<usize>,
}

/// The bars of `groups`, largest pool first.
pub fn bars(groups: &[GroupCount]) -> Vec<Bar> {
    let pool: usize = groups.iter().map(|g| g.pool).sum();
    let picked: usize = groups.iter().map(|g| g.picked).sum();
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut out: Vec<Bar> = groups
        .iter()
        .map(|g| Bar {
            label: g.value.clone(),
            pool: g.pool,
            pool_share: share(g.pool, pool),
            picked: g.picked,
            pick_share: share(g.picked, picked),
            short_by: g.target.filter(|&t| t > g.picked).map(|t| t - g.picked),
        })
        .collect();
    out.sort_by(|a, b| b.pool.cmp(&a.pool).then_with(|| a.label.cmp(&b.label)));
    out
}

/// The groups of a coded column for one budget's picks: each category's pool count and
/// how many of `picks` fall in it.
pub fn column_groups(codes: &ColumnCodes, picks: &[u32]) -> Vec<GroupCount> {
    let mut picked = vec![0usize; codes.categories.len()];
    picks.iter().for_each(|&r| picked[codes.codes[r as usize] as usize] += 1);
    codes
        .categories
        .iter()
        .zip(picked)
        .map(|((value, pool), picked)| GroupCount { value: value.clone(), pool: *pool, picked, target: None })
        .collect()
}

/// Props of [`CoverageBars`].
#[derive(Properties, PartialEq)]
pub struct CoverageBarsProps {
    /// The plan.
    pub plan: Rc<Plan>,
    /// The dataset's metadata columns.
    pub columns: Vec<String>,
    /// Metadata columns the worker coded as categories.
    pub coded: Vec<Rc<ColumnCodes>>,
    /// Asks the worker to code a column.
    pub on_column: Callback<String>,
}

fn group_html(title: String, bars: Vec<Bar>) -> Html {
    let widest = bars.iter().map(|b| b.pool_share.max(b.pick_share)).fold(0.0f64, f64::max).max(1e-9);
    let width = |share: f64| format!("width: {:.2}%", 100.0 * share / widest);
    let shortfalls = bars.iter().filter(|b| b.short_by.is_some()).count();
    html! {
        <div class="coverage-group">
            <h4>{ title }</h4>
            if shortfalls > 0 {
                <p class="shortfall-note" data-testid="shortfall-note" role="note">
                    { format!("{shortfalls} quota(s) could not be met: the pool has too few eligible items there.") }
                </p>
            }
            <ul class="coverage-bars">
                { for bars.into_iter().map(|b| html! {
                    <li data-testid="coverage-bar" class={classes!(b.short_by.is_some().then_some("short"))}
                        title={format!("{}: {} items in the pool ({:.1}%), {} picked ({:.1}% of the picks)",
                            b.label, b.pool, 100.0 * b.pool_share, b.picked, 100.0 * b.pick_share)}>
                        <span class="label">{ &b.label }</span>
                        <span class="bars">
                            <span class="bar pool-share" data-testid="pool-share-bar" style={width(b.pool_share)}></span>
                            <span class="bar pick-share" data-testid="pick-share-bar" style={width(b.pick_share)}></span>
                        </span>
                        <span class="figures">
                            { format!("{:.1}% of pool · {} picked ({:.1}%)", 100.0 * b.pool_share, b.picked, 100.0 * b.pick_share) }
                            if let Some(n) = b.short_by {
                                <strong class="short-by">{ format!(" · short by {n}") }</strong>
                            }
                        </span>
                    </li>
                }) }
            </ul>
        </div>
    }
}

/// The coverage bars of one requested budget at a time.
#[function_component]
pub fn CoverageBars(props: &CoverageBarsProps) -> Html {
    let plan = &props.plan;
    let which = use_state(|| 0usize);
    let Some(budget) = plan.budgets.get(*which).or(plan.budgets.first()) else {
        return Html::default();
    };
    let onchange = {
        let which = which.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            which.set(select.value().parse().unwrap_or(0));
        })
    };
    let balance = plan.manifest.settings.balance.as_ref().map(|b| b.column.clone());
    // A metadata column to break the picks down by, and its codes once they came.
    let by = use_state(String::new);
    let coded = props.coded.iter().find(|c| c.name == *by && c.codes.len() == plan.pool).cloned();
    let on_by = {
        let (by, on_column) = (by.clone(), props.on_column.clone());
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let name = select.value();
            if !name.is_empty() {
                on_column.emit(name.clone());
            }
            by.set(name);
        })
    };
    html! {
        <section class="coverage" data-testid="coverage">
            <h3>{ "Coverage of the picks" }</h3>
            <p class="meta">
                { "Each group's share of the pool (grey) beside its share of the picks (colour). A group far below its grey bar is under-sampled." }
            </p>
            <label class="coverage-budget">
                { "Budget " }
                <select {onchange} data-testid="coverage-budget">
                    { for plan.budgets.iter().enumerate().map(|(i, b)| html! {
                        <option value={i.to_string()} selected={i == *which}>{ format!("{} ({} items)", b.budget, b.count) }</option>
                    }) }
                </select>
            </label>
            { group_html("By pseudo-label cluster".into(), bars(&budget.per_cluster)) }
            if let Some(column) = balance {
                { group_html(format!("By {column} (balanced)"), bars(&budget.per_value)) }
            }
            if !props.columns.is_empty() {
                <label class="coverage-budget">
                    { "Also by column " }
                    <select onchange={on_by} data-testid="coverage-column">
                        <option value="" selected={by.is_empty()}>{ "none" }</option>
                        { for props.columns.iter().map(|c| html! { <option value={c.clone()} selected={*c == *by}>{ c }</option> }) }
                    </select>
                </label>
                if let Some(codes) = &coded {
                    { group_html(format!("By {}", codes.name), bars(&column_groups(codes, &budget.rows))) }
                }
            }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(value: &str, pool: usize, picked: usize, target: Option<usize>) -> GroupCount {
        GroupCount { value: value.into(), pool, picked, target }
    }

    #[test]
    fn shares_add_up_and_shortfalls_are_what_the_quota_missed() {
        let b = bars(&[group("a", 10, 1, Some(3)), group("b", 30, 3, Some(3)), group("c", 0, 0, None)]);
        assert_eq!(
            b.iter().map(|b| b.label.as_str()).collect::<Vec<_>>(),
            ["b", "a", "c"],
            "largest pool first"
        );
        assert!((b.iter().map(|b| b.pool_share).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((b.iter().map(|b| b.pick_share).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(b[1].short_by, Some(2));
        assert_eq!(b[0].short_by, None, "met its quota");
        assert_eq!(bars(&[group("x", 0, 0, None)])[0].pick_share, 0.0, "no picks: no division by zero");
    }

    #[test]
    fn a_coded_column_counts_the_picks_per_value() {
        let values: Vec<String> = ["a", "b", "a", "c", "a"].iter().map(|s| s.to_string()).collect();
        let codes = ColumnCodes::of("site", &values);
        let groups = column_groups(&codes, &[0, 1, 3]);
        let by_value: Vec<(&str, usize, usize)> =
            groups.iter().map(|g| (g.value.as_str(), g.pool, g.picked)).collect();
        assert_eq!(by_value, [("a", 3, 1), ("b", 1, 1), ("c", 1, 1)]);
    }
}
