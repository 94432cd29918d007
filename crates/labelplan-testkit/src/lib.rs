//! Test helpers shared by labelplan's crates: where the fixtures live and the named
//! tolerances GPU results are compared with.

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// Relative tolerance for L2 norms computed in f32 by different summation orders.
pub const NORM_REL_TOL: f32 = 1e-5;

/// A seeded `rows × dim` matrix of values in [-1, 1), row-major.
pub fn random_matrix(seed: u64, rows: usize, dim: usize) -> Vec<f32> {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..rows * dim).map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0).collect()
}

/// A seeded `rows × dim` set of `centers` noisy blobs (row `i` belongs to blob
/// `i % centers`; noise is uniform in ±`spread` per value), row-major. For benchmarks.
pub fn blobs(seed: u64, rows: usize, dim: usize, centers: usize, spread: f32) -> Vec<f32> {
    let middles = random_matrix(seed, centers, dim);
    let mut values = random_matrix(seed + 1, rows, dim);
    for (i, row) in values.chunks_mut(dim).enumerate() {
        let c = &middles[(i % centers) * dim..(i % centers + 1) * dim];
        row.iter_mut().zip(c).for_each(|(v, c)| *v = c + spread * *v);
    }
    values
}

/// Whether `got` equals `want` within relative tolerance `rel` (absolute near zero).
pub fn close(got: f32, want: f32, rel: f32) -> bool {
    (got - want).abs() <= rel * want.abs().max(1.0)
}

/// Writes a seeded `rows × dim` float32 `.npy` (C order) to `path`, streaming row blocks,
/// unless a file of the right size is already there. For benchmarks.
pub fn write_npy_f32(path: &std::path::Path, rows: usize, dim: usize, seed: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let total = (10 + header.len() + rows * dim * 4) as u64;
    if std::fs::metadata(path).is_ok_and(|m| m.len() == total) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    let block = 4096;
    for (i, start) in (0..rows).step_by(block).enumerate() {
        let n = block.min(rows - start);
        for v in random_matrix(seed + i as u64, n, dim) {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.flush()
}

/// A version-1 `.npy` whose header declares `descr` and `shape` (e.g. `"(100, 64)"`,
/// whatever `data` holds), followed by `data`: for honest files and for lying ones.
pub fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// Writes a row-major `rows × dim` float32 matrix as a C-order `.npy` file.
pub fn write_npy_values(
    path: &std::path::Path,
    values: &[f32],
    rows: usize,
    dim: usize,
) -> std::io::Result<()> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, npy_bytes("<f4", &format!("({rows}, {dim})"), &data))
}

/// Absolute tolerance for dot products of unit vectors summed in f32 in different
/// orders (GPU tiles vs CPU gemm), up to a few hundred dims.
pub const SIM_ABS_TOL: f32 = 2e-5;

/// Absolute tolerance between 2-D map coordinates (of unit rows) computed by the same
/// power iterations on two backends: f32 products in other orders, through 8 steps
/// (measured 1.5e-7 on digits, lavapipe against the CPU).
pub const MAP_ABS_TOL: f32 = 1e-5;

/// Absolute tolerance between map layout positions (spread over ±10) after a few epochs
/// on two backends: the same f32 operations, but a GPU may fuse a multiply-add or round
/// a division differently, and each epoch feeds the next (measured 8.3e-6 after 4
/// epochs of 300 rows, lavapipe against the CPU).
pub const LAYOUT_ABS_TOL: f32 = 1e-4;

/// Absolute tolerance between a dot product of unit vectors stored as f16 (each value
/// rounded, relative error ≤ 2⁻¹¹) and the same product in f32: the rounding moves it by
/// at most about 2·2⁻¹¹·Σ|aᵢbᵢ| ≤ 9.8e-4 (Cauchy–Schwarz), plus f32 summation noise.
pub const HALF_SIM_ABS_TOL: f32 = 1.5e-3;

/// Relative tolerance for sums over many rows (segment sums) in different orders.
pub const SUM_REL_TOL: f32 = 1e-4;

/// Relative tolerance for proxy-head weights and per-item statistics after a few
/// epochs: float differences (GPU `log`/`cos` in the noise, summation order) grow
/// through training.
pub const HEAD_REL_TOL: f32 = 2e-3;

/// What two plans must share to pick "the same items": each budget's rows and the
/// ranked list. Committed for the app's sample so the browser's GPU plan can be
/// compared with the native CPU plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplePlan {
    /// Rows picked for each budget, in budget order.
    pub budgets: Vec<Vec<u32>>,
    /// The ranked list.
    pub ranked: Vec<u32>,
}

/// A `.safetensors` file: the JSON `header` (whatever it declares) and `data`.
pub fn safetensors_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// An `.npz` holding `member` (the bytes of an npy) deflated as `x.npy`.
pub fn npz_bytes(member: &[u8]) -> Vec<u8> {
    use async_zip::base::write::ZipFileWriter;
    use async_zip::{Compression, ZipEntryBuilder};
    futures::executor::block_on(async {
        let mut zip = ZipFileWriter::new(futures::io::Cursor::new(Vec::new()));
        let entry = ZipEntryBuilder::new("x.npy".to_string().into(), Compression::Deflate);
        zip.write_entry_whole(entry, member).await.expect("deflate in memory");
        zip.close().await.expect("close in memory").into_inner()
    })
}
