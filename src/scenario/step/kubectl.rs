//! `kubectl`: the client itself, where what it sends matters (`create token --duration=0s`), as
//! the admin or as a saved token (through a kubeconfig of its own, `exec::kubeconfig`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::GoDuration;
use crate::scenario::assertion::Assertion;
use crate::scenario::step::lint::StepLint;
use crate::scenario::step::{Assertions, Captures};
use crate::version::VersionRange;

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
    /// The cluster it runs on: `main` (the default) or one of the scenario's `clusters`.
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub timeout: Option<GoDuration>,
}

/// Flags that say which cluster, user or credentials kubectl uses: with `as:`, the step's own
/// kubeconfig says that, and these would override or contradict it.
pub(crate) const CREDENTIAL_FLAGS: &[&str] = &[
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
pub fn lint(s: &KubectlStep, l: &mut StepLint) {
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
