//! Installing a release: kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, and etcd — the
//! official release binaries when they can be downloaded and verified (see `download.rs`),
//! else built from the official `k8s.io/kubernetes` and `go.etcd.io/etcd/server/v3` Go modules —
//! cached per version under the user cache directory with a manifest of sha256 sums.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::FileError;
use super::digest::sha256_file;
use super::download::{self, Failure, Fetched, Limits, SettingError, Site, Source};
use super::go::{self, Go, GoError};
use super::resolve_error::ResolveError;
use crate::version::KubeVersion;

/// The Kubernetes binaries kubeproof builds. A cache entry made when this list was shorter
/// gets the missing ones added (built or downloaded alone), not the whole release again.
pub const KUBE_BINARIES: &[&str] = &["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"];

/// A node's Kubernetes binaries, built (or downloaded) only for clusters with nodes, into the
/// same cache entry: the same wrapper module, the same release URL layout.
pub const NODE_BINARIES: &[&str] = &["kubelet", "kube-proxy"];

/// etcd for a release: kubeadm pairs up to 1.33 with 3.5.x, 1.34–1.36 with 3.6.x, and 1.37
/// (`DefaultEtcdVersion` 3.7.0) and 1.38 (its pre-releases too: 3.7.1) with 3.7.x; kubeproof
/// takes each one's newest patch. All are at least 3.5.13, below which streaming-list watches
/// (default since 1.32) fail.
pub fn etcd_version_for(v: KubeVersion) -> &'static str {
    match (v.major, v.minor) {
        (1, 37..) => "v3.7.4",
        (1, 34..) => "v3.6.16",
        _ => "v3.5.35",
    }
}

/// An installed release: where its binaries are.
#[derive(Clone, Debug)]
pub struct Installation {
    pub version: KubeVersion,
    pub bin_dir: PathBuf,
    pub etcd: PathBuf,
}

impl Installation {
    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

/// What a cache entry records about itself.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Manifest {
    pub module: String,
    pub version: String,
    pub go_version: String,
    pub built_at: String,
    pub build_seconds: u64,
    /// Binary name → (sha256 hex, size in bytes).
    pub binaries: BTreeMap<String, BinaryRecord>,
    /// Downloaded or built; entries written before downloads existed were built.
    #[serde(default)]
    pub origin: Origin,
    /// Staging modules built at another version than the release's own, and why (see
    /// `Quirks::substitutes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitutes: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    #[default]
    Build,
    Download,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BinaryRecord {
    pub sha256: String,
    pub size: u64,
    /// Where a downloaded binary came from (for etcd, the release tarball).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `$XDG_CACHE_HOME/kubeproof` or `~/.cache/kubeproof`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("KUBEPROOF_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache"));
    base.join("kubeproof")
}

pub(crate) fn kube_dir(v: KubeVersion) -> PathBuf {
    cache_root().join("kubernetes").join(v.tag())
}

fn etcd_dir(tag: &str) -> PathBuf {
    cache_root().join("etcd").join(tag)
}

/// Releases with a complete cache entry.
pub fn installed_versions() -> Vec<KubeVersion> {
    let Ok(entries) = std::fs::read_dir(cache_root().join("kubernetes")) else { return Vec::new() };
    let mut out: Vec<KubeVersion> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|v| is_installed(*v))
        .collect();
    out.sort();
    out
}

/// How a cached release was had, for `cluster versions` and `run --verbose`: `built with
/// go1.27.4` or `official binaries`.
pub fn how_installed(v: KubeVersion) -> String {
    match read_manifest(&kube_dir(v)) {
        Some(m) if m.origin == Origin::Download => "official binaries".to_string(),
        Some(m) if !m.go_version.is_empty() => format!("built with {}", m.go_version),
        _ => "built".to_string(),
    }
}

/// Quick check (sizes only) that a release and its etcd are cached.
pub fn is_installed(v: KubeVersion) -> bool {
    quick_check(&kube_dir(v)) && quick_check(&etcd_dir(etcd_version_for(v)))
}

