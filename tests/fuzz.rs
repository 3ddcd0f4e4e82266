//! A bounded fuzz test of the scenario loader and linter: the shipped scenarios, mutated (bytes
//! flipped, truncated, lines duplicated and deleted, huge numbers, deep nesting, invalid UTF-8,
//! long lines, alias bombs, deep JSONPaths, odd files), and scenarios generated from scratch.
//!
//! For every input: no panic, no hang (each input runs in a worker with a deadline), and every
//! diagnostic located at `file:line:column` with line and column ≥ 1, on one line, and short.
//! [`MIN_FIXED_INPUTS`] inputs come from a fixed seed, then more until [`TIME_BOX`] has passed
//! (so a slow machine still runs the minimum, and a fast one is not held longer); then
//! [`RANDOM_INPUTS`] from a random seed that is printed. To replay one:
//! `KUBEPROOF_FUZZ_SEED=<seed> cargo test --test fuzz -- --nocapture`.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kubeproof::scenario::{Diagnostic, FileAccess, Scenario, lint, recover};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod common;
use common::{TempDir, billion_laughs, malformed};

/// The fixed seed every run starts from, so that CI runs are comparable.
const FIXED_SEED: u64 = 0x6b75_6265_7072_6f6f;
/// Inputs the fixed seed must produce in every run.
const MIN_FIXED_INPUTS: usize = 1000;
/// Fixed-seed inputs stop once this many are done or the time box is used up.
const MAX_FIXED_INPUTS: usize = 4000;
/// Past the minimum, generation stops after this long.
const TIME_BOX: Duration = Duration::from_secs(20);
/// Inputs from a fresh random seed, after the fixed ones.
const RANDOM_INPUTS: usize = 50;
/// Failing inputs written out, and findings listed, at most.
const KEPT_FINDINGS: usize = 20;
/// One input may take this long (a debug build parses a 4 MiB file in well under a second).
const PER_INPUT_DEADLINE: Duration = Duration::from_secs(10);

/// What happened to the inputs of one run.
#[derive(Debug, Default)]
struct Tally {
    tried: usize,
    /// Refused while reading or parsing.
    refused: usize,
    /// Parsed, and lint found problems.
    lint_errors: usize,
    /// Parsed and linted clean.
    accepted: usize,
    /// Everything wrong, one line per finding, with what replays it.
    findings: Vec<String>,
}

impl Tally {
    fn errors(&self) -> usize {
        self.refused + self.lint_errors
    }
}

