//! Floating-point arithmetic that gives the same bits on every target. The CLI and the
//! page must write byte-identical plans from the same input, but the platform's maths
//! library and matrixmultiply's per-CPU kernels (FMA, other blockings) round
//! differently natively and in wasm. The estimates and the CPU training use these
//! instead: libm's portable functions, and a product that sums every output over the
//! inner index in increasing order (vectorised across outputs, never across the sum;
//! Rust never fuses a multiply and an add on its own).

use ndarray::{Array2, ArrayView2, LinalgScalar, Zip};

/// `e^x`, the same bits on every target.
pub fn exp(x: f32) -> f32 {
    libm::expf(x)
}

/// Natural logarithm, the same bits on every target.
pub fn ln(x: f32) -> f32 {
    libm::logf(x)
}

/// `x^y`, the same bits on every target.
pub fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// Output rows and columns one tile of [`matmul`] keeps in registers.
const TILE_ROWS: usize = 4;
const TILE_COLS: usize = 8;
/// Terms of the sum per pass over the rows (a block of `b` stays in the cache).
const INNER_BLOCK: usize = 256;

/// `a · b`: output `(i, j)` is `Σₖ a[i,k]·b[k,j]` summed for `k = 0, 1, …` in turn.
/// Tiles of 4 × 8 outputs accumulate in registers over the whole sum (vectorised across
/// the 8 columns); the output rows are split over the cores natively.
pub fn matmul(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    product(a, &Packed::new(b))
}

/// [`matmul`] in f64.
pub fn matmul_f64(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    product(a, &pack(b))
}

/// [`matmul`] with its right operand packed once for many left operands.
pub fn matmul_packed(a: ArrayView2<f32>, b: &Packed<f32>) -> Array2<f32> {
    product(a, b)
}

// The public functions are not generic, so the products are compiled here, with this
// crate's optimisation, whoever calls them.

/// The right operand of [`matmul_packed`], laid out once: tiles of 8 columns, padded
/// with zeros; column tile `t`, row `k` at `(t·inner + k)·8`.
pub struct Packed<T> {
    inner: usize,
    cols: usize,
    data: Vec<T>,
}

impl Packed<f32> {
    /// Packs `b` (`inner × cols`, any layout).
    pub fn new(b: ArrayView2<f32>) -> Self {
        pack(b)
    }
}

fn pack<T: LinalgScalar>(b: ArrayView2<T>) -> Packed<T> {
    let (inner, cols) = b.dim();
    let mut data = vec![T::zero(); cols.div_ceil(TILE_COLS) * inner * TILE_COLS];
    // Zip walks b in memory order (a transposed operand is column-major).
    Zip::indexed(b)
        .for_each(|(k, j), &v| data[((j / TILE_COLS) * inner + k) * TILE_COLS + j % TILE_COLS] = v);
    Packed { inner, cols, data }
}

fn product<T: LinalgScalar + Send + Sync>(a: ArrayView2<T>, b: &Packed<T>) -> Array2<T> {
    let (n, inner) = a.dim();
    assert_eq!(inner, b.inner, "matmul: {n}×{inner} by {}×{}", b.inner, b.cols);
    let m = b.cols;
    let mut out = Array2::<T>::zeros((n, m));
    if n == 0 || m == 0 || inner == 0 {
        return out;
    }
    let (col_tiles, packed_b) = (m.div_ceil(TILE_COLS), &b.data);
    // a read in place through its strides (a transposed operand is column-major).
    let in_place = a.strides().iter().all(|&s| s >= 0) && a.as_slice_memory_order().is_some();
    let a = if in_place { a.into() } else { a.as_standard_layout() };
    let a_data = a.as_slice_memory_order().expect("contiguous");
    let (row_stride, col_stride) = (a.strides()[0] as usize, a.strides()[1] as usize);
    let out_slice = out.as_slice_mut().expect("standard layout");
    crate::parallel::map_parts_mut(out_slice, m, TILE_ROWS * 16, |first, part| {
        let rows = part.len() / m;
        // Blocks of the sum in turn, so a block of b stays in cache across the rows; each
        // tile carries its partial sums from one block to the next, keeping the order.
        for k0 in (0..inner).step_by(INNER_BLOCK) {
            let k1 = (k0 + INNER_BLOCK).min(inner);
            for r0 in (0..rows).step_by(TILE_ROWS) {
                let tile_rows = TILE_ROWS.min(rows - r0);
                // Rows past the end repeat the tile's first row; their sums are dropped.
                let a_rows: [usize; TILE_ROWS] = std::array::from_fn(|r| {
                    (first + r0 + if r < tile_rows { r } else { 0 }) * row_stride + k0 * col_stride
                });
                for t in 0..col_tiles {
                    let tile_b = &packed_b[(t * inner + k0) * TILE_COLS..(t * inner + k1) * TILE_COLS];
                    let (c0, cols) = (t * TILE_COLS, TILE_COLS.min(m - t * TILE_COLS));
                    let mut acc = [[T::zero(); TILE_COLS]; TILE_ROWS];
                    for (r, acc_row) in acc.iter_mut().enumerate().take(tile_rows) {
                        let at = (r0 + r) * m + c0;
                        acc_row[..cols].copy_from_slice(&part[at..at + cols]);
                    }
                    tile(&mut acc, a_data, a_rows, col_stride, tile_b);
                    for (r, acc_row) in acc.iter().enumerate().take(tile_rows) {
                        let at = (r0 + r) * m + c0;
                        part[at..at + cols].copy_from_slice(&acc_row[..cols]);
                    }
                }
            }
        }
    });
    out
}