/// Why a release could not be installed: resolved, downloaded, built or cached.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// `--source`, `--mirror` or their variables cannot be used.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The request names no release the Go module proxy serves.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The download site cannot be reached or lacks the release, and no build was allowed.
    #[error("cannot download the official {what} binaries: {why} (--source auto builds them instead)")]
    Unavailable { what: String, why: String },
    /// The download site answered with something kubeproof refuses: a checksum that does not
    /// match, a file too large, an archive without the binary.
    #[error("{what}: {why}")]
    Refused { what: String, why: String },
    /// No Go toolchain, or a go command (a build) failed: its status and the end of its output.
    #[error(transparent)]
    Go(#[from] GoError),
    /// `go mod download -json` printed no such field.
    #[error("go mod download printed no {0}")]
    GoOutput(&'static str),
    /// The cache entry cannot be created, locked, read or written.
    #[error(transparent)]
    Cache(#[from] FileError),
    /// The build's module directory cannot be written.
    #[error("{0}")]
    Io(std::io::Error),
    #[error("cannot write the manifest: {0}")]
    Manifest(std::io::Error),
    #[error("{0}")]
    Json(serde_json::Error),
}

impl InstallError {
    /// The release asked for is not one there is: bad input, not a failed install.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, InstallError::Resolve(e) if e.is_bad_input())
    }
}

/// Options for [`install`].
#[derive(Clone, Debug, Default)]
pub struct InstallOptions {
    /// Re-hash every binary against the manifest (a mismatch installs again).
    pub verify: bool,
    /// Install again even when cached.
    pub force: bool,
    /// Download, build, or download falling back to a build; `None`: `KUBEPROOF_SOURCE`, else auto.
    pub source: Option<Source>,
    /// A base URL holding both download layouts; `None`: `KUBEPROOF_MIRROR`, else the official sites.
    pub mirror: Option<String>,
    /// Also the node binaries ([`NODE_BINARIES`]): the cluster will have nodes.
    pub nodes: bool,
}

/// Makes sure a release is installed and returns it. Downloads or builds when needed.
pub fn install(v: KubeVersion, opts: &InstallOptions) -> Result<Installation, InstallError> {
    let source = match opts.source {
        Some(s) => s,
        None => Source::from_env()?,
    };
    let site = Site::choose(opts.mirror.as_deref())?;
    let limits = Limits::default();
    let etcd_tag = etcd_version_for(v);
    let kdir = kube_dir(v);
    let edir = etcd_dir(etcd_tag);
    let how = How { opts, source };
    how.ensure_entry(
        Entry { dir: &edir, what: format!("etcd {etcd_tag}"), module: ("go.etcd.io/etcd/server/v3", etcd_tag), site: &site.etcd },
        &["etcd"],
        |dir, _| {
            let etcd = download::fetch_etcd(&site, etcd_tag, dir, &limits)?;
            place(dir, "go.etcd.io/etcd/server/v3", etcd_tag, vec![etcd])
        },
        |go, dir, _| build_etcd(go, dir, etcd_tag),
    )?;
    let wanted: Vec<&str> = KUBE_BINARIES.iter().chain(if opts.nodes { NODE_BINARIES } else { &[] }).copied().collect();
    how.ensure_entry(
        Entry { dir: &kdir, what: format!("Kubernetes {v}"), module: ("k8s.io/kubernetes", &v.tag()), site: &site.kubernetes },
        &wanted,
        |dir, names| place(dir, "k8s.io/kubernetes", &v.tag(), download::fetch_kubernetes(&site, v, names, dir, &limits)?),
        |go, dir, names| build_kubernetes(go, dir, v, names),
    )?;
    Ok(Installation { version: v, bin_dir: kdir.join("bin"), etcd: edir.join("bin/etcd") })
}

/// Moves verified downloads into `dir/bin` and describes them. The old manifest goes first, so
/// an interrupted move never leaves a manifest that vouches for other files.
fn place(dir: &Path, module: &str, version: &str, fetched: Vec<Fetched>) -> Result<Manifest, Failure> {
    let fatal = |e: String| Failure::Fatal(e);
    let manifest = dir.join("manifest.json");
    if manifest.exists() {
        std::fs::remove_file(&manifest).map_err(|e| fatal(FileError::new("cannot remove", &manifest)(e).to_string()))?;
    }
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| fatal(FileError::new("cannot create", &bin)(e).to_string()))?;
    let mut binaries = BTreeMap::new();
    for f in fetched {
        let record = BinaryRecord { sha256: f.sha256.clone(), size: f.size, url: Some(f.url.clone()) };
        let name = f.name.clone();
        f.persist(&bin.join(&name))?;
        binaries.insert(name, record);
    }
    Ok(Manifest {
        module: module.into(),
        version: version.into(),
        // Official binaries: built by the project's release process, not by a Go here.
        go_version: String::new(),
        built_at: crate::clock::now_rfc3339(),
        build_seconds: 0,
        binaries,
        origin: Origin::Download,
        substitutes: Vec::new(),
    })
}

