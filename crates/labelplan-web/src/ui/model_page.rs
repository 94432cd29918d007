//! The model page (`?model`): a small language model (SmolLM2-135M from the page's own
//! origin, or a llama GGUF the user drops) writing text in the page, on WebGPU or the
//! CPU, through the planner's worker and its GPU.

use std::cell::Cell;
use std::rc::Rc;

use yew::prelude::*;
use yew_agent::reactor::{use_reactor_bridge, ReactorEvent};

use labelplan_lm::shipped::{Measured, SetsManifest};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::progress::{human_bytes, ProgressPanel};
use super::sparsity_view::{ExpertHeatmap, SparsityChart};
use super::speed_table::SpeedTable;
use super::state::Busy;
use super::{absolute_url, privacy};
use crate::protocol::{
    FileHandle, Generate, Generated, Measure, ModelInfo, ModelSource, Request, Response, SparsityChoice,
    SpeedReport, Tagged, TimeSparsity,
};
use crate::worker::Engine;

/// Where the model is served, relative to the page (`cargo xtask fetch` puts it there).
pub const MODEL_URL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Tokens of the user's text the in-page measurement reads.
const MEASURE_TOKENS: u32 = 128;

/// The shipped sparsity sets' manifest, relative to the page.
pub const SETS_URL: &str = "sparsity/manifest.json";

/// The sets' manifest, fetched and read.
async fn fetch_manifest() -> Result<SetsManifest, String> {
    let window = web_sys::window().ok_or("no window")?;
    let url = absolute_url(SETS_URL);
    let fail = |e: wasm_bindgen::JsValue| format!("could not read {url}: {e:?}");
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str(&url)).await.map_err(fail)?.unchecked_into();
    if !response.ok() {
        return Err(format!("could not fetch {url}: HTTP {}", response.status()));
    }
    let json = JsFuture::from(response.json().map_err(fail)?).await.map_err(fail)?;
    serde_wasm_bindgen::from_value(json).map_err(|e| format!("{url} is not a sets manifest: {e}"))
}

/// What the page shows.
#[derive(Clone, PartialEq, Default)]
pub struct ModelState {
    /// The running job (a load or a generation).
    busy: Option<Busy>,
    info: Option<ModelInfo>,
    error: Option<String>,
    /// The answer being written (or the last one) and its tokens.
    text: String,
    tokens: Vec<u32>,
    last: Option<Generated>,
    /// Turns so far in chat mode, as (role, text).
    conversation: Vec<(String, String)>,
    /// The user turn of the running generation (chat mode).
    asked: Option<String>,
    /// Tokens per second of the last dense generation (beside a sparse one's).
    dense_rate: Option<f64>,
    /// Perplexities measured in the page on the user's text.
    measured: Vec<Measured>,
    /// The FFN and decoding timed here against the share of experts off.
    speed: Option<SpeedReport>,
}

/// What changes it.
pub enum ModelAction {
    /// A job started: its request number and what it is.
    Started(u64, String, Option<String>),
    /// An answer from the worker.
    Answer(Tagged<Response>),
    /// A new conversation.
    Reset,
}

impl Reducible for ModelState {
    type Action = ModelAction;