/// A directory like scenarios/: the manifests the shipped scenarios apply, plus files that must
/// not be read (a FIFO, a device, a file outside the tree).
fn workspace() -> TempDir {
    let dir = std::env::temp_dir().join(format!("kubeproof-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let manifests = dir.join("scenarios/manifests");
    std::fs::create_dir_all(&manifests).expect("create the fuzz directory");
    for entry in std::fs::read_dir(repo().join("scenarios/manifests")).expect("scenarios/manifests") {
        let path = entry.expect("a manifest").path();
        std::fs::copy(&path, manifests.join(path.file_name().unwrap())).expect("copy a manifest");
    }
    let made = std::process::Command::new("mkfifo").arg(manifests.join("fifo.yaml")).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    std::os::unix::fs::symlink("/dev/zero", manifests.join("zero.yaml")).expect("symlink /dev/zero");
    std::fs::write(dir.join("outside.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: o}\n").expect("write");
    TempDir(dir)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seeds() -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).expect("read a scenario")).collect();
    assert!(seeds.len() >= 10, "only {} scenarios to mutate", seeds.len());
    seeds
}

// ---- inputs ----------------------------------------------------------------------------------

const HUGE_NUMBERS: &[&str] = &[
    "99999999999999999999999999999999",
    "18446744073709551616",
    "9223372036854775808",
    "-9223372036854775809",
    "1e309",
    "-1",
    "0x7fffffffffffffff",
    ".nan",
];

const HUGE_DURATIONS: &[&str] = &[
    "18446744073709551615s",
    "18446744073709551616s",
    "5124095576030431h",
    "99999999999999999999999h",
    "9223372036854775808s",
    "2562047h47m16s854775807ns",
    "0s",
    "1ns",
];

const ODD_YAML: &[&str] = &[
    "&a",
    "*a",
    "*nothing",
    "!!binary",
    "!!str",
    "!custom",
    "? ",
    "---",
    "...",
    "%YAML 1.2",
    "<<: *a",
    "\t",
    "|",
    ">-",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "#",
    "'",
    "\"",
    "\\",
    "\0",
    "\u{feff}",
    "\r",
    "${",
    "$${x}",
    "${namespace",
];

/// A lone byte, truncated sequences, a surrogate, a 5-byte form and an overlong slash.
const BAD_UTF8: &[&[u8]] = &[b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf"];

const ODD_FILES: &[&str] = &[
    "manifests/fifo.yaml",
    "manifests/zero.yaml",
    "../outside.yaml",
    "/dev/zero",
    "/etc/passwd",
    "manifests",
    "manifests/missing.yaml",
    "",
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn lines_of(text: &[u8]) -> Vec<Vec<u8>> {
    text.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

/// One mutation of `text`, and its name for the report.
fn mutate(rng: &mut StdRng, text: &mut Vec<u8>) -> &'static str {
    let mut lines = lines_of(text);
    let line = if lines.is_empty() { 0 } else { rng.gen_range(0..lines.len()) };
    let name = match rng.gen_range(0..17) {
        0 => {
            for _ in 0..rng.gen_range(1..8) {
                if !text.is_empty() {
                    let at = rng.gen_range(0..text.len());
                    text[at] = rng.r#gen();
                }
            }
            return "byte flips";
        }
        1 => {
            let at = rng.gen_range(0..=text.len());
            text.truncate(at);
            return "truncation";
        }
        2 if !lines.is_empty() => {
            let copy = lines[line].clone();
            for _ in 0..rng.gen_range(1..4) {
                lines.insert(line, copy.clone());
            }
            "duplicated line"
        }
        3 if !lines.is_empty() => {
            lines.remove(line);
            "deleted line"
        }
        4 if lines.len() > 1 => {
            let other = rng.gen_range(0..lines.len());
            lines.swap(line, other);
            "swapped lines"
        }
        5 => {
            replace_values(rng, &mut lines, |rng, _| pick(rng, HUGE_NUMBERS).to_string());
            "huge numbers"
        }
        6 => {
            let key = pick(rng, &["timeout", "for", "duration"]);
            let value = pick(rng, HUGE_DURATIONS);
            lines.insert(line.min(lines.len()), format!("      {key}: {value}\n").into_bytes());
            replace_keyed(&mut lines, &["timeout:", "for:", "duration:"], value);
            "huge durations"
        }
        7 => {
            let depth = *pick(rng, &[10usize, 63, 64, 65, 300, 5000, 100_000]);
            let (open, close) = *pick(rng, &[("[", "]"), ("{a: ", "}"), ("- ", "")]);
            let nested = if close.is_empty() {
                (0..depth.min(2000)).map(|i| format!("{}- \n", " ".repeat(i * 2))).collect()
            } else {
                format!("{}1{}", open.repeat(depth), close.repeat(depth))
            };
            lines.insert(line.min(lines.len()), format!("      manifest: {nested}\n").into_bytes());
            "deep nesting"
        }
        8 => {
            let bad = pick(rng, BAD_UTF8);
            let at = rng.gen_range(0..=text.len());
            text.splice(at..at, bad.iter().copied());
            return "invalid UTF-8";
        }
        9 if !lines.is_empty() => {
            let len = *pick(rng, &[200usize, 5_000, 100_000, 1_000_000]);
            let filler = *pick(rng, b"x [9\\");
            let at = rng.gen_range(0..lines[line].len().max(1));
            let at = at.min(lines[line].len());
            lines[line].splice(at..at, std::iter::repeat_n(filler, len));
            "long line"
        }
        10 => {
            let depth = rng.gen_range(3..12);
            let bomb = billion_laughs("", depth);
            match rng.gen_range(0..3) {
                0 => lines.insert(0, bomb.into_bytes()),
                1 => {
                    let steps = lines.iter().position(|l| l.starts_with(b"steps:")).unwrap_or(0);
                    let indented = billion_laughs("          ", depth);
                    let block = format!(
                        "  - apply:\n      manifest:\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {{name: bomb}}\n        data:\n{indented}"
                    );
                    lines.insert((steps + 1).min(lines.len()), block.into_bytes());
                }
                _ => {
                    let block = format!("sources: &s [{}]\nobserve: [{}]\n", "\"x\"", vec!["*s"; 60_000].join(","));
                    lines.insert(0, block.into_bytes());
                }
            }
            "alias bomb"
        }
        11 => {
            let path = match rng.gen_range(0..4) {
                0 => format!("${}", "[?(@".repeat(5000)),
                1 => format!("$[?{}@.a{}]", "(".repeat(rng.gen_range(1..60)), ")".repeat(rng.gen_range(1..60))),
                2 => format!("$.a{}", "[?@.b".repeat(rng.gen_range(1..200))),
                _ => format!("${}", "..a".repeat(5000)),
            };
            let path = format!("\"{path}\"");
            if !replace_keyed(&mut lines, &["path:"], &path) {
                lines.push(
                    format!("  - get: {{kind: Pod, expect: [{{path: {path}, exists: true}}], capture: {{x: {path}}}}}\n").into_bytes(),
                );
            }
            "deep JSONPath"
        }
        12 if !lines.is_empty() => {
            let token = pick(rng, ODD_YAML);
            let at = rng.gen_range(0..=lines[line].len());
            lines[line].splice(at..at, token.bytes());
            "odd YAML token"
        }
        13 => {
            let file = pick(rng, ODD_FILES);
            lines.push(format!("  - apply: {{file: \"{file}\"}}\n").into_bytes());
            "odd manifest file"
        }
        14 => {
            let at = rng.gen_range(0..=text.len());
            let junk: Vec<u8> = (0..rng.gen_range(1..64)).map(|_| rng.r#gen()).collect();
            text.splice(at..at, junk);
            return "random bytes";
        }
        15 => {
            // Indentation changed: structure moves between levels.
            if let Some(l) = lines.get_mut(line) {
                if rng.r#gen() {
                    l.splice(0..0, *b"  ");
                } else if l.starts_with(b"  ") {
                    l.drain(0..2);
                }
            }
            "indentation"
        }
        _ => {
            let key = pick(rng, &["name", "description", "versions", "steps", "observe", "requires", "sources"]);
            let value = pick(rng, &["~", "[]", "{}", "\"\"", "5", "[1, 2]", "{a: b}", "\">=1.x\"", "*a", "!!binary aGk="]);
            replace_keyed(&mut lines, &[&format!("{key}:")], value);
            "replaced value"
        }
    };
    *text = lines.concat();
    name
}

/// Replaces the value after the first key found among `keys`; whether one was.
fn replace_keyed(lines: &mut [Vec<u8>], keys: &[&str], value: &str) -> bool {
    for line in lines.iter_mut() {
        let text = String::from_utf8_lossy(line).into_owned();
        for key in keys {
            if let Some(at) = text.find(key) {
                let end = text[at..].find([',', '}', '\n']).map_or(text.len(), |e| at + e);
                *line = format!("{}{key} {value}{}", &text[..at], &text[end..]).into_bytes();
                return true;
            }
        }
    }
    false
}

/// Replaces a few numbers in the text.
fn replace_values(rng: &mut StdRng, lines: &mut [Vec<u8>], value: impl Fn(&mut StdRng, &str) -> String) {
    for line in lines.iter_mut() {
        let text = String::from_utf8_lossy(line).into_owned();
        if let Some(start) = text.find(|c: char| c.is_ascii_digit())
            && rng.gen_range(0..3) == 0
        {
            let end = text[start..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |e| start + e);
            let v = value(rng, &text[start..end]);
            *line = format!("{}{v}{}", &text[..start], &text[end..]).into_bytes();
        }
    }
}

/// A scenario written from scratch out of step templates and odd values.
fn generate(rng: &mut StdRng) -> Vec<u8> {
    let value = |rng: &mut StdRng| -> String {
        let pool = [
            "sa",
            "${namespace}",
            "${nope}",
            "\"\"",
            "~",
            "[]",
            "{}",
            "0",
            "-1",
            "10x",
            "1h",
            "99999999999h",
            "admin",
            "\"$.status\"",
            "\"$[\"",
            "*a",
            "&a x",
            "\"\\xff\"",
            "|\n  block\n",
            "[a, [b, [c]]]",
        ];
        let mut v = pick(rng, &pool).to_string();
        if rng.gen_range(0..10) == 0 {
            v = HUGE_NUMBERS[rng.gen_range(0..HUGE_NUMBERS.len())].to_string();
        }
        v
    };
    let mut out = String::from("description: generated\n");
    if rng.r#gen() {
        out.push_str(&format!("versions: \"{}\"\n", pick(rng, &[">=1.24", "<1.24", ">=1.x", "1.24 <1.30", "*"])));
    }
    if rng.r#gen() {
        out.push_str(&format!("observe: \"${{{}}}\"\n", pick(rng, &["x", "namespace", "nope"])));
    }
    out.push_str("steps:\n");
    for _ in 0..rng.gen_range(0..12) {
        let step = match rng.gen_range(0..13) {
            0 => format!("  - service-account: {}\n", value(rng)),
            1 => format!("  - token: {{service-account: {}, duration: {}, save: {}}}\n", value(rng), pick(rng, HUGE_DURATIONS), value(rng)),
            2 => format!("  - secret-token: {{secret: {}, save: {}}}\n", value(rng), value(rng)),
            3 => format!(
                "  - call: {{as: {}, path: {}, status: {}, timeout: {}}}\n",
                value(rng),
                value(rng),
                value(rng),
                pick(rng, HUGE_DURATIONS)
            ),
            4 => format!("  - jwt: {{token: {}, expect: [{{path: {}, exists: true}}]}}\n", value(rng), value(rng)),
            5 => format!("  - compare-tokens: {{a: {}, b: {}, same: {}}}\n", value(rng), value(rng), value(rng)),
            6 => format!("  - get: {{kind: {}, name: {}, capture: {{x: {}}}}}\n", value(rng), value(rng), value(rng)),
            7 => format!("  - wait: {{kind: Secret, expect: [{{path: {}, matches: {}}}]}}\n", value(rng), value(rng)),
            8 => format!("  - absent: {{kind: Secret, name: {}, for: {}}}\n", value(rng), pick(rng, HUGE_DURATIONS)),
            9 => format!("  - unchanged: {{kind: Secret, name: {}, for: {}}}\n", value(rng), pick(rng, HUGE_DURATIONS)),
            10 => format!("  - kubectl: {{args: [{}], exit: {}}}\n", value(rng), value(rng)),
            11 => format!("  - apply: {{file: \"{}\"}}\n", pick(rng, ODD_FILES)),
            _ => format!("  - apply: {{manifest: {{apiVersion: v1, kind: {}, metadata: {{name: {}}}}}}}\n", value(rng), value(rng)),
        };
        out.push_str(&step);
    }
    out.into_bytes()
}

/// The next input: mostly mutated shipped scenarios (one to three mutations), some generated.
fn next_input(rng: &mut StdRng, seeds: &[Vec<u8>]) -> (Vec<u8>, String) {
    if rng.gen_range(0..8) == 0 {
        return (generate(rng), "generated".into());
    }
    let index = rng.gen_range(0..seeds.len());
    let mut text = seeds[index].clone();
    let names: Vec<&str> = (0..rng.gen_range(1..4)).map(|_| mutate(rng, &mut text)).collect();
    (text, format!("seed #{index}: {}", names.join(", ")))
}

// ---- running ---------------------------------------------------------------------------------

/// What loading and linting one input gave.
enum Outcome {
    Refused(Vec<Diagnostic>),
    Linted(Vec<Diagnostic>),
}

/// Loads and lints one file in a worker; `Err` says what went wrong (a panic or a hang).
fn load_and_lint(path: &Path, access: &FileAccess) -> Result<Outcome, String> {
    let (tx, rx) = mpsc::channel();
    let (path, access) = (path.to_path_buf(), access.clone());
    std::thread::spawn(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(|| match Scenario::load_in(&path, &access) {
            Err(d) => Outcome::Refused(d),
            Ok(s) => Outcome::Linted(lint::lint(&s)),
        }));
        let _ = tx.send(result.map_err(|e| {
            let what = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            format!("panicked: {}", what.unwrap_or_default())
        }));
    });
    match rx.recv_timeout(PER_INPUT_DEADLINE) {
        Ok(result) => result,
        // The worker is left behind: a hang is the finding.
        Err(_) => Err(format!("took more than {PER_INPUT_DEADLINE:?}: a hang")),
    }
}

