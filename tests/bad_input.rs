//! Malformed and wrong scenario files, and what a user should be told about them.
//!
//! Each case is a short name, the YAML text, the stage that must catch it (parsing or lint,
//! both without a cluster), the expected position and the substrings the message must contain.
//! A needle `a|b` is satisfied by either alternative. Every case also checks that nothing
//! panics, that the position is a real one (never 0:0), that the diagnostic renders as a single
//! `file:line:column: message` line, and that the message does not leak library internals.
//!
//! Cases are written as the behaviour a user should get; a failing case is a finding about
//! `src/`, not a reason to loosen the expectation. Every case runs under a deadline (a FIFO or
//! a device must not block) and its message must stay short (an excerpt, never a whole line).

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use kubeproof::scenario::{Diagnostic, Scenario, discover, lint, load_all};

mod common;
use common::{TempDir, billion_laughs, malformed};

/// Which stage must report the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `Scenario::parse` returns errors, this one among them.
    Parse,
    /// Parsing succeeds and `lint` reports it.
    Lint,
    /// Hostile input: an error or a clean parse are both fine, a panic or a 0:0 position are not.
    Survive,
}

#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    stage: Stage,
    line: u64,
    /// `None` where only the line is pinned down.
    column: Option<u64>,
    /// Every needle must occur in the message; `a|b` means either.
    says: &'static [&'static str],
    /// Files written beside the scenario (relative path, contents). With any, the scenario is
    /// written to a fresh temporary directory and parsed from there.
    files: &'static [(&'static str, &'static str)],
    /// Parse from a real directory even without extra files (for missing-file cases).
    real_dir: bool,
    /// Files that `files` cannot hold (FIFOs, symlinks, bytes that are not UTF-8), made after
    /// `files`; naming `case.yaml` replaces the scenario itself.
    special: &'static [(&'static str, Special)],
    /// The file the diagnostic must be in, relative to the scenario's directory, when it is not
    /// the scenario (a step file it includes).
    in_file: Option<&'static str>,
    yaml: String,
}

/// A file the table cannot write as text.
#[derive(Debug, Clone, Copy)]
enum Special {
    Fifo,
    Symlink(&'static str),
    Bytes(&'static [u8]),
}

/// How long one case may take: reading a FIFO or a device would block forever.
const CASE_DEADLINE: Duration = Duration::from_secs(20);

/// Text starting with a newline is dedented by its common leading spaces; other text is taken as is.
fn dedent(text: &str) -> String {
    let Some(body) = text.strip_prefix('\n') else { return text.to_string() };
    let indent = body.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start_matches(' ').len()).min().unwrap_or(0);
    let mut out = String::new();
    for line in body.lines() {
        out.push_str(line.get(indent..).unwrap_or("").trim_end_matches(' '));
        out.push('\n');
    }
    // A last line holding only the closing indentation is not part of the file.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn case(stage: Stage, line: u64, column: Option<u64>, says: &'static [&'static str], yaml: &str) -> Case {
    Case { name: "", stage, line, column, says, files: &[], real_dir: false, special: &[], in_file: None, yaml: dedent(yaml) }
}

/// A parse error at `line:column`.
fn parse(line: u64, column: u64, says: &'static [&'static str], yaml: &str) -> Case {
    case(Stage::Parse, line, Some(column), says, yaml)
}

/// A parse error on `line`, any column.
fn parse_line(line: u64, says: &'static [&'static str], yaml: &str) -> Case {
    case(Stage::Parse, line, None, says, yaml)
}

/// A lint error at `line:column`.
fn lint_at(line: u64, column: u64, says: &'static [&'static str], yaml: &str) -> Case {
    case(Stage::Lint, line, Some(column), says, yaml)
}

/// A lint error on `line`, any column.
fn lint_line(line: u64, says: &'static [&'static str], yaml: &str) -> Case {
    case(Stage::Lint, line, None, says, yaml)
}

fn survive(yaml: String) -> Case {
    Case {
        name: "",
        stage: Stage::Survive,
        line: 0,
        column: None,
        says: &[],
        files: &[],
        real_dir: false,
        special: &[],
        in_file: None,
        yaml,
    }
}

impl Case {
    fn with_files(self, files: &'static [(&'static str, &'static str)]) -> Case {
        Case { files, real_dir: true, ..self }
    }

    fn in_real_dir(self) -> Case {
        Case { real_dir: true, ..self }
    }

    fn with_special(self, special: &'static [(&'static str, Special)]) -> Case {
        Case { special, real_dir: true, ..self }
    }

    /// The diagnostic is in `file` (a step file), not in the scenario.
    fn in_file(self, file: &'static str) -> Case {
        Case { in_file: Some(file), ..self }
    }
}

/// Outcome of parsing and, if that succeeds, linting.
enum Outcome {
    ParseError(Vec<Diagnostic>),
    Linted(Vec<Diagnostic>),
}

fn show(diags: &[Diagnostic]) -> String {
    if diags.is_empty() {
        return "  (no diagnostics)".into();
    }
    diags.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
}

fn evaluate(case: &Case) -> (PathBuf, Outcome, Option<TempDir>) {
    let (path, guard) = if case.real_dir {
        let dir = std::env::temp_dir().join(format!("kubeproof-bad-input-{}-{}", std::process::id(), case.name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let path = dir.join("case.yaml");
        std::fs::write(&path, &case.yaml).expect("write scenario");
        for (rel, text) in case.files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).expect("create manifest dir");
            std::fs::write(&p, text).expect("write manifest");
        }
        for (rel, special) in case.special {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).expect("create manifest dir");
            let _ = std::fs::remove_file(&p);
            match special {
                Special::Fifo => {
                    let made = std::process::Command::new("mkfifo").arg(&p).status().expect("run mkfifo");
                    assert!(made.success(), "mkfifo {}", p.display());
                }
                Special::Symlink(target) => std::os::unix::fs::symlink(target, &p).expect("create symlink"),
                Special::Bytes(bytes) => std::fs::write(&p, bytes).expect("write bytes"),
            }
        }
        (path, Some(TempDir(dir)))
    } else {
        (PathBuf::from("case.yaml"), None)
    };
    // A real file is loaded as kubeproof loads it (its type, size and encoding checked); text
    // alone is parsed. A worker keeps a case that blocks from holding the test forever.
    let text = case.yaml.clone();
    let p = path.clone();
    let from_file = case.real_dir;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(move || {
            let parsed = if from_file { Scenario::load(&p) } else { Scenario::parse(&p, &text) };
            match parsed {
                Err(d) => Outcome::ParseError(d),
                Ok(s) => Outcome::Linted(lint::lint(&s)),
            }
        }));
        let _ = tx.send(outcome.map_err(|e| {
            e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
        }));
    });
    match rx.recv_timeout(CASE_DEADLINE) {
        Ok(Ok(o)) => (path, o, guard),
        Ok(Err(what)) => panic!("case `{}` panicked instead of returning a diagnostic: {what}\n--- yaml ---\n{}", case.name, case.yaml),
        Err(_) => panic!("case `{}` took more than {CASE_DEADLINE:?}: something blocked or looped", case.name),
    }
}

/// Every diagnostic located and readable (see [`malformed`]); parse errors are never none.
fn well_formed(found: &[Diagnostic], path: &Path) -> Result<(), String> {
    if found.is_empty() {
        return Err("parsing failed without a diagnostic".into());
    }
    for d in found {
        let wrong = malformed(d, path);
        if !wrong.is_empty() {
            return Err(format!("got `{d}`\n  - {}", wrong.join("\n  - ")));
        }
    }
    Ok(())
}

fn needle_holds(message: &str, needle: &str) -> bool {
    needle.split('|').any(|alt| message.contains(alt))
}

/// Everything wrong with one diagnostic against the case; empty when it is what the user should get.
fn judge(case: &Case, path: &Path, d: &Diagnostic) -> Vec<String> {
    let mut wrong = malformed(d, path);
    if d.pos.line != case.line || case.column.is_some_and(|c| c != d.pos.column) {
        let want = match case.column {
            Some(c) => format!("{}:{c}", case.line),
            None => format!("line {}", case.line),
        };
        wrong.push(format!("position is {}:{}, wanted {want}", d.pos.line, d.pos.column));
    }
    for needle in case.says {
        if !needle_holds(&d.message, needle) {
            wrong.push(format!("message lacks `{needle}`"));
        }
    }
    wrong
}

fn run(case: &Case) {
    let (scenario, outcome, _guard) = evaluate(case);
    let path = match case.in_file {
        Some(file) => scenario.parent().unwrap_or(Path::new(".")).join(file),
        None => scenario,
    };
    let fail = |why: String| -> ! { panic!("case `{}`: {why}\n--- yaml ---\n{}", case.name, case.yaml) };
    match (case.stage, outcome) {
        (Stage::Survive, Outcome::ParseError(found)) => {
            eprintln!("case `{}` was refused:\n{}", case.name, show(&found));
            well_formed(&found, &path).unwrap_or_else(|why| fail(why));
        }
        (Stage::Survive, Outcome::Linted(diags)) => {
            eprintln!("case `{}` parsed; lint said:\n{}", case.name, show(&diags));
            for d in &diags {
                let wrong = malformed(d, &path);
                if !wrong.is_empty() {
                    fail(format!("got `{d}`\n  - {}", wrong.join("\n  - ")));
                }
            }
        }
        (Stage::Parse, Outcome::ParseError(found)) => {
            well_formed(&found, &path).unwrap_or_else(|why| fail(why));
            // The diagnostic the case is about: the one whose message says everything wanted (at
            // the case's position, if several do).
            let says = |d: &&Diagnostic| case.says.iter().all(|n| needle_holds(&d.message, n));
            let here = |d: &&Diagnostic| d.pos.line == case.line && case.column.is_none_or(|c| c == d.pos.column);
            match found.iter().filter(says).find(here).or_else(|| found.iter().find(says)) {
                None => fail(format!("no parse error says {:?}; parsing said:\n{}", case.says, show(&found))),
                Some(d) => {
                    let wrong = judge(case, &path, d);
                    if !wrong.is_empty() {
                        fail(format!("got `{d}`\n  - {}", wrong.join("\n  - ")));
                    }
                }
            }
        }
        (Stage::Parse, Outcome::Linted(diags)) => fail(format!("wanted a parse error, but it parsed; lint said:\n{}", show(&diags))),
        (Stage::Lint, Outcome::ParseError(found)) => fail(format!("wanted a lint error, but parsing failed:\n{}", show(&found))),
        (Stage::Lint, Outcome::Linted(diags)) => {
            // The diagnostic the case is about: the one whose message says everything wanted.
            let relevant = diags.iter().find(|d| case.says.iter().all(|n| needle_holds(&d.message, n)));
            match relevant {
                None => fail(format!("no lint diagnostic says {:?}; lint said:\n{}", case.says, show(&diags))),
                Some(d) => {
                    let wrong = judge(case, &path, d);
                    if !wrong.is_empty() {
                        fail(format!("got `{d}`\n  - {}", wrong.join("\n  - ")));
                    }
                }
            }
        }
    }
}

