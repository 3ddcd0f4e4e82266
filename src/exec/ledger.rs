//! Everything a scenario creates is recorded here and deleted when the scenario ends — after a
//! failure, a timeout or Ctrl-C too.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use kube::discovery::ApiResource;

/// The label on every object kubeproof creates: the run it belongs to.
pub const RUN_LABEL: &str = "kubeproof.dev/run";

#[derive(Clone, Debug)]
struct Created {
    api: ApiResource,
    namespace: Option<String>,
    name: String,
}

impl Created {
    fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} (namespace {ns})", self.api.kind, self.name),
            None => format!("{}/{}", self.api.kind, self.name),
        }
    }
}

/// How long one delete may take after a signal before the object is reported as left behind:
/// someone is waiting for kubeproof to exit.
pub const DELETE_BUDGET: Duration = Duration::from_secs(3);

/// How long the cleanup of every run in progress may take together (after Ctrl-C, or when a
/// run is cut short).
pub const CLEANUP_BUDGET: Duration = Duration::from_secs(10);

/// One delete at the end of a scenario, and that scenario's whole cleanup: nobody is waiting,
/// and a loaded API server answers late (`make stress` saw a namespace's DELETE take over 3 s).
pub const AFTER_RUN: (Duration, Duration) = (Duration::from_secs(20), Duration::from_secs(60));

/// Deletes one object in the background (its dependents follow); gone already is fine.
async fn delete<K>(api: &Api<K>, name: &str, within: Duration) -> Result<(), String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
    match tokio::time::timeout(within, api.delete(name, &dp)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if is_not_found(&e) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", within.as_secs())),
    }
}

/// The objects of one scenario run.
pub struct Ledger {
    client: Client,
    /// The label of the cluster the run is on.
    cluster: String,
    pub namespace: String,
    created: Mutex<Vec<Created>>,
    done: Mutex<bool>,
}

fn active() -> &'static Mutex<Vec<Arc<Ledger>>> {
    static ACTIVE: OnceLock<Mutex<Vec<Arc<Ledger>>>> = OnceLock::new();
    ACTIVE.get_or_init(|| Mutex::new(Vec::new()))
}

impl Ledger {
    /// A ledger for a run whose namespace is `namespace`; registered until cleaned up.
    pub fn open(client: Client, cluster: &str, namespace: String) -> Arc<Ledger> {
        let ledger =
            Arc::new(Ledger { client, cluster: cluster.to_string(), namespace, created: Mutex::new(Vec::new()), done: Mutex::new(false) });
        if let Ok(mut all) = active().lock() {
            all.push(ledger.clone());
        }
        ledger
    }

    /// Records an object before it is created, so that a half-done create is cleaned up too.
    pub fn record(&self, api: &ApiResource, namespace: Option<&str>, name: &str) {
        if let Ok(mut created) = self.created.lock() {
            let entry = Created { api: api.clone(), namespace: namespace.map(str::to_string), name: name.to_string() };
            if !created.iter().any(|c| c.api.kind == entry.api.kind && c.namespace == entry.namespace && c.name == entry.name) {
                created.push(entry);
            }
        }
    }

    /// What was recorded, as `Kind/name` (for `--keep`).
    pub fn describe(&self) -> Vec<String> {
        self.created.lock().map(|c| c.iter().map(Created::describe).collect()).unwrap_or_default()
    }

    /// What this run would leave behind if its cleanup never ran: the namespace and every
    /// object outside it.
    pub fn remaining(&self) -> Vec<String> {
        let outside = self.created.lock().map(|c| {
            c.iter().filter(|c| c.namespace.as_deref() != Some(self.namespace.as_str())).map(Created::describe).collect::<Vec<_>>()
        });
        std::iter::once(format!("Namespace/{}", self.namespace)).chain(outside.unwrap_or_default()).collect()
    }

    /// Deletes what the run created: objects outside its namespace one by one (newest first),
    /// then the namespace, which takes everything inside with it. Each delete has its own
    /// budget (`per_delete`), so a hung API server cannot hold the run; what could not be deleted
    /// is named in the returned problems, for the user to delete by hand.
    pub async fn clean_up(&self, per_delete: Duration) -> Vec<String> {
        {
            let Ok(mut done) = self.done.lock() else { return Vec::new() };
            if *done {
                return Vec::new();
            }
            *done = true;
        }
        let created = self.created.lock().map(|c| c.clone()).unwrap_or_default();
        let mut problems = Vec::new();
        for c in created.iter().rev() {
            if c.namespace.as_deref() == Some(self.namespace.as_str()) || (c.api.kind == "Namespace" && c.name == self.namespace) {
                continue;
            }
            let api: Api<DynamicObject> = match &c.namespace {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &c.api),
                None => Api::all_with(self.client.clone(), &c.api),
            };
            if let Err(e) = delete(&api, &c.name, per_delete).await {
                problems.push(format!("left {}: {e}", c.describe()));
            }
        }
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        if let Err(e) = delete(&namespaces, &self.namespace, per_delete).await {
            problems.push(format!("left Namespace/{}: {e}", self.namespace));
        }
        self.forget();
        problems
    }

    /// Leaves everything in place (`--keep`) and unregisters.
    pub fn forget(&self) {
        if let Ok(mut all) = active().lock() {
            all.retain(|l| !std::ptr::eq(l.as_ref(), self));
        }
    }
}

/// Cleans up every run still in progress (Ctrl-C, a run cut short), all at once and within
/// `budget`; what could not be deleted in time is named.
pub async fn clean_up_all(budget: Duration) -> Vec<String> {
    let ledgers = registered(|_| true);
    let all = futures::future::join_all(ledgers.iter().map(|l| l.clean_up(DELETE_BUDGET)));
    match tokio::time::timeout(budget, all).await {
        Ok(problems) => problems.into_iter().flatten().collect(),
        Err(_) => left_behind(),
    }
}

/// After a signal: cleans up every run in progress within the budget, unless a second signal
/// cuts that short; either way, what was left.
pub async fn clean_up_after_signal() -> Vec<String> {
    tokio::select! {
        problems = clean_up_all(CLEANUP_BUDGET) => problems,
        _ = crate::interrupt::second() => left_behind(),
    }
}

/// What the runs still registered would leave behind: said when cleanup is cut short.
pub fn left_behind() -> Vec<String> {
    registered(|_| true).iter().flat_map(|l| l.remaining()).map(|what| format!("left {what}")).collect()
}

/// The same, for the runs on these clusters only.
pub fn left_behind_on(clusters: &[String]) -> Vec<String> {
    registered(|l| clusters.contains(&l.cluster)).iter().flat_map(|l| l.remaining()).map(|what| format!("left {what}")).collect()
}

/// Forgets the runs on these clusters without deleting anything: the clusters are gone.
pub fn forget_on(clusters: &[String]) {
    if let Ok(mut all) = active().lock() {
        all.retain(|l| !clusters.contains(&l.cluster));
    }
}

fn registered(keep: impl Fn(&Ledger) -> bool) -> Vec<Arc<Ledger>> {
    active().lock().map(|a| a.iter().filter(|l| keep(l)).cloned().collect()).unwrap_or_default()
}

pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}
