//! The compute worker: owns the loaded dataset and the backend. Loads and plans run as
//! separate tasks so the reactor keeps reading requests (a cancel arrives between chunks
//! or plan steps).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::channel::mpsc;
use futures::{FutureExt, SinkExt, StreamExt};
use labelplan_core::plan::{InputInfo, Plan, Settings, SidecarInfo};
use labelplan_core::read::source::Watch;
use labelplan_core::read::{join_sidecar, read_sidecar, SidecarJoin};
use labelplan_core::write::Export;
use labelplan_core::{read_embeddings, Dataset, Error, Input, LoadOptions, Summary};
use labelplan_cpu::CpuBackend;
use labelplan_gpu::{GpuBackend, GpuContext, GpuOptions};
use labelplan_select::map::PoolMap;
use labelplan_select::{Progress, SelectError};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew_agent::prelude::*;

use crate::blob_reader::BlobReader;
use crate::protocol::{Backend, ColumnCodes, Failure, FileHandle, Item, Request, Response};

/// Everything the worker keeps between requests.
struct State {
    loaded: Option<Loaded>,
    /// The last plan and the dataset it picked from, for its exports.
    planned: Option<(Rc<Dataset>, Rc<Plan>)>,
    gpu: Option<GpuContext>,
    backend_name: String,
}

/// The loaded dataset with its row norms (computed once per load), where they ran, and
/// the files it came from (for the manifest).
struct Loaded {
    /// Shared with a running plan, so a sidecar join or a new load never waits on it.
    dataset: Rc<Dataset>,
    norms: Vec<f32>,
    norms_on: String,
    source: Source,
}

/// The files behind the loaded dataset and how they were read.
struct Source {
    file: FileHandle,
    options: LoadOptions,
    sidecar: Option<(FileHandle, SidecarJoin)>,
    /// The manifest's input record, hashed on the first plan.
    info: Option<InputInfo>,
}

/// Progress and cancel for one request, reported through the reactor's channel.
struct Job {
    stage: &'static str,
    tx: mpsc::UnboundedSender<Response>,
    cancel: Rc<AtomicBool>,
}

