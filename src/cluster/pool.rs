//! The clusters a run uses: one context, or local control planes of one release — one per flag
//! profile (the kube-apiserver and kube-controller-manager flags scenarios require). Opened for
//! its scenarios ([`Pool::open_for`]), the pool returns once the main cluster is usable and
//! starts the flag-profile clusters behind it, so each scenario waits for its own cluster only;
//! opened without them, a profile's cluster starts on first use.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::local::{self, ClusterOptions, InstallOptions, Installation, LocalCluster};
use super::{Cluster, ClusterError, ContextTarget, Profile};
use crate::requirement::Requirement;

/// Where scenarios run.
#[derive(Clone, Debug)]
pub enum Target {
    /// An existing cluster from a kubeconfig.
    Context(ContextTarget),
    /// A local control plane of this release (`latest`, `1.24`, `1.24.17`).
    Local(String),
}

impl Target {
    /// How trial names and reports call it before it is connected.
    pub fn label(&self) -> String {
        match self {
            Target::Context(c) => c.context.clone().unwrap_or_else(|| "current-context".into()),
            Target::Local(v) => v.clone(),
        }
    }
}

/// A flag profile's cluster: started once; a start that failed stays failed, so every scenario
/// of the profile reports the same error instead of starting it again.
type Slot = Arc<OnceCell<Result<Arc<Cluster>, ClusterError>>>;

/// Connected clusters for one target.
pub struct Pool {
    base: Arc<Cluster>,
    installation: Option<Installation>,
    profiles: Mutex<BTreeMap<Profile, Slot>>,
    sharing: Option<Sharing>,
    /// The flag-profile clusters starting in the background; dropping the pool stops them.
    _starting: Vec<Starting>,
    /// How many of the scenarios the pool was opened for are still to run on each profile's
    /// cluster: at zero the cluster stops, so an idle control plane does not take the CPU the
    /// others need (a matrix runs dozens).
    remaining: Mutex<BTreeMap<Profile, usize>>,
    /// Bumped when a cluster joins or leaves the pool, for [`died`](Self::died)'s watch.
    generation: std::sync::atomic::AtomicU64,
    /// The contexts a scenario's other clusters are mapped to (`--context b=kind-b`), by name.
    peers: BTreeMap<String, Arc<Cluster>>,
    /// Clusters started for one scenario alone, while it runs: watched like the others.
    held: Mutex<Vec<Arc<Cluster>>>,
    /// The first of them found dead when its scenario let go of it.
    died_held: Mutex<Option<super::Dead>>,
}

/// A background start, cancelled (what it started is stopped) when dropped.
struct Starting(tokio::task::JoinHandle<()>);

impl Drop for Starting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Local clusters shared by the processes of one test run (cargo-nextest: a process per trial).
#[derive(Clone, Debug)]
pub struct Sharing {
    /// What the processes of the run have in common (nextest's run id).
    pub key: String,
    /// The kubeproof binary, which reaps the clusters after the run.
    pub reaper: std::path::PathBuf,
}

impl Pool {
    /// Connects to the target; for a local target, installs (building if needed) and starts it.
    /// Flag-profile clusters start when a scenario first needs one; see [`open_for`](Self::open_for).
    pub async fn open(target: &Target) -> Result<Pool, ClusterError> {
        Self::open_for(target, &[]).await
    }

    /// [`open`](Self::open), and for a local target the flag-profile clusters these scenarios
    /// need are started at the same time as the main one, so no scenario waits for a start.
    pub async fn open_for(target: &Target, scenarios: &[Requirement]) -> Result<Pool, ClusterError> {
        Self::open_sharing(target, scenarios, None).await
    }

