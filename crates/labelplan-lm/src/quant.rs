//! Tensor element types: their ggml ids, names and block layouts, and dequantisation of
//! the ones labelplan computes with. Quantised types store `BLOCK` consecutive values of
//! a row in one block of bytes.

use std::array::from_fn;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;

use half::f16;

/// A ggml tensor type, by its id in the GGUF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 4-byte floats.
    F32,
    /// IEEE half floats.
    F16,
    /// Blocks of 32: f16 scale `d`, then 32 signed bytes; value = q·d.
    Q8_0,
    /// Blocks of 32: f16 scale `d`, f16 minimum `m`, 16 bytes of nibbles (low nibble =
    /// element j, high = j + 16); value = q·d + m.
    Q4_1,
    /// A type this crate knows the layout of but does not compute with (its name, and
    /// values and bytes per block).
    Other(u32, &'static str, u64, u64),
}

/// Layouts of the ggml types a GGUF may hold: id, name, values per block, bytes per block.
const LAYOUTS: [(u32, &str, u64, u64); 20] = [
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (30, "BF16", 1, 2),
];

impl DType {
    /// The type with ggml id `id`, if its layout is known.
    pub fn from_id(id: u32) -> Option<DType> {
        let &(_, name, block, bytes) = LAYOUTS.iter().find(|l| l.0 == id)?;
        Some(match id {
            0 => DType::F32,
            1 => DType::F16,
            8 => DType::Q8_0,
            3 => DType::Q4_1,
            _ => DType::Other(id, name, block, bytes),
        })
    }

    /// ggml's name for it.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::Q8_0 => "Q8_0",
            DType::Q4_1 => "Q4_1",
            DType::Other(_, name, ..) => name,
        }
    }

    /// Values per block and bytes per block.
    pub fn block(self) -> (u64, u64) {
        match self {
            DType::F32 => (1, 4),
            DType::F16 => (1, 2),
            DType::Q8_0 => (32, 34),
            DType::Q4_1 => (32, 20),
            DType::Other(_, _, values, bytes) => (values, bytes),
        }
    }

    /// Whether this crate computes with it.
    pub fn is_supported(self) -> bool {
        !matches!(self, DType::Other(..))
    }
}

/// The little-endian f16 at `bytes[at..at + 2]`, as f32 (a block's scale or minimum).
/// The same value as `half`'s conversion, without its branches or call: either stops
/// the compiler from vectorising the products around it. The exponent and mantissa
/// shifted into an f32's places and multiplied by 2^112 re-bias exactly (subnormals
/// included); infinities and NaNs take the top exponent.
#[inline(always)]
pub(crate) fn half(bytes: &[u8], at: usize) -> f32 {
    let h = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as u32;
    let magnitude = (h & 0x7fff) << 13;
    let finite = (f32::from_bits(magnitude) * f32::from_bits(0x7780_0000)).to_bits();
    let bits = if h & 0x7c00 == 0x7c00 { magnitude | 0x7f80_0000 } else { finite };
    f32::from_bits(bits | (h & 0x8000) << 16)
}

/// Dequantises `bytes` of type `dtype` (a whole number of blocks) into `out`, which holds
/// one value per element. Panics on a length mismatch or an unsupported type (callers
/// check both when the file is read).
pub fn dequantize(dtype: DType, bytes: &[u8], out: &mut [f32]) {
    let (values, size) = dtype.block();
    assert_eq!(
        bytes.len() as u64 * values,
        out.len() as u64 * size,
        "{} bytes for {} values",
        bytes.len(),
        out.len()
    );
    match dtype {
        DType::F32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        DType::F16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        DType::Q8_0 => {
            for (o, b) in out.chunks_exact_mut(32).zip(bytes.chunks_exact(34)) {
                let d = half(b, 0);
                for (v, &q) in o.iter_mut().zip(&b[2..]) {
                    *v = q as i8 as f32 * d;
                }
            }
        }
        DType::Q4_1 => {
            for (o, b) in out.chunks_exact_mut(32).zip(bytes.as_chunks::<20>().0) {
                let (d, m) = (half(b, 0), half(b, 2));
                for (v, q) in o.iter_mut().zip(q4_1_integers(b)) {
                    *v = q as f32 * d + m;
                }
            }
        }
        DType::Other(_, name, ..) => panic!("{name} is not a type labelplan computes with"),
    }
}

