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
    /// A module needs a newer Go than this one, and the module proxy lists no toolchain for it.
    #[error(
        "{module} needs go {needs} or newer and this Go is {have}, but the Go module proxy lists no go{needs} or later \
         patch for {host} (golang.org/toolchain): install a newer Go, or point KUBEPROOF_GO at one"
    )]
    NoToolchain { module: String, needs: String, have: String, host: String },
}

impl GoError {
    /// The module a failed go command could not fetch because the module proxy refused it
    /// (`reading https://proxy…/@v/v1.0.0.zip: 403 Forbidden`): what this machine cannot get,
    /// as opposed to a build that broke.
    pub fn refused_module(&self) -> Option<String> {
        let GoError::Failed { tail, .. } = self else { return None };
        tail.lines().find_map(|line| {
            let refused = ["403 Forbidden", "404 Not Found", "410 Gone"].iter().any(|s| line.trim_end().ends_with(s));
            let (before, _) = line.split_once(": reading ")?;
            refused.then(|| before.rsplit(' ').next().unwrap_or(before).to_string())
        })
    }
}

/// The `go` command kubeproof drives (`$KUBEPROOF_GO`, else `go` on PATH).
#[derive(Clone, Debug)]
pub struct Go {
    pub program: PathBuf,
    /// `GOTOOLCHAIN` for every command: a newer Go than this machine's, which the go command
    /// fetches through the module proxy (and keeps in its module cache), for a module that needs
    /// it ([`for_module`](Self::for_module)). `None`: the go command's own choice.
    pub toolchain: Option<String>,
}

