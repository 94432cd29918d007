//! The worker's language-model jobs: loading a GGUF (from the page's origin through the
//! browser's cache storage, or a dropped file) and generating text on WebGPU or the CPU,
//! streamed token by token. The GPU is the planner's context: one device, one registry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use futures::lock::Mutex;
use labelplan_core::progress::Unit;
use labelplan_gpu::GpuContext;
use labelplan_lm::chat::Message;
use labelplan_lm::eval::SparseEval;
use labelplan_lm::experts::{Grouping, EXPERT_SIZE};
use labelplan_lm::model::Products;
use labelplan_lm::sample::{Sampler, Sampling};
use labelplan_lm::shipped::Measured;
use labelplan_lm::sparse::{SparseSet, Sparsity};
use labelplan_lm::speed::{self, SpeedPlan};
use labelplan_lm::{DType, Loaded, Model, Session, Tokenizer};
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::protocol::{
    ExpertUse, Generate, Generated, Measure, ModelInfo, ModelSource, Provenance, Response, SparsityChoice,
    SpeedReport,
};

/// Tokens a conversation may hold (prompt and answers), on either pass.
pub const CONTEXT: usize = 1024;

/// The cache storage the model is kept in between visits.
const CACHE_NAME: &str = "labelplan-models";

/// The loaded model and its running session.
pub struct LanguageModel {
    model: Arc<Model>,
    tokenizer: Tokenizer,
    template: Option<labelplan_lm::chat::ChatTemplate>,
    /// One generation at a time: a new one waits here until the one it replaced sees
    /// its cancel and lets go.
    session: Rc<Mutex<Option<Held>>>,
    /// Sparsity sets read so far, by URL.
    sets: RefCell<HashMap<String, Rc<SparseSet>>>,
    /// The model grouped into experts for the sets (they share one grouping), made when
    /// a set is first chosen.
    grouped: RefCell<Option<(Grouping, Arc<Model>)>>,
}

/// The running session and what it runs: the model as loaded or grouped, and the
/// sparsity set it was given (its URL).
struct Held {
    session: Session,
    grouped: bool,
    sparsity: Option<String>,
}

/// What a job reports through: answers, progress and the user's stop.
pub trait Reporter {
    /// Sends an answer of the running job.
    fn send(&self, response: Response);
    /// Sends progress.
    fn progress(&self, stage: &str, unit: Unit, done: u64, total: u64);
    /// Whether the user stopped the job.
    fn cancelled(&self) -> bool;
}

fn js_error(e: wasm_bindgen::JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map_or_else(|| format!("{e:?}"), |e| String::from(e.message()))
}

