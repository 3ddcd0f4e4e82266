//! `kubeproof run`, `lint`, `list` and `schema`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::Args;

use kubeproof::cluster::ContextTarget;
use kubeproof::cluster::local::{self, versions};
use kubeproof::cluster::pool::{Pool, Target};
use kubeproof::exec::ExecOptions;
use kubeproof::federation::MAIN;
use kubeproof::redact;
use kubeproof::report::document::Document;
use kubeproof::report::{terminal, text};
use kubeproof::scenario::{self, Scenario};
use kubeproof::{exec, interrupt};

use super::ExitCode;
use super::outputs::{Outputs, Results};

/// Which cluster to use.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// A kubeconfig context (kind-* and kubeproof-* contexts are allowed without --allow-context).
    /// Repeated as NAME=CONTEXT, it maps a scenario's clusters to contexts: `--context
    /// main=kind-a --context b=kind-b`.
    #[arg(long, conflicts_with = "local", value_name = "[NAME=]CONTEXT")]
    pub context: Vec<String>,
    /// Start a local control plane of this release: latest, next (the newest pre-release), 1.24,
    /// 1.24.17 or 1.38.0-beta.0.
    #[arg(long)]
    pub local: Option<String>,
    /// Allow a context that is neither kind nor kubeproof (scenarios create and delete objects).
    #[arg(long, value_name = "CONTEXT")]
    pub allow_context: Option<String>,
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Skip TLS verification of the API server. Never the default.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
}

impl TargetArgs {
    /// A `--local` release that is not even a version is bad input, found before any build.
    pub fn check(&self) -> Result<(), ExitCode> {
        if let Err(problem) = self.contexts() {
            eprintln!("error: --context: {problem}");
            return Err(ExitCode::BadInput);
        }
        match &self.local {
            Some(v) => check_version(v),
            None => Ok(()),
        }
    }

    /// `--context`s: the main context (plain, or `main=`) and the others by name.
    fn contexts(&self) -> Result<(Option<String>, BTreeMap<String, String>), String> {
        let (mut main, mut peers) = (None, BTreeMap::new());
        for given in &self.context {
            let (name, context) = kubeproof::federation::mapping(given);
            if context.is_empty() || name.is_empty() {
                return Err(format!("`{given}`: expected CONTEXT or NAME=CONTEXT"));
            }
            let taken = if name == MAIN {
                main.replace(context.to_string()).is_some()
            } else {
                peers.insert(name.into(), context.into()).is_some()
            };
            if taken {
                return Err(format!("cluster `{name}` is mapped twice"));
            }
        }
        Ok((main, peers))
    }

    /// The names `--context NAME=…` maps besides main: with any, every cluster the scenarios
    /// declare must be mapped, and every name must be one they declare (exit 2 otherwise).
    pub fn check_mapping(&self, scenarios: &[Scenario]) -> Result<(), ExitCode> {
        let Ok((_, peers)) = self.contexts() else { return Ok(()) };
        if peers.is_empty() {
            return Ok(());
        }
        let declared: BTreeSet<&str> =
            scenarios.iter().flat_map(|s| s.spec.clusters.keys()).map(String::as_str).filter(|n| *n != MAIN).collect();
        let problems: Vec<String> = declared
            .iter()
            .filter(|name| !peers.contains_key(**name))
            .map(|name| format!("scenarios run on cluster `{name}`, which no --context {name}=CONTEXT maps"))
            .chain(peers.keys().filter(|name| !declared.contains(name.as_str())).map(|name| {
                let valid = if declared.is_empty() { "none".to_string() } else { declared.iter().copied().collect::<Vec<_>>().join(", ") };
                format!("--context {name}=…: no scenario has a cluster `{name}` (their clusters: {valid})")
            }))
            .collect();
        for p in &problems {
            eprintln!("error: {p}");
        }
        if problems.is_empty() { Ok(()) } else { Err(ExitCode::BadInput) }
    }

    pub fn target(&self) -> Target {
        match &self.local {
            Some(v) => Target::Local(v.clone()),
            None => {
                let (main, peers) = self.contexts().unwrap_or_default();
                let context = main.or_else(|| self.allow_context.clone());
                let allowed = self.allow_context.is_some() && self.allow_context == context;
                Target::Context(ContextTarget {
                    kubeconfig: self.kubeconfig.clone(),
                    context,
                    allowed,
                    insecure: self.insecure_skip_tls_verify,
                    peers,
                })
            }
        }
    }
}