/// Removes a release from the cache.
pub fn uninstall(v: KubeVersion) -> Result<(), FileError> {
    let dir = kube_dir(v);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(FileError::new("cannot remove", &dir))?;
    }
    Ok(())
}

/// A cache entry, and where what it lacks comes from.
struct Entry<'a> {
    dir: &'a Path,
    /// How progress lines name it: `etcd v3.6.16`, `Kubernetes 1.37.2`.
    what: String,
    /// The Go module (path, version) a build starts from.
    module: (&'a str, &'a str),
    /// Where its official binaries are downloaded from.
    site: &'a str,
}

/// How an install obtains what the cache lacks.
struct How<'a> {
    opts: &'a InstallOptions,
    source: Source,
}

impl How<'_> {
    /// Makes sure the entry holds every binary of `wanted`. A fresh entry that lacks some (made
    /// by an older kubeproof) gets only those, downloaded or built, added to its manifest. A
    /// build uses the Go its module's go.mod needs ([`Go::for_module`]).
    fn ensure_entry(
        &self,
        entry: Entry,
        wanted: &[&str],
        download: impl FnOnce(&Path, &[&str]) -> Result<Manifest, Failure>,
        build: impl FnOnce(&Go, &Path, &[&str]) -> Result<Manifest, InstallError>,
    ) -> Result<(), InstallError> {
        let Entry { dir, what, module, site } = entry;
        let opts = self.opts;
        std::fs::create_dir_all(dir).map_err(FileError::new("cannot create", dir))?;
        // One installer per entry at a time, across processes.
        let _lock = lock(&dir.join(".lock"))?;
        download::remove_stale(dir);
        let fresh = !opts.force && if opts.verify { full_check(dir) } else { quick_check(dir) };
        // What the entry has, when it only lacks binaries: kept, and the missing ones added.
        let mut base = if fresh { read_manifest(dir) } else { None };
        let missing: Vec<&str> = match &base {
            Some(m) => wanted.iter().copied().filter(|n| !m.binaries.contains_key(*n)).collect(),
            None => wanted.to_vec(),
        };
        if fresh && missing.is_empty() {
            return Ok(());
        }
        if base.is_some() {
            crate::progress::say(&format!("the cached {what} lacks {} (newer kubeproof); adding only that", missing.join(", ")));
        } else if !opts.force && read_manifest(dir).is_some() {
            crate::progress::say(&format!("the cached {what} does not match its manifest; installing it again"));
        }
        let what = &if base.is_some() { format!("{what} ({})", missing.join(", ")) } else { what.to_string() };
        let started = Instant::now();
        let downloaded = match self.source {
            Source::Build => None,
            Source::Download | Source::Auto => {
                let progress = Progress::start(format!("downloading the official {what} binaries from {site}"), "");
                let result = download(dir, &missing);
                progress.finish();
                match result {
                    Ok(m) => Some(m),
                    // No route, no such release there: a build gets the same binaries, slower.
                    Err(Failure::Unavailable(why)) if self.source == Source::Auto => {
                        crate::progress::say(&format!("no official {what} binaries ({why}); building them from the Go modules instead"));
                        None
                    }
                    Err(Failure::Unavailable(why)) => {
                        return Err(InstallError::Unavailable { what: what.clone(), why });
                    }
                    Err(Failure::Fatal(why)) => return Err(InstallError::Refused { what: what.clone(), why }),
                }
            }
        };
        let (mut manifest, verb) = match downloaded {
            Some(m) => (m, "downloaded and verified"),
            None => {
                let go = Go::find()?.for_module(module.0, module.1)?;
                let progress = Progress::start(
                    format!("building {what} from the official Go modules with {}", go.describe()),
                    " (several minutes on a cold cache)",
                );
                let result = build(&go, dir, &missing);
                progress.finish();
                (result?, "built")
            }
        };
        manifest.build_seconds = started.elapsed().as_secs();
        if let Some(mut kept) = base.take() {
            // The entry keeps its origin; each added binary's record says where it came from.
            kept.build_seconds += manifest.build_seconds;
            kept.binaries.extend(manifest.binaries);
            for s in manifest.substitutes {
                if !kept.substitutes.contains(&s) {
                    kept.substitutes.push(s);
                }
            }
            manifest = kept;
        }
        let text = serde_json::to_string_pretty(&manifest).map_err(InstallError::Json)?;
        std::fs::write(dir.join("manifest.json"), text).map_err(InstallError::Manifest)?;
        crate::progress::say(&format!("{verb} {what} in {}", human(started.elapsed())));
        Ok(())
    }
}