/// Runs inputs from `seed`: at least `min`, then more until `max` are done or `until` (if any)
/// has passed.
fn run(seed: u64, (min, max): (usize, usize), until: Option<Instant>, dir: &Path, seeds: &[Vec<u8>]) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let access = FileAccess::under(dir, false);
    let path = dir.join("input.yaml");
    while tally.tried < min || (tally.tried < max && until.is_none_or(|t| Instant::now() < t)) {
        let (bytes, how) = next_input(&mut rng, seeds);
        std::fs::write(&path, &bytes).expect("write the input");
        let input = tally.tried;
        tally.tried += 1;
        let mut problems = Vec::new();
        match load_and_lint(&path, &access) {
            Err(what) => problems.push(what),
            Ok(Outcome::Refused(found)) => {
                tally.refused += 1;
                if found.is_empty() {
                    problems.push("refused without a diagnostic".into());
                }
                if found.len() > recover::MAX_DIAGNOSTICS + 1 {
                    problems.push(format!("{} diagnostics, more than the bound", found.len()));
                }
                for d in &found {
                    problems.extend(malformed(d, &path).into_iter().map(|what| format!("{what}: {}", excerpt(&d.to_string()))));
                }
            }
            Ok(Outcome::Linted(diags)) => {
                if diags.is_empty() {
                    tally.accepted += 1;
                } else {
                    tally.lint_errors += 1;
                }
                for d in &diags {
                    problems.extend(malformed(d, &path).into_iter().map(|what| format!("{what}: {}", excerpt(&d.to_string()))));
                }
            }
        }
        for what in problems {
            // The first few failing inputs are kept (the workspace is deleted), to look at by hand.
            let kept = if tally.findings.len() < KEPT_FINDINGS {
                let keep = std::env::temp_dir().join(format!("kubeproof-fuzz-finding-{seed}-{input}.yaml"));
                let _ = std::fs::write(&keep, &bytes);
                format!("; the input is in {}", keep.display())
            } else {
                String::new()
            };
            tally.findings.push(format!("seed {seed} input {input} ({how}): {what}{kept}"));
        }
    }
    tally
}

