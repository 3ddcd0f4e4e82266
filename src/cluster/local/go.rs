//! The Go toolchain: how kubeproof obtains official Kubernetes and etcd sources and binaries.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::version::{KubeVersion, ReleaseName};

/// Why the Go toolchain could not do what kubeproof asked of it.
#[derive(Debug, thiserror::Error)]
pub enum GoError {
    /// No `go` (or `$KUBEPROOF_GO`) that answers `go env GOVERSION`.
    #[error(
        "the Go toolchain (`{}`) was not found: kubeproof builds the control plane from the official Go \
         modules. Install Go 1.21 or newer (https://go.dev/dl, or your distribution's golang package) \
         or point KUBEPROOF_GO at a go binary.",
        .program.display()
    )]
    NotFound { program: PathBuf },
    /// A go command could not be started.
    #[error("`{what}` could not start: {error}")]
    Spawn { what: String, error: std::io::Error },
    /// A go command could not be waited for.
    #[error("`{what}`: {error}")]
    Wait { what: String, error: std::io::Error },
    /// A go command failed: its exit status and the end of its output.
    #[error("`{what}` failed ({status}):\n{tail}")]
    Failed { what: String, status: std::process::ExitStatus, tail: String },
}

/// The `go` command kubeproof drives (`$KUBEPROOF_GO`, else `go` on PATH).
#[derive(Clone, Debug)]
pub struct Go {
    pub program: PathBuf,
}

impl Go {
    pub fn find() -> Result<Go, GoError> {
        let program = std::env::var_os("KUBEPROOF_GO").map(PathBuf::from).unwrap_or_else(|| "go".into());
        match Command::new(&program).arg("env").arg("GOVERSION").output() {
            Ok(out) if out.status.success() => Ok(Go { program }),
            _ => Err(GoError::NotFound { program }),
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        // Builds happen in generated modules; a user's go.work must not leak in.
        c.env("GOWORK", "off");
        // A build cut short by a signal stops with kubeproof. (`go` runs from the blocking thread
        // that waits for it, which lives as long as the build.)
        super::process::die_with_parent(&mut c);
        c
    }

    /// The toolchain's own version, e.g. `go1.26.8`.
    pub fn version(&self) -> String {
        self.command()
            .args(["env", "GOVERSION"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    pub fn mod_cache(&self) -> Result<PathBuf, GoError> {
        let out = run(self.command().args(["env", "GOMODCACHE"]), "go env GOMODCACHE")?;
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    }

    /// Every published `k8s.io/kubernetes` release and pre-release the module proxy lists, oldest first.
    pub fn listed_kubernetes_versions(&self) -> Result<Vec<KubeVersion>, GoError> {
        let out = run(
            self.command().args(["list", "-m", "-versions", "k8s.io/kubernetes"]).current_dir(std::env::temp_dir()),
            "go list -m -versions k8s.io/kubernetes",
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        // Strictly: a tag of another pre-release kind must not pass for its release.
        let mut versions: Vec<KubeVersion> = text
            .split_whitespace()
            .skip(1)
            .filter_map(|v| match v.parse() {
                Ok(ReleaseName::Exact(v)) => Some(v),
                _ => None,
            })
            .collect();
        versions.sort();
        Ok(versions)
    }

    /// Whether the module proxy has exactly this release.
    pub fn has_kubernetes(&self, v: KubeVersion) -> bool {
        self.command()
            .args(["list", "-m", "-json", &format!("k8s.io/kubernetes@{}", v.tag())])
            .current_dir(std::env::temp_dir())
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

/// Packages that `go build -v` has named so far in this process, as it compiled them: what
/// the progress lines of a long build count.
pub static PACKAGES_COMPILED: AtomicUsize = AtomicUsize::new(0);

/// The stderr lines a failed command keeps for its message (a `-v` build prints thousands).
const KEPT_LINES: usize = 200;

/// Runs a command, counting the packages a `go build -v` names on stderr as they go; a failure
/// names the command and shows the end of its output.
pub fn run(cmd: &mut Command, what: &str) -> Result<Output, GoError> {
    use std::io::{BufRead as _, Read as _};
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| GoError::Spawn { what: what.to_string(), error })?;
    let mut stdout_pipe = child.stdout.take();
    let stdout = std::thread::spawn(move || {
        let mut all = Vec::new();
        if let Some(pipe) = stdout_pipe.as_mut() {
            let _ = pipe.read_to_end(&mut all);
        }
        all
    });
    let mut kept: VecDeque<String> = VecDeque::new();
    if let Some(pipe) = child.stderr.take() {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            // `-v` names each package alone on its line; errors have spaces or a `#` header.
            if !line.is_empty() && !line.contains(' ') && !line.starts_with('#') {
                PACKAGES_COMPILED.fetch_add(1, Ordering::Relaxed);
            }
            if kept.len() == KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    }
    let status = child.wait().map_err(|error| GoError::Wait { what: what.to_string(), error })?;
    let stderr = kept.into_iter().flat_map(|l| (l + "\n").into_bytes()).collect();
    let out = Output { status, stdout: stdout.join().unwrap_or_default(), stderr };
    if out.status.success() { Ok(out) } else { Err(GoError::Failed { what: what.to_string(), status: out.status, tail: tail(&out, 30) }) }
}

/// The last lines of a command's stderr and stdout.
pub fn tail(out: &Output, lines: usize) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    super::process::last_lines(&text, lines)
}

/// `$dir/go.mod` of a module version in the download cache.
pub fn cached_go_mod(mod_cache: &Path, module: &str, version: &str) -> PathBuf {
    mod_cache.join("cache/download").join(module).join("@v").join(format!("{version}.mod"))
}
