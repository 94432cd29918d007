//! `labelplan plan`: read, plan, write the exports, print a summary.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use indicatif::{ProgressBar, ProgressStyle};
use labelplan_core::plan::{InputInfo, Manifest, Plan, Settings};
use labelplan_core::read::source::Unwatched;
use labelplan_core::read::{join_sidecar, open_path, read_path, read_sidecar, LoadOptions, SidecarJoin};
use labelplan_core::{write, Dataset};
use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_run::runner::Watch;
use labelplan_run::{choose, input_info, BackendPolicy, Source, Work};
use labelplan_select::Progress;

use crate::args::PlanArgs;

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// A file for the run layer to hash.
fn source(path: &Path) -> Result<Source<impl futures::io::AsyncRead + Unpin>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Source { name: file_name(path), reader: futures::io::AllowStdIo::new(std::io::BufReader::new(file)) })
}

fn load(args: &PlanArgs) -> Result<(Dataset, InputInfo), String> {
    let options = LoadOptions {
        drop_non_finite: args.drop_non_finite,
        array_name: args.array.clone(),
        ..LoadOptions::default()
    };
    let mut data = read_path(&args.input, &options).map_err(|e| e.to_string())?;
    let join = args.join_by.clone().map_or(SidecarJoin::RowOrder, SidecarJoin::ById);
    let sidecar = match &args.sidecar {
        None => None,
        Some(path) => {
            let input = open_path(path).map_err(|e| e.to_string())?;
            let table =
                futures::executor::block_on(read_sidecar(input, &Unwatched)).map_err(|e| e.to_string())?;
            join_sidecar(&mut data, table, &join).map_err(|e| e.to_string())?;
            Some((source(path)?, &join))
        }
    };
    let info = input_info(&data, source(&args.input)?, &options, sidecar, &Unwatched);
    let info = futures::executor::block_on(info).map_err(|e| e.to_string())?;
    Ok((data, info))
}

/// The manifest in a plan.json or a bare manifest file.
fn read_manifest(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Manifest::from_json(&path.display().to_string(), &text)
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:24} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("a valid template"),
    );
    bar
}