pub fn read_manifest(dir: &Path) -> Option<Manifest> {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()
}

fn quick_check(dir: &Path) -> bool {
    let Some(m) = read_manifest(dir) else { return false };
    !m.binaries.is_empty()
        && m.binaries.iter().all(|(name, rec)| std::fs::metadata(dir.join("bin").join(name)).is_ok_and(|md| md.len() == rec.size))
}

fn full_check(dir: &Path) -> bool {
    let Some(m) = read_manifest(dir) else { return false };
    quick_check(dir) && m.binaries.iter().all(|(name, rec)| sha256_file(&dir.join("bin").join(name)).is_ok_and(|h| h == rec.sha256))
}

fn record(dir: &Path, names: &[&str]) -> Result<BTreeMap<String, BinaryRecord>, FileError> {
    names
        .iter()
        .map(|name| {
            let path = dir.join("bin").join(name);
            let size = std::fs::metadata(&path).map_err(FileError::at(&path))?.len();
            Ok((name.to_string(), BinaryRecord { sha256: sha256_file(&path)?, size, url: None }))
        })
        .collect()
}

/// Per-release adjustments needed to build old releases with a current Go. See
/// docs/control-plane.md for how each was found. (A release that needs a newer Go than this
/// machine's gets it without one: `Go::for_module`.)
struct Quirks {
    /// Staging modules the module proxy does not serve at the release's own `v0.X.Y`, with the
    /// version built instead; the manifest records each.
    substitutes: &'static [(&'static str, &'static str)],
    /// Third-party modules built at another version than upstream pins, because the pinned one
    /// breaks under a current Go, with the version and the reason; the manifest records each.
    pins: &'static [(&'static str, &'static str, &'static str)],
    /// Modules the module proxy serves at the release's version but the checksum database
    /// (through that proxy) does not know: taken unverified by it (`GONOSUMDB`), recorded.
    unchecked: &'static [&'static str],
}

/// Every release from 1.23.17 to 1.37.2 builds with a current Go (1.23's missing OpenAPI
/// definitions are handled by detection, not version).
fn quirks(v: KubeVersion) -> Quirks {
    let substitutes: &[_] = if v == KubeVersion::new(1, 22, 7) { &V1_22_7_SUBSTITUTES } else { &[] };
    let pins: &[_] = match (v.major, v.minor) {
        (1, 22) => &V1_22_PINS,
        _ => &[],
    };
    // No patch of v0.30.x of k8s.io/kube-proxy (config types only, no code the node runs) is
    // both served and in the checksum database here; v0.30.14's zip is served.
    let unchecked: &[_] = if v == KubeVersion::new(1, 30, 14) { &["k8s.io/kube-proxy"] } else { &[] };
    Quirks { substitutes, pins, unchecked }
}

/// 1.22 pins reflect2 v1.0.1, whose map iteration and allocation (linknamed into the runtime)
/// crash under Go 1.18 and later: built with Go 1.26, kube-apiserver panics in json-iterator on
/// the first YAML response holding a map and from then on decodes no JSON body with a map (every
/// namespace create is a 500). v1.0.2 is the fix, what 1.23 pins; json-iterator stays at 1.22's
/// v1.1.11.
const V1_22_PINS: [(&str, &str, &str); 1] = [("github.com/modern-go/reflect2", "v1.0.2", "v1.0.1 crashes under Go 1.18 and later")];

