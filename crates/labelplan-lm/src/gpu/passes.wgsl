// Products that take PASSES groups of ROWS_PER_GROUP rows per workgroup (a software
// GPU pays per workgroup and per barrier far more than for the arithmetic): in pass p
// invocation lid holds lane lid % LANES of the workgroup's row p·ROWS_PER_GROUP +
// lid / LANES and keeps its partial sums in `lanes`; after the passes one barrier,
// then invocation i < PASSES·ROWS_PER_GROUP adds up row i's lanes (`lanes_total`).

var<workgroup> lanes: array<vec2<f32>, PASSES * 64u>;

// The workgroup's first row.
fn first_row(g: u32) -> u32 {
    return g * PASSES * ROWS_PER_GROUP;
}

// The row invocation `lid` holds a lane of in pass `p`, within the workgroup.
fn pass_row(p: u32, lid: u32) -> u32 {
    return p * ROWS_PER_GROUP + lid / LANES;
}

// Row i's lanes summed in lane order (after a barrier).
fn lanes_total(i: u32) -> vec2<f32> {
    var s = vec2(0.0);
    for (var k = 0u; k < LANES; k++) {
        s += lanes[i * LANES + k];
    }
    return s;
}