impl Watch for Job {
    fn progress(&self, done: u64, total: u64) {
        let _ = self.tx.unbounded_send(Response::Progress { stage: self.stage.into(), done, total });
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The compute worker's reactor.
#[reactor]
pub async fn Engine(mut scope: ReactorScope<Request, Response>) {
    let gpu = GpuContext::new(GpuOptions::default()).await;
    let (backend, gpu) = match gpu {
        Ok(ctx) => match browser_adapter_label().await {
            Some(label) => (Backend::Gpu(label.clone()), Some(ctx.named(label))),
            None => (Backend::Gpu(ctx.adapter_description()), Some(ctx)),
        },
        Err(e) => (Backend::Cpu(e.to_string()), None),
    };
    let backend_name = match &backend {
        Backend::Gpu(name) => format!("WebGPU: {name}"),
        Backend::Cpu(_) => "CPU (no WebGPU)".to_owned(),
    };
    if scope.send(Response::Backend(backend)).await.is_err() {
        return;
    }
    let state = Rc::new(RefCell::new(State { loaded: None, planned: None, gpu, backend_name }));
    let (tx, mut rx) = mpsc::unbounded::<Response>();
    // The running job's cancel flag; a new request cancels the one before it.
    let mut running = Rc::new(AtomicBool::new(false));
    loop {
        futures::select! {
            request = scope.next().fuse() => match request {
                None => break,
                Some(Request::Cancel) => running.store(true, Ordering::Relaxed),
                // A query leaves the running job alone.
                Some(Request::Export(export)) => {
                    let _ = tx.unbounded_send(exported(export, &state.borrow()));
                }
                Some(Request::Describe { rows }) => {
                    let _ = tx.unbounded_send(described(&rows, &state.borrow()));
                }
                Some(Request::Column { name }) => {
                    let _ = tx.unbounded_send(column(&name, &state.borrow()));
                }
                Some(Request::Find { text }) => {
                    let _ = tx.unbounded_send(found(text, &state.borrow()));
                }
                Some(request) => {
                    running.store(true, Ordering::Relaxed);
                    running = Rc::new(AtomicBool::new(false));
                    spawn_local(handle(request, state.clone(), tx.clone(), running.clone()));
                }
            },
            response = rx.next() => match response {
                Some(response) => if scope.send(response).await.is_err() { break },
                None => break,
            },
        }
    }
}

async fn handle(
    request: Request,
    state: Rc<RefCell<State>>,
    tx: mpsc::UnboundedSender<Response>,
    cancel: Rc<AtomicBool>,
) {
    let outcome = match request {
        Request::Load { file, options } => load(file, options, &state, &tx, cancel).await,
        Request::LoadSample { url } => match fetch_blob(&url).await {
            Ok(file) => load(file, LoadOptions::browser(), &state, &tx, cancel).await,
            Err(message) => Err(failure(message)),
        },
        Request::AttachSidecar { file, join } => attach(file, join, &state, &tx, cancel).await,
        Request::Plan { settings, compare } => plan(settings, compare, &state, &tx, cancel).await,
        Request::Export(_)
        | Request::Describe { .. }
        | Request::Column { .. }
        | Request::Find { .. }
        | Request::Cancel => return,
    };
    let _ = tx.unbounded_send(outcome.unwrap_or_else(|answer| answer));
}

/// One export of the last plan, written as the CLI writes it.
fn exported(export: Export, state: &State) -> Response {
    match &state.planned {
        Some((data, plan)) => Response::Exported {
            name: export.file_name().into(),
            mime: export.mime().into(),
            text: export.write(plan, data),
        },
        None => failure(format!("plan first: {} is written from a plan", export.file_name())),
    }
}

/// Rows of the last plan's dataset: their ids and metadata (rows past the end are left
/// out: the UI asks only for rows of the plan it shows, and a newer dataset may be
/// smaller).
fn described(rows: &[u32], state: &State) -> Response {
    let Some((data, _)) = &state.planned else {
        return Response::Described(Vec::new());
    };
    let items = rows
        .iter()
        .filter(|&&row| (row as usize) < data.rows)
        .map(|&row| Item {
            row,
            id: data.ids.as_ref().map(|ids| ids[row as usize].clone()),
            fields: data.columns.iter().map(|c| (c.name.clone(), c.values[row as usize].clone())).collect(),
        })
        .collect();
    Response::Described(items)
}

/// Metadata column `name` of the last plan's dataset as categories.
fn column(name: &str, state: &State) -> Response {
    let values = state.planned.as_ref().and_then(|(data, _)| data.columns.iter().find(|c| c.name == name));
    match values {
        Some(c) => Response::Column(ColumnCodes::of(name, &c.values)),
        None => failure(format!("the plan's dataset has no column {name:?}")),
    }
}

/// The row of the last plan's dataset with id `text` (trimmed), else the row numbered
/// `text` ("123" or "row 123").
fn found(text: String, state: &State) -> Response {
    let row = state.planned.as_ref().and_then(|(data, _)| {
        let wanted = text.trim();
        let by_id = data.ids.as_ref().and_then(|ids| ids.iter().position(|id| id == wanted));
        let by_number = || {
            let number = wanted.strip_prefix("row").unwrap_or(wanted).trim();
            number.parse::<usize>().ok().filter(|&r| r < data.rows)
        };
        by_id.or_else(by_number).map(|r| r as u32)
    });
    Response::Found { text, row }
}

fn failure(message: String) -> Response {
    Response::Failed(Failure::message(message))
}

/// The answer to a failed request: a cancel is not an error.
fn failed(err: Error) -> Response {
    let non_finite_rows = match err {
        Error::Cancelled { .. } => return Response::Cancelled,
        Error::NonFinite { count, .. } => Some(count),
        _ => None,
    };
    Response::Failed(Failure { message: err.to_string(), non_finite_rows })
}

/// A file as the readers' input, read in Blob slices.
fn input(file: FileHandle) -> Input<BlobReader> {
    let reader = BlobReader::new(file.blob);
    Input { name: file.name, len: reader.len(), reader }
}

async fn load(
    file: FileHandle,
    options: LoadOptions,
    state: &Rc<RefCell<State>>,
    tx: &mpsc::UnboundedSender<Response>,
    cancel: Rc<AtomicBool>,
) -> Result<Response, Response> {
    let job = Job { stage: "reading", tx: tx.clone(), cancel };
    let started = web_time::Instant::now();
    let dataset = read_embeddings(input(file.clone()), &options, &job).await.map_err(failed)?;
    let parse_seconds = started.elapsed().as_secs_f64();
    let stage = "computing norms".to_owned();
    let _ = tx.unbounded_send(Response::Progress { stage, done: 0, total: 0 });
    let (norms, norms_on) = row_norms(&dataset, state).await;
    let summary = Summary::new(&dataset, &norms);
    let source = Source { file, options, sidecar: None, info: None };
    let dataset = Rc::new(dataset);
    let mut state = state.borrow_mut();
    state.loaded = Some(Loaded { dataset, norms, norms_on: norms_on.clone(), source });
    // A plan of the data before would describe other rows.
    state.planned = None;
    Ok(Response::Loaded { summary, norms_on, parse_seconds })
}

async fn attach(
    file: FileHandle,
    join: SidecarJoin,
    state: &Rc<RefCell<State>>,
    tx: &mpsc::UnboundedSender<Response>,
    cancel: Rc<AtomicBool>,
) -> Result<Response, Response> {
    let job = Job { stage: "reading sidecar", tx: tx.clone(), cancel };
    let table = read_sidecar(input(file.clone()), &job).await.map_err(failed)?;
    let mut guard = state.borrow_mut();
    let state = &mut *guard;
    let Some(loaded) = state.loaded.as_mut() else {
        return Err(failure("load an embeddings file before its sidecar".into()));
    };
    // join_sidecar leaves the dataset untouched when it fails; a plan still running on
    // the dataset keeps the old one (make_mut copies only then). The last plan's hold
    // is let go first, so it causes no copy; it comes back if the join fails.
    let planned = state.planned.take();
    if let Err(e) = join_sidecar(Rc::make_mut(&mut loaded.dataset), table, &join) {
        state.planned = planned;
        return Err(failed(e));
    }
    loaded.source.sidecar = Some((file, join));
    loaded.source.info = None;
    let summary = Summary::new(&loaded.dataset, &loaded.norms);
    Ok(Response::Loaded { summary, norms_on: loaded.norms_on.clone(), parse_seconds: 0.0 })
}

/// Plans on the loaded dataset: on the GPU when there is one (on the CPU, saying why,
/// when the GPU fails), pausing for the worker's event loop between steps.
async fn plan(
    settings: Box<Settings>,
    compare: bool,
    state: &Rc<RefCell<State>>,
    tx: &mpsc::UnboundedSender<Response>,
    cancel: Rc<AtomicBool>,
) -> Result<Response, Response> {
    let job = Job { stage: "hashing the input for the manifest", tx: tx.clone(), cancel };
    let info = input_info(state, &job).await?;
    let (dataset, gpu) = {
        let s = state.borrow();
        let Some(loaded) = s.loaded.as_ref() else {
            return Err(failure("load an embeddings file before planning".into()));
        };
        (loaded.dataset.clone(), s.gpu.clone())
    };
    let started = web_time::Instant::now();
    let breather = Breather::default();
    let pause = || breather.pause();
    let mut on_progress = |p: &Progress| {
        let _ =
            tx.unbounded_send(Response::Progress { stage: p.stage.clone(), done: p.done, total: p.total });
    };
    let run =
        Run { dataset: &dataset, settings: &settings, cancel: &job.cancel, pause: &pause, map: !compare };
    let mut note = None;
    let planned = match gpu {
        Some(ctx) => match run.on(&GpuBackend::new(ctx), info.clone(), &mut on_progress).await {
            Err(SelectError::Backend(e)) => {
                note = Some(format!("the GPU failed ({e}); this plan ran on the CPU"));
                run.on(&CpuBackend, info, &mut on_progress).await
            }
            other => other,
        },
        None => run.on(&CpuBackend, info, &mut on_progress).await,
    };
    match planned {
        Ok((plan, map)) => {
            if !compare {
                state.borrow_mut().planned = Some((dataset, Rc::new(plan.clone())));
            }
            let seconds = started.elapsed().as_secs_f64();
            let (map, order) = (map.positions, map.order);
            Ok(Response::Planned { plan: Box::new(plan), map, order, seconds, note, compare })
        }
        Err(SelectError::Cancelled) => Err(Response::Cancelled),
        Err(e) => Err(failure(e.to_string())),
    }
}

/// One plan request, to run on whichever backend.
struct Run<'a> {
    dataset: &'a Dataset,
    settings: &'a Settings,
    cancel: &'a AtomicBool,
    pause: labelplan_select::context::Pause<'a>,
    /// Whether to make the map too (an empty one otherwise).
    map: bool,
}

impl Run<'_> {
    async fn on<B: labelplan_core::Backend>(
        &self,
        backend: &B,
        info: InputInfo,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(labelplan_core::plan::Plan, PoolMap), SelectError> {
        let engine = labelplan_select::Engine::new(backend).pausing(self.pause);
        if self.map {
            engine.run_with_map(self.dataset, info, self.settings, progress, self.cancel).await
        } else {
            let plan = engine.run(self.dataset, info, self.settings, progress, self.cancel).await?;
            Ok((plan, PoolMap::default()))
        }
    }
}

/// The manifest's record of the loaded files, hashed once per dataset.
async fn input_info(state: &Rc<RefCell<State>>, job: &Job) -> Result<InputInfo, Response> {
    let (dataset, file, options, sidecar) = {
        let s = state.borrow();
        let Some(loaded) = s.loaded.as_ref() else {
            return Err(failure("load an embeddings file before planning".into()));
        };
        if let Some(info) = &loaded.source.info {
            return Ok(info.clone());
        }
        let source = &loaded.source;
        (loaded.dataset.clone(), source.file.clone(), source.options.clone(), source.sidecar.clone())
    };
    let hash = |file: FileHandle| async move {
        labelplan_core::digest::sha256(&file.name, BlobReader::new(file.blob), job).await.map_err(failed)
    };
    let (sha256, bytes) = hash(file.clone()).await?;
    let sidecar = match sidecar {
        None => None,
        Some((side, join)) => {
            let (sha256, bytes) = hash(side.clone()).await?;
            let join_by = match join {
                SidecarJoin::RowOrder => None,
                SidecarJoin::ById(column) => Some(column),
            };
            Some(SidecarInfo { name: side.name, bytes, sha256, join_by })
        }
    };
    let info = InputInfo {
        name: file.name,
        bytes,
        sha256,
        rows: dataset.rows,
        dim: dataset.dim,
        array: options.array_name,
        drop_non_finite: options.drop_non_finite,
        sidecar,
    };
    // Cache it unless a newer request (a load or join) replaced the dataset meanwhile.
    if !job.is_cancelled() {
        if let Some(loaded) = state.borrow_mut().loaded.as_mut().filter(|l| Rc::ptr_eq(&l.dataset, &dataset))
        {
            loaded.source.info = Some(info.clone());
        }
    }
    Ok(info)
}

/// Milliseconds a plan may hold the worker before it pauses for waiting messages.
const PAUSE_EVERY_MS: f64 = 50.0;

/// Pauses a plan for the worker's event loop (a cancel, progress going out) at most every
/// [`PAUSE_EVERY_MS`]: the CPU backend never waits on its own, and a pause per step
/// would slow short steps down.
#[derive(Default)]
struct Breather {
    last: Cell<f64>,
}

impl Breather {
    fn pause(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let now = js_sys::Date::now();
        if now - self.last.get() < PAUSE_EVERY_MS {
            return Box::pin(std::future::ready(()));
        }
        self.last.set(now);
        Box::pin(next_macrotask())
    }
}

/// Resolves after the event loop has run once more (a zero timeout), so messages that
/// arrived meanwhile are handled first.
async fn next_macrotask() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = JsFuture::from(promise).await;
}

