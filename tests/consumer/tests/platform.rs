//! This repository's platform checks, as trials of `cargo test --test platform`.

fn main() {
    kubeproof::harness::Harness::new().scenarios(concat!(env!("CARGO_MANIFEST_DIR"), "/checks")).run()
}