    /// [`open_for`](Self::open_for), with local clusters shared by the processes of one test
    /// run when `sharing` says so: the first process starts them, the others attach.
    pub async fn open_sharing(target: &Target, scenarios: &[Requirement], sharing: Option<Sharing>) -> Result<Pool, ClusterError> {
        match target {
            Target::Context(c) => {
                let mut peers = BTreeMap::new();
                for (name, context) in &c.peers {
                    let target = ContextTarget { context: Some(context.clone()), allowed: false, peers: BTreeMap::new(), ..c.clone() };
                    let mut cluster = Self::ready_context(&target, scenarios).await?;
                    cluster.label = format!("{} ({name})", cluster.label);
                    peers.insert(name.clone(), Arc::new(cluster));
                }
                Ok(Pool {
                    base: Arc::new(Self::ready_context(c, scenarios).await?),
                    installation: None,
                    profiles: Mutex::default(),
                    sharing: None,
                    _starting: Vec::new(),
                    remaining: Mutex::default(),
                    generation: Default::default(),
                    peers,
                    held: Mutex::default(),
                    died_held: Mutex::default(),
                })
            }
            Target::Local(request) => {
                local::versions::check_request(request).map_err(ClusterError::Release)?;
                let request = request.clone();
                let installation = tokio::task::spawn_blocking(move || {
                    let v = local::versions::resolve(&request)?;
                    local::install(v, &InstallOptions::default())
                })
                .await
                .map_err(|e| ClusterError::Unfinished(e.to_string()))??;
                // Only for the scenarios that apply to this release: the others never run here.
                // A profile with a node that this machine cannot run is left to its scenarios,
                // which `cluster_for` tells why (they are not applicable here).
                let can_run_node = local::node::preflight().is_ok();
                let mut remaining = BTreeMap::<Profile, usize>::new();
                for flags in scenarios.iter().filter(|s| s.applies_to(&installation.version)).filter_map(Requirement::own_profile) {
                    *remaining.entry(flags).or_default() += 1;
                }
                let profiles: BTreeMap<Profile, Slot> =
                    remaining.keys().filter(|p| p.nodes == 0 || can_run_node).map(|flags| (flags.clone(), Slot::default())).collect();
                // The main cluster first, alone: most scenarios run on it, and on a small machine
                // clusters booting beside it would only delay it. Then the profiles, behind it.
                let base = start(&installation, Profile::default(), sharing.as_ref()).await?;
                let starting = profiles
                    .iter()
                    .map(|(flags, slot)| {
                        let (slot, installation, flags, sharing) = (slot.clone(), installation.clone(), flags.clone(), sharing.clone());
                        Starting(tokio::spawn(async move {
                            slot.get_or_init(|| start(&installation, flags, sharing.as_ref())).await;
                        }))
                    })
                    .collect();
                Ok(Pool {
                    base,
                    installation: Some(installation),
                    profiles: Mutex::new(profiles),
                    sharing,
                    _starting: starting,
                    remaining: Mutex::new(remaining),
                    generation: Default::default(),
                    peers: BTreeMap::new(),
                    held: Mutex::default(),
                    died_held: Mutex::default(),
                })
            }
        }
    }

    /// A context's cluster, made ready for the scenarios: what it finishes asynchronously after
    /// its start is there, and on kind, when scenarios run pods, the workload image is on its nodes.
    async fn ready_context(target: &ContextTarget, scenarios: &[Requirement]) -> Result<Cluster, ClusterError> {
        let cluster = Cluster::from_context(target).await?;
        cluster.settle(super::SETTLE_WITHIN).await?;
        if let Some(name) = super::kind::cluster_name(&cluster).filter(|_| scenarios.iter().any(|s| s.profile.nodes > 0)) {
            let (name, version) = (name.to_string(), cluster.version);
            tokio::task::spawn_blocking(move || super::kind::load_workload_image(&name, version))
                .await
                .map_err(|e| ClusterError::Unfinished(e.to_string()))?
                .map_err(ClusterError::Kind)?;
        }
        Ok(cluster)
    }

    /// Whether the clusters are local control planes kubeproof started (and stops).
    pub fn is_local(&self) -> bool {
        self.installation.is_some()
    }

    /// The cluster without extra flags.
    pub fn base(&self) -> &Arc<Cluster> {
        &self.base
    }

