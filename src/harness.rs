//! A libtest harness for scenario directories: every scenario file becomes a trial of your
//! `cargo test`, on the clusters the environment names. kubeproof's own `tests/scenarios.rs` is
//! one user of it; a repository of your own is another:
//!
//! ```toml
//! # Cargo.toml
//! [dev-dependencies]
//! kubeproof = "0.1"
//!
//! [[test]]
//! name = "platform"
//! harness = false
//! ```
//!
//! ```text
//! // tests/platform.rs
//! fn main() {
//!     kubeproof::harness::Harness::new().scenarios("checks").run()
//! }
//! ```
//!
//! Trials are named `<cluster>::<file stem>` (one `<cluster>::<file stem>::<case>` per case of a
//! table of cases), plus a `lint::<file stem>` for every file, which needs no cluster. A
//! directory added with [`Harness::on_newest`] runs on the newest release of the run only, as
//! `<cluster>::<prefix>::<file stem>`.
//!
//! Clusters come from the environment:
//! - `KUBEPROOF_VERSION=1.37.2` (or `KUBEPROOF_VERSIONS=1.23.17,latest`): local control planes,
//!   built from the official Go modules if needed and started on first use;
//! - `KUBEPROOF_CONTEXT=kind-kubeproof`: an existing cluster (kind or kubeproof contexts, or the
//!   one named in `KUBEPROOF_ALLOW_CONTEXT`); `main=kind-a,b=kind-b` maps a scenario's clusters.
//!
//! Without either, scenario trials are reported ignored with the reason, never passed. Filters,
//! `--list`, `--ignored`, `--test-threads` and `cargo nextest run` work as usual; under nextest,
//! whose trials are processes of their own, the processes of one run share their local clusters
//! (this binary serves as their reaper).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use tokio::sync::OnceCell;

use crate::cluster::local;
use crate::cluster::pool::{Pool, Sharing, Target};
use crate::cluster::{ClusterError, ContextTarget};
use crate::exec::{self, ExecOptions};
use crate::report::{Verdict, text};
use crate::scenario::{Diagnostic, Scenario, cases, discover, lint};
use crate::version::KubeVersion;

/// A directory of scenario files, and the clusters of the run it runs on.
#[derive(Clone, Debug)]
struct Suite {
    dir: PathBuf,
    /// What trial names say after the cluster: `examples::` for kubeproof's `examples/`.
    prefix: String,
    /// Only on the newest release of the run (or the one context).
    newest_only: bool,
}

impl Suite {
    fn files(&self) -> Vec<PathBuf> {
        discover(std::slice::from_ref(&self.dir)).unwrap_or_else(|e| panic!("kubeproof harness: the scenario directory {e}"))
    }

    fn runs_on(&self, newest: bool) -> bool {
        newest || !self.newest_only
    }
}

