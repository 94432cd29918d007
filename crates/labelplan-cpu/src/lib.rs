//! labelplan-cpu: the CPU backend. Its kernels are written for clarity with ndarray;
//! they are the oracle the WebGPU kernels are tested against and the fallback where a
//! browser has no WebGPU.

use ndarray::ArrayView2;

/// L2 norm of each row of a row-major `rows × dim` matrix.
///
/// Sums in f64 so the result is the exactly rounded norm for the inputs we see; the GPU
/// twin sums in f32 and is compared within `labelplan_testkit::NORM_REL_TOL`.
pub fn row_norms(values: &[f32], rows: usize, dim: usize) -> Vec<f32> {
    let view = ArrayView2::from_shape((rows, dim), values).expect("values must hold rows × dim");
    view.rows()
        .into_iter()
        .map(|row| row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_of_known_rows() {
        let v = [3.0, 4.0, 0.0, 0.0, 1.0, 0.0];
        assert_eq!(row_norms(&v, 3, 2), vec![5.0, 0.0, 1.0]);
    }

    #[test]
    fn zero_rows_gives_empty() {
        assert!(row_norms(&[], 0, 4).is_empty());
    }
}
