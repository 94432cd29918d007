//! `train-routers`: trains LTE routers and fits the baselines on the State of the Union
//! text, and writes them where the page loads them (`cargo xtask train-routers` runs it).
//!
//! Usage: `train-routers MODEL TEXT OUT_DIR [--smoke | flags]`. Without flags it makes
//! the shipped sets ([`shipped`]). `--smoke` runs the tests' 20 small steps of one η.
//! Flags replace parts of the recipe: `--eta=A,B` (LTE runs; `--eta=` none),
//! `--warm=S,T` (each run's warm start: the post-hoc router fitted for that sparsity),
//! `--soft=N --hard=N --batch=N --positions=N --lr=X` (the schedule), `--posthoc=S,T`
//! and `--thresholds=S,T` (the baselines written, for those target sparsities).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use labelplan_lm::experts::Grouping;
use labelplan_lm::sparse::{Routers, SparseSet, Sparsity};
use labelplan_lm::{DType, Loaded};
use labelplan_train::llama::Llama;
use labelplan_train::lte::{self, Schedule};
use labelplan_train::posthoc;

/// The grouping's k-means: iterations and seed.
const KMEANS: (usize, u64) = (8, 1);
/// Tokens of the training text the thresholds are calibrated on.
const CALIBRATION: usize = 512;
/// The post-hoc routers' data (windows of 128 tokens) and fit (full-batch AdamW steps,
/// learning rate).
const POSTHOC: (usize, usize, f64) = (32, 200, 1e-2);

/// What a run makes.
struct Recipe {
    /// LTE's η per run, and the sparsity of each run's warm start.
    eta: Vec<f64>,
    warm: Vec<Option<f32>>,
    soft: usize,
    hard: usize,
    batch: usize,
    positions: usize,
    learning_rate: f64,
    /// Target sparsities of the post-hoc routers and the thresholds written.
    posthoc: Vec<f32>,
    thresholds: Vec<f32>,
}

/// The shipped sets: LTE at η = 2, 4 and 8, each warm-started from the post-hoc router
/// for 30, 50 and 70% (from τ alone, 40 steps left every gate near τ: see
/// docs/sparsity.md); the post-hoc router for 50%; thresholds for 30, 50 and 70%.
fn shipped() -> Recipe {
    Recipe {
        eta: vec![2.0, 4.0, 8.0],
        warm: vec![Some(0.3), Some(0.5), Some(0.7)],
        soft: 30,
        hard: 10,
        batch: 4,
        positions: 128,
        learning_rate: 1e-3,
        posthoc: vec![0.5],
        thresholds: vec![0.3, 0.5, 0.7],
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("train-routers: {e}");
        std::process::exit(1);
    }
}

/// The comma-separated numbers of `value` (`--name=value`); empty for an empty value.
fn numbers<T: std::str::FromStr>(name: &str, value: &str) -> Result<Vec<T>, String> {
    value
        .split(',')
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().map_err(|_| format!("--{name}: {v} is not a number")))
        .collect()
}

fn recipe(args: &[String]) -> Result<Recipe, String> {
    let flag = |name: &str| args.iter().find_map(|a| a.strip_prefix(&format!("--{name}=")));
    let mut r = shipped();
    if args.iter().any(|a| a == "--smoke") {
        let s = lte::SMOKE;
        return Ok(Recipe {
            eta: vec![s.efficiency],
            warm: vec![None],
            soft: s.soft_steps,
            hard: s.hard_steps,
            batch: s.batch,
            positions: s.positions,
            learning_rate: s.learning_rate,
            posthoc: Vec::new(),
            thresholds: Vec::new(),
        });
    }
    if let Some(v) = flag("eta") {
        r.eta = numbers("eta", v)?;
        r.warm = vec![None; r.eta.len()];
    }
    if let Some(v) = flag("warm") {
        r.warm = numbers("warm", v)?.into_iter().map(Some).collect();
    }
    if r.warm.len() != r.eta.len() {
        return Err(format!("{} warm starts for {} values of η", r.warm.len(), r.eta.len()));
    }
    let number = |name: &str, default: f64| -> Result<f64, String> {
        flag(name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("--{name}={v}: not a number")))
    };
    r.soft = number("soft", r.soft as f64)? as usize;
    r.hard = number("hard", r.hard as f64)? as usize;
    r.batch = number("batch", r.batch as f64)? as usize;
    r.positions = number("positions", r.positions as f64)? as usize;
    r.learning_rate = number("lr", r.learning_rate)?;
    if let Some(v) = flag("posthoc") {
        r.posthoc = numbers("posthoc", v)?;
    }
    if let Some(v) = flag("thresholds") {
        r.thresholds = numbers("thresholds", v)?;
    }
    Ok(r)
}