/// The module proxy refuses these twelve at v0.22.7 (403 "not available"; also at v0.22.14) and
/// serves v0.22.6 and v0.22.8. Their sources are identical at v0.22.6 and v0.22.8 for all but two
/// — so also at v0.22.7 — and differ for csi-translation-lib and legacy-cloud-providers only in
/// Azure and AWS code, which a local control plane never runs. None holds token code. v0.22.6 is
/// used: nothing of a later release gets in.
const V1_22_7_SUBSTITUTES: [(&str, &str); 12] = [
    ("k8s.io/cloud-provider", "v0.22.6"),
    ("k8s.io/cluster-bootstrap", "v0.22.6"),
    ("k8s.io/controller-manager", "v0.22.6"),
    ("k8s.io/csi-translation-lib", "v0.22.6"),
    ("k8s.io/kube-aggregator", "v0.22.6"),
    ("k8s.io/kube-controller-manager", "v0.22.6"),
    ("k8s.io/kube-proxy", "v0.22.6"),
    ("k8s.io/kube-scheduler", "v0.22.6"),
    ("k8s.io/legacy-cloud-providers", "v0.22.6"),
    ("k8s.io/mount-utils", "v0.22.6"),
    ("k8s.io/pod-security-admission", "v0.22.6"),
    ("k8s.io/sample-apiserver", "v0.22.6"),
];

/// The version every staging module is published at for a release: `v0.X.Y`, `v0.38.0-beta.0`.
fn staging_version(v: KubeVersion) -> String {
    KubeVersion { major: 0, ..v }.tag()
}

/// The generated wrapper module's go.mod: the upstream `go` and `godebug` lines, every staging
/// module upstream's go.mod replaces by a `./staging/…` directory replaced by its published
/// `v0.X.Y` (the list is the release's own), and (up to 1.25) upstream's pinned replaces.
pub fn wrapper_go_mod(upstream: &str, v: KubeVersion) -> String {
    let staging_version = staging_version(v);
    let mut out =
        String::from("// Generated by kubeproof: builds the official Kubernetes commands.\nmodule kubeproof.local/kubernetes\n\n");
    let mut replaces = Vec::new();
    let mut in_replace = false;
    let mut in_godebug = false;
    for line in upstream.lines() {
        let t = line.trim();
        if in_replace || in_godebug {
            if t == ")" {
                if in_godebug {
                    out.push_str(")\n");
                }
                in_replace = false;
                in_godebug = false;
            } else if in_replace {
                replaces.push(t.to_string());
            } else {
                let _ = writeln!(out, "\t{t}");
            }
            continue;
        }
        if t.starts_with("go ") {
            let _ = writeln!(out, "{t}");
        } else if t == "godebug (" {
            in_godebug = true;
            out.push_str("godebug (\n");
        } else if t.starts_with("godebug ") {
            let _ = writeln!(out, "{t}");
        } else if t == "replace (" {
            in_replace = true;
        } else if let Some(r) = t.strip_prefix("replace ") {
            replaces.push(r.to_string());
        }
    }
    let _ = writeln!(out, "\nrequire k8s.io/kubernetes {}\n", v.tag());
    for r in replaces {
        let r = r.split("//").next().unwrap_or("").trim();
        let Some((from, to)) = r.split_once("=>") else { continue };
        let (from, to) = (from.trim(), to.trim());
        let module = from.split_whitespace().next().unwrap_or(from);
        if to.starts_with("./") {
            let version = quirks(v).substitutes.iter().find(|(m, _)| *m == module).map_or(staging_version.as_str(), |(_, s)| s);
            let _ = writeln!(out, "replace {module} => {module} {version}");
        } else if let Some((_, version, _)) = quirks(v).pins.iter().find(|(m, _, _)| *m == module) {
            let _ = writeln!(out, "replace {module} => {module} {version}");
        } else {
            let _ = writeln!(out, "replace {from} => {to}");
        }
    }
    out
}

/// Version ldflags as upstream's hack/lib/version.sh sets them, so `/version` tells the truth.
fn version_ldflags(v: KubeVersion, commit: &str) -> String {
    let mut flags = String::from("-s -w");
    let build_date = crate::clock::now_rfc3339();
    for pkg in ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"] {
        for (key, val) in [
            ("gitVersion", v.tag()),
            ("gitMajor", v.major.to_string()),
            ("gitMinor", v.minor.to_string()),
            ("gitCommit", commit.to_string()),
            ("gitTreeState", "clean".to_string()),
            ("buildDate", build_date.clone()),
        ] {
            let _ = write!(flags, " -X {pkg}.{key}={val}");
        }
    }
    flags
}

