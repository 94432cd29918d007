// The L2 norm of each row (padding zeros add nothing).

@group(0) @binding(1) var<storage, read_write> norms: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = row_of(wid, nwg, lid);
    if (row >= p.rows) {
        return;
    }
    norms[row] = norm_of(row);
}
