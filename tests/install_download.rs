//! `kubeproof cluster install` on the download path, without internet: an HTTP server on
//! 127.0.0.1 serves the release layout (`release/vX.Y.Z/bin/linux/ARCH/NAME` + `NAME.sha256`,
//! `etcd/vA.B.C/etcd-vA.B.C-linux-ARCH.tar.gz` + `SHA256SUMS`) from stand-in files made here.
//! Each install runs the real binary with its own KUBEPROOF_CACHE_DIR, so the user's cache is
//! never touched, and with KUBEPROOF_GO pointing at a fake `go` that answers version look-ups but
//! fails every build with a marker — so "it fell back to building" is observable in seconds.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use kubeproof::cluster::local::download::release_arch;

const VERSION: &str = "1.24.17";
const TAG: &str = "v1.24.17";
/// kubeproof pairs 1.24 with this etcd (`etcd_version_for`).
const ETCD: &str = "v3.5.35";
const KUBE: &[&str] = kubeproof::cluster::local::install::KUBE_BINARIES;
const BUILD_MARKER: &str = "FAKE-GO: build attempted";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn arch() -> &'static str {
    release_arch().expect("the tests run on an architecture with official release binaries")
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("kubeproof-dl-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A minimal HTTP/1.1 file server: GET path → body, else 404. Records every path asked for.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(files: BTreeMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let files = Arc::new(files);
        // Lives until the test process ends; every connection gets its own thread.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (files, seen) = (files.clone(), seen.clone());
                std::thread::spawn(move || serve(conn, &files, &seen));
            }
        });
        Server { base, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(mut conn: TcpStream, files: &BTreeMap<String, Vec<u8>>, seen: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(path.clone());
    let (status, body) = match files.get(&path) {
        Some(b) => ("200 OK", b.as_slice()),
        None => ("404 Not Found", &b"not found"[..]),
    };
    let _ = write!(conn, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = conn.write_all(body);
}

/// The stand-ins: what each binary holds, and the served layout.
struct Release {
    binaries: BTreeMap<&'static str, Vec<u8>>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Release {
    fn kube_path(name: &str) -> String {
        format!("/release/{TAG}/bin/linux/{}/{name}", arch())
    }

    fn etcd_path(file: &str) -> String {
        format!("/etcd/{ETCD}/{file}")
    }

    fn tarball() -> String {
        format!("etcd-{ETCD}-linux-{}.tar.gz", arch())
    }

    fn new() -> Release {
        let mut binaries = BTreeMap::new();
        let mut files = BTreeMap::new();
        for &name in KUBE {
            let body = format!("#!/bin/sh\necho '{name} stand-in {TAG}'\n").into_bytes();
            files.insert(format!("{}.sha256", Release::kube_path(name)), sha256(&body).into_bytes());
            files.insert(Release::kube_path(name), body.clone());
            binaries.insert(name, body);
        }
        let etcd = format!("#!/bin/sh\necho 'etcd stand-in {ETCD}'\n").into_bytes();
        let tarball = etcd_tarball(&etcd);
        let sums =
            format!("{}  etcd-{ETCD}-linux-other.tar.gz\n{}  {}\n", sha256(b"another architecture"), sha256(&tarball), Release::tarball());
        files.insert(Release::etcd_path("SHA256SUMS"), sums.into_bytes());
        files.insert(Release::etcd_path(&Release::tarball()), tarball);
        binaries.insert("etcd", etcd);
        Release { binaries, files }
    }
}

/// etcd's release layout: `etcd-vA.B.C-linux-ARCH/{etcd,etcdctl,README.md}`.
fn etcd_tarball(etcd: &[u8]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let dir = format!("etcd-{ETCD}-linux-{}", arch());
    for (name, body, mode) in [("README.md", &b"etcd\n"[..], 0o644), ("etcdctl", &b"#!/bin/sh\n"[..], 0o755), ("etcd", etcd, 0o755)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, format!("{dir}/{name}"), body).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A `go` that answers `go env` and `go list` (version resolution) and fails anything else.
fn fake_go(dir: &Path) -> PathBuf {
    let path = dir.join("go");
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  env) echo go1.0-fake; exit 0 ;;\n  list) exit 0 ;;\nesac\necho \"{BUILD_MARKER}: go $*\" >&2\nexit 7\n"
    );
    std::fs::write(&path, script).unwrap();
    make_executable(&path);
    path
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `kubeproof cluster install --version 1.24.17 ARGS` with a cache of its own; killed and
/// failed after 60 s, so a hang is a test failure, not a stuck run.
fn install(scratch: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubeproof"));
    cmd.args(["cluster", "install", "--version", VERSION])
        .args(args)
        .env("KUBEPROOF_CACHE_DIR", scratch.join("cache"))
        .env("KUBEPROOF_GO", fake_go(scratch))
        .env("GOPROXY", "off")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // Nothing from the caller's environment may steer these runs elsewhere.
    for var in ["KUBEPROOF_SOURCE", "KUBEPROOF_MIRROR", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]
    {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kubeproof cluster install {args:?} did not finish within 60 s:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        ok: status.success(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        took: started.elapsed(),
    }
}

fn manifest(scratch: &Path, entry: &str) -> Option<serde_json::Value> {
    let text = std::fs::read(scratch.join("cache").join(entry).join("manifest.json")).ok()?;
    Some(serde_json::from_slice(&text).unwrap())
}

/// Files whose name starts with `.download-` anywhere under the cache: none may survive.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(leftovers(&p));
            } else if e.file_name().to_string_lossy().starts_with(".download-") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn good_mirror_installs_verified_binaries_and_records_them() {
    let release = Release::new();
    let server = Server::start(release.files.clone());
    let scratch = Scratch::new("good");
    // What a killed install leaves behind is cleared by the next one.
    let entry = scratch.0.join(format!("cache/kubernetes/{TAG}"));
    std::fs::create_dir_all(&entry).unwrap();
    std::fs::write(entry.join(".download-kubectl-999999"), b"partial").unwrap();
    let run = install(&scratch.0, &["--source", "download", "--mirror", &server.base], &[]);
    assert!(run.ok, "install failed:\n{}", run.stderr);
    assert!(!run.stderr.contains(BUILD_MARKER), "nothing may be built:\n{}", run.stderr);
    assert!(run.stdout.contains(&format!("Kubernetes {VERSION} installed")), "{}", run.stdout);

    let kube = manifest(&scratch.0, &format!("kubernetes/{TAG}")).expect("a Kubernetes manifest");
    assert_eq!(kube["origin"], "download");
    assert_eq!(kube["version"], TAG);
    for name in KUBE {
        let record = &kube["binaries"][name];
        assert_eq!(record["sha256"], sha256(&release.binaries[name]), "{name}");
        assert_eq!(record["url"], format!("{}{}", server.base, Release::kube_path(name)));
        let installed = scratch.0.join(format!("cache/kubernetes/{TAG}/bin/{name}"));
        assert_eq!(std::fs::read(&installed).unwrap(), release.binaries[name]);
        // Executable: the stand-in runs.
        let out = Command::new(&installed).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{name} stand-in {TAG}"));
    }
    let etcd = manifest(&scratch.0, &format!("etcd/{ETCD}")).expect("an etcd manifest");
    assert_eq!(etcd["origin"], "download");
    assert_eq!(etcd["binaries"]["etcd"]["sha256"], sha256(&release.binaries["etcd"]));
    assert_eq!(etcd["binaries"]["etcd"]["url"], format!("{}{}", server.base, Release::etcd_path(&Release::tarball())));
    assert_eq!(std::fs::read(scratch.0.join(format!("cache/etcd/{ETCD}/bin/etcd"))).unwrap(), release.binaries["etcd"]);
    // Only etcd comes out of the tarball.
    assert!(!scratch.0.join(format!("cache/etcd/{ETCD}/bin/etcdctl")).exists());
    assert_eq!(leftovers(&scratch.0.join("cache")), Vec::<PathBuf>::new());

    // Cached now: a second install, verified by re-hashing, asks the server for nothing.
    let asked = server.requests().len();
    let again = install(&scratch.0, &["--verify", "--mirror", &server.base], &[]);
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(server.requests().len(), asked, "a cached release must not be downloaded again");
}

#[test]
fn mirror_and_source_come_from_the_environment() {
    let release = Release::new();
    let server = Server::start(release.files.clone());
    let scratch = Scratch::new("env");
    let run = install(&scratch.0, &[], &[("KUBEPROOF_SOURCE", "download"), ("KUBEPROOF_MIRROR", &server.base)]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(manifest(&scratch.0, &format!("kubernetes/{TAG}")).unwrap()["origin"], "download");

    // KUBEPROOF_SOURCE=build (our CI's setting) never asks a download site.
    let fresh = Scratch::new("env-build");
    let asked = server.requests().len();
    let build = install(&fresh.0, &[], &[("KUBEPROOF_SOURCE", "build"), ("KUBEPROOF_MIRROR", &server.base)]);
    assert!(!build.ok && build.stderr.contains(BUILD_MARKER), "{}", build.stderr);
    assert_eq!(server.requests().len(), asked);

    let bad = install(&fresh.0, &[], &[("KUBEPROOF_SOURCE", "web")]);
    assert!(!bad.ok && bad.stderr.contains("KUBEPROOF_SOURCE") && bad.stderr.contains("`web`"), "{}", bad.stderr);
    let typo = install(&fresh.0, &["--mirror", "mirror.example"], &[]);
    assert!(!typo.ok && typo.stderr.contains("--mirror") && !typo.stderr.contains(BUILD_MARKER), "{}", typo.stderr);
}

#[test]
fn tampered_binary_is_refused_and_named_even_in_auto() {
    let release = Release::new();
    let mut files = release.files.clone();
    files.insert(Release::kube_path("kube-controller-manager"), b"#!/bin/sh\necho pwned\n".to_vec());
    let server = Server::start(files);
    let scratch = Scratch::new("tampered");
    let run = install(&scratch.0, &["--source", "auto", "--mirror", &server.base], &[]);
    assert!(!run.ok, "a tampered file must fail the install:\n{}", run.stderr);
    assert!(run.stderr.contains("checksum mismatch for kube-controller-manager"), "{}", run.stderr);
    assert!(run.stderr.contains(&Release::kube_path("kube-controller-manager")), "the error names the URL:\n{}", run.stderr);
    assert!(!run.stderr.contains(BUILD_MARKER), "a mismatch must not fall back to building:\n{}", run.stderr);
    // Nothing of the release entered the cache: no manifest, no binary, no temporary file.
    assert!(manifest(&scratch.0, &format!("kubernetes/{TAG}")).is_none());
    for name in KUBE {
        assert!(!scratch.0.join(format!("cache/kubernetes/{TAG}/bin/{name}")).exists(), "{name}");
    }
    assert_eq!(leftovers(&scratch.0.join("cache")), Vec::<PathBuf>::new());
}

#[test]
fn tampered_etcd_tarball_is_refused() {
    let release = Release::new();
    let mut files = release.files.clone();
    let mut tarball = files[&Release::etcd_path(&Release::tarball())].clone();
    let last = tarball.len() - 1;
    tarball[last] ^= 1;
    files.insert(Release::etcd_path(&Release::tarball()), tarball);
    let server = Server::start(files);
    let scratch = Scratch::new("tampered-etcd");
    let run = install(&scratch.0, &["--mirror", &server.base], &[]);
    assert!(!run.ok);
    assert!(run.stderr.contains(&format!("checksum mismatch for {}", Release::tarball())), "{}", run.stderr);
    assert!(!run.stderr.contains(BUILD_MARKER), "{}", run.stderr);
    assert!(!scratch.0.join(format!("cache/etcd/{ETCD}/bin/etcd")).exists());
}

#[test]
fn missing_file_falls_back_to_building_in_auto_only() {
    let release = Release::new();
    let mut files = release.files.clone();
    files.remove(&Release::kube_path("kubectl"));
    let server = Server::start(files);

    let scratch = Scratch::new("missing-auto");
    let run = install(&scratch.0, &["--source", "auto", "--mirror", &server.base], &[]);
    assert!(run.stderr.contains("HTTP 404"), "{}", run.stderr);
    assert!(run.stderr.contains(BUILD_MARKER), "auto must try a build when a file is missing:\n{}", run.stderr);
    assert!(!run.ok, "the fake go fails every build");
    // etcd was complete on the mirror and is installed from it; the partial Kubernetes download left nothing.
    assert_eq!(manifest(&scratch.0, &format!("etcd/{ETCD}")).unwrap()["origin"], "download");
    assert!(!scratch.0.join(format!("cache/kubernetes/{TAG}/bin/kube-apiserver")).exists());
    assert_eq!(leftovers(&scratch.0.join("cache")), Vec::<PathBuf>::new());

    let strict = Scratch::new("missing-download");
    let run = install(&strict.0, &["--source", "download", "--mirror", &server.base], &[]);
    assert!(!run.ok);
    assert!(run.stderr.contains("HTTP 404") && run.stderr.contains("kubectl"), "{}", run.stderr);
    assert!(!run.stderr.contains(BUILD_MARKER), "--source download never builds:\n{}", run.stderr);
}

#[test]
fn unreachable_mirror_falls_back_within_seconds() {
    // A port that was free a moment ago: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let scratch = Scratch::new("unreachable");
    let run = install(&scratch.0, &["--mirror", &format!("http://127.0.0.1:{port}")], &[]);
    assert!(run.stderr.contains(BUILD_MARKER), "auto must fall back to building:\n{}", run.stderr);
    assert!(run.took < Duration::from_secs(10), "the fallback took {:?}", run.took);
}
