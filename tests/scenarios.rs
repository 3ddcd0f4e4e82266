//! Every scenario file as a libtest trial: `cargo test --test scenarios`, filters, `--list`,
//! `--ignored`, `--test-threads` and `cargo nextest run` all work.
//!
//! Trials: `<cluster>::<file stem>` for each file of `scenarios/` on every cluster, one
//! `<cluster>::<file stem>::<case>` per case of a table of cases; `examples/` (checks beyond
//! tokens) on the newest release only, as `<cluster>::examples::<file stem>`; and a
//! `lint::<file stem>` (`lint::examples::<file stem>`) for every file.
//!
//! Clusters come from the environment:
//! - `KUBEPROOF_VERSION=1.37.2` (or `KUBEPROOF_VERSIONS=1.23.17,latest`): local control planes,
//!   built from the official Go modules if needed and started on first use;
//! - `KUBEPROOF_CONTEXT=kind-kubeproof`: an existing cluster (kind or kubeproof contexts, or the
//!   one named in `KUBEPROOF_ALLOW_CONTEXT`).
//!
//! Without either, scenario trials are reported ignored with the reason, never passed. The
//! `lint::` trials need no cluster: they parse and check every scenario file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use tokio::sync::OnceCell;

use kubeproof::cluster::local;
use kubeproof::cluster::pool::{Pool, Sharing, Target};
use kubeproof::cluster::{ClusterError, ContextTarget};
use kubeproof::exec::{self, ExecOptions};
use kubeproof::redact;
use kubeproof::report::{Verdict, text};
use kubeproof::scenario::{Scenario, cases, discover, lint};
use kubeproof::version::KubeVersion;

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

/// Under cargo-nextest every trial is a process of its own: the processes of one run share
/// their local clusters instead of starting one each (the first starts, the rest attach, a
/// reaper stops them after the run).
fn sharing() -> Option<Sharing> {
    let run = std::env::var("NEXTEST_RUN_ID").ok().filter(|id| !id.is_empty())?;
    Some(Sharing { key: run, reaper: PathBuf::from(env!("CARGO_BIN_EXE_kubeproof")) })
}

/// A directory of scenario files the harness runs, and on which clusters.
struct Suite {
    dir: &'static str,
    /// What trial names say after the cluster: `examples::` for `examples/`.
    prefix: &'static str,
    /// Only on the newest release of the run (or the one context).
    newest_only: bool,
}

/// Token behaviour on every release; checks beyond tokens on the newest.
const SUITES: [Suite; 2] =
    [Suite { dir: "scenarios", prefix: "", newest_only: false }, Suite { dir: "examples", prefix: "examples::", newest_only: true }];

impl Suite {
    fn files(&self) -> Vec<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(self.dir);
        discover(&[dir]).unwrap_or_else(|e| panic!("the {} directory: {e}", self.dir))
    }

    fn runs_on(&self, newest: bool) -> bool {
        newest || !self.newest_only
    }
}

/// Every scenario that loads and runs on a cluster, for starting the clusters they need up
/// front (the newest release runs `examples/` too).
fn all_scenarios(newest: bool) -> &'static [Scenario] {
    static ALL: [OnceLock<Vec<Scenario>>; 2] = [OnceLock::new(), OnceLock::new()];
    ALL[usize::from(newest)].get_or_init(|| {
        let suites = SUITES.iter().filter(|suite| suite.runs_on(newest));
        // One per case, as the trials run them: the pool stops a flag profile's cluster after
        // the last of these that needs it.
        suites.flat_map(Suite::files).filter_map(|f| Scenario::load(&f).ok()).filter(runs_here).flat_map(cases::expand).collect()
    })
}

/// Long scenarios (`long: true`, minutes each) run only with `KUBEPROOF_LONG=1` (the matrix
/// sets it); elsewhere they are filtered out, not reported ignored.
fn runs_here(scenario: &Scenario) -> bool {
    !scenario.spec.long || kubeproof::scenario::long_wanted()
}

fn targets() -> Vec<Target> {
    if let Ok(ctx) = std::env::var("KUBEPROOF_CONTEXT") {
        let allowed = std::env::var("KUBEPROOF_ALLOW_CONTEXT").is_ok_and(|a| a == ctx);
        return vec![Target::Context(ContextTarget { context: Some(ctx), allowed, ..Default::default() })];
    }
    let versions = std::env::var("KUBEPROOF_VERSIONS").or_else(|_| std::env::var("KUBEPROOF_VERSION")).unwrap_or_default();
    versions.split(',').map(str::trim).filter(|v| !v.is_empty()).map(|v| Target::Local(v.to_string())).collect()
}