impl Go {
    pub fn find() -> Result<Go, GoError> {
        let program = std::env::var_os("KUBEPROOF_GO").map(PathBuf::from).unwrap_or_else(|| "go".into());
        match Command::new(&program).arg("env").arg("GOVERSION").output() {
            Ok(out) if out.status.success() => Ok(Go { program, toolchain: None }),
            _ => Err(GoError::NotFound { program }),
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        // Builds happen in generated modules; a user's go.work must not leak in.
        c.env("GOWORK", "off");
        if let Some(toolchain) = &self.toolchain {
            c.env("GOTOOLCHAIN", toolchain);
        }
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

    /// The Go that builds `module@version`: this one when it is as new as the module's go.mod
    /// asks (its `go` line: what Go itself enforces of a dependency), else the newest patch of
    /// that Go release the module proxy lists — the toolchain `GOTOOLCHAIN=auto` switches to for
    /// a dependency that needs a newer Go — run through `GOTOOLCHAIN`. A go.mod that cannot be
    /// read leaves this Go: the build itself then says what is wrong.
    pub fn for_module(&self, module: &str, version: &str) -> Result<Go, GoError> {
        let Some(needs) = self.go_line_of(module, version) else { return Ok(self.clone()) };
        let have = self.version();
        match (GoRelease::read(&needs), GoRelease::read(have.trim_start_matches("go"))) {
            (Some(needed), Some(own)) if own < needed => {
                let toolchain = self.newest_toolchain(&needed).ok_or_else(|| GoError::NoToolchain {
                    module: format!("{module}@{version}"),
                    needs: needs.clone(),
                    have: have.clone(),
                    host: self.host(),
                })?;
                Ok(Go { toolchain: Some(toolchain), ..self.clone() })
            }
            _ => Ok(self.clone()),
        }
    }

    /// The `go` line of `module@version`'s go.mod (`1.27.0`), from the module proxy.
    fn go_line_of(&self, module: &str, version: &str) -> Option<String> {
        let out =
            self.command().args(["list", "-m", "-json", &format!("{module}@{version}")]).current_dir(std::env::temp_dir()).output().ok()?;
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let go_mod = std::fs::read_to_string(info.get("GoMod")?.as_str()?).ok()?;
        go_mod.lines().find_map(|l| l.trim().strip_prefix("go ")).map(|v| v.trim().to_string())
    }

    /// `linux-amd64`: the platform toolchains are published for.
    fn host(&self) -> String {
        let out = self.command().args(["env", "GOHOSTOS", "GOHOSTARCH"]).output().ok();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        text.split_whitespace().collect::<Vec<_>>().join("-")
    }

    /// `go1.27.4`: the newest toolchain of `needed`'s Go release, at least `needed`, that the
    /// module proxy lists for this platform.
    fn newest_toolchain(&self, needed: &GoRelease) -> Option<String> {
        let out =
            self.command().args(["list", "-m", "-versions", "golang.org/toolchain"]).current_dir(std::env::temp_dir()).output().ok()?;
        let suffix = format!(".{}", self.host());
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|v| v.strip_prefix("v0.0.1-go")?.strip_suffix(suffix.as_str()))
            .filter_map(|v| GoRelease::read(v).map(|r| (r, v)))
            .filter(|(r, _)| (r.major, r.minor) == (needed.major, needed.minor) && r >= needed)
            .max_by_key(|(r, _)| *r)
            .map(|(_, v)| format!("go{v}"))
    }

    /// What this Go is, as progress lines say it: `go1.27.4 (the module proxy's, as the
    /// release's go.mod needs go 1.27.0; this machine has go1.26.8)`.
    pub fn describe(&self) -> String {
        match &self.toolchain {
            None => self.version(),
            Some(toolchain) => {
                let own = Go { toolchain: None, ..self.clone() }.version();
                format!("{toolchain} (a newer Go than this machine's {own}, fetched through the Go module proxy)")
            }
        }
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

/// A Go version as go.mod lines and toolchains name them, ordered as Go orders them:
/// `1.27` (a language version) < `1.27rc1` < `1.27.0` < `1.27.4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GoRelease {
    major: u32,
    minor: u32,
    /// 0 a language version, 1 a beta, 2 a release candidate, 3 a release.
    stage: u8,
    /// The beta's or candidate's number, or the release's patch.
    n: u32,
}

impl GoRelease {
    fn read(text: &str) -> Option<GoRelease> {
        let end = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
        let (numbers, tail) = text.split_at(end);
        let mut numbers = numbers.split('.').map(str::parse::<u32>);
        let (major, minor) = (numbers.next()?.ok()?, numbers.next()?.ok()?);
        let patch = numbers.next().map(|p| p.ok()).unwrap_or(None);
        let (stage, n) = match (patch, tail) {
            (Some(patch), "") => (3, patch),
            (None, "") => (0, 0),
            (None, t) if t.starts_with("rc") => (2, t[2..].parse().ok()?),
            (None, t) if t.starts_with("beta") => (1, t[4..].parse().ok()?),
            _ => return None,
        };
        Some(GoRelease { major, minor, stage, n })
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

#[cfg(test)]
mod tests {
    use super::{Go, GoError, GoRelease};

    #[test]
    fn a_module_the_proxy_refuses_is_named() {
        let failed = |tail: &str| GoError::Failed { what: "go build".into(), status: Default::default(), tail: tail.into() };
        let refused = failed(
            "go: downloading sigs.k8s.io/iptables-wrappers v1.0.0\n/root/go/pkg/mod/k8s.io/kubernetes@v1.38.0-beta.0/pkg/kubelet/kubelet_network_linux.go:26:2: \
             sigs.k8s.io/iptables-wrappers@v1.0.0: reading https://proxy.golang.org/sigs.k8s.io/iptables-wrappers/@v/v1.0.0.zip: 403 Forbidden\n\
             \tserver response: This module version is not available.",
        );
        assert_eq!(refused.refused_module().as_deref(), Some("sigs.k8s.io/iptables-wrappers@v1.0.0"));
        assert_eq!(failed("pkg/x.go:3:1: undefined: y").refused_module(), None);
        assert_eq!(failed("reading https://proxy.golang.org/x/@v/list: 500 Internal Server Error").refused_module(), None);
    }

    /// A `go` that answers what `for_module` asks: this machine's Go is go1.26.8, and the proxy
    /// lists these toolchains.
    fn fake_go(dir: &std::path::Path) -> Go {
        std::fs::create_dir_all(dir).unwrap();
        for (name, go_line) in [("new.mod", "go 1.27.0"), ("old.mod", "go 1.26.0"), ("far.mod", "go 1.29.0")] {
            std::fs::write(dir.join(name), format!("module k8s.io/kubernetes\n\n{go_line}\n")).unwrap();
        }
        let d = dir.display();
        let script = format!(
            "#!/bin/sh\ncase \"$*\" in\n\
             'env GOVERSION') echo go1.26.8 ;;\n\
             'env GOHOSTOS GOHOSTARCH') printf 'linux\\namd64\\n' ;;\n\
             'list -m -json m@new') echo '{{\"GoMod\": \"{d}/new.mod\"}}' ;;\n\
             'list -m -json m@old') echo '{{\"GoMod\": \"{d}/old.mod\"}}' ;;\n\
             'list -m -json m@far') echo '{{\"GoMod\": \"{d}/far.mod\"}}' ;;\n\
             'list -m -versions golang.org/toolchain') echo golang.org/toolchain v0.0.1-go1.26.9.linux-amd64 \
             v0.0.1-go1.27.0.linux-amd64 v0.0.1-go1.27.4.linux-amd64 v0.0.1-go1.27.5.darwin-arm64 v0.0.1-go1.27.10.linux-386 \
             v0.0.1-go1.28rc1.linux-amd64 ;;\n\
             *) exit 1 ;;\nesac\n"
        );
        let program = dir.join("go");
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Go { program, toolchain: None }
    }

    #[test]
    fn a_module_that_needs_a_newer_go_gets_the_newest_patch_the_proxy_lists_for_this_host() {
        let dir = std::env::temp_dir().join(format!("kp-go-{}", crate::random::suffix(8)));
        let go = fake_go(&dir);
        assert_eq!(go.for_module("m", "new").unwrap().toolchain.as_deref(), Some("go1.27.4"));
        assert_eq!(go.for_module("m", "old").unwrap().toolchain, None, "go1.26.8 is new enough for go 1.26.0");
        assert_eq!(go.for_module("m", "unknown").unwrap().toolchain, None, "an unreadable go.mod leaves the build to say so");
        match go.for_module("m", "far") {
            Err(e @ GoError::NoToolchain { .. }) => {
                let said = e.to_string();
                assert!(said.contains("m@far needs go 1.29.0") && said.contains("go1.26.8") && said.contains("linux-amd64"), "{said}");
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn go_versions_order_as_go_orders_them() {
        let ordered = ["1.21", "1.26.8", "1.27", "1.27beta1", "1.27rc1", "1.27rc2", "1.27.0", "1.27.4", "1.27.10", "1.28rc1"];
        for pair in ordered.windows(2) {
            assert!(GoRelease::read(pair[0]) < GoRelease::read(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        for unreadable in ["", "devel", "1", "1.27.x", "1.27.0-foo"] {
            assert_eq!(GoRelease::read(unreadable), None, "{unreadable}");
        }
    }
}
