//! The scenario format: YAML files parsed into typed values that keep their source positions.

pub mod assertion;
pub mod capture;
pub mod cases;
pub mod clusters;
pub mod duration;
pub mod include;
pub mod json_path;
pub mod lint;
pub mod manifest;
pub mod parsed;
pub mod recover;
pub mod source;
pub mod step;
pub mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use assertion::Assertion;
pub use duration::GoDuration;
pub use source::{Diagnostic, FileAccess, Position, SourcePos};
pub use step::Step;

use crate::version::VersionRange;

/// A scenario file as written. Its steps are `S` so that a file that does not parse can be read
/// again with the steps that failed left out ([`recover`]); every list of steps is a `Vec<S>`,
/// named in [`STEP_LISTS`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
#[schemars(title = "kubeproof scenario", description = "Documented Kubernetes behaviour as executable evidence.")]
pub struct ScenarioSpec<S = Spanned<Step>> {
    /// Defaults to the file name without `.yaml`.
    #[serde(default)]
    pub name: Option<String>,
    /// What behaviour this shows, in a sentence or two.
    pub description: String,
    /// Where the behaviour is documented: docs, KEPs, posts.
    #[serde(default)]
    pub sources: Vec<String>,
    /// The releases the scenario applies to; elsewhere it is reported as not applicable.
    #[serde(default)]
    pub versions: Option<VersionRange>,
    #[serde(default)]
    pub requires: Requires,
    /// Clusters beside the run's own (`main`), by name: their release, flags and node, and the
    /// clusters whose tokens each trusts. A step runs on one with `cluster: <name>`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, clusters::ClusterSpec>")]
    pub clusters: clusters::Clusters,
    /// Takes minutes (a kubelet's token refresh): left out where scenarios are taken from a
    /// directory (the test harness, `run`, `matrix`) unless `KUBEPROOF_LONG=1`; a file named
    /// on the command line runs anyway.
    #[serde(default)]
    pub long: bool,
    /// A table of cases: the scenario runs once per case, named `<scenario>::<case>`, each case's
    /// values variables of its run. Every case sets the same variables; `name` names the case.
    #[serde(default)]
    #[schemars(with = "Option<Vec<BTreeMap<String, serde_json::Value>>>")]
    pub cases: Option<Vec<Spanned<cases::Case>>>,
    /// What the behaviour matrix shows, e.g. `"${seconds}s"`; with a list, the first whose
    /// variables were all captured on that release.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany")]
    pub observe: Vec<String>,
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<S>,
    /// Steps that run after the steps whatever happened to them (a failure, a timeout), before
    /// the cleanup; each one runs even when one before it failed.
    #[serde(default)]
    #[schemars(with = "Vec<Step>")]
    pub finally: Vec<S>,
}

/// The keys of [`ScenarioSpec`] whose values are lists of steps.
pub const STEP_LISTS: [&str; 2] = ["steps", "finally"];

impl<S> ScenarioSpec<S> {
    /// The same spec with each list of steps (every one of [`STEP_LISTS`]) made by `f`.
    pub fn map_steps<T>(self, mut f: impl FnMut(Vec<S>) -> Vec<T>) -> ScenarioSpec<T> {
        let ScenarioSpec { name, description, sources, versions, requires, clusters, long, cases, observe, steps, finally } = self;
        ScenarioSpec {
            name,
            description,
            sources,
            versions,
            requires,
            clusters,
            long,
            cases,
            observe,
            steps: f(steps),
            finally: f(finally),
        }
    }
}

