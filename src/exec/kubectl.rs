//! `kubectl`: the client itself, where what it sends matters (`create token --duration=0s`).

use std::collections::BTreeMap;
use std::process::Stdio;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::{Run, StepOutput, expect_equal, redact};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubectlStep {
    /// Arguments after `kubectl`; `--kubeconfig`, `--context` (where known) and `--namespace` are added.
    pub args: Vec<String>,
    /// Save stdout (trimmed) as a token, e.g. after `create token`.
    #[serde(default)]
    pub save: Option<String>,
    /// Expected exit code; 0 when left out.
    #[serde(default)]
    pub exit: Option<i32>,
    /// Assertions on `{exit, stdout, stderr}` (tokens redacted).
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: Captures,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

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

pub(crate) fn lint(s: &KubectlStep, l: &mut StepLint) {
    s.args.iter().for_each(|a| l.var(a));
    if s.args.is_empty() {
        l.problem("`kubectl` needs `args`");
    }
    if let Some(name) = &s.save {
        l.save(name);
    }
}

pub(crate) fn describe(s: &KubectlStep) -> String {
    format!("running kubectl {}", s.args.join(" "))
}
