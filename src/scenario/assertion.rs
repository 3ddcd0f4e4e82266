//! Assertions on a step's result: a JSONPath (RFC 9535) and what must hold for what it selects.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use serde_json_path::JsonPath;

use super::parsed::{Invalid, Parsed};
use super::source::Position;
use crate::version::VersionRange;

/// `{path: $.status.expirationSeconds, equals: 3600}`. Every check given must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Assertion {
    /// JSONPath into the step's result, e.g. `$.body.message` or `$.claims.aud[0]`. `${…}` is
    /// substituted before it is parsed (`$.rules[?@.apiGroups[0] == '${group}']`).
    #[schemars(with = "String")]
    pub path: Parsed<JsonPath>,
    /// The single selected value equals this (numbers compare by value; `null` is a value).
    #[serde(default, deserialize_with = "present")]
    pub equals: Option<Value>,
    /// The single selected value is anything but this (e.g. a name that must have changed).
    #[serde(default, deserialize_with = "present")]
    pub not_equals: Option<Value>,
    /// The selected string contains this text, or the selected array contains this element.
    #[serde(default)]
    pub contains: Option<Value>,
    /// The single selected string does not contain this text, or the selected array has no
    /// element equal to it (nothing selected fails: there is nothing to look into).
    #[serde(default)]
    pub not_contains: Option<Value>,
    /// The selected string matches this regular expression.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub matches: Option<Parsed<regex::Regex>>,
    /// The single selected string does not match this regular expression.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub not_matches: Option<Parsed<regex::Regex>>,
    /// Exactly this many nodes are selected (`$.data.*` counts keys; nothing selected is 0).
    #[serde(default)]
    #[schemars(with = "Option<NumberOrReference>")]
    pub count: Option<Value>,
    /// The selected array, object or string has this length (a missing value has length 0).
    #[serde(default)]
    #[schemars(with = "Option<NumberOrReference>")]
    pub length: Option<Value>,
    /// Whether anything is selected at all.
    #[serde(default)]
    pub exists: Option<bool>,
    /// The single selected number or RFC 3339 time is greater than this one (a number compared
    /// with a time counts Unix seconds, as a JWT's `exp` does).
    #[serde(default)]
    pub greater_than: Option<Value>,
    /// … less than this one.
    #[serde(default)]
    pub less_than: Option<Value>,
    /// … greater than or equal to this one.
    #[serde(default)]
    pub at_least: Option<Value>,
    /// … less than or equal to this one.
    #[serde(default)]
    pub at_most: Option<Value>,
    /// With `equals`: compare as numbers or times, equal within this much (seconds for times).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Only on these releases.
    #[serde(default)]
    pub versions: Option<VersionRange>,
}

/// A whole number, or `"${x}"` for a captured one.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum NumberOrReference {
    Number(u64),
    Reference(String),
}

/// `"${x}"`: a value only known when the step runs, checked then.
fn is_reference(v: &Value) -> bool {
    v.as_str().is_some_and(|s| super::template::sole_reference(s).is_some())
}

/// `count` or `length` as written or rendered: a whole number, or why it is not one.
fn whole_number(key: &str, v: &Value) -> Result<usize, Invalid> {
    v.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| Invalid(format!("`{key}` takes a whole number, not {}", brief(v))))
}

/// `equals: null` is a check for null, not a missing check.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// What went wrong with one assertion: what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    /// What the path selected: the whole value, redacted (messages show its first 300
    /// characters and say how much they left out).
    pub observed: String,
    /// Where the assertion is written; absent for the checks a step's shortcut fields
    /// (`status`, `exit`, `same`) stand for, which the step's own position locates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl Mismatch {
    /// A mismatch without a position of its own.
    pub fn new(path: impl Into<String>, expected: impl Into<String>, observed: impl Into<String>) -> Mismatch {
        Mismatch { path: path.into(), expected: expected.into(), observed: observed.into(), position: None }
    }

    /// The same mismatch, located at the assertion that found it.
    pub fn at(self, position: Option<Position>) -> Mismatch {
        Mismatch { position, ..self }
    }
}

/// Where a message that shortens a mismatch's value says the whole of it is.
pub const WHOLE_IN_REPORT: &str = "; the whole value is in the JSON report, `--json FILE`, at `mismatches[].observed`";

