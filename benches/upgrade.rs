//! `make bench-upgrade`: how long one upgrade hop takes on a running local cluster — etcd where it
//! changes, kube-apiserver until `/readyz`, the controllers, and with `KUBEPROOF_BENCH_NODES=1`
//! the node's kubelet until Ready — as medians over several runs, beside the cluster's start.
//! Prints markdown for docs/performance.md. `KUBEPROOF_UPGRADE=FROM,TO` (default 1.23.17,1.24.0).

mod common;

use std::time::Instant;

use common::{median, secs};

use kubeproof::cluster::Profile;
use kubeproof::cluster::local::{self, ClusterOptions, InstallOptions, LocalCluster};

const RUNS: usize = 5;

fn main() {
    kubeproof::cluster::ensure_crypto_provider();
    kubeproof::progress::to_stderr();
    let pair = std::env::var("KUBEPROOF_UPGRADE").unwrap_or_else(|_| "1.23.17,1.24.0".into());
    let (from, to) = pair.split_once(',').expect("KUBEPROOF_UPGRADE=FROM,TO");
    let nodes = u32::from(std::env::var("KUBEPROOF_BENCH_NODES").is_ok_and(|v| v == "1"));
    let opts = InstallOptions { nodes: nodes > 0, ..InstallOptions::default() };
    let install = |request: &str| local::install(local::versions::resolve(request).expect("release"), &opts).expect("install");
    let (old, new) = (install(from), install(to));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");

    let (mut ups, mut hops) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        let options = ClusterOptions { flags: Profile { nodes, ..Profile::default() }, ..ClusterOptions::default() };
        let started = Instant::now();
        let cluster = rt.block_on(LocalCluster::start(old.clone(), options)).expect("cluster up");
        ups.push(started.elapsed());
        let upgrading = Instant::now();
        rt.block_on(cluster.upgrade(new.clone())).expect("upgrade");
        hops.push(upgrading.elapsed());
        assert_eq!(cluster.version(), new.version);
        cluster.stop();
        eprintln!("run {}: up {}, upgrade {}", i + 1, secs(ups[i]), secs(hops[i]));
    }

    let node = if nodes > 0 { ", with a node" } else { "" };
    println!("### An upgrade hop, {} → {}{node}\n", old.version, new.version);
    println!("{RUNS} runs; medians.\n");
    println!("| measure | median | min | max |");
    println!("|---|---|---|---|");
    for (name, xs) in
        [(format!("`cluster up` {} to usable", old.version), &ups), (format!("upgrade to {}, usable again", new.version), &hops)]
    {
        let (min, max) = (xs.iter().min().copied().unwrap_or_default(), xs.iter().max().copied().unwrap_or_default());
        println!("| {name} | {} | {} | {} |", secs(median(xs.clone())), secs(min), secs(max));
    }
}
