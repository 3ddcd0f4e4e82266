//! Official release binaries: Kubernetes' from `dl.k8s.io` (`release/vX.Y.Z/bin/linux/ARCH/NAME`
//! with its published `NAME.sha256`) and etcd's release tarball with its published `SHA256SUMS`,
//! or the same layouts under one mirror. Nothing enters the cache before its checksum matches:
//! each file is streamed to a temporary file in the cache entry, hashed on the way, and only then
//! renamed into place by the caller.
//!
//! Every step is bounded — a short connect timeout, a deadline per file, a stall timeout between
//! chunks and a size cap per file — so that a machine with no route to the site learns it within
//! seconds and builds instead.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::FileError;
use crate::version::KubeVersion;

/// Where Kubernetes publishes release binaries.
pub const OFFICIAL_KUBERNETES: &str = "https://dl.k8s.io";
/// Where etcd publishes release tarballs (`<this>/vA.B.C/etcd-vA.B.C-linux-ARCH.tar.gz`).
pub const OFFICIAL_ETCD: &str = "https://github.com/etcd-io/etcd/releases/download";

/// Where a release's binaries come from (`--source`, `KUBEPROOF_SOURCE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// Official binaries; build from the Go modules when the site cannot be reached or lacks
    /// the release. A checksum mismatch is still an error.
    #[default]
    Auto,
    /// Official binaries only.
    Download,
    /// Build from the Go modules only (no request to any download site).
    Build,
}

impl FromStr for Source {
    type Err = UnknownSource;
    fn from_str(s: &str) -> Result<Source, UnknownSource> {
        match s.trim() {
            "auto" => Ok(Source::Auto),
            "download" => Ok(Source::Download),
            "build" => Ok(Source::Build),
            other => Err(UnknownSource(other.to_string())),
        }
    }
}

impl Source {
    /// `KUBEPROOF_SOURCE`, or auto when it is unset or empty.
    pub fn from_env() -> Result<Source, SettingError> {
        match std::env::var("KUBEPROOF_SOURCE") {
            Ok(v) if !v.trim().is_empty() => v.parse().map_err(SettingError::Source),
            _ => Ok(Source::Auto),
        }
    }
}

/// A `--source` or `KUBEPROOF_SOURCE` that names no source (the value, trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a binary source: write download, build or auto")]
pub struct UnknownSource(pub String);

/// A download setting (`--source`/`KUBEPROOF_SOURCE`, `--mirror`/`KUBEPROOF_MIRROR`) that
/// cannot be used: refused before anything is downloaded or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// `KUBEPROOF_SOURCE` names no source: what [`Source::from_str`] says.
    #[error("KUBEPROOF_SOURCE: {0}")]
    Source(UnknownSource),
    /// A mirror that is not an http(s) URL, and where it was given.
    #[error("{from}: `{base}` is not a base URL (write http://HOST/PATH or https://HOST/PATH)")]
    Mirror { from: &'static str, base: String },
}

/// The base URLs of both layouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Holds `release/vX.Y.Z/bin/linux/ARCH/NAME` and `NAME.sha256`.
    pub kubernetes: String,
    /// Holds `vA.B.C/etcd-vA.B.C-linux-ARCH.tar.gz` and `vA.B.C/SHA256SUMS`.
    pub etcd: String,
}

impl Site {
    pub fn official() -> Site {
        Site { kubernetes: OFFICIAL_KUBERNETES.into(), etcd: OFFICIAL_ETCD.into() }
    }

    /// One mirror holding both layouts: `<base>/release/…` and `<base>/etcd/vA.B.C/…`.
    pub fn mirror(base: &str) -> Site {
        let base = base.trim().trim_end_matches('/');
        Site { kubernetes: base.to_string(), etcd: format!("{base}/etcd") }
    }

