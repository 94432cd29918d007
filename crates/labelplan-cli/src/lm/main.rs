//! `labelplan-lm`: the page's language model on the command line: perplexity and speed
//! on a text (`eval`) and text generation (`generate`), on the CPU or the GPU backend.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use futures::executor::block_on;
use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_lm::eval::{held_out, Perplexity, SparseEval};
use labelplan_lm::model::Products;
use labelplan_lm::sample::{Sampler, Sampling};
use labelplan_lm::shipped::{Measured, SetsManifest, ShippedSet};
use labelplan_lm::sparse::{Routers, SparseSet, Sparsity};
use labelplan_lm::DType;
use labelplan_lm::{Loaded, Session};
use sha2::{Digest, Sha256};

/// The language model of labelplan's page, on the command line.
#[derive(Debug, Parser)]
#[command(name = "labelplan-lm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Perplexity of the model on a text (from "Call me Ishmael" on when the text has
    /// it: the held-out slice of Moby Dick), and tokens per second.
    Eval {
        /// A llama GGUF (Q4_1, Q8_0, F16 or F32 weights).
        model: PathBuf,
        /// A UTF-8 text file.
        text: PathBuf,
        /// Tokens of the text to run through the model.
        #[arg(long, default_value_t = 512)]
        tokens: usize,
        /// Sparsity sets (routers or thresholds, `.safetensors`) to measure beside the
        /// dense model, each on the model grouped as it says (CPU).
        #[arg(long, num_args = 1..)]
        routers: Vec<PathBuf>,
        /// Also write the sets' manifest with this evaluation here (the page's
        /// `web/sparsity/manifest.json`): the sets in its folder are the shipped ones.
        #[arg(long, requires = "routers")]
        manifest: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Continue a prompt.
    Generate {
        /// A llama GGUF.
        model: PathBuf,
        /// The prompt.
        #[arg(long)]
        prompt: String,
        /// Wrap the prompt as a user turn in the model's chat template.
        #[arg(long)]
        chat: bool,
        /// New tokens at most (an end-of-text token stops sooner).
        #[arg(long, default_value_t = 64)]
        tokens: usize,
        /// 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        /// Nucleus sampling's probability mass.
        #[arg(long, default_value_t = 0.95)]
        top_p: f32,
        /// Seeds the sampling.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print JSON instead of the text: the prompt's token ids, the new tokens' ids and
        /// the new text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Where the forward pass runs.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// The CPU's products: exact (f32 input, the GPU's arithmetic, what the page runs) or
    /// quantized (8-bit input, ggml's and candle's arithmetic, faster).
    #[arg(long, value_enum, default_value_t = ProductsArg::Exact)]
    products: ProductsArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Backend {
    Cpu,
    Gpu,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProductsArg {
    Exact,
    Quantized,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Eval { model, text, tokens, routers, manifest, run } if !routers.is_empty() => {
            eval_sparse(&model, &text, tokens, &routers, manifest.as_deref(), &run)
        }
        Command::Eval { model, text, tokens, run, .. } => eval(&model, &text, tokens, &run),
        Command::Generate { model, prompt, chat, tokens, temperature, top_p, seed, json, run } => {
            let sampling = Sampling { temperature, top_p, seed };
            generate(&model, &prompt, chat, tokens, sampling, json, &run)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &PathBuf, run: &RunArgs) -> Result<Loaded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut loaded = Loaded::from_bytes(&path.display().to_string(), &bytes).map_err(|e| e.to_string())?;
    loaded.model.products = match run.products {
        ProductsArg::Exact => Products::Exact,
        ProductsArg::Quantized => Products::Quantized,
    };
    Ok(loaded)
}

fn session(loaded: Loaded, positions: usize, run: &RunArgs) -> Result<(Session, String), String> {
    Ok(match run.backend {
        Backend::Cpu => {
            let name = format!("CPU, {:?} products", loaded.model.products).to_lowercase();
            (Session::cpu(Arc::new(loaded.model), positions), name)
        }
        Backend::Gpu => {
            let ctx = block_on(GpuContext::new(GpuOptions::default())).map_err(|e| e.to_string())?;
            let s = block_on(Session::gpu(&ctx, &loaded.model, positions)).map_err(|e| e.to_string())?;
            (s, format!("GPU, {}", ctx.adapter_description()))
        }
    })
}

/// The first `tokens` tokens of the evaluation slice of the text file `text`.
fn held_out_ids(loaded: &Loaded, text: &PathBuf, tokens: usize) -> Result<Vec<u32>, String> {
    let text = std::fs::read_to_string(text).map_err(|e| format!("{}: {e}", text.display()))?;
    let ids: Vec<u32> = loaded.tokenizer.encode(held_out(&text)).into_iter().take(tokens).collect();
    if ids.len() < 2 {
        return Err("the text has fewer than 2 tokens".into());
    }
    Ok(ids)
}

fn eval(model: &PathBuf, text: &PathBuf, tokens: usize, run: &RunArgs) -> Result<(), String> {
    let loaded = load(model, run)?;
    let ids = held_out_ids(&loaded, text, tokens)?;
    let (mut session, backend) = session(loaded, ids.len(), run)?;
    let mut ppl = Perplexity::default();
    let start = Instant::now();
    for pair in ids.windows(2) {
        let next = block_on(session.feed(&pair[..1], true)).map_err(|e| e.to_string())?;
        ppl.add(&next.logits.expect("asked for"), pair[1]);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "perplexity {:.4} over {} predicted tokens; {:.1} tokens/s ({backend})",
        ppl.value(),
        ppl.count(),
        ppl.count() as f64 / seconds
    );
    Ok(())
}

/// Perplexity, FFN sparsity and speed of the dense model and of each sparsity set (an
/// LTE set with stage 2's scales also without them), on the CPU, as a table; and the
/// manifest of the sets with this evaluation, when asked.
fn eval_sparse(
    model: &PathBuf,
    text: &PathBuf,
    tokens: usize,
    sets: &[PathBuf],
    manifest: Option<&Path>,
    run: &RunArgs,
) -> Result<(), String> {
    if matches!(run.backend, Backend::Gpu) {
        return Err("--routers runs on the CPU for now (--backend cpu)".into());
    }
    let loaded = load(model, run)?;
    let ids = held_out_ids(&loaded, text, tokens)?;
    println!("{:<40} {:>10} {:>13} {:>9}", "model", "perplexity", "FFN sparsity", "tokens/s");
    let mut rows = Vec::new();
    let mut measure = |name: &str, kind: &str, model: &labelplan_lm::Model, sparsity: &Sparsity| {
        let mut run = SparseEval::new(model, sparsity, ids.len());
        let start = Instant::now();
        for pair in ids.windows(2) {
            run.feed(pair[0], pair[1]);
        }
        let (ppl, sparsity) = (run.perplexity(), run.sparsity());
        let rate = ppl.count() as f64 / start.elapsed().as_secs_f64();
        println!("{name:<40} {:>10.4} {:>12.1}% {rate:>9.1}", ppl.value(), 100.0 * sparsity);
        rows.push(Measured {
            label: name.to_owned(),
            kind: kind.to_owned(),
            perplexity: ppl.value(),
            sparsity,
        });
    };
    measure("dense", "dense", &loaded.model, &Sparsity::Dense);
    let mut shipped = Vec::new();
    let folder = manifest.map(|m| m.parent().unwrap_or(Path::new("")).canonicalize()).transpose();
    let folder = folder.map_err(|e| format!("the manifest's folder: {e}"))?;
    for path in sets {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let set = SparseSet::from_bytes(&path.display().to_string(), &bytes)?;
        set.grouping.check(&loaded.model).map_err(|e| format!("{}: {e}", path.display()))?;
        let grouped = loaded.model.grouped(&set.grouping, DType::F16);
        let (label, kind) = (set.label(), set.kind());
        measure(&label, &kind, &grouped, &set.sparsity);
        if let Sparsity::Routers(r @ Routers { scales: Some(_), .. }) = &set.sparsity {
            let stage1 = Sparsity::Routers(Routers { scales: None, ..r.clone() });
            measure(&format!("{label}, without stage 2"), &format!("{kind}-stage1"), &grouped, &stage1);
        }
        if folder.is_some() && path.parent().and_then(|p| p.canonicalize().ok()) == folder {
            let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let sha256 = format!("{:x}", Sha256::digest(&bytes));
            shipped.push(ShippedSet { file, label, kind, sha256, bytes: bytes.len() as u64 });
        }
    }
    if let Some(path) = manifest {
        let name = model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file = text.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let described = format!("{} held-out tokens of {file}", ids.len());
        let m = SetsManifest { model: name, text: described, sets: shipped, evaluation: rows };
        let json = serde_json::to_string_pretty(&m).map_err(|e| e.to_string())? + "\n";
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {} ({} sets)", path.display(), m.sets.len());
    }
    Ok(())
}

fn generate(
    model: &PathBuf,
    prompt: &str,
    chat: bool,
    tokens: usize,
    sampling: Sampling,
    json: bool,
    run: &RunArgs,
) -> Result<(), String> {
    let loaded = load(model, run)?;
    let text = if chat {
        let template = loaded.template.as_ref().ok_or("the model has no chat template")?;
        template.render(&[labelplan_lm::chat::Message::new("user", prompt)], true)?
    } else {
        prompt.to_owned()
    };
    let tokenizer = loaded.tokenizer.clone();
    let ids = tokenizer.encode(&text);
    if ids.is_empty() {
        return Err("the prompt is empty".into());
    }
    let (mut session, backend) = session(loaded, ids.len() + tokens, run)?;
    let mut sampler = Sampler::new(sampling);
    let greedy = sampling.temperature <= 0.0;
    let start = Instant::now();
    let mut next = block_on(session.feed(&ids, !greedy)).map_err(|e| e.to_string())?;
    let first = start.elapsed();
    let mut out = Vec::new();
    while out.len() < tokens {
        let token =
            if greedy { next.greedy } else { sampler.next(next.logits.as_deref().unwrap_or_default()) };
        out.push(token);
        if tokenizer.is_special(token) || out.len() == tokens {
            break;
        }
        next = block_on(session.feed(&[token], !greedy)).map_err(|e| e.to_string())?;
    }
    let decode = start.elapsed() - first;
    if json {
        let value = serde_json::json!({ "prompt": ids, "tokens": out, "text": tokenizer.decode(&out) });
        println!("{value}");
    } else {
        println!("{}", tokenizer.decode(&out));
        eprintln!(
            "{} prompt tokens, first token after {:.0} ms; {} tokens at {:.1} tokens/s ({backend})",
            ids.len(),
            first.as_secs_f64() * 1e3,
            out.len(),
            (out.len().saturating_sub(1)) as f64 / decode.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}
