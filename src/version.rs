//! Kubernetes versions as servers report them, and the version ranges scenarios are written in.
//!
//! Servers report all sorts of strings: `v1.30.9`, `v1.30.9-eks-a1b2c3`, `v1.29.3+k3s1`, and
//! managed clusters a minor of `"30+"`. Ranges are deliberately simpler than semver: a bound
//! without a patch compares major.minor only, so `<1.24` holds for 1.23.17 and `>=1.24` for
//! 1.24.0 — the way release notes talk about versions.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A Kubernetes release: `1.24.17`. Vendor suffixes are dropped on parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubeVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self { major, minor, patch }
    }

    /// `v1.24.17` — the form kube-apiserver's `/version` reports and Go module tags use.
    pub fn tag(&self) -> String {
        format!("v{self}")
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a Kubernetes version (expected e.g. 1.24.17, v1.30.9-eks-1, 1.24)")]
pub struct VersionError {
    pub input: String,
}

/// Reads the leading number of `s` (`"30+"` → 30) and what follows it.
fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok().map(|n| (n, &s[end..]))
}

/// Parses `[v]MAJOR.MINOR[.PATCH][-suffix|+suffix]`; the patch is `None` when absent.
fn parse_parts(input: &str) -> Result<(u32, u32, Option<u32>), VersionError> {
    let err = || VersionError { input: input.to_string() };
    let s = input.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    let (major, rest) = leading_number(s).ok_or_else(err)?;
    let rest = rest.strip_prefix('.').ok_or_else(err)?;
    let (minor, rest) = leading_number(rest).ok_or_else(err)?;
    let (patch, rest) = match rest.strip_prefix('.') {
        Some(r) => {
            let (p, r) = leading_number(r).ok_or_else(err)?;
            (Some(p), r)
        }
        None => (None, rest),
    };
    // What may follow: nothing, a vendor suffix, or the `+` of a managed cluster's minor.
    if !(rest.is_empty() || rest.starts_with('-') || rest.starts_with('+')) {
        return Err(err());
    }
    Ok((major, minor, patch))
}

impl FromStr for KubeVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (major, minor, patch) = parse_parts(s)?;
        Ok(Self::new(major, minor, patch.unwrap_or(0)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bound {
    op: Op,
    major: u32,
    minor: u32,
    /// `None`: the bound names a minor release and ignores patches.
    patch: Option<u32>,
}

impl Bound {
    fn holds_for(&self, v: &KubeVersion) -> bool {
        let ord = match self.patch {
            Some(p) => (v.major, v.minor, v.patch).cmp(&(self.major, self.minor, p)),
            None => (v.major, v.minor).cmp(&(self.major, self.minor)),
        };
        match self.op {
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Eq => ord == Ordering::Equal,
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
        };
        match self.patch {
            Some(p) => write!(f, "{op}{}.{}.{p}", self.major, self.minor),
            None => write!(f, "{op}{}.{}", self.major, self.minor),
        }
    }
}

/// A set of releases: `">=1.24"`, `"<1.24"`, `">=1.24, <1.30"`, `"1.23"`, `"*"`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VersionRange {
    bounds: Vec<Bound>,
}

/// Why a range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a version range: {why} (write e.g. \">=1.24\", \"<1.24\", \">=1.24, <1.30\", \"1.23\" or \"*\")")]
pub struct RangeError {
    pub input: String,
    pub why: String,
}

impl VersionRange {
    /// Every release.
    pub fn any() -> Self {
        Self::default()
    }

    pub fn contains(&self, v: &KubeVersion) -> bool {
        self.bounds.iter().all(|b| b.holds_for(v))
    }

    pub fn is_any(&self) -> bool {
        self.bounds.is_empty()
    }
}

impl FromStr for VersionRange {
    type Err = RangeError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |why: &str| RangeError { input: input.to_string(), why: why.to_string() };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        if trimmed == "*" {
            return Ok(Self::any());
        }
        let mut bounds = Vec::new();
        for part in trimmed.split(',') {
            let part = part.trim();
            let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt), ("=", Op::Eq)]
                .iter()
                .find_map(|(sym, op)| part.strip_prefix(sym).map(|r| (*op, r)))
                .unwrap_or((Op::Eq, part));
            let rest = rest.trim();
            if rest.is_empty() {
                return Err(fail("a comparison has no version"));
            }
            let (major, minor, patch) = parse_parts(rest).map_err(|_| fail(&format!("`{rest}` is not a version")))?;
            bounds.push(Bound { op, major, minor, patch });
        }
        Ok(Self { bounds })
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bounds.is_empty() {
            return f.write_str("*");
        }
        let parts: Vec<String> = self.bounds.iter().map(|b| b.to_string()).collect();
        f.write_str(&parts.join(", "))
    }
}

impl<'de> serde::Deserialize<'de> for VersionRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for VersionRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl schemars::JsonSchema for VersionRange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VersionRange".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Kubernetes releases: \">=1.24\", \"<1.24\", \">=1.24, <1.30\", \"1.23\" or \"*\". A bound without a patch compares major.minor only.",
            "examples": [">=1.24", "<1.24", ">=1.24, <1.30"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KubeVersion {
        s.parse().unwrap()
    }

    #[test]
    fn parses_server_versions_with_vendor_suffixes() {
        assert_eq!(v("v1.24.17"), KubeVersion::new(1, 24, 17));
        assert_eq!(v("v1.30.9-eks-a1b2c3"), KubeVersion::new(1, 30, 9));
        assert_eq!(v("v1.29.3+k3s1"), KubeVersion::new(1, 29, 3));
        assert_eq!(v("1.30+"), KubeVersion::new(1, 30, 0));
        assert_eq!(v("1.24"), KubeVersion::new(1, 24, 0));
        assert!("1".parse::<KubeVersion>().is_err());
        assert!("v1.x.2".parse::<KubeVersion>().is_err());
        assert!("1.24.3garbage".parse::<KubeVersion>().is_err());
    }

    #[test]
    fn minor_bounds_ignore_patches() {
        let before: VersionRange = "<1.24".parse().unwrap();
        let after: VersionRange = ">=1.24".parse().unwrap();
        for (ver, is_before) in [("1.23.17", true), ("1.24.0", false), ("v1.30.9-eks-1", false), ("1.22.7+k3s1", true)] {
            assert_eq!(before.contains(&v(ver)), is_before, "{ver}");
            assert_eq!(after.contains(&v(ver)), !is_before, "{ver}");
        }
        let minor: VersionRange = "1.23".parse().unwrap();
        assert!(minor.contains(&v("1.23.17")));
        assert!(!minor.contains(&v("1.24.0")));
        assert!("<=1.23".parse::<VersionRange>().unwrap().contains(&v("1.23.17")));
    }

    #[test]
    fn patch_bounds_and_conjunctions() {
        let r: VersionRange = ">=1.24.3, <1.30".parse().unwrap();
        assert!(!r.contains(&v("1.24.2")));
        assert!(r.contains(&v("1.24.3")));
        assert!(r.contains(&v("1.29.15")));
        assert!(!r.contains(&v("1.30.0")));
        assert_eq!(r.to_string(), ">=1.24.3, <1.30");
        assert!("*".parse::<VersionRange>().unwrap().contains(&v("1.1.1")));
    }

    #[test]
    fn bad_ranges_say_why() {
        for bad in ["", ">=", ">=1", "=>1.24", "1.24 <1.30", ">=one.two"] {
            let e = bad.parse::<VersionRange>().unwrap_err();
            assert!(e.to_string().contains("is not a version range"), "{bad}: {e}");
        }
    }
}
