//! `make bench-cluster`: how long a cached local control plane takes to become usable and to
//! go away, as medians over several runs, plus the whole scenario suite from nothing (pool
//! opened with every flag-profile cluster, all scenarios at once) against cluster up + the
//! longest single scenario. Prints markdown for docs/performance.md. Release to measure:
//! `KUBEPROOF_VERSION` (default latest); `KUBEPROOF_BENCH_SUITES` suite runs (default 3).

mod common;

use std::time::Instant;

use common::{median, secs};

use kubeproof::cluster::local::{self, ClusterOptions, InstallOptions, LocalCluster};
use kubeproof::cluster::pool::{Pool, Target};
use kubeproof::exec::{self, ExecOptions};

const RUNS: usize = 7;

fn main() {
    kubeproof::cluster::ensure_crypto_provider();
    kubeproof::progress::to_stderr();
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

    let scenarios = kubeproof::scenario::load_all(&["scenarios".into()], false).expect("scenarios");
    let profiles: std::collections::BTreeSet<kubeproof::cluster::Profile> =
        scenarios.iter().map(|s| s.spec.requires.profile().canonical()).filter(|f| !f.is_empty()).collect();
    let suite_runs: usize = std::env::var("KUBEPROOF_BENCH_SUITES").ok().and_then(|n| n.parse().ok()).unwrap_or(3);
    // (from nothing to the last scenario done, the longest scenario of that run)
    let mut suite = Vec::new();
    for i in 0..suite_runs {
        let (took, longest) = rt.block_on(async {
            let started = Instant::now();
            let needs: Vec<_> = scenarios.iter().map(kubeproof::scenario::Scenario::requirement).collect();
            let pool = Pool::open_for(&Target::Local(version.to_string()), &needs).await.expect("pool");
            let reports = exec::run_all(&pool, &scenarios, &ExecOptions::default(), scenarios.len()).await.reports;
            let took = started.elapsed();
            let failed: Vec<&str> =
                reports.iter().filter(|r| r.verdict == kubeproof::report::Verdict::Failed).map(|r| r.scenario.as_str()).collect();
            assert!(failed.is_empty(), "the suite must pass to be timed; failed: {failed:?}");
            let longest = reports.iter().max_by_key(|r| r.elapsed).map(|r| (r.scenario.clone(), r.elapsed)).unwrap_or_default();
            (took, longest)
        });
        eprintln!("suite {}: {} (longest scenario {} {})", i + 1, secs(took), longest.0, secs(longest.1));
        suite.push((took, longest));
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
    let up = median(ups.clone());
    println!(
        "\n| whole suite from nothing ({} scenarios, {} flag-profile clusters, all at once) | wall time | longest scenario | ratio to up ({}) + longest |",
        scenarios.len(),
        profiles.len(),
        secs(up)
    );
    println!("|---|---|---|---|");
    let mut ratios = Vec::new();
    for (i, (took, (name, longest))) in suite.iter().enumerate() {
        let ratio = took.as_secs_f64() / (up + *longest).as_secs_f64();
        ratios.push(ratio);
        println!("| run {} | {} | {} ({name}) | {ratio:.2}× |", i + 1, secs(*took), secs(*longest));
    }
    ratios.sort_by(f64::total_cmp);
    if let Some(r) = ratios.get(ratios.len() / 2) {
        println!("\nMedian ratio: **{r:.2}×** (target ≤ 1.2×).");
    }
}
