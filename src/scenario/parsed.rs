//! Values parsed once, when a scenario is loaded: a JSONPath, a regex, an HTTP method, a bound
//! object's kind. The text is kept for messages; a value that does not parse keeps the reason,
//! which lint reports with the step's position. The run only reads the parsed value.

use std::fmt;

use serde::Deserialize;

/// A step's value that cannot be used: it does not parse as written (lint reports that before a
/// run), or a template's rendered text does not parse when the step runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// What a scenario string parses into.
pub trait FromText: Sized {
    /// The value, or why it is not one, in words for the scenario's author.
    fn from_text(text: &str) -> Result<Self, Invalid>;
}

/// A string as written and what it parsed into (or why it did not).
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub text: String,
    value: Result<T, Invalid>,
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
    pub fn get(&self) -> Result<&T, Invalid> {
        self.value.as_ref().map_err(Invalid::clone)
    }

    /// Why the text does not parse, if it does not.
    pub fn problem(&self) -> Option<&str> {
        self.value.as_ref().err().map(|e| e.0.as_str())
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

impl FromText for regex::Regex {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        regex::Regex::new(text).map_err(|e| {
            // The regex crate draws a caret under the pattern; one line is enough here.
            let why = e.to_string().lines().last().unwrap_or_default().trim_start_matches("error: ").to_string();
            Invalid(format!("`{}` is not a regular expression: {why}", super::source::excerpt(text)))
        })
    }
}

/// The methods `call` sends.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

impl FromText for http::Method {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        let upper = text.to_uppercase();
        match METHODS.contains(&upper.as_str()) {
            true => http::Method::from_bytes(upper.as_bytes()).map_err(|e| Invalid(e.to_string())),
            false => Err(Invalid(format!("method `{}` is not one of {}", super::source::excerpt(text), METHODS.join(", ")))),
        }
    }
}

/// A value written as itself, parsed at load as its type parses (a bad one is a parse error
/// at its place), or with `${…}` in it, parsed when the step runs from the rendered text:
/// `duration: ${d}` takes a case's value. Lint checks a template's value when it knows it (a
/// case's), see `StepLint::templated`.
#[derive(Debug, Clone)]
pub enum Templated<T> {
    Written(T),
    Template(String),
}

impl<T: FromText + Clone> Templated<T> {
    /// The value: as parsed at load, or the template rendered by `render` and parsed now.
    pub fn resolve<E: From<Invalid>>(&self, render: impl FnOnce(&str) -> Result<String, E>) -> Result<T, E> {
        match self {
            Templated::Written(value) => Ok(value.clone()),
            Templated::Template(text) => Ok(Self::parse_rendered(text, &render(text)?)?),
        }
    }

    /// A template's rendered text parsed, the error naming both.
    pub fn parse_rendered(template: &str, rendered: &str) -> Result<T, Invalid> {
        T::from_text(rendered).map_err(|e| Invalid(format!("`{template}` is `{}`: {e}", super::source::excerpt(rendered))))
    }
}

impl<T: fmt::Display> fmt::Display for Templated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Templated::Written(value) => value.fmt(f),
            Templated::Template(text) => f.write_str(text),
        }
    }
}

/// A string with `${…}` is a template; anything else is handed to `T`'s own parsing.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Templated<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{I64Deserializer, StrDeserializer, U64Deserializer};
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Templated<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a `${variable}`")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Templated<T>, E> {
                match super::template::references(s).is_empty() {
                    true => T::deserialize(StrDeserializer::<E>::new(s)).map(Templated::Written),
                    false => Ok(Templated::Template(s.to_string())),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Templated<T>, E> {
                T::deserialize(U64Deserializer::<E>::new(n)).map(Templated::Written)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Templated<T>, E> {
                T::deserialize(I64Deserializer::<E>::new(n)).map(Templated::Written)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Its own schema, or a string with `${…}` in it.
impl<T: schemars::JsonSchema> schemars::JsonSchema for Templated<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Templated{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let own = generator.subschema_for::<T>();
        schemars::json_schema!({
            "anyOf": [own, {"type": "string", "pattern": "\\$\\{[^}]+\\}", "description": "`${variable}`, e.g. a case's value, parsed when the step runs"}]
        })
    }
}

impl FromText for super::GoDuration {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        text.parse().map_err(|e: super::duration::DurationError| Invalid(e.to_string()))
    }
}

/// An HTTP status code a step expects, 100 to 599.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus(pub u16);

impl FromText for HttpStatus {
    fn from_text(text: &str) -> Result<Self, Invalid> {
        match text.trim().parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok(HttpStatus(code)),
            _ => Err(Invalid(format!(
                "`status: {}` is not an HTTP status: between 100 and 599 (201, 404, 422 …)",
                super::source::excerpt(text)
            ))),
        }
    }
}

impl fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for HttpStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = HttpStatus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status such as 201, 404 or 422")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<HttpStatus, E> {
                HttpStatus::from_text(&n.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<HttpStatus, E> {
                HttpStatus::from_text(&n.to_string()).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<HttpStatus, E> {
                HttpStatus::from_text(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for HttpStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HttpStatus".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "integer", "minimum": 100, "maximum": 599})
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

    #[test]
    fn a_template_is_parsed_when_rendered() {
        use crate::scenario::GoDuration;
        let parse = |yaml: &str| serde_saphyr::from_str::<Templated<GoDuration>>(yaml);
        let written = parse("600s").unwrap();
        assert!(matches!(written, Templated::Written(_)));
        let render_nothing = |_: &str| -> Result<String, Invalid> { Err(Invalid("not rendered".into())) };
        assert_eq!(written.resolve(render_nothing).unwrap().0.as_secs(), 600);
        assert!(parse("10").unwrap_err().to_string().contains("write 10s"), "a bad literal is a parse error, in the type's words");
        let template = parse("'${d}'").unwrap();
        assert_eq!(template.to_string(), "${d}");
        assert_eq!(template.resolve(|_| Ok::<_, Invalid>("599s".into())).unwrap().0.as_secs(), 599);
        let Invalid(bad) = template.resolve(|_| Ok::<_, Invalid>("599".into())).unwrap_err();
        assert!(bad.starts_with("`${d}` is `599`: ") && bad.contains("no unit"), "{bad}");
        let status = serde_saphyr::from_str::<Templated<HttpStatus>>("42").unwrap_err().to_string();
        assert!(status.contains("between 100 and 599"), "{status}");
        assert!(matches!(serde_saphyr::from_str::<Templated<HttpStatus>>("422").unwrap(), Templated::Written(HttpStatus(422))));
    }
}