fn write(out: &str, name: &str, set: &SparseSet, started: Instant) -> Result<(), String> {
    let path = Path::new(out).join(name);
    std::fs::write(&path, set.to_bytes()?).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {} ({:.0} s)", path.display(), started.elapsed().as_secs_f64());
    Ok(())
}

fn about(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [model, text, out] = paths[..] else {
        return Err("usage: train-routers MODEL TEXT OUT_DIR [--smoke | flags]".into());
    };
    let r = recipe(&args)?;
    let bytes = std::fs::read(model).map_err(|e| format!("{model}: {e}"))?;
    let loaded = Loaded::from_bytes(model, &bytes).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(text).map_err(|e| format!("{text}: {e}"))?;
    let started = Instant::now();
    let grouping = Grouping::balanced_kmeans(&loaded.model, KMEANS.0, KMEANS.1);
    let grouped = loaded.model.grouped(&grouping, DType::F16);
    let stream = loaded.tokenizer.encode(&text);
    eprintln!("grouped and tokenised ({} tokens) in {:.1} s", stream.len(), started.elapsed().as_secs_f64());
    std::fs::create_dir_all(out).map_err(|e| format!("{out}: {e}"))?;
    // The training-free baseline, calibrated per layer on CALIBRATION tokens of the text.
    for &target in &r.thresholds {
        let at = stream.len() / 2;
        let ids = &stream[at..(at + CALIBRATION).min(stream.len())];
        let thresholds = labelplan_lm::sparse::calibrate_thresholds(&grouped, ids, target);
        let set = SparseSet {
            grouping: grouping.clone(),
            sparsity: Sparsity::Thresholds(thresholds),
            about: about(&[
                ("kind", "thresholds".into()),
                ("target_sparsity", target.to_string()),
                ("calibration_tokens", ids.len().to_string()),
            ]),
        };
        write(out, &format!("thresholds-{target}.safetensors"), &set, started)?;
    }
    let llama = Llama::new(&grouped, &candle_core::Device::Cpu).map_err(|e| e.to_string())?;
    // Post-hoc routers: the baselines, and the LTE runs' warm starts.
    let mut fitted: Vec<(f32, Routers)> = Vec::new();
    let targets: Vec<f32> = r.posthoc.iter().copied().chain(r.warm.iter().flatten().copied()).collect();
    if !targets.is_empty() {
        let activations = posthoc::record(&llama, &stream, POSTHOC.0, 128).map_err(|e| e.to_string())?;
        eprintln!("recorded the dense activations ({:.0} s)", started.elapsed().as_secs_f64());
        for target in targets {
            if fitted.iter().all(|(t, _)| *t != target) {
                let routers =
                    posthoc::fit(&activations, target, POSTHOC.1, POSTHOC.2).map_err(|e| e.to_string())?;
                eprintln!(
                    "fitted the post-hoc router for {target} ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
                fitted.push((target, routers));
            }
        }
    }
    let fit = |target: f32| &fitted.iter().find(|(t, _)| *t == target).expect("fitted above").1;
    for &target in &r.posthoc {
        let set = SparseSet {
            grouping: grouping.clone(),
            sparsity: Sparsity::Routers(fit(target).clone()),
            about: about(&[
                ("kind", "posthoc".into()),
                ("target_sparsity", target.to_string()),
                ("windows", POSTHOC.0.to_string()),
                ("fit_steps", POSTHOC.1.to_string()),
            ]),
        };
        write(out, &format!("posthoc-{target}.safetensors"), &set, started)?;
    }
    for (&efficiency, &warm) in r.eta.iter().zip(&r.warm) {
        let schedule = Schedule {
            efficiency,
            soft_steps: r.soft,
            hard_steps: r.hard,
            batch: r.batch,
            positions: r.positions,
            learning_rate: r.learning_rate,
        };
        let mut last = None;
        let routers = lte::train(&llama, &stream, &schedule, warm.map(fit), |s| {
            eprintln!(
                "eta {efficiency} stage {} step {:3}: loss {:.4} cross-entropy {:.4} sparsity {:.3} ({:.0} s)",
                s.stage,
                s.step,
                s.loss,
                s.cross_entropy,
                s.sparsity,
                started.elapsed().as_secs_f64()
            );
            last = Some(s);
        })
        .map_err(|e| e.to_string())?;
        let last = last.ok_or("no steps were run")?;
        let mut set = lte::sparse_set(&grouping, routers, &schedule, &last);
        if let Some(w) = warm {
            set.about.insert("warm_start".to_owned(), format!("posthoc {w}"));
        }
        write(out, &format!("lte-eta{efficiency}.safetensors"), &set, started)?;
    }
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
