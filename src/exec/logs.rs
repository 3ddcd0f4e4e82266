//! `logs`: a container's log, as the kubelet keeps it (`pods/log`), read through the API server.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde_json::json;

use super::StepError;
use super::pod_exec::MAX_OUTPUT;
use super::{Run, StepOutput};

use crate::scenario::step::logs::*;
pub async fn logs(run: &mut Run<'_>, s: &LogsStep) -> Result<StepOutput, StepError> {
    let what = || format!("the log of pod {}", s.pod);
    super::retry::once_or_eventually(run, s.eventually, &s.expect, what, async |run, attempt| once(run, s, attempt).await).await
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

pub(crate) fn describe(s: &LogsStep, render: impl Fn(&str) -> String) -> String {
    format!("reading the log of pod {}", render(&s.pod))
}