/// A string or a list of strings.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Vec<String>, E> {
            Ok(vec![s.to_string()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// What the cluster must offer.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Requires {
    /// kube-apiserver flags, e.g. `--service-account-max-token-expiration=2h`. A local control
    /// plane is started with them; on other clusters the scenario is not applicable.
    #[serde(default)]
    pub apiserver_args: Vec<String>,
    /// kube-controller-manager flags, e.g. `--controllers=*,-serviceaccount-token`. A local
    /// control plane is started with them; on other clusters the scenario is not applicable.
    #[serde(default)]
    pub controller_manager_args: Vec<String>,
    /// Nodes that run pods (a kubelet and a container runtime). A local control plane is
    /// started with them; on other clusters the scenario runs if that many nodes are Ready.
    #[serde(default)]
    pub nodes: u32,
}

impl Requires {
    /// The flags required, per component, and the nodes: the scenario's cluster profile.
    pub fn profile(&self) -> crate::profile::Profile {
        crate::profile::Profile {
            apiserver: self.apiserver_args.clone(),
            controller_manager: self.controller_manager_args.clone(),
            nodes: self.nodes,
        }
    }
}

/// A loaded scenario: its spec, its name and where it came from.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub path: PathBuf,
    pub spec: ScenarioSpec,
    /// The file's text, to point at top-level keys.
    pub text: String,
    /// The case this scenario runs, for one of a table's ([`cases::expand`]).
    pub case: Option<cases::CaseValues>,
    /// Where included steps were written, by their index in `spec.steps` and `spec.finally`.
    pub included: Included,
}

/// The origins of a scenario's included steps (`include::expand`).
#[derive(Debug, Clone, Default)]
pub struct Included {
    pub steps: BTreeMap<usize, include::Origin>,
    pub finally: BTreeMap<usize, include::Origin>,
}

impl Scenario {
    /// Reads and parses one file, which may read manifests beside it; errors carry
    /// file:line:column.
    pub fn load(path: &Path) -> Result<Scenario, Vec<Diagnostic>> {
        Self::load_in(path, &FileAccess::beside(path))
    }

    /// Reads and parses one file with the limits every input has (a regular file, at most 4 MiB,
    /// UTF-8: see [`source::read_text`]); the manifest files it names must be under `access`.
    /// The scenario file itself was named by the user, directly or by its directory: it may be
    /// a symlink to anywhere.
    pub fn load_in(path: &Path, access: &FileAccess) -> Result<Scenario, Vec<Diagnostic>> {
        let text = source::read_text(path, None).map_err(|e| {
            let (line, column) = e.at.unwrap_or((1, 1));
            let message = match e.at {
                Some(_) => format!("{} (scenario files are UTF-8 text)", e.message),
                None => format!("cannot read the scenario file: {}", e.message),
            };
            vec![Diagnostic { pos: SourcePos { file: path.to_path_buf(), line, column }, message }]
        })?;
        Self::parse_in(path, &text, access)
    }

