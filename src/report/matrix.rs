//! The behaviour matrix: every scenario on every cluster, and what changed between two releases.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{ScenarioReport, Verdict};

/// One column: a cluster and the version it really reports.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub cluster: String,
    pub server_version: String,
}

/// One cell: verdict and the observed value that matters.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cell {
    pub verdict: Verdict,
    pub observed: Option<String>,
    pub detail: Option<String>,
}

impl Cell {
    fn text(&self) -> String {
        match self.verdict {
            Verdict::Passed => format!("✓ {}", self.observed.as_deref().unwrap_or("pass")),
            Verdict::Failed => "✗ FAIL".to_string(),
            Verdict::NotApplicable => "— n/a".to_string(),
        }
    }
}

/// Scenarios × clusters.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub generated: String,
    pub columns: Vec<Column>,
    /// Scenario → cells in column order.
    pub rows: BTreeMap<String, Vec<Option<Cell>>>,
    pub descriptions: BTreeMap<String, String>,
}

impl Matrix {
    pub fn build(columns: Vec<Column>, reports: &[ScenarioReport], descriptions: BTreeMap<String, String>) -> Matrix {
        let mut rows: BTreeMap<String, Vec<Option<Cell>>> = BTreeMap::new();
        for r in reports {
            let Some(col) = columns.iter().position(|c| c.cluster == r.cluster) else { continue };
            let row = rows.entry(r.scenario.clone()).or_insert_with(|| vec![None; columns.len()]);
            row[col] = Some(Cell {
                verdict: r.verdict.clone(),
                observed: r.observed.clone(),
                detail: r.failure.as_ref().map(|f| format!("{}: {}", f.position, super::text::explain(&f.error))).or_else(|| r.reason.clone()),
            });
        }
        let generated = crate::clock::now_rfc3339();
        Matrix { generated, columns, rows, descriptions }
    }

    pub fn all_passed(&self) -> bool {
        self.rows.values().flatten().flatten().all(|c| c.verdict != Verdict::Failed)
    }

    /// A fixed-width table for the terminal.
    pub fn to_terminal(&self) -> String {
        let headers: Vec<String> = self.columns.iter().map(|c| c.server_version.clone()).collect();
        let name_w = self.rows.keys().map(|k| k.chars().count()).max().unwrap_or(8).max(8);
        let cells: Vec<Vec<String>> = self
            .rows
            .values()
            .map(|row| row.iter().map(|c| c.as_ref().map(Cell::text).unwrap_or_else(|| "?".into())).collect())
            .collect();
        let widths: Vec<usize> = (0..headers.len())
            .map(|i| cells.iter().map(|r| r[i].chars().count()).chain([headers[i].chars().count()]).max().unwrap_or(4))
            .collect();
        let mut s = String::new();
        let _ = write!(s, "{:<name_w$}", "scenario");
        for (h, w) in headers.iter().zip(&widths) {
            let _ = write!(s, "  {h:<w$}");
        }
        s.push('\n');
        for (name, row) in self.rows.keys().zip(&cells) {
            let _ = write!(s, "{name:<name_w$}");
            for (c, w) in row.iter().zip(&widths) {
                let pad = w.saturating_sub(c.chars().count());
                let _ = write!(s, "  {c}{}", " ".repeat(pad));
            }
            s.push('\n');
        }
        s
    }

    /// Markdown, as committed to docs/behaviour-matrix.md.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "| scenario | {} |", self.columns.iter().map(|c| format!("`{}`", c.server_version)).collect::<Vec<_>>().join(" | "));
        let _ = writeln!(s, "|---|{}", "---|".repeat(self.columns.len()));
        for (name, row) in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| c.as_ref().map(Cell::text).unwrap_or_else(|| "?".into())).collect();
            let _ = writeln!(s, "| `{name}` | {} |", cells.join(" | "));
        }
        s
    }

    /// Scenarios whose outcome differs between columns `a` and `b`.
    pub fn changes(&self, a: usize, b: usize) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (name, row) in &self.rows {
            let (x, y) = (row.get(a).cloned().flatten(), row.get(b).cloned().flatten());
            let text = |c: &Option<Cell>| c.as_ref().map(Cell::text).unwrap_or_else(|| "?".into());
            if x.as_ref().map(|c| (&c.verdict, &c.observed)) != y.as_ref().map(|c| (&c.verdict, &c.observed)) {
                out.push((name.clone(), text(&x), text(&y)));
            }
        }
        out
    }

    /// "What changed between two releases", as text.
    pub fn diff_text(&self, a: usize, b: usize) -> String {
        let (ca, cb) = (&self.columns[a].server_version, &self.columns[b].server_version);
        let changes = self.changes(a, b);
        if changes.is_empty() {
            return format!("no observed behaviour differs between {ca} and {cb}\n");
        }
        let mut s = format!("{} scenario(s) differ between {ca} and {cb}:\n", changes.len());
        for (name, x, y) in changes {
            let _ = writeln!(s, "  {name}: {x}  →  {y}");
        }
        s
    }
}
