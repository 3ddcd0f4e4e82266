//! JSONPath as kubeproof accepts it: bounded in length and nesting before the parser sees it.

use serde_json_path::JsonPath;

use super::parsed::{FromText, Invalid};
use super::source::excerpt;

/// The longest JSONPath compiled (real ones are under 100 characters; a filter on a 253-character
/// name still fits).
pub const MAX_PATH_CHARS: usize = 500;

/// The deepest nesting of brackets and parentheses in a JSONPath (real ones need 3 or 4). The
/// parser recurses once per level — a few thousand overflow the stack — and backtracks: its
/// time doubles with each level (31 levels took minutes). At 6, the worst 500-character path
/// found compiles in milliseconds.
pub const MAX_PATH_NESTING: usize = 6;

/// Compiles a JSONPath after bounding its length and nesting; every path kubeproof evaluates
/// (assertions, captures) goes through here. The message names the path and the limit.
pub fn compile_path(text: &str) -> Result<JsonPath, Invalid> {
    let quoted = excerpt(text);
    let chars = text.chars().count();
    if chars > MAX_PATH_CHARS {
        return Err(Invalid(format!(
            "`{quoted}` is not a JSONPath kubeproof accepts: it is {chars} characters long; the limit is {MAX_PATH_CHARS}"
        )));
    }
    let depth = nesting(text);
    if depth > MAX_PATH_NESTING {
        return Err(Invalid(format!(
            "`{quoted}` is not a JSONPath kubeproof accepts: brackets and parentheses nest {depth} deep; the limit is {MAX_PATH_NESTING}"
        )));
    }
    JsonPath::parse(text).map_err(|e| Invalid(format!("`{quoted}` is not a JSONPath: {}", excerpt(&e.to_string()))))
}

/// A path written in a scenario is parsed at load through [`compile_path`].
impl FromText for JsonPath {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        compile_path(text)
    }
}

/// The deepest `[`/`(` nesting outside string literals; unbalanced closers count as nothing.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ']' | ')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_or_long_paths_are_refused_before_parsing() {
        // Compiled on a small stack: a path that reached the parser would overflow it.
        let refused = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep_filter = format!("$.a{}", "[?@.b".repeat(5000));
                let deep_parens = format!("$[?{}@.a{}]", "(".repeat(100), ")".repeat(100));
                let long = format!("$.{}", "a".repeat(MAX_PATH_CHARS));
                [deep_filter, deep_parens, long].map(|p| compile_path(&p).unwrap_err().0)
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(refused[0].contains("25003 characters long; the limit is 500"), "{}", refused[0]);
        assert!(refused[1].contains("nest 101 deep; the limit is 6"), "{}", refused[1]);
        assert!(refused[2].contains("characters long; the limit is 500"), "{}", refused[2]);
        assert!(refused.iter().all(|m| m.len() < 400), "messages quote an excerpt only");
    }

    #[test]
    fn nesting_counts_brackets_outside_strings() {
        assert_eq!(nesting("$.a"), 0);
        assert_eq!(nesting("$[?@.a[0] == 'x']"), 2);
        assert_eq!(nesting("$['(((([[[']"), 1);
        assert_eq!(nesting(r"$['a\'((((']"), 1);
        assert_eq!(nesting("$]]]]["), 1);
        let at_limit = format!("$[?{}@.a{}]", "(".repeat(MAX_PATH_NESTING - 1), ")".repeat(MAX_PATH_NESTING - 1));
        assert!(compile_path(&at_limit).is_ok(), "{:?}", compile_path(&at_limit).err());
    }

    /// The parser backtracks exponentially in the nesting: the worst paths found within the
    /// limits (nested filters, unclosed or repeated to the length limit) must stay fast.
    #[test]
    fn paths_within_the_limits_compile_quickly() {
        let patterns = ["[?@.b", "[?(@.b", "[?!(@.b", "[?length(@.b", "[?count(@[?@.b", "[?value(@.b", "[?@.b==1||("];
        let mut slowest = (std::time::Duration::ZERO, String::new());
        for pattern in patterns {
            let mut open = "$.a".to_string();
            while nesting(&format!("{open}{pattern}")) <= MAX_PATH_NESTING {
                open.push_str(pattern);
            }
            let closers: String = open
                .chars()
                .rev()
                .filter_map(|c| match c {
                    '[' => Some(']'),
                    '(' => Some(')'),
                    _ => None,
                })
                .collect();
            let group = format!("{}{closers}", &open[3..]);
            let repeated = format!("$.a{}", group.repeat((MAX_PATH_CHARS - 3) / group.len()));
            for path in [open.clone(), format!("{open}{closers}"), repeated] {
                assert!(path.chars().count() <= MAX_PATH_CHARS && nesting(&path) <= MAX_PATH_NESTING, "{path}");
                let started = std::time::Instant::now();
                let _ = compile_path(&path);
                if started.elapsed() > slowest.0 {
                    slowest = (started.elapsed(), path);
                }
            }
        }
        // About 10 ms in a debug build; the margin is for a loaded CI machine.
        assert!(slowest.0 < std::time::Duration::from_secs(2), "{:?} for {}", slowest.0, slowest.1);
    }
}
