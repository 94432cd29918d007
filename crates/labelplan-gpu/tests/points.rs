//! The map's points drawn on the GPU against `labelplan_core::draw::paint`, the page's
//! 2-D canvas fallback.
#![cfg(not(target_arch = "wasm32"))]

use labelplan_core::draw::{paint, Frame, Style};
use labelplan_gpu::kernels::points::{self, MapPoints};
use labelplan_gpu::{GpuContext, GpuOptions};
use labelplan_testkit::random_matrix;
use pollster::block_on;

fn gpu() -> GpuContext {
    block_on(GpuContext::new(GpuOptions::default())).unwrap_or_else(|e| {
        panic!("a GPU adapter is required for these tests (install mesa-vulkan-drivers for lavapipe): {e}")
    })
}

/// Pixels (of 4 bytes) that differ between two frames.
fn differing(a: &[u8], b: &[u8]) -> usize {
    a.chunks(4).zip(b.chunks(4)).filter(|(x, y)| x != y).count()
}

#[test]
fn the_gpu_draws_the_pixels_the_reference_paints() {
    let ctx = gpu();
    let rows = 5_000;
    // Positions spread over ±10 (the layout's range), some off the canvas once zoomed.
    let positions: Vec<f32> = random_matrix(7, rows, 2).iter().map(|v| v * 10.0).collect();
    let categories: Vec<u32> = (0..rows as u32).map(|r| (r * 7919) % 15).collect();
    let mut highlighted: Vec<u32> = (0..rows as u32).filter(|r| r % 37 == 3).collect();
    highlighted.sort_unstable();
    let mask: Vec<bool> = (0..rows as u32).map(|r| r % 37 == 3).collect();
    let mut points = block_on(MapPoints::new(&ctx, &positions, &categories)).expect("uploads");
    let style = Style::new(rows, 2.0, false);
    for (i, frame) in [
        Frame { width: 640, height: 400, centre: (0.0, 0.0), scale: 18.0 },
        Frame { width: 333, height: 217, centre: (2.5, -1.25), scale: 61.7 },
    ]
    .iter()
    .enumerate()
    {
        let selected = Some(highlighted[i]);
        let got =
            block_on(points::paint(&ctx, &points, frame, &highlighted, selected, &style)).expect("draws");
        let mut want = vec![0u8; frame.width as usize * frame.height as usize * 4];
        paint(&mut want, frame, &positions, &categories, &mask, selected, &style);
        assert_eq!(got.len(), want.len());
        let drawn = want.chunks(4).filter(|p| p[3] > 0).count();
        assert!(drawn > 1000, "frame {i}: {drawn} pixels drawn");
        // f32 on the GPU, f64 in the reference: a square may sit a pixel apart where a
        // position lands within rounding of a pixel edge.
        let off = differing(&got, &want);
        assert!(off * 1000 <= drawn, "frame {i}: {off} of {drawn} drawn pixels differ");
    }
    // Colouring by other categories changes only colours.
    let other: Vec<u32> = (0..rows as u32).map(|r| r % 3).collect();
    block_on(points.recolour(&ctx, &other)).expect("recolours");
    let frame = Frame { width: 200, height: 200, centre: (0.0, 0.0), scale: 9.0 };
    let got = block_on(points::paint(&ctx, &points, &frame, &[], None, &style)).expect("draws");
    let mut want = vec![0u8; 200 * 200 * 4];
    paint(&mut want, &frame, &positions, &other, &vec![false; rows], None, &style);
    assert!(differing(&got, &want) * 1000 <= want.chunks(4).filter(|p| p[3] > 0).count());
}

#[test]
fn rows_past_the_points_are_refused() {
    let ctx = gpu();
    let points = block_on(MapPoints::new(&ctx, &[0.0, 0.0], &[0])).expect("uploads");
    let frame = Frame { width: 10, height: 10, centre: (0.0, 0.0), scale: 1.0 };
    let style = Style::new(1, 1.0, false);
    let err = block_on(points::paint(&ctx, &points, &frame, &[1], None, &style)).expect_err("row 1 of 1");
    assert!(err.to_string().contains("row 1 of 1 points"), "{err}");
    assert!(block_on(MapPoints::new(&ctx, &[0.0, 0.0], &[0, 1])).is_err(), "a category per point");
}

#[test]
fn frames_drawn_side_by_side_on_one_device_both_finish() {
    // The worker draws map frames while a plan runs on the same device: their error
    // scopes must not interleave (they take turns in GpuContext::scoped).
    let ctx = gpu();
    let positions: Vec<f32> = random_matrix(9, 2_000, 2).iter().map(|v| v * 10.0).collect();
    let categories = vec![0u32; 2_000];
    let points = block_on(MapPoints::new(&ctx, &positions, &categories)).expect("uploads");
    let frame = Frame { width: 300, height: 200, centre: (0.0, 0.0), scale: 9.0 };
    let style = Style::new(2_000, 1.0, true);
    let (a, b) = block_on(futures::future::join(
        points::paint(&ctx, &points, &frame, &[1, 2, 3], None, &style),
        points::paint(&ctx, &points, &frame, &[], Some(7), &style),
    ));
    assert_eq!(a.expect("the first frame").len(), 300 * 200 * 4);
    assert_eq!(b.expect("the second frame").len(), 300 * 200 * 4);
}
