//! Kubernetes versions as servers report them, and the version ranges scenarios are written in.
//!
//! Servers report all sorts of strings: `v1.30.9`, `v1.30.9-eks-a1b2c3`, `v1.29.3+k3s1`, a
//! pre-release `v1.38.0-beta.0`, and managed clusters a minor of `"30+"`. Ranges are
//! deliberately simpler than semver: a bound without a patch compares major.minor only, so
//! `<1.24` holds for 1.23.17 and `>=1.24` for 1.24.0 and 1.24.0-rc.1 — the way release notes
//! talk about versions. A bound with a patch orders as Kubernetes does: 1.38.0-alpha.2 <
//! 1.38.0-beta.0 < 1.38.0-rc.0 < 1.38.0.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A Kubernetes release: `1.24.17`, or a pre-release of one, `1.38.0-beta.0`. Vendor suffixes
/// are dropped on parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `None` for a release, which comes after all of its pre-releases.
    pub pre: Option<Pre>,
}

/// A pre-release: `alpha.2`, `beta.0`, `rc.1`. Ordered by kind, then number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pre {
    pub kind: PreKind,
    pub n: u32,
}

/// The kinds of pre-release Kubernetes tags, in the order they come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PreKind {
    Alpha,
    Beta,
    Rc,
}

impl PreKind {
    pub const ALL: [PreKind; 3] = [PreKind::Alpha, PreKind::Beta, PreKind::Rc];

    fn name(self) -> &'static str {
        match self {
            PreKind::Alpha => "alpha",
            PreKind::Beta => "beta",
            PreKind::Rc => "rc",
        }
    }
}

impl fmt::Display for Pre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.name(), self.n)
    }
}

impl KubeVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self { major, minor, patch, pre: None }
    }

    /// `1.38.0-beta.0`: a pre-release of `major.minor.patch`.
    pub const fn pre_release(major: u32, minor: u32, patch: u32, kind: PreKind, n: u32) -> Self {
        Self { major, minor, patch, pre: Some(Pre { kind, n }) }
    }

    /// `v1.24.17`, `v1.38.0-beta.0` — the form kube-apiserver's `/version` reports and Go module
    /// tags use.
    pub fn tag(&self) -> String {
        format!("v{self}")
    }

    pub fn is_pre_release(&self) -> bool {
        self.pre.is_some()
    }
}

impl Ord for KubeVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch)).then_with(|| match (self.pre, other.pre) {
            (None, None) => Ordering::Equal,
            // A release comes after its pre-releases.
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(&b),
        })
    }
}

impl PartialOrd for KubeVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        match self.pre {
            Some(pre) => write!(f, "-{pre}"),
            None => Ok(()),
        }
    }
}

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a Kubernetes version (expected e.g. 1.24.17, v1.30.9-eks-1, 1.38.0-beta.0, 1.24)")]
pub struct VersionError {
    pub input: String,
}

/// Reads the leading number of `s` (`"30+"` → 30) and what follows it.
fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok().map(|n| (n, &s[end..]))
}

/// What `[v]MAJOR.MINOR[.PATCH][-KIND.N][suffix]` holds.
struct Parts<'a> {
    major: u32,
    minor: u32,
    /// `None` when absent.
    patch: Option<u32>,
    /// Read only after a patch: `-alpha.N`, `-beta.N` or `-rc.N`.
    pre: Option<Pre>,
    /// What follows: empty, a vendor suffix (`-eks-a1b2c3`, `+k3s1`), the `+` of a managed
    /// cluster's minor, or a build after a pre-release tag (`.12+0123abcd`).
    rest: &'a str,
}

/// Reads `-KIND.N` at the start of `s`, and what follows it; `None` when `s` starts otherwise
/// (a vendor suffix such as `-eks-1`).
fn pre_release(s: &str) -> Option<(Pre, &str)> {
    let s = s.strip_prefix('-')?;
    PreKind::ALL.iter().find_map(|&kind| {
        let (n, rest) = leading_number(s.strip_prefix(kind.name())?.strip_prefix('.')?)?;
        // `beta.0`, then nothing, a vendor suffix or the commits since the tag (`.12+abc`).
        matches!(rest.chars().next(), None | Some('.' | '+' | '-')).then_some((Pre { kind, n }, rest))
    })
}

fn parse_parts(input: &str) -> Result<Parts<'_>, VersionError> {
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
    let (pre, rest) = match patch.and_then(|_| pre_release(rest)) {
        Some((pre, rest)) => (Some(pre), rest),
        None => (None, rest),
    };
    // What may follow: nothing, a vendor suffix, the `+` of a managed cluster's minor, or the
    // commits since a pre-release tag.
    let after_a_tag = pre.is_some() && rest.starts_with('.');
    if !(rest.is_empty() || rest.starts_with(['-', '+']) || after_a_tag) {
        return Err(err());
    }
    Ok(Parts { major, minor, patch, pre, rest })
}

impl FromStr for KubeVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let p = parse_parts(s)?;
        Ok(Self { major: p.major, minor: p.minor, patch: p.patch.unwrap_or(0), pre: p.pre })
    }
}

