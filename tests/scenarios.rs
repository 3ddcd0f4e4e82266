//! kubeproof's own scenarios as libtest trials, through the library's harness
//! ([`kubeproof::harness`]): `scenarios/` on every cluster of the run, `examples/` (checks
//! beyond tokens) on the newest release only, as `<cluster>::examples::<file stem>`.
//! `cargo test --test scenarios`, filters, `--list`, `--ignored`, `--test-threads` and
//! `cargo nextest run` all work; the clusters come from `KUBEPROOF_VERSION(S)` or
//! `KUBEPROOF_CONTEXT`, and without them scenario trials are ignored with the reason.

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    kubeproof::harness::Harness::new().scenarios(root.join("scenarios")).on_newest("examples", root.join("examples")).run()
}