/// Adds `Σₖ a[rₒ + k·stride]·b[k][c]` to a tile of outputs (row `r` of `a` starting at
/// `a_rows[r]`), in order of `k`.
fn tile<T: LinalgScalar>(
    acc: &mut [[T; TILE_COLS]; TILE_ROWS],
    a: &[T],
    a_rows: [usize; TILE_ROWS],
    stride: usize,
    b: &[T],
) {
    for (k, b_k) in b.chunks_exact(TILE_COLS).enumerate() {
        let b_k: &[T; TILE_COLS] = b_k.try_into().expect("whole tile");
        let s: [T; TILE_ROWS] = std::array::from_fn(|r| a[a_rows[r] + k * stride]);
        for r in 0..TILE_ROWS {
            for c in 0..TILE_COLS {
                acc[r][c] = acc[r][c] + s[r] * b_k[c];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn matrix(rows: usize, cols: usize, seed: u32) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            let h = (i as u32 * 7919 + j as u32 * 104_729 + seed).wrapping_mul(2_654_435_761);
            (h >> 8) as f32 / (1 << 24) as f32 - 0.5
        })
    }

    /// The sum in increasing `k`, written out once.
    fn reference(a: &Array2<f32>, b: &Array2<f32>) -> Array2<f32> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            let mut s = 0.0f32;
            for k in 0..a.ncols() {
                s += a[[i, k]] * b[[k, j]];
            }
            s
        })
    }

    #[test]
    fn every_layout_sums_in_the_same_order() {
        let a = matrix(37, 19, 1);
        let b = matrix(19, 11, 2);
        let want = reference(&a, &b);
        assert_eq!(matmul(a.view(), b.view()), want);
        // A transposed operand walks the other loop order and must give the same bits.
        let at = a.t().to_owned();
        assert_eq!(matmul(at.t(), b.view()), want);
        let bt = b.t().to_owned();
        assert_eq!(matmul(a.view(), bt.t()), want);
        // Sums longer than one block carry their partial sums across blocks.
        let (a, b) = (matrix(9, 600, 3), matrix(600, 13, 4));
        assert_eq!(matmul(a.view(), b.view()), reference(&a, &b));
        let (a, b) = (matrix(37, 19, 1), matrix(19, 11, 2));
        // Agrees with ndarray's product to rounding.
        let close = a.dot(&b);
        assert!(want.iter().zip(&close).all(|(x, y)| (x - y).abs() < 1e-5));
    }

    #[test]
    fn empty_shapes() {
        assert_eq!(matmul(matrix(0, 3, 1).view(), matrix(3, 2, 2).view()).dim(), (0, 2));
        assert_eq!(matmul(matrix(2, 0, 1).view(), matrix(0, 2, 2).view()), Array2::<f32>::zeros((2, 2)));
        assert_eq!(matmul(matrix(2, 3, 1).view(), matrix(3, 0, 2).view()).dim(), (2, 0));
    }

    #[test]
    fn functions_match_std_to_rounding() {
        for x in [-3.5f32, 0.0, 0.25, 1.0, 9.0] {
            assert!((exp(x) - x.exp()).abs() <= x.exp() * 1e-6);
        }
        assert!((ln(7.0) - 7.0f32.ln()).abs() < 1e-6);
        assert!((pow(2.0, -0.35) - 2.0f64.powf(-0.35)).abs() < 1e-15);
    }
}
