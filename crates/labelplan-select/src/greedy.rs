//! Lazy greedy maximisation: a max-heap of possibly stale values that only ever fall
//! (facility-location and coverage gains, D2 scores). Ties break by the lowest index.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: f64,
    index: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.total_cmp(&other.value).then(other.index.cmp(&self.index))
    }
}

/// Candidates with upper bounds on their current value.
#[derive(Debug, Default)]
pub struct LazyMax {
    heap: BinaryHeap<Entry>,
}

impl LazyMax {
    /// Starts from `(index, value)` pairs.
    pub fn new(values: impl IntoIterator<Item = (u32, f64)>) -> Self {
        LazyMax { heap: values.into_iter().map(|(index, value)| Entry { value, index }).collect() }
    }

    /// Removes and returns the candidate with the largest current value, where `fresh`
    /// computes a candidate's current value (never above its stored one).
    pub fn pop(&mut self, mut fresh: impl FnMut(u32) -> f64) -> Option<(u32, f64)> {
        loop {
            let top = self.heap.pop()?;
            let now = Entry { value: fresh(top.index), index: top.index };
            match self.heap.peek() {
                Some(next) if now < *next => self.heap.push(now),
                _ => return Some((now.index, now.value)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LazyMax;

    #[test]
    fn pops_in_fresh_order_with_low_index_on_ties() {
        let current = [5.0, 3.0, 3.0, 4.0];
        let mut heap = LazyMax::new([(0, 9.0), (1, 3.0), (2, 3.0), (3, 4.0)]);
        let order: Vec<u32> = std::iter::from_fn(|| heap.pop(|i| current[i as usize]).map(|p| p.0)).collect();
        assert_eq!(order, vec![0, 3, 1, 2]);
    }
}
