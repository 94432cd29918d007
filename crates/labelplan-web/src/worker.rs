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
use labelplan_core::plan::{InputInfo, Plan, Settings};
use labelplan_core::progress::Unit;
use labelplan_core::read::source::Watch;
use labelplan_core::read::{join_sidecar, read_sidecar, SidecarJoin};
use labelplan_core::settings::{field, SettingError};
use labelplan_core::write::Export;
use labelplan_core::{read_embeddings, Dataset, Error, Input, LoadOptions, Summary};
use labelplan_gpu::kernels::points::{self, MapPoints};
use labelplan_gpu::{GpuContext, GpuError, GpuOptions};
use labelplan_run::policy::ProbeTimes;
use labelplan_run::{BackendPolicy, Choice, Source as RunSource, Work};
use labelplan_select::map::PoolMap;
use labelplan_select::{Progress, SelectError};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew_agent::prelude::*;

use crate::blob_reader::BlobReader;
use crate::model_jobs::{self, LanguageModel, Reporter};
use crate::protocol::{
    BackendStatus, ColumnCodes, Failure, FileHandle, Generate, Item, MapDraw, Measure, ModelSource, Request,
    Response, Tagged, TimeSparsity,
};

/// Everything the worker keeps between requests.
struct State {
    loaded: Option<Loaded>,
    /// The last plan and the dataset it picked from, for its exports.
    planned: Option<Shown>,
    /// The shown plan's map points on the GPU, and the column they are coloured by.
    points: Option<(Option<String>, MapPoints)>,
    backend: Backends,
    /// The language model of the model page.
    language_model: Option<Rc<LanguageModel>>,
}

/// The plan the page shows: exports, hovers, searches and map frames read it.
#[derive(Clone)]
struct Shown {
    data: Rc<Dataset>,
    plan: Rc<Plan>,
    map: Rc<PoolMap>,
}

/// The GPU (or why there is none) and the user's choice between it and the CPU.
struct Backends {
    gpu: Result<GpuContext, String>,
    policy: BackendPolicy,
    /// The probe's times, measured once, the first time `Auto` needs them.
    probe: Option<Result<ProbeTimes, String>>,
    choice: Choice,
}

impl Backends {
    /// The GPU plans run on now, if they run on one.
    fn active(&self) -> Option<GpuContext> {
        self.gpu.as_ref().ok().filter(|_| self.choice.on_gpu).cloned()
    }

    /// The backend's name as the summary shows where norms ran.
    fn name(&self) -> String {
        match self.active() {
            Some(ctx) => format!("WebGPU: {}", ctx.adapter_description()),
            None => "CPU".to_owned(),
        }
    }

    fn status(&self) -> BackendStatus {
        BackendStatus {
            gpu: self.gpu.as_ref().map(GpuContext::adapter_description).map_err(Clone::clone),
            policy: self.policy,
            on_gpu: self.choice.on_gpu,
            why: self.choice.why.clone(),
        }
    }
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

/// The way answers go out: to the reactor, tagged with their request's id.
#[derive(Clone)]
struct Answers {
    id: u64,
    tx: mpsc::UnboundedSender<Tagged<Response>>,
}

impl Answers {
    fn send(&self, body: Response) {
        let _ = self.tx.unbounded_send(Tagged { id: self.id, body });
    }

