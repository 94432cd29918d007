//! Work split over the machine's cores natively (scoped threads, one contiguous part
//! each) and run in one part on wasm32, where the page's worker has one thread. Each
//! part computes exactly what one thread would, and parts combine in order, so results
//! never depend on the number of cores.

use std::ops::Range;

/// Threads to use: the cores natively, 1 on wasm32.
fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// `0..len` cut into at most one part per thread, each at least `min_part` long.
fn parts(len: usize, min_part: usize) -> Vec<Range<usize>> {
    let count = threads().min(len / min_part.max(1)).max(1);
    (0..count).map(|p| p * len / count..(p + 1) * len / count).collect()
}

/// `f` over the parts of `0..len`, their results in order.
pub fn map_parts<T: Send>(len: usize, min_part: usize, f: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    let parts = parts(len, min_part);
    if parts.len() == 1 {
        return parts.into_iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let running: Vec<_> = parts.into_iter().map(|r| s.spawn(move || f(r))).collect();
        running.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
    })
}

/// `f(first, chunk)` over the parts of `data` (rows of `width` items; `first` is the
/// part's first row), their results in order.
pub fn map_parts_mut<D: Send, T: Send>(
    data: &mut [D],
    width: usize,
    min_rows: usize,
    f: impl Fn(usize, &mut [D]) -> T + Sync,
) -> Vec<T> {
    let rows = data.len() / width.max(1);
    let parts = parts(rows, min_rows);
    if parts.len() == 1 {
        return vec![f(0, data)];
    }
    let f = &f;
    std::thread::scope(|s| {
        let mut rest = data;
        let mut running = Vec::with_capacity(parts.len());
        for r in parts {
            let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(r.len() * width);
            rest = tail;
            running.push(s.spawn(move || f(r.start, chunk)));
        }
        running.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
    })
}

/// Dot product of two equally long slices, eight lanes at a time (vectorised by the
/// compiler; the lanes are added pairwise, so the order is fixed).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let quads = [lanes[0] + lanes[4], lanes[1] + lanes[5], lanes[2] + lanes[6], lanes[3] + lanes[7]];
    ((quads[0] + quads[2]) + (quads[1] + quads[3])) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_everything_once_in_order() {
        for len in [0, 1, 7, 1000, 1001] {
            let got: Vec<usize> = map_parts(len, 3, |r| r.collect::<Vec<_>>()).concat();
            assert_eq!(got, (0..len).collect::<Vec<_>>());
        }
        let mut data: Vec<u32> = vec![0; 2 * 501];
        let firsts = map_parts_mut(&mut data, 2, 10, |first, chunk| {
            for (i, v) in chunk.iter_mut().enumerate() {
                *v = (first * 2 + i) as u32;
            }
            first
        });
        assert_eq!(firsts[0], 0);
        assert_eq!(data, (0..1002).collect::<Vec<u32>>());
    }

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..67).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..67).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
        assert!((dot(&a, &b) as f64 - plain).abs() < 1e-5);
    }
}
