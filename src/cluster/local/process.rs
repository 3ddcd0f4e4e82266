//! Starting the control plane's processes so that none outlives kubeproof, and signalling
//! them later only while they are still the processes kubeproof started.
//!
//! Each component runs in its own process group (Ctrl-C in the terminal reaches kubeproof only,
//! which then cleans up before stopping them) and, unless detached, with a parent-death signal:
//! if kubeproof is killed outright, the kernel kills its components. Linux delivers that signal
//! when the *thread* that forked the child exits, so every spawn goes through one long-lived
//! thread.
//!
//! The kernel reuses pids, so a pid read back from a state file may name an unrelated process
//! by now: [`ProcessRecord`] keeps the start time and executable with the pid, and nothing is
//! signalled unless both still match.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::FileError;

/// One running component: its name, process, identity and log file, and the command line it
/// was started with (to start it again).
pub struct Component {
    pub name: &'static str,
    pub child: Child,
    pub record: ProcessRecord,
    pub log: PathBuf,
    pub binary: PathBuf,
    pub args: Vec<String>,
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("kubeproof-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        Mutex::new(tx)
    })
}

/// Makes the child die (SIGKILL) when the thread that spawns it — and so kubeproof — dies.
/// Spawn from a thread that lives as long as the child should.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Where a component runs beyond kubeproof's own namespaces: a node's daemons join the node's
/// network namespace and its cgroup (so that everything they start can be found and killed),
/// and containerd and the kubelet share a mount namespace of the node's.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    /// A network namespace file (`/run/netns/NAME`) to enter.
    pub netns: Option<PathBuf>,
    /// `cgroup.procs` files to join, one per cgroup hierarchy.
    pub cgroups: Vec<PathBuf>,
    /// The mount namespace, if not kubeproof's.
    pub mounts: Option<MountNamespace>,
}

/// A mount namespace for a node's daemons.
#[derive(Clone, Debug)]
pub enum MountNamespace {
    /// A new one: the host's mounts reach it, none of its own reach the host (all of them go
    /// with its last process), and these directories are bound over others (source, target).
    New { binds: Vec<(PathBuf, PathBuf)> },
    /// The one of a running process: `/proc/PID/ns/mnt`.
    Join(PathBuf),
}