    /// Parses scenario text; `path` names it in errors and anchors relative manifest files,
    /// which may be read from its own directory.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, Vec<Diagnostic>> {
        Self::parse_in(path, text, &FileAccess::beside(path))
    }

    /// Parses scenario text and reads the manifest files it names, once: lint and the run see
    /// the same bytes, and a file swapped afterwards cannot change or block the run.
    ///
    /// A file that does not parse gets every problem found in it ([`recover`]): each step's,
    /// the top-level keys', and what lint finds in the parts that parsed, sorted by position.
    pub fn parse_in(path: &Path, text: &str, access: &FileAccess) -> Result<Scenario, Vec<Diagnostic>> {
        if text.len() as u64 > source::MAX_FILE_BYTES {
            let message = format!("the scenario is {} bytes; the limit is {}", text.len(), source::limit_text());
            return Err(vec![Diagnostic { pos: SourcePos { file: path.to_path_buf(), line: 1, column: 1 }, message }]);
        }
        match serde_saphyr::from_str_with_options(text, yaml_options()) {
            Ok(spec) => Ok(Self::from_spec(path, text, spec, access)),
            Err(e) => Err(recover::problems(path, text, access, &e)),
        }
    }

    /// A scenario from its parsed spec: includes expanded, manifest files read, its name.
    fn from_spec(path: &Path, text: &str, mut spec: ScenarioSpec, access: &FileAccess) -> Scenario {
        // Includes expanded and manifest files read, each relative to the file its step is in.
        let steps = include::expand(std::mem::take(&mut spec.steps), path, access);
        let finally = include::expand(std::mem::take(&mut spec.finally), path, access);
        (spec.steps, spec.finally) = (steps.steps, finally.steps);
        let included = Included { steps: steps.origins, finally: finally.origins };
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "scenario".into()));
        Scenario { name, path: path.to_path_buf(), spec, text: text.to_string(), case: None, included }
    }

    /// Where step `index` starts.
    pub fn step_pos(&self, index: usize) -> SourcePos {
        let step = &self.spec.steps[index];
        self.pos_in(step, &step.referenced)
    }

    /// Where one of this scenario's steps (of `spec.steps` or `spec.finally`) was written: its
    /// step file and the includes that brought it in, for an included step.
    pub fn origin(&self, step: &Spanned<Step>) -> Option<&include::Origin> {
        let index_in = |list: &[Spanned<Step>]| list.iter().position(|s| std::ptr::eq(s, step));
        match index_in(&self.spec.steps) {
            Some(index) => self.included.steps.get(&index),
            None => index_in(&self.spec.finally).and_then(|index| self.included.finally.get(&index)),
        }
    }

    /// A location inside `step` (the step itself, an assertion, a capture), in the file the step
    /// is written in.
    pub fn pos_in(&self, step: &Spanned<Step>, loc: &serde_saphyr::Location) -> SourcePos {
        let file = self.origin(step).map_or(&self.path, |o| &o.file);
        SourcePos { file: file.clone(), line: loc.line(), column: loc.column() }
    }

    /// The include steps that brought `step` in, innermost first; none for the scenario's own.
    pub fn included_from(&self, step: &Spanned<Step>) -> &[SourcePos] {
        self.origin(step).map_or(&[], |o| o.via.as_slice())
    }

    /// A location in this scenario's file (of a step, an assertion, a capture).
    pub fn pos_of(&self, loc: &serde_saphyr::Location) -> SourcePos {
        SourcePos { file: self.path.clone(), line: loc.line(), column: loc.column() }
    }

    /// Where a top-level key is written (line 1 when it is not).
    pub fn key_pos(&self, key: &str) -> SourcePos {
        let line = self.text.lines().position(|l| l.starts_with(&format!("{key}:"))).map_or(1, |i| i as u64 + 1);
        SourcePos { file: self.path.clone(), line, column: 1 }
    }

    /// The releases this scenario applies to.
    pub fn applies_to(&self, v: &crate::version::KubeVersion) -> bool {
        self.requirement().applies_to(v)
    }

    /// What this scenario asks of the cluster it runs on.
    pub fn requirement(&self) -> crate::requirement::Requirement {
        crate::requirement::Requirement {
            versions: self.spec.versions.clone(),
            profile: self.spec.requires.profile(),
            own_cluster: self.changes_cluster().is_some(),
            federation: clusters::federation(self),
        }
    }

    /// The first step that changes the cluster (an upgrade, a restart, a key rotation), if any:
    /// such a scenario runs on a local cluster of its own.
    pub fn changes_cluster(&self) -> Option<&Spanned<Step>> {
        self.spec.steps.iter().chain(&self.spec.finally).find(|s| s.value.changes_cluster())
    }

    /// The releases the scenario's upgrades name, in order (`to` as written): trial names and
    /// reports show the path a run takes.
    pub fn upgrades(&self) -> Vec<String> {
        let steps = self.spec.steps.iter().chain(&self.spec.finally);
        steps
            .filter_map(|s| match &s.value {
                Step::Upgrade(u) => Some(u.to.clone()),
                _ => None,
            })
            .collect()
    }

    /// The directory relative manifest files are read from.
    pub fn dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// A serde-saphyr error as a diagnostic: its position, its message in a scenario author's
/// words, and the source line it points at.
pub fn yaml_diagnostic(path: &Path, text: &str, e: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    if text.trim().is_empty() {
        let message = "the file is empty: a scenario needs at least `description` and `steps`".to_string();
        return Diagnostic { pos: SourcePos { file: path.to_path_buf(), line: 1, column: 1 }, message };
    }
    let source_line = text.lines().nth(line.saturating_sub(1) as usize).unwrap_or_default();
    located(path, source_line, line, column, yaml_message(e))
}

/// A YAML error's `message` at `line:column`, quoting `source_line`, the line it points at.
fn located(path: &Path, source_line: &str, line: u64, column: u64, mut message: String) -> Diagnostic {
    // A missing field is reported where its mapping starts; the top-level ones belong at the top.
    if message == "missing field `description`" || message == "missing field `steps`" {
        return Diagnostic { pos: SourcePos { file: path.to_path_buf(), line: 1, column: 1 }, message };
    }
    let source_line = source::excerpt_around(source_line, column);
    if !source_line.is_empty() && !message.starts_with("unknown") && !message.starts_with("missing field") {
        message = format!("{message} (at `{source_line}`)");
    }
    Diagnostic { pos: SourcePos { file: path.to_path_buf(), line, column }, message }
}