/// Stores `values` (a whole number of blocks) as `dtype`, the inverse of [`dequantize`]
/// up to the type's rounding: Q8_0 with `d = max|x|/127`, Q4_1 with `m` the block's
/// minimum and `d` its range over 15. Integers are rounded against the f16 scale and
/// minimum as stored, so the rounding error is that of the stored grid. Panics on an
/// unsupported type or a length that is not a whole number of blocks.
pub fn quantize(dtype: DType, values: &[f32]) -> Vec<u8> {
    let (per, size) = dtype.block();
    assert!(
        (values.len() as u64).is_multiple_of(per),
        "{} values are not whole blocks of {per}",
        values.len()
    );
    let mut out = Vec::with_capacity(values.len() / per as usize * size as usize);
    match dtype {
        DType::F32 => values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        DType::F16 => values.iter().for_each(|v| out.extend_from_slice(&f16::from_f32(*v).to_le_bytes())),
        DType::Q8_0 => {
            for block in values.chunks_exact(32) {
                let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = f16::from_f32(amax / 127.0);
                let inverse = if d.to_f32() != 0.0 { 1.0 / d.to_f32() } else { 0.0 };
                out.extend_from_slice(&d.to_le_bytes());
                out.extend(block.iter().map(|v| (v * inverse).round().clamp(-127.0, 127.0) as i8 as u8));
            }
        }
        DType::Q4_1 => {
            for block in values.chunks_exact(32) {
                let (lo, hi) =
                    block.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                let (d, m) = (f16::from_f32((hi - lo) / 15.0), f16::from_f32(lo));
                let inverse = if d.to_f32() != 0.0 { 1.0 / d.to_f32() } else { 0.0 };
                let q: [u8; 32] =
                    from_fn(|j| ((block[j] - m.to_f32()) * inverse).round().clamp(0.0, 15.0) as u8);
                out.extend_from_slice(&d.to_le_bytes());
                out.extend_from_slice(&m.to_le_bytes());
                out.extend((0..16).map(|j| q[j] | q[j + 16] << 4));
            }
        }
        DType::Other(_, name, ..) => panic!("{name} is not a type labelplan computes with"),
    }
    out
}

/// A Q4_1 block's 32 integers in element order (low nibbles are elements 0–15, high
/// ones 16–31). The two halves are made as arrays of their own first: in this form the
/// products around it vectorise, written as one step they did not (2× slower).
#[inline(always)]
pub(crate) fn q4_1_integers(block: &[u8; 20]) -> [u8; 32] {
    let low: [u8; 16] = from_fn(|j| block[4 + j] & 0x0f);
    let high: [u8; 16] = from_fn(|j| block[4 + j] >> 4);
    from_fn(|j| if j < 16 { low[j] } else { high[j - 16] })
}

/// Sums of each block of 32 of `x`: Q4_1's minimum multiplies them, the same for every
/// row, so an exact product computes them once.
pub fn block_sums(x: &[f32]) -> Vec<f32> {
    x.chunks_exact(32).map(|c| c.iter().sum()).collect()
}

/// `q · x` for one block of 32: the products summed in 8 lanes of 4, the lanes folded
/// pairwise. Written as whole-array steps, which the compiler turns into vector
/// instructions (SSE2 or AVX2 natively, SIMD128 in the browser).
#[inline(always)]
fn block_dot(q: [f32; 32], x: &[f32; 32]) -> f32 {
    let p: [f32; 32] = from_fn(|j| q[j] * x[j]);
    let lanes: [f32; 8] = from_fn(|l| ((p[l] + p[8 + l]) + p[16 + l]) + p[24 + l]);
    let halves: [f32; 4] = from_fn(|l| lanes[l] + lanes[l + 4]);
    (halves[0] + halves[1]) + (halves[2] + halves[3])
}

