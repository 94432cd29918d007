// Per batch row: softmax of the logits; records the per-item statistics (mode 1: AUM,
// forgetting, early EL2N; mode 2: entropy and loss), the same as `ItemStats::record`;
// writes the mean cross-entropy gradient (p − onehot(y)) / rows into `grad`.
// stats holds [aum | el2n | forgetting | entropy | loss], `items` floats each.

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> last: array<u32>; // 0 unseen, 1 correct, 2 wrong
@group(0) @binding(6) var<storage, read> cursor: array<u32>;
@group(0) @binding(7) var<uniform> t: Train;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = linear_id(wid, nwg, lid);
    let c = cursor[0];
    let rows = batch_rows(c, t);
    if (b >= rows) {
        return;
    }
    let item = order[c * t.batch + b];
    let y = labels[item];
    let base = b * t.classes;
    var top = logits[base];
    for (var k = 1u; k < t.classes; k++) {
        top = max(top, logits[base + k]);
    }
    var sum = 0.0;
    for (var k = 0u; k < t.classes; k++) {
        let e = exp(logits[base + k] - top);
        grad[base + k] = e;
        sum += e;
    }
    for (var k = 0u; k < t.classes; k++) {
        grad[base + k] /= sum;
    }
    if (t.mode == 1u) {
        var other = 0.0;
        var argmax = 0u;
        var err = 0.0;
        for (var k = 0u; k < t.classes; k++) {
            let pk = grad[base + k];
            if (k != y) {
                other = max(other, pk);
            }
            if (pk > grad[base + argmax]) {
                argmax = k;
            }
            let d = pk - select(0.0, 1.0, k == y);
            err += d * d;
        }
        stats[item] += grad[base + y] - other;
        let correct = argmax == y;
        if (last[item] == 1u && !correct) {
            stats[2u * t.items + item] += 1.0;
        }
        last[item] = select(2u, 1u, correct);
        if (t.epoch < t.el2n_epochs) {
            stats[t.items + item] += sqrt(err);
        }
    } else if (t.mode == 2u) {
        var entropy = 0.0;
        for (var k = 0u; k < t.classes; k++) {
            let pk = grad[base + k];
            if (pk > 0.0) {
                entropy -= pk * log(pk);
            }
        }
        stats[3u * t.items + item] = entropy;
        stats[4u * t.items + item] = -log(max(grad[base + y], 1e-12));
    }
    for (var k = 0u; k < t.classes; k++) {
        grad[base + k] = (grad[base + k] - select(0.0, 1.0, k == y)) / f32(rows);
    }
}
