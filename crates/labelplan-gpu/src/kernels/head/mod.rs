//! Proxy-head training on the GPU: gather with seeded input noise, dense forward,
//! softmax cross-entropy with the per-item AUM / EL2N / forgetting / entropy / loss
//! accumulators, backward and the SGD step. A whole epoch is one submission; only the
//! head's weights come back. CPU twin: `CpuBackend::{train_epoch, record_predictions}`.

use labelplan_core::backend::{Head, HeadStep, Record, EL2N_EPOCHS};

use crate::kernels::{per_storage_sources, Kernel, PerStorage, WORKGROUP};
use crate::matrix::GpuMatrix;
use crate::{GpuContext, GpuError};

const COMMON: &str = include_str!("common.wgsl");
/// Reads the points (f32 or f16: compiled for each).
const GATHER: &str = include_str!("gather.wgsl");
/// Read only the head's own f32 buffers.
const PARTS: [(&str, &str); 5] = [
    ("head/forward", include_str!("forward.wgsl")),
    ("head/softmax", include_str!("softmax.wgsl")),
    ("head/backward", include_str!("backward.wgsl")),
    ("head/update", include_str!("update.wgsl")),
    ("head/advance", include_str!("advance.wgsl")),
];

/// Rows per batch when only predicting.
const PREDICT_BATCH: usize = 1024;

/// The full WGSL of each head kernel (common part first): the gather for each storage
/// of the points, then the rest.
pub fn sources() -> Vec<(String, String)> {
    let mut all = per_storage_sources("head/gather", &["x"], &gather_source());
    all.extend(PARTS.iter().map(|(name, body)| (name.to_string(), format!("{COMMON}\n{body}"))));
    all
}

fn gather_source() -> String {
    format!("{COMMON}\n{GATHER}")
}

