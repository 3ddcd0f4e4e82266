use std::path::Path;
use kubeproof::scenario::{Scenario, lint::lint};

fn show(name: &str, text: &str) {
    match Scenario::parse(Path::new("case.yaml"), text) {
        Err(d) => println!("[{name}] PARSE {d}"),
        Ok(s) => {
            let ds = lint(&s);
            if ds.is_empty() { println!("[{name}] CLEAN"); }
            for d in ds { println!("[{name}] LINT {d}"); }
        }
    }
}

#[test]
fn probe() {
    let dir = "/tmp/probe";
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let t = std::fs::read_to_string(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let r = std::panic::catch_unwind(|| show(&name, &t));
        if r.is_err() { println!("[{name}] PANIC"); }
    }
}
