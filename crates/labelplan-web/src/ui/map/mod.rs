//! The map of the pool: every item at its place in the neighbour layout, coloured by
//! pseudo-label cluster or a metadata column, the picks highlighted on top of the rest. Wheel or +/− zooms,
//! dragging or the arrow keys pan, 0 fits; hovering names the item (the worker looks
//! up its id and metadata); the slider grows the highlighted set along the ranked order.

pub mod hit;
pub mod view;

use std::cell::RefCell;
use std::rc::Rc;

use labelplan_core::plan::Plan;
use labelplan_select::map::PoolMap;
use wasm_bindgen::{Clamped, JsCast};
use yew::prelude::*;

use super::items::Items;
use crate::protocol::{ColumnCodes, MapDraw};
use crate::ui::state::Drawn;
use hit::Grid;
use labelplan_core::draw::{colour, paint, Frame, Style};
use view::View;

/// CSS pixels within which hovering finds a point.
const HOVER_RADIUS: f64 = 6.0;
/// CSS pixels a press may move and still be a click (not a drag).
const CLICK_SLOP: f64 = 4.0;
/// Zoom per wheel pixel (a notch of 100 zooms by about 1.16).
const WHEEL_ZOOM: f64 = 0.0015;
/// CSS pixels an arrow key pans.
const KEY_PAN: f64 = 40.0;

/// Props of [`PlanMap`].
#[derive(Properties, PartialEq)]
pub struct PlanMapProps {
    /// The plan: clusters, ranked order, budgets.
    pub plan: Rc<Plan>,
    /// Its map: positions and the slider's order.
    pub map: Rc<PoolMap>,
    /// Ids and metadata described so far.
    pub items: Rc<RefCell<Items>>,
    /// How many rows `items` holds (a change re-renders the tooltip).
    pub items_len: usize,
    /// Asks the worker to describe rows (their ids and metadata).
    pub on_describe: Callback<Vec<u32>>,
    /// The selected row (ringed; brought into view when selected elsewhere).
    pub selected: Option<u32>,
    /// A point was clicked.
    pub on_select: Callback<u32>,
    /// The dataset's metadata columns (the map can be coloured by one).
    pub columns: Vec<String>,
    /// Metadata columns the worker coded as categories.
    pub coded: Vec<Rc<ColumnCodes>>,
    /// Asks the worker to code a column.
    pub on_column: Callback<String>,
    /// Drawing on the GPU plans run on; `None`: the page paints the map itself.
    #[prop_or_default]
    pub gpu: Option<GpuDrawing>,
}

/// The GPU's side of drawing the map: how to ask it for a frame, and its last answer.
#[derive(Clone)]
pub struct GpuDrawing {
    /// Asks the worker to draw a frame.
    pub on_draw: Callback<MapDraw>,
    /// Its last frame.
    pub drawn: Option<Rc<Drawn>>,
}

/// Same frame by identity: comparing megabytes of pixels on every render would cost
/// more than the render.
fn same_frame(a: &Option<Rc<Drawn>>, b: &Option<Rc<Drawn>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Rc::ptr_eq(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

impl PartialEq for GpuDrawing {
    fn eq(&self, other: &Self) -> bool {
        self.on_draw == other.on_draw && same_frame(&self.drawn, &other.drawn)
    }
}

/// The first `count` rows of `order`, as a mask over `rows` rows.
fn highlighted(order: &[u32], rows: usize, count: usize) -> Vec<bool> {
    let mut mask = vec![false; rows];
    order.iter().take(count).for_each(|&r| mask[r as usize] = true);
    mask
}

/// Each row's place in `order` (`None`: not picked at any budget the plan ran).
fn ranks(order: &[u32], rows: usize) -> Vec<Option<u32>> {
    let mut rank = vec![None; rows];
    order.iter().enumerate().for_each(|(i, &r)| rank[r as usize] = Some(i as u32));
    rank
}

fn pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0)
}

fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// The style of a map of `rows` points on this screen.
fn style(rows: usize) -> Style {
    Style::new(rows, pixel_ratio(), prefers_dark())
}

