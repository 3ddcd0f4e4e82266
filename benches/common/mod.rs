//! What the benchmarks share: medians, and durations as the docs show them.

use std::time::Duration;

pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