/// `name => case;` — builds the table and one `#[test]` per entry, named after it.
macro_rules! cases {
    ($($name:ident => $case:expr;)*) => {
        fn table() -> Vec<Case> {
            vec![$(Case { name: stringify!($name), ..$case }),*]
        }
        $(
            #[test]
            fn $name() {
                run(&Case { name: stringify!($name), ..$case });
            }
        )*
    };
}

/// A text of `bytes` bytes, leaked for the table's `'static` files.
fn leaked_text(prefix: &str, filler: char, bytes: usize) -> &'static str {
    let mut text = prefix.to_string();
    while text.len() < bytes {
        text.push(filler);
    }
    Box::leak(text.into_boxed_str())
}

cases! {
    // ---- YAML syntax -------------------------------------------------------------------------
    yaml_syntax_error => parse(3, 24, &["mapping values are not allowed"], "
        description: d
        steps:
          - service-account: sa: sb
        ");
    // A syntax error that the deserializer meets as a shape error first: either is useful.
    yaml_syntax_error_in_step_value => parse_line(4, &["mapping values are not allowed|expected a mapping"], "
        description: d
        steps:
          - service-account: sa
          - call: as: admin
        ");
    yaml_syntax_tab_indent => parse_line(3, &["tab"],
        "description: d\nsteps:\n\t- service-account: sa\n");
    yaml_syntax_nul_byte => parse(1, 15, &["character"],
        "description: d\u{0}\nsteps:\n  - service-account: sa\n");
    yaml_alias_to_unknown_anchor => parse(3, 12, &["unknown anchor", "*nothing"], "
        description: d
        steps:
          - token: *nothing
        ");
    yaml_several_documents => parse_line(5, &["document"], "
        description: d
        steps:
          - service-account: sa
        ---
        description: e
        steps:
          - service-account: sb
        ");

    // ---- unknown keys and keywords -------------------------------------------------------------
    unknown_step_keyword => parse(4, 5, &["tokn", "service-account", "compare-tokens", "secret-token", "kubectl"], "
        description: d
        steps:
          - service-account: sa
          - tokn: {service-account: sa}
        ");
    unknown_key_in_step => parse(6, 7, &["audience", "audiences", "service-account", "bound-object"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              audience: [vault]
        ");
    unknown_top_level_key => parse(2, 1, &["stepz", "description", "steps", "observe"], "
        description: d
        stepz: []
        steps:
          - service-account: sa
        ");
    unknown_key_in_assertion => parse(7, 28, &["equal", "equals", "exists"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              expect:
                - {path: $.status, equal: 201}
        ");
    unknown_key_in_bound_object => parse(6, 33, &["nam", "name"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              bound-object: {kind: Pod, nam: p}
        ");
    unknown_key_in_requires => parse(3, 3, &["apiserver-arg", "apiserver-args"], "
        description: d
        requires:
          apiserver-arg: [--x=y]
        steps:
          - service-account: sa
        ");
    unknown_key_in_requires_names_both_components => parse(3, 3, &["controller-manager-arg", "apiserver-args", "controller-manager-args"], "
        description: d
        requires:
          controller-manager-arg: [--x=y]
        steps:
          - service-account: sa
        ");
    requires_two_nodes => lint_at(4, 3, &["`nodes: 2`", "at most 1 node", "valid: 0", "or 1"], "
        description: d
        requires:
          apiserver-args: [--v=2]
          nodes: 2
        steps:
          - service-account: sa
        ");
    requires_nodes_flow_style => lint_at(2, 12, &["`nodes: 3`", "valid: 0"], "
        description: d
        requires: {nodes: 3}
        steps:
          - service-account: sa
        ");
    requires_negative_nodes => parse(3, 10, &["nodes", "-1"], "
        description: d
        requires:
          nodes: -1
        steps:
          - service-account: sa
        ");
    requires_nodes_not_a_number => parse(3, 10, &["nodes", "one"], "
        description: d
        requires:
          nodes: one
        steps:
          - service-account: sa
        ");
    controller_manager_args_not_a_list => parse_line(3, &["controller-manager-args", "expected a list"], "
        description: d
        requires:
          controller-manager-args: --legacy-service-account-token-clean-up-period=1s
        steps:
          - service-account: sa
        ");
    step_with_two_keywords => parse(4, 5, &["token"], "
        description: d
        steps:
          - service-account: sa
            token: {service-account: sa}
        ");
    // At the step itself: `service-account` takes a name or a mapping, and has neither.
    step_keyword_without_value => parse(3, 20, &["expected a string", "or a mapping with `name`"], "
        description: d
        steps:
          - service-account
        ");

    // ---- missing and duplicate fields --------------------------------------------------------
    missing_description => parse(1, 1, &["missing", "description"], "
        name: x
        steps:
          - service-account: sa
        ");
    missing_steps => parse(1, 1, &["missing", "steps"], "
        description: d
        sources: [https://kubernetes.io/]
        ");
    missing_field_in_step => parse(5, 7, &["missing", "`as`"], "
        description: d
        steps:
          - call:
              path: /api
              status: 200
        ");
    duplicate_top_level_key => parse(2, 1, &["duplicate", "description"], "
        description: d
        description: e
        steps:
          - service-account: sa
        ");
    duplicate_key_in_step => parse(6, 7, &["duplicate", "save"], "
        description: d
        steps:
          - token:
              service-account: sa
              save: a
              save: b
        ");
    empty_file => parse(1, 1, &["empty|description"], "");
    top_level_list => parse(1, 1, &["mapping"], "
        - description: d
        ");

    // ---- wrong types -------------------------------------------------------------------------
    string_where_list_expected => parse(6, 18, &["sequence|list", "vault"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              audiences: vault
        ");
    steps_is_a_number => parse(2, 8, &["sequence|list", "5"], "
        description: d
        steps: 5
        ");
    steps_is_a_mapping => parse(3, 3, &["sequence|list"], "
        description: d
        steps:
          service-account: sa
        ");
    versions_is_a_list => parse(2, 11, &["string|version range"], "
        description: d
        versions: [\">=1.24\"]
        steps:
          - service-account: sa
        ");
    service_account_null => parse(3, 20, &["missing", "service-account"], "
        description: d
        steps:
          - service-account:
        ");
    status_not_a_number => parse(3, 43, &["ok"], "
        description: d
        steps:
          - call: {as: admin, path: /api, status: ok}
        ");
    count_negative => lint_at(3, 31, &["`count` takes a whole number", "-1"], "
        description: d
        steps:
          - get: {kind: Pod, expect: [{path: $.items, count: -1}]}
        ");
    same_not_a_boolean => parse(3, 40, &["maybe"], "
        description: d
        steps:
          - compare-tokens: {a: x, b: y, same: maybe}
        ");

    // ---- durations ---------------------------------------------------------------------------
    duration_unknown_unit => parse(6, 17, &["10x", "unit"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              duration: 10x
        ");
    duration_negative => parse(6, 17, &["-5s", "negative"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              duration: -5s
        ");
    duration_without_unit => parse(6, 17, &["10", "unit", "10s"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              duration: 10
        ");
    duration_empty => parse(4, 44, &["not a duration", "empty"], "
        description: d
        steps:
          - service-account: sa
          - token: {service-account: sa, duration: \"\"}
        ");
    duration_overflow => parse(4, 44, &["too long"], "
        description: d
        steps:
          - service-account: sa
          - token: {service-account: sa, duration: 99999999999999999999999h}
        ");
    timeout_not_a_duration => parse(3, 31, &["forever", "not a duration"], "
        description: d
        steps:
          - get: {kind: Pod, timeout: forever}
        ");
    duration_sub_second => lint_at(4, 5, &["1500ms", "whole seconds"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              duration: 1500ms
        ");

    // ---- version ranges ----------------------------------------------------------------------
    version_range_scenario => parse(2, 11, &[">=1.x", "not a version range", ">=1.24"], "
        description: d
        versions: \">=1.x\"
        steps:
          - service-account: sa
        ");
    version_range_step => parse(6, 17, &["=>1.24", "not a version range"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              versions: \"=>1.24\"
        ");
    version_range_assertion => parse(7, 51, &["1.24 <1.30", "not a version range"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              expect:
                - {path: $.status, equals: 201, versions: \"1.24 <1.30\"}
        ");

    // ---- references: variables and tokens ----------------------------------------------------
    undefined_variable => lint_at(4, 5, &["${nope}", "not defined", "namespace"], "
        description: d
        steps:
          - service-account: sa
          - call:
              as: admin
              path: /api/v1/namespaces/${nope}/pods
        ");
    undefined_variable_in_assertion => lint_at(7, 11, &["${ghost}", "not defined"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              expect:
                - {path: $.body.metadata.uid, equals: \"${ghost}\"}
        ");
    undefined_variable_in_observe => lint_line(2, &["observe", "${never}", "never captured"], "
        description: d
        observe: \"${never}\"
        steps:
          - service-account: sa
        ");
    token_used_before_saved => lint_at(4, 5, &["`mine`", "no token"], "
        description: d
        steps:
          - service-account: sa
          - jwt: {token: mine}
          - token: {service-account: sa, save: mine}
        ");
    compare_unknown_token => lint_at(5, 5, &["`two`", "no token", "one"], "
        description: d
        steps:
          - service-account: sa
          - token: {service-account: sa, save: one}
          - compare-tokens: {a: one, b: two, same: false}
        ");
    reserved_save_name => lint_at(4, 5, &["admin", "reserved"], "
        description: d
        steps:
          - service-account: sa
          - token: {service-account: sa, save: admin}
        ");
    reserved_capture_name => lint_at(3, 69, &["namespace", "reserved"], "
        description: d
        steps:
          - get: {kind: ServiceAccount, name: default, capture: {namespace: $.metadata.namespace}}
        ");

    // ---- finally -------------------------------------------------------------------------------
    finally_is_a_mapping => parse(5, 3, &["sequence|list"], "
        description: d
        steps:
          - service-account: sa
        finally:
          delete: {kind: ServiceAccount, name: sa}
        ");
    finally_is_a_string => parse(4, 10, &["sequence|list", "cleanup"], "
        description: d
        steps:
          - service-account: sa
        finally: cleanup
        ");
    unknown_step_keyword_in_finally => parse(6, 5, &["delet", "delete", "kubectl"], "
        description: d
        steps:
          - service-account: sa
        finally:
          - service-account: sb
          - delet: {kind: ServiceAccount, name: sa}
        ");
    unknown_key_in_finally_step => parse(6, 7, &["nam", "name", "kind"], "
        description: d
        steps:
          - service-account: sa
        finally:
          - delete:
              nam: sa
              kind: ServiceAccount
        ");
    finally_variable_no_step_defines => lint_at(6, 5, &["${ghost}", "not defined", "uid"], "
        description: d
        steps:
          - get: {kind: ServiceAccount, name: default, capture: {uid: $.metadata.uid}}
        finally:
          - service-account: sb
          - delete: {kind: ServiceAccount, name: \"${ghost}\"}
        ");
    finally_token_never_saved => lint_at(5, 5, &["`t`", "no token"], "
        description: d
        steps:
          - service-account: sa
        finally:
          - call: {as: t, path: /api}
        ");
    finally_step_timeout_out_of_range => lint_at(5, 5, &["timeout", "out of range"], "
        description: d
        steps:
          - service-account: sa
        finally:
          - delete: {kind: ServiceAccount, name: sa, timeout: 2h}
        ");

    // ---- assertions and captures -------------------------------------------------------------
    bad_jsonpath_in_assertion => lint_at(7, 11, &["$.body[", "not a JSONPath"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              expect:
                - {path: \"$.body[\", exists: true}
        ");
    bad_jsonpath_in_capture => lint_at(7, 14, &["uid", "metadata.uid", "not a JSONPath"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              capture:
                uid: metadata.uid
        ");
    invalid_regex => lint_at(7, 11, &["^(ey", "not a regular expression", "unclosed group"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              expect:
                - {path: $.body.status.token, matches: \"^(ey\"}
        ");
    assertion_checks_nothing => lint_at(7, 11, &["checks nothing", "equals", "exists"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              expect:
                - {path: $.body.status.token}
        ");
    not_matches_invalid_regex => lint_at(6, 11, &["`[a-`", "not a regular expression", "unclosed character class"], "
        description: d
        steps:
          - kubectl:
              args: [version]
              expect:
                - {path: $.stdout, not-matches: \"[a-\"}
        ");
    // A negation needs the one value it looks into: on a path that must select nothing it
    // could never hold.
    negation_on_a_path_that_must_be_missing => lint_at(6, 11, &["`exists: false`", "`not-contains` needs the one value", "count: 0"], "
        description: d
        steps:
          - kubectl:
              args: [version]
              expect:
                - {path: $.stderr, exists: false, not-contains: warning}
        ");
    undefined_variable_in_a_path => lint_at(7, 11, &["`${group}` is not defined before this step", "defined: namespace"], "
        description: d
        steps:
          - get:
              kind: ClusterRole
              name: view
              expect:
                - {path: '$.rules[?@.apiGroups[0] == \"${group}\"]', count: 0}
        ");
    token_in_a_path => lint_at(6, 16, &["`${t}`", "saved token, not a variable"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - jwt:
              token: t
              expect: [{path: '$.claims[\"${t}\"]', exists: false}]
        ");
    case_value_breaks_a_path => lint_at(9, 11, &["case `spaced`", "path `$.data.${key}` with `${key}` substituted", "`$.data.a b` is not a JSONPath"], "
        description: d
        cases:
          - {name: spaced, key: a b}
        steps:
          - get:
              kind: ConfigMap
              name: cm
              expect:
                - {path: '$.data.${key}', exists: true}
        ");

    // Each assertion and capture keeps its own position: the third assertion, not the step.
    third_assertion_is_located => lint_at(9, 11, &["`${nope}` is not defined"], "
        description: d
        steps:
          - get:
              kind: ConfigMap
              name: cm
              expect:
                - {path: $.data.a, equals: x}
                - {path: $.data.b, exists: true}
                - path: $.data.c
                  equals: ${nope}
              capture:
                a: $.data.a
        ");

    second_capture_is_located => lint_at(8, 12, &["capture `b`", "not a JSONPath"], "
        description: d
        steps:
          - get:
              kind: ConfigMap
              name: cm
              capture:
                a: $.data.a
                b: data.b
        ");

    // ---- manifests ---------------------------------------------------------------------------
    manifest_file_missing => lint_at(3, 5, &["cannot read manifest file", "does-not-exist.yaml"], "
        description: d
        steps:
          - apply: {file: manifests/does-not-exist.yaml}
        ").in_real_dir();
    manifest_without_kind => lint_at(3, 5, &["`kind` is missing"], "
        description: d
        steps:
          - apply:
              manifest:
                apiVersion: v1
                metadata: {name: x}
        ");
    manifest_without_name => lint_at(3, 5, &["metadata.name"], "
        description: d
        steps:
          - apply:
              manifest:
                apiVersion: v1
                kind: Secret
                metadata: {generateName: x-}
        ");
    manifest_file_without_name => lint_at(3, 5, &["metadata.name"], "
        description: d
        steps:
          - apply: {file: manifests/cm.yaml}
        ").with_files(&[("manifests/cm.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n")]);
    manifest_file_second_doc_without_kind => lint_at(3, 5, &["#2", "`kind` is missing"], "
        description: d
        steps:
          - apply: {file: manifests/two.yaml}
        ").with_files(&[(
            "manifests/two.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n",
        )]);
    manifest_inline_bad_yaml => lint_at(3, 5, &["not valid YAML", "unclosed"], "
        description: d
        steps:
          - apply: {manifest: \"kind: [unclosed\"}
        ");
    manifest_and_file => lint_at(3, 5, &["`manifest`", "`file`", "not both"], "
        description: d
        steps:
          - apply:
              file: manifests/pod.yaml
              manifest: {apiVersion: v1, kind: Secret, metadata: {name: x}}
        ");
    apply_with_neither => lint_at(3, 5, &["`manifest`", "`file`"], "
        description: d
        steps:
          - apply: {}
        ");

    // ---- step semantics ----------------------------------------------------------------------
    call_path_without_slash => lint_at(3, 5, &["api/v1/pods", "must start with `/`"], "
        description: d
        steps:
          - call: {as: admin, path: api/v1/pods}
        ");
    bad_http_method => lint_at(3, 5, &["FETCH", "GET", "POST", "DELETE"], "
        description: d
        steps:
          - call: {as: admin, method: FETCH, path: /api}
        ");
    unknown_patch_type => lint_at(3, 5, &["`yaml`", "merge", "json", "strategic", "apply"], "
        description: d
        steps:
          - call: {as: admin, method: PATCH, patch: yaml, path: /api/v1/namespaces/x, body: {}}
        ");
    patch_type_without_patch_method => lint_at(3, 5, &["`patch: json`", "method: PATCH", "POST"], "
        description: d
        steps:
          - call: {as: admin, method: POST, patch: json, path: /api/v1/namespaces, body: []}
        ");
    body_and_body_text => lint_at(3, 5, &["`body`", "`body-text`", "one of them"], "
        description: d
        steps:
          - call: {as: admin, method: POST, path: /api/v1/namespaces, body: {}, body-text: '{}'}
        ");
    body_token_without_body => lint_at(4, 5, &["`body-token`", "give `body`"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - call: {as: admin, method: POST, path: /apis/authentication.k8s.io/v1/tokenreviews, body-token: {pointer: /spec/token, token: t}}
        ");
    body_token_of_no_saved_token => lint_at(3, 5, &["no token is saved as `t`"], "
        description: d
        steps:
          - call: {as: admin, method: POST, path: /x, body: {spec: {}}, body-token: {pointer: /spec/token, token: t}}
        ");
    body_token_pointer_outside_the_body => lint_at(4, 5, &["pointer `/status/token`", "`/status` selects nothing"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - call: {as: admin, method: POST, path: /x, body: {spec: {}}, body-token: {pointer: /status/token, token: t}}
        ");
    body_token_pointer_not_a_pointer => lint_at(4, 5, &["pointer `spec.token`", "must start with `/`"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - call: {as: admin, method: POST, path: /x, body: {spec: {}}, body-token: {pointer: spec.token, token: t}}
        ");
    body_token_unknown_key => parse(3, 100, &["unknown field `name`", "pointer", "token"], "
        description: d
        steps:
          - call: {as: admin, method: POST, path: /x, body: {spec: {}}, body-token: {pointer: /spec/token, name: t}}
        ");
    body_text_not_a_string => parse(3, 60, &["expected a string", "body-text"], "
        description: d
        steps:
          - call: {as: admin, method: POST, path: /api, body-text: [a]}
        ");
    call_headers_not_a_map => parse(5, 16, &["expected a mapping", "headers"], "
        description: d
        steps:
          - call:
              as: admin
              headers: [X-Trace]
              path: /api
        ");
    call_header_name_invalid => lint_at(3, 5, &["`X Trace`", "not a valid HTTP header name"], "
        description: d
        steps:
          - call: {as: admin, path: /api, headers: {X Trace: a}}
        ");
    call_header_value_with_newline => lint_at(3, 5, &["`X-Trace`", "cannot carry", "newline"], "
        description: d
        steps:
          - call: {as: admin, path: /api, headers: {X-Trace: \"a\\nb\"}}
        ");
    call_header_twice => lint_at(3, 5, &["`x-trace`", "twice", "case-insensitive", "give a list"], "
        description: d
        steps:
          - call: {as: admin, path: /api, headers: {X-Trace: a, x-trace: b}}
        ");
    call_header_list_where_one_value_is_read => lint_at(3, 5, &["`Content-Type` takes one value, not a list of 2", "`Impersonate-Group`"], "
        description: d
        steps:
          - call: {as: admin, method: POST, path: /api/v1/namespaces, body: {}, headers: {Content-Type: [application/json, text/plain]}}
        ");
    call_impersonate_user_list => lint_at(3, 5, &["`Impersonate-User` takes one value, not a list:"], "
        description: d
        steps:
          - call: {as: admin, path: /api, headers: {Impersonate-User: [alice]}}
        ");
    call_header_empty_list => lint_at(3, 5, &["`Impersonate-Group` is an empty list", "at least one value"], "
        description: d
        steps:
          - call: {as: admin, path: /api, headers: {Impersonate-User: alice, Impersonate-Group: []}}
        ");
    call_header_list_of_mappings => parse_line(6, &["expected a string|invalid type"], "
        description: d
        steps:
          - call:
              as: admin
              path: /api
              headers: {Impersonate-Group: [{name: team-a}]}
        ");
    call_header_list_value_undefined_variable => lint_at(3, 5, &["`${team}` is not defined"], "
        description: d
        steps:
          - call: {as: admin, path: /api, headers: {Impersonate-User: alice, Impersonate-Group: [readers, '${team}']}}
        ");
    call_authorization_header_with_a_token => lint_at(4, 5, &["`Authorization`", "`as: t`", "as: anonymous"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - call: {as: t, path: /api, headers: {Authorization: Bearer x}}
        ");
    call_content_type_header_with_patch => lint_at(3, 5, &["`Content-Type`", "`patch: json`", "keep one"], "
        description: d
        steps:
          - call: {as: admin, method: PATCH, patch: json, path: /api/v1/namespaces/x, body: [], headers: {Content-Type: application/json}}
        ");
    call_content_length_header => lint_at(3, 5, &["`Content-Length`", "leave it out"], "
        description: d
        steps:
          - call: {as: admin, method: POST, path: /api/v1/namespaces, body: {}, headers: {Content-Length: '2'}}
        ");
    call_header_value_undefined_variable => lint_at(3, 5, &["`${trace}`", "not defined"], "
        description: d
        steps:
          - call: {as: admin, path: /api, headers: {X-Trace: '${trace}'}}
        ");
    call_body_text_undefined_variable => lint_at(3, 5, &["`${name}`", "not defined"], "
        description: d
        steps:
          - call: {as: admin, method: POST, path: /api/v1/namespaces, body-text: '{\"metadata\": {\"name\": \"${name}\"}}'}
        ");
    call_as_a_variable => lint_at(4, 5, &["`${t}`", "tokens are used by their saved name"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - call: {as: '${t}', path: /api}
        ");
    bound_object_kind => lint_at(4, 5, &["ConfigMap", "Pod", "Secret", "Node"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              bound-object: {kind: ConfigMap, name: cm}
        ");
    bound_object_empty_uid => lint_at(4, 5, &["`bound-object.uid` is empty", "leave it out"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              bound-object: {kind: Secret, name: s, uid: ''}
        ");
    bound_object_uid_undefined_variable => lint_at(4, 5, &["`${old}` is not defined before this step"], "
        description: d
        steps:
          - service-account: sa
          - token:
              service-account: sa
              bound-object: {kind: Secret, name: s, uid: '${old}'}
        ");
    unchanged_without_for => lint_at(4, 5, &["unchanged", "`for`"], "
        description: d
        steps:
          - service-account: sa
          - unchanged: {kind: ServiceAccount, name: sa}
        ");
    kubectl_without_args => lint_at(3, 5, &["args"], "
        description: d
        steps:
          - kubectl: {args: []}
        ");
    kubectl_as_no_saved_token => lint_at(4, 5, &["no token is saved as `u`", "known: t"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - kubectl: {as: u, args: [auth, whoami]}
        ");
    kubectl_as_a_variable => lint_at(4, 5, &["`${namespace}`", "tokens are used by their saved name", "known: t"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - kubectl: {as: '${namespace}', args: [auth, whoami]}
        ");
    kubectl_as_anonymous => lint_at(3, 5, &["kubectl cannot run as `anonymous`", "`call`"], "
        description: d
        steps:
          - kubectl: {as: anonymous, args: [auth, can-i, list, pods]}
        ");
    kubectl_as_with_a_token_flag => lint_at(4, 5, &["`--token` in `args` conflicts with `as: t`", "leave out"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - kubectl: {as: t, args: [get, pods, --token=abc]}
        ");
    kubectl_as_with_kubeconfig_and_impersonation => lint_at(4, 5, &["`--kubeconfig` in `args` conflicts with `as: t`"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - kubectl: {as: t, args: [--kubeconfig, /tmp/other, --as=system:admin, get, pods]}
        ");
    kubectl_as_impersonating => lint_at(4, 5, &["`--as` in `args` conflicts with `as: t`"], "
        description: d
        steps:
          - token: {service-account: default, save: t}
          - kubectl: {as: t, args: [get, pods, --as=system:admin]}
        ");
    exec_without_command => lint_at(3, 5, &["`exec` needs `command`", "[cat, /etc/hostname]"], "
        description: d
        steps:
          - exec: {pod: p, command: []}
        ");
    exec_without_pod => parse(3, 12, &["missing field `pod`"], "
        description: d
        steps:
          - exec: {command: [ls]}
        ");
    exec_empty_pod => lint_at(3, 5, &["`exec` needs `pod`"], "
        description: d
        steps:
          - exec: {pod: '', command: [ls]}
        ");
    exec_command_not_a_list => parse_line(3, &["command", "expected a list|sequence"], "
        description: d
        steps:
          - exec: {pod: p, command: cat /etc/hostname}
        ");
    exec_undefined_variable => lint_at(3, 5, &["`${who}` is not defined before this step"], "
        description: d
        steps:
          - exec: {pod: p, command: [sh, -c, 'echo ${who}']}
        ");
    exec_undefined_variable_in_pod => lint_at(3, 5, &["`${pod}` is not defined before this step"], "
        description: d
        steps:
          - exec: {pod: '${pod}', command: [ls]}
        ");
    exec_exit_not_a_number => parse(3, 41, &["exit", "non-zero"], "
        description: d
        steps:
          - exec: {pod: p, command: [ls], exit: non-zero}
        ");
    exec_save_reserved => lint_at(3, 5, &["`admin` is reserved"], "
        description: d
        steps:
          - exec: {pod: p, command: [cat, /var/run/secrets/kubernetes.io/serviceaccount/token], save: admin}
        ");
    exec_saved_token_as_a_variable => lint_at(4, 5, &["`t` is a saved token, not a variable"], "
        description: d
        steps:
          - exec: {pod: p, command: [cat, /var/run/secrets/kubernetes.io/serviceaccount/token], save: t}
          - exec: {pod: p, command: [echo, '${t}']}
        ");
    exec_unknown_key => parse(3, 35, &["args", "command", "container"], "
        description: d
        steps:
          - exec: {pod: p, command: [ls], args: [-l]}
        ");
    exec_eventually_not_a_boolean => parse(3, 47, &["boolean", "eventually: yes please"], "
        description: d
        steps:
          - exec: {pod: p, command: [ls], eventually: yes please}
        ");
    exec_timeout_out_of_range => lint_at(3, 5, &["`timeout: 7200s` is out of range", "1s and 3600s"], "
        description: d
        steps:
          - exec: {pod: p, command: [ls], timeout: 2h}
        ");
    logs_without_pod => parse(3, 12, &["missing field `pod`"], "
        description: d
        steps:
          - logs: {container: c}
        ");
    logs_empty_pod => lint_at(3, 5, &["`logs` needs `pod`"], "
        description: d
        steps:
          - logs: {pod: ' '}
        ");
    logs_negative_tail_lines => lint_at(3, 5, &["`tail-lines: -1` must be 0 or more"], "
        description: d
        steps:
          - logs: {pod: p, tail-lines: -1}
        ");
    logs_tail_lines_not_a_number => parse(3, 32, &["tail-lines", "ten"], "
        description: d
        steps:
          - logs: {pod: p, tail-lines: ten}
        ");
    logs_previous_not_a_boolean => parse(3, 30, &["boolean", "previous: last"], "
        description: d
        steps:
          - logs: {pod: p, previous: last}
        ");
    logs_undefined_container => lint_at(3, 5, &["`${c}` is not defined before this step"], "
        description: d
        steps:
          - logs: {pod: p, container: '${c}'}
        ");
    logs_save_is_not_a_field => parse(3, 20, &["save", "tail-lines", "previous"], "
        description: d
        steps:
          - logs: {pod: p, save: t}
        ");
    kubectl_eventually_not_a_boolean => parse(3, 44, &["boolean", "eventually: often"], "
        description: d
        steps:
          - kubectl: {args: [version], eventually: often}
        ");
    get_eventually_not_a_boolean => parse(3, 49, &["boolean", "eventually: 3"], "
        description: d
        steps:
          - get: {kind: ConfigMap, name: c, eventually: 3}
        ");
    wait_eventually => lint_at(3, 5, &["`eventually` is not a field of `wait`", "watches"], "
        description: d
        steps:
          - wait: {kind: ConfigMap, name: c, eventually: true}
        ");
    ordered_bound_not_a_quantity => lint_line(6, &["`at-least: \"soon\"`", "neither a number nor an RFC 3339 time"], "
        description: d
        steps:
          - call:
              as: admin
              path: /api
              expect: [{path: $.status, at-least: soon}]
        ");
    tolerance_without_equals => lint_line(6, &["`tolerance` goes with `equals`"], "
        description: d
        steps:
          - call:
              as: admin
              path: /api
              expect: [{path: $.status, at-most: 299, tolerance: 1}]
        ");
    capture_unknown_measure => parse_line(6, &["unknown field `sum`", "count", "length"], "
        description: d
        steps:
          - call:
              as: admin
              path: /api
              capture: {n: {sum: $.body}}
        ");
    token_through_a_template => lint_at(5, 5, &["`t` is a saved token, not a variable", "`as: t`"], "
        description: d
        steps:
          - service-account: sa
          - token: {service-account: sa, save: t}
          - call: {as: admin, path: \"/api/${t}\"}
        ");
    delete_with_a_window => lint_at(3, 5, &["`for` has no meaning on `delete`", "absent"], "
        description: d
        steps:
          - delete: {kind: Secret, name: x, for: 5s}
        ");
    delete_with_eventually => lint_at(3, 5, &["`eventually` has no meaning on `delete`", "already waits"], "
        description: d
        steps:
          - delete: {kind: ConfigMap, name: c, eventually: true}
        ");
    unchanged_with_eventually => lint_at(3, 5, &["`eventually` has no meaning on `unchanged`", "`absent` with `eventually: true`"], "
        description: d
        steps:
          - unchanged: {kind: ConfigMap, name: c, for: 1s, eventually: true}
        ");
    empty_description => lint_at(1, 1, &["description", "empty"], "
        description: \"\"
        steps:
          - service-account: sa
        ");
    empty_steps_list => lint_line(2, &["no steps"], "
        description: d
        steps: []
        ");
    apiserver_arg_without_dashes => lint_line(2, &["kube-apiserver flag", "service-account-max-token-expiration=2h", "--"], "
        description: d
        requires:
          apiserver-args: [service-account-max-token-expiration=2h]
        steps:
          - service-account: sa
        ");
    controller_manager_arg_without_dashes => lint_line(2, &["kube-controller-manager flag", "`-controllers=*,-serviceaccount-token`", "--"], "
        description: d
        requires:
          apiserver-args: [--service-account-max-token-expiration=2h]
          controller-manager-args: [\"-controllers=*,-serviceaccount-token\"]
        steps:
          - service-account: sa
        ");

    // ---- API steps: status, the service-account long form, templated kinds -------------------
    apply_status_not_a_status => parse(5, 15, &["`status: created` is not an HTTP status", "201, 404, 422"], "
        description: d
        steps:
          - apply:
              manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
              status: created
        ");
    delete_status_out_of_range => parse(3, 48, &["`status: 42` is not an HTTP status", "between 100 and 599"], "
        description: d
        steps:
          - delete: {kind: ConfigMap, name: c, status: 42}
        ");
    get_status_a_list => parse_line(3, &["HTTP status|integer|a value or a `${variable}`"], "
        description: d
        steps:
          - get: {kind: ConfigMap, name: c, status: [404]}
        ");
    apply_status_with_several_manifests => lint_at(3, 5, &["`status` is the answer to one apply", "not 2", "several `apply` steps"], "
        description: d
        steps:
          - apply:
              status: 201
              manifest:
                - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
                - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
        ");
    wait_with_status => lint_at(3, 5, &["`status` has no meaning on `wait`", "`get` with `status`", "`absent`"], "
        description: d
        steps:
          - wait: {kind: ConfigMap, name: c, status: 404}
        ");
    absent_with_expect => lint_at(3, 5, &["`status`, `expect` has no meaning on `absent`", "`delete` or `get`"], "
        description: d
        steps:
          - absent: {kind: ConfigMap, name: c, status: 404, expect: [{path: $.status, equals: 404}]}
        ");
    undefined_variable_in_kind => lint_at(3, 5, &["get:", "`${k}` is not defined before this step", "namespace"], "
        description: d
        steps:
          - get: {kind: '${k}', name: c}
        ");
    undefined_variable_in_api_version => lint_at(3, 5, &["delete:", "`${group}` is not defined before this step"], "
        description: d
        steps:
          - delete: {api-version: '${group}/v1', kind: Widget, name: w}
        ");
    undefined_variable_in_object_namespace => lint_at(3, 5, &["absent:", "`${other}` is not defined before this step"], "
        description: d
        steps:
          - absent: {kind: ConfigMap, name: c, namespace: '${other}'}
        ");
    service_account_long_form_unknown_key => parse(5, 7, &["unknown field `statuss`", "name", "status", "expect"], "
        description: d
        steps:
          - service-account:
              name: sa
              statuss: 201
        ");
    service_account_long_form_without_name => parse_line(3, &["missing", "`name`"], "
        description: d
        steps:
          - service-account: {status: 422}
        ");
    service_account_long_form_status_not_a_status => parse(3, 41, &["`status: 2011` is not an HTTP status"], "
        description: d
        steps:
          - service-account: {name: sa, status: 2011}
        ");
    service_account_a_list => parse_line(3, &["a ServiceAccount name, or a mapping with `name`"], "
        description: d
        steps:
          - service-account: [sa]
        ");
    service_account_long_form_undefined_variable => lint_at(3, 5, &["service-account:", "`${who}` is not defined"], "
        description: d
        steps:
          - service-account: {name: '${who}', status: 201}
        ");

    // ---- hostile input -----------------------------------------------------------------------
    yaml_bomb_in_manifest => survive(format!(
        "description: d\nsteps:\n  - apply:\n      manifest:\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {{name: bomb}}\n        data:\n{}",
        billion_laughs("          ", 9)
    ));
    yaml_bomb_at_top_level => survive(format!(
        "{}description: d\nsteps:\n  - service-account: sa\n",
        billion_laughs("", 9)
    ));
    yaml_bomb_in_inline_manifest_text => survive(format!(
        "description: d\nsteps:\n  - apply:\n      manifest: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {{name: bomb}}\n        data:\n{}",
        billion_laughs("          ", 9)
    ));
    yaml_bomb_in_manifest_file => survive(
        "description: d\nsteps:\n  - apply: {file: manifests/bomb.yaml}\n".into()
    ).with_files(Box::leak(Box::new([(
        "manifests/bomb.yaml",
        &*Box::leak(format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bomb}}\ndata:\n{}",
            billion_laughs("  ", 9)
        ).into_boxed_str()),
    )])));
    many_aliases => survive(format!(
        "description: d\nsources: &s [a]\nsteps:\n  - apply:\n      manifest:\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {{name: x}}\n        data: [{}]\n",
        vec!["*s"; 200_000].join(",")
    ));
    deeply_nested_sequences => survive(format!(
        "description: d\nsteps:\n  - apply:\n      manifest: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    deeply_nested_mappings => survive(format!(
        "description: d\nsteps:\n  - apply:\n      manifest: {}1{}\n",
        "{a: ".repeat(50_000),
        "}".repeat(50_000)
    ));

    // ---- limits: paths, durations, files, encodings, long lines ------------------------------
    jsonpath_5000_levels => lint_at(3, 31, &["is not a JSONPath kubeproof accepts", "the limit is 500", "…"], &format!("
        description: d
        steps:
          - get: {{kind: Pod, expect: [{{path: \"${}\", exists: true}}]}}
        ", "[?(@".repeat(5000)));
    jsonpath_nested_too_deep => lint_at(3, 31, &["nest 41 deep", "the limit is 6"], &format!("
        description: d
        steps:
          - get: {{kind: Pod, expect: [{{path: \"$[?{}@.a{}]\", exists: true}}]}}
        ", "(".repeat(40), ")".repeat(40)));
    jsonpath_capture_too_deep => lint_at(3, 35, &["capture `x`", "nest 33 deep", "the limit is 6"], &format!("
        description: d
        steps:
          - get: {{kind: Pod, capture: {{x: \"$.a{}\"}}}}
        ", "[?@.b".repeat(33)));
    timeout_above_an_hour => lint_at(3, 5, &["`timeout: 7200s`", "out of range", "between 1s and 3600s"], "
        description: d
        steps:
          - get: {kind: Pod, timeout: 2h}
        ");
    timeout_huge => lint_at(3, 5, &["timeout", "out of range", "3600s"], "
        description: d
        steps:
          - call: {as: admin, path: /api, timeout: 18446744073709551615s}
        ");
    timeout_zero => lint_at(3, 5, &["`timeout: 0s`", "between 1s and 3600s"], "
        description: d
        steps:
          - kubectl: {args: [version], timeout: 0s}
        ");
    window_above_an_hour => lint_at(3, 5, &["`for: 360000s`", "out of range", "between 1ms and 3600s"], "
        description: d
        steps:
          - absent: {kind: Secret, name: s, for: 100h}
        ");
    window_zero => lint_at(3, 5, &["`for: 0s`", "between 1ms and 3600s"], "
        description: d
        steps:
          - unchanged: {kind: Secret, name: s, for: 0s}
        ");
    token_duration_beyond_int64 => lint_at(4, 5, &["9223372036854775808s", "expirationSeconds", "9223372036854775807"], "
        description: d
        steps:
          - service-account: sa
          - token: {service-account: sa, duration: 9223372036854775808s}
        ");
    manifest_file_outside_tree => lint_at(3, 5, &["/etc/passwd", "outside", "--allow-outside-files"], "
        description: d
        steps:
          - apply: {file: /etc/passwd}
        ").in_real_dir();
    manifest_file_dotdot_outside_tree => lint_at(3, 5, &["outside", "--allow-outside-files"], "
        description: d
        steps:
          - apply: {file: ../../../../../../../../etc/hostname}
        ").in_real_dir();
    manifest_file_symlink_outside_tree => lint_at(3, 5, &["manifests/passwd.yaml", "resolves to /etc/passwd", "outside"], "
        description: d
        steps:
          - apply: {file: manifests/passwd.yaml}
        ").with_special(&[("manifests/passwd.yaml", Special::Symlink("/etc/passwd"))]);
    manifest_file_is_fifo => lint_at(3, 5, &["manifests/pipe.yaml", "a FIFO, not a regular file"], "
        description: d
        steps:
          - apply: {file: manifests/pipe.yaml}
        ").with_special(&[("manifests/pipe.yaml", Special::Fifo)]);
    manifest_file_is_directory => lint_at(3, 5, &["manifests", "a directory, not a regular file"], "
        description: d
        steps:
          - apply: {file: manifests}
        ").with_files(&[("manifests/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")]);
    manifest_file_too_large => lint_at(3, 5, &["manifests/big.yaml", "the limit is 4 MiB"], "
        description: d
        steps:
          - apply: {file: manifests/big.yaml}
        ").with_files(Box::leak(Box::new([(
            "manifests/big.yaml",
            leaked_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n#", 'x', 4 * 1024 * 1024 + 1),
        )])));
    manifest_file_not_utf8 => lint_at(3, 5, &["manifests/latin1.yaml:3:21", "0xe9", "not UTF-8"], "
        description: d
        steps:
          - apply: {file: manifests/latin1.yaml}
        ").with_special(&[("manifests/latin1.yaml", Special::Bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n"))]);
    scenario_not_utf8 => parse(3, 23, &["0xff", "not UTF-8"], "").with_special(&[(
        "case.yaml",
        Special::Bytes(b"description: d\nsteps:\n  - service-account: s\xffa\n"),
    )]);
    scenario_not_utf8_after_multibyte => parse(1, 17, &["0xc3", "not UTF-8"], "").with_special(&[(
        "case.yaml",
        Special::Bytes(b"description: \xc3\xa9t\xc3\xa9\xc3(\nsteps: []\n"),
    )]);
    scenario_is_fifo => parse(1, 1, &["cannot read the scenario file", "a FIFO, not a regular file"], "")
        .with_special(&[("case.yaml", Special::Fifo)]);
    scenario_is_dev_zero => parse(1, 1, &["cannot read the scenario file", "a device, not a regular file"], "")
        .with_special(&[("case.yaml", Special::Symlink("/dev/zero"))]);
    scenario_too_large => parse(1, 1, &["the limit is 4 MiB"], "").with_files(Box::leak(Box::new([(
        "case.yaml",
        leaked_text("description: d\nsteps: []\n#", 'x', 4 * 1024 * 1024 + 1),
    )])));
    long_line_is_quoted_as_an_excerpt => parse(2, 8, &["expected a list|sequence", "…"], &format!(
        "description: d\nsteps: {}\n", "x".repeat(3_000_000)
    ));
    long_value_is_quoted_as_an_excerpt => parse_line(4, &["not a duration", "… ("], &format!(
        "description: d\nsteps:\n  - service-account: sa\n  - get: {{kind: Pod, timeout: {}x}}\n", "9".repeat(1_000_000)
    ));
    long_unknown_key_is_quoted_as_an_excerpt => parse_line(1, &["unknown", "description"], &format!(
        "{}: 1\ndescription: d\nsteps: []\n", "k".repeat(1000)
    ));
    cases_with_a_missing_key => lint_at(4, 5, &["case `long`", "missing `status`", "every case sets the variables of the first case (d, status)"], "
        description: d
        cases:
          - {name: short, d: 599s, status: 422}
          - {name: long, d: 600s}
        steps:
          - service-account: sa
        ");
    cases_with_an_extra_key => lint_at(4, 5, &["case #2", "extra `x`"], "
        description: d
        cases:
          - {d: 599s}
          - {d: 600s, x: 1}
        steps:
          - service-account: sa
        ");
    case_not_a_mapping => parse(3, 5, &["a case: a mapping of variable names to values"], "
        description: d
        cases:
          - 599s
        steps:
          - service-account: sa
        ");
    cases_not_a_list => parse_line(2, &["expected a list|sequence"], "
        description: d
        cases: {d: 1s}
        steps:
          - service-account: sa
        ");
    cases_empty => lint_at(2, 1, &["`cases` is empty", "at least one case"], "
        description: d
        cases: []
        steps:
          - service-account: sa
        ");
    case_name_unfit_for_a_trial => lint_at(3, 5, &["`a b`", "letters, digits", "case::a b"], "
        description: d
        cases:
          - {name: a b, d: 1s}
        steps:
          - service-account: sa
        ");
    case_names_twice => lint_at(4, 5, &["the name `x` is also case #1's"], "
        description: d
        cases:
          - {name: x, d: 1s}
          - {name: x, d: 2s}
        steps:
          - service-account: sa
        ");
    case_sets_a_builtin => lint_at(3, 5, &["`namespace` is reserved"], "
        description: d
        cases:
          - {namespace: other}
        steps:
          - service-account: sa
        ");
    case_value_not_a_duration => lint_at(6, 5, &["case `bad`", "`${d}` is `600`", "no unit"], "
        description: d
        cases:
          - {name: bad, d: 600}
        steps:
          - service-account: sa
          - token: {service-account: sa, duration: '${d}'}
        ");
    case_value_not_whole_seconds => lint_at(7, 5, &["case `2`", "`${d}` is `1500ms`", "whole seconds"], "
        description: d
        cases:
          - {d: 600s}
          - {d: 1500ms}
        steps:
          - service-account: sa
          - token: {service-account: sa, duration: '${d}'}
        ");
    case_value_not_a_status => lint_at(5, 5, &["case `1`", "`status: 42` is not an HTTP status"], "
        description: d
        cases: [{s: 42}]
        steps:
          - service-account: sa
          - token: {service-account: sa, status: '${s}'}
        ");
    include_missing_file => lint_at(3, 5, &["include:", "cannot read step file", "steps/nope.yaml"], "
        description: d
        steps:
          - include: {file: steps/nope.yaml}
        ").in_real_dir();
    include_outside_the_tree => lint_at(3, 5, &["include:", "resolves to /etc/passwd", "outside", "--allow-outside-files"], "
        description: d
        steps:
          - include: {file: steps/passwd.yaml}
        ").with_special(&[("steps/passwd.yaml", Special::Symlink("/etc/passwd"))]);
    include_a_fifo => lint_at(3, 5, &["include:", "a FIFO, not a regular file"], "
        description: d
        steps:
          - include: {file: steps/pipe.yaml}
        ").with_special(&[("steps/pipe.yaml", Special::Fifo)]);
    include_cycle => lint_at(2, 5, &["include:", "a cycle", "steps/loop.yaml is already being included", "included from"], "
        description: d
        steps:
          - include: {file: steps/loop.yaml}
        ").with_files(&[("steps/loop.yaml", "steps:\n  - include: {file: loop.yaml}\n")]).in_file("steps/loop.yaml");
    include_without_a_param => lint_at(3, 5, &["include:", "steps/bind.yaml needs `role` in `with`", "its params: sa, role"], "
        description: d
        steps:
          - include: {file: steps/bind.yaml, with: {sa: a}}
        ").with_files(&[("steps/bind.yaml", "params: [sa, role]\nsteps:\n  - service-account: '${sa}'\n")]);
    include_with_an_unknown_param => lint_at(3, 5, &["include:", "`with` gives `rol`, which steps/bind.yaml does not take", "its params: sa, role"], "
        description: d
        steps:
          - include: {file: steps/bind.yaml, with: {sa: a, role: r, rol: r}}
        ").with_files(&[("steps/bind.yaml", "params: [sa, role]\nsteps:\n  - service-account: '${sa}'\n")]);
    include_param_undefined => lint_at(3, 5, &["include:", "`${who}` is not defined before this step"], "
        description: d
        steps:
          - include: {file: steps/sa.yaml, with: {sa: '${who}'}}
        ").with_files(&[("steps/sa.yaml", "params: [sa]\nsteps:\n  - service-account: '${sa}'\n")]);
    include_param_reserved => lint_at(3, 5, &["include:", "`namespace` is reserved"], "
        description: d
        steps:
          - include: {file: steps/sa.yaml, with: {namespace: x}}
        ").with_files(&[("steps/sa.yaml", "steps:\n  - service-account: sa\n")]);
    include_a_bare_list_of_steps => lint_at(1, 1, &["include:", "not a bare list: put the list under `steps:`", "included from"], "
        description: d
        steps:
          - include: {file: steps/list.yaml}
        ").with_files(&[("steps/list.yaml", "- service-account: sa\n")]).in_file("steps/list.yaml");
    include_an_empty_file => lint_at(1, 1, &["include:", "the step file is empty"], "
        description: d
        steps:
          - include: {file: steps/empty.yaml}
        ").with_files(&[("steps/empty.yaml", "\n")]).in_file("steps/empty.yaml");
    include_a_file_with_an_unknown_key => lint_at(3, 13, &["include:", "unknown field `service-acount`", "included from"], "
        description: d
        steps:
          - include: {file: steps/typo.yaml}
        ").with_files(&[("steps/typo.yaml", "steps:\n  - service-account: sa\n  - token: {service-acount: sa}\n")]).in_file("steps/typo.yaml");
    include_a_file_declaring_a_param_twice => lint_at(1, 14, &["include:", "parameter `sa` is declared twice"], "
        description: d
        steps:
          - include: {file: steps/twice.yaml, with: {sa: a}}
        ").with_files(&[("steps/twice.yaml", "params: [sa, sa]\nsteps:\n  - service-account: sa\n")]).in_file("steps/twice.yaml");
    included_step_problem_is_in_its_file => lint_at(3, 5, &["call: no token is saved as `nobody`", "(included from", "case.yaml:3:5)"], "
        description: d
        steps:
          - include: {file: steps/call.yaml}
        ").with_files(&[("steps/call.yaml", "description: calls\nsteps:\n  - call: {as: nobody, path: /api}\n")]).in_file("steps/call.yaml");
    include_nested_too_deep => lint_at(2, 5, &["include:", "includes nest more than 8 deep"], "
        description: d
        steps:
          - include: {file: steps/1.yaml}
        ").with_files(&[
            ("steps/1.yaml", "steps: [{include: {file: 2.yaml}}]\n"),
            ("steps/2.yaml", "steps: [{include: {file: 3.yaml}}]\n"),
            ("steps/3.yaml", "steps: [{include: {file: 4.yaml}}]\n"),
            ("steps/4.yaml", "steps: [{include: {file: 5.yaml}}]\n"),
            ("steps/5.yaml", "steps: [{include: {file: 6.yaml}}]\n"),
            ("steps/6.yaml", "steps: [{include: {file: 7.yaml}}]\n"),
            ("steps/7.yaml", "steps: [{include: {file: 8.yaml}}]\n"),
            ("steps/8.yaml", "steps:\n  - include: {file: 9.yaml}\n"),
            ("steps/9.yaml", "steps: [{service-account: sa}]\n"),
        ]).in_file("steps/8.yaml");
    includes_adding_too_many_steps => lint_at(4, 5, &["include:", "more than 1000 steps"], "
        description: d
        steps:
          - include: {file: steps/many.yaml}
          - include: {file: steps/many.yaml}
        ").with_files(Box::leak(Box::new([(
            "steps/many.yaml",
            &*Box::leak(format!("steps:\n{}", "  - service-account: sa\n".repeat(600)).into_boxed_str()),
        )])));
    included_assertion_problem_is_in_its_file => lint_at(5, 11, &["get:", "checks nothing", "(included from"], "
        description: d
        steps:
          - include: {file: steps/get.yaml}
        ").with_files(&[("steps/get.yaml", "steps:\n  - get:\n      kind: Pod\n      expect:\n        - {path: $.x}\n")]).in_file("steps/get.yaml");
    upgrade_to_not_a_release => lint_line(3, &["`1.2x` is not a Kubernetes release", "1.24.17", "minor such as 1.24"], "
        description: d
        steps:
          - upgrade: {to: 1.2x}
        ");
    upgrade_via_a_minor => lint_line(3, &["`via: 1.24` must name a patch"], "
        description: d
        steps:
          - upgrade: {to: 1.25.0, via: [\"1.24\"]}
        ");
    upgrade_via_not_below_to => lint_line(3, &["`via: 1.25.1` is not below `to: 1.25`"], "
        description: d
        steps:
          - upgrade: {to: \"1.25\", via: [1.25.1]}
        ");
    upgrade_via_going_down => lint_line(3, &["`via` must go up one minor at a time", "1.24.2 comes after 1.25.1"], "
        description: d
        steps:
          - upgrade: {to: 1.27.0, via: [1.25.1, 1.24.2]}
        ");
    restart_unknown_component => parse_line(4, &["kube-scheduler", "kube-apiserver", "kube-controller-manager"], "
        description: d
        steps:
          - restart:
              component: kube-scheduler
        ");
    restart_flag_without_dashes => lint_line(3, &["`extend=false` is not a flag", "--name=value"], "
        description: d
        steps:
          - restart: {component: kube-apiserver, flags: [extend=false]}
        ");
    signing_key_unknown_action => parse_line(3, &["`forget`", "rotate", "drop-previous"], "
        description: d
        steps:
          - signing-key: {action: forget}
        ");    // ---- several clusters ----------------------------------------------------------------------
    step_on_an_undeclared_cluster => lint_line(4, &["`cluster: east` is not a cluster of the scenario", "valid: b, main"], "
        description: d
        clusters: {b: {}}
        steps:
          - token: {service-account: default, cluster: east}
        ");
    cluster_trusts_itself => lint_at(4, 14, &["`b` trusts itself"], "
        description: d
        clusters:
          b:
            trusts: [{cluster: b}]
        steps:
          - service-account: sa
        ");
    cluster_trusts_an_undeclared_cluster => lint_at(4, 14, &["`b` trusts `east`", "valid: b, main"], "
        description: d
        clusters:
          b:
            trusts: [{cluster: east}]
        steps:
          - service-account: sa
        ");
    trust_on_a_release_without_authentication_config => lint_line(4, &["`b` runs 1.28", "--authentication-config", "1.29.0"], "
        description: d
        clusters:
          b:
            version: '1.28'
            trusts: [{cluster: main}]
        steps:
          - service-account: sa
        ");
    cluster_name_not_a_label => lint_line(3, &["`East_1` is not a cluster name", "lowercase"], "
        description: d
        clusters:
          East_1: {}
        steps:
          - service-account: sa
        ");
    main_with_a_release => lint_line(3, &["`main` is the run's own cluster", "only `trusts`"], "
        description: d
        clusters:
          main: {version: '1.30'}
        steps:
          - service-account: sa
        ");
    cluster_unknown_key => parse_line(4, &["unknown field `trust`", "trusts"], "
        description: d
        clusters:
          b:
            trust: [{cluster: main}]
        steps:
          - service-account: sa
        ");
    upgrade_on_another_cluster => parse_line(3, &["unknown field `cluster`"], "
        description: d
        steps:
          - upgrade: {to: '1.30', cluster: b}
        ");
}

/// The table is big enough and its names are unique (the `#[test]` names already are).
#[test]
fn table_covers_enough_cases() {
    let cases = table();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "duplicate case names");
    for stage in [Stage::Parse, Stage::Lint, Stage::Survive] {
        assert!(cases.iter().any(|c| c.stage == stage), "no {stage:?} case");
    }
}

/// The shipped scenarios are the positive control: all parse and lint clean.
#[test]
fn shipped_scenarios_parse_and_lint_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = discover(&[dir]).expect("scenarios/ is readable");
    assert!(!files.is_empty(), "no scenario files found");
    let mut problems = Vec::new();
    for file in &files {
        match Scenario::load(file) {
            Ok(s) => problems.extend(lint::lint(&s)),
            Err(found) => problems.extend(found),
        }
    }
    assert!(problems.is_empty(), "{} of {} files have problems:\n{}", problems.len(), files.len(), show(&problems));
}

/// A directory of scenarios as `run`, `lint` and `list` load it: a FIFO and a link to /dev/zero
/// named like scenarios are refused without blocking; a manifest outside the directory is
/// refused unless `--allow-outside-files`.
#[test]
fn load_all_refuses_special_files_and_reads_outside_only_when_allowed() {
    let base = std::env::temp_dir().join(format!("kubeproof-load-all-{}", std::process::id()));
    let _guard = TempDir(base.clone());
    let dir = base.join("scenarios");
    std::fs::create_dir_all(&dir).expect("create scenarios/");
    std::fs::write(base.join("outside.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: o}\n").expect("write");
    std::fs::write(dir.join("reads-outside.yaml"), "description: d\nsteps:\n  - apply: {file: ../outside.yaml}\n").expect("write");
    let made = std::process::Command::new("mkfifo").arg(dir.join("pipe.yaml")).status().expect("run mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.yaml")).expect("symlink");

    let load = |allow: bool| {
        let (tx, rx) = std::sync::mpsc::channel();
        let paths = vec![dir.clone()];
        std::thread::spawn(move || tx.send(load_all(&paths, allow)));
        rx.recv_timeout(CASE_DEADLINE).expect("load_all blocked on a FIFO or a device")
    };
    let strict = load(false).expect_err("special files and a manifest outside are errors");
    let said = show(&strict);
    assert_eq!(strict.len(), 3, "{said}");
    for (file, needle) in [
        ("pipe.yaml", "a FIFO, not a regular file"),
        ("zero.yaml", "a device, not a regular file"),
        ("reads-outside.yaml", "--allow-outside-files"),
    ] {
        let d = strict.iter().find(|d| d.pos.file == dir.join(file)).unwrap_or_else(|| panic!("nothing about {file}:\n{said}"));
        assert!(d.message.contains(needle), "{d}");
        assert!(malformed(d, &dir.join(file)).is_empty(), "{d}: {:?}", malformed(d, &dir.join(file)));
    }

    std::fs::remove_file(dir.join("pipe.yaml")).expect("remove the FIFO");
    std::fs::remove_file(dir.join("zero.yaml")).expect("remove the link");
    let allowed = load(true).expect("with --allow-outside-files the manifest outside is read");
    assert_eq!(allowed.len(), 1);
    assert!(load(false).is_err(), "without the flag it is still refused");
}

/// Everything a file gets in one round: its parse errors, or its lint.
fn every_problem(text: &str) -> Vec<Diagnostic> {
    match Scenario::parse(Path::new("case.yaml"), text) {
        Ok(s) => lint::lint(&s),
        Err(found) => found,
    }
}

/// What one diagnostic must be: on `line`, at the column where `at` is written on that line
/// (any column without), saying every needle.
struct Want(u64, Option<&'static str>, &'static [&'static str]);

/// `text` gets exactly the diagnostics wanted, in file order, each well-formed.
fn gets_exactly(text: &str, wanted: &[Want]) {
    let found = every_problem(text);
    let said = show(&found);
    well_formed(&found, Path::new("case.yaml")).unwrap_or_else(|why| panic!("{why}\n{said}"));
    assert_eq!(found.len(), wanted.len(), "wanted {} diagnostics, got:\n{said}\n--- yaml ---\n{text}", wanted.len());
    for (d, Want(line, at, says)) in found.iter().zip(wanted) {
        let source = text.lines().nth(*line as usize - 1).unwrap_or_default();
        let column = at.map(|at| source[..source.find(at).expect("the marker is on its line")].chars().count() as u64 + 1);
        let here = d.pos.line == *line && column.is_none_or(|c| c == d.pos.column);
        let says_all = says.iter().all(|n| needle_holds(&d.message, n));
        assert!(here && says_all, "wanted {says:?} at {line}:{column:?}, got `{d}`; all:\n{said}\n--- yaml ---\n{text}");
    }
}

/// One round reports every structural problem: an unknown key in step 1, a wrong type in step
/// 3, a bad duration in step 5 and an unknown key in `finally`, each at its own place.
#[test]
fn every_problem_of_a_file_at_once() {
    gets_exactly(
        &dedent(
            "
            description: every problem at once
            steps:
              - token:
                  service-account: sa
                  audience: api
              - service-account: sa
              - call: {as: admin, path: /api, status: ok}
              - service-account: sb
              - token: {service-account: sb, duration: 10x}
            finally:
              - delete: {kind: ServiceAccount, nam: sa}
            ",
        ),
        &[
            Want(5, Some("audience"), &["unknown field `audience`"]),
            Want(7, Some("ok"), &["expected a whole number", "status: ok"]),
            Want(9, None, &["10x", "not a duration"]),
            // The mapping lacks `name` (reported at its last key), and has `nam`.
            Want(11, Some("kind"), &["missing field `name`"]),
            Want(11, Some("nam:"), &["unknown field `nam`"]),
        ],
    );
}

/// Several problems in one step, and in the top-level keys, in one round.
#[test]
fn several_problems_in_one_step_and_at_the_top() {
    gets_exactly(
        &dedent(
            "
            description: d
            versions: '>=1.x'
            stepz: []
            steps:
              - call:
                  as: admin
                  pth: /api
                  method: [GET]
                  path: /api
                  expekt: []
            ",
        ),
        &[
            Want(2, Some("'>=1.x'"), &["not a version range"]),
            Want(3, Some("stepz"), &["unknown field `stepz`"]),
            Want(7, Some("pth"), &["unknown field `pth`"]),
            Want(8, Some("[GET]"), &["expected a string"]),
            Want(10, Some("expekt"), &["unknown field `expekt`"]),
        ],
    );
}

/// Steps that parse are linted in the same round, with what the broken steps save and capture
/// taken as defined; flow style and characters beyond ASCII keep their columns; a step that
/// uses an anchor of another step is parsed with the file.
#[test]
fn what_parses_is_linted_in_the_same_round() {
    gets_exactly(
        &dedent(
            "
            description: d
            steps:
              - token: {service-account: sa, save: t, audienc: x}
              - tokn: {save: u, capture: {uid: $.a}}
              - call: {as: u, path: \"/${uid}/${nope}\", timeout: 2h}
              - call: {as: v, path: /api}
            ",
        ),
        &[
            Want(3, Some("audienc"), &["unknown field `audienc`"]),
            Want(4, Some("tokn"), &["unknown variant `tokn`"]),
            Want(5, Some("call"), &["timeout", "out of range"]),
            Want(5, Some("call"), &["`${nope}` is not defined"]),
            Want(6, Some("call"), &["no token is saved as `v`"]),
        ],
    );
    gets_exactly(
        &dedent(
            "
            description: \"é\"
            steps: [{token: {service-account: \"é\", audienc: x}}, {get: {kind: Pod, nme: p, é: 1}}]
            ",
        ),
        &[
            Want(2, Some("audienc"), &["unknown field `audienc`"]),
            Want(2, Some("nme"), &["unknown field `nme`"]),
            Want(2, Some("é: 1"), &["unknown field `é`"]),
        ],
    );
    gets_exactly(
        &dedent(
            "
            description: d
            steps:
              - &a {token: {service-account: sa, audienc: x}}
              - *a
              - call: {as: admin, path: /api, x: 1}
            ",
        ),
        &[Want(3, Some("audienc"), &["unknown field `audienc`"]), Want(5, Some("x:"), &["unknown field `x`"])],
    );
}

/// Where the YAML itself is broken there is nothing to recover: the first problem is all.
#[test]
fn broken_yaml_gives_its_first_problem_only() {
    let text = "description: d\nsteps:\n  - tokn: x\n  - call: as: admin\n";
    let found = every_problem(text);
    assert_eq!(found.len(), 1, "{}", show(&found));
}

/// Ten thousand broken steps: the first 100 problems and a count of the rest, quickly.
#[test]
fn ten_thousand_broken_steps_are_bounded() {
    let mut text = String::from("description: d\nsteps:\n");
    for i in 0..10_000 {
        text.push_str(&format!("  - token: {{service-account: sa{i}, audienc: x}}\n"));
    }
    let started = std::time::Instant::now();
    let found = every_problem(&text);
    let took = started.elapsed();
    assert_eq!(found.len(), 101, "{}", show(&found[..3]));
    assert_eq!((found[0].pos.line, found[99].pos.line), (3, 102));
    assert!(found[100].message.contains("9900 more"), "{}", found[100]);
    well_formed(&found, Path::new("case.yaml")).unwrap();
    eprintln!("10,000 broken steps: {took:?}");
    // About 1 s in a debug build, under 0.5 s in a release one; work that grew with the square of the
    // steps would take minutes. The bound leaves room for a loaded machine.
    assert!(took < CASE_DEADLINE, "took {took:?}");
}

/// `kubeproof lint` prints every problem of the file and exits 2.
#[test]
fn lint_command_prints_every_problem() {
    let dir = std::env::temp_dir().join(format!("kubeproof-lint-all-{}", std::process::id()));
    let _guard = TempDir(dir.clone());
    std::fs::create_dir_all(&dir).expect("create the directory");
    let file = dir.join("broken.yaml");
    let text = "description: d\nsteps:\n  - token: {service-account: sa, audienc: x}\n  - call: {as: admin, path: /api, status: ok}\n  - tokn: x\n";
    std::fs::write(&file, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeproof")).arg("lint").arg(&file).output().expect("run kubeproof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for at in ["3:34: unknown field `audienc`", "4:43: expected a whole number", "5:5: unknown variant `tokn`"] {
        assert!(stderr.contains(&format!("error: {}:{at}", file.display())), "no `{at}` in:\n{stderr}");
    }
    assert!(stderr.contains("3 problem(s); nothing was run"), "{stderr}");
}

/// A step file that does not parse reports each of its broken steps, at its own place in the
/// step file, with where it was included from.
#[test]
fn every_problem_of_an_included_step_file() {
    let dir = std::env::temp_dir().join(format!("kubeproof-include-all-{}", std::process::id()));
    let _guard = TempDir(dir.clone());
    std::fs::create_dir_all(dir.join("steps")).expect("create the directories");
    let steps = "steps:\n  - token: {service-account: sa, audienc: x}\n  - service-account: sa\n  - tokn: x\n";
    std::fs::write(dir.join("steps/broken.yaml"), steps).expect("write the step file");
    let file = dir.join("case.yaml");
    std::fs::write(&file, "description: d\nsteps:\n  - include: {file: steps/broken.yaml}\n").expect("write");
    let found = match Scenario::load(&file) {
        Ok(s) => lint::lint(&s),
        Err(found) => found,
    };
    let said = show(&found);
    let step_file = dir.join("steps/broken.yaml");
    for (line, column, needle) in [(2, 34, "unknown field `audienc`"), (4, 5, "unknown variant `tokn`")] {
        let d = found
            .iter()
            .find(|d| d.pos.file == step_file && (d.pos.line, d.pos.column) == (line, column))
            .unwrap_or_else(|| panic!("nothing at {line}:{column} of the step file:\n{said}"));
        assert!(d.message.contains(needle) && d.message.contains("included from"), "{d}");
    }
    assert_eq!(found.len(), 2, "{said}");
}

/// `kubeproof init` writes a starter whose check lints clean, and refuses, writing nothing, where
/// any of its files exists.
#[test]
fn init_writes_a_starter_and_never_overwrites() {
    let repo = std::env::temp_dir().join(format!("kp-init-{}", std::process::id()));
    std::fs::create_dir_all(&repo).unwrap();
    let init = || std::process::Command::new(env!("CARGO_BIN_EXE_kubeproof")).arg("init").arg(&repo).output().expect("run kubeproof");
    let out = init();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let check = repo.join("kubeproof/checks/service-account-token.yaml");
    let scenario = kubeproof::scenario::Scenario::load(&check).unwrap();
    assert!(kubeproof::scenario::lint::lint(&scenario).is_empty());
    assert!(std::fs::read_to_string(&check).unwrap().starts_with("# yaml-language-server: $schema=../scenario.schema.json"));
    assert!(repo.join("kubeproof/scenario.schema.json").is_file() && repo.join(".github/workflows/kubeproof.yml").is_file());
    std::fs::remove_file(repo.join("kubeproof/scenario.schema.json")).unwrap();
    std::fs::write(&check, "mine").unwrap();
    let out = init();
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "a second init refuses: {said}");
    assert!(said.contains("writes nothing over what exists") && said.contains("service-account-token.yaml"), "{said}");
    assert_eq!(std::fs::read_to_string(&check).unwrap(), "mine", "and leaves the file as it was");
    assert!(!repo.join("kubeproof/scenario.schema.json").exists(), "nothing is written when one file exists");
    let _ = std::fs::remove_dir_all(&repo);
}

/// `--retries` and `--repeat` out of range are bad input before anything runs, naming the range.
#[test]
fn context_mappings_are_checked_before_anything_runs() {
    let dir = std::env::temp_dir().join(format!("kubeproof-contexts-{}", std::process::id()));
    let _guard = TempDir(dir.clone());
    std::fs::create_dir_all(&dir).expect("create the directory");
    std::fs::write(dir.join("two.yaml"), "description: d\nclusters: {b: {}}\nsteps:\n  - service-account: sa\n").expect("write");
    let scenarios = dir.display().to_string();
    for (contexts, says) in [
        (&["main=kind-a", "c=kind-c"][..], "no scenario has a cluster `c` (their clusters: b)"),
        (&["main=kind-a", "c=kind-c"][..], "scenarios run on cluster `b`, which no --context b=CONTEXT maps"),
        (&["kind-a", "main=kind-b"][..], "cluster `main` is mapped twice"),
        (&["b="][..], "`b=`: expected CONTEXT or NAME=CONTEXT"),
    ] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubeproof"));
        command.args(["run", &scenarios]).env("KUBECONFIG", dir.join("none"));
        for c in contexts {
            command.args(["--context", c]);
        }
        let out = command.output().expect("run kubeproof");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{contexts:?}: {said}");
        assert!(said.contains(says), "{contexts:?} says {says:?}: {said}");
    }
}

#[test]
fn retries_and_repeat_out_of_range_name_their_range() {
    for (flag, value, range) in [("--retries", "11", "0..=10"), ("--repeat", "0", "1..=1000"), ("--repeat", "1001", "1..=1000")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(["run", "scenarios", "--local", "latest", flag, value])
            .output()
            .expect("run kubeproof");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {said}");
        assert!(said.contains(range) || said.contains(&format!("{flag} <")), "{flag} {value} names the range: {said}");
    }
}

/// A `go` standing for the module proxy in the table below: it lists `listed` and serves exactly
/// those; anything else (a download, a build) fails with a marker, so a row that got that far
/// is seen.
const GO_ASKED_TO_BUILD: &str = "FAKE-GO: asked to build";

fn fake_proxy_go(dir: &Path, listed: &str) -> PathBuf {
    let path = dir.join(format!("go-{}", listed.split_whitespace().count()));
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in\n  'env GOVERSION') echo go1.26.8 ;;\n  'list -m -versions k8s.io/kubernetes') echo k8s.io/kubernetes {listed} ;;\n  \
         'list -m -json k8s.io/kubernetes@'*) for v in {listed}; do [ \"$v\" = \"${{*##*@}}\" ] && echo '{{}}' && exit 0; done; exit 1 ;;\n  \
         *) echo \"{GO_ASKED_TO_BUILD}: go $*\" >&2; exit 7 ;;\nesac\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// Releases that are not versions, or that the module proxy does not have — a pre-release
/// misspelt or not (yet) tagged, `next` with no pre-release, a minor with only pre-releases —
/// are bad input in every command that takes one: exit 2 at once, before anything is built or
/// started, naming what was asked and what there is.
#[test]
fn release_requests_that_name_nothing_there_is() {
    const WITH_BETA: &str = "v1.36.1 v1.37.2 v1.38.0-beta.0";
    const WITHOUT: &str = "v1.36.1 v1.37.2";
    let rows: &[(&[&str], &str, &[&str])] = &[
        (&["run", "scenarios", "--local", "banana"], WITH_BETA, &["`banana` is not a Kubernetes release", "next", "1.38.0-beta.0"]),
        (
            &["run", "scenarios", "--local", "1.38.0-gamma.1"],
            WITH_BETA,
            &["`1.38.0-gamma.1` is not a Kubernetes release", "alpha, beta or rc"],
        ),
        (&["run", "scenarios", "--local", "1.38-beta.0"], WITH_BETA, &["`1.38-beta.0` is not a Kubernetes release"]),
        (
            &["run", "scenarios", "--local", "1.99.0"],
            WITH_BETA,
            &["Kubernetes 1.99.0 is not on the Go module proxy", "newest release is 1.37.2"],
        ),
        (
            &["run", "scenarios", "--local", "v1.38.0-beta.7"],
            WITH_BETA,
            &["1.38.0-beta.7 is not on the Go module proxy", "of 1.38 it lists 1.38.0-beta.0"],
        ),
        (&["run", "scenarios", "--local", "next"], WITHOUT, &["`next` found no pre-release of Kubernetes 1.38", "newest release, 1.37.2"]),
        (
            &["run", "scenarios", "--local", "1.38"],
            WITH_BETA,
            &["Kubernetes 1.38 has no release", "only pre-releases: 1.38.0-beta.0", "`next`"],
        ),
        (&["matrix", "--versions", "latest,1.38.0-rc.0"], WITH_BETA, &["1.38.0-rc.0 is not on the Go module proxy", "1.38.0-beta.0"]),
        (&["matrix", "--versions", "1.37.2,1.38.0-gamma.1"], WITH_BETA, &["`1.38.0-gamma.1` is not a Kubernetes release"]),
        (&["diff", "latest", "next"], WITHOUT, &["`next` found no pre-release of Kubernetes 1.38"]),
        (&["cluster", "install", "--version", "next"], WITHOUT, &["`next` found no pre-release", "1.37.2"]),
        (&["cluster", "up", "--version", "1.38.0-beta.7"], WITH_BETA, &["1.38.0-beta.7 is not on the Go module proxy", "1.38.0-beta.0"]),
        (&["cluster", "install", "--version", "1.38.0-alpha"], WITH_BETA, &["`1.38.0-alpha` is not a Kubernetes release"]),
    ];
    let dir = TempDir(std::env::temp_dir().join(format!("kp-requests-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    for (args, listed, says) in rows {
        let started = std::time::Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeproof"))
            .args(*args)
            .env("KUBEPROOF_GO", fake_proxy_go(&dir.0, listed))
            .env("KUBEPROOF_CACHE_DIR", dir.0.join("cache"))
            .env("KUBEPROOF_SOURCE", "build")
            .env_remove("KUBEPROOF_MIRROR")
            .output()
            .expect("run kubeproof");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        for needle in *says {
            assert!(said.contains(needle), "{args:?} must say `{needle}`: {said}");
        }
        assert!(!said.contains(GO_ASKED_TO_BUILD) && !said.contains("building"), "{args:?}: nothing may be built: {said}");
        assert!(started.elapsed() < Duration::from_secs(20), "{args:?} took {:?}", started.elapsed());
    }
}
