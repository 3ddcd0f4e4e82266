//! The images a node needs, made by kubeproof (no registry is reachable): docker-save style
//! archives (`manifest.json`, an image config, one tar per layer) that `ctr images import`
//! loads. `kubeproof.local/pause:1` is busybox-static whose entrypoint blocks until SIGTERM;
//! `kubeproof.local/tools:vX.Y.Z` is the same busybox with its applet links (sh, cat, ls,
//! sleep, wget…) plus the release's own kubectl at /usr/local/bin/kubectl — busybox's wget
//! cannot speak TLS to the API server, kubectl in a pod uses the in-cluster configuration.

use std::fs::File;
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::NodeError;
use crate::cluster::local::FileError;
use crate::version::KubeVersion;

/// The sandbox image every pod's network namespace is held by.
pub const PAUSE_IMAGE: &str = "kubeproof.local/pause:1";

/// Where Debian's busybox-static is.
pub const BUSYBOX: &str = "/bin/busybox";

/// Bumped when the archive's layout changes, so that cached archives are made again.
const FORMAT: &str = "kubeproof-node-images-2";

/// The workload image of a release.
pub fn tools_image(v: KubeVersion) -> String {
    format!("kubeproof.local/tools:{}", v.tag())
}

/// The same image under a name that does not depend on the release, for scenarios that run
/// on every release (each node has its own release's).
pub const TOOLS_IMAGE_LATEST: &str = "kubeproof.local/tools:latest";

/// The archive holding both images for a release, made once and cached under
/// `<cache>/images/`, keyed by the sha256 of what goes in.
pub fn archive(cache: &Path, v: KubeVersion, kubectl: &Path) -> Result<PathBuf, NodeError> {
    let busybox_sum = super::super::digest::sha256_file(Path::new(BUSYBOX)).map_err(NodeError::Busybox)?;
    // The install manifest's sum when there is one: kubectl is large, hashing it takes a while.
    let recorded = kubectl
        .parent()
        .and_then(Path::parent)
        .and_then(super::super::install::read_manifest)
        .and_then(|m| m.binaries.get("kubectl").map(|b| b.sha256.clone()));
    let kubectl_sum = match recorded {
        Some(sum) => sum,
        None => super::super::digest::sha256_file(kubectl)?,
    };
    let key = hex::encode(Sha256::digest(format!("{FORMAT} {} {busybox_sum} {kubectl_sum} {}", v.tag(), arch())));
    let dir = cache.join("images");
    std::fs::create_dir_all(&dir).map_err(FileError::new("cannot create", &dir))?;
    let path = dir.join(format!("node-{}-{}.tar", v.tag(), &key[..16]));
    if path.exists() {
        return Ok(path);
    }
    // Two node clusters of one release in one process (flag profiles) may both make it: each
    // writes its own file, and the last rename wins with the same content.
    let temp = dir.join(format!(".{}.{}.{}.tmp", &key[..16], std::process::id(), crate::random::suffix(6)));
    let made = write_archive(&temp, v, kubectl).and_then(|()| std::fs::rename(&temp, &path).map_err(ImageError::Io));
    if let Err(e) = made {
        let _ = std::fs::remove_file(&temp);
        return Err(NodeError::Images(e));
    }
    // Older archives of the release (another kubectl, busybox or layout) are not used again.
    let prefix = format!("node-{}-", v.tag());
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && entry.path() != path {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(path)
}

/// The image config's architecture, as registries name it.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A layer written to a temporary file: its sha256 is the diff ID and (docker-save) its name.
struct Layer {
    file: File,
    sha256: String,
    size: u64,
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn layer(build: impl FnOnce(&mut tar::Builder<&mut File>) -> std::io::Result<()>) -> Result<Layer, ImageError> {
    let mut file = tempfile()?;
    {
        let mut tar = tar::Builder::new(&mut file);
        build(&mut tar).map_err(ImageError::Io)?;
        tar.finish().map_err(ImageError::Io)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(ImageError::Io)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).map_err(ImageError::Io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    file.seek(SeekFrom::Start(0)).map_err(ImageError::Io)?;
    Ok(Layer { file, sha256: hex::encode(hasher.finalize()), size })
}

/// An unnamed temporary file (removed when closed).
fn tempfile() -> Result<File, ImageError> {
    let path = std::env::temp_dir().join(format!("kubeproof-layer-{}-{}", std::process::id(), crate::random::suffix(8)));
    let file = File::options().read(true).write(true).create_new(true).open(&path).map_err(FileError::at(&path))?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

fn dir(tar: &mut tar::Builder<&mut File>, path: &str, mode: u32) -> std::io::Result<()> {
    tar.append_data(&mut header(tar::EntryType::Directory, mode, 0), path, std::io::empty())
}

fn file(tar: &mut tar::Builder<&mut File>, path: &str, source: &Path) -> std::io::Result<()> {
    let f = File::open(source)?;
    let size = f.metadata()?.len();
    tar.append_data(&mut header(tar::EntryType::Regular, 0o755, size), path, f)
}

/// Why the node's image archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Io(std::io::Error),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{BUSYBOX} --list: {0}")]
    Busybox(std::io::Error),
    #[error("{0}")]
    Json(serde_json::Error),
}

/// busybox-static with a link per applet it lists.
fn busybox_layer() -> Result<Layer, ImageError> {
    let out = std::process::Command::new(BUSYBOX).arg("--list").output().map_err(ImageError::Busybox)?;
    let applets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| {
            !a.is_empty() && *a != "busybox" && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == '[')
        })
        .map(str::to_string)
        .collect();
    layer(|tar| {
        for (path, mode) in [
            ("bin", 0o755),
            ("etc", 0o755),
            ("root", 0o700),
            ("tmp", 0o1777),
            ("usr", 0o755),
            ("usr/local", 0o755),
            ("usr/local/bin", 0o755),
            ("var", 0o755),
        ] {
            dir(tar, path, mode)?;
        }
        file(tar, "bin/busybox", Path::new(BUSYBOX))?;
        for applet in &applets {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut h, format!("bin/{applet}"), "busybox")?;
        }
        Ok(())
    })
}