    /// The mirror given (`--mirror`), else `KUBEPROOF_MIRROR`, else the official sites. A
    /// mirror that is not an http(s) URL is an error here: a typo must not turn into a build.
    pub fn choose(mirror: Option<&str>) -> Result<Site, SettingError> {
        let env = std::env::var("KUBEPROOF_MIRROR").ok().filter(|m| !m.trim().is_empty());
        let (base, from) = match (mirror, env) {
            (Some(m), _) => (m.to_string(), "--mirror"),
            (None, Some(m)) => (m, "KUBEPROOF_MIRROR"),
            (None, None) => return Ok(Site::official()),
        };
        let base = base.trim();
        let rest = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
        if rest.is_none_or(|host| host.is_empty() || host.starts_with('/')) {
            return Err(SettingError::Mirror { from, base: base.to_string() });
        }
        Ok(Site::mirror(base))
    }

    pub fn kubernetes_url(&self, v: KubeVersion, arch: &str, name: &str) -> String {
        format!("{}/release/{}/bin/linux/{arch}/{name}", self.kubernetes, v.tag())
    }

    pub fn etcd_tarball_name(tag: &str, arch: &str) -> String {
        format!("etcd-{tag}-linux-{arch}.tar.gz")
    }

    pub fn etcd_url(&self, tag: &str, file: &str) -> String {
        format!("{}/{tag}/{file}", self.etcd)
    }
}

/// Release binaries exist for these; anything else builds.
pub fn release_arch() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        "powerpc64" if cfg!(target_endian = "little") => Some("ppc64le"),
        "s390x" => Some("s390x"),
        _ => None,
    }
}

/// Why a download did not give a verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The site could not be reached, answered an error status (404 included), or was too slow:
    /// `auto` builds instead.
    Unavailable(String),
    /// The site answered with something that must not be used — a checksum mismatch, a
    /// malformed checksum file, an oversized file, a tarball without etcd — or the cache cannot
    /// be written. Always an error: tampering must be visible, never hidden by a build.
    Fatal(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Unavailable(m) | Failure::Fatal(m) => m,
        }
    }
}

/// Time and size bounds of one download.
#[derive(Clone, Debug)]
pub struct Limits {
    /// TCP connect (DNS included): what an unreachable site costs.
    pub connect: Duration,
    /// From the request to the response headers (TLS, redirects).
    pub response: Duration,
    /// The longest wait for the next chunk of a body.
    pub stall: Duration,
    /// The whole of one file.
    pub total: Duration,
    /// A binary or a tarball (official kube-apiserver: about 100 MB).
    pub max_file: u64,
    /// A `.sha256` or `SHA256SUMS` file.
    pub max_checksums: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect: Duration::from_secs(3),
            response: Duration::from_secs(15),
            stall: Duration::from_secs(30),
            total: Duration::from_secs(15 * 60),
            max_file: 512 << 20,
            max_checksums: 1 << 20,
        }
    }
}

/// A verified file, still at its temporary path; deleted on drop unless persisted.
#[derive(Debug)]
pub struct Fetched {
    pub name: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    temp: Option<PathBuf>,
}

impl Fetched {
    /// Moves the file to `dest` (same filesystem: the cache entry) as an executable.
    pub fn persist(mut self, dest: &Path) -> Result<(), Failure> {
        let temp = self.temp.take().ok_or_else(|| Failure::Fatal("the downloaded file is gone".into()))?;
        set_executable(&temp).map_err(|e| Failure::Fatal(e.to_string()))?;
        std::fs::rename(&temp, dest).map_err(|e| Failure::Fatal(format!("cannot move {} to {}: {e}", temp.display(), dest.display())))
    }

    fn path(&self) -> &Path {
        self.temp.as_deref().unwrap_or(Path::new(""))
    }
}

impl Drop for Fetched {
    fn drop(&mut self) {
        if let Some(t) = self.temp.take() {
            let _ = std::fs::remove_file(t);
        }
    }
}

const TEMP_PREFIX: &str = ".download-";

/// A temporary file of this process in a cache entry (same filesystem as `bin/`: rename works).
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{TEMP_PREFIX}{name}-{}", std::process::id()))
}

