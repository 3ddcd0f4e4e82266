//! `logs`: a container's log, as the kubelet keeps it (`pods/log`), read through the API server.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::pod_exec::MAX_OUTPUT;
use super::{Run, StepOutput};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LogsStep {
    /// The pod's name.
    pub pod: String,
    /// The pod's namespace; the scenario's when left out.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container; left out, the pod's only (or default) one, as the API server chooses.
    #[serde(default)]
    pub container: Option<String>,
    /// The log of the container's previous run (after a restart).
    #[serde(default)]
    pub previous: bool,
    /// Only the last lines.
    #[serde(default)]
    pub tail_lines: Option<i64>,
    /// Assertions on `{text, attempts}` (tokens redacted).
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    /// Read again (every 250 ms, within the step's timeout) until the log can be read and the
    /// assertions hold: for what a container prints a while after it starts.
    #[serde(default)]
    pub eventually: bool,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

pub async fn logs(run: &mut Run<'_>, s: &LogsStep) -> Result<StepOutput, StepError> {
    let what = || format!("the log of pod {}", s.pod);
    super::retry::once_or_eventually(run, s.eventually, s.timeout, &s.expect, what, async |run, attempt| once(run, s, attempt).await).await
}

async fn once(run: &mut Run<'_>, s: &LogsStep, attempt: u32) -> Result<StepOutput, StepError> {
    let pod = run.render(&s.pod)?;
    let container = s.container.as_deref().map(|c| run.render(c)).transpose()?;
    let namespace = run.namespace_or_own(s.namespace.as_deref())?;
    let pods: Api<Pod> = Api::namespaced(run.cluster.client.clone(), &namespace);
    // One byte more than is kept says whether there was more.
    let params = LogParams {
        container: container.clone(),
        previous: s.previous,
        tail_lines: s.tail_lines,
        limit_bytes: Some(MAX_OUTPUT as i64 + 1),
        ..Default::default()
    };
    let of = format!("pod {pod}{}", container.as_ref().map(|c| format!(" container {c}")).unwrap_or_default());
    let text = pods.logs(&pod, &params).await.map_err(|e| StepError::kube(&format!("cannot read the log of {of}"), e))?;
    let text = match text.len() > MAX_OUTPUT {
        true => {
            let mut end = MAX_OUTPUT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}\n[… more not kept: kubeproof keeps {MAX_OUTPUT} bytes of a log]", &text[..end])
        }
        false => text,
    };
    let lines = text.lines().count();
    let mut summary = format!("log of {of}: {lines} lines");
    if s.previous {
        summary.push_str(" (previous run)");
    }
    if attempt > 1 {
        summary.push_str(&format!(" (attempt {attempt})"));
    }
    Ok(StepOutput::new(json!({"text": text, "attempts": attempt}), summary))
}

/// Defined variables in `pod` and `container`; a positive `tail-lines`.
pub(crate) fn lint(s: &LogsStep, l: &mut StepLint) {
    l.var(&s.pod);
    s.namespace.iter().for_each(|ns| l.var(ns));
    s.container.iter().for_each(|c| l.var(c));
    if s.pod.trim().is_empty() {
        l.problem("`logs` needs `pod`: the name of a pod (in `namespace`, else the scenario's)");
    }
    if let Some(n) = s.tail_lines.filter(|n| *n < 0) {
        l.problem(format!("`tail-lines: {n}` must be 0 or more: the number of last lines to read"));
    }
}

pub(crate) fn describe(s: &LogsStep, render: impl Fn(&str) -> String) -> String {
    format!("reading the log of pod {}", render(&s.pod))
}