    fn reduce(self: Rc<Self>, action: ModelAction) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            ModelAction::Started(id, label, asked) => {
                s.busy = Some(Busy::started(id, label));
                s.error = None;
                if asked.is_some() {
                    s.text.clear();
                    s.tokens.clear();
                    s.asked = asked;
                }
            }
            ModelAction::Reset => {
                s.conversation.clear();
                s.text.clear();
                s.tokens.clear();
                s.last = None;
            }
            ModelAction::Answer(Tagged { id, body }) => {
                let running = s.busy.as_ref().is_some_and(|b| b.id == id);
                match body {
                    Response::Progress { stage, unit, done, total } => {
                        if let Some(b) = s.busy.as_mut().filter(|_| running) {
                            b.advance(stage, unit, done, total);
                        }
                    }
                    Response::Token { text, tokens } if running => {
                        s.text = text;
                        s.tokens = tokens;
                    }
                    Response::ModelLoaded(info) if running => {
                        s.info = Some(info);
                        s.busy = None;
                        s.conversation.clear();
                    }
                    Response::Generated(done) if running => {
                        if let Some(asked) = s.asked.take() {
                            s.conversation.push(("user".into(), asked));
                            s.conversation.push(("assistant".into(), s.text.clone()));
                        }
                        if done.experts.is_none() && !done.stopped && done.tokens.len() > 1 {
                            s.dense_rate = Some(done.tokens_per_second);
                        }
                        s.last = Some(done);
                        s.busy = None;
                    }
                    Response::Failed(f) => {
                        s.error = Some(f.message);
                        if running {
                            s.busy = None;
                            s.asked = None;
                        }
                    }
                    Response::Measured(rows) if running => {
                        s.measured = rows;
                        s.busy = None;
                    }
                    Response::Timed(report) if running => {
                        s.speed = Some(report);
                        s.busy = None;
                    }
                    Response::Cancelled if running => s.busy = None,
                    _ => {}
                }
            }
        }
        Rc::new(s)
    }
}

/// Tokens per second as the page shows them: two decimals below 1 (a software GPU
/// decodes at 0.3 to 0.4, which one decimal cannot tell apart), one above.
fn rate(tokens_per_second: f64) -> String {
    if tokens_per_second < 1.0 {
        format!("{tokens_per_second:.2}")
    } else {
        format!("{tokens_per_second:.1}")
    }
}

fn number<T: std::str::FromStr>(e: &Event, fallback: T) -> T {
    let input: web_sys::HtmlInputElement = e.target_unchecked_into();
    input.value().trim().parse().unwrap_or(fallback)
}