/// The harness: the scenario directories of a test target, built fluently, then [`run`](Self::run).
#[derive(Clone, Debug, Default)]
pub struct Harness {
    suites: Vec<Suite>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::default()
    }

    /// Scenario files under `dir` (relative to the crate's root when the test runs from it, as
    /// `cargo test` does), run on every cluster of the run.
    pub fn scenarios(mut self, dir: impl Into<PathBuf>) -> Harness {
        self.suites.push(Suite { dir: dir.into(), prefix: String::new(), newest_only: false });
        self
    }

    /// Scenario files under `dir` run on the newest release of the run only, their trials named
    /// `<cluster>::<prefix>::<file stem>`: checks that do not differ by release.
    pub fn on_newest(mut self, prefix: &str, dir: impl Into<PathBuf>) -> Harness {
        self.suites.push(Suite { dir: dir.into(), prefix: format!("{prefix}::"), newest_only: true });
        self
    }

    /// Lists or runs the trials as libtest's arguments say, and exits with libtest's code.
    pub fn run(self) -> ! {
        serve_as_kubeproof();
        // A node's janitor is started from this program, which plays that role (above).
        local::node::this_program_is_the_cli();
        crate::cluster::ensure_crypto_provider();
        crate::progress::to_stderr();
        let args = Arguments::from_args();
        let trials = self.trials(&resolved_targets());
        // Ctrl-C, SIGTERM, SIGHUP: delete what running scenarios created (a second signal cuts
        // that short), then stop; local clusters die with us.
        runtime().block_on(async { crate::interrupt::listen() });
        runtime().spawn(async {
            let signal = crate::interrupt::first().await;
            eprintln!("\nkubeproof: {}: deleting what the scenarios created", signal.name());
            for what in exec::ledger::clean_up_after_signal().await {
                eprintln!("warning: {what}");
            }
            close_pools();
            std::process::exit(signal.exit_code());
        });
        let conclusion = libtest_mimic::run(&args, trials);
        // Stop the local clusters before exiting.
        close_pools();
        conclusion.exit()
    }

    /// Every trial: a lint trial per file, and a run per file (per case), cluster and release
    /// it applies to.
    fn trials(&self, targets: &[(Target, Option<KubeVersion>)]) -> Vec<Trial> {
        let newest = newest(targets);
        let mut trials = Vec::new();
        for suite in &self.suites {
            for file in suite.files() {
                let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let stem = format!("{}{stem}", suite.prefix);
                trials.push(lint_trial(&stem, &file));
                if targets.is_empty() {
                    trials.push(Trial::ignorable_test(format!("scenario::{stem}"), || {
                        Ok(Completion::ignored_with(
                            "no cluster: set KUBEPROOF_VERSION=latest (local control plane) or KUBEPROOF_CONTEXT=kind-kubeproof",
                        ))
                    }));
                }
                // One run per case of a table; a file that does not load gets one trial, which fails.
                // A long scenario has no run trial at all (its lint trial stays) unless KUBEPROOF_LONG=1.
                let runs: Vec<Option<Scenario>> = match Scenario::load(&file) {
                    Ok(s) if !runs_here(&s) => Vec::new(),
                    Ok(s) => cases::expand(s).into_iter().map(Some).collect(),
                    Err(_) => vec![None],
                };
                for (index, (target, version)) in targets.iter().enumerate() {
                    let is_newest = newest == Some(index);
                    if !suite.runs_on(is_newest) {
                        continue;
                    }
                    for run in &runs {
                        if let (Some(v), Some(s)) = (version, run)
                            && !s.applies_to(v)
                        {
                            continue;
                        }
                        let case = run.as_ref().and_then(|s| s.case.as_ref()).map(|c| c.label.clone());
                        let name = match &case {
                            Some(label) => format!("{}::{stem}::{label}", target.label()),
                            None => format!("{}::{stem}", target.label()),
                        };
                        // An upgrade scenario's name says its path on a release it starts from:
                        // `1.23.17::x (1.23.17 → 1.24.0)` (a context's is not applicable).
                        let upgrades = run.as_ref().map(Scenario::upgrades).unwrap_or_default();
                        let name = match (upgrades.is_empty(), target) {
                            (false, Target::Local(_)) => format!("{name} ({} → {})", target.label(), upgrades.join(" → ")),
                            _ => name,
                        };
                        let (path, target, harness) = (file.clone(), target.clone(), self.clone());
                        trials.push(Trial::ignorable_test(name, move || harness.run_trial(&target, is_newest, &path, case.as_deref())));
                    }
                }
            }
        }
        trials
    }

    /// Every scenario that loads and runs on a cluster (per case), for starting the clusters they
    /// need up front: the newest release runs the `on_newest` directories too.
    fn requirements(&self, newest: bool) -> Vec<crate::requirement::Requirement> {
        let suites = self.suites.iter().filter(|suite| suite.runs_on(newest));
        // One per case, as the trials run them: the pool stops a flag profile's cluster after
        // the last of these that needs it.
        suites
            .flat_map(Suite::files)
            .filter_map(|f| Scenario::load(&f).ok())
            .filter(runs_here)
            .flat_map(cases::expand)
            .map(|s| s.requirement())
            .collect()
    }

    /// Runs the file (its `case`, for a table of cases) on the target's pool.
    fn run_trial(&self, target: &Target, newest: bool, path: &Path, case: Option<&str>) -> Result<Completion, Failed> {
        let loaded = Scenario::load(path).map_err(|found| Failed::from(lines(&found)))?;
        let scenario = cases::expand(loaded)
            .into_iter()
            .find(|s| s.case.as_ref().map(|c| c.label.as_str()) == case)
            .ok_or_else(|| Failed::from(format!("{} has no case `{}` any more", path.display(), case.unwrap_or_default())))?;
        let slot = pools().lock().map_err(|_| "poisoned")?.entry(target.label()).or_default().clone();
        runtime().block_on(async {
            let (cell, reported) = &*slot;
            // The flag-profile clusters of every scenario start together with the main one.
            let pool = match cell.get_or_init(|| async { Pool::open_sharing(target, &self.requirements(newest), sharing()).await }).await {
                Ok(p) => p,
                // One clear error per cluster: the first trial fails with it, the rest point at it.
                Err(e) if !reported.swap(true, Ordering::SeqCst) => {
                    return Err(Failed::from(format!("no usable cluster for {}: {e}", target.label())));
                }
                Err(_) => {
                    return Ok(Completion::ignored_with(format!("no usable cluster for {} (see the failed trial)", target.label())));
                }
            };
            let opts = ExecOptions { retries: retries(), ..ExecOptions::default() };
            let outcome = exec::run_all(pool, std::slice::from_ref(&scenario), &opts, 1).await;
            let Some(report) = outcome.reports.into_iter().next() else {
                let why = outcome.stopped.map(|s| text::stopped(&s)).unwrap_or_default();
                return Err(Failed::from(why));
            };
            let details = text::details(&report);
            // Secrets stay secret, in passing and failing output alike.
            if crate::redact::leaks(&details) {
                return Err(Failed::from("a report contains a token (not shown): this is a kubeproof bug"));
            }
            match report.verdict {
                Verdict::Passed if report.is_flaky() => {
                    // libtest has no flaky outcome: the trial passes, and says so where it is seen.
                    eprintln!("kubeproof: FLAKY {}", text::line(&report));
                    Ok(Completion::Completed)
                }
                Verdict::Passed => Ok(Completion::Completed),
                Verdict::NotApplicable => Ok(Completion::ignored_with(report.reason.unwrap_or_default())),
                Verdict::Failed => Err(Failed::from(details)),
            }
        })
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime"))
}