/// Removes temporary files a killed install left in a cache entry. Called with the entry's lock
/// held, so none of them belongs to a live download.
pub fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn set_executable(path: &Path) -> Result<(), FileError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(FileError::at(path))
}

/// Downloads and verifies the named Kubernetes release binaries into temporary files in `dir`.
pub fn fetch_kubernetes(site: &Site, v: KubeVersion, names: &[&str], dir: &Path, limits: &Limits) -> Result<Vec<Fetched>, Failure> {
    let arch = release_arch().ok_or_else(unsupported_arch)?;
    run(limits, |client| async move {
        let mut out = Vec::new();
        for name in names {
            let url = site.kubernetes_url(v, arch, name);
            let text = get_text(&client, &format!("{url}.sha256"), limits).await?;
            let want = parse_digest(&text)
                .ok_or_else(|| Failure::Fatal(format!("{url}.sha256 is not a sha256 digest (it starts {:?})", preview(&text))))?;
            out.push(get_verified(&client, &url, name, &want, dir, limits).await?);
        }
        Ok(out)
    })
}

/// Downloads etcd's release tarball, verifies it against `SHA256SUMS` and extracts `etcd` into
/// a temporary file in `dir`.
pub fn fetch_etcd(site: &Site, tag: &str, dir: &Path, limits: &Limits) -> Result<Fetched, Failure> {
    let arch = release_arch().ok_or_else(unsupported_arch)?;
    let tarball = Site::etcd_tarball_name(tag, arch);
    let url = site.etcd_url(tag, &tarball);
    let (tarball, url) = (&tarball, &url);
    let archive = run(limits, |client| async move {
        let sums_url = site.etcd_url(tag, "SHA256SUMS");
        let sums = get_text(&client, &sums_url, limits).await?;
        let want = digest_for(&sums, tarball).ok_or_else(|| Failure::Fatal(format!("{sums_url} has no sha256 line for {tarball}")))?;
        get_verified(&client, url, tarball, &want, dir, limits).await
    })?;
    let member = format!("etcd-{tag}-linux-{arch}/etcd");
    let extracted = extract(archive.path(), &member, dir, limits.max_file).map_err(|e| Failure::Fatal(format!("{url}: {e}")))?;
    // Owned by a Fetched at once, so that any error below removes it.
    let mut etcd = Fetched { name: "etcd".into(), url: url.clone(), sha256: String::new(), size: 0, temp: Some(extracted) };
    etcd.sha256 = super::digest::sha256_file(etcd.path()).map_err(|e| Failure::Fatal(e.to_string()))?;
    etcd.size = std::fs::metadata(etcd.path()).map_err(|e| Failure::Fatal(format!("{}: {e}", etcd.path().display())))?.len();
    Ok(etcd)
}

fn unsupported_arch() -> Failure {
    Failure::Unavailable(format!("no official release binaries for {}", std::env::consts::ARCH))
}

/// Runs the downloads on a thread of their own with its own runtime: `install` is synchronous
/// and may be called from inside or outside a Tokio runtime.
fn run<T, F, Fut>(limits: &Limits, body: F) -> Result<T, Failure>
where
    T: Send,
    F: FnOnce(reqwest::Client) -> Fut + Send,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    crate::cluster::ensure_crypto_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(limits.connect)
        .read_timeout(limits.stall)
        .user_agent(concat!("kubeproof/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::Unavailable(format!("cannot make an HTTP client: {e}")))?;
    std::thread::scope(|s| {
        s.spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failure::Unavailable(format!("cannot start a runtime for the download: {e}")))?;
            rt.block_on(body(client))
        })
        .join()
        .unwrap_or_else(|_| Err(Failure::Unavailable("the download thread failed".into())))
    })
}

