//! The PCA map: every row projected on the two leading principal directions
//! of the rows, found by a few block power iterations from a seeded random projection.
//! The products over all rows run on the backend — `X·V` as similarities against the two
//! direction rows (`dot`), `Xᵀ·U` as weighted row sums — so a GPU does them; the host
//! centres and orthonormalises 2 × dim numbers.

use labelplan_core::backend::Backend;
use rand::Rng;

use crate::error::Result;
use crate::rng::stream;

/// Power iterations after the random start: enough for a picture when the leading
/// directions stand apart; the map does not need them to the last digit.
pub const MAP_ITERATIONS: usize = 8;

/// Map coordinates of every row, `rows × 2` row-major, centred on the mean row. Each
/// axis is oriented so its direction's largest-magnitude entry is positive.
pub async fn pca_map<B: Backend>(backend: &B, points: &B::Matrix, seed: u64) -> Result<Vec<f32>> {
    let (n, dim) = backend.shape(points);
    if n == 0 {
        return Ok(Vec::new());
    }
    let sums = backend.weighted_sums(points, &vec![1.0; n], 1).await?;
    let mean: Vec<f32> = sums.iter().map(|s| s / n as f32).collect();
    let mut rng = stream(seed, "map");
    let mut dirs: Vec<f32> = (0..2 * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    orthonormalize(&mut dirs, dim);
    for _ in 0..MAP_ITERATIONS {
        let u = centred_projection(backend, points, &dirs, &mean).await?;
        // (X − 1μᵀ)ᵀu = Xᵀu − μ·Σu, per direction.
        let mut next = backend.weighted_sums(points, &u, 2).await?;
        for c in 0..2 {
            let total = u.iter().skip(c).step_by(2).map(|&v| v as f64).sum::<f64>() as f32;
            next[c * dim..(c + 1) * dim].iter_mut().zip(&mean).for_each(|(w, m)| *w -= m * total);
        }
        dirs = next;
        orthonormalize(&mut dirs, dim);
    }
    for axis in dirs.chunks_mut(dim.max(1)) {
        let largest = axis.iter().copied().fold(0.0f32, |a, v| if v.abs() > a.abs() { v } else { a });
        if largest < 0.0 {
            axis.iter_mut().for_each(|v| *v = -*v);
        }
    }
    centred_projection(backend, points, &dirs, &mean).await
}

/// `(X − 1μᵀ)·V` for the two direction rows of `dirs`: `rows × 2`, row-major.
async fn centred_projection<B: Backend>(
    backend: &B,
    points: &B::Matrix,
    dirs: &[f32],
    mean: &[f32],
) -> Result<Vec<f32>> {
    let dim = mean.len();
    let v = backend.upload(dirs, 2, dim).await?;
    let xv = backend.dot(points, &v).await?;
    let shift = [dot(mean, &dirs[..dim]), dot(mean, &dirs[dim..])];
    Ok(xv.chunks(2).flat_map(|p| [p[0] - shift[0], p[1] - shift[1]]).collect())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>() as f32
}

/// Gram–Schmidt on the two `dim`-long rows of `dirs`; a row with nothing left becomes 0.
fn orthonormalize(dirs: &mut [f32], dim: usize) {
    let (first, second) = dirs.split_at_mut(dim);
    scale_to_unit(first);
    let along = dot(first, second);
    second.iter_mut().zip(first.iter()).for_each(|(s, f)| *s -= along * f);
    scale_to_unit(second);
}

fn scale_to_unit(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    let factor = if norm > 1e-12 { 1.0 / norm } else { 0.0 };
    v.iter_mut().for_each(|x| *x *= factor);
}