impl Mismatch {
    /// `expected` and `observed` as a message shows them: each at most [`SHOWN_CHARS`]
    /// characters, saying how much was cut and where the whole value is.
    pub fn shown(&self) -> (String, String) {
        (shorten(&self.expected, ""), shorten(&self.observed, WHOLE_IN_REPORT))
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (expected, observed) = self.shown();
        write!(f, "{}: expected {expected}, observed {observed}", self.path)
    }
}

impl Assertion {
    /// Checks that the path parsed and the regex compiled (both at load); the message is for the user.
    pub fn validate(&self) -> Result<(), Invalid> {
        // A path with `${…}` is parsed once substituted (lint, with a case's values; the run).
        if let Some(problem) = self.path.problem().filter(|_| !self.path_is_template()) {
            return Err(Invalid(problem.to_string()));
        }
        for re in [&self.matches, &self.not_matches] {
            if let Some(problem) = re.as_ref().and_then(Parsed::problem) {
                return Err(Invalid(problem.to_string()));
            }
        }
        let checks = [
            self.equals.is_some(),
            self.not_equals.is_some(),
            self.contains.is_some(),
            self.not_contains.is_some(),
            self.matches.is_some(),
            self.not_matches.is_some(),
            self.count.is_some(),
            self.length.is_some(),
            self.exists.is_some(),
            self.greater_than.is_some(),
            self.less_than.is_some(),
            self.at_least.is_some(),
            self.at_most.is_some(),
        ];
        if !checks.contains(&true) {
            return Err(Invalid(format!(
                "the assertion on `{}` checks nothing: give equals, not-equals, contains, not-contains, matches, not-matches, count, length, exists, greater-than, less-than, at-least or at-most",
                self.path
            )));
        }
        if self.exists == Some(false)
            && let Some(key) = self.one_value_checks().first()
        {
            return Err(Invalid(format!(
                "`exists: false` says `{}` selects nothing, but `{key}` needs the one value it selects: a check that holds when the value is missing is `count: 0`; give the two as separate assertions only if both may hold",
                self.path
            )));
        }
        for (key, n) in [("count", &self.count), ("length", &self.length)] {
            if let Some(n) = n.as_ref().filter(|n| !is_reference(n)) {
                whole_number(key, n)?;
            }
        }
        for (key, bound) in self.bounds() {
            if !is_reference(bound) && Quantity::of(bound).is_none() {
                return Err(Invalid(format!(
                    "`{key}: {}` is neither a number nor an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)",
                    super::source::excerpt(&bound.to_string())
                )));
            }
        }
        match self.tolerance {
            Some(_) if self.equals.is_none() => Err(Invalid("`tolerance` goes with `equals`: equal within that much".into())),
            Some(t) if !(t >= 0.0 && t.is_finite()) => Err(Invalid(format!("`tolerance: {t}` must be a number of at least 0"))),
            _ => Ok(()),
        }
    }

    /// The ordered comparisons given, by key.
    fn bounds(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        [("greater-than", &self.greater_than), ("less-than", &self.less_than), ("at-least", &self.at_least), ("at-most", &self.at_most)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }

    /// The checks given that compare the one selected value, by key.
    fn one_value_checks(&self) -> Vec<&'static str> {
        let given = [
            ("equals", self.equals.is_some()),
            ("not-equals", self.not_equals.is_some()),
            ("contains", self.contains.is_some()),
            ("not-contains", self.not_contains.is_some()),
            ("matches", self.matches.is_some()),
            ("not-matches", self.not_matches.is_some()),
        ];
        given.into_iter().filter(|(_, g)| *g).map(|(k, _)| k).chain(self.bounds().map(|(k, _)| k)).collect()
    }

    /// Whether the path has `${…}` in it, to be substituted before it is parsed.
    pub fn path_is_template(&self) -> bool {
        !super::template::references(self.path.as_str()).is_empty()
    }

    /// Takes `rendered`, the path with its `${…}` substituted (by lint with a case's values, by
    /// the run with all), parsed; one that is no JSONPath is an error naming the variables.
    pub fn with_rendered_path(&mut self, rendered: &str) -> Result<(), Invalid> {
        let parsed = Parsed::<JsonPath>::new(rendered);
        if let Some(problem) = parsed.problem() {
            let names: Vec<String> = super::template::references(self.path.as_str()).iter().map(|n| format!("`${{{n}}}`")).collect();
            return Err(Invalid(format!("path `{}` with {} substituted: {problem}", self.path, names.join(", "))));
        }
        self.path = parsed;
        Ok(())
    }

