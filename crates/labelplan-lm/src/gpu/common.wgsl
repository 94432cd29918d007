// What the kernels share: the step's position, and for the matrix-vector products 64
// invocations per workgroup, 8 rows at a time (`passes.wgsl`), 8 lanes per row each
// summing every 8th block.

const LANES: u32 = 8u;
const ROWS_PER_GROUP: u32 = 8u;

struct Step {
    pos: u32,
}

var<workgroup> partial: array<f32, 64>;

// The sum of `v` over the whole workgroup, for every invocation.
fn group_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    if (lid == 0u) {
        var s = 0.0;
        for (var i = 0u; i < 64u; i++) {
            s += partial[i];
        }
        partial[0] = s;
    }
    workgroupBarrier();
    let s = partial[0];
    workgroupBarrier();
    return s;
}