fn excerpt(s: &str) -> String {
    let cut: String = s.chars().take(300).collect();
    if cut.len() < s.len() { format!("{cut}…") } else { cut }
}

#[test]
fn loader_and_linter_survive_mutated_and_generated_scenarios() {
    let workspace = workspace();
    let dir = workspace.0.join("scenarios");
    let seeds = seeds();
    let started = Instant::now();

    let fixed = run(FIXED_SEED, (MIN_FIXED_INPUTS, MAX_FIXED_INPUTS), Some(started + TIME_BOX), &dir, &seeds);
    let fixed_time = started.elapsed();
    let random_seed = std::env::var("KUBEPROOF_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| rand::thread_rng().r#gen());
    println!("fuzz: random seed {random_seed} (replay: KUBEPROOF_FUZZ_SEED={random_seed} cargo test --test fuzz -- --nocapture)");
    let random = run(random_seed, (RANDOM_INPUTS, RANDOM_INPUTS), None, &dir, &seeds);

    for (name, t) in [("fixed seed", &fixed), ("random seed", &random)] {
        println!(
            "fuzz: {name}: {} inputs tried, {} errors ({} refused by the loader, {} with lint problems), {} accepted clean, {} findings",
            t.tried,
            t.errors(),
            t.refused,
            t.lint_errors,
            t.accepted,
            t.findings.len()
        );
    }
    println!("fuzz: fixed-seed inputs took {:.1} s; total {:.1} s", fixed_time.as_secs_f64(), started.elapsed().as_secs_f64());

    let findings: Vec<&String> = fixed.findings.iter().chain(&random.findings).collect();
    let listed: Vec<String> = findings.iter().take(KEPT_FINDINGS).map(|f| format!("  {f}")).collect();
    assert!(findings.is_empty(), "{} finding(s), the first {}:\n{}", findings.len(), listed.len(), listed.join("\n"));
    assert!(fixed.tried >= MIN_FIXED_INPUTS, "only {} fixed-seed inputs", fixed.tried);
    assert_eq!(random.tried, RANDOM_INPUTS);
    // A fuzzer that only ever produces errors (or only clean files) is not exploring.
    assert!(fixed.accepted + fixed.lint_errors > 0, "nothing parsed: the mutations are too destructive");
    assert!(fixed.refused > 0, "nothing was refused: the mutations are too gentle");
}

/// A billion-laughs file is refused by the YAML budget, quickly, with a located message in the
/// author's words — not expanded.
#[test]
fn alias_bombs_are_refused_not_expanded() {
    let bomb = format!(
        "description: d\nsteps:\n  - apply:\n      manifest:\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {{name: bomb}}\n        data:\n{}",
        billion_laughs("          ", 12)
    );
    let started = Instant::now();
    let refused = Scenario::parse(Path::new("bomb.yaml"), &bomb).expect_err("9^12 values must not be built");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(refused.len(), 1, "{refused:?}");
    let refused = &refused[0];
    assert!(refused.message.contains("kubeproof's limit"), "{refused}");
    assert!(refused.message.contains("aliases"), "{refused}");
    assert!(refused.pos.line > 8, "{refused}");
}

/// The mutations are deterministic: the same seed gives the same inputs (replays work).
#[test]
fn a_seed_replays_the_same_inputs() {
    let seeds = seeds();
    let take = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..50).map(|_| next_input(&mut rng, &seeds)).collect::<Vec<_>>()
    };
    assert_eq!(take(7), take(7));
    assert_ne!(take(7), take(8));
}
