//! What the app shows after a load: shape, sizes, norms, duplicates, dropped rows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::Dataset;

/// Minimum, mean and maximum of the row norms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NormStats {
    /// Smallest L2 norm.
    pub min: f32,
    /// Mean L2 norm.
    pub mean: f32,
    /// Largest L2 norm.
    pub max: f32,
}

impl NormStats {
    /// Stats of a non-empty list of norms (mean accumulated in f64).
    pub fn of(norms: &[f32]) -> NormStats {
        let (mut min, mut max, mut sum) = (f32::INFINITY, f32::NEG_INFINITY, 0f64);
        for &n in norms {
            min = min.min(n);
            max = max.max(n);
            sum += n as f64;
        }
        NormStats { min, mean: (sum / norms.len().max(1) as f64) as f32, max }
    }
}

/// The numbers in the summary panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// File name.
    pub file: String,
    /// Rows loaded.
    pub rows: usize,
    /// Dimension.
    pub dim: usize,
    /// dtype in the file.
    pub dtype: String,
    /// File size in bytes.
    pub file_bytes: u64,
    /// Memory held by the loaded data in bytes.
    pub memory_bytes: u64,
    /// Row norm statistics.
    pub norms: NormStats,
    /// Rows equal, bit for bit, to an earlier row.
    pub duplicate_rows: usize,
    /// Rows dropped for NaN/Inf.
    pub dropped_rows: usize,
    /// Whether ids were found.
    pub has_ids: bool,
    /// Metadata column names.
    pub columns: Vec<String>,
}

impl Summary {
    /// Summarises `data` given its row norms (computed by a backend).
    pub fn new(data: &Dataset, norms: &[f32]) -> Summary {
        Summary {
            file: data.source_name.clone(),
            rows: data.rows,
            dim: data.dim,
            dtype: data.dtype.name().to_owned(),
            file_bytes: data.source_bytes,
            memory_bytes: data.memory_bytes(),
            norms: NormStats::of(norms),
            duplicate_rows: duplicate_rows(data),
            dropped_rows: data.dropped_rows.len(),
            has_ids: data.ids.is_some(),
            columns: data.columns.iter().map(|c| c.name.clone()).collect(),
        }
    }
}

/// Counts rows whose bits equal an earlier row's (−0.0 and 0.0 differ; that is fine
/// for spotting copied rows).
pub fn duplicate_rows(data: &Dataset) -> usize {
    let mut seen: HashMap<&[u8], ()> = HashMap::with_capacity(data.rows);
    let bytes: &[u8] = bytemuck::cast_slice(&data.values);
    let row_bytes = data.dim * 4;
    (0..data.rows).filter(|i| seen.insert(&bytes[i * row_bytes..(i + 1) * row_bytes], ()).is_some()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceDtype;

    fn dataset(values: Vec<f32>, dim: usize) -> Dataset {
        Dataset {
            source_name: "t".into(),
            source_bytes: 0,
            dtype: SourceDtype::F32,
            rows: values.len() / dim,
            dim,
            values,
            ids: None,
            columns: Vec::new(),
            dropped_rows: vec![7],
        }
    }

    #[test]
    fn counts_rows_equal_to_an_earlier_row() {
        // Rows: a, b, a, a, c  -> two rows repeat an earlier one.
        let d = dataset(vec![1., 2., 3., 4., 1., 2., 1., 2., 5., 6.], 2);
        assert_eq!(duplicate_rows(&d), 2);
        let s = Summary::new(&d, &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((s.rows, s.duplicate_rows, s.dropped_rows), (5, 2, 1));
        assert_eq!((s.norms.min, s.norms.mean, s.norms.max), (1.0, 3.0, 5.0));
    }
}
