//! Watching instead of sleeping: list, check, then wait for the next change and check again.

use std::ops::ControlFlow;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, ObjectList, WatchParams};

use super::StepError;

/// Which objects to look at.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub name: Option<String>,
    pub labels: Option<String>,
    pub fields: Option<String>,
}

impl Selection {
    pub fn named(name: &str) -> Self {
        Selection { name: Some(name.to_string()), ..Default::default() }
    }

    fn field_selector(&self) -> Option<String> {
        let by_name = self.name.as_ref().map(|n| format!("metadata.name={n}"));
        match (by_name, &self.fields) {
            (Some(a), Some(b)) => Some(format!("{a},{b}")),
            (a, b) => a.or_else(|| b.clone()),
        }
    }

    pub fn list_params(&self) -> ListParams {
        let mut lp = ListParams::default();
        if let Some(f) = self.field_selector() {
            lp = lp.fields(&f);
        }
        if let Some(l) = &self.labels {
            lp = lp.labels(l);
        }
        lp
    }

    fn watch_params(&self) -> WatchParams {
        let mut wp = WatchParams::default().timeout(290);
        if let Some(f) = self.field_selector() {
            wp = wp.fields(&f);
        }
        if let Some(l) = &self.labels {
            wp = wp.labels(l);
        }
        wp
    }
}

/// Lists the selection and hands it to `check`; while `check` continues, waits for the next
/// watch event and lists again. No change goes unseen: each watch starts at the resource
/// version of the list just checked. The caller bounds the time. A refusal keeps the API
/// server's code, reason and message (`StepError::Api`).
pub async fn observe<T>(
    api: &Api<DynamicObject>,
    selection: Selection,
    mut check: impl FnMut(&ObjectList<DynamicObject>) -> ControlFlow<T>,
) -> Result<T, StepError> {
    loop {
        let list = api.list(&selection.list_params()).await.map_err(|e| StepError::kube("list failed", e))?;
        if let ControlFlow::Break(done) = check(&list) {
            return Ok(done);
        }
        let version = list.metadata.resource_version.clone().unwrap_or_default();
        let stream = api.watch(&selection.watch_params(), &version).await.map_err(|e| StepError::kube("watch failed", e))?;
        let mut stream = std::pin::pin!(stream);
        // Any event (or the server closing the watch) is a reason to look again.
        let _ = stream.next().await;
    }
}