    /// The values compared with what the path selects, where `${…}` may be written: rendered
    /// before [`Assertion::check`], read by lint.
    pub fn expected_values_mut(&mut self) -> [&mut Option<Value>; 10] {
        [
            &mut self.count,
            &mut self.length,
            &mut self.equals,
            &mut self.not_equals,
            &mut self.contains,
            &mut self.not_contains,
            &mut self.greater_than,
            &mut self.less_than,
            &mut self.at_least,
            &mut self.at_most,
        ]
    }

    /// [`Assertion::expected_values_mut`], to read.
    pub fn expected_values(&self) -> [&Option<Value>; 10] {
        [
            &self.count,
            &self.length,
            &self.equals,
            &self.not_equals,
            &self.contains,
            &self.not_contains,
            &self.greater_than,
            &self.less_than,
            &self.at_least,
            &self.at_most,
        ]
    }

    /// Evaluates the assertion (with `${…}` already rendered) against a document.
    pub fn check(&self, doc: &Value) -> Result<(), Mismatch> {
        let mismatch = |expected: String, observed: String| Mismatch::new(self.path.as_str(), expected, observed);
        let path = self.path.get().map_err(|e| mismatch("a valid JSONPath".into(), e.0))?;
        let nodes: Vec<&Value> = path.query(doc).all();
        let single = || match nodes.as_slice() {
            [one] => Ok(*one),
            [] => Err(mismatch("one value".into(), "nothing".into())),
            many => Err(mismatch("one value".into(), format!("{} values", many.len()))),
        };
        if let Some(want) = self.exists
            && want == nodes.is_empty()
        {
            let seen = if nodes.is_empty() { "nothing".to_string() } else { whole(nodes[0]) };
            return Err(mismatch(if want { "a value".into() } else { "nothing".into() }, seen));
        }
        if let Some(want) = &self.count {
            let want = whole_number("count", want).map_err(|Invalid(e)| mismatch("a count".into(), e))?;
            if nodes.len() != want {
                return Err(mismatch(format!("{want} values"), format!("{} values", nodes.len())));
            }
        }
        if let Some(want) = &self.length {
            let want = whole_number("length", want).map_err(|Invalid(e)| mismatch("a length".into(), e))?;
            let len = length(&nodes).map_err(|seen| mismatch(format!("something with length {want}"), seen.to_string()))?;
            if len != want {
                return Err(mismatch(format!("length {want}"), format!("length {len}")));
            }
        }
        if let Some(want) = &self.equals {
            let got = single()?;
            let equal = match self.tolerance {
                None => json_equal(got, want),
                Some(t) => match (Quantity::of(got), Quantity::of(want)) {
                    (Some(g), Some(w)) => g.0.abs_diff(w.0) <= Quantity::from_f64(t).0.unsigned_abs(),
                    _ => false,
                },
            };
            if !equal {
                let expected = match self.tolerance {
                    Some(t) => format!("{} ± {t}", brief(want)),
                    None => whole(want),
                };
                return Err(mismatch(expected, whole(got)));
            }
        }
        for (key, bound) in self.bounds() {
            let got = single()?;
            let holds = match (Quantity::of(got), Quantity::of(bound)) {
                (Some(g), Some(b)) => match key {
                    "greater-than" => g > b,
                    "less-than" => g < b,
                    "at-least" => g >= b,
                    _ => g <= b,
                },
                (_, None) => return Err(mismatch(format!("a number or RFC 3339 time to compare with, not {}", brief(bound)), brief(got))),
                (None, _) => false,
            };
            if !holds {
                return Err(mismatch(format!("a value {} {}", key.replace('-', " "), brief(bound)), whole(got)));
            }
        }
        if let Some(unwanted) = &self.not_equals {
            let got = single()?;
            if json_equal(got, unwanted) {
                return Err(mismatch(format!("anything but {}", brief(unwanted)), whole(got)));
            }
        }
        if let Some(want) = &self.contains {
            let got = single()?;
            if contains(got, want) != Some(true) {
                return Err(mismatch(format!("something containing {}", brief(want)), whole(got)));
            }
        }
        if let Some(unwanted) = &self.not_contains {
            let got = single().map_err(|m| Mismatch { expected: format!("one value not containing {}", brief(unwanted)), ..m })?;
            match contains(got, unwanted) {
                Some(false) => {}
                Some(true) => return Err(mismatch(format!("something not containing {}", brief(unwanted)), found(got, unwanted))),
                None => return Err(mismatch(format!("a string or an array not containing {}", brief(unwanted)), whole(got))),
            }
        }
        if let Some(re) = &self.matches {
            let got = single()?;
            let regex = re.get().map_err(|e| mismatch("a valid regex".into(), e.0))?;
            match got {
                Value::String(s) if regex.is_match(s) => {}
                other => return Err(mismatch(format!("a string matching /{re}/"), whole(other))),
            }
        }
        if let Some(re) = &self.not_matches {
            let got = single().map_err(|m| Mismatch { expected: format!("one string not matching /{re}/"), ..m })?;
            let regex = re.get().map_err(|e| mismatch("a valid regex".into(), e.0))?;
            match got {
                Value::String(s) if !regex.is_match(s) => {}
                Value::String(s) => {
                    let at = regex.find(s).map(|m| (m.start(), m.end())).unwrap_or_default();
                    return Err(mismatch(format!("a string not matching /{re}/"), around(s, at)));
                }
                other => return Err(mismatch(format!("a string not matching /{re}/"), whole(other))),
            }
        }
        Ok(())
    }
}

