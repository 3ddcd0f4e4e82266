//! `kubeproof init`: a starter for someone else's repository — a first check that passes on
//! every release, the scenario schema for yaml-language-server, and a CI workflow (a job per
//! release, then one matrix). It never overwrites: if any of its files exists, it writes none.

use std::path::{Path, PathBuf};

use clap::Args;

use super::ExitCode;
use kubeproof::cluster::local::FileError;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The repository to write into.
    #[arg(default_value = ".")]
    pub repo: PathBuf,
}

/// What `init` writes, relative to the repository.
fn files() -> [(&'static str, String); 3] {
    let schema = serde_json::to_string_pretty(&schemars::schema_for!(kubeproof::scenario::ScenarioSpec)).unwrap_or_default();
    [
        ("kubeproof/checks/service-account-token.yaml", include_str!("init/check.yaml").to_string()),
        ("kubeproof/scenario.schema.json", format!("{schema}\n")),
        (".github/workflows/kubeproof.yml", include_str!("init/workflow.yaml").to_string()),
    ]
}

pub fn init(args: InitArgs) -> ExitCode {
    if !args.repo.is_dir() {
        eprintln!("error: {} is not a directory", args.repo.display());
        return ExitCode::BadInput;
    }
    let files = files();
    let taken: Vec<String> = files
        .iter()
        .map(|(path, _)| args.repo.join(path))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        eprintln!("error: kubeproof init writes nothing over what exists: {}", taken.join(", "));
        return ExitCode::BadInput;
    }
    for (path, text) in &files {
        if let Err(e) = write_new(&args.repo.join(path), text) {
            eprintln!("error: {e}");
            return ExitCode::BadInput;
        }
        println!("wrote {}", args.repo.join(path).display());
    }
    println!("next: kubeproof run {} --local latest", args.repo.join("kubeproof/checks").display());
    ExitCode::Ok
}

/// Creates `path` (and its directories); a file that appeared meanwhile is not overwritten.
fn write_new(path: &Path, text: &str) -> Result<(), FileError> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(FileError::new("cannot create", dir))?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(FileError::new("cannot create", path))?;
    file.write_all(text.as_bytes()).map_err(FileError::new("cannot write", path))
}