/// `row · x` for one row of type `dtype` with f32 input: per block of 32, the weights'
/// integers times x in 8 lanes, scaled by the block's `d` (plus `m` times the block's
/// sum of x, `sums` from [`block_sums`], for Q4_1): the GPU kernels' arithmetic, in an
/// order the compiler vectorises (SIMD128 in the browser).
#[inline(always)]
pub fn exact_dot(dtype: DType, row: &[u8], x: &[f32], sums: &[f32]) -> f32 {
    // Whole blocks as arrays: no bounds checks, which would stop the vectoriser.
    let (xs, _) = x.as_chunks::<32>();
    let mut total = 0.0f32;
    match dtype {
        DType::Q4_1 => {
            let (blocks, _) = row.as_chunks::<20>();
            for ((b, xs), &sx) in blocks.iter().zip(xs).zip(sums) {
                let q = q4_1_integers(b);
                total += half(b, 0) * block_dot(from_fn(|j| q[j] as f32), xs) + half(b, 2) * sx;
            }
        }
        DType::Q8_0 => {
            let (blocks, _) = row.as_chunks::<34>();
            for (b, xs) in blocks.iter().zip(xs) {
                total += half(b, 0) * block_dot(from_fn(|j| b[2 + j] as i8 as f32), xs);
            }
        }
        DType::F16 if x.len().is_multiple_of(32) => {
            // The sparse FFN's down projection is stored as F16 (re-stored after its
            // columns move): branch-free conversion, so this vectorises too.
            let (blocks, _) = row.as_chunks::<64>();
            for (b, xs) in blocks.iter().zip(xs) {
                total += block_dot(from_fn(|j| half(b, 2 * j)), xs);
            }
        }
        _ => {
            // Per block of 32 as the quantised types (dequantised on the stack, a short
            // last block padded with zeros): a product over some blocks only, as the
            // sparse FFN's down projection takes, then sums as the whole row does.
            let bytes = dtype.block().1 as usize * 32;
            for (wc, xc) in row.chunks(bytes).zip(x.chunks(32)) {
                let (mut w, mut xs) = ([0.0f32; 32], [0.0f32; 32]);
                dequantize(dtype, wc, &mut w[..xc.len()]);
                xs[..xc.len()].copy_from_slice(xc);
                total += block_dot(w, &xs);
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_blocks_decode_as_ggml_defines_them() {
        // Q8_0: d = 0.5, values -2, 0, 3, …
        let mut q8 = vec![0u8; 34];
        q8[..2].copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
        q8[2] = (-2i8) as u8;
        q8[4] = 3;
        let mut out = [9.0f32; 32];
        dequantize(DType::Q8_0, &q8, &mut out);
        assert_eq!(&out[..3], &[-1.0, 0.0, 1.5]);
        // Q4_1: d = 2, m = -1; byte 0 = 0x3a: element 0 = 10, element 16 = 3.
        let mut q4 = vec![0u8; 20];
        q4[..2].copy_from_slice(&f16::from_f32(2.0).to_le_bytes());
        q4[2..4].copy_from_slice(&f16::from_f32(-1.0).to_le_bytes());
        q4[4] = 0x3a;
        dequantize(DType::Q4_1, &q4, &mut out);
        assert_eq!((out[0], out[16], out[1]), (19.0, 5.0, -1.0));
        assert_eq!(DType::from_id(12).map(DType::name), Some("Q4_K"));
        assert!(!DType::from_id(12).is_some_and(DType::is_supported));
        assert_eq!(DType::from_id(99), None);
    }

    #[test]
    fn scales_convert_as_the_half_crate_does_for_every_bit_pattern() {
        for h in 0..=u16::MAX {
            let ours = half(&h.to_le_bytes(), 0);
            let theirs = f16::from_bits(h).to_f32();
            assert!(
                ours.to_bits() == theirs.to_bits() || ours.is_nan() && theirs.is_nan(),
                "{h:#06x}: {ours} {theirs}"
            );
        }
    }

    #[test]
    fn exact_products_match_the_dequantised_dot_product() {
        let x: Vec<f32> = (0..96).map(|i| libm::sinf(i as f32 * 0.37)).collect();
        let sums = block_sums(&x);
        for (dtype, size) in [(DType::Q4_1, 20), (DType::Q8_0, 34)] {
            let mut row: Vec<u8> = (0..3 * size).map(|i| ((i * 2654435761usize) >> 9) as u8).collect();
            for block in row.chunks_mut(size) {
                block[..2].copy_from_slice(&f16::from_f32(0.03).to_le_bytes());
                block[2..4].copy_from_slice(&f16::from_f32(-0.2).to_le_bytes());
            }
            let mut w = vec![0.0f32; 96];
            dequantize(dtype, &row, &mut w);
            let want: f64 = w.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
            let got = exact_dot(dtype, &row, &x, &sums) as f64;
            assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "{dtype:?}: {got} {want}");
        }
    }

    #[test]
    fn quantised_values_round_trip_within_a_step_of_their_grid() {
        let values: Vec<f32> =
            (0..96).map(|i| libm::sinf(i as f32 * 0.91) * (1.0 + (i % 7) as f32)).collect();
        for dtype in [DType::F32, DType::F16, DType::Q8_0, DType::Q4_1] {
            let bytes = quantize(dtype, &values);
            let (per, size) = dtype.block();
            assert_eq!(bytes.len() as u64, values.len() as u64 / per * size, "{dtype:?}");
            let mut back = vec![0.0f32; values.len()];
            dequantize(dtype, &bytes, &mut back);
            for (block, (v, b)) in values.chunks(32).zip(back.chunks(32)).enumerate() {
                let (lo, hi) =
                    v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, c), &x| (a.min(x), c.max(x)));
                // Half a step of the type's grid, and f16's rounding of the scale.
                let step = match dtype {
                    DType::F32 => 0.0,
                    DType::F16 => hi.abs().max(lo.abs()) / 1024.0,
                    DType::Q8_0 => hi.abs().max(lo.abs()) / 127.0,
                    _ => (hi - lo) / 15.0,
                };
                for (x, y) in v.iter().zip(b) {
                    assert!(
                        (x - y).abs() <= 0.5 * step * 1.01 + 1e-6,
                        "{dtype:?} block {block}: {x} came back {y}"
                    );
                }
            }
        }
        assert_eq!(quantize(DType::F32, &[1.5]), 1.5f32.to_le_bytes());
    }

    /// The AVX2 products are the portable ones to the bit, on rows of every byte value.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_products_are_the_portable_ones_bit_for_bit() {
        let simd = pulp::x86::V3::try_new().expect("this test needs an x86-64 CPU with AVX2 and FMA");
        let x: Vec<f32> = (0..576).map(|i| libm::sinf(i as f32 * 0.37) * (1.0 + i as f32)).collect();
        let sums = block_sums(&x);
        for (dtype, size) in [(DType::Q4_1, 20), (DType::Q8_0, 34)] {
            for seed in 0..64usize {
                let mut row: Vec<u8> =
                    (0..18 * size).map(|i| (((i + 977 * seed) * 2654435761usize) >> 11) as u8).collect();
                for (k, block) in row.chunks_mut(size).enumerate() {
                    let d = 1e-3 * (1 + (seed * 18 + k) % 97) as f32;
                    block[..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
                    if dtype == DType::Q4_1 {
                        block[2..4].copy_from_slice(&f16::from_f32(-8.0 * d).to_le_bytes());
                    }
                }
                let (portable, avx2) =
                    (exact_dot(dtype, &row, &x, &sums), avx2::exact_dot(simd, dtype, &row, &x, &sums));
                assert_eq!(portable.to_bits(), avx2.to_bits(), "{dtype:?}, row {seed}: {portable} {avx2}");
            }
        }
        // F16: every half widens to the same bits (NaNs, infinities and subnormals too),
        // and rows of finite halves give the same products.
        let every: Vec<u8> = (0..=u16::MAX).flat_map(|h| h.to_le_bytes()).collect();
        for eight in every.as_chunks::<16>().0 {
            let wide: [f32; 8] = pulp::cast(avx2::halves(simd, pulp::cast(*eight)));
            for (j, w) in wide.iter().enumerate() {
                assert_eq!(w.to_bits(), half(eight, 2 * j).to_bits(), "half {:?}", &eight[2 * j..2 * j + 2]);
            }
        }
        for seed in 0..64usize {
            let row: Vec<u8> = (0..576usize)
                .flat_map(|i| {
                    let h = (((i + 977 * seed) * 2654435761usize) >> 11) as u16;
                    // Magnitudes below 2 (no infinities), subnormals included.
                    (h & 0xbfff).to_le_bytes()
                })
                .collect();
            let (portable, avx2) =
                (exact_dot(DType::F16, &row, &x, &sums), avx2::exact_dot(simd, DType::F16, &row, &x, &sums));
            assert_eq!(portable.to_bits(), avx2.to_bits(), "F16, row {seed}: {portable} {avx2}");
        }
    }
}