/// Puts RGBA `pixels` of `frame` on `canvas` (sized to it first).
fn put(canvas: &web_sys::HtmlCanvasElement, frame: &Frame, pixels: &[u8]) -> Result<(), String> {
    let (w, h) = (frame.width, frame.height);
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    let context: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d").ok().flatten().ok_or("this browser gives no 2-D canvas")?.unchecked_into();
    let image = web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(pixels), w, h)
        .map_err(|e| format!("{e:?}"))?;
    context.put_image_data(&image, 0.0, 0.0).map_err(|e| format!("{e:?}"))
}

/// Paints the map on `canvas` on the page (the 2-D canvas fallback) and returns the
/// milliseconds it took.
fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    buffer: &mut Vec<u8>,
    view: &View,
    map: &[f32],
    category: &[u32],
    mask: &[bool],
    selected: Option<u32>,
) -> Result<f64, String> {
    let started = now_ms();
    let frame = view.frame();
    buffer.resize(frame.width as usize * frame.height as usize * 4, 0);
    paint(buffer, &frame, map, category, mask, selected, &style(map.len() / 2));
    put(canvas, &frame, buffer)?;
    Ok(now_ms() - started)
}

/// Counts a drawn frame and its milliseconds on the canvas (tests and benchmarks read
/// them there), and who drew it.
fn record(canvas: &web_sys::HtmlCanvasElement, frames: &RefCell<u64>, ms: f64, by: &str) {
    *frames.borrow_mut() += 1;
    let _ = canvas.set_attribute("data-frames", &frames.borrow().to_string());
    let _ = canvas.set_attribute("data-frame-ms", &format!("{ms:.2}"));
    let _ = canvas.set_attribute("data-drawn-by", by);
}

/// The view that fits the map on the canvas at its current size.
fn fitted(canvas: &web_sys::HtmlCanvasElement, map: &[f32]) -> View {
    let ratio = pixel_ratio();
    let width = (canvas.client_width().max(100) as f64 * ratio).round();
    let height = (canvas.client_height().max(100) as f64 * ratio).round();
    View::fit(map, width, height)
}