/// A serde-saphyr error's message alone, in a scenario author's words and bounded.
pub(crate) fn yaml_message(e: &serde_saphyr::Error) -> String {
    let full = e.to_string();
    // The rendered error repeats the position and adds a snippet; keep the message itself.
    let first = full.lines().next().unwrap_or(&full).trim();
    let first = first.rfind(" at line ").map_or(first, |i| &first[..i]);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.strip_prefix("line ").and_then(|m| m.split_once(": ")) {
        Some((pos, rest)) if pos.contains("column") => rest,
        _ => first,
    };
    author_words(&source::bounded_message(first))
}

/// Library advice ("use Option<String>") means nothing to a scenario author.
fn author_words(message: &str) -> String {
    if let Some(breach) = message.strip_prefix("budget breached: ") {
        return budget_words(breach);
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        return format!("duplicate key `{key}`: each key may appear once in a mapping");
    }
    if message.starts_with("multiple YAML documents") {
        return "a scenario file holds one YAML document; remove the `---` separator (manifests with several documents go in `apply: {file: …}`)".into();
    }
    if message.starts_with("cannot deserialize null") {
        return "a value is missing here".into();
    }
    if message == "alias references unknown anchor" {
        return "alias references an unknown anchor".into();
    }
    // A step is an externally tagged enum: its kind is the key.
    if let Some(kinds) = message.strip_prefix("unknown variant `~`, ") {
        return format!("a step is missing here: {kinds}");
    }
    match message {
        "expected string scalar" => "expected a string".into(),
        "expected sequence start" => "expected a list".into(),
        "expected mapping start" => "expected a mapping".into(),
        "externally tagged enum expected scalar or mapping" => "expected a step: its kind as the key, e.g. `- token: {…}`".into(),
        "expected string key for externally tagged enum" => "expected a step kind as the key, e.g. `- token: {…}`".into(),
        "invalid u8" | "invalid u16" | "invalid u32" | "invalid u64" | "invalid usize" => "expected a whole number, 0 or more".into(),
        "invalid i8" | "invalid i16" | "invalid i32" | "invalid i64" | "invalid isize" => "expected a whole number".into(),
        "invalid f32" | "invalid f64" => "expected a number".into(),
        other => other.to_string(),
    }
}

/// YAML limits for scenarios and manifests: anchors and aliases cannot expand a small file into a
/// large document ("billion laughs"), nor nesting exhaust the stack. Generous for real files.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = YAML_MAX_DEPTH;
    budget.max_nodes = YAML_MAX_NODES;
    budget.max_aliases = YAML_MAX_ALIASES;
    budget.max_recorded_anchor_events = YAML_MAX_NODES;
    budget.max_documents = YAML_MAX_DOCUMENTS;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// A breach of [`yaml_options`]' budget (`Nodes { nodes: 100001 }`) in a user's words.
fn budget_words(breach: &str) -> String {
    let kind = breach.split([' ', '{']).next().unwrap_or_default();
    let (limit, what) = match kind {
        "Depth" => (YAML_MAX_DEPTH, "levels of nesting"),
        "Nodes" => (YAML_MAX_NODES, "values"),
        "RecordedAnchorEvents" => (YAML_MAX_NODES, "values copied by aliases"),
        "Aliases" => (YAML_MAX_ALIASES, "aliases"),
        "Documents" => (YAML_MAX_DOCUMENTS, "documents"),
        _ => return "the YAML is too large for kubeproof (anchors and aliases count each time they are used)".into(),
    };
    format!("the YAML has more than {limit} {what}, kubeproof's limit (anchors and aliases count each time they are used)")
}

/// The YAML budget, quoted by docs/scenario-format.md.
pub const YAML_MAX_DEPTH: usize = 64;
pub const YAML_MAX_NODES: usize = 100_000;
pub const YAML_MAX_ALIASES: usize = 10_000;
pub const YAML_MAX_DOCUMENTS: usize = 64;

