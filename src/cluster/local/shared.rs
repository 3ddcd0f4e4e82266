//! A local cluster shared by the processes of one test run. cargo-nextest runs every trial in a
//! process of its own, and a cluster per trial costs seconds each: instead the first process
//! starts the cluster — detached, as `cluster up` does — with a reaper beside it, and the others
//! attach through its kubeconfig. Every process that uses the cluster is recorded; the reaper
//! stops the cluster once none of them has been alive for a while.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::process::{LockError, NotInProc, PidLock, ProcessRecord};
use super::{ClusterOptions, DownError, FileError, Installation, LocalCluster, StartError, clusters_dir, down, read_state};
use crate::cluster::Profile;
use crate::version::KubeVersion;

/// How long a shared cluster outlives its last user: long enough for the next trial process of
/// the same run to come.
pub const IDLE: Duration = Duration::from_secs(20);

/// A shared cluster is stopped after this long whatever happens, so that none is ever left.
pub const MAX_LIFE: Duration = Duration::from_secs(3 * 3600);

/// The shared cluster of one run (`key`), release and flag profile.
pub fn name(key: &str, version: KubeVersion, profile: &Profile) -> String {
    let key: String = key.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
    let flags = hex::encode(Sha256::digest(serde_json::to_vec(profile).unwrap_or_default()));
    format!("shared-{key}-{}-{}", version.tag().replace('.', "-"), &flags[..6])
}

fn users_dir(name: &str) -> PathBuf {
    clusters_dir().join(format!("{name}.users"))
}

/// The kubeconfig of the shared cluster `name`, started (with its reaper, `reaper` being the
/// kubeproof binary) unless a process of this run already did. This process is recorded as a
/// user first, so the reaper keeps the cluster while it lives.
pub async fn attach(installation: &Installation, flags: &Profile, key: &str, reaper: &Path) -> Result<PathBuf, SharedError> {
    let name = name(key, installation.version, flags);
    let users = users_dir(&name);
    std::fs::create_dir_all(&users).map_err(FileError::new("cannot create", &users))?;
    let me = ProcessRecord::of("user", std::process::id(), Path::new(""))?;
    let record = serde_json::to_vec(&me).map_err(SharedError::Json)?;
    std::fs::write(users.join(format!("{}.json", me.pid)), record).map_err(SharedError::Record)?;

    // One starter at a time; the others wait for it, then find the cluster running.
    let starting = clusters_dir().join(format!("{name}.starting"));
    let _turn = tokio::task::spawn_blocking(move || PidLock::acquire(&starting, Duration::from_secs(300)))
        .await
        .map_err(SharedError::Task)?
        .map_err(|error| SharedError::Turn { name: name.clone(), error })?;
    let dir = clusters_dir().join(&name);
    let running = read_state(&dir).is_some_and(|s| s.components.iter().all(ProcessRecord::is_running));
    if !running {
        let opts = ClusterOptions {
            version: Some(installation.version),
            name: Some(name.clone()),
            flags: flags.clone(),
            detached: true,
            ..Default::default()
        };
        let cluster = LocalCluster::start(installation.clone(), opts).await?;
        start_reaper(reaper, &name)?;
        // Detached: dropping it leaves the processes to the reaper.
        drop(cluster);
    }
    Ok(dir.join("kubeconfig"))
}

/// Why a cluster shared by the processes of a test run could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The directory of its users' records.
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    NotInProc(#[from] NotInProc),
    #[error("{0}")]
    Json(serde_json::Error),
    #[error("cannot record this process: {0}")]
    Record(std::io::Error),
    #[error("{0}")]
    Task(tokio::task::JoinError),
    /// The turn to start it (another process of the run starts it) did not come.
    #[error("waiting for the shared cluster {name}: {error:?}")]
    Turn { name: String, error: LockError },
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot start the reaper of {name} ({}): {error}", .binary.display())]
    Reaper { name: String, binary: PathBuf, error: std::io::Error },
}

/// `kubeproof cluster reap --name NAME` in its own session: it outlives the test processes.
fn start_reaper(kubeproof: &Path, name: &str) -> Result<(), SharedError> {
    use std::os::unix::process::CommandExt as _;
    std::process::Command::new(kubeproof)
        .args(["cluster", "reap", "--name", name])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map(|_reaper| ())
        .map_err(|error| SharedError::Reaper { name: name.to_string(), binary: kubeproof.to_path_buf(), error })
}

/// Waits until no recorded user of the shared cluster `name` has been alive for `IDLE` (or
/// `MAX_LIFE` has passed), then stops the cluster and removes its records.
pub fn reap(name: &str) -> Result<(), DownError> {
    let users = users_dir(name);
    let born = Instant::now();
    let mut idle_since: Option<Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let alive = live_users(&users);
        idle_since = if alive > 0 { None } else { Some(idle_since.unwrap_or_else(Instant::now)) };
        if idle_since.is_some_and(|t| t.elapsed() >= IDLE) || born.elapsed() >= MAX_LIFE {
            break;
        }
    }
    let stopped = down(name).map(drop);
    let _ = std::fs::remove_dir_all(&users);
    stopped
}

/// Counts the recorded users still alive, forgetting the others.
fn live_users(users: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(users) else { return 0 };
    let mut alive = 0;
    for entry in entries.flatten() {
        let record: Option<ProcessRecord> = std::fs::read(entry.path()).ok().and_then(|b| serde_json::from_slice(&b).ok());
        if record.is_some_and(|r| r.is_running()) {
            alive += 1;
        } else {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    alive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_cluster_names_per_run_release_and_flags() {
        let v = KubeVersion::new(1, 37, 2);
        let run = "0f3c9a2e-1b2c-4d5e-8f90-123456789abc";
        let flag = || vec!["--service-account-max-token-expiration=2h".to_string()];
        let a = name(run, v, &Profile::default());
        let b = name(run, v, &Profile { apiserver: flag(), ..Default::default() });
        // The same flag for another component is another cluster.
        let c = name(run, v, &Profile { controller_manager: flag(), ..Default::default() });
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
        assert!(a.starts_with("shared-0f3c9a2e-v1-37-2-"), "{a}");
        for n in [a, b, c, name("../../etc", v, &Profile::default())] {
            super::super::validate_name(&n).unwrap();
        }
    }

    #[test]
    fn users_are_counted_while_alive() {
        let dir = std::env::temp_dir().join(format!("kubeproof-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = ProcessRecord::of("user", std::process::id(), Path::new("")).unwrap();
        std::fs::write(dir.join("me.json"), serde_json::to_vec(&me).unwrap()).unwrap();
        let mut gone = me.clone();
        gone.start_time += 1;
        std::fs::write(dir.join("gone.json"), serde_json::to_vec(&gone).unwrap()).unwrap();
        assert_eq!(live_users(&dir), 1);
        assert!(!dir.join("gone.json").exists(), "a user that is gone is forgotten");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