/// One pool per target, opened by whichever trial needs it first; an error is kept and shown once.
type Pools = Mutex<BTreeMap<String, Arc<(OnceCell<Result<Pool, ClusterError>>, AtomicBool)>>>;

fn pools() -> &'static Pools {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    POOLS.get_or_init(Pools::default)
}

/// Drops every pool: local clusters stop.
fn close_pools() {
    if let Ok(mut pools) = pools().lock() {
        pools.clear();
    }
}

/// Under cargo-nextest every trial is a process of its own: the processes of one run share
/// their local clusters instead of starting one each (the first starts, the rest attach, a
/// reaper — this very binary, see [`serve_as_kubeproof`] — stops them after the run).
fn sharing() -> Option<Sharing> {
    let run = std::env::var("NEXTEST_RUN_ID").ok().filter(|id| !id.is_empty())?;
    let reaper = std::env::var_os("KUBEPROOF_BIN").map(PathBuf::from).or_else(|| std::env::current_exe().ok())?;
    Some(Sharing { key: run, reaper })
}

/// The helper roles kubeproof starts itself for (`cluster reap` after a shared run, `cluster
/// janitor` beside a node): a test binary plays them when started so, and exits, so a user's
/// repository needs no kubeproof binary of its own.
fn serve_as_kubeproof() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cluster, role, flag, name] = args.as_slice() else { return };
    if cluster != "cluster" || flag != "--name" {
        return;
    }
    let work = match role.as_str() {
        "reap" => |name: &str| local::shared::reap(name).map_err(|e| e.to_string()),
        "janitor" => |name: &str| local::node::janitor(name).map_err(|e| e.to_string()),
        _ => return,
    };
    if let Err(e) = local::validate_name(name).map_err(|e| e.to_string()).and_then(|()| work(name)) {
        eprintln!("error: {e}");
        std::process::exit(3);
    }
    std::process::exit(0);
}

/// `KUBEPROOF_RETRIES=N` (0 to 10): `run --retries` for the harness. Under cargo-nextest,
/// its own `--retries` does the same per trial process.
fn retries() -> u32 {
    std::env::var("KUBEPROOF_RETRIES").ok().and_then(|n| n.parse().ok()).unwrap_or(0).min(10)
}

/// Long scenarios (`long: true`, minutes each) run only with `KUBEPROOF_LONG=1` (the matrix
/// sets it); elsewhere they are filtered out, not reported ignored.
fn runs_here(scenario: &Scenario) -> bool {
    !scenario.spec.long || crate::scenario::long_wanted()
}

