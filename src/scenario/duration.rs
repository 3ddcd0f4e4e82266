//! Go-style durations (`30s`, `1h30m`, `4294967297s`), as kubectl's `--duration` takes them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration written the way Kubernetes flags write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a duration: {why} (write e.g. 0s, 30s, 10m, 1h30m, 4294967296s)")]
pub struct DurationError {
    pub input: String,
    pub why: &'static str,
}

impl GoDuration {
    pub fn as_duration(&self) -> Duration {
        self.0
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        // The input is quoted in the message: an excerpt, however long it is.
        let fail = |why| DurationError { input: super::source::excerpt(input), why };
        let s = input.trim();
        if s.is_empty() {
            return Err(fail("it is empty"));
        }
        if s.starts_with('-') {
            return Err(fail("it is negative"));
        }
        if s == "0" {
            return Ok(Self(Duration::ZERO));
        }
        let mut rest = s;
        let mut total_ns: u128 = 0;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(fail("expected a number"));
            }
            // Checked all the way: a number, a product or a sum too large is an error, not a wrap.
            let n: u128 = rest[..digits].parse().map_err(|_| fail("it is too long"))?;
            rest = &rest[digits..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let ns_per_unit: u128 = match unit {
                "ns" => 1,
                "us" | "µs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "" => return Err(fail("a number has no unit")),
                _ => return Err(fail("unknown unit (use ns, us, ms, s, m or h)")),
            };
            total_ns = n.checked_mul(ns_per_unit).and_then(|v| total_ns.checked_add(v)).ok_or_else(|| fail("it is too long"))?;
        }
        let secs = u64::try_from(total_ns / 1_000_000_000).map_err(|_| fail("it is too long"))?;
        Ok(Self(Duration::new(secs, (total_ns % 1_000_000_000) as u32)))
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 { write!(f, "{}s", d.as_secs()) } else { write!(f, "{}ms", d.as_millis()) }
    }
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 30s, 10m or 1h")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<GoDuration, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<GoDuration, E> {
                if n == 0 { Ok(GoDuration(Duration::ZERO)) } else { Err(E::custom(format!("`{n}` has no unit: write {n}s"))) }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<GoDuration, E> {
                if n < 0 { Err(E::custom(format!("`{n}` is not a duration: it is negative"))) } else { self.visit_u64(n as u64) }
            }
        }
        d.deserialize_any(V)
    }
}

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl schemars::JsonSchema for GoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(ns|us|µs|ms|s|m|h))+$|^0$",
            "description": "A Go-style duration, as kubectl's --duration: 0s, 30s, 10m, 1h30m, 4294967296s.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> u64 {
        s.parse::<GoDuration>().unwrap().0.as_secs()
    }

    #[test]
    fn reads_kubectl_durations() {
        assert_eq!(secs("0s"), 0);
        assert_eq!(secs("0"), 0);
        assert_eq!(secs("1h"), 3600);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("4294967297s"), 4_294_967_297);
        assert_eq!("1500ms".parse::<GoDuration>().unwrap().0, Duration::from_millis(1500));
    }

    #[test]
    fn rejects_what_kubectl_rejects() {
        for bad in ["", "-1s", "10", "1x", "s", "1h-3m", "99999999999999999999999h"] {
            assert!(bad.parse::<GoDuration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn extremes_are_errors_not_overflows() {
        assert_eq!(secs("18446744073709551615s"), u64::MAX);
        for huge in ["18446744073709551616s", "5124095576030432h", "1h18446744073709551615s", "340282366920938463463374607431768211456ns"] {
            let e = huge.parse::<GoDuration>().unwrap_err();
            assert_eq!(e.why, "it is too long", "{huge}");
        }
        let digits = format!("{}s", "9".repeat(100_000));
        let e = digits.parse::<GoDuration>().unwrap_err().to_string();
        assert!(e.len() < 400, "the message quotes an excerpt, not {} bytes", e.len());
    }
}
