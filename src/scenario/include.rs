//! Step files: steps written once, with parameters, and included by several scenarios
//! (`- include: {file: steps/bind-role.yaml, with: {sa: reader}}`).
//!
//! Includes are expanded when the scenario is loaded, under the limits every input has
//! ([`source::read_text`]): the `include` step stays where it is written (when it runs, it defines
//! its parameters as variables) and the file's steps follow it. Each included step remembers the
//! file it was written in and the includes that brought it there ([`Origin`]), so lint, step
//! records and failures point into that file and say where it was included from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::source::{self, FileAccess};
use super::template::BUILTINS;
use super::{Diagnostic, SourcePos, Step, manifest};

/// A step file as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(title = "kubeproof step file", description = "Steps that scenarios include, with parameters.")]
pub struct StepFile {
    /// What the steps do, for readers.
    #[serde(default)]
    pub description: Option<String>,
    /// The parameters every `include` of this file gives in `with`; each is a variable for the
    /// steps.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub params: Vec<Spanned<String>>,
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Step>>,
}

/// Where an included step was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    /// The `include` steps that brought it in, innermost first.
    pub via: Vec<SourcePos>,
}

/// How deep includes may nest.
pub const MAX_DEPTH: usize = 8;

/// How many steps includes may add to one scenario.
pub const MAX_INCLUDED_STEPS: usize = 1000;

/// A scenario's steps with their includes expanded, and the origin of each included step by
/// its index.
pub(crate) struct Expanded {
    pub steps: Vec<Spanned<Step>>,
    pub origins: BTreeMap<usize, Origin>,
}

/// Expands the includes in `steps`, written in `file`, and reads the manifest files of `apply`
/// steps (each relative to the file its step is written in). What cannot be included is kept
/// in the `include` step, for lint to report.
pub(crate) fn expand(steps: Vec<Spanned<Step>>, file: &Path, access: &FileAccess) -> Expanded {
    let chain = std::fs::canonicalize(file).into_iter().collect();
    let mut expander = Expander { access, out: Vec::new(), origins: BTreeMap::new(), included: 0, cache: BTreeMap::new(), chain };
    expander.walk(steps, file, &[]);
    Expanded { steps: expander.out, origins: expander.origins }
}

struct Expander<'a> {
    access: &'a FileAccess,
    out: Vec<Spanned<Step>>,
    origins: BTreeMap<usize, Origin>,
    /// Steps added by includes so far.
    included: usize,
    /// Step files read, by their real path: a file included many times is read once.
    cache: BTreeMap<PathBuf, StepFile>,
    /// The real paths of the files being included, outermost (the scenario) first.
    chain: Vec<PathBuf>,
}

impl Expander<'_> {
    fn walk(&mut self, steps: Vec<Spanned<Step>>, file: &Path, via: &[SourcePos]) {
        let dir = source::parent_dir(file);
        for mut step in steps {
            if !via.is_empty() {
                self.origins.insert(self.out.len(), Origin { file: file.to_path_buf(), via: via.to_vec() });
            }
            let at = SourcePos { file: file.to_path_buf(), line: step.referenced.line(), column: step.referenced.column() };
            if let Step::Apply(apply) = &mut step.value
                && let Some(name) = &apply.file
            {
                apply.file_text = Some(manifest::read_file(name, &dir, self.access));
            }
            let mut child = None;
            if let Step::Include(include) = &mut step.value {
                match self.load(&include.file, &dir, &at) {
                    Ok((path, real, loaded)) => {
                        include.loaded = Some(Ok(loaded.params.iter().map(|p| p.value.clone()).collect()));
                        child = Some((path, real, loaded.steps));
                    }
                    Err(problem) => include.loaded = Some(Err(problem)),
                }
            }
            self.out.push(step);
            if let Some((path, real, steps)) = child {
                let inner: Vec<SourcePos> = std::iter::once(at).chain(via.iter().cloned()).collect();
                self.chain.push(real);
                self.walk(steps, &path, &inner);
                self.chain.pop();
            }
        }
    }

    /// The step file `name` names, relative to `dir`: its path as shown, its real path and its
    /// contents; or why it cannot be included, at the include step `at` or inside the file.
    fn load(&mut self, name: &str, dir: &Path, at: &SourcePos) -> Result<(PathBuf, PathBuf, StepFile), Vec<Diagnostic>> {
        let fail = |message: String| vec![Diagnostic { pos: at.clone(), message }];
        let path = dir.join(name);
        let real = std::fs::canonicalize(&path).map_err(|e| fail(format!("cannot read step file {}: {e}", path.display())))?;
        if self.chain.contains(&real) {
            return Err(fail(format!(
                "a cycle: {} is already being included (a step file may not include itself, directly or through others)",
                path.display()
            )));
        }
        if self.chain.len() > MAX_DEPTH {
            return Err(fail(format!("includes nest more than {MAX_DEPTH} deep here: kubeproof's limit")));
        }
        let file = match self.cache.get(&real) {
            Some(file) => file.clone(),
            None => {
                let file = read_step_file(&path, self.access, at)?;
                self.cache.insert(real.clone(), file.clone());
                file
            }
        };
        self.included += file.steps.len();
        if self.included > MAX_INCLUDED_STEPS {
            return Err(fail(format!("includes add more than {MAX_INCLUDED_STEPS} steps to this scenario: kubeproof's limit")));
        }
        Ok((path, real, file))
    }
}

