//! A finished plan: what each budget buys, the recommended budget, and plan.json.

use std::rc::Rc;

use wasm_bindgen::JsCast;

use labelplan_core::plan::BudgetPlan;
use labelplan_core::write::{self, Export};
use yew::prelude::*;

use super::compare::{self, Compare};
use super::coverage::CoverageBars;
use super::curve::BudgetCurve;
use super::items::use_items;
use super::map::{GpuDrawing, PlanMap};
use super::picks::PicksTable;
use super::state::{Found, Planned};
use crate::protocol::{ColumnCodes, Item};

/// Props of [`PlanResult`].
#[derive(Properties, PartialEq)]
pub struct PlanResultProps {
    /// The plan.
    pub planned: Planned,
    /// "Download plan.json" clicked.
    pub on_download: Callback<Export>,
    /// The worker's last answer describing rows (ids, metadata).
    pub described: Option<Rc<Vec<Item>>>,
    /// Asks the worker to describe rows.
    pub on_describe: Callback<Vec<u32>>,
    /// The worker's last answer to a search.
    pub found: Option<Found>,
    /// Search by id or row number.
    pub on_find: Callback<String>,
    /// Plans of other methods to compare with this one.
    pub compared: Vec<Planned>,
    /// Plan another method to compare.
    pub on_compare: Callback<labelplan_core::plan::Method>,
    /// Whether a request is running.
    pub busy: bool,
    /// The dataset's metadata columns.
    pub columns: Vec<String>,
    /// Metadata columns the worker coded as categories.
    pub coded: Vec<Rc<ColumnCodes>>,
    /// Asks the worker to code a column.
    pub on_column: Callback<String>,
    /// The map drawn on the GPU plans run on (`None`: on the page).
    #[prop_or_default]
    pub gpu: Option<GpuDrawing>,
}

fn budget_row(b: &BudgetPlan) -> Html {
    let beta = b.beta.map_or_else(|| "—".to_owned(), |beta| format!("{:.0}%", beta * 100.0));
    html! {
        <tr data-testid="budget-row">
            <td>{ b.budget.to_string() }</td>
            <td data-testid="count">{ b.count }</td>
            <td>{ format!("{:.2}", b.cost) }</td>
            <td>{ format!("{:.1}", b.hours) }</td>
            <td data-testid="share">{ labelplan_core::write::share_text(b.share) }</td>
            <td>{ format!("{:.1}%", b.coverage.within_delta * 100.0) }</td>
            <td>{ format!("{:.3}", b.coverage.mean_distance) }</td>
            <td>{ b.coverage.clusters_hit }</td>
            <td>{ beta }</td>
        </tr>
    }
}

/// Sections that mount after the budgets table (see `revealed` in [`PlanResult`]).
const SECTIONS: u8 = 4;

/// Runs `f` in a later task (a zero timeout), after the browser has had its turn.
fn after_a_task(f: impl FnOnce() + 'static) {
    let callback = wasm_bindgen::closure::Closure::once_into_js(f);
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), 0);
    }
}

/// Puts `text` on the clipboard (the browser allows it after a click, on https or
/// localhost).
async fn copy_text(text: &str) -> Result<(), String> {
    let clipboard = web_sys::window().ok_or("no window")?.navigator().clipboard();
    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text)).await.map(|_| ()).map_err(|e| {
        format!("could not copy the summary: {}", e.as_string().unwrap_or_else(|| format!("{e:?}")))
    })
}

/// The label, test id and tooltip of an export's button.
fn export_button(export: Export) -> (&'static str, &'static str, &'static str) {
    match export {
        Export::PlanJson => {
            ("plan.json", "download-plan", "everything: settings, curve, picks; reproduces the plan")
        }
        Export::RankedCsv => {
            ("ranked.csv", "download-ranked", "every item in pick order with its cluster, score and metadata")
        }
        Export::SelectedIds => {
            ("selected_ids.txt", "download-ids", "the ids picked at the first budget, one per line")
        }
        Export::LabelStudio => (
            "Label Studio tasks",
            "download-labelstudio",
            "labelstudio.json: tasks for the first budget, to import",
        ),
    }
}

