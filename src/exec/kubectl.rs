//! `kubectl`: the client itself, where what it sends matters (`create token --duration=0s`), as
//! the admin or as a saved token (through a kubeconfig of its own, [`super::kubeconfig`]).

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
use super::kubeconfig::StepKubeconfig;
use super::{Run, StepOutput, expect_equal, redact};

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubectlStep {
    /// Arguments after `kubectl`; `--kubeconfig`, `--context` (where known) and `--namespace` are added.
    pub args: Vec<String>,
    /// A saved token's name: kubectl runs with a temporary kubeconfig holding only the cluster
    /// and that token. Left out (or `admin`): the cluster's own kubeconfig.
    #[serde(default, rename = "as")]
    pub identity: Option<String>,
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
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Run again (every 250 ms, within the step's timeout) until `exit` and the assertions hold.
    #[serde(default)]
    pub eventually: bool,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

pub async fn kubectl(run: &mut Run<'_>, s: &KubectlStep) -> Result<StepOutput, StepError> {
    let what = || format!("kubectl {}", s.args.join(" "));
    super::retry::once_or_eventually(run, s.eventually, s.timeout, &s.expect, what, async |run, attempt| once(run, s, attempt).await).await
}

async fn once(run: &mut Run<'_>, s: &KubectlStep, attempt: u32) -> Result<StepOutput, StepError> {
    let args: Vec<String> = s.args.iter().map(|a| run.render(a)).collect::<Result<_, _>>()?;
    // Removed once kubectl has exited, or when this future is dropped (a timeout, a signal),
    // which kills kubectl too.
    let token_kubeconfig = match s.identity.as_deref() {
        None | Some("admin") => None,
        Some(name) => Some(StepKubeconfig::write(run.cluster, name, run.token(name)?)?),
    };
    let mut cmd = tokio::process::Command::new(&run.cluster.kubectl);
    match &token_kubeconfig {
        Some(own) => {
            cmd.arg(format!("--kubeconfig={}", own.path().display()));
        }
        None => {
            if let Some(kc) = &run.cluster.kubeconfig {
                cmd.arg(format!("--kubeconfig={}", kc.display()));
            }
            if let Some(ctx) = &run.cluster.context {
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
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e} (set KUBEPROOF_KUBECTL or put kubectl on PATH)", run.cluster.kubectl.display()))?;
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
    if exit != 0 {
        if let Some(line) = stderr.lines().find(|l| !l.trim().is_empty()) {
            summary.push_str(&format!(": {line}"));
        }
    }
    if attempt > 1 {
        summary.push_str(&format!(" (attempt {attempt})"));
    }
    let doc = json!({"exit": exit, "stdout": stdout, "stderr": stderr, "attempts": attempt});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.exit", json!(s.exit.unwrap_or(0)))))
}

/// Flags that say which cluster, user or credentials kubectl uses: with `as:`, the step's own
/// kubeconfig says that, and these would override or contradict it.
const CREDENTIAL_FLAGS: &[&str] = &[
    "--kubeconfig",
    "--context",
    "--cluster",
    "--user",
    "--token",
    "--as",
    "--as-group",
    "--as-uid",
    "--username",
    "--password",
    "--client-certificate",
    "--client-key",
];

/// Defined variables in `args`, a known identity in `as` and no flag in `args` that would
/// contradict it.
pub(crate) fn lint(s: &KubectlStep, l: &mut StepLint) {
    s.args.iter().for_each(|a| l.var(a));
    if s.args.is_empty() {
        l.problem("`kubectl` needs `args`");
    }
    match s.identity.as_deref() {
        // The cluster's own kubeconfig, as without `as`.
        None | Some("admin") => {}
        // With no credential in its kubeconfig, kubectl asks for a username and password.
        Some("anonymous") => l.problem(
            "kubectl cannot run as `anonymous`: with no credentials it asks for a username and password; \
             use `call` with `as: anonymous`",
        ),
        Some(name) => l.token(name, false),
    }
    if let Some(identity) = s.identity.as_ref().filter(|i| *i != "admin") {
        // Up to `--`: what follows is another program's (`exec … -- sh -c …`).
        for arg in s.args.iter().take_while(|a| *a != "--") {
            let flag = arg.split('=').next().unwrap_or_default();
            if CREDENTIAL_FLAGS.contains(&flag) {
                l.problem(format!(
                    "`{flag}` in `args` conflicts with `as: {identity}`: the step runs kubectl with a kubeconfig of its own \
                     holding only the cluster and that identity; leave out `as` or `{flag}`"
                ));
            }
        }
    }
    if let Some(name) = &s.save {
        l.save(name);
    }
}

pub(crate) fn describe(s: &KubectlStep) -> String {
    format!("running kubectl {}", s.args.join(" "))
}
