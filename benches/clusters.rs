//! `make bench-clusters`: what a second cluster costs a scenario. The same steps, each run on
//! clusters started for it alone: on one cluster (benches/scenarios/one-cluster.yaml), and
//! across two that start together, one trusting the other (benches/scenarios/two-clusters.yaml).
//! Timed from asking the pool for the scenario's clusters to the report, runs alternating
//! A B A B and the ratio taken pair by pair. Prints markdown for docs/performance.md.
//! `KUBEPROOF_VERSION` (default latest).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{median, secs};

use kubeproof::cluster::pool::{Pool, Target};
use kubeproof::exec::{self, ExecOptions, result::Verdict};
use kubeproof::scenario::Scenario;

const RUNS: usize = 5;

fn main() {
    kubeproof::cluster::ensure_crypto_provider();
    kubeproof::progress::to_stderr();
    let version = std::env::var("KUBEPROOF_VERSION").unwrap_or_else(|_| "latest".into());
    let load = |file: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scenarios").join(file);
        Scenario::load(&path).unwrap_or_else(|e| panic!("{file}: {e:?}"))
    };
    let (one, two) = (load("one-cluster.yaml"), load("two-clusters.yaml"));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let pool = rt.block_on(Pool::open(&Target::Local(version))).expect("the release's pool");
    let release = pool.base().version;
    let run = |scenario: &Scenario| -> Duration {
        let started = Instant::now();
        let report = rt.block_on(async {
            let held = pool.clusters_for(&scenario.requirement()).await.expect("the scenario's clusters");
            exec::execute_on(&held.clusters, scenario, &ExecOptions::default()).await
        });
        let took = started.elapsed();
        assert_eq!(report.verdict, Verdict::Passed, "{}: {:?}", scenario.name, report.failure.map(|f| f.error.to_string()));
        took
    };
    run(&one);
    let (mut ones, mut twos, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..RUNS {
        let (a, b) = (run(&two), run(&one));
        twos.push(a);
        ones.push(b);
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
        eprintln!("run {}: two clusters {}, one {}", i + 1, secs(a), secs(b));
    }
    ratios.sort_by(f64::total_cmp);
    println!("### A second cluster, trusted ({release})\n");
    println!("{RUNS} pairs, clusters started for the scenario and its steps, to its report; medians.\n");
    println!("| scenario | median | min | max |");
    println!("|---|---|---|---|");
    for (name, xs) in [("the steps on one cluster", &ones), ("the same steps across two clusters, b trusting main", &twos)] {
        let (min, max) = (xs.iter().min().copied().unwrap_or_default(), xs.iter().max().copied().unwrap_or_default());
        println!("| {name} | {} | {} | {} |", secs(median(xs.clone())), secs(min), secs(max));
    }
    println!("\nTwo clusters / one, pair by pair: median {:.2}× (min {:.2}×, max {:.2}×).", ratios[RUNS / 2], ratios[0], ratios[RUNS - 1]);
}