/// The length of the one value selected: an array's items, an object's keys, a string's
/// characters; nothing selected (or null) has length 0. Otherwise what was seen instead.
pub fn length(nodes: &[&Value]) -> Result<usize, NoLength> {
    match nodes {
        [] | [Value::Null] => Ok(0),
        [Value::Array(a)] => Ok(a.len()),
        [Value::Object(o)] => Ok(o.len()),
        [Value::String(s)] => Ok(s.chars().count()),
        [other] => Err(NoLength::Value(whole(other))),
        many => Err(NoLength::Many(many.len())),
    }
}

/// What was selected instead of the one value that has a length, as a mismatch's observed side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoLength {
    /// One value that has none (a number, a boolean), whole.
    Value(String),
    /// Several values.
    Many(usize),
}

impl std::fmt::Display for NoLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoLength::Value(whole) => f.write_str(whole),
            NoLength::Many(n) => write!(f, "{n} values"),
        }
    }
}

/// A number or an RFC 3339 time on one scale, in billionths (of a second, for times), so that
/// integers compare exactly and a JWT's `exp` (Unix seconds) compares with a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Quantity(i128);

impl Quantity {
    const SCALE: i128 = 1_000_000_000;

    fn of(v: &Value) -> Option<Quantity> {
        match v {
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Some(Quantity(i as i128 * Self::SCALE)),
                (_, Some(u)) => Some(Quantity(u as i128 * Self::SCALE)),
                _ => n.as_f64().map(Self::from_f64),
            },
            Value::String(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| Quantity(t.unix_timestamp_nanos())),
            _ => None,
        }
    }

    fn from_f64(f: f64) -> Quantity {
        Quantity((f * Self::SCALE as f64) as i128)
    }
}

/// Whether a string holds a text or an array an element; `None` for anything else.
fn contains(got: &Value, want: &Value) -> Option<bool> {
    match (got, want) {
        (Value::String(s), Value::String(w)) => Some(s.contains(w.as_str())),
        (Value::String(_), _) => Some(false),
        (Value::Array(items), w) => Some(items.iter().any(|i| json_equal(i, w))),
        _ => None,
    }
}

/// What a negation found, where it is first and then the whole value: a long log shows the
/// offending line before a message cuts it.
fn found(got: &Value, unwanted: &Value) -> String {
    match (got, unwanted) {
        (Value::String(s), Value::String(w)) => match s.find(w.as_str()) {
            Some(start) => around(s, (start, start + w.len())),
            None => whole(got),
        },
        (Value::Array(items), w) => match items.iter().position(|i| json_equal(i, w)) {
            Some(index) => format!("element [{index}] is {}; the whole value: {}", brief(w), whole(got)),
            None => whole(got),
        },
        _ => whole(got),
    }
}

/// `s` with the bytes `start..end` found in it: up to 60 characters either side, then the whole.
fn around(s: &str, (start, end): (usize, usize)) -> String {
    let before: String = s[..start].chars().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
    let after: String = s[end..].chars().take(60).collect();
    let excerpt = whole(&Value::String(format!("{before}{}{after}", &s[start..end])));
    let at = s[..start].chars().count();
    format!("{excerpt} (at character {at}); the whole value: {}", whole(&Value::String(s.to_string())))
}