fn kubectl_layer(kubectl: &Path) -> Result<Layer, ImageError> {
    layer(|tar| file(tar, "usr/local/bin/kubectl", kubectl))
}

/// An image config: the layers' diff IDs and how the container starts.
fn config(layers: &[&Layer], entrypoint: Option<&[&str]>, cmd: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("sha256:{}", l.sha256)).collect();
    let config = serde_json::json!({
        "architecture": arch(),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"],
            "Entrypoint": entrypoint,
            "Cmd": cmd,
            "WorkingDir": "/",
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    serde_json::to_vec(&config).unwrap_or_default()
}

fn write_archive(path: &Path, v: KubeVersion, kubectl: &Path) -> Result<(), ImageError> {
    let base = busybox_layer()?;
    let tools = kubectl_layer(kubectl)?;
    // Blocks until told to stop, then exits at once (a plain `sleep` as PID 1 ignores SIGTERM).
    let pause = config(&[&base], Some(&["/bin/sh", "-c", "trap 'exit 0' TERM INT; while true; do sleep 3600 & wait $!; done"]), &[]);
    let workload = config(&[&base, &tools], None, &["sh"]);
    let sha = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    let (pause_config, tools_config) = (format!("{}.json", sha(&pause)), format!("{}.json", sha(&workload)));
    let layer_path = |l: &Layer| format!("{}/layer.tar", l.sha256);
    let manifest = serde_json::json!([
        { "Config": pause_config, "RepoTags": [PAUSE_IMAGE], "Layers": [layer_path(&base)] },
        { "Config": tools_config, "RepoTags": [tools_image(v), TOOLS_IMAGE_LATEST], "Layers": [layer_path(&base), layer_path(&tools)] },
    ]);
    let manifest = serde_json::to_vec(&manifest).map_err(ImageError::Json)?;

    let mut out = File::options().write(true).create_new(true).open(path).map_err(FileError::at(path))?;
    let mut tar = tar::Builder::new(&mut out);
    let add = |tar: &mut tar::Builder<&mut File>, name: &str, size: u64, data: &mut dyn std::io::Read| {
        tar.append_data(&mut header(tar::EntryType::Regular, 0o644, size), name, data).map_err(ImageError::Io)
    };
    for l in [&base, &tools] {
        tar.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), &l.sha256, std::io::empty()).map_err(ImageError::Io)?;
        add(&mut tar, &layer_path(l), l.size, &mut &l.file)?;
    }
    add(&mut tar, &pause_config, pause.len() as u64, &mut pause.as_slice())?;
    add(&mut tar, &tools_config, workload.len() as u64, &mut workload.as_slice())?;
    add(&mut tar, "manifest.json", manifest.len() as u64, &mut manifest.as_slice())?;
    tar.finish().map_err(ImageError::Io)?;
    drop(tar);
    out.flush().map_err(ImageError::Io)
}