/// The head pipelines.
#[derive(Debug)]
pub(crate) struct Kernels {
    gather: PerStorage,
    forward: Kernel,
    softmax: Kernel,
    backward: Kernel,
    update: Kernel,
    advance: Kernel,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        let mut compiled = PARTS
            .iter()
            .map(|(label, body)| Kernel::new(device, label, &format!("{COMMON}\n{body}"), "main"));
        let mut next = || compiled.next().expect("one source per head kernel");
        Kernels {
            gather: PerStorage::new(device, "head/gather", &["x"], &gather_source(), "main"),
            forward: next(),
            softmax: next(),
            backward: next(),
            update: next(),
            advance: next(),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Train {
    count: u32,
    batch: u32,
    dim: u32,
    dim4: u32,
    classes: u32,
    mode: u32,
    epoch: u32,
    el2n_epochs: u32,
    items: u32,
    learning_rate: f32,
    noise_std: f32,
    seed_lo: u32,
    seed_hi: u32,
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LayerParams {
    inputs: u32,
    outputs: u32,
    relu: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TileParams {
    first: u32,
    rows: u32,
}

/// Training state on the GPU: the labels and the per-item accumulators.
#[derive(Debug)]
pub struct GpuTraining {
    labels: wgpu::Buffer,
    /// `[aum | el2n | forgetting | entropy | loss]`, `items` each.
    stats: wgpu::Buffer,
    /// Per item: 0 unseen, 1 correct, 2 wrong at the last record.
    last: wgpu::Buffer,
    items: usize,
    classes: usize,
}

/// Starts training: uploads the labels, zeroes the accumulators.
pub async fn start(
    ctx: &GpuContext,
    points: &GpuMatrix,
    labels: &[u32],
    classes: usize,
) -> Result<GpuTraining, GpuError> {
    let n = points.rows;
    if labels.len() != n || labels.iter().any(|&l| l as usize >= classes) {
        return Err(GpuError::Shape {
            op: "start_training",
            rows: n,
            dim: points.dim,
            message: format!("{} labels below {classes} wanted", labels.len()),
        });
    }
    ctx.scoped("start_training", || GpuTraining {
        labels: ctx.storage("labels", bytemuck::cast_slice(labels)),
        stats: ctx.storage("item stats", bytemuck::cast_slice(&vec![0.0f32; 5 * n])),
        last: ctx.storage("last correct", bytemuck::cast_slice(&vec![0u32; n])),
        items: n,
        classes,
    })
    .await
}

/// What one pass over `order` does.
struct Pass<'a> {
    order: &'a [u32],
    batch: usize,
    step: HeadStep,
    /// 0 no record, 1 epoch, 2 final.
    mode: u32,
    epoch: usize,
    /// Whether to step the optimizer (training) or only predict.
    learn: bool,
}

/// One epoch of SGD; see `Backend::train_epoch`.
#[allow(clippy::too_many_arguments)] // the trait's arguments
pub async fn train_epoch(
    ctx: &GpuContext,
    t: &mut GpuTraining,
    points: &GpuMatrix,
    head: &mut Head,
    order: &[u32],
    batch: usize,
    step: HeadStep,
    record: Option<usize>,
) -> Result<(), GpuError> {
    let pass = Pass {
        order,
        batch: batch.max(1),
        step,
        mode: record.map_or(0, |_| 1),
        epoch: record.unwrap_or(0),
        learn: true,
    };
    run(ctx, t, points, head, pass).await
}

/// Records predictions of `rows`; see `Backend::record_predictions`.
pub async fn record_predictions(
    ctx: &GpuContext,
    t: &mut GpuTraining,
    points: &GpuMatrix,
    head: &Head,
    rows: &[u32],
    at: Record,
) -> Result<(), GpuError> {
    let (mode, epoch) = match at {
        Record::Epoch(e) => (1, e),
        Record::Final => (2, 0),
    };
    let quiet = HeadStep { learning_rate: 0.0, noise_std: 0.0, noise_seed: 0 };
    let pass = Pass { order: rows, batch: PREDICT_BATCH, step: quiet, mode, epoch, learn: false };
    let mut head = head.clone();
    run(ctx, t, points, &mut head, pass).await
}

/// Reads the accumulators back.
pub async fn stats(
    ctx: &GpuContext,
    t: &GpuTraining,
) -> Result<labelplan_core::backend::ItemStats, GpuError> {
    let n = t.items;
    let all = ctx.read_f32(&t.stats, 5 * n as u64 * 4).await?;
    let part = |i: usize| all[i * n..(i + 1) * n].to_vec();
    Ok(labelplan_core::backend::ItemStats {
        aum: part(0),
        el2n: part(1),
        forgetting: part(2),
        entropy: part(3),
        loss: part(4),
    })
}

/// Records every minibatch of `pass` into one submission and, when learning, reads the
/// updated weights back into `head`.
async fn run(
    ctx: &GpuContext,
    t: &mut GpuTraining,
    points: &GpuMatrix,
    head: &mut Head,
    pass: Pass<'_>,
) -> Result<(), GpuError> {
    if pass.order.is_empty() {
        return Ok(());
    }
    let shape =
        |message: String| GpuError::Shape { op: "proxy head", rows: points.rows, dim: points.dim, message };
    if head.layers.first().map(|l| l.inputs) != Some(points.dim) || head.classes() != t.classes {
        return Err(shape(format!("a head for {} dims and {} classes", points.dim, t.classes)));
    }
    let k = &ctx.pipelines.head;
    let dev = &ctx.device;
    let rows = pass.batch.min(pass.order.len());
    let batches = pass.order.len().div_ceil(pass.batch);
    let seed = pass.step.noise_seed;
    let train = Train {
        count: pass.order.len() as u32,
        batch: pass.batch as u32,
        dim: points.dim as u32,
        dim4: (points.dim4().max(4) / 4) as u32,
        classes: t.classes as u32,
        mode: pass.mode,
        epoch: pass.epoch as u32,
        el2n_epochs: EL2N_EPOCHS as u32,
        items: t.items as u32,
        learning_rate: pass.step.learning_rate,
        noise_std: pass.step.noise_std,
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
        _pad: [0; 3],
    };
    let layers = head.layers.len();
    let (weights, biases) = ctx
        .scoped("proxy head", || {
            let order = ctx.storage("order", bytemuck::cast_slice(pass.order));
            let cursor = ctx.storage("cursor", bytemuck::bytes_of(&0u32));
            let train_u = ctx.uniform(&train);
            let weights: Vec<wgpu::Buffer> = head
                .layers
                .iter()
                .map(|l| ctx.storage("weights", bytemuck::cast_slice(&l.weights)))
                .collect();
            let biases: Vec<wgpu::Buffer> =
                head.layers.iter().map(|l| ctx.storage("bias", bytemuck::cast_slice(&l.bias))).collect();
            // acts[l]: the input of layer l (acts[layers] = logits); grads[l]: the
            // gradient at the output of layer l.
            let widths: Vec<usize> =
                std::iter::once(points.dim).chain(head.layers.iter().map(|l| l.outputs)).collect();
            let acts: Vec<wgpu::Buffer> = widths
                .iter()
                .map(|w| ctx.storage("activations", bytemuck::cast_slice(&vec![0.0f32; rows * w])))
                .collect();
            let grads: Vec<wgpu::Buffer> = widths[1..]
                .iter()
                .map(|w| ctx.storage("gradients", bytemuck::cast_slice(&vec![0.0f32; rows * w])))
                .collect();
            let layer_u: Vec<wgpu::Buffer> = head
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    ctx.uniform(&LayerParams {
                        inputs: l.inputs as u32,
                        outputs: l.outputs as u32,
                        relu: (i + 1 < layers) as u32,
                        _pad: 0,
                    })
                })
                .collect();
            let gathers: Vec<wgpu::BindGroup> = points
                .tiles
                .iter()
                .map(|tile| {
                    let tile_u =
                        ctx.uniform(&TileParams { first: tile.first as u32, rows: tile.rows as u32 });
                    k.gather
                        .on(&[points.storage])
                        .bind(dev, &[&tile.buffer, &order, &cursor, &acts[0], &train_u, &tile_u])
                })
                .collect();
            let forwards: Vec<wgpu::BindGroup> = (0..layers)
                .map(|l| {
                    k.forward.bind(
                        dev,
                        &[&acts[l], &weights[l], &biases[l], &acts[l + 1], &cursor, &train_u, &layer_u[l]],
                    )
                })
                .collect();
            let softmax = k.softmax.bind(
                dev,
                &[&acts[layers], &grads[layers - 1], &order, &t.labels, &t.stats, &t.last, &cursor, &train_u],
            );
            let backwards: Vec<Option<wgpu::BindGroup>> = (0..layers)
                .map(|l| {
                    (l > 0).then(|| {
                        k.backward.bind(
                            dev,
                            &[
                                &grads[l],
                                &weights[l],
                                &acts[l],
                                &grads[l - 1],
                                &cursor,
                                &train_u,
                                &layer_u[l],
                            ],
                        )
                    })
                })
                .collect();
            let updates: Vec<wgpu::BindGroup> = (0..layers)
                .map(|l| {
                    k.update.bind(
                        dev,
                        &[&acts[l], &grads[l], &weights[l], &biases[l], &cursor, &train_u, &layer_u[l]],
                    )
                })
                .collect();
            let advance = k.advance.bind(dev, &[&cursor]);
            let groups = |threads: usize| (threads as u32).div_ceil(WORKGROUP);
            let max = ctx.max_workgroups();
            let mut enc = ctx.encoder();
            for _ in 0..batches {
                for g in &gathers {
                    k.gather.on(&[points.storage]).dispatch(&mut enc, g, groups(rows * points.dim), max);
                }
                for (l, f) in forwards.iter().enumerate() {
                    k.forward.dispatch(&mut enc, f, groups(rows * widths[l + 1]), max);
                }
                k.softmax.dispatch(&mut enc, &softmax, groups(rows), max);
                if pass.learn {
                    for l in (0..layers).rev() {
                        if let Some(b) = &backwards[l] {
                            k.backward.dispatch(&mut enc, b, groups(rows * widths[l]), max);
                        }
                        k.update.dispatch(
                            &mut enc,
                            &updates[l],
                            groups((widths[l] + 1) * widths[l + 1]),
                            max,
                        );
                    }
                }
                k.advance.dispatch(&mut enc, &advance, 1, max);
            }
            ctx.queue.submit([enc.finish()]);
            (weights, biases)
        })
        .await?;
    if pass.learn {
        // Every layer's weights and bias in one map.
        let parts: Vec<(&wgpu::Buffer, u64, u64)> = head
            .layers
            .iter()
            .zip(weights.iter().zip(&biases))
            .flat_map(|(l, (w, b))| [(w, 0, l.weights.len() as u64 * 4), (b, 0, l.bias.len() as u64 * 4)])
            .collect();
        let mut read = ctx.read_parts(ctx.encoder(), &parts).await?.into_iter();
        for layer in head.layers.iter_mut() {
            layer.weights = bytemuck::pod_collect_to_vec(&read.next().expect("weights"));
            layer.bias = bytemuck::pod_collect_to_vec(&read.next().expect("bias"));
        }
    }
    Ok(())
}
