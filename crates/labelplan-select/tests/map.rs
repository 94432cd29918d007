//! The 2-D map: its axes are the rows' two directions of largest spread.

use labelplan_core::backend::Backend;
use labelplan_cpu::CpuBackend;
use labelplan_select::map::pca_map;
use labelplan_testkit::random_matrix;
use pollster::block_on;

fn column(v: &[f32], width: usize, c: usize) -> Vec<f64> {
    v.iter().skip(c).step_by(width).map(|&x| x as f64).collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let var = |v: &[f64], m: f64| v.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
    cov / (var(a, ma) * var(b, mb)).sqrt()
}

#[test]
fn the_map_axes_follow_the_two_directions_of_largest_spread() {
    // Spread 3 along dim 0, 2 along dim 1, 0.1 along the 10 others; offset from 0.
    let (n, dim) = (500, 12);
    let x = random_matrix(1, n, dim);
    let scale = |d: usize| match d {
        0 => 3.0,
        1 => 2.0,
        _ => 0.1,
    };
    let values: Vec<f32> = (0..n * dim).map(|i| 1.0 + scale(i % dim) * x[i]).collect();
    let m = block_on(CpuBackend.upload(&values, n, dim)).expect("upload");
    let map = block_on(pca_map(&CpuBackend, &m, 0)).expect("map");
    assert_eq!(map.len(), 2 * n);
    for axis in 0..2 {
        let r = correlation(&column(&map, 2, axis), &column(&values, dim, axis));
        assert!(r.abs() > 0.99, "map axis {axis} against input dim {axis}: correlation {r}");
        let mean = column(&map, 2, axis).iter().sum::<f64>() / n as f64;
        assert!(mean.abs() < 1e-4, "axis {axis} is centred: mean {mean}");
    }
    let spread = |c| column(&map, 2, c).iter().map(|v| v * v).sum::<f64>();
    assert!(spread(0) > spread(1), "the first axis spreads most");
    // The same seed gives the same map.
    assert_eq!(block_on(pca_map(&CpuBackend, &m, 0)).expect("map"), map);
}
