//! `kubectl`: the client itself, where what it sends matters (`create token --duration=0s`), as
//! the admin or as a saved token (through a kubeconfig of its own, [`super::kubeconfig`]).

use std::process::Stdio;

use serde_json::json;

use super::StepError;
use super::kubeconfig::StepKubeconfig;
use super::{Run, StepOutput, expect_equal};
use crate::redact;

use crate::scenario::step::kubectl::*;
pub async fn kubectl(run: &mut Run<'_>, s: &KubectlStep) -> Result<StepOutput, StepError> {
    let what = || format!("kubectl {}", s.args.join(" "));
    super::retry::once_or_eventually(run, s.eventually, &s.expect, what, async |run, attempt| once(run, s, attempt).await).await
}

async fn once(run: &mut Run<'_>, s: &KubectlStep, attempt: u32) -> Result<StepOutput, StepError> {
    let args: Vec<String> = s.args.iter().map(|a| run.render(a)).collect::<Result<_, _>>()?;
    // Removed once kubectl has exited, or when this future is dropped (a timeout, a signal),
    // which kills kubectl too.
    let token_kubeconfig = match s.identity.as_deref() {
        None | Some("admin") => None,
        Some(name) => Some(StepKubeconfig::write(run.cluster, name, run.token(name)?).map_err(StepError::other)?),
    };
    let mut cmd = tokio::process::Command::new(&run.cluster.kubectl);
    match &token_kubeconfig {
        Some(own) => {
            cmd.arg(format!("--kubeconfig={}", own.path().display()));
        }
        None => {
            if let Some(kc) = run.cluster.kubeconfig() {
                cmd.arg(format!("--kubeconfig={}", kc.display()));
            }
            if let Some(ctx) = run.cluster.context() {
                cmd.arg(format!("--context={ctx}"));
            }
        }
    }
    cmd.arg(format!("--namespace={}", run.namespace))
        .args(&args)
        .envs(&s.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = cmd.output().await.map_err(|e| {
        StepError::other(format!("cannot run {}: {e} (set KUBEPROOF_KUBECTL or put kubectl on PATH)", run.cluster.kubectl.display()))
    })?;
    drop(token_kubeconfig);
    let exit = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let who = s.identity.as_ref().map(|i| format!(" as {i}")).unwrap_or_default();
    let mut summary = format!("kubectl {}{who} → exit {exit}", args.join(" "));
    if let (Some(name), 0) = (&s.save, exit) {
        let token = stdout.trim().to_string();
        summary.push_str(&format!(", token {}", redact::fingerprint(&token)));
        run.save_token(name, token);
    }
    if exit != 0
        && let Some(line) = stderr.lines().find(|l| !l.trim().is_empty())
    {
        summary.push_str(&format!(": {line}"));
    }
    if attempt > 1 {
        summary.push_str(&format!(" (attempt {attempt})"));
    }
    let doc = json!({"exit": exit, "stdout": stdout, "stderr": stderr, "attempts": attempt});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.exit", json!(s.exit.unwrap_or(0)))))
}

pub(crate) fn describe(s: &KubectlStep) -> String {
    format!("running kubectl {}", s.args.join(" "))
}
