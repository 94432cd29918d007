//! The UI: one component per file, state in a reducer ([`state`]), the worker behind a
//! reactor bridge. Nothing here computes on the data.

mod badge;
pub mod compare;
pub mod coverage;
pub mod curve;
mod download;
mod drop_zone;
mod error_panel;
pub mod form;
mod items;
mod link;
pub mod map;
pub mod model_page;
pub mod picks;
mod plan_form;
mod plan_result;
mod privacy;
mod progress;
mod sparsity_view;
mod speed_table;
pub mod state;
mod summary;

use std::cell::Cell;
use std::rc::Rc;

use labelplan_core::plan::Manifest;
use labelplan_run::BackendPolicy;
use wasm_bindgen_futures::spawn_local;

use yew::prelude::*;
use yew_agent::reactor::{use_reactor_bridge, ReactorEvent, ReactorProvider, UseReactorBridgeHandle};

use crate::codec::JsCodec;
use crate::protocol::{FileHandle, Request, Response, Tagged};
use crate::worker::Engine;
use state::{Action, AppState};

/// Where the worker's script is served, relative to the page. Trunk builds it with
/// wasm-bindgen's `no-modules` target: yew-agent 0.5 drops the `module` setting when a
/// custom codec is set (`ReactorSpawner::encoding` starts a fresh spawner), so the worker
/// is always started as a classic script with `importScripts`.
const WORKER_PATH: &str = "worker.js";
/// Where the built-in sample is served, relative to the page.
pub const SAMPLE_URL: &str = "sample/digits.npy";

/// Resolves `path` against the page's address: the worker runs from a blob URL, where
/// relative paths mean nothing.
fn absolute_url(path: &str) -> String {
    let href = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
    web_sys::Url::new_with_base(path, &href).map(|u| u.href()).unwrap_or_else(|_| path.to_owned())
}

/// Whether a dropped file is a plan to reproduce rather than embeddings (the readers take
/// `.jsonl`, never `.json`).
fn is_plan_file(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".json")
}

/// Reads a dropped plan.json (or manifest) and sets the form from its settings.
async fn replay(file: FileHandle, dispatch: yew::UseReducerDispatcher<AppState>) {
    let text = match wasm_bindgen_futures::JsFuture::from(file.blob.text()).await {
        Ok(text) => text.as_string().unwrap_or_default(),
        Err(e) => {
            return dispatch.dispatch(Action::Refused(format!("{}: could not read it ({e:?})", file.name)))
        }
    };
    match Manifest::from_json(&file.name, &text) {
        Ok(manifest) => {
            link::show(&form::PlanForm::from_settings(&manifest.settings).to_hash());
            dispatch.dispatch(Action::Replay(Rc::new(manifest)));
        }
        Err(message) => dispatch.dispatch(Action::Refused(message)),
    }
}

/// Whether the address asks for the model page (`?model`); the planner is the home page.
fn is_model_page() -> bool {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    search.trim_start_matches('?').split('&').any(|part| part == "model" || part.starts_with("model="))
}

/// The root: provides the worker to the page, the planner or the model page.
#[function_component]
pub fn App() -> Html {
    html! {
        <ReactorProvider<Engine, JsCodec> path={WORKER_PATH}>
            if is_model_page() { <model_page::ModelPage /> } else { <Main /> }
        </ReactorProvider<Engine, JsCodec>>
    }
}

/// The page's end of the worker bridge: numbers every request, and marks jobs (loads,
/// plans) as the running one.
#[derive(Clone)]
struct WorkerLink {
    bridge: UseReactorBridgeHandle<Engine>,
    last_id: Rc<Cell<u64>>,
    dispatch: UseReducerDispatcher<AppState>,
}

impl WorkerLink {
    fn tagged(&self, body: Request) -> Tagged<Request> {
        let id = self.last_id.get() + 1;
        self.last_id.set(id);
        Tagged { id, body }
    }

    /// Starts a load or plan (it replaces a running one), shown as `label`.
    fn job(&self, label: String, request: Request) {
        let tagged = self.tagged(request);
        self.dispatch.dispatch(Action::Started(tagged.id, label));
        self.bridge.send(tagged);
    }

