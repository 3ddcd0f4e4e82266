//! The terminal reporter: each scenario as it finishes (its steps and failure when it failed, or
//! always with `--verbose`), and a line for every long wait, so a run is never silent.

use super::text;
use crate::exec::event::{Event, Events};

/// Subscribes to a run's events and prints them.
pub fn reporter(verbose: bool) -> Events {
    Events::to(move |event| match event {
        Event::ScenarioFinished { report } => {
            // One print per scenario: lines of scenarios finishing together do not interleave.
            let mut out = format!("{}\n", text::line(report));
            if verbose || report.verdict == super::Verdict::Failed {
                out.push_str(&text::details(report));
            }
            print!("{out}");
        }
        Event::StillRunning { .. } => still_running(event),
        Event::Kept { scenario, namespace, objects } => {
            eprintln!("kubeproof: --keep: {scenario} left namespace {namespace} and {} in place", objects.join(", "));
        }
        Event::ScenarioStarted { .. } | Event::StepFinished { .. } => {}
    })
}

/// For `matrix`, whose table is the output: one line per finished scenario (with its steps and
/// failure when it failed: a ✗ in the table says nothing of why), and the long waits, on stderr.
pub fn progress() -> Events {
    Events::to(|event| match event {
        Event::ScenarioFinished { report } if report.verdict == super::Verdict::Failed => {
            eprint!("{}\n{}", text::line(report), text::details(report));
        }
        Event::ScenarioFinished { report } => eprintln!("{}", text::line(report)),
        Event::StillRunning { .. } => still_running(event),
        _ => {}
    })
}

fn still_running(event: &Event) {
    if let Event::StillRunning { scenario, cluster, phase, step, keyword, waiting_for, elapsed_ms } = event {
        let finally = if *phase == super::Phase::Finally { "finally " } else { "" };
        eprintln!("  … {scenario} [{cluster}] {finally}step {} `{keyword}`: {waiting_for} ({}s)", step + 1, elapsed_ms / 1000);
    }
}
