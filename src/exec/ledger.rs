//! Everything a scenario creates is recorded here and deleted when the scenario ends — after a
//! failure, a timeout or Ctrl-C too.

use std::sync::{Arc, Mutex, OnceLock};

use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use kube::Client;
use kube::discovery::ApiResource;

/// The label on every object kubeproof creates: the run it belongs to.
pub const RUN_LABEL: &str = "kubeproof.dev/run";

#[derive(Clone, Debug)]
struct Created {
    api: ApiResource,
    namespace: Option<String>,
    name: String,
}

/// The objects of one scenario run.
pub struct Ledger {
    client: Client,
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
    pub fn open(client: Client, namespace: String) -> Arc<Ledger> {
        let ledger = Arc::new(Ledger { client, namespace, created: Mutex::new(Vec::new()), done: Mutex::new(false) });
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
        let created = self.created.lock().map(|c| c.clone()).unwrap_or_default();
        created
            .iter()
            .map(|c| match &c.namespace {
                Some(ns) => format!("{}/{} (namespace {ns})", c.api.kind, c.name),
                None => format!("{}/{}", c.api.kind, c.name),
            })
            .collect()
    }

    /// Deletes what the run created: objects outside its namespace one by one (newest first),
    /// then the namespace, which takes everything inside with it. Errors are reported, not fatal.
    pub async fn clean_up(&self) -> Vec<String> {
        {
            let Ok(mut done) = self.done.lock() else { return Vec::new() };
            if *done {
                return Vec::new();
            }
            *done = true;
        }
        let created = self.created.lock().map(|c| c.clone()).unwrap_or_default();
        let mut problems = Vec::new();
        let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
        for c in created.iter().rev() {
            if c.namespace.as_deref() == Some(self.namespace.as_str()) || (c.api.kind == "Namespace" && c.name == self.namespace) {
                continue;
            }
            let api: Api<DynamicObject> = match &c.namespace {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &c.api),
                None => Api::all_with(self.client.clone(), &c.api),
            };
            if let Err(e) = api.delete(&c.name, &dp).await {
                if !is_not_found(&e) {
                    problems.push(format!("cannot delete {} {}: {e}", c.api.kind, c.name));
                }
            }
        }
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        if let Err(e) = namespaces.delete(&self.namespace, &dp).await {
            if !is_not_found(&e) {
                problems.push(format!("cannot delete namespace {}: {e}", self.namespace));
            }
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

/// Cleans up every run still in progress (Ctrl-C).
pub async fn clean_up_all() -> Vec<String> {
    let ledgers: Vec<Arc<Ledger>> = active().lock().map(|a| a.clone()).unwrap_or_default();
    let mut problems = Vec::new();
    for l in ledgers {
        problems.extend(l.clean_up().await);
    }
    problems
}

pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}