/// What scenario files may read.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct FileArgs {
    /// Let `apply: {file: …}` read files outside the directory tree the scenarios were loaded
    /// from (the directory given, or a given file's own directory).
    #[arg(long)]
    pub allow_outside_files: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario files or directories.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Leave namespaces and objects in place for debugging.
    #[arg(long)]
    pub keep: bool,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Run a failed scenario again, up to N times (0 to 10): one that then passes is reported
    /// flaky, its first failure kept, and does not fail the run.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Run every scenario N times (1 to 1000) and report each one's pass count: to hunt flakes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Default step timeout in seconds (1 to 3600).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Also write the reports as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write the reports as JUnit XML to this file, for CI servers.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Show every step, not just failures.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Loads, lints and filters; problems are printed with file:line:column.
pub fn load(paths: &[PathBuf], filter: Option<&str>, files: FileArgs) -> Result<Vec<Scenario>, ExitCode> {
    match scenario::load_all(paths, files.allow_outside_files) {
        Ok(all) => Ok(all.into_iter().filter(|s| filter.is_none_or(|f| s.name.contains(f))).collect()),
        Err(problems) => {
            // The first ones are what to fix first; a file with a thousand says so, not all.
            const SHOWN: usize = 50;
            for p in problems.iter().take(SHOWN) {
                eprintln!("error: {p}");
            }
            if problems.len() > SHOWN {
                eprintln!("… and {} more", problems.len() - SHOWN);
            }
            eprintln!("{} problem(s); nothing was run", problems.len());
            Err(ExitCode::BadInput)
        }
    }
}

pub async fn run(args: RunArgs) -> ExitCode {
    let scenarios =
        match load(&args.paths, args.filter.as_deref(), args.files).and_then(|s| selected(s, &args.paths, args.filter.as_deref())) {
            Ok(s) => s,
            Err(code) => return code,
        };
    let outputs = Outputs { json: args.json.clone(), junit: args.junit.clone(), markdown: None };
    if let Err(code) = args.target.check().and(outputs.check()).and_then(|()| args.target.check_mapping(&scenarios)) {
        return code;
    }
    let target = match resolve_target(args.target.target()).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let opts = ExecOptions {
        keep: args.keep,
        default_timeout: std::time::Duration::from_secs(args.timeout),
        events: terminal::reporter(args.verbose),
        retries: args.retries,
    };
    if let Err(code) = check_upgrades(&target, &scenarios).await {
        return code;
    }
    // `--repeat N`: every scenario N times over (each run in a namespace of its own).
    let scenarios: Vec<Scenario> = (0..args.repeat).flat_map(|_| scenarios.iter().cloned()).collect();
    let pool = match open_pool(&target, &scenarios).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let c = pool.base();
    eprintln!(
        "kubeproof: running {} scenario(s) on {} (server {}, kubectl {})",
        scenarios.len(),
        c.label,
        c.git_version,
        c.kubectl.display()
    );
    if args.verbose && matches!(target, Target::Local(_)) {
        eprintln!("kubeproof: Kubernetes {}: {}", c.version, local::install::how_installed(c.version));
    }
    // The pool outlives the run, so that after a signal the cleanup still has a cluster to talk to.
    let outcome = exec::run_all(&pool, &scenarios, &opts, args.jobs).await;
    let json = || serde_json::to_string_pretty(&Document::of(&outcome)).unwrap_or_default();
    let written = outputs.write(Results { reports: &outcome.reports, stopped: outcome.stopped.as_ref(), json: &json, page: None });
    let code = outcome.exit_code().max_with(written);
    if let Some(stopped) = &outcome.stopped {
        eprint!("{}{}", text::stopped(stopped), text::not_finished(scenarios.len() - outcome.reports.len()));
    }
    if args.repeat > 1 {
        print!("{}", text::pass_counts(&outcome.reports, args.repeat));
    }
    println!("{}", text::summary(&outcome.reports));
    drop(pool);
    code
}

