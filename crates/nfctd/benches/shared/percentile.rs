//! The percentile every benchmark reports, defined once (each bench
//! includes this file by path).

/// The `p` quantile (0 to 1) of sorted values, by nearest rank.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
