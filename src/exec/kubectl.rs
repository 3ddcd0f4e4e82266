//! `kubectl`: the client itself, where what it sends matters (`create token --duration=0s`).

use std::process::Stdio;

use serde_json::json;

use super::StepError;
use super::{Run, StepOutput, expect_equal, redact};
use crate::scenario::step::KubectlStep;

pub async fn kubectl(run: &mut Run<'_>, s: &KubectlStep) -> Result<StepOutput, StepError> {
    let args: Vec<String> = s.args.iter().map(|a| run.render(a)).collect::<Result<_, _>>()?;
    let mut cmd = tokio::process::Command::new(&run.cluster.kubectl);
    if let Some(kc) = &run.cluster.kubeconfig {
        cmd.arg(format!("--kubeconfig={}", kc.display()));
    }
    if let Some(ctx) = &run.cluster.context {
        cmd.arg(format!("--context={ctx}"));
    }
    cmd.arg(format!("--namespace={}", run.namespace))
        .args(&args)
        .envs(&s.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e} (set KUBEPROOF_KUBECTL or put kubectl on PATH)", run.cluster.kubectl.display()))?;
    let exit = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut summary = format!("kubectl {} → exit {exit}", args.join(" "));
    if let (Some(name), 0) = (&s.save, exit) {
        let token = stdout.trim().to_string();
        summary.push_str(&format!(", token {}", redact::fingerprint(&token)));
        run.save_token(name, token);
    }
    if exit != 0 {
        if let Some(line) = stderr.lines().find(|l| !l.trim().is_empty()) {
            summary.push_str(&format!(": {line}"));
        }
    }
    let doc = json!({"exit": exit, "stdout": stdout, "stderr": stderr});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.exit", json!(s.exit.unwrap_or(0)))))
}