    fn progress(&self, stage: &str, unit: Unit, done: u64, total: u64) {
        self.send(Response::Progress { stage: stage.to_owned(), unit, done, total });
    }
}

/// Progress (in bytes) and cancel for one file read or hash.
struct Job {
    stage: &'static str,
    answers: Answers,
    cancel: Rc<AtomicBool>,
}

impl Watch for Job {
    fn progress(&self, done: u64, total: u64) {
        self.answers.progress(self.stage, Unit::Bytes, done, total);
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The compute worker's reactor. Loads and plans are jobs: one at a time, a new one
/// cancels the one before. Everything else is a query, answered at once beside a job.
#[reactor]
pub async fn Engine(mut scope: ReactorScope<Tagged<Request>, Tagged<Response>>) {
    let gpu = match GpuContext::new(GpuOptions::default()).await {
        Ok(ctx) => Ok(match browser_adapter_label().await {
            Some(label) => ctx.named(label),
            None => ctx,
        }),
        // wgpu's own words list every backend it was not built with: not for the page.
        Err(GpuError::NoAdapter(_)) => Err("the browser offers no WebGPU adapter".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    // The CPU until the page says what the user chose (its first request).
    let choice = Choice { on_gpu: false, why: "the page has not chosen yet".into() };
    let backend = Backends { gpu, policy: BackendPolicy::Auto, probe: None, choice };
    let state = Rc::new(RefCell::new(State {
        loaded: None,
        planned: None,
        points: None,
        backend,
        language_model: None,
    }));
    let (tx, mut rx) = mpsc::unbounded::<Tagged<Response>>();
    // The running job's cancel flag; a new job cancels the one before it.
    let mut running = Rc::new(AtomicBool::new(false));
    loop {
        futures::select! {
            request = scope.next().fuse() => {
                let Some(Tagged { id, body }) = request else { break };
                let answers = Answers { id, tx: tx.clone() };
                match body {
                    Request::Cancel => running.store(true, Ordering::Relaxed),
                    Request::Backend(policy) => answers.send(use_backend(policy, &state).await),
                    Request::Export(export) => answers.send(exported(export, &state.borrow())),
                    Request::Describe { rows } => answers.send(described(&rows, &state.borrow())),
                    Request::Column { name } => answers.send(column(&name, &state.borrow())),
                    Request::Find { text } => answers.send(found(text, &state.borrow())),
                    // Waits on the GPU: answered from its own task, beside any job.
                    Request::Draw(request) => spawn_local(draw(request, state.clone(), answers)),
                    job => {
                        running.store(true, Ordering::Relaxed);
                        running = Rc::new(AtomicBool::new(false));
                        spawn_local(handle(job, state.clone(), answers, running.clone()));
                    }
                }
            },
            response = rx.next() => match response {
                Some(response) => if scope.send(response).await.is_err() { break },
                None => break,
            },
        }
    }
}

/// Plans run where `policy` says from now on; the probe runs the first time `Auto`
/// needs it. A GPU asked for where there is none leaves plans on the CPU, saying so.
async fn use_backend(policy: BackendPolicy, state: &Rc<RefCell<State>>) -> Response {
    // Out of the cell: no borrow may live across the probe's awaits.
    let (gpu, mut probe) = {
        let s = state.borrow();
        (s.backend.gpu.clone(), s.backend.probe.clone())
    };
    let choice = labelplan_run::choose(policy, gpu.as_ref().map_err(String::as_str), &mut probe).await;
    let choice = choice
        .unwrap_or_else(|refused| Choice { on_gpu: false, why: format!("{refused}; plans run on the CPU") });
    let mut s = state.borrow_mut();
    s.backend.policy = policy;
    s.backend.probe = probe;
    s.backend.choice = choice;
    Response::Backend(s.backend.status())
}

async fn handle(request: Request, state: Rc<RefCell<State>>, answers: Answers, cancel: Rc<AtomicBool>) {
    let outcome = match request {
        Request::Load { file, options } => load(file, options, &state, &answers, cancel).await,
        Request::LoadSample { url } => match fetch_blob(&url).await {
            Ok(file) => load(file, LoadOptions::browser(), &state, &answers, cancel).await,
            Err(message) => Err(failure(message)),
        },
        Request::AttachSidecar { file, join } => attach(file, join, &state, &answers, cancel).await,
        Request::Plan { settings, compare } => plan(settings, compare, &state, &answers, cancel).await,
        Request::LoadModel(source) => {
            load_model(source, &state, ModelJob { answers: answers.clone(), cancel }).await
        }
        Request::Generate(request) => {
            generate(&request, &state, ModelJob { answers: answers.clone(), cancel }).await
        }
        Request::Measure(request) => {
            measure(&request, &state, ModelJob { answers: answers.clone(), cancel }).await
        }
        Request::TimeSparsity(request) => {
            time_sparsity(request, &state, ModelJob { answers: answers.clone(), cancel }).await
        }
        Request::Export(_)
        | Request::Describe { .. }
        | Request::Column { .. }
        | Request::Find { .. }
        | Request::Draw(_)
        | Request::Backend(_)
        | Request::Cancel => return,
    };
    answers.send(outcome.unwrap_or_else(|answer| answer));
}

/// A language-model job's way out.
struct ModelJob {
    answers: Answers,
    cancel: Rc<AtomicBool>,
}

impl Reporter for ModelJob {
    fn send(&self, response: Response) {
        self.answers.send(response);
    }

    fn progress(&self, stage: &str, unit: Unit, done: u64, total: u64) {
        self.answers.progress(stage, unit, done, total);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Loads a language model; the one loaded before stays until this one is read.
async fn load_model(
    source: ModelSource,
    state: &Rc<RefCell<State>>,
    job: ModelJob,
) -> Result<Response, Response> {
    let gpu = state.borrow().backend.gpu.as_ref().map(GpuContext::adapter_description).map_err(Clone::clone);
    Ok(answer(model_jobs::load(source, gpu, &job).await, &job, |(model, info)| {
        state.borrow_mut().language_model = Some(Rc::new(model));
        Response::ModelLoaded(info)
    }))
}

/// A model job's answer: cancelled when the user stopped it, whatever it returned;
/// else what `done` makes of its result, or its failure.
fn answer<T>(outcome: Result<T, String>, job: &ModelJob, done: impl FnOnce(T) -> Response) -> Response {
    match outcome {
        _ if job.cancelled() => Response::Cancelled,
        Ok(result) => done(result),
        Err(message) => failure(message),
    }
}

/// The loaded language model (else the message that asks for one) and the GPU, out of
/// the cell: no borrow may live across the model's awaits.
fn loaded_model(
    state: &Rc<RefCell<State>>,
) -> Result<(Rc<LanguageModel>, Result<GpuContext, String>), String> {
    let s = state.borrow();
    let lm = s.language_model.clone().ok_or("load a model first")?;
    Ok((lm, s.backend.gpu.clone()))
}

/// Generates with the loaded language model, on WebGPU when asked and there is one.
async fn generate(
    request: &Generate,
    state: &Rc<RefCell<State>>,
    job: ModelJob,
) -> Result<Response, Response> {
    let (lm, gpu) = loaded_model(state).map_err(failure)?;
    let gpu_name = gpu.as_ref().map(GpuContext::adapter_description).unwrap_or_default();
    let gpu = gpu.ok().filter(|_| request.on_gpu);
    match model_jobs::generate(&lm, request, gpu, gpu_name, &job).await {
        Ok(done) => Ok(Response::Generated(done)),
        Err(message) => Err(failure(message)),
    }
}

/// Measures perplexity on the user's text with the loaded language model.
async fn measure(request: &Measure, state: &Rc<RefCell<State>>, job: ModelJob) -> Result<Response, Response> {
    let (lm, _) = loaded_model(state).map_err(failure)?;
    match model_jobs::measure(&lm, request, &job).await {
        Ok(_) if job.cancelled() => Err(Response::Cancelled),
        Ok(rows) => Ok(Response::Measured(rows)),
        Err(message) => Err(failure(message)),
    }
}

/// Times the loaded language model's FFN and decoding against the share of experts off.
async fn time_sparsity(
    request: TimeSparsity,
    state: &Rc<RefCell<State>>,
    job: ModelJob,
) -> Result<Response, Response> {
    let (lm, gpu) = loaded_model(state).map_err(failure)?;
    let gpu = if request.on_gpu { Some(gpu.map_err(|why| format!("no WebGPU here: {why}"))) } else { None };
    Ok(answer(model_jobs::time_sparsity(&lm, request.rounds, gpu, &job).await, &job, Response::Timed))
}

/// One export of the last plan, written as the CLI writes it.
fn exported(export: Export, state: &State) -> Response {
    match &state.planned {
        Some(Shown { data, plan, .. }) => Response::Exported {
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
    let Some(Shown { data, .. }) = &state.planned else {
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
    let values = state.planned.as_ref().and_then(|s| s.data.columns.iter().find(|c| c.name == name));
    match values {
        Some(c) => Response::Column(ColumnCodes::of(name, &c.values)),
        None => failure(format!("the plan's dataset has no column {name:?}")),
    }
}

/// The row of the last plan's dataset with id `text` (trimmed), else the row numbered
/// `text` ("123" or "row 123").
fn found(text: String, state: &State) -> Response {
    let row = state.planned.as_ref().and_then(|Shown { data, .. }| {
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

/// A frame of the shown plan's map drawn on the GPU plans run on.
async fn draw(request: MapDraw, state: Rc<RefCell<State>>, answers: Answers) {
    let pixels = draw_frame(&request, &state).await;
    answers.send(Response::Drawn { seq: request.seq, frame: request.frame, pixels });
}

async fn draw_frame(request: &MapDraw, state: &Rc<RefCell<State>>) -> Result<Vec<u8>, String> {
    // Out of the cell: no borrow may live across the GPU's awaits.
    let (gpu, shown, points) = {
        let s = state.borrow();
        let gpu = s.backend.active().ok_or("plans run on the CPU")?;
        let shown = s.planned.clone().ok_or("no plan to draw")?;
        (gpu, shown, s.points.clone())
    };
    let points = match points {
        Some((by, points)) if by == request.colour_by => points,
        held => {
            let categories = match &request.colour_by {
                None => shown.plan.cluster.clone(),
                Some(name) => {
                    let column = shown.data.columns.iter().find(|c| &c.name == name);
                    ColumnCodes::of(name, &column.ok_or_else(|| format!("no column {name:?}"))?.values).codes
                }
            };
            // Points already on the GPU take the new colours; the positions stay.
            let points = match held {
                Some((_, mut points)) => points.recolour(&gpu, &categories).await.map(|()| points),
                None => MapPoints::new(&gpu, &shown.map.positions, &categories).await,
            };
            let points = points.map_err(|e| e.to_string())?;
            let mut s = state.borrow_mut();
            // Kept unless another plan replaced this one meanwhile.
            if s.planned.as_ref().is_some_and(|now| Rc::ptr_eq(&now.plan, &shown.plan)) {
                s.points = Some((request.colour_by.clone(), points.clone()));
            }
            points
        }
    };
    let mut highlighted: Vec<u32> = shown.map.order.iter().take(request.count as usize).copied().collect();
    highlighted.sort_unstable();
    let (frame, style) = (&request.frame, &request.style);
    points::paint(&gpu, &points, frame, &highlighted, request.selected, style)
        .await
        .map_err(|e| e.to_string())
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
    Response::Failed(Failure { message: err.to_string(), non_finite_rows, setting: None })
}

/// The answer to a failed plan: a setting the engine refused is named as the page names
/// it (not as a CLI flag), with its key so the form can show it at the field.
fn plan_failed(err: SelectError) -> Response {
    let (flag, message) = match err {
        SelectError::Cancelled => return Response::Cancelled,
        SelectError::Setting { setting, message } => (setting, message),
        SelectError::UnknownColumn { setting, column, available } => {
            let has = if available.is_empty() {
                "the data has no metadata columns".to_owned()
            } else {
                format!("the data has {}", available.join(", "))
            };
            (setting, format!("no column {column:?}; {has}"))
        }
        other => return failure(other.to_string()),
    };
    let Some(f) = flag.strip_prefix("--").and_then(field) else {
        return failure(format!("{flag}: {message}"));
    };
    let message = SettingError { key: f.key, message }.to_string();
    Response::Failed(Failure { message, non_finite_rows: None, setting: Some(f.key.to_owned()) })
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
    answers: &Answers,
    cancel: Rc<AtomicBool>,
) -> Result<Response, Response> {
    let job = Job { stage: "reading", answers: answers.clone(), cancel };
    let started = web_time::Instant::now();
    let dataset = read_embeddings(input(file.clone()), &options, &job).await.map_err(failed)?;
    let parse_seconds = started.elapsed().as_secs_f64();
    answers.progress("computing norms", Unit::Steps, 0, 0);
    let (norms, norms_on) = row_norms(&dataset, state).await;
    let summary = Summary::new(&dataset, &norms);
    let source = Source { file, options, sidecar: None, info: None };
    let dataset = Rc::new(dataset);
    let mut state = state.borrow_mut();
    state.loaded = Some(Loaded { dataset, norms, norms_on: norms_on.clone(), source });
    // A plan of the data before would describe other rows.
    state.planned = None;
    state.points = None;
    Ok(Response::Loaded { summary, norms_on, parse_seconds })
}

async fn attach(
    file: FileHandle,
    join: SidecarJoin,
    state: &Rc<RefCell<State>>,
    answers: &Answers,
    cancel: Rc<AtomicBool>,
) -> Result<Response, Response> {
    let job = Job { stage: "reading sidecar", answers: answers.clone(), cancel };
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

/// Plans on the loaded dataset where the user's backend choice says (the run layer
/// reruns it on the CPU, saying why, when the GPU fails), pausing for the worker's event
/// loop between steps.
async fn plan(
    settings: Box<Settings>,
    compare: bool,
    state: &Rc<RefCell<State>>,
    answers: &Answers,
    cancel: Rc<AtomicBool>,
) -> Result<Response, Response> {
    let job = Job { stage: "hashing the input for the manifest", answers: answers.clone(), cancel };
    let info = input_info(state, &job).await?;
    let (dataset, gpu) = {
        let s = state.borrow();
        let Some(loaded) = s.loaded.as_ref() else {
            return Err(failure("load an embeddings file before planning".into()));
        };
        (loaded.dataset.clone(), s.backend.active())
    };
    let started = web_time::Instant::now();
    let breather = Breather::default();
    let pause = || breather.pause();
    let mut on_progress = |p: &Progress| answers.progress(&p.stage, p.unit, p.done, p.total);
    let watch = labelplan_run::Watch { progress: &mut on_progress, cancel: &job.cancel, pause: Some(&pause) };
    let work = if compare { Work::Plain(&dataset) } else { Work::Mapped(&dataset) };
    let planned =
        labelplan_run::plan(gpu.as_ref(), work, info, &settings, watch).await.map_err(plan_failed)?;
    if !compare {
        let mut s = state.borrow_mut();
        let (plan, map) = (Rc::new(planned.plan.clone()), Rc::new(planned.map.clone()));
        s.planned = Some(Shown { data: dataset, plan, map });
        s.points = None;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (map, order) = (planned.map.positions, planned.map.order);
    Ok(Response::Planned { plan: Box::new(planned.plan), map, order, seconds, note: planned.note, compare })
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
    let source = |file: FileHandle| RunSource { name: file.name, reader: BlobReader::new(file.blob) };
    let (side, join) = match sidecar {
        Some((side, join)) => (Some(source(side)), join),
        None => (None, SidecarJoin::RowOrder),
    };
    let sidecar = side.map(|side| (side, &join));
    let info =
        labelplan_run::input_info(&dataset, source(file), &options, sidecar, job).await.map_err(failed)?;
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
pub(crate) async fn next_macrotask() {
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
        (s.backend.active(), s.backend.name())
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
