//! The picks table: every item of the pool in pick order (the map's order, then the
//! items no budget picked), with rank, id, cluster, score, the budgets that pick it and
//! its metadata. Only the rows in view are in the page (100,000 rows scroll like 30);
//! their ids and metadata come from the worker a window at a time. Search by id or row
//! number; a click selects the item here and on the map.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ops::Range;
use std::rc::Rc;

use labelplan_core::plan::Plan;
use labelplan_select::map::PoolMap;
use yew::prelude::*;

use super::items::Items;
use super::state::Found;

/// Height of a row in CSS pixels (the stylesheet's `.table-row` height).
pub const ROW_HEIGHT: f64 = 30.0;
/// Rows the scroll box shows at once.
const VIEW_ROWS: usize = 14;
/// Rows kept in the page above and below the view, so a fast scroll shows no gap.
const OVERSCAN: usize = 8;
/// Metadata columns shown (the rest are in ranked.csv).
const META_COLUMNS: usize = 3;

/// The table's rows: `order` (the map's pick order), then every other row of the pool
/// by row number.
pub fn table_rows(order: &[u32], pool: usize) -> Vec<u32> {
    let mut listed = vec![false; pool];
    order.iter().for_each(|&r| listed[r as usize] = true);
    order.iter().copied().chain((0..pool as u32).filter(|&r| !listed[r as usize])).collect()
}

/// Table positions in the page for a scroll offset: the rows in view plus the overscan.
pub fn window(scroll_top: f64, total: usize) -> Range<usize> {
    let first = (scroll_top.max(0.0) / ROW_HEIGHT).floor() as usize;
    first.saturating_sub(OVERSCAN).min(total)..(first + VIEW_ROWS + OVERSCAN).min(total)
}

/// The scroll offset that puts table position `at` in the middle of the view.
pub fn centred(at: usize) -> f64 {
    ((at as f64 + 0.5) * ROW_HEIGHT - VIEW_ROWS as f64 * ROW_HEIGHT / 2.0).max(0.0)
}

/// Props of [`PicksTable`].
#[derive(Properties, PartialEq)]
pub struct PicksTableProps {
    /// The plan.
    pub plan: Rc<Plan>,
    /// Its map (the pick order).
    pub map: Rc<PoolMap>,
    /// Ids and metadata described so far.
    pub items: Rc<RefCell<Items>>,
    /// How many rows `items` holds (a change re-renders the table).
    pub items_len: usize,
    /// The selected row.
    pub selected: Option<u32>,
    /// A row was clicked.
    pub on_select: Callback<u32>,
    /// Rows whose ids and metadata the table shows but has not got.
    pub on_need: Callback<Vec<u32>>,
    /// Search by id or row number.
    pub on_find: Callback<String>,
    /// The last search's answer.
    pub found: Option<Found>,
}

