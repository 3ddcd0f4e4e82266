//! `exec`: a command in a pod's container, through the API server (`pods/exec`, over WebSocket),
//! as `kubectl exec` does it — what happens inside a pod: its mounted token, its own API calls.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::Resource;
use kube::api::AttachParams;
use serde_json::json;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::StepError;
use super::{Run, StepOutput, expect_equal};
use crate::redact;

use crate::scenario::step::exec::*;
/// Each of stdout and stderr is kept up to this many bytes; the rest is read and dropped, and
/// the text ends with a note saying how much.
pub const MAX_OUTPUT: usize = 1 << 20;

pub async fn exec(run: &mut Run<'_>, s: &ExecStep) -> Result<StepOutput, StepError> {
    let what = || format!("exec in pod {}: {}", s.pod, s.command.join(" "));
    super::retry::once_or_eventually(run, s.eventually, &s.expect, what, async |run, attempt| once(run, s, attempt).await).await
}

async fn once(run: &mut Run<'_>, s: &ExecStep, attempt: u32) -> Result<StepOutput, StepError> {
    let pod = run.render(&s.pod)?;
    let command: Vec<String> = s.command.iter().map(|a| run.render(a)).collect::<Result<_, _>>()?;
    let container = s.container.as_deref().map(|c| run.render(c)).transpose()?;
    let namespace = run.namespace_or_own(s.namespace.as_deref())?;
    let mut params = AttachParams::default().stdin(false).stdout(true).stderr(true);
    if let Some(c) = &container {
        params = params.container(c.clone());
    }
    let in_container = container.as_ref().map(|c| format!(" container {c}")).unwrap_or_default();
    let request = kube::core::Request::new(Pod::url_path(&(), Some(&namespace)))
        .exec(&pod, command.clone(), &params)
        .map_err(|e| StepError::other(format!("exec in pod {pod}: {e}")))?;
    // Refused before it starts: no such pod or container, a container not running (the API
    // server's or the kubelet's message says which).
    let connection =
        run.cluster.client.connect(request).await.map_err(|e| StepError::kube(&format!("cannot exec in pod {pod}{in_container}"), e))?;
    let (stdout, stderr, status) =
        streams(connection.into_stream()).await.map_err(|e| StepError::other(format!("exec in pod {pod}{in_container}: {e}")))?;
    let exit = exit_code(&status).map_err(|message| StepError::other(format!("exec in pod {pod}{in_container}: {message}")))?;
    let mut summary = format!("exec in pod {pod}{in_container}: {} → exit {exit}", command.join(" "));
    if let (Some(name), 0) = (&s.save, exit) {
        if stdout.cut > 0 {
            return Err(StepError::other(format!("stdout is longer than {} bytes: not saved as token `{name}`", MAX_OUTPUT)));
        }
        let token = stdout.text().trim().to_string();
        summary.push_str(&format!(", token {}", redact::fingerprint(&token)));
        run.save_token(name, token);
    }
    if exit != 0
        && let Some(line) = stderr.text().lines().find(|l| !l.trim().is_empty())
    {
        summary.push_str(&format!(": {line}"));
    }
    if attempt > 1 {
        summary.push_str(&format!(" (attempt {attempt})"));
    }
    let doc = json!({"exit": exit, "stdout": stdout.shown(), "stderr": stderr.shown(), "attempts": attempt});
    Ok(StepOutput::new(doc, summary).implying(expect_equal("$.exit", json!(s.exit.unwrap_or(0)))))
}

/// How often the connection is pinged while the command runs, as kubectl does: a connection
/// quiet for about 30 s otherwise never delivered the command's end (seen on a local node).
const PING_EVERY: Duration = Duration::from_secs(5);

/// The remote command protocol's channels (`v4.channel.k8s.io`, `v5.channel.k8s.io`): the first
/// byte of every binary message.
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;