    /// The clusters a scenario runs on, by name, `main` first, held for it until the returned
    /// [`Held`] is dropped: on a local target, a scenario on several clusters gets them all
    /// started for it and wired as it says; on contexts, the ones `--context name=…` maps
    /// (those it does not map are left out: the scenario is then not applicable).
    pub async fn clusters_for(&self, scenario: &Requirement) -> Result<Held<'_>, ClusterError> {
        let main = crate::federation::MAIN.to_string();
        let clusters = match (&scenario.federation, &self.installation) {
            (Some(federation), Some(installation)) if scenario.applies_to(&installation.version) => {
                super::federation::start(installation, federation).await?
            }
            (Some(federation), None) => {
                let peers = federation.peers().filter_map(|name| Some((name.to_string(), self.peers.get(name)?.clone())));
                std::iter::once((main, self.base.clone())).chain(peers).collect()
            }
            _ => return Ok(Held { pool: self, clusters: vec![(main, self.cluster_for(scenario).await?)], own: Vec::new() }),
        };
        Ok(self.hold(clusters))
    }

    /// Watches `clusters` with the pool's while they are held.
    fn hold(&self, clusters: Vec<(String, Arc<Cluster>)>) -> Held<'_> {
        let known = self.clusters();
        let own: Vec<Arc<Cluster>> = clusters.iter().map(|(_, c)| c.clone()).filter(|c| !known.iter().any(|k| Arc::ptr_eq(k, c))).collect();
        if !own.is_empty()
            && let Ok(mut held) = self.held.lock()
        {
            held.extend(own.iter().cloned());
            self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Held { pool: self, clusters, own }
    }

    /// The cluster a scenario runs on: for local targets, one started with the flags it requires.
    pub async fn cluster_for(&self, scenario: &Requirement) -> Result<Arc<Cluster>, ClusterError> {
        let Some(installation) = &self.installation else { return Ok(self.base.clone()) };
        // Not for this release: the main cluster says so (no cluster starts just for that).
        if !scenario.applies_to(&installation.version) {
            return Ok(self.base.clone());
        }
        // A scenario that changes its cluster gets one of its own, in this process (never shared
        // with other processes of a test run), stopped when the scenario lets go of it.
        if scenario.own_cluster {
            return start(installation, scenario.profile.clone().canonical(), None).await;
        }
        let Some(args) = scenario.own_profile() else { return Ok(self.base.clone()) };
        let slot = self.profiles.lock().map_err(|_| ClusterError::Poisoned)?.entry(args.clone()).or_default().clone();
        slot.get_or_init(|| start(installation, args, self.sharing.as_ref())).await.clone()
    }

    /// Says that `scenario` has run (or will not). After the last of the scenarios the pool was
    /// opened for that needs a flag profile, that profile's cluster stops; a scenario asking
    /// for it later would start it again.
    pub fn finished(&self, scenario: &Requirement) {
        let Some(flags) = scenario.own_profile() else { return };
        let last = self.remaining.lock().is_ok_and(|mut remaining| match remaining.get_mut(&flags) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                remaining.remove(&flags);
                true
            }
            None => false,
        });
        // Taken out under the lock, dropped after it: the cluster stops when its last user (the
        // death watch, told by the generation) lets go.
        let retired = last.then(|| self.profiles.lock().ok()?.remove(&flags)).flatten();
        if retired.is_some() {
            self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Checks at once that every cluster of the pool is alive; `Err` names the first that is not.
    pub async fn confirm_alive(&self) -> Result<(), super::Dead> {
        if let Some(dead) = self.died_held.lock().ok().and_then(|d| d.clone()) {
            return Err(dead);
        }
        for c in self.clusters() {
            c.confirm_alive().await?;
        }
        Ok(())
    }

    /// Resolves once any cluster of the pool has died, naming it and what died.
    pub async fn died(&self) -> super::Dead {
        loop {
            let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
            let watched = self.clusters();
            let any = futures::future::select_all(watched.iter().map(|c| Box::pin(c.died())));
            // A cluster started meanwhile (a flag profile) joins the watch; one stopped after
            // its last scenario leaves it, before it is stopped.
            let changed = async {
                while self.clusters().len() == watched.len() && self.generation.load(std::sync::atomic::Ordering::SeqCst) == generation {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            };
            tokio::select! {
                (dead, _, _) = any => return dead,
                () = changed => continue,
            }
        }
    }

    /// Every cluster started so far, and the peers of contexts.
    pub fn clusters(&self) -> Vec<Arc<Cluster>> {
        let mut out = vec![self.base.clone()];
        out.extend(self.peers.values().cloned());
        if let Ok(profiles) = self.profiles.lock() {
            out.extend(profiles.values().filter_map(|s| s.get()?.as_ref().ok().cloned()));
        }
        if let Ok(held) = self.held.lock() {
            out.extend(held.iter().cloned());
        }
        out
    }
}

/// The clusters of one scenario's run, by name, `main` first; those started for it alone are
/// watched with the pool's until this is dropped, and stop when their last user lets go.
pub struct Held<'a> {
    pool: &'a Pool,
    pub clusters: Vec<(String, Arc<Cluster>)>,
    own: Vec<Arc<Cluster>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.own.is_empty() {
            return;
        }
        // One that died under its scenario stops the run like any cluster of the pool: the
        // check after a failed scenario finds it here.
        let dead = self.own.iter().find_map(|c| c.health().err().map(|exited| super::Dead::Exited { label: c.label.clone(), exited }));
        if let (Some(dead), Ok(mut died)) = (dead, self.pool.died_held.lock()) {
            died.get_or_insert(dead);
        }
        if let Ok(mut held) = self.pool.held.lock() {
            held.retain(|c| !self.own.iter().any(|own| Arc::ptr_eq(own, c)));
        }
        self.pool.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn start(installation: &Installation, flags: Profile, sharing: Option<&Sharing>) -> Result<Arc<Cluster>, ClusterError> {
    let installation = &super::federation::installation_for(installation, &flags).await?;
    if let Some(sharing) = sharing {
        let kubeconfig = local::shared::attach(installation, &flags, &sharing.key, &sharing.reaper).await?;
        let kubectl = installation.binary("kubectl");
        return Ok(Arc::new(Cluster::attach_local(kubeconfig, kubectl, flags, installation.version).await?));
    }
    let opts = ClusterOptions { version: Some(installation.version), flags, ..Default::default() };
    let local = LocalCluster::start(installation.clone(), opts).await?;
    Ok(Arc::new(Cluster::from_local(Arc::new(local)).await?))
}