/// Row norms on the GPU when there is one (falling back to the CPU on a GPU error), and
/// where they ran.
async fn row_norms(data: &Dataset, state: &Rc<RefCell<State>>) -> (Vec<f32>, String) {
    // Clone out of the cell: no borrow may live across an await.
    let (gpu, backend_name) = {
        let s = state.borrow();
        (s.gpu.clone(), s.backend_name.clone())
    };
    let cpu = || labelplan_cpu::row_norms(&data.values, data.rows, data.dim);
    let Some(ctx) = gpu else {
        return (cpu(), "CPU".to_owned());
    };
    match labelplan_gpu::kernels::normalize::row_norms(&ctx, &data.values, data.rows, data.dim).await {
        Ok(norms) => (norms, backend_name),
        Err(e) => (cpu(), format!("CPU (the GPU failed: {e})")),
    }
}

/// Fetches a URL from the worker as a file.
async fn fetch_blob(url: &str) -> Result<FileHandle, String> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let err = |e: wasm_bindgen::JsValue| {
        let why =
            e.dyn_ref::<js_sys::Error>().map_or_else(|| format!("{e:?}"), |e| String::from(e.message()));
        format!("could not fetch the sample {url}: {why}")
    };
    let response: web_sys::Response =
        JsFuture::from(scope.fetch_with_str(url)).await.map_err(err)?.unchecked_into();
    if !response.ok() {
        return Err(format!("could not fetch the sample {url}: HTTP {}", response.status()));
    }
    let blob = JsFuture::from(response.blob().map_err(err)?).await.map_err(err)?.unchecked_into();
    let name = url.rsplit('/').next().unwrap_or(url).to_owned();
    Ok(FileHandle { name, blob })
}

/// The adapter's vendor and architecture as the browser reports them (`GPUAdapterInfo`);
/// wgpu passes on only the description, which browsers usually leave empty.
async fn browser_adapter_label() -> Option<String> {
    use js_sys::Reflect;
    let get = |obj: &wasm_bindgen::JsValue, key: &str| {
        Reflect::get(obj, &key.into()).ok().filter(|v| !v.is_undefined())
    };
    let navigator = get(&js_sys::global(), "navigator")?;
    let gpu = get(&navigator, "gpu")?;
    let request: js_sys::Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let adapter = JsFuture::from(js_sys::Promise::from(request.call0(&gpu).ok()?)).await.ok()?;
    let info = get(&adapter, "info")?;
    let parts: Vec<String> = ["vendor", "architecture", "description"]
        .iter()
        .filter_map(|k| get(&info, k)?.as_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}
