//! `make bench-cluster`: how long a cached local control plane takes to become usable and to
//! go away, as medians over several runs, plus a scenario-suite run at different parallelism.
//! Prints markdown for docs/performance.md. Release to measure: `KUBEPROOF_VERSION` (default latest).

use std::time::{Duration, Instant};

use kubeproof::cluster::local::{self, ClusterOptions, InstallOptions, LocalCluster};
use kubeproof::cluster::pool::{Pool, Target};
use kubeproof::exec::{self, ExecOptions};

const RUNS: usize = 7;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    kubeproof::cluster::ensure_crypto_provider();
    // `cargo bench` passes --bench; nothing else to parse.
    let request = std::env::var("KUBEPROOF_VERSION").unwrap_or_else(|_| "latest".into());
    let version = local::versions::resolve(&request).expect("release");
    let install_started = Instant::now();
    let installation = local::install(version, &InstallOptions::default()).expect("install");
    let cached_install = install_started.elapsed();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");

    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for i in 0..RUNS {
        let started = Instant::now();
        let cluster = rt.block_on(LocalCluster::start(installation.clone(), ClusterOptions::default())).expect("cluster up");
        ups.push(started.elapsed());
        let stopping = Instant::now();
        cluster.stop();
        downs.push(stopping.elapsed());
        eprintln!("run {}: up {}, down {}", i + 1, secs(ups[i]), secs(downs[i]));
    }

    let scenarios = kubeproof::scenario::load_all(&["scenarios".into()]).expect("scenarios");
    let mut suite = Vec::new();
    for jobs in [1, 4] {
        let took = rt.block_on(async {
            let pool = Pool::open(&Target::Local(version.to_string())).await.expect("pool");
            // Flag-profile clusters start on first use: start them before timing.
            for s in &scenarios {
                pool.cluster_for(s).await.expect("cluster");
            }
            let started = Instant::now();
            let reports = exec::run_all(&pool, &scenarios, &ExecOptions::default(), jobs).await.reports;
            let took = started.elapsed();
            let failed = reports.iter().filter(|r| r.verdict == kubeproof::report::Verdict::Failed).count();
            assert_eq!(failed, 0, "the suite must pass to be timed");
            took
        });
        suite.push((jobs, took));
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    println!("### Local control plane, Kubernetes {version} (cached binaries)\n");
    println!("Machine: {} cores, {cpu}. {RUNS} runs each; medians.\n", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
    println!("| measure | median | min | max |");
    println!("|---|---|---|---|");
    for (name, xs) in [("`cluster up` to usable", &ups), ("`cluster down`", &downs)] {
        let (min, max) = (xs.iter().min().copied().unwrap_or_default(), xs.iter().max().copied().unwrap_or_default());
        println!("| {name} | {} | {} | {} |", secs(median(xs.clone())), secs(min), secs(max));
    }
    println!("| install, already cached | {} | | |", secs(cached_install));
    println!("\n| scenario suite ({} scenarios) | wall time | speed-up vs 1 job |", scenarios.len());
    println!("|---|---|---|");
    let one = suite[0].1;
    for (jobs, took) in &suite {
        println!("| {jobs} job(s) | {} | {:.2}× |", secs(*took), one.as_secs_f64() / took.as_secs_f64());
    }
}
