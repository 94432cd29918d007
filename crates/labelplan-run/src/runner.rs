//! One plan on the chosen backend. A GPU can fail mid-plan (a device lost, a buffer the
//! browser refuses): the plan then reruns on the CPU and says so, rather than failing.

use std::sync::atomic::AtomicBool;

use labelplan_core::plan::{InputInfo, Plan, Settings};
use labelplan_core::{Backend, Dataset};
use labelplan_cpu::CpuBackend;
use labelplan_gpu::{GpuBackend, GpuContext};
use labelplan_select::context::Pause;
use labelplan_select::map::PoolMap;
use labelplan_select::{Engine, Progress, SelectError};

/// What to plan.
pub enum Work<'a> {
    /// The plan and the map of a dataset the caller keeps (the page's plan).
    Mapped(&'a Dataset),
    /// The plan alone (the page's comparison with another method).
    Plain(&'a Dataset),
    /// The plan alone, moving a large pool's vectors to the backend so the matrix is held
    /// once (the CLI; see [`Engine::run_taking`]).
    Taking(&'a mut Dataset),
}

/// A finished plan.
pub struct Planned {
    /// The plan, manifest included.
    pub plan: Plan,
    /// Its map ([`Work::Mapped`]; empty otherwise).
    pub map: PoolMap,
    /// How it ran, when the user should know: the GPU failed and the CPU reran it.
    pub note: Option<String>,
}

/// How a plan reports and stops.
pub struct Watch<'a> {
    /// Hears every stage.
    pub progress: &'a mut dyn FnMut(&Progress),
    /// Set by the user to stop at the next step.
    pub cancel: &'a AtomicBool,
    /// Awaited at every step (a browser worker's event loop; see [`Pause`]).
    pub pause: Option<Pause<'a>>,
}

async fn on<B: Backend>(
    backend: &B,
    work: &mut Work<'_>,
    info: InputInfo,
    settings: &Settings,
    watch: &mut Watch<'_>,
) -> Result<(Plan, PoolMap), SelectError> {
    let engine = match watch.pause {
        Some(pause) => Engine::new(backend).pausing(pause),
        None => Engine::new(backend),
    };
    let (progress, cancel) = (&mut *watch.progress, watch.cancel);
    match work {
        Work::Mapped(data) => engine.run_with_map(data, info, settings, progress, cancel).await,
        Work::Plain(data) => {
            Ok((engine.run(data, info, settings, progress, cancel).await?, PoolMap::default()))
        }
        Work::Taking(data) => {
            Ok((engine.run_taking(data, info, settings, progress, cancel).await?, PoolMap::default()))
        }
    }
}

/// Plans `work` on `gpu`, or on the CPU when there is none; a GPU failure reruns the plan
/// on the CPU with a note, unless the pool's vectors already went to the GPU
/// ([`Work::Taking`] of a large pool): then the error stands.
pub async fn plan(
    gpu: Option<&GpuContext>,
    mut work: Work<'_>,
    info: InputInfo,
    settings: &Settings,
    mut watch: Watch<'_>,
) -> Result<Planned, SelectError> {
    let Some(ctx) = gpu else {
        let (plan, map) = on(&CpuBackend, &mut work, info, settings, &mut watch).await?;
        return Ok(Planned { plan, map, note: None });
    };
    match on(&GpuBackend::new(ctx.clone()), &mut work, info.clone(), settings, &mut watch).await {
        Ok((plan, map)) => Ok(Planned { plan, map, note: None }),
        Err(SelectError::Backend(e)) if !matches!(&work, Work::Taking(data) if data.values.is_empty()) => {
            let (plan, map) = on(&CpuBackend, &mut work, info, settings, &mut watch).await?;
            Ok(Planned { plan, map, note: Some(format!("the GPU failed ({e}); this plan ran on the CPU")) })
        }
        Err(e) => Err(e),
    }
}
