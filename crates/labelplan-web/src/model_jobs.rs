//! The worker's language-model jobs: loading a GGUF (from the page's origin through the
//! browser's cache storage, or a dropped file) and generating text on WebGPU or the CPU,
//! streamed token by token. The GPU is the planner's context: one device, one registry.

use std::rc::Rc;
use std::sync::Arc;

use futures::lock::Mutex;
use labelplan_core::progress::Unit;
use labelplan_gpu::GpuContext;
use labelplan_lm::chat::Message;
use labelplan_lm::model::Products;
use labelplan_lm::sample::{Sampler, Sampling};
use labelplan_lm::{Loaded, Model, Session, Tokenizer};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::protocol::{Generate, Generated, ModelInfo, ModelSource, Response};

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
    session: Rc<Mutex<Option<Session>>>,
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
/// there), with byte progress; and whether they came from the cache.
async fn fetch_cached(url: &str, job: &dyn Reporter) -> Result<(Vec<u8>, bool), String> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let fail = |e| format!("could not fetch the model {url}: {}", js_error(e));
    // No cache storage (an insecure origin, a private window's quota): download only.
    let cache: Option<web_sys::Cache> = match scope.caches() {
        Ok(caches) => JsFuture::from(caches.open(CACHE_NAME)).await.ok().map(JsCast::unchecked_into),
        Err(_) => None,
    };
    let hit = match &cache {
        Some(c) => JsFuture::from(c.match_with_str(url)).await.ok().filter(|v| !v.is_undefined()),
        None => None,
    };
    let from_cache = hit.is_some();
    let response: web_sys::Response = match hit {
        Some(r) => r.unchecked_into(),
        None => JsFuture::from(scope.fetch_with_str(url)).await.map_err(fail)?.unchecked_into(),
    };
    if !response.ok() {
        return Err(format!("could not fetch the model {url}: HTTP {}", response.status()));
    }
    let stored = match (&cache, from_cache) {
        (Some(c), false) => Some(c.put_with_str(url, &response.clone().map_err(fail)?)),
        _ => None,
    };
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let body = response.body().ok_or_else(|| format!("the model {url} came without a body"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let stage =
        if from_cache { "Reading the model from the browser's cache" } else { "Downloading the model" };
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
        job.progress(stage, Unit::Bytes, bytes.len() as u64, total.max(bytes.len() as u64));
    }
    if let Some(put) = stored {
        // A full quota only means the next visit downloads again.
        let _ = JsFuture::from(put).await;
    }
    Ok((bytes, from_cache))
}

/// Loads the model `source` names; its info on success.
pub async fn load(
    source: ModelSource,
    gpu: Result<String, String>,
    job: &dyn Reporter,
) -> Result<(LanguageModel, ModelInfo), String> {
    let (name, bytes, from_cache) = match source {
        ModelSource::Url(url) => {
            let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
            let (bytes, from_cache) = fetch_cached(&url, job).await?;
            (name, bytes, from_cache)
        }
        ModelSource::File(file) => {
            let bytes = JsFuture::from(file.blob.array_buffer())
                .await
                .map_err(|e| format!("{}: could not read it ({})", file.name, js_error(e)))?;
            (file.name, js_sys::Uint8Array::new(&bytes).to_vec(), false)
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
        from_cache,
        gpu,
    };
    let model = LanguageModel {
        model: Arc::new(loaded.model),
        tokenizer: loaded.tokenizer,
        template: loaded.template,
        session: Rc::default(),
    };
    Ok((model, info))
}

/// The session for `on_gpu`, made (uploaded) when the one held runs elsewhere; a GPU that
/// fails leaves the CPU, saying why.
async fn session_for(
    held: &mut Option<Session>,
    lm: &LanguageModel,
    gpu: Option<GpuContext>,
    job: &dyn Reporter,
) -> String {
    if held.as_ref().map(Session::on_gpu) == Some(gpu.is_some()) {
        return String::new();
    }
    *held = None;
    let mut note = String::new();
    if let Some(ctx) = gpu {
        job.progress("Uploading the model to the GPU", Unit::Steps, 0, 0);
        match Session::gpu(&ctx, &lm.model, CONTEXT).await {
            Ok(s) => *held = Some(s),
            Err(e) => note = format!(" (the GPU failed: {e})"),
        }
    }
    if held.is_none() {
        *held = Some(Session::cpu(lm.model.clone(), CONTEXT));
    }
    note
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
    let note = session_for(&mut held, lm, gpu, job).await;
    let session = held.as_mut().expect("a session was made");
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
    })
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
    }
}