/// Budgets table, recommendation, how the plan ran, and the downloads.
#[function_component]
pub fn PlanResult(props: &PlanResultProps) -> Html {
    let Planned { plan, map, seconds, note } = &props.planned;
    // None: not copied yet; Some(Ok): copied; Some(Err): why not.
    let copied = use_state(|| None::<Result<(), String>>);
    let on_copy = {
        let (copied, text) = (copied.clone(), write::summary_markdown(plan));
        Callback::from(move |_: MouseEvent| {
            let (copied, text) = (copied.clone(), text.clone());
            wasm_bindgen_futures::spawn_local(async move { copied.set(Some(copy_text(&text).await)) });
        })
    };
    // The sections mount one per task, a zero timeout apart: a large plan's page is a lot
    // of rendering and layout, and at once it held the main thread for over 50 ms.
    let revealed = use_state(|| 0u8);
    {
        let revealed = revealed.clone();
        use_effect_with(*revealed, move |&now| {
            if now < SECTIONS {
                after_a_task(move || revealed.set(now + 1));
            }
        });
    }
    let items = use_items(props.described.clone());
    let items_len = items.borrow().len();
    // The item selected on the map or in the table (or found by a search).
    let selected = use_state(|| None::<u32>);
    {
        let selected = selected.clone();
        use_effect_with(props.found.clone(), move |found| {
            if let Some(row) = found.as_ref().and_then(|f| f.row) {
                selected.set(Some(row));
            }
        });
    }
    let on_select = {
        let selected = selected.clone();
        Callback::from(move |row: u32| selected.set(Some(row)))
    };
    let m = &plan.manifest;
    let eligible = plan.pool - plan.labeled;
    html! {
        <section class="plan-result" data-testid="plan-result">
            <h2>{ format!("Plan: {} on {}", m.settings.method, m.input.name) }</h2>
            <p class="meta" data-testid="plan-meta" data-seconds={seconds.to_string()}>
                { format!("{eligible} items to choose from, {} pseudo-label clusters (by {}) · ", plan.clustering.k, plan.clustering.chosen_by) }
                <span data-testid="plan-backend">{ &m.backend }</span>
                { format!(" · {seconds:.1} s") }
            </p>
            if let Some(note) = note {
                <p class="note" data-testid="plan-note">{ note }</p>
            }
            // Scrolls sideways on a phone rather than widening the page.
            <div class="table-scroll"><table>
                <thead>
                    <tr>
                        <th>{ "Budget" }</th><th>{ "Items" }</th><th>{ "Cost" }</th><th>{ "Hours" }</th>
                        <th title={labelplan_core::write::SHARE_MEANING}>{ "Share of reachable quality (est.)" }</th>
                        <th title={format!("items within cosine distance {} of a pick", m.settings.coverage_delta)}>{ "Covered" }</th>
                        <th title="mean cosine distance from an item to its nearest pick">{ "Mean dist." }</th>
                        <th>{ "Clusters hit" }</th><th title="hardest share cut (ELFS, CCS)">{ "β" }</th>
                    </tr>
                </thead>
                <tbody>{ for plan.budgets.iter().map(budget_row) }</tbody>
            </table></div>
            if plan.recommended.is_some() {
                { for labelplan_core::write::readings(plan).into_iter().zip(["recommended", "reaches"]).map(|(line, testid)| html! {
                    <p class={testid} data-testid={testid} title={labelplan_core::write::SHARE_MEANING}>{ line }</p>
                }) }
                <p class="note" data-testid="task-note">{ labelplan_core::write::estimate_note(plan) }</p>
            }
            <div class="actions">
                { for Export::ALL.into_iter().map(|export| {
                    let (label, testid, title) = export_button(export);
                    let onclick = props.on_download.reform(move |_: MouseEvent| export);
                    html! { <button {onclick} {title} data-testid={testid}>{ label }</button> }
                }) }
                <button onclick={on_copy} data-testid="copy-summary"
                    title="the plan in Markdown (budgets, recommendation, input hash) for a planning document">
                    { if matches!(*copied, Some(Ok(()))) { "Summary copied ✓" } else { "Copy summary" } }
                </button>
            </div>
            if let Some(Err(why)) = &*copied {
                <p class="field-error" role="alert">{ why }</p>
            }
            if *revealed >= 1 {
                <BudgetCurve plan={plan.clone()} others={compare::overlays(&props.compared)} />
                <Compare planned={props.planned.clone()} compared={props.compared.clone()}
                    on_compare={props.on_compare.clone()} busy={props.busy} />
            }
            if *revealed >= 2 {
                <PlanMap plan={plan.clone()} map={map.clone()}
                    items={items.clone()} {items_len} on_describe={props.on_describe.clone()}
                    selected={*selected} on_select={on_select.clone()} columns={props.columns.clone()}
                    coded={props.coded.clone()} on_column={props.on_column.clone()} gpu={props.gpu.clone()} />
            }
            if *revealed >= 3 {
                <CoverageBars plan={plan.clone()} columns={props.columns.clone()}
                    coded={props.coded.clone()} on_column={props.on_column.clone()} />
            }
            if *revealed >= 4 {
                <PicksTable plan={plan.clone()} map={map.clone()}
                    {items} {items_len} selected={*selected} {on_select}
                    on_need={props.on_describe.clone()} on_find={props.on_find.clone()} found={props.found.clone()} />
            }
        </section>
    }
}
