//! `exec`: a command in a pod's container, through the API server (`pods/exec`, over WebSocket),
//! as `kubectl exec` does it — what happens inside a pod: its mounted token, its own API calls.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;
use super::StepError;
use super::{Run, StepOutput, expect_equal, redact};

/// Each of stdout and stderr is kept up to this many bytes; the rest is read and dropped, and
/// the text ends with a note saying how much.
pub const MAX_OUTPUT: usize = 1 << 20;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExecStep {
    /// The pod's name.
    pub pod: String,
    /// The pod's namespace; the scenario's when left out.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The container; left out, the pod's only (or `kubectl.kubernetes.io/default-container`) one,
    /// as the API server chooses.
    #[serde(default)]
    pub container: Option<String>,
    /// The program and its arguments, run without a shell (`[sh, -c, "…"]` for one).
    pub command: Vec<String>,
    /// Save stdout (trimmed) as a token, e.g. `[cat, /var/run/secrets/kubernetes.io/serviceaccount/token]`.
    #[serde(default)]
    pub save: Option<String>,
    /// Expected exit code; 0 when left out.
    #[serde(default)]
    pub exit: Option<i32>,
    /// Assertions on `{exit, stdout, stderr, attempts}` (tokens redacted).
    #[serde(default)]
    #[schemars(with = "Vec<Assertion>")]
    pub expect: Assertions,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, crate::scenario::capture::Capture>")]
    pub capture: Captures,
    /// Run again (every 250 ms, within the step's timeout) until `exit` and the assertions hold.
    #[serde(default)]
    pub eventually: bool,
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

pub async fn exec(run: &mut Run<'_>, s: &ExecStep) -> Result<StepOutput, StepError> {
    if !s.eventually {
        return once(run, s, 1).await;
    }
    let what = format!("exec in pod {}: {}", s.pod, s.command.join(" "));
    super::retry::eventually(run, s.timeout, &s.expect, &what, async |run, attempt| once(run, s, attempt).await).await
}

async fn once(run: &mut Run<'_>, s: &ExecStep, attempt: u32) -> Result<StepOutput, StepError> {
    let pod = run.render(&s.pod)?;
    let command: Vec<String> = s.command.iter().map(|a| run.render(a)).collect::<Result<_, _>>()?;
    let container = s.container.as_deref().map(|c| run.render(c)).transpose()?;
    let namespace = match &s.namespace {
        Some(ns) => run.render(ns)?,
        None => run.namespace.clone(),
    };
    let pods: Api<Pod> = Api::namespaced(run.cluster.client.clone(), &namespace);
    let mut params = AttachParams::default().stdin(false).stdout(true).stderr(true);
    if let Some(c) = &container {
        params = params.container(c.clone());
    }
    let in_container = container.as_ref().map(|c| format!(" container {c}")).unwrap_or_default();
    // Refused before it starts: no such pod or container, a container not running (the API
    // server's or the kubelet's message says which).
    let mut process = pods
        .exec(&pod, command.clone(), &params)
        .await
        .map_err(|e| StepError::kube(&format!("cannot exec in pod {pod}{in_container}"), e))?;
    let (Some(stdout), Some(stderr), Some(status)) = (process.stdout(), process.stderr(), process.take_status()) else {
        return Err(StepError::other("the exec connection has no stdout, stderr or status"));
    };
    // Both streams are drained together: the connection stalls while either is full.
    let (stdout, stderr, status) = futures::join!(read_bounded(stdout), read_bounded(stderr), status);
    // The connection's task ends with the status; its error, if any, says why there was none.
    let ended = process.join().await;
    let status = match status {
        Some(status) => status,
        None => {
            let why = ended.err().map(|e| format!(": {e}")).unwrap_or_default();
            return Err(StepError::other(format!(
                "exec in pod {pod}{in_container} ended without the command's exit status{why}"
            )));
        }
    };
    let exit = exit_code(&status).map_err(|message| format!("exec in pod {pod}{in_container}: {message}"))?;
    let (stdout, stderr) = (stdout.map_err(|e| format!("reading stdout: {e}"))?, stderr.map_err(|e| format!("reading stderr: {e}"))?);
    let mut summary = format!("exec in pod {pod}{in_container}: {} → exit {exit}", command.join(" "));
    if let (Some(name), 0) = (&s.save, exit) {
        if stdout.cut > 0 {
            return Err(StepError::other(format!(
                "stdout is longer than {} bytes: not saved as token `{name}`",
                MAX_OUTPUT
            )));
        }
        let token = stdout.text.trim().to_string();
        summary.push_str(&format!(", token {}", redact::fingerprint(&token)));
        run.save_token(name, token);
    }
    if exit != 0 {
        if let Some(line) = stderr.text.lines().find(|l| !l.trim().is_empty()) {
            summary.push_str(&format!(": {line}"));
        }
    }
    if attempt > 1 {
        summary.push_str(&format!(" (attempt {attempt})"));
    }
    let doc = json!({"exit": exit, "stdout": stdout.shown(), "stderr": stderr.shown(), "attempts": attempt});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.exit", json!(s.exit.unwrap_or(0)))))
}

/// The command's exit code from the status the API server sends when it ends: `Success` is 0; a
/// non-zero exit is a `Failure` with reason `NonZeroExitCode` and the code as an `ExitCode`
/// cause. Any other failure (no such executable, a container that stopped) is an error with
/// the API server's message: the command did not run.
fn exit_code(status: &Status) -> Result<i32, String> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = status
        .details
        .iter()
        .flat_map(|d| d.causes.iter().flatten())
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.parse().ok());
    match (status.reason.as_deref(), code) {
        (Some("NonZeroExitCode"), Some(code)) => Ok(code),
        _ => Err(format!("the command did not run: {}", status.message.as_deref().unwrap_or("no message"))),
    }
}

