// The map's points as squares, one instance per row of `rows`, up to three squares
// (layers) per instance drawn in order: a dot; an outline then the pick; a ring, its
// inside, then the pick. The reference is labelplan_core::draw::paint: the same
// squares, placed by floor(v + 0.5), in the same order, replacing what is under them.

struct Params {
    size: vec2<f32>,
    centre: vec2<f32>,
    scale: f32,
    // Each layer's side in pixels.
    side: vec4<f32>,
    // Each layer's alpha on the row's category colour; below 0: the layer's fixed colour.
    alpha: vec4<f32>,
    fixed: array<vec4<f32>, 3>,
}

@group(0) @binding(0) var<storage, read> positions: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> categories: array<u32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read> palette: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

struct Corner {
    @builtin(position) position: vec4<f32>,
    @location(0) @interpolate(flat) colour: vec4<f32>,
}

@vertex
fn vs(@builtin(vertex_index) vertex: u32, @builtin(instance_index) instance: u32) -> Corner {
    let layer = vertex / 6u;
    // Two triangles over the unit square.
    var xs = array<f32, 6>(0.0, 1.0, 0.0, 0.0, 1.0, 1.0);
    var ys = array<f32, 6>(0.0, 0.0, 1.0, 1.0, 0.0, 1.0);
    let row = rows[instance];
    let point = positions[row];
    let screen = vec2<f32>(
        p.size.x * 0.5 + (point.x - p.centre.x) * p.scale,
        p.size.y * 0.5 - (point.y - p.centre.y) * p.scale,
    );
    let side = p.side[layer];
    let start = floor(screen - vec2<f32>(side * 0.5) + vec2<f32>(0.5));
    let pixel = start + vec2<f32>(xs[vertex % 6u], ys[vertex % 6u]) * side;
    var out: Corner;
    out.position = vec4<f32>(pixel.x / p.size.x * 2.0 - 1.0, 1.0 - pixel.y / p.size.y * 2.0, 0.0, 1.0);
    let alpha = p.alpha[layer];
    if (alpha < 0.0) {
        out.colour = p.fixed[layer];
    } else {
        let count = arrayLength(&palette);
        out.colour = vec4<f32>(palette[categories[row] % count].rgb, alpha);
    }
    return out;
}

@fragment
fn fs(corner: Corner) -> @location(0) vec4<f32> {
    return corner.colour;
}
