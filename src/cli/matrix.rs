//! `kubeproof matrix` and `kubeproof diff`: every scenario on every release, side by side.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use kubeproof::cluster::ContextTarget;
use kubeproof::cluster::pool::Target;
use kubeproof::exec::{self, ExecOptions};
use kubeproof::report::document::Document;
use kubeproof::report::matrix::{About, Column, Matrix};
use kubeproof::report::{RunOutcome, ScenarioReport, Tally, terminal, text};
use kubeproof::scenario::Scenario;

use super::ExitCode;
use super::outputs::{Outputs, Results};
use super::run::{FileArgs, check_version, load, open_pool, resolve_target, selected};

#[derive(Args, Debug)]
pub struct MatrixArgs {
    /// Local control planes: e.g. 1.23,1.24,1.30,latest,next (next: the newest pre-release,
    /// 1.38.0-beta.0 say).
    #[arg(long, value_delimiter = ',', conflicts_with = "contexts")]
    pub versions: Vec<String>,
    /// Existing clusters: kubeconfig contexts, e.g. kind-v1-23,kind-v1-37.
    #[arg(long, value_delimiter = ',', conflicts_with = "from")]
    pub contexts: Vec<String>,
    /// Assemble the matrix from `run --json` reports made elsewhere (one CI job per release),
    /// running nothing: e.g. --from v1.23.json,v1.37.json.
    #[arg(long, value_delimiter = ',', conflicts_with = "versions")]
    pub from: Vec<PathBuf>,
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    #[command(flatten)]
    pub files: FileArgs,
    /// Write the matrix as markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Markdown appended to the --markdown page as written: the catalogue rows that are not
    /// scenarios, and why (docs/behaviour-notes.md).
    #[arg(long, requires = "markdown")]
    pub notes: Option<PathBuf>,
    /// Write the matrix and every report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write every report as JUnit XML here (a testsuite per release).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Local releases run at once [default: one per core and ~4 GiB of available memory].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub releases_at_once: Option<u16>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The older release (or context with --contexts).
    pub from: String,
    /// The newer release.
    pub to: String,
    /// Treat FROM and TO as kubeconfig contexts.
    #[arg(long)]
    pub contexts: bool,
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    #[command(flatten)]
    pub files: FileArgs,
}

pub async fn matrix(args: MatrixArgs) -> ExitCode {
    let targets: Vec<Target> = if args.contexts.is_empty() {
        args.versions.iter().map(|v| Target::Local(v.clone())).collect()
    } else {
        args.contexts.iter().map(|c| Target::Context(context(c))).collect()
    };
    if targets.is_empty() && args.from.is_empty() {
        eprintln!("error: give --versions (e.g. 1.23,1.24,latest), --contexts or --from");
        return ExitCode::BadInput;
    }
    let outputs = Outputs { json: args.json.clone(), junit: args.junit.clone(), markdown: args.markdown.clone() };
    if let Err(code) = outputs.check() {
        return code;
    }
    // Read before anything runs: a wrong path should not cost a whole matrix.
    let notes = match &args.notes {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!("error: --notes {}: {e}", path.display());
                return ExitCode::BadInput;
            }
        },
        None => None,
    };
    let built = if args.from.is_empty() {
        build(&targets, &args.scenarios, args.files, args.jobs, args.releases_at_once).await
    } else {
        assemble(&args.from, &args.scenarios, args.files)
    };
    let Built { matrix, reports, mut code } = match built {
        Ok(m) => m,
        Err(code) => return code,
    };
    print!("{}", matrix.to_terminal());
    for i in 1..matrix.columns.len() {
        print!("\n{}", matrix.diff_text(i - 1, i));
    }
    let json = || serde_json::to_string_pretty(&serde_json::json!({"matrix": matrix, "reports": reports})).unwrap_or_default();
    let page = Some(matrix.page(notes.as_deref()));
    code = code.max_with(outputs.write(Results { reports: &reports, stopped: None, json: &json, page }));
    println!("\n{}", Tally::of(&reports));
    code
}

pub async fn diff(args: DiffArgs) -> ExitCode {
    let targets: Vec<Target> = [&args.from, &args.to]
        .iter()
        .map(|t| if args.contexts { Target::Context(context(t)) } else { Target::Local(t.to_string()) })
        .collect();
    match build(&targets, &args.scenarios, args.files, 4, None).await {
        Ok(built) => {
            print!("{}", built.matrix.diff_text(0, 1));
            built.code
        }
        Err(code) => code,
    }
}

fn context(name: &str) -> ContextTarget {
    ContextTarget { context: Some(name.to_string()), ..Default::default() }
}

/// A matrix, the reports it was built from, and how kubeproof exits for them.
struct Built {
    matrix: Matrix,
    reports: Vec<ScenarioReport>,
    code: ExitCode,
}