fn write_outputs(dir: &Path, plan: &Plan, data: &Dataset) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for export in write::Export::ALL {
        let path = dir.join(export.file_name());
        std::fs::write(&path, export.write(plan, data)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn summary(plan: &Plan, backend_why: &str, dir: &Path) {
    let c = &plan.clustering;
    println!(
        "{}: {} rows × {} dims, {} already labeled; {} pseudo-label clusters ({})",
        plan.manifest.input.name, plan.pool, plan.manifest.input.dim, plan.labeled, c.k, c.chosen_by
    );
    let (_, hi) = plan.manifest.settings.cluster_range;
    if c.chosen_by == "silhouette" && c.k == hi {
        println!("note: K = {hi} is the top of --cluster-range; the data may have more clusters (try a wider range)");
    }
    println!("method {}, backend {} ({backend_why})", plan.manifest.settings.method, plan.manifest.backend);
    println!(
        "{:>10} {:>7} {:>10} {:>8} {:>12} {:>9}",
        "budget", "items", "cost", "hours", "mean dist", "share"
    );
    for b in &plan.budgets {
        println!(
            "{:>10} {:>7} {:>10.2} {:>8.1} {:>12.3} {:>9}",
            b.budget.to_string(),
            b.count,
            b.cost,
            b.hours,
            b.coverage.mean_distance,
            write::share_text(b.share)
        );
        for s in &b.shortfall {
            println!("{:>10} shortfall: {} has {} of {} asked", "", s.value, s.picked, s.target.unwrap_or(0));
        }
    }
    println!("({})", write::SHARE_MEANING);
    for line in write::readings(plan) {
        println!("{line}");
    }
    println!("{}", write::estimate_note(plan));
    println!("wrote {}/{{plan.json, ranked.csv, selected_ids.txt, labelstudio.json}}", dir.display());
}

/// The GPU to run on (`None`: the CPU) as `policy` chooses, and why.
fn backend(policy: BackendPolicy) -> Result<(Option<GpuContext>, String), String> {
    if policy == BackendPolicy::Cpu {
        return Ok((None, "the CPU was chosen with --backend cpu".into()));
    }
    // Mesa's device-select Vulkan layer prints a Wayland error on a headless machine
    // (no XDG_RUNTIME_DIR); it only orders adapters, which wgpu does itself.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() && std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    let gpu = futures::executor::block_on(GpuContext::new(GpuOptions::default())).map_err(|e| e.to_string());
    let choice = futures::executor::block_on(choose(policy, gpu.as_ref().map_err(String::as_str), &mut None))
        .map_err(|e| format!("--backend {policy}: {e}; use --backend cpu or auto"))?;
    Ok((gpu.ok().filter(|_| choice.on_gpu), choice.why))
}

/// The backend for a plan: with a manifest and no `--backend`, the kind the manifest's
/// plan ran on (the auto probe, timed, could choose the other under load, and the
/// manifest names its backend: the replay would not be the same bytes); a GPU plan
/// replayed where there is none runs as `auto` chooses, with a note.
fn replay_backend(
    policy: BackendPolicy,
    recorded: Option<&str>,
) -> Result<(Option<GpuContext>, String), String> {
    let Some(recorded) = recorded.filter(|_| policy == BackendPolicy::Auto) else {
        return backend(policy);
    };
    let same = if recorded.starts_with("GPU") { BackendPolicy::Gpu } else { BackendPolicy::Cpu };
    match backend(same) {
        Ok((gpu, _)) => Ok((gpu, format!("the manifest's plan ran on {recorded}"))),
        Err(e) => {
            eprintln!("note: the manifest's plan ran on {recorded}, and here {e}");
            backend(BackendPolicy::Auto)
        }
    }
}

/// Plans on `gpu` (the CPU when `None`) with a progress bar.
fn plan_on(
    gpu: Option<&GpuContext>,
    data: &mut Dataset,
    info: InputInfo,
    settings: &Settings,
) -> Result<Plan, String> {
    let bar = progress_bar();
    let mut on_progress = |p: &Progress| {
        bar.set_message(p.stage.clone());
        bar.set_length(p.total.max(1));
        bar.set_position(p.done);
    };
    let cancel = AtomicBool::new(false);
    let watch = Watch { progress: &mut on_progress, cancel: &cancel, pause: None };
    // The engine takes a large pool's vectors (held once); the outputs need only ids.
    let planned =
        futures::executor::block_on(labelplan_run::plan(gpu, Work::Taking(data), info, settings, watch));
    bar.finish_and_clear();
    let planned = planned.map_err(|e| e.to_string())?;
    if let Some(note) = planned.note {
        eprintln!("note: {note}");
    }
    Ok(planned.plan)
}

/// Runs `labelplan plan`.
pub fn run(args: PlanArgs) -> Result<(), String> {
    let (mut data, info) = load(&args)?;
    let mut recorded = None;
    let settings = match &args.manifest {
        Some(path) => {
            let given = args.settings.given();
            if !given.is_empty() {
                return Err(format!(
                    "--manifest reproduces a plan with its own settings; drop {}",
                    given.join(", ")
                ));
            }
            let manifest = read_manifest(path)?;
            manifest.check_input(&info)?;
            recorded = Some(manifest.backend);
            manifest.settings
        }
        None => args.settings.settings(),
    };
    let (gpu, why) = replay_backend(args.backend, recorded.as_deref())?;
    let plan = plan_on(gpu.as_ref(), &mut data, info, &settings)?;
    write_outputs(&args.out, &plan, &data)?;
    summary(&plan, &why, &args.out);
    Ok(())
}
