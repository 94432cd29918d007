//! `train-routers`: trains LTE routers for several η on the State of the Union text and
//! writes them where the page loads them (`cargo xtask train-routers` runs it).
//!
//! Usage: `train-routers MODEL TEXT OUT_DIR [--smoke] [--eta=A,B --soft=N --hard=N
//! --batch=N --positions=N --lr=X] [--thresholds=S,T]`. `--smoke` runs the tests' 20
//! small steps of one η; `--thresholds` (alone: no routers) writes the training-free
//! baseline calibrated for each target sparsity.

use std::path::Path;
use std::time::Instant;

use labelplan_lm::experts::Grouping;
use labelplan_lm::sparse::{SparseSet, Sparsity};
use labelplan_lm::{DType, Loaded};
use labelplan_train::llama::Llama;
use labelplan_train::lte::{self, Schedule};

/// The grouping's k-means: iterations and seed.
const KMEANS: (usize, u64) = (8, 1);
/// Tokens of the training text the thresholds are calibrated on.
const CALIBRATION: usize = 512;

fn main() {
    if let Err(e) = run() {
        eprintln!("train-routers: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [model, text, out] = paths[..] else {
        return Err("usage: train-routers MODEL TEXT OUT_DIR [--smoke]".into());
    };
    let bytes = std::fs::read(model).map_err(|e| format!("{model}: {e}"))?;
    let loaded = Loaded::from_bytes(model, &bytes).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(text).map_err(|e| format!("{text}: {e}"))?;
    let started = Instant::now();
    let grouping = Grouping::balanced_kmeans(&loaded.model, KMEANS.0, KMEANS.1);
    let grouped = loaded.model.grouped(&grouping, DType::F16);
    let stream = loaded.tokenizer.encode(&text);
    eprintln!("grouped and tokenised ({} tokens) in {:.1} s", stream.len(), started.elapsed().as_secs_f64());
    let llama = Llama::new(&grouped, &candle_core::Device::Cpu).map_err(|e| e.to_string())?;
    // `--eta=2,4 --soft=60 --hard=20 --batch=4 --positions=128 --lr=5e-3` override the schedule.
    let flag =
        |name: &str| args.iter().find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned));
    let number = |name: &str, default: f64| -> Result<f64, String> {
        flag(name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("--{name}={v}: not a number")))
    };
    let schedules: Vec<Schedule> = if flag("thresholds").is_some() && flag("eta").is_none() {
        Vec::new()
    } else if let Some(etas) = flag("eta") {
        etas.split(',')
            .map(|e| {
                Ok(Schedule {
                    efficiency: e.parse().map_err(|_| format!("--eta: {e} is not a number"))?,
                    soft_steps: number("soft", 60.0)? as usize,
                    hard_steps: number("hard", 20.0)? as usize,
                    batch: number("batch", 4.0)? as usize,
                    positions: number("positions", 128.0)? as usize,
                    learning_rate: number("lr", 5e-3)?,
                })
            })
            .collect::<Result<_, String>>()?
    } else if smoke {
        vec![lte::SMOKE]
    } else {
        [0.5, 1.0, 2.0, 4.0]
            .map(|efficiency| Schedule {
                efficiency,
                soft_steps: 60,
                hard_steps: 20,
                batch: 4,
                positions: 128,
                learning_rate: 5e-3,
            })
            .to_vec()
    };
    std::fs::create_dir_all(out).map_err(|e| format!("{out}: {e}"))?;
    // `--thresholds=0.3,0.5`: the training-free baseline, calibrated per layer on
    // CALIBRATION tokens of the training text for each target sparsity.
    if let Some(targets) = flag("thresholds") {
        let at = stream.len() / 2;
        let ids = &stream[at..(at + CALIBRATION).min(stream.len())];
        for target in targets.split(',') {
            let share: f32 = target.parse().map_err(|_| format!("--thresholds: {target} is not a share"))?;
            let thresholds = labelplan_lm::sparse::calibrate_thresholds(&grouped, ids, share);
            let about = [
                ("kind", "thresholds".to_owned()),
                ("target_sparsity", target.to_owned()),
                ("calibration_tokens", ids.len().to_string()),
            ];
            let set = SparseSet {
                grouping: grouping.clone(),
                sparsity: Sparsity::Thresholds(thresholds),
                about: about.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            };
            let path = Path::new(out).join(format!("thresholds-{target}.safetensors"));
            std::fs::write(&path, set.to_bytes()?).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {} ({:.0} s)", path.display(), started.elapsed().as_secs_f64());
        }
    }
    for schedule in &schedules {
        let mut last = None;
        let routers = lte::train(&llama, &stream, schedule, |r| {
            eprintln!(
                "eta {} stage {} step {:3}: loss {:.4} cross-entropy {:.4} sparsity {:.3} ({:.0} s)",
                schedule.efficiency,
                r.stage,
                r.step,
                r.loss,
                r.cross_entropy,
                r.sparsity,
                started.elapsed().as_secs_f64()
            );
            last = Some(r);
        })
        .map_err(|e| e.to_string())?;
        let last = last.ok_or("no steps were run")?;
        let set = lte::sparse_set(&grouping, routers, schedule, &last);
        let path = Path::new(out).join(format!("lte-eta{}.safetensors", schedule.efficiency));
        std::fs::write(&path, set.to_bytes()?).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