/// A stream's text, at most [`MAX_OUTPUT`] bytes of it, and how many bytes were left out.
pub(crate) struct Bounded {
    pub text: String,
    pub cut: u64,
}

impl Bounded {
    /// The text, with a note at its end when some was left out.
    pub fn shown(&self) -> String {
        match self.cut {
            0 => self.text.clone(),
            n => format!("{}\n[… {n} more bytes not kept: kubeproof keeps {} bytes]", self.text, MAX_OUTPUT),
        }
    }
}

/// Reads `stream` to its end, keeping the first [`MAX_OUTPUT`] bytes.
pub(crate) async fn read_bounded(stream: impl AsyncRead + Unpin) -> std::io::Result<Bounded> {
    let mut kept = Vec::new();
    let mut stream = stream;
    (&mut stream).take(MAX_OUTPUT as u64).read_to_end(&mut kept).await?;
    let cut = tokio::io::copy(&mut stream, &mut tokio::io::sink()).await?;
    Ok(Bounded { text: String::from_utf8_lossy(&kept).into_owned(), cut })
}

/// Defined variables in `pod`, `container` and `command`; a command to run.
pub(crate) fn lint(s: &ExecStep, l: &mut StepLint) {
    l.var(&s.pod);
    s.namespace.iter().for_each(|ns| l.var(ns));
    s.container.iter().for_each(|c| l.var(c));
    s.command.iter().for_each(|a| l.var(a));
    if s.pod.trim().is_empty() {
        l.problem("`exec` needs `pod`: the name of a pod (in `namespace`, else the scenario's)");
    }
    if s.command.is_empty() {
        l.problem("`exec` needs `command`: the program and its arguments, e.g. `[cat, /etc/hostname]`");
    }
    if let Some(name) = &s.save {
        l.save(name);
    }
}

pub(crate) fn describe(s: &ExecStep, render: impl Fn(&str) -> String) -> String {
    format!("running {} in pod {}", s.command.join(" "), render(&s.pod))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    fn failure(reason: &str, message: &str, causes: Vec<StatusCause>) -> Status {
        Status {
            status: Some("Failure".into()),
            reason: Some(reason.into()),
            message: Some(message.into()),
            details: Some(StatusDetails { causes: Some(causes), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn the_exit_code_comes_from_the_status() {
        assert_eq!(exit_code(&Status { status: Some("Success".into()), ..Default::default() }), Ok(0));
        let exit_2 = StatusCause { reason: Some("ExitCode".into()), message: Some("2".into()), ..Default::default() };
        assert_eq!(exit_code(&failure("NonZeroExitCode", "command terminated with non-zero exit code", vec![exit_2])), Ok(2));
        let not_run = failure("InternalError", "executable file not found in $PATH", vec![]);
        assert_eq!(exit_code(&not_run), Err("the command did not run: executable file not found in $PATH".into()));
    }

    #[tokio::test]
    async fn output_is_kept_up_to_the_bound_and_the_rest_counted() {
        let short = read_bounded(&b"hello\n"[..]).await.unwrap();
        assert_eq!((short.text.as_str(), short.cut, short.shown()), ("hello\n", 0, "hello\n".to_string()));
        let long = vec![b'x'; MAX_OUTPUT + 10];
        let long = read_bounded(&long[..]).await.unwrap();
        assert_eq!((long.text.len(), long.cut), (MAX_OUTPUT, 10));
        assert!(long.shown().ends_with("[… 10 more bytes not kept: kubeproof keeps 1048576 bytes]"), "{}", &long.shown()[MAX_OUTPUT..]);
    }
}