    /// Asks a query, or cancels: the running job goes on.
    fn ask(&self, request: Request) {
        self.bridge.send(self.tagged(request));
    }
}

#[function_component]
fn Main() -> Html {
    let state = use_reducer(AppState::from_link);
    let bridge = {
        let dispatch = state.dispatcher();
        use_reactor_bridge::<Engine, _>(move |event| match event {
            // An export is saved as it arrives; there is nothing to show.
            ReactorEvent::Output(Tagged { body: Response::Exported { name, mime, text }, .. }) => {
                if let Err(message) = download::download(&name, &mime, &text) {
                    dispatch.dispatch(Action::Refused(message));
                }
            }
            ReactorEvent::Output(response) => dispatch.dispatch(Action::Response(response)),
            ReactorEvent::Finished => {}
        })
    };
    let last_id = (*use_state(|| Rc::new(Cell::new(0u64)))).clone();
    let link = WorkerLink { bridge, last_id, dispatch: state.dispatcher() };
    {
        // A worker that panics says so on its own channel; the page keeps what it shows.
        let dispatch = state.dispatcher();
        use_effect_with((), move |_| {
            let listener = crate::stopped::listen(move |why| dispatch.dispatch(Action::WorkerStopped(why)));
            move || drop(listener)
        });
    }
    {
        // The first request: where plans run, as the link says.
        let link = link.clone();
        let policy = state.plan_form.backend;
        use_effect_with((), move |_| link.ask(Request::Backend(policy)));
    }
    let on_file = {
        let link = link.clone();
        let dispatch = state.dispatcher();
        let options = state.load_options();
        Callback::from(move |file: FileHandle| {
            if is_plan_file(&file.name) {
                spawn_local(replay(file, dispatch.clone()));
                return;
            }
            dispatch.dispatch(Action::Remember(file.clone()));
            link.job(format!("Loading {}", file.name), Request::Load { file, options: options.clone() });
        })
    };
    let on_sample = {
        let link = link.clone();
        Callback::from(move |_| {
            link.job("Loading the sample".into(), Request::LoadSample { url: absolute_url(SAMPLE_URL) })
        })
    };
    let on_sidecar = {
        let link = link.clone();
        let join = state.sidecar_join();
        Callback::from(move |file: FileHandle| {
            link.job(format!("Joining {}", file.name), Request::AttachSidecar { file, join: join.clone() })
        })
    };
    let on_cancel = {
        let link = link.clone();
        Callback::from(move |_| link.ask(Request::Cancel))
    };
    let on_retry_dropping = {
        let link = link.clone();
        let dispatch = state.dispatcher();
        let last = state.last_file.clone();
        let mut options = state.load_options();
        options.drop_non_finite = true;
        Callback::from(move |_| {
            if let Some(file) = last.clone() {
                dispatch.dispatch(Action::SetDropNonFinite(true));
                link.job(format!("Loading {}", file.name), Request::Load { file, options: options.clone() });
            }
        })
    };
    let on_plan = {
        let link = link.clone();
        let dispatch = state.dispatcher();
        let form = state.plan_form.clone();
        Callback::from(move |_| match form.settings() {
            Ok(settings) => link.job(
                format!("Planning ({})", settings.method),
                Request::Plan { settings: Box::new(settings), compare: false },
            ),
            Err(errors) => dispatch.dispatch(Action::Refused(form::refusal(&errors))),
        })
    };
    let on_plan_form = {
        let dispatch = state.dispatcher();
        Callback::from(move |form: form::PlanForm| {
            link::show(&form.to_hash());
            dispatch.dispatch(Action::PlanForm(form));
        })
    };
    let on_backend = {
        let link = link.clone();
        let dispatch = state.dispatcher();
        let form = state.plan_form.clone();
        Callback::from(move |policy: BackendPolicy| {
            let form = form.with_backend(policy);
            link::show(&form.to_hash());
            dispatch.dispatch(Action::PlanForm(form));
            link.ask(Request::Backend(policy));
        })
    };
    let on_download = {
        let link = link.clone();
        Callback::from(move |export| link.ask(Request::Export(export)))
    };
    let on_describe = {
        let link = link.clone();
        Callback::from(move |rows| link.ask(Request::Describe { rows }))
    };
    let on_compare = {
        let link = link.clone();
        let shown = state.planned.as_ref().map(|p| p.plan.manifest.settings.clone());
        Callback::from(move |method: labelplan_core::plan::Method| {
            if let Some(settings) = &shown {
                let settings = Box::new(labelplan_core::plan::Settings { method, ..settings.clone() });
                link.job(format!("Planning {method} to compare"), Request::Plan { settings, compare: true });
            }
        })
    };
    let on_column = {
        let link = link.clone();
        Callback::from(move |name| link.ask(Request::Column { name }))
    };
    let on_find = {
        let link = link.clone();
        Callback::from(move |text| link.ask(Request::Find { text }))
    };
    // The map is drawn on the GPU when plans run there: the same device.
    let gpu_drawing = state.backend.as_ref().filter(|b| b.on_gpu).map(|_| {
        let link = link.clone();
        map::GpuDrawing {
            on_draw: Callback::from(move |request| link.ask(Request::Draw(request))),
            drawn: state.drawn.clone(),
        }
    });
    let dispatch = state.dispatcher();
    // A stopped worker answers nothing: the controls that ask it stay disabled.
    let busy = state.busy.is_some() || state.worker_stopped;
    html! {
        <div class="page">
            <header>
                <h1>{ "labelplan" }</h1>
                <span class="tagline">{ "which items to label, and what each budget buys — all in your browser" }</span>
                <badge::Badge backend={state.backend.clone()} policy={state.plan_form.backend} {on_backend} />
                <nav><a href="?model" data-testid="nav-model">{ "language model demo →" }</a></nav>
            </header>
            <main>
                <drop_zone::DropZone
                    {on_file} {on_sample} {on_sidecar} busy={busy}
                    has_dataset={state.summary.is_some()}
                    settings={Rc::new(state.settings.clone())}
                    on_settings={Callback::from(move |s| dispatch.dispatch(Action::Settings(s)))} />
                if let Some(manifest) = &state.replay {
                    <section class="replay" data-testid="replay">
                        { format!(
                            "Reproducing a plan: the settings are plan.json's ({} at {}). It was made from {} (SHA-256 {}…); plan that file to get the same picks.",
                            manifest.settings.method,
                            manifest.settings.budgets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                            manifest.input.name,
                            manifest.input.sha256.get(..12).unwrap_or(&manifest.input.sha256),
                        ) }
                    </section>
                }
                if let Some(busy) = &state.busy {
                    <progress::ProgressPanel busy={busy.clone()} {on_cancel} />
                }
                if let Some(failure) = &state.error {
                    <error_panel::ErrorPanel failure={failure.clone()} {on_retry_dropping} has_dataset={state.summary.is_some()}
                        worker_stopped={state.worker_stopped} />
                }
                if state.summary.is_some() {
                    <plan_form::PlanFormPanel form={state.plan_form.clone()} on_change={on_plan_form} {on_plan} {busy}
                        refused={state.error.as_ref().and_then(|f| Some((f.setting.clone()?, f.message.clone())))} />
                }
                if let Some(planned) = &state.planned {
                    // Keyed by the plan: a new plan mounts afresh (its sections, selection,
                    // map view and table scroll start over).
                    <plan_result::PlanResult key={format!("{:p}", Rc::as_ptr(&planned.plan))}
                        planned={planned.clone()} {on_download}
                        described={state.described.clone()} {on_describe}
                        found={state.found.clone()} {on_find}
                        compared={state.compared.clone()} {on_compare} {busy}
                        columns={state.summary.as_ref().map(|s| s.summary.columns.clone()).unwrap_or_default()}
                        coded={state.coded.clone()} {on_column} gpu={gpu_drawing} />
                }
                if let Some(loaded) = &state.summary {
                    <summary::SummaryPanel loaded={loaded.clone()} />
                }
            </main>
            { privacy::footer() }
        </div>
    }
}