fn main() {
    kubeproof::cluster::ensure_crypto_provider();
    kubeproof::progress::to_stderr();
    let args = Arguments::from_args();
    // Local releases are resolved up front (`latest` → 1.37.2): trial names carry the release,
    // and a scenario gets no trial on a release it does not apply to.
    let targets: Vec<(Target, Option<KubeVersion>)> = targets()
        .into_iter()
        .map(|t| match &t {
            Target::Local(request) => match local::versions::resolve(request) {
                Ok(v) => (Target::Local(v.to_string()), Some(v)),
                Err(_) => (t, None),
            },
            Target::Context(_) => (t, None),
        })
        .collect();
    // The newest release (the last target when none resolves, e.g. a context).
    let newest = targets.iter().enumerate().max_by_key(|(_, (_, v))| *v).map(|(i, _)| i);
    let mut trials = Vec::new();
    for suite in &SUITES {
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
                    let (path, target) = (file.clone(), target.clone());
                    trials.push(Trial::ignorable_test(name, move || run_trial(&target, is_newest, &path, case.as_deref())));
                }
            }
        }
    }

    // Ctrl-C, SIGTERM, SIGHUP: delete what running scenarios created (a second signal cuts
    // that short), then stop; local clusters die with us.
    runtime().block_on(async { kubeproof::interrupt::listen() });
    runtime().spawn(async {
        let signal = kubeproof::interrupt::first().await;
        eprintln!("\nkubeproof: {}: deleting what the scenarios created", signal.name());
        for what in exec::ledger::clean_up_after_signal().await {
            eprintln!("warning: {what}");
        }
        if let Ok(mut pools) = pools().lock() {
            pools.clear();
        }
        std::process::exit(signal.exit_code());
    });
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop the local clusters before exiting.
    if let Ok(mut pools) = pools().lock() {
        pools.clear();
    }
    conclusion.exit();
}

/// Diagnostics, one a line.
fn lines(found: &[kubeproof::scenario::Diagnostic]) -> String {
    found.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

/// `lint::<stem>`: the file loads (its includes too) and lint finds nothing, in any case.
fn lint_trial(stem: &str, file: &std::path::Path) -> Trial {
    let path = file.to_path_buf();
    Trial::test(format!("lint::{stem}"), move || {
        let scenario = Scenario::load(&path).map_err(|found| Failed::from(lines(&found)))?;
        match lint::lint(&scenario).as_slice() {
            [] => Ok(()),
            problems => Err(lines(problems).into()),
        }
    })
}

/// Runs the file (its `case`, for a table of cases) on the target's pool.
fn run_trial(target: &Target, newest: bool, path: &std::path::Path, case: Option<&str>) -> Result<Completion, Failed> {
    let loaded = Scenario::load(path).map_err(|found| Failed::from(lines(&found)))?;
    let scenario = cases::expand(loaded)
        .into_iter()
        .find(|s| s.case.as_ref().map(|c| c.label.as_str()) == case)
        .ok_or_else(|| Failed::from(format!("{} has no case `{}` any more", path.display(), case.unwrap_or_default())))?;
    let slot = pools().lock().map_err(|_| "poisoned")?.entry(target.label()).or_default().clone();
    runtime().block_on(async {
        let (cell, reported) = &*slot;
        // The flag-profile clusters of every scenario start together with the main one.
        let pool = match cell
            .get_or_init(|| async {
                Pool::open_sharing(target, &all_scenarios(newest).iter().map(Scenario::requirement).collect::<Vec<_>>(), sharing()).await
            })
            .await
        {
            Ok(p) => p,
            // One clear error per cluster: the first trial fails with it, the rest point at it.
            Err(e) if !reported.swap(true, Ordering::SeqCst) => {
                return Err(Failed::from(format!("no usable cluster for {}: {e}", target.label())));
            }
            Err(_) => {
                return Ok(Completion::ignored_with(format!("no usable cluster for {} (see the failed trial)", target.label())));
            }
        };
        let outcome = exec::run_all(pool, std::slice::from_ref(&scenario), &ExecOptions::default(), 1).await;
        let Some(report) = outcome.reports.into_iter().next() else {
            let why = outcome.stopped.map(|s| text::stopped(&s)).unwrap_or_default();
            return Err(Failed::from(why));
        };
        let details = text::details(&report);
        // Secrets stay secret, in passing and failing output alike.
        assert!(!redact::leaks(&details), "a report contains a token:\n{details}");
        match report.verdict {
            Verdict::Passed => Ok(Completion::Completed),
            Verdict::NotApplicable => Ok(Completion::ignored_with(report.reason.unwrap_or_default())),
            Verdict::Failed => Err(Failed::from(details)),
        }
    })
}