/// Reads and parses a step file, checking its `params`; a problem inside the file is at its own
/// position there (each step's, when it does not parse), one reading it at the include step `at`.
fn read_step_file(path: &Path, access: &FileAccess, at: &SourcePos) -> Result<StepFile, Vec<Diagnostic>> {
    let in_file = |line, column, message: String| vec![Diagnostic { pos: SourcePos { file: path.to_path_buf(), line, column }, message }];
    let text = source::read_text(path, Some(access)).map_err(|e| match e.at {
        Some((line, column)) => in_file(line, column, format!("{} (step files are UTF-8 text)", e.message)),
        None => vec![Diagnostic { pos: at.clone(), message: format!("cannot read step file {}: {}", path.display(), e.message) }],
    })?;
    if text.trim().is_empty() {
        return Err(in_file(1, 1, "the step file is empty: it needs `steps` (and `params`, if it takes any)".into()));
    }
    let file = serde_saphyr::from_str_with_options::<StepFileText>(&text, super::yaml_options())
        .map_err(|e| super::recover::step_file_problems(path, &text, &e))?
        .0;
    let mut seen = Vec::new();
    for param in &file.params {
        let name = &param.value;
        let problem = if BUILTINS.contains(&name.as_str()) {
            Some(format!("parameter `{name}` is reserved: choose another name"))
        } else if seen.contains(name) {
            Some(format!("parameter `{name}` is declared twice"))
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(in_file(param.referenced.line(), param.referenced.column(), message));
        }
        seen.push(name.clone());
    }
    if file.steps.is_empty() {
        return Err(in_file(1, 1, "the step file has no steps".into()));
    }
    Ok(file)
}

/// A step file's text: a mapping, with a clear word for a bare list of steps.
struct StepFileText(StepFile);

impl<'de> Deserialize<'de> for StepFileText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StepFileText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step file: a mapping with `steps` (and `params`, `description`)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<StepFileText, A::Error> {
                StepFile::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(StepFileText)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<StepFileText, A::Error> {
                Err(serde::de::Error::custom(
                    "a step file is a mapping with `steps` (and `params`), not a bare list: put the list under `steps:`",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn included_steps_follow_their_include_and_know_where_they_were_written() {
        let dir = std::env::temp_dir().join(format!("kubeproof-include-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("steps")).unwrap();
        std::fs::write(
            dir.join("steps/outer.yaml"),
            "params: [sa]\nsteps:\n  - service-account: '${sa}'\n  - include: {file: inner.yaml}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("steps/inner.yaml"),
            "steps:\n  - get:\n      kind: ServiceAccount\n      name: x\n      expect: [{path: $.a, exists: true}]\n",
        )
        .unwrap();
        let text = "description: d\nsteps:\n  - service-account: own\n  - include: {file: steps/outer.yaml, with: {sa: a}}\nfinally:\n  - include: {file: steps/inner.yaml}\n";
        let path = dir.join("s.yaml");
        std::fs::write(&path, text).unwrap();
        let s = Scenario::load(&path).unwrap();
        let keywords: Vec<&str> = s.spec.steps.iter().map(|st| st.value.keyword()).collect();
        assert_eq!(keywords, ["service-account", "include", "service-account", "include", "get"]);
        let at = |step: &Spanned<Step>| {
            let p = s.pos_in(step, &step.referenced);
            let via: Vec<String> =
                s.included_from(step).iter().map(|v| format!("{}:{}", v.file.file_name().unwrap().to_string_lossy(), v.line)).collect();
            (format!("{}:{}", p.file.file_name().unwrap().to_string_lossy(), p.line), via)
        };
        assert_eq!(at(&s.spec.steps[0]), ("s.yaml:3".to_string(), vec![]));
        assert_eq!(at(&s.spec.steps[2]), ("outer.yaml:3".to_string(), vec!["s.yaml:4".to_string()]));
        assert_eq!(at(&s.spec.steps[4]), ("inner.yaml:2".to_string(), vec!["outer.yaml:4".to_string(), "s.yaml:4".to_string()]));
        assert_eq!(at(&s.spec.finally[1]), ("inner.yaml:2".to_string(), vec!["s.yaml:6".to_string()]), "finally steps include too");
        let get = &s.spec.steps[4];
        let assertion = &get.value.checks().0[0];
        assert_eq!(s.pos_in(get, &assertion.referenced).line, 5, "an included step's assertion is in its file");
        let Step::Include(include) = &s.spec.steps[1].value else { panic!("the include step stays") };
        assert_eq!(include.loaded.as_ref().unwrap().as_ref().unwrap(), &vec!["sa".to_string()]);
        assert!(crate::scenario::lint::lint(&s).is_empty(), "{:?}", crate::scenario::lint::lint(&s));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
