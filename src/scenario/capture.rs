//! Captures: values taken from a step's result into variables, with their JSON types.
//!
//! ```yaml
//! capture:
//!   uid: $.metadata.uid              # the one value selected, as it is (a string, a number …)
//!   tokens: {count: '$.items[*]'}    # how many values the path selects
//!   secrets: {length: $.secrets}     # the length of the array, object or string selected
//! ```

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use serde_json_path::JsonPath;

use super::assertion::{NoLength, brief, length};
use super::parsed::{Invalid, Parsed};

/// One capture: what to measure and where.
#[derive(Debug, Clone)]
pub struct Capture {
    pub measure: Measure,
    pub path: Parsed<JsonPath>,
}

/// What a capture takes from what its path selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The single value, with its JSON type.
    Value,
    /// How many values are selected.
    Count,
    /// The length of the single array, object or string selected (nothing or null: 0).
    Length,
}

impl Capture {
    /// The captured value from `doc`, or why there is none.
    pub fn take(&self, doc: &Value) -> Result<Value, CaptureError> {
        let path = || self.path.text.clone();
        let nodes = self.path.get().map_err(CaptureError::Path)?.query(doc).all();
        match self.measure {
            Measure::Count => Ok(Value::from(nodes.len())),
            Measure::Length => length(&nodes).map(Value::from).map_err(|seen| CaptureError::NoLength { path: path(), seen }),
            Measure::Value => match nodes.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(CaptureError::Nothing { path: path(), doc: brief(doc) }),
                many => Err(CaptureError::Several { path: path(), count: many.len() }),
            },
        }
    }
}

/// Why a capture took no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// The path does not parse (lint said so before the run).
    Path(Invalid),
    /// `length` of something that has none.
    NoLength { path: String, seen: NoLength },
    /// The path selects nothing in the document, shown in brief.
    Nothing { path: String, doc: String },
    /// The path selects several values where one was to be taken.
    Several { path: String, count: usize },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Path(Invalid(why)) => f.write_str(why),
            CaptureError::NoLength { path, seen } => write!(f, "`{path}` selects {seen}, which has no length"),
            CaptureError::Nothing { path, doc } => write!(f, "`{path}` selects nothing in {doc}"),
            CaptureError::Several { path, count } => write!(f, "`{path}` selects {count} values, not one"),
        }
    }
}

impl fmt::Display for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.measure {
            Measure::Value => write!(f, "{}", self.path),
            Measure::Count => write!(f, "count of {}", self.path),
            Measure::Length => write!(f, "length of {}", self.path),
        }
    }
}

impl<'de> Deserialize<'de> for Capture {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Capture;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSONPath, or a mapping with one of `count` or `length` and a JSONPath")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Capture, E> {
                Ok(Capture { measure: Measure::Value, path: Parsed::new(s) })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Capture, A::Error> {
                use serde::de::Error;
                let mut found: Option<Capture> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let measure = match key.as_str() {
                        "count" => Measure::Count,
                        "length" => Measure::Length,
                        other => return Err(A::Error::unknown_field(other, &["count", "length"])),
                    };
                    let path: String = map.next_value()?;
                    if found.is_some() {
                        return Err(A::Error::custom("a capture takes one of `count` or `length`, not both"));
                    }
                    found = Some(Capture { measure, path: Parsed::new(path) });
                }
                found.ok_or_else(|| A::Error::custom("a capture mapping needs `count` or `length`"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The schema: a JSONPath string, or `{count: …}` / `{length: …}`.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum CaptureSchema {
    /// The one value the JSONPath selects, with its JSON type.
    Value(String),
    /// How many values the JSONPath selects.
    Count { count: String },
    /// The length of the array, object or string the JSONPath selects.
    Length { length: String },
}

impl JsonSchema for Capture {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Capture".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        CaptureSchema::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn capture(yaml: &str) -> Result<Capture, serde_saphyr::Error> {
        serde_saphyr::from_str::<Capture>(yaml)
    }

    #[test]
    fn values_keep_their_types_and_counts_are_numbers() {
        let doc = json!({"spec": {"expirationSeconds": 3600}, "items": [1, 2, 3], "secrets": [], "name": "abc"});
        assert_eq!(capture("$.spec.expirationSeconds").unwrap().take(&doc).unwrap(), json!(3600));
        assert_eq!(capture("$.name").unwrap().take(&doc).unwrap(), json!("abc"));
        assert_eq!(capture("{count: '$.items[*]'}").unwrap().take(&doc).unwrap(), json!(3));
        assert_eq!(capture("{count: '$.nothing[*]'}").unwrap().take(&doc).unwrap(), json!(0));
        assert_eq!(capture("{length: $.secrets}").unwrap().take(&doc).unwrap(), json!(0));
        assert_eq!(capture("{length: $.name}").unwrap().take(&doc).unwrap(), json!(3));
        assert!(capture("{length: $.spec.expirationSeconds}").unwrap().take(&doc).unwrap_err().to_string().contains("has no length"));
        assert!(capture("$.nothing").unwrap().take(&doc).unwrap_err().to_string().contains("selects nothing"));
        assert!(capture("{sum: $.items}").unwrap_err().to_string().contains("count"));
        assert!(capture("{}").unwrap_err().to_string().contains("needs `count` or `length`"));
    }
}