/// Builds the matrix from reports of runs made elsewhere: a column per cluster, in the order
/// the reports name them. A report of a run that stopped early is refused: its column would
/// look complete.
fn assemble(files: &[PathBuf], scenarios: &PathBuf, file_args: FileArgs) -> Result<Built, ExitCode> {
    let scenarios = load(std::slice::from_ref(scenarios), None, file_args)?;
    let mut reports = Vec::new();
    let mut code = ExitCode::Ok;
    for file in files {
        let document = Document::read(file).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::BadInput
        })?;
        if let Some(stopped) = &document.outcome.stopped {
            eprint!("error: {} is the report of a run that stopped early:\n{}", file.display(), text::stopped(stopped));
            return Err(document.outcome.exit_code());
        }
        code = code.max_with(document.outcome.exit_code());
        reports.extend(document.outcome.reports);
    }
    let mut columns: Vec<Column> = Vec::new();
    for r in &mut reports {
        // Scenarios that needed extra flags ran on a sibling cluster of the same release.
        r.cluster = kubeproof::cluster::base_label(&r.cluster).to_string();
        if !columns.iter().any(|c| c.cluster == r.cluster) {
            columns.push(Column { cluster: r.cluster.clone(), server_version: r.server_version.clone() });
        }
    }
    let about = about(&scenarios);
    Ok(Built { matrix: Matrix::build(columns, &reports, about), reports, code })
}

/// Opens every target, runs every scenario on each, and builds the matrix. Local releases run
/// together as far as the machine has room ([`machine_room`]); each one's clusters stop
/// when its last scenario is done, and the next release starts.
async fn build(
    targets: &[Target],
    scenarios: &PathBuf,
    files: FileArgs,
    jobs: usize,
    releases_at_once: Option<u16>,
) -> Result<Built, ExitCode> {
    let scenarios = load(std::slice::from_ref(scenarios), None, files).and_then(|s| selected(s, std::slice::from_ref(scenarios), None))?;
    for t in targets {
        if let Target::Local(v) = t {
            check_version(v)?;
        }
    }
    // Every release is known before the first one is built or started.
    let mut resolved = Vec::with_capacity(targets.len());
    for t in targets {
        resolved.push(resolve_target(t.clone()).await?);
    }
    let targets = resolved.as_slice();
    let room = tokio::sync::Semaphore::new(releases_at_once.map_or_else(machine_room, usize::from));
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let opts = ExecOptions { events: terminal::progress(), ..ExecOptions::default() };
    let runs = targets.iter().map(|t| async {
        let _room = match t {
            // Never closed: acquire cannot fail.
            Target::Local(_) => room.acquire().await.ok(),
            Target::Context(_) => None,
        };
        // A cluster that died or a signal stops the whole matrix: no further release starts.
        if stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(None);
        }
        let pool = open_pool(t, &scenarios).await?;
        let outcome = exec::run_all(&pool, &scenarios, &opts, jobs).await;
        if outcome.stopped.is_some() {
            stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let base = pool.base();
        Ok(Some((Column { cluster: base.label.clone(), server_version: base.git_version.clone() }, outcome)))
    });
    let finished: Vec<Option<(Column, RunOutcome)>> = futures::future::join_all(runs).await.into_iter().collect::<Result<_, ExitCode>>()?;
    let outcomes: Vec<&RunOutcome> = finished.iter().flatten().map(|(_, o)| o).collect();
    // A partial table would mislead.
    if let Some(stopped) = outcomes.iter().find_map(|o| o.stopped.as_ref()) {
        let not_run = scenarios.len() * targets.len() - outcomes.iter().map(|o| o.reports.len()).sum::<usize>();
        eprint!("{}{}", text::stopped(stopped), text::not_finished(not_run));
        let outcome = RunOutcome { reports: Vec::new(), stopped: Some(stopped.clone()) };
        return Err(outcome.exit_code());
    }
    let mut columns = Vec::new();
    let mut reports = Vec::new();
    let mut code = ExitCode::Ok;
    for (column, outcome) in finished.into_iter().flatten() {
        // As `run` would exit on that release: a cluster a scenario needed that did not start is 3.
        code = code.max_with(outcome.exit_code());
        let mut pool_reports = outcome.reports;
        // Scenarios that needed extra flags ran on a sibling cluster of the same release.
        for r in &mut pool_reports {
            r.cluster = column.cluster.clone();
        }
        columns.push(column);
        reports.extend(pool_reports);
    }
    let about = about(&scenarios);
    Ok(Built { matrix: Matrix::build(columns, &reports, about), reports, code })
}

/// How many local releases a matrix runs at once: one per core, and ~4 GiB of available memory
/// each. A release's suite keeps about 1.5 cores busy while it boots its clusters (measured in
/// docs/performance.md); beyond that, releases only slow each other down, and on a starved
/// machine steps time out that would pass.
fn machine_room() -> usize {
    const PER_RELEASE: u64 = 4 << 30;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let kib = m.lines().find(|l| l.starts_with("MemAvailable:"))?.split_whitespace().nth(1)?.parse::<u64>().ok()?;
        usize::try_from(kib * 1024 / PER_RELEASE).ok()
    });
    cores.min(available.unwrap_or(cores)).max(1)
}

/// Each scenario's description and sources, for the page.
fn about(scenarios: &[Scenario]) -> BTreeMap<String, About> {
    scenarios
        .iter()
        .map(|s| (s.name.clone(), About { description: kubeproof::scenario::cases::description(s), sources: s.spec.sources.clone() }))
        .collect()
}