/// A release as a user names one: a minor (`1.24`) or exactly (`1.24.17`, `1.38.0-beta.0`),
/// a leading `v` allowed — and nothing else: no vendor suffix, no other pre-release kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseName {
    Minor { major: u32, minor: u32 },
    Exact(KubeVersion),
}

impl FromStr for ReleaseName {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let p = parse_parts(s)?;
        if !p.rest.is_empty() || p.major != 1 {
            return Err(VersionError { input: s.to_string() });
        }
        Ok(match p.patch {
            Some(patch) => ReleaseName::Exact(KubeVersion { major: p.major, minor: p.minor, patch, pre: p.pre }),
            None => ReleaseName::Minor { major: p.major, minor: p.minor },
        })
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
    /// `None`: the bound names a minor release and ignores patches (and pre-releases).
    patch: Option<u32>,
    /// Only with a patch: `>=1.38.0-beta.0`.
    pre: Option<Pre>,
}

impl Bound {
    fn holds_for(&self, v: &KubeVersion) -> bool {
        let ord = match self.patch {
            Some(patch) => v.cmp(&KubeVersion { major: self.major, minor: self.minor, patch, pre: self.pre }),
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
            Some(patch) => write!(f, "{op}{}", KubeVersion { major: self.major, minor: self.minor, patch, pre: self.pre }),
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
            let p = parse_parts(rest).map_err(|_| fail(&format!("`{rest}` is not a version")))?;
            bounds.push(Bound { op, major: p.major, minor: p.minor, patch: p.patch, pre: p.pre });
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
            "description": "Kubernetes releases: \">=1.24\", \"<1.24\", \">=1.24, <1.30\", \"1.23\" or \"*\". A bound without a patch compares major.minor only (so \">=1.38\" holds for 1.38.0-beta.0); one with a patch orders pre-releases before their release (\">=1.38.0\" does not).",
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
    fn pre_releases_parse_and_order_as_kubernetes_does() {
        assert_eq!(v("v1.38.0-beta.0"), KubeVersion::pre_release(1, 38, 0, PreKind::Beta, 0));
        assert_eq!(v("1.38.0-rc.1").to_string(), "1.38.0-rc.1");
        assert_eq!(v("1.38.0-alpha.2").tag(), "v1.38.0-alpha.2");
        // A build after a tag reports the commits since it; a vendor suffix is not a pre-release.
        assert_eq!(v("v1.38.0-alpha.2.456+0123abcd"), KubeVersion::pre_release(1, 38, 0, PreKind::Alpha, 2));
        assert_eq!(v("v1.38.0-gamma.1"), KubeVersion::new(1, 38, 0));
        assert_eq!(v("v1.38.0-betamax"), KubeVersion::new(1, 38, 0));
        assert!("1.38.0.1".parse::<KubeVersion>().is_err());
        let ordered = ["1.37.2", "1.38.0-alpha.0", "1.38.0-alpha.2", "1.38.0-beta.0", "1.38.0-beta.10", "1.38.0-rc.0", "1.38.0", "1.38.1"];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        let mut shuffled: Vec<KubeVersion> = ordered.iter().rev().map(|s| v(s)).collect();
        shuffled.sort();
        assert_eq!(shuffled.iter().map(ToString::to_string).collect::<Vec<_>>(), ordered);
    }

    #[test]
    fn release_names_are_strict() {
        assert_eq!("1.24".parse(), Ok(ReleaseName::Minor { major: 1, minor: 24 }));
        assert_eq!("v1.24.17".parse(), Ok(ReleaseName::Exact(KubeVersion::new(1, 24, 17))));
        assert_eq!(" 1.38.0-rc.1 ".parse(), Ok(ReleaseName::Exact(KubeVersion::pre_release(1, 38, 0, PreKind::Rc, 1))));
        for bad in ["1.38.0-gamma.1", "1.38-beta.0", "1.38.0-beta", "1.38.0-beta.0.1", "1.30.9-eks-1", "1.30+", "2.0.0", "banana", "1"] {
            assert!(bad.parse::<ReleaseName>().is_err(), "{bad}");
        }
    }

    /// A minor names every build of it, pre-releases included; a patch bound orders them first.
    #[test]
    fn ranges_and_pre_releases() {
        let beta = v("1.38.0-beta.0");
        for (range, holds) in [
            (">=1.38", true),
            ("<1.38", false),
            ("1.38", true),
            (">1.37", true),
            (">=1.38.0", false),
            ("<1.38.0", true),
            ("=1.38.0", false),
            (">=1.38.0-alpha.2", true),
            (">=1.38.0-beta.0", true),
            (">1.38.0-beta.0", false),
            (">=1.38.0-rc.0", false),
            ("<=1.37.9", false),
        ] {
            assert_eq!(range.parse::<VersionRange>().unwrap().contains(&beta), holds, "{range}");
        }
        assert_eq!(">=1.38.0-rc.0, <1.39".parse::<VersionRange>().unwrap().to_string(), ">=1.38.0-rc.0, <1.39");
    }

    #[test]
    fn bad_ranges_say_why() {
        for bad in ["", ">=", ">=1", "=>1.24", "1.24 <1.30", ">=one.two"] {
            let e = bad.parse::<VersionRange>().unwrap_err();
            assert!(e.to_string().contains("is not a version range"), "{bad}: {e}");
        }
    }
}