/// The bytes of `url`, from the cache storage when it holds them (else fetched and put
/// there), with byte progress; and where they came from.
async fn fetch_cached(url: &str, what: &str, job: &dyn Reporter) -> Result<(Vec<u8>, Provenance), String> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let fail = |e| format!("could not fetch {what} {url}: {}", js_error(e));
    // No cache storage (an insecure origin, a private window's quota): download only.
    let cache: Result<web_sys::Cache, String> = match scope.caches() {
        Ok(caches) => JsFuture::from(caches.open(CACHE_NAME))
            .await
            .map(JsCast::unchecked_into)
            .map_err(|e| format!("its cache storage would not open: {}", js_error(e))),
        Err(e) => Err(format!("this page has no cache storage: {}", js_error(e))),
    };
    let hit = match &cache {
        Ok(c) => JsFuture::from(c.match_with_str(url)).await.ok().filter(|v| !v.is_undefined()),
        Err(_) => None,
    };
    let from_cache = hit.is_some();
    let response: web_sys::Response = match hit {
        Some(r) => r.unchecked_into(),
        None => JsFuture::from(scope.fetch_with_str(url)).await.map_err(fail)?.unchecked_into(),
    };
    if !response.ok() {
        return Err(format!("could not fetch {what} {url}: HTTP {}", response.status()));
    }
    let stored = match (&cache, from_cache) {
        (_, true) => None,
        (Ok(c), false) => Some(Ok(c.put_with_str(url, &response.clone().map_err(fail)?))),
        (Err(why), false) => Some(Err(why.clone())),
    };
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let body = response.body().ok_or_else(|| format!("{what} {url} came without a body"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let stage = if from_cache {
        format!("Reading {what} from the browser's cache")
    } else {
        format!("Downloading {what}")
    };
    let mut bytes = Vec::with_capacity(total as usize);
    loop {
        if job.cancelled() {
            return Err("cancelled".into());
        }
        let chunk = JsFuture::from(reader.read()).await.map_err(fail)?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(fail)?;
        bytes.extend(js_sys::Uint8Array::new(&value).to_vec());
        job.progress(&stage, Unit::Bytes, bytes.len() as u64, total.max(bytes.len() as u64));
    }
    let Some(stored) = stored else {
        return Ok((bytes, Provenance::Cache));
    };
    // A refused copy (a full quota, a disk short of space) only means the next visit
    // downloads again; the page says so.
    let kept = match stored {
        Ok(put) => JsFuture::from(put).await.map(|_| ()).map_err(|e| storage_refusal(&e)),
        Err(why) => Err(why),
    };
    Ok((bytes, Provenance::Downloaded(kept)))
}

/// Why the cache storage refused a copy, in the browser's words with the error's name
/// (Chromium on a disk short of space says "NetworkError: … Cache.put() encountered a
/// network error"; a full quota, QuotaExceededError).
fn storage_refusal(e: &wasm_bindgen::JsValue) -> String {
    let name = js_sys::Reflect::get(e, &"name".into()).ok().and_then(|n| n.as_string());
    match name {
        Some(name) => format!("{name}: {}", js_error(e.clone())),
        None => js_error(e.clone()),
    }
}

/// Loads the model `source` names; its info on success.
pub async fn load(
    source: ModelSource,
    gpu: Result<String, String>,
    job: &dyn Reporter,
) -> Result<(LanguageModel, ModelInfo), String> {
    let (name, bytes, provenance) = match source {
        ModelSource::Url(url) => {
            let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
            let (bytes, provenance) = fetch_cached(&url, "the model", job).await?;
            (name, bytes, provenance)
        }
        ModelSource::File(file) => {
            let bytes = JsFuture::from(file.blob.array_buffer())
                .await
                .map_err(|e| format!("{}: could not read it ({})", file.name, js_error(e)))?;
            (file.name, js_sys::Uint8Array::new(&bytes).to_vec(), Provenance::File)
        }
    };
    job.progress("Reading the weights", Unit::Steps, 0, 0);
    crate::worker::next_macrotask().await;
    let mut loaded = Loaded::from_bytes(&name, &bytes).map_err(|e| e.to_string())?;
    // The GPU's arithmetic on the CPU too: the same greedy text on both passes and natively.
    loaded.model.products = Products::Exact;
    let c = &loaded.model.config;
    let info = ModelInfo {
        name: loaded.name.clone(),
        parameters: loaded.model.parameters(),
        bytes: bytes.len() as u64,
        shape: format!(
            "{} layers, width {}, FFN {}, {} heads ({} key/value), {} tokens",
            c.layers, c.dim, c.ff, c.heads, c.kv_heads, c.vocab
        ),
        provenance,
        gpu,
    };
    let model = LanguageModel {
        model: Arc::new(loaded.model),
        tokenizer: loaded.tokenizer,
        template: loaded.template,
        session: Rc::default(),
        sets: RefCell::default(),
        grouped: RefCell::default(),
    };
    Ok((model, info))
}

/// The sparsity set `choice` names: read before, or fetched, checked against its
/// SHA-256 and the model, and kept.
async fn sparse_set(
    lm: &LanguageModel,
    choice: &SparsityChoice,
    job: &dyn Reporter,
) -> Result<Rc<SparseSet>, String> {
    if let Some(set) = lm.sets.borrow().get(&choice.url) {
        return Ok(set.clone());
    }
    let what = format!("the sparsity set \"{}\"", choice.label);
    let (bytes, _) = fetch_cached(&choice.url, &what, job).await?;
    let digest = format!("{:x}", Sha256::digest(&bytes));
    if digest != choice.sha256 {
        return Err(format!(
            "{} is not the file the page's manifest names (SHA-256 {digest}, expected {}): reload the page",
            choice.url, choice.sha256
        ));
    }
    let set = SparseSet::from_bytes(&choice.url, &bytes)?;
    set.grouping
        .check(&lm.model)
        .map_err(|e| format!("{}: {e} (the sets are for SmolLM2-135M)", choice.label))?;
    let set = Rc::new(set);
    lm.sets.borrow_mut().insert(choice.url.clone(), set.clone());
    Ok(set)
}

/// The model grouped as `grouping` says (made once per grouping: the down projection
/// is re-stored, which takes a moment).
async fn grouped_model(lm: &LanguageModel, grouping: &Grouping, job: &dyn Reporter) -> Arc<Model> {
    let made = lm.grouped.borrow().as_ref().filter(|(g, _)| g == grouping).map(|(_, m)| m.clone());
    if let Some(model) = made {
        return model;
    }
    job.progress("Grouping the FFN's neurons into experts", Unit::Steps, 0, 0);
    crate::worker::next_macrotask().await;
    let model = Arc::new(lm.model.grouped(grouping, DType::F16));
    *lm.grouped.borrow_mut() = Some((grouping.clone(), model.clone()));
    model
}

/// The session for `on_gpu` on `model` (`grouped` or not), made (uploaded) when the one
/// held runs elsewhere or another model; a GPU that fails leaves the CPU, saying why.
async fn session_for(
    held: &mut Option<Held>,
    model: Arc<Model>,
    grouped: bool,
    gpu: Option<GpuContext>,
    job: &dyn Reporter,
) -> String {
    if held.as_ref().is_some_and(|h| h.session.on_gpu() == gpu.is_some() && h.grouped == grouped) {
        return String::new();
    }
    *held = None;
    let mut note = String::new();
    if let Some(ctx) = gpu {
        job.progress("Uploading the model to the GPU", Unit::Steps, 0, 0);
        match Session::gpu(&ctx, &model, CONTEXT).await {
            Ok(session) => *held = Some(Held { session, grouped, sparsity: None }),
            Err(e) => note = format!(" (the GPU failed: {e})"),
        }
    }
    if held.is_none() {
        *held = Some(Held { session: Session::cpu(model, CONTEXT), grouped, sparsity: None });
    }
    note
}

/// Most tokens [`measure`] reads: each takes a forward pass per set on the CPU.
pub const MEASURE_MAX: u32 = 512;

/// Perplexity of the dense model and of each set in `request` on its text, on the CPU
/// (what `labelplan-lm eval --routers` measures natively), with progress per token.
pub async fn measure(
    lm: &LanguageModel,
    request: &Measure,
    job: &dyn Reporter,
) -> Result<Vec<Measured>, String> {
    let ids: Vec<u32> = lm
        .tokenizer
        .encode(&request.text)
        .into_iter()
        .take(request.tokens.min(MEASURE_MAX) as usize)
        .collect();
    if ids.len() < 2 {
        return Err("the text to measure on is shorter than 2 tokens: paste a paragraph or more".into());
    }
    let mut runs = vec![("dense".to_owned(), "dense".to_owned(), lm.model.clone(), Sparsity::Dense)];
    for choice in &request.sets {
        let set = sparse_set(lm, choice, job).await?;
        let model = grouped_model(lm, &set.grouping, job).await;
        runs.push((choice.label.clone(), set.kind(), model, set.sparsity.clone()));
    }
    let mut rows = Vec::new();
    let total = (runs.len() * (ids.len() - 1)) as u64;
    for (r, (label, kind, model, sparsity)) in runs.into_iter().enumerate() {
        let mut run = SparseEval::new(&model, &sparsity, ids.len());
        for (i, pair) in ids.windows(2).enumerate() {
            run.feed(pair[0], pair[1]);
            if i % 4 == 3 {
                let done = (r * (ids.len() - 1) + i + 1) as u64;
                job.progress(&format!("Measuring perplexity: {label}"), Unit::Tokens, done, total);
                crate::worker::next_macrotask().await;
                if job.cancelled() {
                    return Err("cancelled".into());
                }
            }
        }
        rows.push(Measured { label, kind, perplexity: run.perplexity().value(), sparsity: run.sparsity() });
    }
    Ok(rows)
}

/// What the speed timing decodes after (any text would do: its routers ignore it).
const TIMING_PROMPT: &str = "The capital of France is";

/// Times every layer's FFN and decoding against the share of experts off
/// ([`speed::measure`]) on the model grouped into experts (the sets' grouping if one was
/// made, else neighbours: the speed is the same), on the GPU when `gpu` holds one (an
/// upload of its own, sized for the timing) or the CPU. It holds the session, so no
/// generation runs beside it.
pub async fn time_sparsity(
    lm: &LanguageModel,
    rounds: u32,
    gpu: Option<Result<GpuContext, String>>,
    job: &dyn Reporter,
) -> Result<SpeedReport, String> {
    let _held = lm.session.lock().await;
    let c = &lm.model.config;
    if !c.ff.is_multiple_of(EXPERT_SIZE) {
        return Err(format!(
            "this model's FFN of {} neurons does not split into experts of {EXPERT_SIZE}",
            c.ff
        ));
    }
    let grouping = lm.grouped.borrow().as_ref().map(|(g, _)| g.clone());
    let grouping = grouping.unwrap_or_else(|| Grouping::contiguous(c.layers, c.ff));
    let model = grouped_model(lm, &grouping, job).await;
    let prompt = lm.tokenizer.encode(TIMING_PROMPT);
    let plan = SpeedPlan { rounds: rounds.max(1) as usize, ffn_repeats: 4, decode_tokens: 8 };
    let positions = prompt.len() + plan.decode_tokens;
    let (mut session, backend) = match gpu {
        Some(Ok(ctx)) => {
            job.progress("Uploading the model to the GPU", Unit::Steps, 0, 0);
            let session =
                Session::gpu(&ctx, &model, positions).await.map_err(|e| format!("the GPU failed: {e}"))?;
            (session, format!("WebGPU: {}", ctx.adapter_description()))
        }
        Some(Err(why)) => return Err(why),
        None => (Session::cpu(model, positions), "CPU".to_owned()),
    };
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let clock = scope.performance().ok_or("this browser gives workers no clock (performance.now)")?;
    let between = |done: usize, total: usize| async move {
        let row = speed::SHARES[done % speed::SHARES.len()].0;
        job.progress(&format!("Timing the FFN and decoding: {row}"), Unit::Steps, done as u64, total as u64);
        crate::worker::next_macrotask().await;
        !job.cancelled()
    };
    let rows = speed::measure(&mut session, plan, &prompt, &|| clock.now(), between)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("cancelled")?;
    Ok(SpeedReport { backend, rows })
}

/// The prompt's text: the messages in the chat template, or the one text as it is.
fn prompt_text(lm: &LanguageModel, request: &Generate) -> Result<String, String> {
    if !request.chat {
        return Ok(request.messages.iter().map(|(_, text)| text.as_str()).collect::<Vec<_>>().join("\n"));
    }
    let template = lm.template.as_ref().ok_or("this model has no chat template; turn chat off")?;
    let messages: Vec<Message> =
        request.messages.iter().map(|(role, text)| Message::new(role, text)).collect();
    template.render(&messages, true)
}

/// Generates as `request` says, streaming tokens, and answers with how it went.
pub async fn generate(
    lm: &LanguageModel,
    request: &Generate,
    gpu: Option<GpuContext>,
    gpu_name: String,
    job: &dyn Reporter,
) -> Result<Generated, String> {
    let started = js_sys::Date::now();
    let mut held = lm.session.lock().await;
    let set = match &request.sparsity {
        Some(choice) => Some(sparse_set(lm, choice, job).await?),
        None => None,
    };
    let model = match &set {
        Some(set) => grouped_model(lm, &set.grouping, job).await,
        None => lm.model.clone(),
    };
    let note = session_for(&mut held, model.clone(), set.is_some(), gpu, job).await;
    let held = held.as_mut().expect("a session was made");
    let wanted = request.sparsity.as_ref().map(|c| c.url.clone());
    if held.sparsity != wanted {
        let sparsity = set.as_ref().map_or(Sparsity::Dense, |s| s.sparsity.clone());
        held.sparsity = None;
        held.session.set_sparsity(sparsity).await.map_err(|e| match e {
            labelplan_lm::gpu::GpuModelError::Unsupported(why) => {
                format!("{why}: choose the CPU to run this set")
            }
            e => e.to_string(),
        })?;
        held.sparsity = wanted;
    }
    let session = &mut held.session;
    let backend = if session.on_gpu() { format!("WebGPU: {gpu_name}") } else { "CPU".into() } + &note;
    let ids = lm.tokenizer.encode(&prompt_text(lm, request)?);
    if ids.is_empty() {
        return Err("the prompt is empty".into());
    }
    let wanted = ids.len() + request.max_tokens as usize;
    if wanted > CONTEXT {
        return Err(format!(
            "the prompt is {} tokens and {} more were asked for; the model here holds {CONTEXT}: shorten it, or start a new conversation",
            ids.len(),
            request.max_tokens
        ));
    }
    let reused = session.keep_prefix_of(&ids);
    let sampling = Sampling { temperature: request.temperature, top_p: 0.95, seed: request.seed };
    let greedy = sampling.temperature <= 0.0;
    // The prompt in pieces, pausing between them: progress goes out, a stop comes in.
    let piece = if session.on_gpu() { labelplan_lm::gpu::PREFILL_CHUNK } else { 4 };
    let rest = &ids[reused..];
    let mut next = None;
    for (i, chunk) in rest.chunks(piece).enumerate() {
        if job.cancelled() {
            return Ok(stopped(ids.len(), reused, backend));
        }
        job.progress("Reading the prompt", Unit::Tokens, (i * piece) as u64, rest.len() as u64);
        let last = (i + 1) * piece >= rest.len();
        next = Some(session.feed(chunk, last && !greedy).await.map_err(|e| e.to_string())?);
        crate::worker::next_macrotask().await;
    }
    let mut next = next.expect("the prompt has a token to read");
    let first_token_ms = js_sys::Date::now() - started;
    let decode_started = js_sys::Date::now();
    let mut sampler = Sampler::new(sampling);
    let mut tokens = Vec::new();
    let mut stopped = false;
    loop {
        let token =
            if greedy { next.greedy } else { sampler.next(next.logits.as_deref().unwrap_or_default()) };
        if lm.tokenizer.is_special(token) {
            break;
        }
        tokens.push(token);
        job.send(Response::Token { text: lm.tokenizer.decode(&tokens), tokens: tokens.clone() });
        if tokens.len() >= request.max_tokens as usize {
            break;
        }
        crate::worker::next_macrotask().await;
        if job.cancelled() {
            stopped = true;
            break;
        }
        next = session.feed(&[token], !greedy).await.map_err(|e| e.to_string())?;
    }
    let seconds = (js_sys::Date::now() - decode_started) / 1000.0;
    let experts = match &set {
        Some(set) => session
            .experts_used()
            .await
            .map_err(|e| e.to_string())?
            .map(|used| expert_use(lm, &model, set, session.fed(), used)),
        None => None,
    };
    Ok(Generated {
        prompt_tokens: ids.len() as u32,
        reused_tokens: reused as u32,
        tokens_per_second: if seconds > 0.0 {
            (tokens.len().saturating_sub(1)) as f64 / seconds
        } else {
            0.0
        },
        tokens,
        first_token_ms,
        backend,
        stopped,
        experts,
    })
}

/// What the heatmap and the FLOPs line show: each fed token's text and experts, and
/// the FFN's multiply-adds ×2 per token, dense and with the experts that ran (the
/// router's product added; thresholds run the gate projection dense).
fn expert_use(
    lm: &LanguageModel,
    model: &Model,
    set: &SparseSet,
    fed: &[u32],
    used: Vec<Vec<u64>>,
) -> ExpertUse {
    let c = &model.config;
    let experts = c.ff / EXPERT_SIZE;
    let product = 2.0 * (c.dim * c.ff) as f64;
    let dense_flops = 3.0 * product * c.layers as f64;
    let share = |mask: u64| f64::from(mask.count_ones()) / experts as f64;
    let per_layer = |mask: u64| match set.sparsity {
        Sparsity::Thresholds(_) => product * (1.0 + 2.0 * share(mask)),
        _ => 2.0 * (c.dim * experts) as f64 + 3.0 * product * share(mask),
    };
    let total: f64 = used.iter().flatten().map(|&m| per_layer(m)).sum();
    ExpertUse {
        experts: experts as u32,
        tokens: fed.iter().map(|&t| lm.tokenizer.decode(&[t])).collect(),
        sparse_flops: total / used.len().max(1) as f64,
        used,
        dense_flops,
    }
}

fn stopped(prompt: usize, reused: usize, backend: String) -> Generated {
    Generated {
        prompt_tokens: prompt as u32,
        reused_tokens: reused as u32,
        tokens: Vec::new(),
        first_token_ms: 0.0,
        tokens_per_second: 0.0,
        backend,
        stopped: true,
        experts: None,
    }
}