/// GET with the response deadline; any error status is `Unavailable`.
async fn get(client: &reqwest::Client, url: &str, limits: &Limits) -> Result<reqwest::Response, Failure> {
    let resp = match tokio::time::timeout(limits.response, client.get(url).send()).await {
        Err(_) => return Err(Failure::Unavailable(format!("{url}: no answer within {:.1}s", limits.response.as_secs_f64()))),
        Ok(Err(e)) => return Err(Failure::Unavailable(format!("{url}: {}", error_chain(&e)))),
        Ok(Ok(r)) => r,
    };
    if !resp.status().is_success() {
        return Err(Failure::Unavailable(format!("{url}: HTTP {}", resp.status())));
    }
    Ok(resp)
}

/// Streams a body into `sink` within the size cap and the per-file deadline.
async fn stream(
    mut resp: reqwest::Response,
    url: &str,
    cap: u64,
    started: Instant,
    limits: &Limits,
    mut sink: impl FnMut(&[u8]) -> Result<(), FileError>,
) -> Result<u64, Failure> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(Failure::Fatal(format!("{url} is larger than the {} MiB kubeproof accepts", cap >> 20)));
    }
    let mut size = 0u64;
    loop {
        let left = limits.total.saturating_sub(started.elapsed());
        let chunk = match tokio::time::timeout(left, resp.chunk()).await {
            Err(_) => return Err(Failure::Unavailable(format!("{url}: not complete within {:.1}s", limits.total.as_secs_f64()))),
            Ok(Err(e)) => return Err(Failure::Unavailable(format!("{url}: {}", error_chain(&e)))),
            Ok(Ok(None)) => return Ok(size),
            Ok(Ok(Some(c))) => c,
        };
        size += chunk.len() as u64;
        if size > cap {
            return Err(Failure::Fatal(format!("{url} is larger than the {} MiB kubeproof accepts", cap >> 20)));
        }
        sink(&chunk).map_err(|e| Failure::Fatal(e.to_string()))?;
    }
}

async fn get_text(client: &reqwest::Client, url: &str, limits: &Limits) -> Result<String, Failure> {
    let started = Instant::now();
    let resp = get(client, url, limits).await?;
    let mut body = Vec::new();
    stream(resp, url, limits.max_checksums, started, limits, |c| {
        body.extend_from_slice(c);
        Ok(())
    })
    .await?;
    String::from_utf8(body).map_err(|_| Failure::Fatal(format!("{url} is not text")))
}

/// Downloads `url` to a temporary file in `dir`, hashing as it goes; keeps it only if its
/// sha256 is `want`.
async fn get_verified(
    client: &reqwest::Client,
    url: &str,
    name: &str,
    want: &str,
    dir: &Path,
    limits: &Limits,
) -> Result<Fetched, Failure> {
    let started = Instant::now();
    let resp = get(client, url, limits).await?;
    let temp = temp_path(dir, name);
    let mut file = File::create(&temp).map_err(|e| Failure::Fatal(format!("cannot create {}: {e}", temp.display())))?;
    // From here on the temporary file is removed on every error path.
    let mut fetched = Fetched { name: name.to_string(), url: url.to_string(), sha256: String::new(), size: 0, temp: Some(temp.clone()) };
    let mut hasher = Sha256::new();
    fetched.size = stream(resp, url, limits.max_file, started, limits, |c| {
        hasher.update(c);
        file.write_all(c).map_err(FileError::new("cannot write", &temp))
    })
    .await?;
    file.sync_all().map_err(|e| Failure::Fatal(format!("cannot write {}: {e}", temp.display())))?;
    fetched.sha256 = hex::encode(hasher.finalize());
    if !fetched.sha256.eq_ignore_ascii_case(want) {
        return Err(Failure::Fatal(format!(
            "checksum mismatch for {name} ({url}): the published sha256 is {want}, the downloaded file's is {} — refused, not installed",
            fetched.sha256
        )));
    }
    Ok(fetched)
}

/// The digest in a `NAME.sha256` file: its first word, 64 hex digits.
pub fn parse_digest(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())).then(|| word.to_ascii_lowercase())
}