/// Reads the command's stdout and stderr (each bounded) until the API server sends its closing
/// Status; pings the server meanwhile.
async fn streams<S>(ws: WebSocketStream<S>) -> Result<(Bounded, Bounded, Status), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut messages) = ws.split();
    let (mut stdout, mut stderr) = (Bounded::default(), Bounded::default());
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        tokio::select! {
            _ = ping.tick() => sink.send(Message::Ping(Default::default())).await.map_err(|e| format!("the connection failed: {e}"))?,
            message = messages.next() => match message {
                Some(Ok(Message::Binary(bytes))) => match bytes.split_first() {
                    Some((&STDOUT, data)) => stdout.push(data),
                    Some((&STDERR, data)) => stderr.push(data),
                    Some((&STATUS, data)) if !data.is_empty() => {
                        let status = serde_json::from_slice(data).map_err(|e| format!("the command's status is not a Status: {e}"))?;
                        let _ = sink.close().await;
                        return Ok((stdout, stderr, status));
                    }
                    // The empty message of each channel when the connection opens; stdin, resize.
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None => return Err("the connection closed without the command's exit status".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("the connection failed: {e}")),
            },
        }
    }
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

/// A stream's first [`MAX_OUTPUT`] bytes, and how many more there were.
#[derive(Default)]
pub(crate) struct Bounded {
    kept: Vec<u8>,
    pub cut: u64,
}

impl Bounded {
    /// Keeps what fits, counts the rest.
    pub fn push(&mut self, data: &[u8]) {
        let room = MAX_OUTPUT.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..room]);
        self.cut += (data.len() - room) as u64;
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }

    /// The text, with a note at its end when some was left out.
    pub fn shown(&self) -> String {
        match self.cut {
            0 => self.text(),
            n => format!("{}\n[… {n} more bytes not kept: kubeproof keeps {} bytes]", self.text(), MAX_OUTPUT),
        }
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

    /// A client and a server end of an in-memory WebSocket.
    async fn pair() -> (WebSocketStream<tokio::io::DuplexStream>, WebSocketStream<tokio::io::DuplexStream>) {
        use tokio_tungstenite::tungstenite::protocol::Role;
        let (a, b) = tokio::io::duplex(64 * 1024);
        let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        (client, server)
    }

    fn on(channel: u8, data: &[u8]) -> Message {
        Message::binary([&[channel][..], data].concat())
    }

    #[tokio::test]
    async fn the_streams_are_read_until_the_status_and_a_close_alone_is_an_error() {
        let (client, mut server) = pair().await;
        let status = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}"#;
        for m in [on(STDOUT, b""), on(STDERR, b""), on(STDOUT, b"out\n"), on(STDERR, b"err\n"), on(STDOUT, b"more"), on(STATUS, status)] {
            server.send(m).await.unwrap();
        }
        let (stdout, stderr, status) = streams(client).await.unwrap();
        assert_eq!((stdout.text(), stderr.text()), ("out\nmore".to_string(), "err\n".to_string()));
        assert_eq!(exit_code(&status), Ok(0));

        let (client, mut server) = pair().await;
        server.send(on(STDOUT, b"half")).await.unwrap();
        server.close(None).await.unwrap();
        assert_eq!(streams(client).await.err().as_deref(), Some("the connection closed without the command's exit status"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_command_is_pinged_every_five_seconds() {
        let (client, mut server) = pair().await;
        let reading = tokio::spawn(streams(client));
        let started = tokio::time::Instant::now();
        let mut pings = 0;
        while pings < 3 {
            if let Some(Ok(Message::Ping(_))) = server.next().await {
                pings += 1;
            }
        }
        assert_eq!(started.elapsed(), 3 * PING_EVERY);
        server.send(on(STATUS, br#"{"status":"Success"}"#)).await.unwrap();
        assert!(reading.await.unwrap().is_ok(), "still listening after the pings");
    }

    #[test]
    fn output_is_kept_up_to_the_bound_and_the_rest_counted() {
        let mut short = Bounded::default();
        short.push(b"hel");
        short.push(b"lo\n");
        assert_eq!((short.text(), short.cut, short.shown()), ("hello\n".to_string(), 0, "hello\n".to_string()));
        let mut long = Bounded::default();
        long.push(&vec![b'x'; MAX_OUTPUT - 2]);
        long.push(b"abcd");
        long.push(b"efgh");
        assert_eq!((long.text().len(), long.cut), (MAX_OUTPUT, 6));
        assert!(long.text().ends_with("xab"), "the bytes up to the bound are kept, in order");
        assert!(long.shown().ends_with("[… 6 more bytes not kept: kubeproof keeps 1048576 bytes]"), "{}", &long.shown()[MAX_OUTPUT..]);
    }
}
