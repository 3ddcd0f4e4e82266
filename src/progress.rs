//! Progress of long work the library does outside a scenario run — building or downloading a
//! release takes minutes. The library says what it is doing here; the program decides where it
//! goes (the CLI and the test harness: stderr). With no subscriber, nothing is printed.

use std::sync::OnceLock;

type Subscriber = Box<dyn Fn(&str) + Send + Sync>;

fn subscriber() -> &'static OnceLock<Subscriber> {
    static SUBSCRIBER: OnceLock<Subscriber> = OnceLock::new();
    &SUBSCRIBER
}

/// Where progress goes from now on; the first subscriber stays.
pub fn subscribe(f: impl Fn(&str) + Send + Sync + 'static) {
    let _ = subscriber().set(Box::new(f));
}

/// Says one line of progress, e.g. "building Kubernetes 1.37.2 (3m00s, 1204 packages compiled)".
pub fn say(line: &str) {
    if let Some(f) = subscriber().get() {
        f(line);
    }
}

/// Progress lines on stderr, as `kubeproof: …`.
pub fn to_stderr() {
    subscribe(|line| eprintln!("kubeproof: {line}"));
}
