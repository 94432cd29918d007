// SGD step of one layer: w[i, o] -= lr · Σ_b input[b, i] · grad[b, o], and for the
// extra row i = inputs, bias[o] -= lr · Σ_b grad[b, o].

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> bias: array<f32>;
@group(0) @binding(4) var<storage, read> cursor: array<u32>;
@group(0) @binding(5) var<uniform> t: Train;
@group(0) @binding(6) var<uniform> layer: Layer;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    let i = id / layer.outputs;
    let o = id % layer.outputs;
    if (i > layer.inputs) {
        return;
    }
    let rows = batch_rows(cursor[0], t);
    var g = 0.0;
    for (var b = 0u; b < rows; b++) {
        var a = 1.0;
        if (i < layer.inputs) {
            a = input[b * layer.inputs + i];
        }
        g += a * grad[b * layer.outputs + o];
    }
    if (i < layer.inputs) {
        w[i * layer.outputs + o] -= t.learning_rate * g;
    } else {
        bias[o] -= t.learning_rate * g;
    }
}