/// Builds the named commands of a release into `dir/bin`. A wrapper module left by an earlier
/// build of the entry is reused as is, so adding one binary costs the link, not the release.
fn build_kubernetes(go: &Go, dir: &Path, v: KubeVersion, names: &[&str]) -> Result<Manifest, InstallError> {
    let module_dir = dir.join("module");
    std::fs::create_dir_all(&module_dir).map_err(InstallError::Io)?;
    let q = quirks(v);
    let with_env = |cmd: &mut std::process::Command| {
        cmd.current_dir(&module_dir).env("CGO_ENABLED", "0").env("GOFLAGS", "-mod=mod -buildvcs=false");
        if !q.unchecked.is_empty() {
            cmd.env("GONOSUMDB", q.unchecked.join(","));
        }
    };
    // The upstream go.mod and the commit the tag points at.
    let mut dl = go.command();
    dl.args(["mod", "download", "-json", &format!("k8s.io/kubernetes@{}", v.tag())]).current_dir(std::env::temp_dir());
    let out = go::run(&mut dl, &format!("go mod download k8s.io/kubernetes@{}", v.tag()))?;
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(InstallError::Json)?;
    let commit = info.pointer("/Origin/Hash").and_then(|h| h.as_str()).unwrap_or("").to_string();
    let gomod_path = info.get("GoMod").and_then(|p| p.as_str()).ok_or(InstallError::GoOutput("GoMod"))?;
    let upstream = std::fs::read_to_string(gomod_path).map_err(FileError::at(gomod_path))?;
    let mut gomod = wrapper_go_mod(&upstream, v);
    std::fs::write(module_dir.join("go.mod"), &gomod).map_err(InstallError::Io)?;
    let _ = std::fs::remove_file(module_dir.join("go.sum"));

    // Up to 1.23 the module lacks its generated OpenAPI definitions: regenerate them.
    let source = info.get("Dir").and_then(|d| d.as_str()).ok_or(InstallError::GoOutput("Dir"))?;
    let generated = Path::new(source).join("pkg/generated/openapi/zz_generated.openapi.go");
    let regenerated = module_dir.join("kubernetes/pkg/generated/openapi/zz_generated.openapi.go");
    if !generated.exists() && regenerated.exists() {
        // Regenerated by an earlier build of this entry (deterministic output): reuse it.
        gomod.push_str(REGENERATED_REPLACE);
        std::fs::write(module_dir.join("go.mod"), &gomod).map_err(InstallError::Io)?;
    } else if !generated.exists() {
        let script = module_dir.join("openapi-gen.sh");
        std::fs::write(&script, include_str!("openapi-gen.sh")).map_err(InstallError::Io)?;
        let mut generate = std::process::Command::new("bash");
        generate.arg(&script).arg(v.tag()).arg(&module_dir).env("PATH", go_path_env(go));
        if let Some(toolchain) = &go.toolchain {
            generate.env("GOTOOLCHAIN", toolchain);
        }
        go::run(&mut generate, &format!("openapi-gen.sh {} (regenerating the OpenAPI definitions)", v.tag()))?;
        gomod.push_str(REGENERATED_REPLACE);
        std::fs::write(module_dir.join("go.mod"), &gomod).map_err(InstallError::Io)?;
    }

    let packages: Vec<String> = names.iter().map(|b| format!("k8s.io/kubernetes/cmd/{b}")).collect();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(InstallError::Io)?;
    let mut build = go.command();
    // -v: the packages as they compile, counted for the progress lines.
    build.args(["build", "-v", "-trimpath", "-ldflags", &version_ldflags(v, &commit), "-o"]).arg(&bin).args(&packages);
    with_env(&mut build);
    go::run(&mut build, &format!("go build {} (in {})", packages.join(" "), module_dir.display()))?;
    Ok(Manifest {
        module: "k8s.io/kubernetes".into(),
        version: v.tag(),
        go_version: go.version(),
        built_at: crate::clock::now_rfc3339(),
        build_seconds: 0,
        binaries: record(dir, names)?,
        origin: Origin::Build,
        substitutes: q
            .substitutes
            .iter()
            .map(|(m, s)| format!("{m} {s} ({} is not served)", staging_version(v)))
            .chain(q.pins.iter().map(|(m, s, why)| format!("{m} {s} ({why})")))
            .chain(q.unchecked.iter().map(|m| format!("{m} {} (not in the checksum database here: unverified by it)", staging_version(v))))
            .collect(),
    })
}

const REGENERATED_REPLACE: &str =
    "\n// The module plus its regenerated OpenAPI definitions (see openapi-gen.sh).\nreplace k8s.io/kubernetes => ./kubernetes\n";