/// Every `upgrade` path of the scenarios that run on a local release, checked and installed
/// before anything runs: a downgrade, a skipped minor or a release that cannot be installed is
/// bad input, located in the file. (On a context, those scenarios are not applicable.)
async fn check_upgrades(target: &Target, scenarios: &[Scenario]) -> Result<(), ExitCode> {
    let Target::Local(request) = target else { return Ok(()) };
    let upgrading: Vec<Scenario> = scenarios.iter().filter(|s| !s.upgrades().is_empty()).cloned().collect();
    if upgrading.is_empty() {
        return Ok(());
    }
    let request = request.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let Ok(from) = versions::resolve(&request) else { return Ok(()) };
        let problems: Vec<String> = upgrading
            .iter()
            .filter(|s| s.applies_to(&from))
            .filter_map(|s| exec::upgrade::plan(s, from, s.spec.requires.profile().nodes > 0).err())
            .map(|e| format!("{}: {e}", e.at))
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    });
    match checked.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(problems)) => {
            problems.iter().for_each(|p| eprintln!("error: {p}"));
            eprintln!("{} problem(s); nothing was run", problems.len());
            Err(ExitCode::BadInput)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::BadInput)
        }
    }
}

/// A filter or a path that selects no scenario is a mistake, not a green run.
pub fn selected(scenarios: Vec<Scenario>, paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<Scenario>, ExitCode> {
    if !scenarios.is_empty() {
        return Ok(scenarios);
    }
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    match filter {
        Some(f) => eprintln!("error: no scenario in {} has a name containing `{f}`", paths.join(", ")),
        None => eprintln!("error: no scenario files (*.yaml, *.yml) in {}", paths.join(", ")),
    }
    Err(ExitCode::BadInput)
}

pub fn lint(paths: &[PathBuf], files: FileArgs) -> ExitCode {
    match load(paths, None, files) {
        Ok(s) => {
            println!("{} scenario(s) OK", s.len());
            ExitCode::Ok
        }
        Err(code) => code,
    }
}

pub fn list(paths: &[PathBuf], files: FileArgs) -> ExitCode {
    match load(paths, None, files) {
        Ok(all) => {
            for s in all {
                let versions = s.spec.versions.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "*".into());
                let flags = s.spec.requires.profile();
                println!("{:<44} {:<14} {}  {}", s.name, versions, s.path.display(), flags);
            }
            ExitCode::Ok
        }
        Err(code) => code,
    }
}

pub fn schema(report: bool) -> ExitCode {
    let schema = if report { schemars::schema_for!(Document) } else { schemars::schema_for!(scenario::ScenarioSpec) };
    println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
    ExitCode::Ok
}

/// Connects (or builds and starts) the target — with the flag-profile clusters these scenarios
/// need, started together; a signal meanwhile stops cleanly (dropping a start in progress stops
/// what it had started).
pub async fn open_pool(target: &Target, scenarios: &[Scenario]) -> Result<Pool, ExitCode> {
    let needs: Vec<_> = scenarios.iter().map(Scenario::requirement).collect();
    tokio::select! {
        pool = Pool::open_for(target, &needs) => pool.map_err(|e| {
            eprintln!("error: no usable cluster: {}", redact::redact(&e.to_string()));
            e.exit_code()
        }),
        signal = interrupt::first() => Err(ExitCode::Signalled(signal)),
    }
}

/// A local target's release, resolved before anything is built or started: a release the Go
/// module proxy does not have (or `next` when there is no pre-release) is bad input, said at
/// once, naming what there is. A resolution that fails otherwise (no Go, no network) is left
/// to the pool, whose error says that no cluster could be had.
pub async fn resolve_target(target: Target) -> Result<Target, ExitCode> {
    let Target::Local(request) = &target else { return Ok(target) };
    let request = request.clone();
    let resolving = tokio::task::spawn_blocking(move || versions::resolve(&request));
    tokio::select! {
        resolved = resolving => match resolved {
            Ok(Ok(v)) => Ok(Target::Local(v.to_string())),
            Ok(Err(e)) if e.is_bad_input() => {
                eprintln!("error: {e}");
                Err(ExitCode::BadInput)
            }
            _ => Ok(target),
        },
        signal = interrupt::first() => Err(ExitCode::Signalled(signal)),
    }
}

/// Checks a release request's form (`latest`, `next`, `1.24`, `1.24.17`, `1.38.0-beta.0`)
/// without resolving it.
pub fn check_version(request: &str) -> Result<(), ExitCode> {
    versions::check_request(request).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::BadInput
    })
}
