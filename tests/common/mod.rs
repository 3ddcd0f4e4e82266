//! What the bad-input table and the fuzz test both need: what every diagnostic must be, hostile
//! YAML, and temporary directories.

use std::path::{Path, PathBuf};

use kubeproof::scenario::Diagnostic;

/// The longest message a user should get, whatever the input quoted.
pub const MAX_MESSAGE_CHARS: usize = 1200;

/// What no message should show a scenario author: Rust types, library entry points and options.
pub const LEAKS: &[&str] = &["Option<", "from_str", "DuplicateKeyPolicy", "Options", "budget breached"];

/// Everything wrong with a diagnostic about the file `path`, whatever the input: it must point
/// into the file (line and column from 1), say something, on one short line, in the author's words.
pub fn malformed(d: &Diagnostic, path: &Path) -> Vec<String> {
    let mut wrong = Vec::new();
    if d.pos.line == 0 || d.pos.column == 0 {
        wrong.push(format!("position is {}:{}, not a real place in the file", d.pos.line, d.pos.column));
    }
    if d.pos.file != path {
        wrong.push(format!("file is {}, wanted {}", d.pos.file.display(), path.display()));
    }
    if d.message.trim().is_empty() {
        wrong.push("message is empty".into());
    }
    if d.message.contains('\n') {
        wrong.push("message spans several lines; `file:line:column: message` should be one line".into());
    }
    let chars = d.message.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        wrong.push(format!("message is {chars} characters; it should quote an excerpt"));
    }
    for leak in LEAKS {
        if d.message.contains(leak) {
            wrong.push(format!("message leaks library internals (`{leak}`)"));
        }
    }
    let rendered = d.to_string();
    let prefix = format!("{}:{}:{}: ", path.display(), d.pos.line, d.pos.column);
    if !rendered.starts_with(&prefix) {
        let shown: String = rendered.chars().take(200).collect();
        wrong.push(format!("renders as `{shown}`, not `{prefix}…`"));
    }
    wrong
}

/// `a: &a [x × 9]`, `b: [*a × 9]`, … : 9^depth strings once expanded (depth 2 to 26).
pub fn billion_laughs(indent: &str, depth: usize) -> String {
    let names: Vec<char> = ('a'..='z').take(depth.clamp(2, 26)).collect();
    let mut out = format!("{indent}{}: &{} [{}]\n", names[0], names[0], ["\"lol\""; 9].join(","));
    for w in names.windows(2) {
        out.push_str(&format!("{indent}{}: &{} [{}]\n", w[1], w[1], vec![format!("*{}", w[0]); 9].join(",")));
    }
    out
}

/// A directory deleted when dropped.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Release selection and a runtime, for the trials that start clusters (unused by the others).
#[allow(dead_code)]
pub mod release;
// Only the trials that start a node use it (not bad_input, fuzz).
#[allow(dead_code)]
pub mod node;