/// The picks table.
#[function_component]
pub fn PicksTable(props: &PicksTableProps) -> Html {
    let plan = &props.plan;
    let rows = use_memo(props.map.clone(), |map| table_rows(&map.order, plan.pool));
    // Each row's position in the table and its pick rank (None: no budget picked it).
    let place = use_memo(rows.clone(), |rows| {
        let mut place = vec![0usize; rows.len()];
        rows.iter().enumerate().for_each(|(i, &r)| place[r as usize] = i);
        place
    });
    let budget_masks = use_memo(plan.clone(), |plan| {
        plan.budgets
            .iter()
            .map(|b| {
                let mut m = vec![false; plan.pool];
                b.rows.iter().for_each(|&r| m[r as usize] = true);
                (b.budget.to_string(), m)
            })
            .collect::<Vec<_>>()
    });
    let scroller = use_node_ref();
    let scroll_top = use_state(|| 0.0f64);
    let requested = use_mut_ref(HashSet::<u32>::new);
    let query = use_state(String::new);
    let picked = props.map.order.len();
    let shown = window(*scroll_top, rows.len());

    // Ask the worker for the ids and metadata of rows in view it has not described.
    {
        let (rows, items, requested, on_need) =
            (rows.clone(), props.items.clone(), requested.clone(), props.on_need.clone());
        use_effect_with(shown.clone(), move |shown| {
            let missing: Vec<u32> = rows[shown.clone()]
                .iter()
                .copied()
                .filter(|&r| items.borrow().get(r).is_none() && requested.borrow_mut().insert(r))
                .collect();
            if !missing.is_empty() {
                on_need.emit(missing);
            }
        });
    }
    // A selection made elsewhere (the map, a search) scrolls its row into view.
    {
        let (scroller, place) = (scroller.clone(), place.clone());
        use_effect_with(props.selected, move |selected| {
            if let (Some(row), Some(el)) = (selected, scroller.cast::<web_sys::Element>()) {
                let top = (place[*row as usize] as f64) * ROW_HEIGHT;
                let (now, height) = (el.scroll_top() as f64, el.client_height() as f64);
                if top < now || top + ROW_HEIGHT > now + height {
                    el.set_scroll_top(centred(place[*row as usize]) as i32);
                }
            }
        });
    }
    let onscroll = {
        let scroll_top = scroll_top.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::Element = e.target_unchecked_into();
            scroll_top.set(el.scroll_top() as f64);
        })
    };
    let onsubmit = {
        let (query, on_find) = (query.clone(), props.on_find.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !query.trim().is_empty() {
                on_find.emit((*query).clone());
            }
        })
    };
    let oninput = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            query.set(input.value());
        })
    };

    let items = props.items.borrow();
    let meta_names: Vec<String> = rows[shown.clone()]
        .iter()
        .find_map(|&r| items.get(r))
        .map(|i| i.fields.iter().take(META_COLUMNS).map(|f| f.0.clone()).collect())
        .unwrap_or_default();
    let columns = format!(
        "grid-template-columns: 4.5rem minmax(7rem, 2fr) 4.5rem 5.5rem minmax(6rem, 1fr){}",
        " minmax(6rem, 1fr)".repeat(meta_names.len())
    );
    let row_html = |at: usize| {
        let row = rows[at];
        let r = row as usize;
        let item = items.get(row);
        let id =
            item.map_or_else(|| "…".to_owned(), |i| i.id.clone().unwrap_or_else(|| format!("row {row}")));
        let rank = if at < picked { (at + 1).to_string() } else { "—".to_owned() };
        let score = plan.score.as_ref().map_or_else(|| "—".to_owned(), |s| format!("{:.3}", s[r]));
        let budgets: Vec<&str> =
            budget_masks.iter().filter(|(_, m)| m[r]).map(|(name, _)| name.as_str()).collect();
        let selected = props.selected == Some(row);
        let onclick = props.on_select.reform(move |_: MouseEvent| row);
        let onkeydown = {
            let on_select = props.on_select.clone();
            Callback::from(move |e: KeyboardEvent| {
                if e.key() == "Enter" || e.key() == " " {
                    e.prevent_default();
                    on_select.emit(row);
                }
            })
        };
        let style = format!("top: {}px; {columns}", at as f64 * ROW_HEIGHT);
        html! {
            <div key={row} class={classes!("table-row", selected.then_some("selected"))} role="row"
                aria-rowindex={(at + 2).to_string()} aria-selected={selected.to_string()} tabindex="0"
                data-testid="pick-row" data-row={row.to_string()} {style} {onclick} {onkeydown}>
                <span role="cell">{ rank }</span>
                <span role="cell" class="id">{ id }</span>
                <span role="cell">{ plan.cluster[r] }</span>
                <span role="cell">{ score }</span>
                <span role="cell">{ if budgets.is_empty() { "—".to_owned() } else { budgets.join(", ") } }</span>
                { for item.into_iter().flat_map(|i| i.fields.iter().take(META_COLUMNS)).map(|(_, v)| html! { <span role="cell">{ v }</span> }) }
            </div>
        }
    };
    let found = props.found.as_ref().map(|f| match f.row {
        Some(row) => format!(
            "{} is row {row}, {}.",
            f.text.trim(),
            match place.get(row as usize) {
                Some(&at) if at < picked => format!("pick #{}", at + 1),
                _ => "not picked at any budget planned".to_owned(),
            }
        ),
        None => format!("No item has the id or row number {:?}.", f.text.trim()),
    });
    html! {
        <section class="picks" data-testid="picks">
            <h3>{ "The picks" }</h3>
            <p class="meta">
                { format!("All {} items: the {picked} picks first, in the order budgets add them (rank), then the rest. Click a row to find it on the map.", plan.pool) }
            </p>
            <form class="find" {onsubmit} role="search">
                <label for="find-input">{ "Find an item" }</label>
                <input id="find-input" type="search" placeholder="id or row number" value={(*query).clone()}
                    data-testid="find-input" {oninput} />
                <button type="submit" data-testid="find">{ "Find" }</button>
                if let Some(found) = found {
                    <span class="found" data-testid="found" role="status">{ found }</span>
                }
            </form>
            <div class="picks-table" role="table" aria-label="picks" aria-rowcount={(rows.len() + 1).to_string()}>
                <div class="table-row head" role="row" aria-rowindex="1" style={columns.clone()}>
                    <span role="columnheader">{ "Rank" }</span>
                    <span role="columnheader">{ "Id" }</span>
                    <span role="columnheader">{ "Cluster" }</span>
                    <span role="columnheader" title="the method's per-item score, where it has one">{ "Score" }</span>
                    <span role="columnheader" title="requested budgets that pick the item">{ "Picked at" }</span>
                    { for meta_names.iter().map(|n| html! { <span role="columnheader">{ n }</span> }) }
                </div>
                <div class="table-scroll" ref={scroller} {onscroll} data-testid="picks-scroll" role="rowgroup"
                    style={format!("height: {}px", VIEW_ROWS as f64 * ROW_HEIGHT)}>
                    <div class="table-body" style={format!("height: {}px", rows.len() as f64 * ROW_HEIGHT)}>
                        { for shown.clone().map(row_html) }
                    </div>
                </div>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_row_once_picks_first() {
        let rows = table_rows(&[5, 2, 7], 9);
        assert_eq!(rows, vec![5, 2, 7, 0, 1, 3, 4, 6, 8]);
    }

    #[test]
    fn the_window_covers_the_view_and_the_overscan_within_the_table() {
        assert_eq!(window(0.0, 1000), 0..VIEW_ROWS + OVERSCAN);
        let w = window(300.0 * ROW_HEIGHT + 5.0, 1000);
        assert_eq!(w, 300 - OVERSCAN..300 + VIEW_ROWS + OVERSCAN);
        assert_eq!(window(1e9, 1000), 1000..1000, "scrolled past the end: nothing");
        assert_eq!(window(0.0, 5), 0..5);
        // A centred row lies inside the view it scrolls to.
        let top = centred(500);
        assert!(top <= 500.0 * ROW_HEIGHT && 501.0 * ROW_HEIGHT <= top + VIEW_ROWS as f64 * ROW_HEIGHT);
        assert_eq!(centred(0), 0.0);
    }
}
