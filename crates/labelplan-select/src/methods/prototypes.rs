//! Prototypicality (Sorscher et al. 2022): distance to the nearest k-means centroid of
//! the pseudo-label clustering; easy = nearest first, hard = farthest first.

/// Eligible rows sorted by `distance` (ascending when `easy`), ties by lowest row.
pub fn order(distance: &[f32], labeled: &[bool], easy: bool) -> Vec<u32> {
    let mut rows: Vec<u32> = (0..distance.len() as u32).filter(|&i| !labeled[i as usize]).collect();
    rows.sort_by(|&a, &b| {
        let (da, db) = (distance[a as usize], distance[b as usize]);
        let by = if easy { da.total_cmp(&db) } else { db.total_cmp(&da) };
        by.then(a.cmp(&b))
    });
    rows
}
