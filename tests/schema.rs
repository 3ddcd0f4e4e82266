//! The committed scenario.schema.json (for yaml-language-server) is what `kubeproof schema` prints,
//! and report.schema.json what `kubeproof schema --report` prints.

#[test]
fn committed_schema_is_current() {
    let generated = serde_json::to_string_pretty(&schemars::schema_for!(kubeproof::scenario::ScenarioSpec)).unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenario.schema.json")).unwrap();
    assert_eq!(committed.trim_end(), generated.trim_end(), "run `kubeproof schema > scenario.schema.json`");
}

/// report.schema.json describes what `run --json` writes (`kubeproof schema --report`).
#[test]
fn committed_report_schema_is_current() {
    let generated = serde_json::to_string_pretty(&schemars::schema_for!(kubeproof::report::document::Document)).unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/report.schema.json")).unwrap();
    assert_eq!(committed.trim_end(), generated.trim_end(), "run `kubeproof schema --report > report.schema.json`");
}

#[test]
fn schema_names_every_step_kind() {
    let schema = serde_json::to_string(&schemars::schema_for!(kubeproof::scenario::ScenarioSpec)).unwrap();
    for step in [
        "service-account",
        "apply",
        "delete",
        "token",
        "secret-token",
        "call",
        "jwt",
        "compare-tokens",
        "get",
        "wait",
        "absent",
        "unchanged",
        "kubectl",
    ] {
        assert!(schema.contains(&format!("\"{step}\"")), "{step} missing from the schema");
    }
}
