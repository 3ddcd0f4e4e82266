//! The time as reports and manifests write it.

/// Now, in UTC, as RFC 3339 (`2026-11-23T14:05:00.123Z`).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Now, in whole seconds since the Unix epoch (as a JWT's `iat` counts).
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
