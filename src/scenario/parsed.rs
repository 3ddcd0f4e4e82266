//! Values parsed once, when a scenario is loaded: a JSONPath, a regex, an HTTP method, a bound
//! object's kind. The text is kept for messages; a value that does not parse keeps the reason,
//! which lint reports with the step's position. The run only reads the parsed value.

use std::fmt;

use serde::Deserialize;

/// What a scenario string parses into.
pub trait FromText: Sized {
    /// The value, or a message for the scenario's author.
    fn from_text(text: &str) -> Result<Self, String>;
}

/// A string as written and what it parsed into (or why it did not).
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub text: String,
    value: Result<T, String>,
}

impl<T: FromText> Parsed<T> {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let value = T::from_text(&text);
        Parsed { text, value }
    }
}

impl<T> Parsed<T> {
    /// The parsed value; the error was reported by lint, so a run only meets it if lint was
    /// skipped.
    pub fn get(&self) -> Result<&T, String> {
        self.value.as_ref().map_err(Clone::clone)
    }

    /// Why the text does not parse, if it does not.
    pub fn problem(&self) -> Option<&str> {
        self.value.as_ref().err().map(String::as_str)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<T: FromText> From<&str> for Parsed<T> {
    fn from(text: &str) -> Self {
        Parsed::new(text)
    }
}

impl<T: FromText> Default for Parsed<T> {
    fn default() -> Self {
        Parsed::new("")
    }
}

impl<T> fmt::Display for Parsed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de, T: FromText> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Parsed::new)
    }
}

/// As written (for schema defaults and reports).
impl<T> serde::Serialize for Parsed<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl FromText for serde_json_path::JsonPath {
    fn from_text(text: &str) -> Result<Self, String> {
        super::assertion::compile_path(text)
    }
}

impl FromText for regex::Regex {
    fn from_text(text: &str) -> Result<Self, String> {
        regex::Regex::new(text).map_err(|e| {
            // The regex crate draws a caret under the pattern; one line is enough here.
            let why = e.to_string().lines().last().unwrap_or_default().trim_start_matches("error: ").to_string();
            format!("`{}` is not a regular expression: {why}", super::source::excerpt(text))
        })
    }
}

/// The methods `call` sends.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

impl FromText for http::Method {
    fn from_text(text: &str) -> Result<Self, String> {
        let upper = text.to_uppercase();
        match METHODS.contains(&upper.as_str()) {
            true => http::Method::from_bytes(upper.as_bytes()).map_err(|e| e.to_string()),
            false => Err(format!("method `{}` is not one of {}", super::source::excerpt(text), METHODS.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_once_and_keeps_the_reason() {
        let m: Parsed<http::Method> = Parsed::new("patch");
        assert_eq!(m.get().unwrap(), http::Method::PATCH);
        assert_eq!(m.as_str(), "patch");
        let bad: Parsed<http::Method> = Parsed::new("FETCH");
        assert!(bad.problem().unwrap().contains("not one of GET"), "{:?}", bad.problem());
        let re: Parsed<regex::Regex> = Parsed::new("(");
        assert!(re.problem().unwrap().contains("not a regular expression"));
        let path: Parsed<serde_json_path::JsonPath> = Parsed::new("$.a[0]");
        assert!(path.get().is_ok() && path.problem().is_none());
    }
}
