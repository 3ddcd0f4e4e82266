//! `make bench-clusters`: what a second cluster costs a scenario. The same steps as one
//! `kubeproof run --local` process each: on one cluster (benches/scenarios/one-cluster.yaml), and
//! across two clusters that start together, one trusting the other
//! (benches/scenarios/two-clusters.yaml). Runs alternate, A B A B, and the ratio is taken pair by
//! pair. Prints markdown for docs/performance.md. `KUBEPROOF_VERSION` (default latest).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{median, secs};

const RUNS: usize = 5;

fn main() {
    let version = std::env::var("KUBEPROOF_VERSION").unwrap_or_else(|_| "latest".into());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/scenarios");
    let run = |file: &str| -> Duration {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["run", &format!("{dir}/{file}"), "--local", &version])
            .output()
            .expect("run kubeproof");
        let took = started.elapsed();
        assert!(out.status.success(), "{file} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        took
    };
    // Installs the release (and warms the caches) outside the figures.
    run("one-cluster.yaml");
    let (mut one, mut two, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..RUNS {
        let (a, b) = (run("two-clusters.yaml"), run("one-cluster.yaml"));
        two.push(a);
        one.push(b);
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
        eprintln!("run {}: two clusters {}, one {}", i + 1, secs(a), secs(b));
    }
    ratios.sort_by(f64::total_cmp);
    println!("### A second cluster, trusted ({version})\n");
    println!("{RUNS} pairs, `kubeproof run FILE --local {version}` as a whole process; medians.\n");
    println!("| scenario | median | min | max |");
    println!("|---|---|---|---|");
    for (name, xs) in [("the steps on one cluster", &one), ("the same steps on two clusters, b trusting main", &two)] {
        let (min, max) = (xs.iter().min().copied().unwrap_or_default(), xs.iter().max().copied().unwrap_or_default());
        println!("| {name} | {} | {} | {} |", secs(median(xs.clone())), secs(min), secs(max));
    }
    println!("\nTwo clusters / one, pair by pair: median {:.2}× (min {:.2}×, max {:.2}×).", ratios[RUNS / 2], ratios[0], ratios[RUNS - 1]);
}
