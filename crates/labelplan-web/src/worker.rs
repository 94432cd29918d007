//! The compute worker: owns the loaded dataset and the backend. Loads run as separate
//! tasks so the reactor keeps reading requests (a cancel arrives between chunks).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::mpsc;
use futures::{FutureExt, SinkExt, StreamExt};
use labelplan_core::read::source::Watch;
use labelplan_core::read::{join_sidecar, read_sidecar, SidecarJoin};
use labelplan_core::{read_embeddings, Dataset, Error, Input, LoadOptions, Summary};
use labelplan_gpu::{GpuContext, GpuOptions};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew_agent::prelude::*;

use crate::blob_reader::BlobReader;
use crate::protocol::{Backend, Failure, FileHandle, Request, Response};

/// Everything the worker keeps between requests.
struct State {
    loaded: Option<Loaded>,
    gpu: Option<GpuContext>,
    backend_name: String,
}

/// The loaded dataset with its row norms (computed once per load) and where they ran.
struct Loaded {
    dataset: Dataset,
    norms: Vec<f32>,
    norms_on: String,
}

/// Progress and cancel for one load, reported through the reactor's channel.
struct Job {
    stage: &'static str,
    tx: mpsc::UnboundedSender<Response>,
    cancel: Rc<Cell<bool>>,
}

impl Watch for Job {
    fn progress(&self, done: u64, total: u64) {
        let _ = self.tx.unbounded_send(Response::Progress { stage: self.stage.into(), done, total });
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.get()
    }
}

/// The compute worker's reactor.
#[reactor]
pub async fn Engine(mut scope: ReactorScope<Request, Response>) {
    let gpu = GpuContext::new(GpuOptions::default()).await;
    let (backend, gpu) = match gpu {
        Ok(ctx) => {
            let label = browser_adapter_label().await.unwrap_or_else(|| ctx.adapter_description());
            (Backend::Gpu(label), Some(ctx))
        }
        Err(e) => (Backend::Cpu(e.to_string()), None),
    };
    let backend_name = match &backend {
        Backend::Gpu(name) => format!("WebGPU: {name}"),
        Backend::Cpu(_) => "CPU (no WebGPU)".to_owned(),
    };
    if scope.send(Response::Backend(backend)).await.is_err() {
        return;
    }
    let state = Rc::new(RefCell::new(State { loaded: None, gpu, backend_name }));
    let (tx, mut rx) = mpsc::unbounded::<Response>();
    // The running job's cancel flag; a new request cancels the one before it.
    let mut running = Rc::new(Cell::new(false));
    loop {
        futures::select! {
            request = scope.next().fuse() => match request {
                None => break,
                Some(Request::Cancel) => running.set(true),
                Some(request) => {
                    running.set(true);
                    running = Rc::new(Cell::new(false));
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
    cancel: Rc<Cell<bool>>,
) {
    let outcome = match request {
        Request::Load { file, options } => load(file, options, &state, &tx, cancel).await,
        Request::LoadSample { url } => match fetch_blob(&url).await {
            Ok(file) => load(file, LoadOptions::browser(), &state, &tx, cancel).await,
            Err(message) => Err(Response::Failed(Failure { message, non_finite_rows: None })),
        },
        Request::AttachSidecar { file, join } => attach(file, join, &state, &tx, cancel).await,
        Request::Cancel => return,
    };
    let _ = tx.unbounded_send(outcome.unwrap_or_else(|answer| answer));
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
    cancel: Rc<Cell<bool>>,
) -> Result<Response, Response> {
    let job = Job { stage: "reading", tx: tx.clone(), cancel };
    let started = web_time::Instant::now();
    let dataset = read_embeddings(input(file), &options, &job).await.map_err(failed)?;
    let parse_seconds = started.elapsed().as_secs_f64();
    let stage = "computing norms".to_owned();
    let _ = tx.unbounded_send(Response::Progress { stage, done: 0, total: 0 });
    let (norms, norms_on) = row_norms(&dataset, state).await;
    let summary = Summary::new(&dataset, &norms);
    state.borrow_mut().loaded = Some(Loaded { dataset, norms, norms_on: norms_on.clone() });
    Ok(Response::Loaded { summary, norms_on, parse_seconds })
}

async fn attach(
    file: FileHandle,
    join: SidecarJoin,
    state: &Rc<RefCell<State>>,
    tx: &mpsc::UnboundedSender<Response>,
    cancel: Rc<Cell<bool>>,
) -> Result<Response, Response> {
    let job = Job { stage: "reading sidecar", tx: tx.clone(), cancel };
    let table = read_sidecar(input(file), &job).await.map_err(failed)?;
    let mut state = state.borrow_mut();
    let Some(loaded) = state.loaded.as_mut() else {
        let message = "load an embeddings file before its sidecar".into();
        return Err(Response::Failed(Failure { message, non_finite_rows: None }));
    };
    // join_sidecar leaves the dataset untouched when it fails.
    join_sidecar(&mut loaded.dataset, table, &join).map_err(failed)?;
    let summary = Summary::new(&loaded.dataset, &loaded.norms);
    Ok(Response::Loaded { summary, norms_on: loaded.norms_on.clone(), parse_seconds: 0.0 })
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