/// Equality where 3600 and 3600.0 are the same number.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w))),
        _ => a == b,
    }
}

/// The most characters of a value a message shows (the JSON report keeps the whole of an
/// observed value: [`whole`]).
pub const SHOWN_CHARS: usize = 300;

/// A value short enough for one line of a message.
pub fn brief(v: &Value) -> String {
    shorten(&whole(v), "")
}

/// A value whole, redacted: what a mismatch observed (step outputs are already bounded, 1 MiB
/// for a command's output or a log).
pub fn whole(v: &Value) -> String {
    // Redacted whole: a token cut in half would no longer be recognised.
    crate::redact::redact(&v.to_string())
}

/// `text` cut to [`SHOWN_CHARS`], saying how much was left out and, with `whole_at`, where
/// the whole of it is.
pub fn shorten(text: &str, whole_at: &str) -> String {
    let chars = text.chars().count();
    if chars <= SHOWN_CHARS {
        return text.to_string();
    }
    let cut: String = text.chars().take(SHOWN_CHARS).collect();
    format!("{cut}… ({} of {chars} characters not shown{whole_at})", chars - SHOWN_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn a(path: &str) -> Assertion {
        Assertion { path: Parsed::new(path), ..Default::default() }
    }

    #[test]
    fn equals_counts_and_lengths() {
        let doc = json!({"spec": {"expirationSeconds": 3600}, "data": {"a": 1, "b": 2, "c": 3}, "secrets": []});
        assert!(Assertion { equals: Some(json!(3600)), ..a("$.spec.expirationSeconds") }.check(&doc).is_ok());
        let miss = Assertion { equals: Some(json!(7200)), ..a("$.spec.expirationSeconds") }.check(&doc).unwrap_err();
        assert_eq!((miss.expected.as_str(), miss.observed.as_str()), ("7200", "3600"));
        assert!(Assertion { count: Some(json!(3)), ..a("$.data.*") }.check(&doc).is_ok());
        assert!(Assertion { count: Some(json!(0)), ..a("$.nothing[*]") }.check(&doc).is_ok());
        assert!(Assertion { length: Some(json!(0)), ..a("$.secrets") }.check(&doc).is_ok());
        assert!(Assertion { length: Some(json!(0)), ..a("$.absent") }.check(&doc).is_ok());
        assert!(Assertion { length: Some(json!(3)), ..a("$.data") }.check(&doc).is_ok());
        assert!(Assertion { exists: Some(false), ..a("$.spec.boundObjectRef") }.check(&doc).is_ok());
        assert!(Assertion { exists: Some(true), ..a("$.spec.boundObjectRef") }.check(&doc).is_err());
    }

    #[test]
    fn ordered_comparisons_of_numbers_and_times() {
        let doc = json!({"exp": 1700003600, "iat": 1700000000, "ts": "2023-11-14T23:13:20Z", "n": 2.5, "s": "x"});
        let cmp = |path: &str, f: fn(Assertion) -> Assertion| f(a(path)).check(&doc);
        assert!(cmp("$.exp", |a| Assertion { greater_than: Some(json!(1700000000)), ..a }).is_ok());
        assert!(cmp("$.exp", |a| Assertion { at_most: Some(json!(1700003600)), ..a }).is_ok());
        assert!(cmp("$.exp", |a| Assertion { less_than: Some(json!(1700003600)), ..a }).is_err());
        assert!(cmp("$.n", |a| Assertion { at_least: Some(json!(2)), less_than: Some(json!(3)), ..a }).is_ok());
        // 2023-11-14T23:13:20Z is 1700003600 Unix seconds: a time compares with a number.
        assert!(cmp("$.ts", |a| Assertion { equals: Some(json!(1700003600)), tolerance: Some(0.0), ..a }).is_ok());
        assert!(cmp("$.iat", |a| Assertion { equals: Some(json!("2023-11-14T23:13:20Z")), tolerance: Some(3600.0), ..a }).is_ok());
        assert!(cmp("$.iat", |a| Assertion { equals: Some(json!("2023-11-14T23:13:20Z")), tolerance: Some(3599.0), ..a }).is_err());
        assert!(cmp("$.ts", |a| Assertion { greater_than: Some(json!("2023-11-14T23:13:19.5Z")), ..a }).is_ok());
        let miss = cmp("$.s", |a| Assertion { at_least: Some(json!(1)), ..a }).unwrap_err();
        assert_eq!((miss.expected.as_str(), miss.observed.as_str()), ("a value at least 1", "\"x\""));
        assert!(Assertion { at_least: Some(json!("soon")), ..a("$.x") }.validate().unwrap_err().0.contains("RFC 3339"));
        assert!(Assertion { at_least: Some(json!("${t}")), ..a("$.x") }.validate().is_ok());
        assert!(
            Assertion { tolerance: Some(1.0), at_least: Some(json!(1)), ..a("$.x") }
                .validate()
                .unwrap_err()
                .0
                .contains("goes with `equals`")
        );
    }

    #[test]
    fn a_long_value_is_redacted_before_it_is_cut() {
        use base64::Engine;
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl", "eyJzdWIiOiJ4In0".repeat(30));
        crate::redact::remember(&token);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&token);
        let shown = brief(&json!({"data": {"token": encoded}}));
        assert!(!shown.contains(&encoded[..40]), "{shown}");
        assert!(shown.contains("<token sha256:"), "{shown}");
    }

    #[test]
    fn contains_and_matches() {
        let doc = json!({"message": "pods is forbidden: User", "aud": ["x", "y"]});
        assert!(Assertion { contains: Some(json!("forbidden")), ..a("$.message") }.check(&doc).is_ok());
        assert!(Assertion { contains: Some(json!("y")), ..a("$.aud") }.check(&doc).is_ok());
        assert!(Assertion { contains: Some(json!("z")), ..a("$.aud") }.check(&doc).is_err());
        assert!(Assertion { matches: Some("^pods is".into()), ..a("$.message") }.check(&doc).is_ok());
        assert!(Assertion { matches: Some("^nope".into()), ..a("$.message") }.check(&doc).is_err());
    }

    #[test]
    fn negations_fail_on_what_they_exclude_and_on_nothing() {
        let doc = json!({"message": "pods is forbidden: User", "aud": ["x", "y"], "n": 3});
        let check = |path: &str, f: fn(Assertion) -> Assertion| f(a(path)).check(&doc);
        assert!(check("$.message", |a| Assertion { not_contains: Some(json!("allowed")), ..a }).is_ok());
        assert!(check("$.aud", |a| Assertion { not_contains: Some(json!("z")), ..a }).is_ok());
        let miss = check("$.aud", |a| Assertion { not_contains: Some(json!("y")), ..a }).unwrap_err();
        assert_eq!(
            (miss.expected.as_str(), miss.observed.as_str()),
            (r#"something not containing "y""#, r#"element [1] is "y"; the whole value: ["x","y"]"#)
        );
        let miss = check("$.message", |a| Assertion { not_contains: Some(json!("forbidden")), ..a }).unwrap_err();
        assert_eq!(miss.expected, r#"something not containing "forbidden""#);
        assert!(miss.observed.starts_with(r#""pods is forbidden: User" (at character 8); the whole value: "#), "{}", miss.observed);
        let miss = check("$.n", |a| Assertion { not_contains: Some(json!(3)), ..a }).unwrap_err();
        assert_eq!(miss.expected, "a string or an array not containing 3", "a number contains nothing, nor lacks anything");
        // Nothing selected is no evidence of absence.
        let miss = check("$.missing", |a| Assertion { not_contains: Some(json!("x")), ..a }).unwrap_err();
        assert_eq!((miss.expected.as_str(), miss.observed.as_str()), (r#"one value not containing "x""#, "nothing"));
        assert!(check("$.message", |a| Assertion { not_matches: Some("^allowed".into()), ..a }).is_ok());
        let miss = check("$.message", |a| Assertion { not_matches: Some("User$".into()), ..a }).unwrap_err();
        assert_eq!(miss.expected, "a string not matching /User$/");
        assert!(miss.observed.starts_with(r#""pods is forbidden: User" (at character 19); the whole"#), "{}", miss.observed);
        // In a long value, the place comes first, within what a message shows.
        let log = format!("{}ERROR: disk full\n{}", "ok\n".repeat(500), "ok\n".repeat(500));
        let miss = Assertion { not_contains: Some(json!("ERROR")), ..a("$.log") }.check(&json!({"log": log})).unwrap_err();
        assert!(miss.to_string().contains(r#"ok\nERROR: disk full\nok"#), "{miss}");
        assert!(miss.observed.ends_with(&json!(log).to_string()), "the report keeps the whole value");
        let miss = check("$.missing", |a| Assertion { not_matches: Some("x".into()), ..a }).unwrap_err();
        assert_eq!((miss.expected.as_str(), miss.observed.as_str()), ("one string not matching /x/", "nothing"));
        assert!(check("$.n", |a| Assertion { not_matches: Some("x".into()), ..a }).is_err(), "a number is no string");
        assert!(Assertion { not_matches: Some("(".into()), ..a("$.x") }.validate().unwrap_err().0.contains("not a regular expression"));
        let Invalid(both) = Assertion { exists: Some(false), not_contains: Some(json!("x")), ..a("$.x") }.validate().unwrap_err();
        assert!(both.contains("`exists: false`") && both.contains("`not-contains`") && both.contains("count: 0"), "{both}");
    }

    #[test]
    fn a_path_takes_variables_before_it_is_parsed() {
        let doc = json!({"rules": [{"apiGroups": ["a.example.com"], "verbs": ["get"]}, {"apiGroups": [""], "verbs": ["list"]}]});
        let vars =
            crate::scenario::template::Vars::from([("group".to_string(), json!("a.example.com")), ("key".to_string(), json!("a b"))]);
        let render = |a: &mut Assertion| {
            let rendered = crate::scenario::template::render(a.path.as_str(), &vars).map_err(|e| Invalid(e.to_string()))?;
            a.with_rendered_path(&rendered)
        };
        let mut filter = Assertion { equals: Some(json!(["get"])), ..a("$.rules[?@.apiGroups[0] == '${group}'].verbs") };
        assert!(filter.validate().is_ok() && filter.path_is_template());
        render(&mut filter).unwrap();
        assert_eq!(filter.path.as_str(), "$.rules[?@.apiGroups[0] == 'a.example.com'].verbs");
        assert!(filter.check(&doc).is_ok());
        let miss = Assertion { equals: Some(json!(["list"])), ..filter.clone() }.check(&doc).unwrap_err();
        assert_eq!((miss.path.as_str(), miss.observed.as_str()), ("$.rules[?@.apiGroups[0] == 'a.example.com'].verbs", r#"["get"]"#));
        // Not a JSONPath as written, nor once substituted: the message names the variable.
        let mut broken = Assertion { exists: Some(true), ..a("$.data.${key}") };
        assert!(broken.validate().is_ok(), "parsed once substituted, not before");
        let Invalid(e) = render(&mut broken).unwrap_err();
        assert!(e.starts_with("path `$.data.${key}` with `${key}` substituted: `$.data.a b` is not a JSONPath"), "{e}");
        let Invalid(e) = render(&mut Assertion { exists: Some(true), ..a("$.data.${nope}") }).unwrap_err();
        assert!(e.contains("`${nope}` is not defined"), "{e}");
    }

    #[test]
    fn a_long_observed_value_is_kept_whole_and_shown_cut() {
        let log = "line of a long kubectl log\n".repeat(400);
        let miss = Assertion { contains: Some(json!("panic")), ..a("$.stdout") }.check(&json!({"stdout": log})).unwrap_err();
        assert_eq!(miss.observed, json!(log).to_string(), "the report keeps it whole");
        let shown = miss.to_string();
        let hidden = miss.observed.chars().count() - SHOWN_CHARS;
        assert!(shown.contains(&format!("… ({hidden} of {} characters not shown", miss.observed.chars().count())), "{shown}");
        assert!(shown.contains("--json FILE") && shown.contains("mismatches[].observed"), "{shown}");
        assert!(shown.len() < 600, "{}", shown.len());
        let short = Assertion { contains: Some(json!("panic")), ..a("$.s") }.check(&json!({"s": "ok"})).unwrap_err();
        assert_eq!(short.to_string(), r#"$.s: expected something containing "panic", observed "ok""#, "nothing cut, nothing said");
    }

    #[test]
    fn validation_catches_bad_paths_and_empty_checks() {
        assert!(a("$.x").validate().unwrap_err().0.contains("checks nothing"));
        assert!(Assertion { exists: Some(true), ..a("$[") }.validate().unwrap_err().0.contains("not a JSONPath"));
        assert!(Assertion { matches: Some("(".into()), ..a("$.x") }.validate().is_err());
    }
}
