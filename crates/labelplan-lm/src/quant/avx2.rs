//! The exact products written out in AVX2 (x86-64-v3) instructions, through pulp's
//! safe wrappers: the compiler's own vectorisation of [`super::exact_dot`] widens a
//! block's bytes to f32 with shuffles it does not need (2.4× slower). The operations and
//! their order are [`super::block_dot`]'s, so the results are the same bits: the page's
//! CPU path (SIMD128) and the native one agree token for token.

use std::arch::x86_64::{__m128i, __m256};
use std::array::from_fn;

use pulp::x86::V3;

use super::{half, DType};

/// [`super::exact_dot`]: Q4_1 and Q8_0 rows here, other types there.
#[inline(always)]
pub fn exact_dot(simd: V3, dtype: DType, row: &[u8], x: &[f32], sums: &[f32]) -> f32 {
    match dtype {
        DType::Q4_1 => q4_1(simd, row, x, sums),
        DType::Q8_0 => q8_0(simd, row, x),
        DType::F16 if x.len().is_multiple_of(32) => f16(simd, row, x),
        _ => super::exact_dot(dtype, row, x, sums),
    }
}

/// 8 lanes of a block: `((q0·x0 + q1·x1) + q2·x2) + q3·x3`, where `q_k` and `x_k` are
/// elements 8k to 8k + 7.
#[inline(always)]
fn lanes(simd: V3, q: [__m256; 4], x: &[f32; 32]) -> __m256 {
    let x: [__m256; 4] = pulp::cast(*x);
    let (avx, m) = (simd.avx, |k: usize| simd.avx._mm256_mul_ps(q[k], x[k]));
    avx._mm256_add_ps(avx._mm256_add_ps(avx._mm256_add_ps(m(0), m(1)), m(2)), m(3))
}

/// The 8 lanes folded as `block_dot` folds them: halves, then `(h0 + h1) + (h2 + h3)`.
#[inline(always)]
fn fold(simd: V3, lanes: __m256) -> f32 {
    let halves = simd
        .sse
        ._mm_add_ps(simd.avx._mm256_castps256_ps128(lanes), simd.avx._mm256_extractf128_ps::<1>(lanes));
    let pairs = simd.sse3._mm_hadd_ps(halves, halves);
    simd.sse._mm_cvtss_f32(simd.sse3._mm_hadd_ps(pairs, pairs))
}

/// A block's 32 integers, 16 bytes in `first` then 16 in `second`, widened to f32 (as
/// unsigned or signed) in four vectors of 8.
#[inline(always)]
fn widen<const SIGNED: bool>(simd: V3, first: __m128i, second: __m128i) -> [__m256; 4] {
    let eight = |bytes: __m128i| {
        let ints = if SIGNED {
            simd.avx2._mm256_cvtepi8_epi32(bytes)
        } else {
            simd.avx2._mm256_cvtepu8_epi32(bytes)
        };
        simd.avx._mm256_cvtepi32_ps(ints)
    };
    let upper = |bytes: __m128i| simd.sse2._mm_srli_si128::<8>(bytes);
    [eight(first), eight(upper(first)), eight(second), eight(upper(second))]
}

/// [`super::exact_dot`] of a Q4_1 row.
#[inline(always)]
fn q4_1(simd: V3, row: &[u8], x: &[f32], sums: &[f32]) -> f32 {
    let (xs, _) = x.as_chunks::<32>();
    let (blocks, _) = row.as_chunks::<20>();
    let low_nibbles = simd.sse2._mm_set1_epi8(0x0f);
    let mut total = 0.0f32;
    for ((b, xs), &sx) in blocks.iter().zip(xs).zip(sums) {
        let nibbles: __m128i = pulp::cast::<[u8; 16], _>(from_fn(|j| b[4 + j]));
        let low = simd.sse2._mm_and_si128(nibbles, low_nibbles);
        let high = simd.sse2._mm_and_si128(simd.sse2._mm_srli_epi16::<4>(nibbles), low_nibbles);
        let q = widen::<false>(simd, low, high);
        total += half(b, 0) * fold(simd, lanes(simd, q, xs)) + half(b, 2) * sx;
    }
    total
}

/// [`super::exact_dot`] of a Q8_0 row.
#[inline(always)]
fn q8_0(simd: V3, row: &[u8], x: &[f32]) -> f32 {
    let (xs, _) = x.as_chunks::<32>();
    let (blocks, _) = row.as_chunks::<34>();
    let mut total = 0.0f32;
    for (b, xs) in blocks.iter().zip(xs) {
        let first: __m128i = pulp::cast::<[u8; 16], _>(from_fn(|j| b[2 + j]));
        let second: __m128i = pulp::cast::<[u8; 16], _>(from_fn(|j| b[18 + j]));
        total += half(b, 0) * fold(simd, lanes(simd, widen::<true>(simd, first, second), xs));
    }
    total
}

/// 8 little-endian halves widened to f32 as [`half`] does (no F16C in pulp's V3): the
/// magnitude shifted into an f32's places and re-biased by 2^112, the top exponent for
/// infinities and NaNs, then the sign.
#[inline(always)]
pub(super) fn halves(simd: V3, bytes: __m128i) -> __m256 {
    let (avx, avx2) = (simd.avx, simd.avx2);
    let h = avx2._mm256_cvtepu16_epi32(bytes);
    let magnitude = avx2._mm256_slli_epi32::<13>(avx2._mm256_and_si256(h, avx._mm256_set1_epi32(0x7fff)));
    let rebias = avx._mm256_set1_ps(f32::from_bits(0x7780_0000));
    let finite = avx._mm256_castps_si256(avx._mm256_mul_ps(avx._mm256_castsi256_ps(magnitude), rebias));
    let special = avx._mm256_set1_epi32(0x7c00);
    let top = avx2._mm256_cmpeq_epi32(avx2._mm256_and_si256(h, special), special);
    let infinite = avx2._mm256_or_si256(magnitude, avx._mm256_set1_epi32(0x7f80_0000));
    let bits = avx2._mm256_blendv_epi8(finite, infinite, top);
    let sign = avx2._mm256_slli_epi32::<16>(avx2._mm256_and_si256(h, avx._mm256_set1_epi32(0x8000)));
    avx._mm256_castsi256_ps(avx2._mm256_or_si256(bits, sign))
}

/// [`super::exact_dot`] of an F16 row (the sparse FFN's down projection).
#[inline(always)]
fn f16(simd: V3, row: &[u8], x: &[f32]) -> f32 {
    let (xs, _) = x.as_chunks::<32>();
    let (blocks, _) = row.as_chunks::<64>();
    let mut total = 0.0f32;
    for (b, xs) in blocks.iter().zip(xs) {
        // Written out: a closure around the intrinsics is compiled without AVX2 and
        // calls each one (13× slower).
        let (quarters, _) = b.as_chunks::<16>();
        let w = [
            halves(simd, pulp::cast(quarters[0])),
            halves(simd, pulp::cast(quarters[1])),
            halves(simd, pulp::cast(quarters[2])),
            halves(simd, pulp::cast(quarters[3])),
        ];
        total += fold(simd, lanes(simd, w, xs));
    }
    total
}