/// The clusters the environment names; local releases resolved up front (`latest` → 1.37.2),
/// so that trial names carry the release and a scenario gets no trial where it does not apply.
fn resolved_targets() -> Vec<(Target, Option<KubeVersion>)> {
    if let Ok(contexts) = std::env::var("KUBEPROOF_CONTEXT") {
        // `kind-a`, or a scenario's clusters mapped: `main=kind-a,b=kind-b`.
        let (mut main, mut peers) = (None, std::collections::BTreeMap::new());
        for (name, context) in contexts.split(',').map(str::trim).filter(|c| !c.is_empty()).map(crate::federation::mapping) {
            if name == crate::federation::MAIN {
                main = Some(context.to_string());
            } else {
                peers.insert(name.to_string(), context.to_string());
            }
        }
        let allowed = std::env::var("KUBEPROOF_ALLOW_CONTEXT").is_ok_and(|a| Some(&a) == main.as_ref());
        return vec![(Target::Context(ContextTarget { context: main, allowed, peers, ..Default::default() }), None)];
    }
    let versions = std::env::var("KUBEPROOF_VERSIONS").or_else(|_| std::env::var("KUBEPROOF_VERSION")).unwrap_or_default();
    let requests = versions.split(',').map(str::trim).filter(|v| !v.is_empty());
    requests
        .map(|request| match local::versions::resolve(request) {
            Ok(v) => (Target::Local(v.to_string()), Some(v)),
            Err(_) => (Target::Local(request.to_string()), None),
        })
        .collect()
}

/// The newest release of the run (the last target when none resolves, e.g. a context).
fn newest(targets: &[(Target, Option<KubeVersion>)]) -> Option<usize> {
    targets.iter().enumerate().max_by_key(|(_, (_, v))| *v).map(|(i, _)| i)
}

/// Diagnostics, one a line.
fn lines(found: &[Diagnostic]) -> String {
    found.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

/// `lint::<stem>`: the file loads (its includes too) and lint finds nothing, in any case.
fn lint_trial(stem: &str, file: &Path) -> Trial {
    let path = file.to_path_buf();
    Trial::test(format!("lint::{stem}"), move || {
        let scenario = Scenario::load(&path).map_err(|found| Failed::from(lines(&found)))?;
        match lint::lint(&scenario).as_slice() {
            [] => Ok(()),
            problems => Err(lines(problems).into()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(trials: &[Trial]) -> Vec<String> {
        trials.iter().map(|t| t.name().to_string()).collect()
    }

    #[test]
    fn trials_are_named_per_cluster_and_the_newest_only_suite_runs_on_the_newest() {
        let dir = std::env::temp_dir().join(format!("kp-harness-{}", crate::random::suffix(8)));
        let (checks, extra) = (dir.join("checks"), dir.join("extra"));
        std::fs::create_dir_all(&checks).unwrap();
        std::fs::create_dir_all(&extra).unwrap();
        std::fs::write(checks.join("sa.yaml"), "description: d\nsteps:\n  - service-account: sa\n").unwrap();
        std::fs::write(checks.join("new.yaml"), "description: d\nversions: '>=1.24'\nsteps:\n  - service-account: sa\n").unwrap();
        std::fs::write(extra.join("x.yaml"), "description: d\nsteps:\n  - service-account: x\n").unwrap();
        std::fs::write(checks.join("up.yaml"), "description: d\nversions: '<1.24'\nsteps:\n  - upgrade: {to: 1.24.0}\n").unwrap();
        let harness = Harness::new().scenarios(&checks).on_newest("extra", &extra);
        let old: KubeVersion = "1.23.17".parse().unwrap();
        let new: KubeVersion = "1.37.2".parse().unwrap();
        let targets = [(Target::Local(old.to_string()), Some(old)), (Target::Local(new.to_string()), Some(new))];
        let mut got = names(&harness.trials(&targets));
        got.sort();
        let unconfigured = names(&harness.trials(&[]));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            got,
            [
                "1.23.17::sa",
                "1.23.17::up (1.23.17 → 1.24.0)",
                "1.37.2::extra::x",
                "1.37.2::new",
                "1.37.2::sa",
                "lint::extra::x",
                "lint::new",
                "lint::sa",
                "lint::up"
            ],
            "no trial on a release a scenario does not apply to; the extra suite on the newest only; an upgrade's path in its name"
        );
        assert!(unconfigured.contains(&"scenario::sa".to_string()), "without a cluster, an ignored trial says why: {unconfigured:?}");
    }
}