/// Every `.yaml`/`.yml` file under the given paths, sorted; a named file is taken as is.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    match discover_in(paths, false) {
        Ok(found) => Ok(found.into_iter().map(|(file, _)| file).collect()),
        Err((path, why)) => Err(format!("{}: {why}", path.display())),
    }
}

/// Every scenario file with the tree it may read from: the directory it was found in, or a
/// named file's own directory.
fn discover_in(paths: &[PathBuf], allow_outside: bool) -> Result<Vec<(PathBuf, FileAccess)>, (PathBuf, String)> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let access = FileAccess::under(p, allow_outside);
            let mut files = Vec::new();
            walk(p, &mut files).map_err(|e| (p.clone(), e.to_string()))?;
            out.extend(files.into_iter().map(|f| (f, access.clone())));
        } else if p.exists() {
            out.push((p.clone(), FileAccess::under(&source::parent_dir(p), allow_outside)));
        } else {
            return Err((p.clone(), "no such file or directory".into()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            // Manifests referenced by scenarios live in subdirectories; they are not scenarios.
            continue;
        }
        if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether long scenarios (`long: true`) taken from a directory run: `KUBEPROOF_LONG=1`.
pub fn long_wanted() -> bool {
    std::env::var("KUBEPROOF_LONG").is_ok_and(|v| v == "1")
}

/// Loads and lints every scenario under `paths`; all problems at once, or the scenarios.
/// Scenarios read manifest files only inside the tree they were found in, unless
/// `allow_outside_files` (`--allow-outside-files`). Long scenarios found in a directory are
/// left out unless [`long_wanted`].
pub fn load_all(paths: &[PathBuf], allow_outside_files: bool) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    let files = discover_in(paths, allow_outside_files)
        .map_err(|(file, message)| vec![Diagnostic { pos: SourcePos { file, line: 1, column: 1 }, message }])?;
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for (file, access) in files {
        match Scenario::load_in(&file, &access) {
            Ok(s) => {
                problems.extend(lint::lint(&s));
                let named = paths.contains(&file);
                if s.spec.long && !named && !long_wanted() {
                    continue;
                }
                scenarios.extend(cases::expand(s));
            }
            Err(found) => problems.extend(found),
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for s in &scenarios {
        // Two cases of one table with one name: lint said so at the case.
        if let Some(first) = seen.insert(s.name.clone(), s.path.clone())
            && first != s.path
        {
            problems.push(Diagnostic {
                pos: SourcePos { file: s.path.clone(), line: 1, column: 1 },
                message: format!("scenario name `{}` is also used by {}", s.name, first.display()),
            });
        }
    }
    if problems.is_empty() { Ok(scenarios) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long scenario is left out of a directory (unless `KUBEPROOF_LONG=1`) and still linted;
    /// named on its own, it is taken.
    #[test]
    fn long_scenarios_are_left_out_of_directories_unless_wanted() {
        let dir = std::env::temp_dir().join(format!("kubeproof-long-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let steps = "steps:\n  - service-account: sa\n";
        std::fs::write(dir.join("quick.yaml"), format!("description: d\n{steps}")).unwrap();
        std::fs::write(dir.join("slow.yaml"), format!("description: d\nlong: true\n{steps}")).unwrap();
        let names = |paths: &[PathBuf]| -> Vec<String> { load_all(paths, false).unwrap().into_iter().map(|s| s.name).collect() };
        let from_dir = names(std::slice::from_ref(&dir));
        let named = names(&[dir.join("slow.yaml")]);
        std::fs::write(dir.join("slow.yaml"), format!("description: ''\nlong: true\n{steps}")).unwrap();
        let linted = load_all(std::slice::from_ref(&dir), false);
        let _ = std::fs::remove_dir_all(&dir);
        match long_wanted() {
            true => assert_eq!(from_dir, ["quick", "slow"]),
            false => assert_eq!(from_dir, ["quick"]),
        }
        assert_eq!(named, ["slow"]);
        let problems = linted.expect_err("a long scenario's problems are reported even when it is left out");
        assert!(problems[0].message.contains("`description` is empty"), "{problems:?}");
    }
}