/// The digest for `file` in a `SHA256SUMS` file (`<hex>  <name>`, `*<name>` for binary mode).
pub fn digest_for(sums: &str, file: &str) -> Option<String> {
    sums.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let digest = parse_digest(words.next()?)?;
        let name = words.next()?.trim_start_matches('*').trim_start_matches("./");
        (name == file && words.next().is_none()).then_some(digest)
    })
}

/// Extracts one regular file of a `.tar.gz` into a temporary file in `dir`, within `cap` bytes.
fn extract(archive: &Path, member: &str, dir: &Path, cap: u64) -> Result<PathBuf, ArchiveError> {
    let file = File::open(archive).map_err(FileError::at(archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let entries = tar.entries().map_err(ArchiveError::NotTarGz)?;
    for entry in entries {
        let mut entry = entry.map_err(ArchiveError::Invalid)?;
        let path = entry.path().map_err(ArchiveError::EntryName)?.to_string_lossy().trim_start_matches("./").to_string();
        if path != member || !entry.header().entry_type().is_file() {
            continue;
        }
        if entry.size() > cap {
            return Err(ArchiveError::TooLarge { member: member.to_string(), mib: cap >> 20 });
        }
        let dest = temp_path(dir, "etcd");
        let written = File::create(&dest)
            .and_then(|mut out| std::io::copy(&mut std::io::Read::take(&mut entry, cap), &mut out).and_then(|n| out.sync_all().map(|_| n)));
        return match written {
            Ok(_) => Ok(dest),
            Err(e) => {
                let _ = std::fs::remove_file(&dest);
                Err(ArchiveError::Extract { member: member.to_string(), error: FileError::at(dest)(e) })
            }
        };
    }
    Err(ArchiveError::Missing(member.to_string()))
}

/// Why etcd's release archive gave no binary.
#[derive(Debug, thiserror::Error)]
enum ArchiveError {
    #[error(transparent)]
    Open(#[from] FileError),
    #[error("not a tar.gz archive: {0}")]
    NotTarGz(std::io::Error),
    #[error("not a valid tar.gz archive: {0}")]
    Invalid(std::io::Error),
    #[error("bad entry name: {0}")]
    EntryName(std::io::Error),
    #[error("{member} is larger than the {mib} MiB kubeproof accepts")]
    TooLarge { member: String, mib: u64 },
    #[error("cannot extract {member} to {error}")]
    Extract { member: String, error: FileError },
    #[error("the archive has no {0}")]
    Missing(String),
}

/// An error and its causes: reqwest's own message hides whether it was DNS, refusal or timeout.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_parses_and_rejects() {
        assert_eq!("download".parse::<Source>(), Ok(Source::Download));
        assert_eq!(" build ".parse::<Source>(), Ok(Source::Build));
        assert_eq!("auto".parse::<Source>(), Ok(Source::Auto));
        assert!("web".parse::<Source>().unwrap_err().to_string().contains("download, build or auto"));
    }

    #[test]
    fn layouts() {
        let v = KubeVersion::new(1, 24, 17);
        let official = Site::official();
        assert_eq!(official.kubernetes_url(v, "amd64", "kubectl"), "https://dl.k8s.io/release/v1.24.17/bin/linux/amd64/kubectl");
        assert_eq!(
            official.etcd_url("v3.5.35", &Site::etcd_tarball_name("v3.5.35", "amd64")),
            "https://github.com/etcd-io/etcd/releases/download/v3.5.35/etcd-v3.5.35-linux-amd64.tar.gz"
        );
        let mirror = Site::mirror("http://mirror.local/k8s/");
        assert_eq!(
            mirror.kubernetes_url(v, "arm64", "kube-apiserver"),
            "http://mirror.local/k8s/release/v1.24.17/bin/linux/arm64/kube-apiserver"
        );
        assert_eq!(mirror.etcd_url("v3.6.16", "SHA256SUMS"), "http://mirror.local/k8s/etcd/v3.6.16/SHA256SUMS");
    }

    #[test]
    fn mirror_must_be_a_url() {
        assert_eq!(Site::choose(Some("https://m.example/k8s")), Ok(Site::mirror("https://m.example/k8s")));
        for bad in ["m.example", "ftp://m.example", "http://", "https:///x"] {
            let err = Site::choose(Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with("--mirror:") && err.contains(bad), "{err}");
        }
    }

    /// Reads each request, answers `reply` and then keeps the connection open without a word more.
    fn silent_after(reply: &'static [u8]) -> (String, std::net::TcpListener) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = listener.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for mut conn in server.incoming().flatten() {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match std::io::Read::read(&mut conn, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = std::io::Write::write_all(&mut conn, reply);
                held.push(conn);
            }
        });
        (base, listener)
    }

    fn quick() -> Limits {
        Limits {
            connect: Duration::from_secs(1),
            response: Duration::from_millis(500),
            stall: Duration::from_secs(1),
            total: Duration::from_secs(2),
            ..Limits::default()
        }
    }

    fn fetch_from(base: &str, limits: &Limits) -> (Result<Vec<Fetched>, Failure>, Duration) {
        let dir = std::env::temp_dir().join(format!("kubeproof-dl-unit-{}-{}", std::process::id(), base.rsplit(':').next().unwrap_or("")));
        std::fs::create_dir_all(&dir).unwrap();
        let started = Instant::now();
        let result = fetch_kubernetes(&Site::mirror(base), KubeVersion::new(1, 24, 17), &["kubectl"], &dir, limits);
        let _ = std::fs::remove_dir_all(&dir);
        (result, started.elapsed())
    }

    #[test]
    fn silent_and_stalled_sites_are_unavailable_within_the_bounds() {
        for (reply, says, within) in [
            // Never answers: the response deadline (0.5 s).
            (&b""[..], "no answer within 0.5s", Duration::from_secs(3)),
            // Headers, 10 of 100 bytes, then nothing: the stall timeout (1 s).
            (&b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"[..], "timed out", Duration::from_secs(4)),
        ] {
            let (base, _keep) = silent_after(reply);
            let (result, took) = fetch_from(&base, &quick());
            match result {
                Err(Failure::Unavailable(m)) => assert!(m.contains(says) && m.contains("kubectl.sha256"), "{m}"),
                other => panic!("expected Unavailable, got {other:?}"),
            }
            assert!(took < within, "took {took:?}");
        }
    }

    #[test]
    fn an_oversized_file_is_refused() {
        let (base, _keep) = silent_after(b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n");
        let (result, _) = fetch_from(&base, &Limits { max_checksums: 1 << 20, ..quick() });
        match result {
            Err(Failure::Fatal(m)) => assert!(m.contains("kubectl.sha256 is larger than the 1 MiB"), "{m}"),
            other => panic!("expected Fatal, got {other:?}"),
        }
    }

    #[test]
    fn digests() {
        let d = "a".repeat(64);
        assert_eq!(parse_digest(&format!("{d}\n")), Some(d.clone()));
        assert_eq!(parse_digest(&format!("{}  kubectl\n", d.to_uppercase())), Some(d.clone()));
        assert_eq!(parse_digest("<html>not found</html>"), None);
        assert_eq!(parse_digest(&"a".repeat(63)), None);
        let sums = format!(
            "{}  etcd-v3.5.35-linux-arm64.tar.gz\n{d}  etcd-v3.5.35-linux-amd64.tar.gz\n{}  etcd-v3.5.35-linux-amd64.tar.gz.asc\n",
            "b".repeat(64),
            "c".repeat(64)
        );
        assert_eq!(digest_for(&sums, "etcd-v3.5.35-linux-amd64.tar.gz"), Some(d.clone()));
        assert_eq!(digest_for(&format!("{d} *./x.tar.gz\n"), "x.tar.gz"), Some(d));
        assert_eq!(digest_for(&sums, "etcd-v3.5.35-linux-s390x.tar.gz"), None);
    }
}