/// The page.
#[function_component]
pub fn ModelPage() -> Html {
    let state = use_reducer(ModelState::default);
    let bridge = {
        let dispatch = state.dispatcher();
        use_reactor_bridge::<Engine, _>(move |event| {
            if let ReactorEvent::Output(answer) = event {
                dispatch.dispatch(ModelAction::Answer(answer));
            }
        })
    };
    let last_id = (*use_state(|| Rc::new(Cell::new(0u64)))).clone();
    let job = {
        let (bridge, dispatch, last_id) = (bridge.clone(), state.dispatcher(), last_id.clone());
        Rc::new(move |label: String, asked: Option<String>, body: Request| {
            let id = last_id.get() + 1;
            last_id.set(id);
            dispatch.dispatch(ModelAction::Started(id, label, asked));
            bridge.send(Tagged { id, body });
        })
    };
    {
        let job = job.clone();
        use_effect_with((), move |_| {
            job(
                "Loading SmolLM2-135M".into(),
                None,
                Request::LoadModel(ModelSource::Url(absolute_url(MODEL_URL))),
            )
        });
    }
    let prompt = use_state(|| "The capital of France is".to_owned());
    let chat = use_state(|| false);
    let temperature = use_state(|| 0.0f32);
    let seed = use_state(|| 0u64);
    let max_tokens = use_state(|| 48u32);
    let gpu_ok = state.info.as_ref().is_some_and(|i| i.gpu.is_ok());
    let on_gpu_choice = use_state(|| None::<bool>);
    let on_gpu = on_gpu_choice.unwrap_or(gpu_ok) && gpu_ok;
    let busy = state.busy.is_some();
    let manifest = use_state(|| None::<Result<SetsManifest, String>>);
    {
        let manifest = manifest.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move { manifest.set(Some(fetch_manifest().await)) })
        });
    }
    // The sets are for the served model; a dropped GGUF runs dense.
    let served = use_state(|| true);
    let chosen_set = use_state(|| None::<usize>);
    let sets = match (&*manifest, *served) {
        (Some(Ok(m)), true) => m.sets.clone(),
        _ => Vec::new(),
    };
    let choices: Vec<SparsityChoice> = sets
        .iter()
        .map(|set| SparsityChoice {
            url: absolute_url(&format!("sparsity/{}", set.file)),
            sha256: set.sha256.clone(),
            label: set.label.clone(),
        })
        .collect();
    let choice = chosen_set.and_then(|i| choices.get(i).cloned());
    let measure_text = use_state(String::new);
    let on_measure = {
        let (job, text, choices) = (job.clone(), measure_text.clone(), choices.clone());
        Callback::from(move |_: MouseEvent| {
            let request = Measure { text: (*text).clone(), tokens: MEASURE_TOKENS, sets: choices.clone() };
            job("Measuring perplexity".into(), None, Request::Measure(Box::new(request)));
        })
    };
    let speed_rounds = use_state(|| 3u32);
    let on_time = {
        let (job, rounds) = (job.clone(), speed_rounds.clone());
        Callback::from(move |_: MouseEvent| {
            let request = TimeSparsity { on_gpu, rounds: *rounds };
            job("Timing the FFN against sparsity".into(), None, Request::TimeSparsity(request));
        })
    };

    let on_generate = {
        let job = job.clone();
        let (prompt, chat) = (prompt.clone(), *chat);
        let conversation = state.conversation.clone();
        let (temperature, seed, max_tokens) = (*temperature, *seed, *max_tokens);
        let choice = choice.clone();
        Callback::from(move |_: MouseEvent| {
            let text = (*prompt).clone();
            let mut messages = if chat { conversation.clone() } else { Vec::new() };
            messages.push(("user".into(), text.clone()));
            let sparsity = choice.clone();
            let request = Generate { messages, chat, temperature, seed, max_tokens, on_gpu, sparsity };
            job("Generating".into(), Some(text).filter(|_| chat), Request::Generate(Box::new(request)));
            if chat {
                prompt.set(String::new());
            }
        })
    };
    let on_stop = {
        let (bridge, last_id) = (bridge.clone(), last_id.clone());
        Callback::from(move |_| {
            let id = last_id.get() + 1;
            last_id.set(id);
            bridge.send(Tagged { id, body: Request::Cancel });
        })
    };
    let on_file = {
        let (job, served, chosen_set) = (job.clone(), served.clone(), chosen_set.clone());
        Callback::from(move |e: Event| {
            served.set(false);
            chosen_set.set(None);
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Some(file) = input.files().and_then(|f| f.get(0)) {
                let name = file.name();
                let handle = FileHandle { name: name.clone(), blob: file.into() };
                job(format!("Loading {name}"), None, Request::LoadModel(ModelSource::File(handle)));
            }
        })
    };
    let dispatch = state.dispatcher();
    let on_reset = Callback::from(move |_: MouseEvent| dispatch.dispatch(ModelAction::Reset));
    let tokens_attr = state.tokens.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    html! {
        <div class="page">
            <header>
                <h1>{ "labelplan" }</h1>
                <span class="tagline">{ "a small language model, running in your browser" }</span>
                <nav><a href="./" data-testid="nav-planner">{ "← the label planner" }</a></nav>
            </header>
            <main class="model-page">
                <section class="model-info" data-testid="lm-model">
                    if let Some(info) = &state.info {
                        <strong>{ &info.name }</strong>
                        <span>{ format!(
                            " — {:.1}M parameters, {} ({})",
                            info.parameters as f64 / 1e6,
                            human_bytes(info.bytes),
                            info.provenance.describe(),
                        ) }</span>
                        <div class="hint">{ &info.shape }</div>
                    } else {
                        <span>{ "No model loaded yet." }</span>
                    }
                    <label class="file-pick">{ "Use another llama GGUF (Q4_1, Q8_0, F16 or F32): " }
                        <input type="file" accept=".gguf" data-testid="lm-file" onchange={on_file} disabled={busy} />
                    </label>
                </section>
                if let Some(b) = &state.busy {
                    <ProgressPanel busy={b.clone()} on_cancel={on_stop.clone()} />
                }
                if let Some(message) = &state.error {
                    <section class="error-panel" data-testid="lm-error" role="alert"><p>{ message }</p><p class="hint">{ "The model loaded before, if any, is still loaded." }</p></section>
                }
                <section class="model-form">
                    if *chat && !state.conversation.is_empty() {
                        <div class="conversation" data-testid="lm-conversation">
                            { for state.conversation.iter().map(|(role, text)| html! {
                                <p class={classes!("turn", role.clone())}><strong>{ format!("{role}: ") }</strong>{ text }</p>
                            }) }
                        </div>
                    }
                    <textarea data-testid="lm-prompt" rows="3" value={(*prompt).clone()}
                        placeholder={ if *chat { "Your message" } else { "A prompt to continue" } }
                        oninput={ let prompt = prompt.clone(); Callback::from(move |e: InputEvent| {
                            let area: web_sys::HtmlTextAreaElement = e.target_unchecked_into();
                            prompt.set(area.value());
                        }) } />
                    <div class="model-controls">
                        <label><input type="checkbox" data-testid="lm-chat" checked={*chat}
                            onchange={ let chat = chat.clone(); Callback::from(move |_| chat.set(!*chat)) } />
                            { " chat (the model's template)" }</label>
                        <label>{ "temperature " }<input type="number" min="0" max="2" step="0.1" data-testid="lm-temperature"
                            value={temperature.to_string()}
                            onchange={ let t = temperature.clone(); Callback::from(move |e: Event| t.set(number(&e, 0.0f32).clamp(0.0, 2.0))) } /></label>
                        <label>{ "seed " }<input type="number" min="0" data-testid="lm-seed" value={seed.to_string()}
                            onchange={ let s = seed.clone(); Callback::from(move |e: Event| s.set(number(&e, 0u64))) } /></label>
                        <label>{ "new tokens " }<input type="number" min="1" max="512" data-testid="lm-max" value={max_tokens.to_string()}
                            onchange={ let m = max_tokens.clone(); Callback::from(move |e: Event| m.set(number(&e, 48u32).clamp(1, 512))) } /></label>
                        <label>{ "run on " }
                            <select data-testid="lm-backend"
                                onchange={ let c = on_gpu_choice.clone(); Callback::from(move |e: Event| {
                                    let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
                                    c.set(Some(select.value() == "gpu"));
                                }) }>
                                <option value="gpu" selected={on_gpu} disabled={!gpu_ok}>{ "WebGPU" }</option>
                                <option value="cpu" selected={!on_gpu}>{ "CPU" }</option>
                            </select>
                        </label>
                        <label>{ "FFN experts " }
                            <select data-testid="lm-sparsity" disabled={sets.is_empty()}
                                onchange={ let c = chosen_set.clone(); Callback::from(move |e: Event| {
                                    let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
                                    c.set(select.value().parse().ok());
                                }) }>
                                <option value="dense" selected={chosen_set.is_none()}>{ "all (dense)" }</option>
                                { for sets.iter().enumerate().map(|(i, set)| html! {
                                    <option value={i.to_string()} selected={*chosen_set == Some(i)}>{ &set.label }</option>
                                }) }
                            </select>
                        </label>
                    </div>
                    if let Some(Err(why)) = &*manifest {
                        <div class="hint" data-testid="lm-sets-error">{ format!("No sparsity sets: {why}") }</div>
                    }
                    if let Some(Err(why)) = state.info.as_ref().map(|i| &i.gpu) {
                        <div class="hint">{ format!("No WebGPU here ({why}): the model runs on the CPU.") }</div>
                    }
                    <div class="model-buttons">
                        <button class="primary" data-testid="lm-generate" onclick={on_generate}
                            disabled={busy || state.info.is_none() || prompt.trim().is_empty()}>{ "Generate" }</button>
                        <button data-testid="lm-stop" onclick={on_stop.reform(|_: MouseEvent| ())} disabled={!busy}>{ "Stop" }</button>
                        if *chat {
                            <button data-testid="lm-reset" onclick={on_reset} disabled={busy}>{ "New conversation" }</button>
                        }
                    </div>
                </section>
                <section class="model-output">
                    // In chat mode a finished answer shows as the conversation's last turn.
                    if !*chat || busy || state.conversation.is_empty() {
                        <pre data-testid="lm-output" data-tokens={tokens_attr}>{ &state.text }</pre>
                    }
                    if let Some(g) = &state.last {
                        <p class="hint" data-testid="lm-stats" data-backend={g.backend.clone()}
                            data-tokens-per-second={g.tokens_per_second.to_string()}>{ format!(
                            "{} · first token after {:.0} ms · {} tokens/s · {} new tokens · prompt {} tokens ({} already cached){}",
                            g.backend, g.first_token_ms, rate(g.tokens_per_second), g.tokens.len(), g.prompt_tokens,
                            g.reused_tokens, if g.stopped { " · stopped" } else { "" },
                        ) }</p>
                    }
                    if let Some(u) = state.last.as_ref().and_then(|g| g.experts.as_ref()) {
                        <p class="hint" data-testid="lm-flops">{ format!(
                            "FFN: {:.1} MFLOPs per token with the chosen experts against {:.1} dense ({:.0}% less){}",
                            u.sparse_flops / 1e6, u.dense_flops / 1e6, 100.0 * (1.0 - u.sparse_flops / u.dense_flops),
                            match (state.dense_rate, state.last.as_ref()) {
                                (Some(d), Some(g)) => format!(" · {} tokens/s against {} in the last dense run", rate(g.tokens_per_second), rate(d)),
                                _ => String::new(),
                            },
                        ) }</p>
                        <ExpertHeatmap usage={u.clone()} />
                    }
                    if let Some(Ok(m)) = &*manifest {
                        <SparsityChart rows={m.evaluation.clone()} text={m.text.clone()} measured={state.measured.clone()}
                            chosen={choice.as_ref().map(|c| c.label.clone())} />
                        <div class="measure-here">
                            <textarea data-testid="lm-measure-text" rows="3" value={(*measure_text).clone()}
                                placeholder="Paste a text to measure every set's perplexity on it, here, on the CPU"
                                oninput={ let t = measure_text.clone(); Callback::from(move |e: InputEvent| {
                                    let area: web_sys::HtmlTextAreaElement = e.target_unchecked_into();
                                    t.set(area.value());
                                }) } />
                            <button data-testid="lm-measure" onclick={on_measure}
                                disabled={busy || state.info.is_none() || sets.is_empty() || measure_text.trim().is_empty()}>
                                { format!("Measure on this text (first {MEASURE_TOKENS} tokens)") }</button>
                        </div>
                        if !state.measured.is_empty() {
                            <table class="measured" data-testid="lm-measured">
                                <tr><th>{ "measured here" }</th><th>{ "perplexity" }</th><th>{ "experts off" }</th></tr>
                                { for state.measured.iter().map(|r| html! {
                                    <tr><td>{ &r.label }</td><td>{ format!("{:.1}", r.perplexity) }</td><td>{ format!("{:.1}%", 100.0 * r.sparsity) }</td></tr>
                                }) }
                            </table>
                        }
                    }
                    <section class="speed-here">
                        <h3>{ "Speed on this device" }</h3>
                        <p class="hint">{ format!(
                            "Every layer's FFN and a decoded token, timed here on {} with routers that switch off 0, 30, 50 and 70% of each layer's experts. Each row keeps its best round.",
                            if on_gpu { "WebGPU" } else { "the CPU" },
                        ) }</p>
                        <div class="model-controls">
                            <label>{ "rounds " }<input type="number" min="1" max="10" data-testid="lm-speed-rounds"
                                value={speed_rounds.to_string()}
                                onchange={ let r = speed_rounds.clone(); Callback::from(move |e: Event| r.set(number(&e, 3u32).clamp(1, 10))) } /></label>
                            <button data-testid="lm-speed" onclick={on_time} disabled={busy || state.info.is_none()}>
                                { "Time it" }</button>
                        </div>
                        if let Some(report) = &state.speed {
                            <SpeedTable report={report.clone()} />
                        }
                    </section>
                </section>
            </main>
            { privacy::footer() }
        </div>
    }
}