impl Placement {
    /// Joins the cgroups and enters the namespace between fork and exec.
    fn apply(&self, cmd: &mut Command) -> Result<[Option<File>; 2], PlacementError> {
        use std::os::fd::AsRawFd as _;
        use std::os::unix::process::CommandExt;
        let netns = match &self.netns {
            Some(path) => Some(File::open(path).map_err(FileError::new("cannot open the network namespace", path))?),
            None => None,
        };
        let netns_fd = netns.as_ref().map(|f| f.as_raw_fd());
        let c_path = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(PlacementError::Path);
        let (binds, join) = match &self.mounts {
            None => (None, None),
            Some(MountNamespace::New { binds }) => {
                let binds = binds.iter().map(|(from, to)| Ok((c_path(from)?, c_path(to)?))).collect::<Result<Vec<_>, PlacementError>>()?;
                (Some(binds), None)
            }
            Some(MountNamespace::Join(ns)) => (None, Some(File::open(ns).map_err(FileError::new("cannot open the mount namespace", ns))?)),
        };
        let join_fd = join.as_ref().map(|f| f.as_raw_fd());
        let root = c"/";
        let cgroups = self.cgroups.iter().map(|p| c_path(p)).collect::<Result<Vec<_>, _>>()?;
        // SAFETY: only async-signal-safe calls (open, write, close, setns, unshare, mount) between
        // fork and exec; everything they use was allocated before the fork.
        unsafe {
            cmd.pre_exec(move || {
                for procs in &cgroups {
                    // "0" moves the writing process.
                    let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(fd);
                }
                if let Some(fd) = netns_fd
                    && libc::setns(fd, libc::CLONE_NEWNET) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(binds) = &binds {
                    let none = std::ptr::null::<libc::c_char>();
                    if libc::unshare(libc::CLONE_NEWNS) != 0
                        || libc::mount(none, root.as_ptr(), none, libc::MS_REC | libc::MS_SLAVE, std::ptr::null()) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    for (from, to) in binds {
                        if libc::mount(from.as_ptr(), to.as_ptr(), none, libc::MS_BIND | libc::MS_REC, std::ptr::null()) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                }
                if let Some(fd) = join_fd
                    && libc::setns(fd, libc::CLONE_NEWNS) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Kept open by the caller until the spawn has happened.
        Ok([netns, join])
    }
}

impl Component {
    /// Starts `binary args…` with stdout and stderr appended to `log` (created 0600).
    pub fn start(name: &'static str, binary: &Path, args: &[String], log: PathBuf, detached: bool) -> Result<Self, ProcessError> {
        Self::start_in(name, binary, args, log, detached, &Placement::default())
    }

    /// [`start`](Self::start) in the namespaces and cgroups `placement` names.
    pub fn start_in(
        name: &'static str,
        binary: &Path,
        args: &[String],
        log: PathBuf,
        detached: bool,
        placement: &Placement,
    ) -> Result<Self, ProcessError> {
        use std::os::unix::process::CommandExt;
        let out = File::options()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log)
            .map_err(|e| ProcessError::Log { name, error: FileError::new("cannot open log", &log)(e) })?;
        let err = out.try_clone().map_err(ProcessError::Io)?;
        let mut cmd = Command::new(binary);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        if !detached {
            die_with_parent(&mut cmd);
        }
        let namespaces = placement.apply(&mut cmd).map_err(|error| ProcessError::Placement { name, error })?;
        let (tx, rx) = mpsc::channel();
        spawner()
            .lock()
            .map_err(|_| ProcessError::Spawner("spawner poisoned"))?
            .send((cmd, tx))
            .map_err(|_| ProcessError::Spawner("spawner gone"))?;
        let mut child = rx.recv().map_err(|_| ProcessError::Spawner("spawner gone"))?.map_err(|error| ProcessError::Spawn {
            name,
            binary: binary.to_path_buf(),
            error,
        })?;
        drop(namespaces);
        // spawn returns after exec, so /proc already shows the component, not kubeproof.
        match ProcessRecord::of(name, child.id(), binary) {
            Ok(record) => Ok(Component { name, child, record, log, binary: binary.to_path_buf(), args: args.to_vec() }),
            Err(e) => {
                kill_group(child.id());
                let _ = child.wait();
                Err(ProcessError::Vanished { name, pid: e })
            }
        }
    }

    /// `Some(description)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown state ({e})")),
        }
    }

    /// Kills the process group and reaps the process. Our own unreaped child cannot have had
    /// its pid reused, so no identity check is needed here.
    pub fn kill(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.wait();
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

/// A process as kubeproof started it, as recorded in a cluster's state file: the pid, and
/// what tells it apart from a later process given the same pid.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    pub name: String,
    pub pid: u32,
    /// Clock ticks after boot (field 22 of `/proc/PID/stat`).
    pub start_time: u64,
    /// Where `/proc/PID/exe` pointed.
    pub exe: PathBuf,
}

/// The fields of `/proc/PID/stat` we use.
struct Stat {
    state: char,
    start_time: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2, the command name, is in parentheses and may hold spaces and `)`: count fields
    // after the last `)`, where field 3 (the state) begins.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat { state: fields.first()?.chars().next()?, start_time: fields.get(22 - 3)?.parse().ok()? })
}

fn exe(pid: u32) -> Option<PathBuf> {
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    // A binary replaced on disk (a rebuild) is still the same process.
    let text = link.to_string_lossy();
    Some(text.strip_suffix(" (deleted)").map(PathBuf::from).unwrap_or(link))
}

impl ProcessRecord {
    /// Records the running process `pid`; `binary` stands in for its executable when /proc
    /// no longer shows one (it has already exited).
    pub fn of(name: &str, pid: u32, binary: &Path) -> Result<ProcessRecord, NotInProc> {
        let stat = stat(pid).ok_or(NotInProc(pid))?;
        let exe = exe(pid).unwrap_or_else(|| binary.canonicalize().unwrap_or_else(|_| binary.to_path_buf()));
        Ok(ProcessRecord { name: name.to_string(), pid, start_time: stat.start_time, exe })
    }

    /// Whether the pid still names this process, alive: same start time, same executable,
    /// not a zombie. A reused pid, or one we cannot inspect, is not ours.
    pub fn is_running(&self) -> bool {
        match stat(self.pid) {
            Some(now) if now.state != 'Z' && now.start_time == self.start_time => exe(self.pid).as_ref() == Some(&self.exe),
            _ => false,
        }
    }

    /// SIGKILL to the process group it leads, only if it is still this process; a pid the
    /// kernel gave to another process is left alone. Whether the signal was sent.
    pub fn kill_group(&self) -> bool {
        if !self.is_running() {
            return false;
        }
        kill_group(self.pid);
        true
    }
}

/// SIGKILL to the process group led by `pid`, unchecked: only for our own children (use
/// [`ProcessRecord::kill_group`] for pids read back from files). The control plane is
/// ephemeral: nothing to flush.
pub fn kill_group(pid: u32) {
    // SAFETY: plain syscall; a stale pid group simply yields ESRCH.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

/// An exclusive, non-blocking `flock` on a file that holds its owner's pid. The file is
/// removed on release, so no lock file outlives its holder.
pub struct PidLock {
    /// The open descriptor is the lock: closing it (on drop) releases it.
    _file: File,
    path: PathBuf,
}

/// Why a [`PidLock`] was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it (its pid, when it has written it yet).
    Held(Option<u32>),
    Io(String),
}

impl PidLock {
    /// Takes the lock, or says who holds it — at once, or after at most `patience` if the
    /// holder lets go meanwhile (a `cluster list` holds it for an instant).
    pub fn acquire(path: &Path, patience: Duration) -> Result<PidLock, LockError> {
        let deadline = Instant::now() + patience;
        loop {
            match Self::try_acquire(path) {
                Err(LockError::Held(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn try_acquire(path: &Path) -> Result<PidLock, LockError> {
        use std::os::fd::AsRawFd;
        let io = |e: std::io::Error| LockError::Io(format!("{}: {e}", path.display()));
        loop {
            let mut file = File::options().read(true).write(true).create(true).truncate(false).mode(0o600).open(path).map_err(io)?;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                    return Err(io(e));
                }
                return Err(LockError::Held(holder(&mut file)));
            }
            // The previous holder may have removed the file between our open and our lock:
            // then we hold a lock nobody else can see, and must lock the path's current file.
            let ours = file.metadata().map_err(io)?;
            match std::fs::metadata(path) {
                Ok(m) if m.dev() == ours.dev() && m.ino() == ours.ino() => {}
                _ => continue,
            }
            file.set_len(0).map_err(io)?;
            file.write_all(std::process::id().to_string().as_bytes()).map_err(io)?;
            return Ok(PidLock { _file: file, path: path.to_path_buf() });
        }
    }
}

/// The pid a lock's holder wrote, waiting briefly: it writes just after locking.
fn holder(file: &mut File) -> Option<u32> {
    for _ in 0..10 {
        let mut text = String::new();
        if file.seek(SeekFrom::Start(0)).is_ok()
            && file.read_to_string(&mut text).is_ok()
            && let Ok(pid) = text.trim().parse()
        {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Removed while still locked, so a waiting process notices and retries (see
        // try_acquire); closing the file then releases the lock.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The last `lines` lines of a log file (at most 64 KiB are read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else { return String::from("(no log)") };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    last_lines(&String::from_utf8_lossy(&buf), lines)
}

/// The last `lines` lines of a text.
pub fn last_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16, ProcessError> {
    std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).map(|a| a.port()).map_err(ProcessError::NoFreePort)
}

/// Why a component's process could not be started (each kind names the component).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{name}: {error}")]
    Log { name: &'static str, error: FileError },
    #[error("{0}")]
    Io(std::io::Error),
    /// The namespaces or cgroups it was to run in.
    #[error("{name}: {error}")]
    Placement { name: &'static str, error: PlacementError },
    /// The thread that forks every component is gone.
    #[error("{0}")]
    Spawner(&'static str),
    #[error("{name}: cannot start {}: {error}", .binary.display())]
    Spawn { name: &'static str, binary: PathBuf, error: std::io::Error },
    /// It exited before /proc could record it.
    #[error("{name}: {pid}")]
    Vanished { name: &'static str, pid: NotInProc },
    #[error("cannot find a free loopback port: {0}")]
    NoFreePort(std::io::Error),
}

/// A process that /proc does not show (it has exited, or never was).
#[derive(Debug, thiserror::Error)]
#[error("process {0} is not in /proc")]
pub struct NotInProc(pub u32);

/// Why the namespaces or cgroups a component was to run in cannot be entered.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error(transparent)]
    Open(#[from] FileError),
    /// A path with a NUL byte.
    #[error("{0}")]
    Path(std::ffi::NulError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;

    fn sleeper() -> Child {
        Command::new("sleep").arg("60").process_group(0).spawn().expect("sleep")
    }

    fn wait_gone(child: &mut Child) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn a_reused_pid_is_never_signalled() {
        let mut child = sleeper();
        let record = ProcessRecord::of("sleep", child.id(), Path::new("/bin/sleep")).expect("record");
        assert!(record.is_running(), "a live process matches its own record: {record:?}");
        assert!(record.exe.ends_with("sleep"), "{record:?}");

        // The same pid, but another process: a different start time, or another executable.
        let later = ProcessRecord { start_time: record.start_time + 1, ..record.clone() };
        let other_exe = ProcessRecord { exe: PathBuf::from("/usr/bin/etcd"), ..record.clone() };
        for forged in [&later, &other_exe] {
            assert!(!forged.is_running());
            assert!(!forged.kill_group(), "a forged record must not be signalled");
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(matches!(child.try_wait(), Ok(None)), "the process survived the forged records");

        assert!(record.kill_group(), "the genuine record is signalled");
        assert!(wait_gone(&mut child), "SIGKILL reached the process");
        assert!(!record.is_running(), "a reaped process is not running");
        assert!(!record.kill_group());
    }

    #[test]
    fn stat_survives_odd_command_names() {
        // A command name with spaces and parentheses must not shift the fields.
        let dir = std::env::temp_dir().join(format!("kubeproof-odd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let odd = dir.join("a) b (c");
        std::fs::copy("/bin/sleep", &odd).expect("copy sleep");
        let mut child = Command::new(&odd).arg("60").process_group(0).spawn().expect("odd sleep");
        let record = ProcessRecord::of("odd", child.id(), &odd);
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        let record = record.expect("record");
        let own = stat(std::process::id()).expect("own stat");
        // Both started after boot and within the same minute or so of each other.
        assert!(record.start_time >= own.start_time, "{} < {}", record.start_time, own.start_time);
        assert_eq!(record.exe, odd.canonicalize().unwrap_or(odd));
    }

    #[test]
    fn a_lock_has_one_holder_and_names_it() {
        let path = std::env::temp_dir().join(format!("kubeproof-lock-{}.lock", std::process::id()));
        let first = PidLock::acquire(&path, Duration::ZERO).expect("first");
        match PidLock::acquire(&path, Duration::from_millis(50)) {
            Err(LockError::Held(pid)) => assert_eq!(pid, Some(std::process::id())),
            Err(LockError::Io(e)) => panic!("{e}"),
            Ok(_) => panic!("a second holder"),
        }
        drop(first);
        assert!(!path.exists(), "the lock file is removed on release");
        let again = PidLock::acquire(&path, Duration::ZERO).expect("free again");
        drop(again);
        assert!(!path.exists());
    }
}