/// PATH with the directory of kubeproof's `go` first, for scripts that call `go`.
fn go_path_env(go: &Go) -> std::ffi::OsString {
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(dir) = go.program.parent().filter(|d| !d.as_os_str().is_empty()) {
        paths.push(dir.to_path_buf());
    }
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap_or_default()
}

fn build_etcd(go: &Go, dir: &Path, tag: &str) -> Result<Manifest, InstallError> {
    let module_dir = dir.join("module");
    std::fs::create_dir_all(&module_dir).map_err(InstallError::Io)?;
    let gomod = format!(
        "// Generated by kubeproof: builds the official etcd server.\nmodule kubeproof.local/etcd\n\ngo 1.23\n\nrequire go.etcd.io/etcd/server/v3 {tag}\n"
    );
    std::fs::write(module_dir.join("go.mod"), gomod).map_err(InstallError::Io)?;
    let _ = std::fs::remove_file(module_dir.join("go.sum"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(InstallError::Io)?;
    let mut build = go.command();
    build
        .args(["build", "-v", "-trimpath", "-ldflags", "-s -w", "-o"])
        .arg(bin.join("etcd"))
        .arg("go.etcd.io/etcd/server/v3")
        .current_dir(&module_dir)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod -buildvcs=false");
    go::run(&mut build, &format!("go build go.etcd.io/etcd/server/v3@{tag} (in {})", module_dir.display()))?;
    Ok(Manifest {
        module: "go.etcd.io/etcd/server/v3".into(),
        version: tag.into(),
        go_version: go.version(),
        built_at: crate::clock::now_rfc3339(),
        build_seconds: 0,
        binaries: record(dir, &["etcd"])?,
        origin: Origin::Build,
        substitutes: Vec::new(),
    })
}

/// `1m05s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// An exclusive `flock` held until dropped.
struct Lock(File);

fn lock(path: &Path) -> Result<Lock, FileError> {
    use std::os::fd::AsRawFd;
    let f = File::options().create(true).truncate(false).write(true).open(path).map_err(FileError::at(path))?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(FileError::new("cannot lock", path)(std::io::Error::last_os_error()));
    }
    Ok(Lock(f))
}

impl Drop for Lock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking our own descriptor.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// "still building … (2m30s)" on stderr every 30 s while a long step runs.
struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// `note` is said once, at the start.
    fn start(what: String, note: &str) -> Progress {
        crate::progress::say(&format!("{what}{note}"));
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let compiled_before = go::PACKAGES_COMPILED.load(Ordering::Relaxed);
            let mut next = Duration::from_secs(30);
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if started.elapsed() >= next {
                    let compiled = go::PACKAGES_COMPILED.load(Ordering::Relaxed) - compiled_before;
                    let packages = if compiled > 0 { format!(", {compiled} packages compiled") } else { String::new() };
                    crate::progress::say(&format!("still {what} ({}{packages})", human(started.elapsed())));
                    next += Duration::from_secs(30);
                }
            }
        });
        Progress { done, thread: Some(thread) }
    }

    fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_replaces_staging_and_keeps_pins() {
        let upstream = "module k8s.io/kubernetes\n\ngo 1.19\n\nrequire (\n\tgithub.com/a/b v1.0.0\n)\n\nreplace (\n\tgithub.com/a/b => github.com/a/b v1.0.1\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/client-go => ./staging/src/k8s.io/client-go // comment\n)\n";
        let gomod = wrapper_go_mod(upstream, KubeVersion::new(1, 23, 17));
        assert!(gomod.contains("go 1.19\n"));
        assert!(gomod.contains("require k8s.io/kubernetes v1.23.17"));
        assert!(gomod.contains("replace k8s.io/api => k8s.io/api v0.23.17"));
        assert!(gomod.contains("replace k8s.io/client-go => k8s.io/client-go v0.23.17"));
        assert!(gomod.contains("replace github.com/a/b => github.com/a/b v1.0.1"));
        assert!(!gomod.contains("./staging"));
    }

    #[test]
    fn staging_modules_the_proxy_refuses_come_from_the_nearest_served_patch() {
        let upstream = "module k8s.io/kubernetes\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/cloud-provider => ./staging/src/k8s.io/cloud-provider\n)\n";
        let gomod = wrapper_go_mod(upstream, KubeVersion::new(1, 22, 7));
        assert!(gomod.contains("replace k8s.io/api => k8s.io/api v0.22.7"), "{gomod}");
        assert!(gomod.contains("replace k8s.io/cloud-provider => k8s.io/cloud-provider v0.22.6"), "{gomod}");
        let other = wrapper_go_mod(upstream, KubeVersion::new(1, 22, 17));
        assert!(other.contains("replace k8s.io/cloud-provider => k8s.io/cloud-provider v0.22.17"), "{other}");
    }

    #[test]
    fn a_pin_that_breaks_under_a_current_go_is_replaced() {
        let upstream = "module k8s.io/kubernetes\n\nreplace (\n\tgithub.com/modern-go/reflect2 => github.com/modern-go/reflect2 v1.0.1\n\tgithub.com/json-iterator/go => github.com/json-iterator/go v1.1.11\n)\n";
        let gomod = wrapper_go_mod(upstream, KubeVersion::new(1, 22, 7));
        assert!(gomod.contains("replace github.com/modern-go/reflect2 => github.com/modern-go/reflect2 v1.0.2\n"), "{gomod}");
        assert!(gomod.contains("replace github.com/json-iterator/go => github.com/json-iterator/go v1.1.11\n"), "{gomod}");
        let later = wrapper_go_mod(upstream, KubeVersion::new(1, 23, 17));
        assert!(later.contains("reflect2 v1.0.1"), "only 1.22 is changed: {later}");
    }

    #[test]
    fn manifests_written_before_downloads_read_as_built() {
        let old = r#"{"module":"k8s.io/kubernetes","version":"v1.23.17","go_version":"go1.26.8","built_at":"2026-11-20T10:00:00Z","build_seconds":873,"binaries":{"kubectl":{"sha256":"ab","size":3}}}"#;
        let m: Manifest = serde_json::from_str(old).unwrap();
        assert_eq!(m.origin, Origin::Build);
        assert_eq!(m.binaries["kubectl"].url, None);
        // A built entry is written as before, plus its origin; no url fields.
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""origin":"build""#) && !text.contains("url"), "{text}");
    }

    /// A pre-release's staging modules are published at its own pre-release; the list of them is
    /// the release's (1.38 adds k8s.io/apiextensions-api).
    #[test]
    fn a_pre_release_replaces_its_own_staging_modules_at_its_version() {
        let upstream = "module k8s.io/kubernetes\n\ngo 1.27.0\n\ngodebug default=go1.27\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/apiextensions-api => ./staging/src/k8s.io/apiextensions-api\n)\n";
        let beta: KubeVersion = "1.38.0-beta.0".parse().unwrap();
        let gomod = wrapper_go_mod(upstream, beta);
        assert!(gomod.contains("go 1.27.0\n") && gomod.contains("godebug default=go1.27"), "{gomod}");
        assert!(gomod.contains("require k8s.io/kubernetes v1.38.0-beta.0"), "{gomod}");
        assert!(gomod.contains("replace k8s.io/api => k8s.io/api v0.38.0-beta.0"), "{gomod}");
        assert!(gomod.contains("replace k8s.io/apiextensions-api => k8s.io/apiextensions-api v0.38.0-beta.0"), "{gomod}");
    }

    #[test]
    fn etcd_is_paired_as_kubeadm_pairs_it() {
        let etcd = |v: &str| etcd_version_for(v.parse().unwrap());
        assert_eq!(etcd("1.33.5"), "v3.5.35");
        assert_eq!(etcd("1.34.0"), "v3.6.16");
        assert_eq!(etcd("1.36.5"), "v3.6.16");
        assert_eq!(etcd("1.37.2"), "v3.7.4");
        assert_eq!(etcd("1.38.0-alpha.0"), "v3.7.4");
        assert_eq!(etcd("1.38.0"), "v3.7.4");
    }

    #[test]
    fn wrapper_keeps_godebug() {
        let upstream =
            "module k8s.io/kubernetes\n\ngo 1.26.0\n\ngodebug default=go1.26\n\nreplace k8s.io/api => ./staging/src/k8s.io/api\n";
        let gomod = wrapper_go_mod(upstream, KubeVersion::new(1, 37, 2));
        assert!(gomod.contains("godebug default=go1.26"));
        assert!(gomod.contains("replace k8s.io/api => k8s.io/api v0.37.2"));
    }
}
