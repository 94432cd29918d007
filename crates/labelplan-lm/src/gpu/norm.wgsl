// RMSNorm fused into the products that read the residual stream `x`: each workgroup
// computes the scale itself (DIM values) instead of a dispatch of its own.

var<workgroup> inv_rms: f32;

// Sets `inv_rms` to 1 / rms(x) (RMSNorm with EPS), for every invocation.
fn norm_scale(lid: u32) {
    var s = 0.0;
    for (var j0 = 0u; j0 < DIM; j0 += 64u) {
        let j = j0 + lid;
        if (j < DIM) {
            s += x[j] * x[j];
        }
    }
    let total = group_sum(lid, s);
    if (lid == 0u) {
        inv_rms = 1.0 / sqrt(total / f32(DIM) + EPS);
    }
    workgroupBarrier();
}
