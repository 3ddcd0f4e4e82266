//! Ctrl-C, SIGTERM and SIGHUP — what terminals and CI runners send — all stop kubeproof the
//! same way: stop starting work, delete what was created, stop the local clusters, exit
//! 128 + the signal's number. A second signal while cleaning up skips the rest of the cleanup.
//!
//! `listen` installs the handlers once, early, so that a signal is never met by the default
//! disposition (which would kill kubeproof before it cleans up); `first` and `second` wait.

use std::sync::OnceLock;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A signal that stops kubeproof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    Interrupt,
    Terminate,
    Hangup,
}

impl Signal {
    /// The shell's convention: 128 + the signal number (130 for Ctrl-C).
    pub fn exit_code(self) -> i32 {
        128 + match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }
}

/// How many signals arrived, and the first of them.
type Received = (usize, Option<Signal>);

fn channel() -> &'static watch::Sender<Received> {
    static CHANNEL: OnceLock<watch::Sender<Received>> = OnceLock::new();
    CHANNEL.get_or_init(|| watch::channel((0, None)).0)
}

/// Installs the handlers; call once from inside the tokio runtime, as early as possible.
/// Calling it again does nothing.
pub fn listen() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        for (kind, which) in [
            (SignalKind::interrupt(), Signal::Interrupt),
            (SignalKind::terminate(), Signal::Terminate),
            (SignalKind::hangup(), Signal::Hangup),
        ] {
            // Registration fails only when signals cannot be handled at all; then the default
            // disposition stays, which is all we could offer anyway.
            let Ok(mut stream) = signal(kind) else { continue };
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    channel().send_modify(|(count, first)| {
                        *count += 1;
                        first.get_or_insert(which);
                    });
                }
            });
        }
    });
}

/// Resolves once `n` signals have arrived (at once if they already have), with the first one.
async fn nth(n: usize) -> Signal {
    let mut rx = channel().subscribe();
    // The sender is a static: it is never dropped, so waiting cannot fail.
    let first = rx.wait_for(|(count, _)| *count >= n).await.ok().and_then(|received| received.1);
    first.unwrap_or(Signal::Interrupt)
}

/// The first stopping signal.
pub async fn first() -> Signal {
    nth(1).await
}

/// A second signal: the user insists, so cleanup is cut short.
pub async fn second() -> Signal {
    nth(2).await
}

/// The first signal, if one has arrived.
pub fn received() -> Option<Signal> {
    channel().borrow().1
}
