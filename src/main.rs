use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod cli;

use cli::ExitCode;

/// kubeproof: documented Kubernetes ServiceAccount token behaviour, as executable evidence.
///
/// Exit codes: 0 all passed, 1 a scenario failed, 2 bad input (nothing ran),
/// 3 no usable cluster (or it died), 4 a report file could not be written after the run,
/// 128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) after cleaning up.
#[derive(Parser, Debug)]
#[command(version = version_text(), about, long_about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios on a cluster.
    Run(cli::run::RunArgs),
    /// Check scenario files without a cluster: syntax, keys, references, manifests.
    Lint {
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        files: cli::run::FileArgs,
    },
    /// List scenarios with the releases and flags they need.
    List {
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        files: cli::run::FileArgs,
    },
    /// Print the JSON Schema of scenario files (for yaml-language-server), or of JSON reports.
    Schema {
        /// The schema of `run --json` reports instead.
        #[arg(long)]
        report: bool,
    },
    /// Run every scenario on several releases and print the behaviour matrix.
    Matrix(cli::matrix::MatrixArgs),
    /// What changed between two releases: the scenarios whose outcome differs.
    Diff(cli::matrix::DiffArgs),
    /// Write a starter into a repository: a first check, the scenario schema, a CI workflow.
    Init(cli::init::InitArgs),
    /// Local control planes of the official binaries, built from the Go modules (no Docker).
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCommand),
}

/// `kubeproof --version`: this kubeproof, and the Kubernetes releases its behaviour matrix ran on.
fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let releases = kubeproof::cluster::local::versions::MATRIX_RELEASES.join(", ");
        format!(
            "{}\nKubernetes releases of the behaviour matrix: {releases} (any release from 1.22, and its alpha, beta and rc \
             pre-releases — `next` is the newest — is built the same way)",
            env!("CARGO_PKG_VERSION")
        )
    })
}

fn main() {
    let args = Args::parse();
    // `kubeproof schema | head`, `kubeproof cluster versions | head`: a closed pipe ends a command
    // that only prints quietly, as for any Unix tool. Commands that talk to a cluster keep SIGPIPE
    // ignored: a write to a connection the API server has just closed must be an error the run
    // handles (and cleans up after), not a signal that kills it.
    if matches!(
        args.command,
        Command::Lint { .. }
            | Command::List { .. }
            | Command::Schema { .. }
            | Command::Init(_)
            | Command::Cluster(cli::cluster::ClusterCommand::Versions | cli::cluster::ClusterCommand::List)
    ) {
        // SAFETY: restoring the default disposition of a signal before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    kubeproof::cluster::ensure_crypto_provider();
    kubeproof::cluster::local::node::this_program_is_the_cli();
    kubeproof::progress::to_stderr();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = runtime.block_on(async {
        // Before anything is created, so that no signal meets the default disposition.
        kubeproof::interrupt::listen();
        tokio::spawn(async {
            let signal = kubeproof::interrupt::first().await;
            eprintln!("\nkubeproof: {}: stopping and deleting what the scenarios created (again to skip that)", signal.name());
            kubeproof::interrupt::second().await;
            eprintln!("kubeproof: skipping the rest of the cleanup");
        });
        match args.command {
            Command::Run(a) => cli::run::run(a).await,
            Command::Lint { paths, files } => cli::run::lint(&paths, files),
            Command::List { paths, files } => cli::run::list(&paths, files),
            Command::Schema { report } => cli::run::schema(report),
            Command::Matrix(a) => cli::matrix::matrix(a).await,
            Command::Diff(a) => cli::matrix::diff(a).await,
            Command::Init(a) => cli::init::init(a),
            Command::Cluster(cmd) => cli::cluster::run(cmd).await.unwrap_or_else(|e| {
                eprintln!("error: {e}");
                ExitCode::Cluster
            }),
        }
    });
    // Shutting the runtime down drops any local cluster still held, which stops its processes.
    // A blocking task still running (a build cut short by a signal) is not waited for: its
    // processes die with kubeproof (parent-death signal).
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code.code());
}