/// The map panel.
#[function_component]
pub fn PlanMap(props: &PlanMapProps) -> Html {
    let plan = &props.plan;
    let order = &props.map.order;
    let largest = order.len();
    let canvas = use_node_ref();
    let view = use_state(|| None::<View>);
    let count = use_state(|| plan.budgets.first().map_or(largest, |b| b.count).min(largest));
    // The hovered row and where the pointer is (CSS pixels in the canvas).
    let hover = use_state(|| None::<(u32, f64, f64)>);
    // While the pointer is down: where it was last, and whether it moved past a click.
    let drag = use_mut_ref(|| None::<(f64, f64, bool)>);
    let buffer = use_mut_ref(Vec::<u8>::new);
    // Frames drawn: the canvas carries the count and the last frame's paint time as
    // data attributes (tests and benchmarks read them), set without a re-render.
    let frames = use_mut_ref(|| 0u64);
    let grid = use_memo(props.map.clone(), |map| Grid::new(&map.positions));
    let mask =
        use_memo((props.map.clone(), *count), |(map, count)| highlighted(&map.order, plan.pool, *count));
    let rank = use_memo(props.map.clone(), |map| ranks(&map.order, plan.pool));
    let failed = use_state(|| None::<String>);
    // The metadata column the map is coloured by (None: the pseudo-label clusters), and
    // its codes once the worker sent them.
    let colour_by = use_state(|| None::<String>);
    let coded = props.coded.iter().find(|c| Some(&c.name) == colour_by.as_ref()).cloned();

    // Frames asked of the GPU: the one in flight (its number and when it was asked) and
    // the latest wanted; one at a time, so a busy worker never piles up frames.
    let in_flight = use_mut_ref(|| None::<(u64, f64)>);
    let wanted = use_mut_ref(|| None::<MapDraw>);
    // Why the GPU could not draw, once it could not: the page paints from then on.
    let gpu_failed = use_state(|| None::<String>);
    let gpu = props.gpu.clone().filter(|_| gpu_failed.is_none());
    let ask = {
        let (in_flight, gpu) = (in_flight.clone(), gpu.clone());
        Rc::new(move |request: MapDraw| {
            if let Some(gpu) = &gpu {
                *in_flight.borrow_mut() = Some((request.seq, now_ms()));
                gpu.on_draw.emit(request);
            }
        })
    };
    {
        let (canvas, view, map, plan, mask) =
            (canvas.clone(), view.clone(), props.map.clone(), plan.clone(), mask.clone());
        let (buffer, failed, frames, selected) =
            (buffer.clone(), failed.clone(), frames.clone(), props.selected);
        let (in_flight, wanted, ask, count) = (in_flight.clone(), wanted.clone(), ask.clone(), *count);
        let on_gpu = gpu.is_some();
        use_effect_with(
            (*view, mask.clone(), map.clone(), selected, coded.clone(), on_gpu),
            move |(.., coded, _)| {
                let category = coded.as_ref().map_or(plan.cluster.as_slice(), |c| c.codes.as_slice());
                let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() else { return };
                let Some(v) = *view else {
                    view.set(Some(fitted(&c, &map.positions)));
                    return;
                };
                if on_gpu {
                    let seq = wanted.borrow().as_ref().map_or(1, |w| w.seq + 1);
                    let colour_by = coded.as_ref().map(|c| c.name.clone());
                    let style = style(map.positions.len() / 2);
                    let request =
                        MapDraw { seq, frame: v.frame(), count: count as u32, colour_by, selected, style };
                    *wanted.borrow_mut() = Some(request.clone());
                    if in_flight.borrow().is_none() {
                        ask(request);
                    }
                    return;
                }
                match draw(&c, &mut buffer.borrow_mut(), &v, &map.positions, category, &mask, selected) {
                    Ok(ms) => record(&c, &frames, ms, "page"),
                    Err(why) => failed.set(Some(why)),
                }
            },
        );
    }
    // The GPU's frame: shown, timed from when it was asked; then the latest wanted, if
    // the view moved meanwhile.
    {
        let (canvas, frames, failed, gpu_failed) =
            (canvas.clone(), frames.clone(), failed.clone(), gpu_failed.clone());
        let (in_flight, wanted, ask) = (in_flight.clone(), wanted.clone(), ask.clone());
        let drawn = props.gpu.as_ref().and_then(|g| g.drawn.clone());
        // Keyed by the frame's identity (see `same_frame`).
        let key = drawn.as_ref().map(|d| Rc::as_ptr(d) as usize);
        use_effect_with(key, move |_| {
            let Some(drawn) = drawn else { return };
            let Some((seq, asked_ms)) = *in_flight.borrow() else { return };
            if drawn.seq != seq {
                return;
            }
            *in_flight.borrow_mut() = None;
            match (&drawn.pixels, canvas.cast::<web_sys::HtmlCanvasElement>()) {
                (Err(why), _) => gpu_failed.set(Some(why.clone())),
                (Ok(pixels), Some(c)) => match put(&c, &drawn.frame, pixels) {
                    Ok(()) => record(&c, &frames, now_ms() - asked_ms, "gpu"),
                    Err(why) => failed.set(Some(why)),
                },
                (Ok(_), None) => {}
            }
            let next = wanted.borrow().clone().filter(|w| w.seq != seq);
            if let Some(request) = next {
                ask(request);
            }
        });
    }

    // A row selected elsewhere (the table, a search) is brought into view.
    {
        let (view, map) = (view.clone(), props.map.clone());
        use_effect_with(props.selected, move |selected| {
            if let (Some(row), Some(v)) = (*selected, *view) {
                let (x, y) = (map.positions[2 * row as usize], map.positions[2 * row as usize + 1]);
                let (sx, sy) = v.to_screen(x, y);
                if sx < 0.0 || sy < 0.0 || sx > v.width || sy > v.height {
                    view.set(Some(View { centre: (x as f64, y as f64), ..v }));
                }
            }
        });
    }
    let ratio = pixel_ratio();
    let set_view = {
        let view = view.clone();
        move |f: &dyn Fn(&View) -> View| {
            if let Some(v) = *view {
                view.set(Some(f(&v)));
            }
        }
    };
    let onwheel = {
        let set_view = set_view.clone();
        Callback::from(move |e: WheelEvent| {
            e.prevent_default();
            let factor = (-e.delta_y() * WHEEL_ZOOM).exp();
            let (x, y) = (e.offset_x() as f64 * ratio, e.offset_y() as f64 * ratio);
            set_view(&|v| v.zoomed(factor, x, y));
        })
    };
    let onpointerdown = {
        let drag = drag.clone();
        Callback::from(move |e: PointerEvent| {
            if let Some(target) = e.target_dyn_into::<web_sys::Element>() {
                let _ = target.set_pointer_capture(e.pointer_id());
            }
            *drag.borrow_mut() = Some((e.client_x() as f64, e.client_y() as f64, false));
        })
    };
    let onpointermove = {
        let (drag, hover, grid, map) = (drag.clone(), hover.clone(), grid.clone(), props.map.clone());
        let items = props.items.clone();
        let (view, set_view, on_describe) = (view.clone(), set_view.clone(), props.on_describe.clone());
        Callback::from(move |e: PointerEvent| {
            let (cx, cy) = (e.client_x() as f64, e.client_y() as f64);
            let last = *drag.borrow();
            if let Some((lx, ly, moved)) = last {
                let moved = moved || (cx - lx).hypot(cy - ly) > CLICK_SLOP;
                if moved {
                    *drag.borrow_mut() = Some((cx, cy, true));
                    set_view(&|v| v.panned((cx - lx) * ratio, (cy - ly) * ratio));
                }
                return;
            }
            let Some(v) = *view else { return };
            let (x, y) = (e.offset_x() as f64, e.offset_y() as f64);
            let (mx, my) = v.to_map(x * ratio, y * ratio);
            let found = grid.nearest(&map.positions, mx, my, HOVER_RADIUS * ratio / v.scale);
            match found {
                Some(row) => {
                    if hover.as_ref().map(|h| h.0) != Some(row) && items.borrow().get(row).is_none() {
                        on_describe.emit(vec![row]);
                    }
                    hover.set(Some((row, x, y)));
                }
                None if hover.is_some() => hover.set(None),
                None => {}
            }
        })
    };
    // A press that did not move is a click: it selects the point under the pointer.
    let onpointerup = {
        let (drag, hover, on_select) = (drag.clone(), hover.clone(), props.on_select.clone());
        Callback::from(move |_: PointerEvent| {
            let was = drag.borrow_mut().take();
            if let (Some((_, _, false)), Some((row, _, _))) = (was, *hover) {
                on_select.emit(row);
            }
        })
    };
    let onpointerleave = {
        let hover = hover.clone();
        Callback::from(move |_: PointerEvent| hover.set(None))
    };
    let onkeydown = {
        let (set_view, view, canvas, map) =
            (set_view.clone(), view.clone(), canvas.clone(), props.map.clone());
        Callback::from(move |e: KeyboardEvent| {
            let pan = KEY_PAN * ratio;
            let centre = |v: &View| (v.width / 2.0, v.height / 2.0);
            match e.key().as_str() {
                "+" | "=" => set_view(&|v| v.zoomed(1.25, centre(v).0, centre(v).1)),
                "-" | "_" => set_view(&|v| v.zoomed(0.8, centre(v).0, centre(v).1)),
                "ArrowLeft" => set_view(&|v| v.panned(pan, 0.0)),
                "ArrowRight" => set_view(&|v| v.panned(-pan, 0.0)),
                "ArrowUp" => set_view(&|v| v.panned(0.0, pan)),
                "ArrowDown" => set_view(&|v| v.panned(0.0, -pan)),
                "0" => {
                    if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                        view.set(Some(fitted(&c, &map.positions)));
                    }
                }
                _ => return,
            }
            e.prevent_default();
        })
    };
    let on_count = {
        let count = count.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            count.set(input.value().parse().unwrap_or(0));
        })
    };

    let on_colour = {
        let (colour_by, on_column) = (colour_by.clone(), props.on_column.clone());
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let name = select.value();
            if name.is_empty() {
                colour_by.set(None);
            } else {
                on_column.emit(name.clone());
                colour_by.set(Some(name));
            }
        })
    };
    // The legend: (colour index, label) per category.
    let legend: Vec<(u32, String)> = match &coded {
        Some(c) => {
            c.categories.iter().enumerate().map(|(i, (v, n))| (i as u32, format!("{v} ({n})"))).collect()
        }
        None => (0..plan.clustering.k as u32)
            .map(|c| (c, format!("{c} ({})", plan.clustering.sizes.get(c as usize).copied().unwrap_or(0))))
            .collect(),
    };
    let eligible = (plan.pool - plan.labeled).max(1);
    let percent = 100.0 * *count as f64 / eligible as f64;
    let zoom = view.map_or(1.0, |v| v.zoom());
    let tooltip = hover.as_ref().map(|&(row, x, y)| {
        let items = props.items.borrow();
        let item = items.get(row);
        let id = item.and_then(|d| d.id.clone()).unwrap_or_else(|| format!("row {row}"));
        let cluster = plan.cluster.get(row as usize).copied().unwrap_or(0);
        let fields = item.map(|d| d.fields.iter().take(4).cloned().collect::<Vec<_>>()).unwrap_or_default();
        let pick = match rank.get(row as usize).copied().flatten() {
            Some(r) if (r as usize) < *count => format!("pick #{} of {}", r + 1, *count),
            Some(r) => format!("pick #{} (past the highlighted {})", r + 1, *count),
            None => "not picked at any budget planned".to_owned(),
        };
        let style = format!("left: {}px; top: {}px", x + 12.0, y + 12.0);
        html! {
            <div class="map-tooltip" data-testid="map-tooltip" {style}>
                <strong>{ id }</strong>
                <span>{ format!("cluster {cluster} · {pick}") }</span>
                { for fields.into_iter().map(|(k, v)| html! { <span>{ format!("{k}: {v}") }</span> }) }
            </div>
        }
    });
    let k = plan.clustering.k;
    let by = colour_by.as_deref().unwrap_or("");
    html! {
        <section class="plan-map" data-testid="plan-map">
            <h3>{ "Map of the pool" }</h3>
            <p class="meta">
                { "Items that sit close are similar; the highlighted items are the picks, coloured by the grouping chosen below. Scroll or +/− to zoom, drag or arrow keys to pan, 0 to fit; click an item to find it in the table." }
            </p>
            <div class="map-frame">
                <canvas ref={canvas} tabindex="0" data-testid="map-canvas"
                    role="img"
                    aria-label={format!("Map of {} items in {k} clusters, {} highlighted", plan.pool, *count)}
                    data-zoom={format!("{zoom:.3}")}
                    {onwheel} {onpointerdown} {onpointermove} {onpointerup} {onpointerleave} {onkeydown} />
                { tooltip.unwrap_or_default() }
            </div>
            if let Some(why) = &*failed {
                <p class="field-error" role="alert">{ format!("The map could not be drawn: {why}") }</p>
            }
            if let (Some(why), Some(_)) = (&*gpu_failed, &props.gpu) {
                <p class="meta" data-testid="map-gpu-note">{ format!("Drawn on the page: the GPU could not draw the map ({why}).") }</p>
            }
            <label class="map-budget">
                <span>{ "Highlight the first picks" }</span>
                <input type="range" min="0" max={largest.to_string()} value={count.to_string()}
                    data-testid="map-budget" oninput={on_count} />
                <output data-testid="map-count">{ format!("{} items ({percent:.1}% of the pool)", *count) }</output>
            </label>
            <div class="map-colours">
                <label for="map-colour-by">{ "Colour by" }</label>
                <select id="map-colour-by" data-testid="map-colour-by" onchange={on_colour}>
                    <option value="" selected={by.is_empty()}>{ "pseudo-label cluster" }</option>
                    { for props.columns.iter().map(|c| html! { <option value={c.clone()} selected={c == by}>{ c }</option> }) }
                </select>
                <ul class="map-legend" aria-label="colours" data-testid="map-legend"
                    data-by={coded.as_ref().map_or_else(|| "cluster".to_owned(), |c| c.name.clone())}>
                    { for legend.into_iter().map(|(c, label)| {
                        let [r, g, b] = colour(c);
                        html! {
                            <li>
                                <span class="swatch" style={format!("background: rgb({r}, {g}, {b})")}></span>
                                { label }
                            </li>
                        }
                    }) }
                </ul>
            </div>
        </section>
    }
}
