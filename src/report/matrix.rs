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

/// What the page says of a scenario: what it shows, and where Kubernetes documents it (the
/// scenario's `sources`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct About {
    pub description: String,
    pub sources: Vec<String>,
}

/// Scenarios × clusters.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub generated: String,
    pub columns: Vec<Column>,
    /// Scenario → cells in column order.
    pub rows: BTreeMap<String, Vec<Option<Cell>>>,
    pub about: BTreeMap<String, About>,
}

impl Matrix {
    pub fn build(columns: Vec<Column>, reports: &[ScenarioReport], about: BTreeMap<String, About>) -> Matrix {
        let mut rows: BTreeMap<String, Vec<Option<Cell>>> = BTreeMap::new();
        for r in reports {
            let Some(col) = columns.iter().position(|c| c.cluster == r.cluster) else { continue };
            let row = rows.entry(r.scenario.clone()).or_insert_with(|| vec![None; columns.len()]);
            row[col] = Some(Cell {
                verdict: r.verdict.clone(),
                // An upgrade scenario's cell says the path it took: `1.23.17 → 1.24.0: …`.
                observed: match r.path.is_empty() {
                    true => r.observed.clone(),
                    false => Some(format!("{}: {}", r.ran_on(), r.observed.as_deref().unwrap_or("pass"))),
                },
                detail: r.failure.as_ref().map(|f| format!("{}: {}", f.position, f.error)).or_else(|| r.reason.clone()),
            });
        }
        let generated = crate::clock::now_rfc3339();
        Matrix { generated, columns, rows, about }
    }

    /// A fixed-width table for the terminal.
    pub fn to_terminal(&self) -> String {
        let headers: Vec<String> = self.columns.iter().map(|c| c.server_version.clone()).collect();
        let name_w = self.rows.keys().map(|k| k.chars().count()).max().unwrap_or(8).max(8);
        let cells: Vec<Vec<String>> =
            self.rows.values().map(|row| row.iter().map(|c| c.as_ref().map(Cell::text).unwrap_or_else(|| "?".into())).collect()).collect();
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
        let _ = writeln!(
            s,
            "| scenario | {} |",
            self.columns.iter().map(|c| format!("`{}`", c.server_version)).collect::<Vec<_>>().join(" | ")
        );
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

    /// The page committed as docs/behaviour-matrix.md: when and on what it was made, the table,
    /// what changed between neighbouring releases with where Kubernetes documents each change,
    /// what each scenario shows, then `notes` (markdown, as written: the catalogue rows that are
    /// not scenarios, and why).
    pub fn page(&self, notes: Option<&str>) -> String {
        let mut s = String::from("# ServiceAccount token behaviour, release by release\n\n");
        let versions: Vec<String> = self.columns.iter().map(|c| format!("`{}`", c.server_version)).collect();
        let _ = writeln!(
            s,
            "Generated by `kubeproof matrix` on {} against real control planes reporting {}.\n\
             ✓ passed (with the value observed), ✗ failed, — not applicable to that release.\n",
            self.generated,
            versions.join(", ")
        );
        s.push_str(&self.to_markdown());
        s.push_str("\n## What changed between releases\n\n");
        for i in 1..self.columns.len() {
            s.push_str("```\n");
            s.push_str(&self.diff_text(i - 1, i));
            s.push_str("```\n\n");
            // A failure is no change of behaviour: nothing to document.
            let changes: Vec<String> = self
                .changes(i - 1, i)
                .into_iter()
                .filter(|(name, _, _)| !self.rows[name][i - 1..=i].iter().flatten().any(|c| c.verdict == Verdict::Failed))
                .map(|(name, _, _)| name)
                .collect();
            if !changes.is_empty() {
                s.push_str("Where Kubernetes documents it:\n\n");
                for name in changes {
                    let _ = writeln!(s, "- `{name}`: {}", self.sources_text(&name));
                }
                s.push('\n');
            }
        }
        s.push_str(&self.not_applicable_text());
        s.push_str("## The scenarios\n\n");
        // Only the rows of the table: a report set may cover fewer scenarios than the directory.
        for (name, about) in self.about.iter().filter(|(name, _)| self.rows.contains_key(*name)) {
            let _ = writeln!(s, "- `{name}`: {}", about.description.replace('\n', " "));
            let _ = writeln!(s, "  - Sources: {}", self.sources_text(name));
        }
        if let Some(notes) = notes {
            s.push('\n');
            s.push_str(notes.trim_end());
            s.push('\n');
        }
        s
    }

    /// Why each "— n/a" cell is one: per scenario, each reason with the releases it covers.
    fn not_applicable_text(&self) -> String {
        let mut s = String::new();
        for (name, row) in &self.rows {
            let mut reasons: Vec<(String, Vec<&str>)> = Vec::new();
            for (cell, column) in row.iter().zip(&self.columns) {
                let Some(cell) = cell.as_ref().filter(|c| c.verdict == Verdict::NotApplicable) else { continue };
                let reason = cell.detail.clone().unwrap_or_else(|| "no reason recorded".to_string()).replace('\n', " ");
                // The release is listed beside the reason: a reason naming it would stand alone.
                let release = column.server_version.trim_start_matches('v');
                let reason = reason.replace(&format!("; the cluster runs {release}"), "");
                match reasons.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, releases)) => releases.push(&column.server_version),
                    None => reasons.push((reason, vec![&column.server_version])),
                }
            }
            for (reason, releases) in reasons {
                let _ = writeln!(s, "- `{name}` on {}: {reason}", releases.join(", "));
            }
        }
        match s.is_empty() {
            true => s,
            false => format!("## Not applicable, and why\n\n{s}\n"),
        }
    }

    /// A scenario's sources on one line; saying so when it names none.
    fn sources_text(&self, name: &str) -> String {
        match self.about.get(name) {
            Some(about) if !about.sources.is_empty() => about.sources.join(" · "),
            _ => "none given".to_string(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(observed: &str) -> Option<Cell> {
        Some(Cell { verdict: Verdict::Passed, observed: Some(observed.to_string()), detail: None })
    }

    fn matrix() -> Matrix {
        let columns = ["v1.23.17", "v1.24.17"].map(|v| Column { cluster: v.to_string(), server_version: v.to_string() }).to_vec();
        let mut rows = BTreeMap::new();
        rows.insert("auto-secret".to_string(), vec![passed("auto Secret"), passed("no Secret")]);
        rows.insert("same".to_string(), vec![passed("3600s"), passed("3600s")]);
        let mut about = BTreeMap::new();
        let sources = vec!["https://example.test/kep-2799".to_string(), "seeds/000".to_string()];
        about.insert("auto-secret".to_string(), About { description: "Auto\nSecrets.".to_string(), sources });
        about.insert("same".to_string(), About { description: "Same everywhere.".to_string(), sources: Vec::new() });
        Matrix { generated: "2026-11-23T00:00:00Z".to_string(), columns, rows, about }
    }

    /// A row that changes shows where the change is documented, under the boundary it crosses;
    /// every scenario lists its sources.
    #[test]
    fn page_shows_the_sources_of_changed_rows() {
        let page = matrix().page(None);
        let boundary = page.find("1 scenario(s) differ between v1.23.17 and v1.24.17").expect("the change is listed");
        let documented = page.find("- `auto-secret`: https://example.test/kep-2799 · seeds/000").expect("its sources follow");
        assert!(documented > boundary, "{page}");
        assert!(!page[boundary..page.find("## The scenarios").unwrap()].contains("`same`"), "an unchanged row is not listed:\n{page}");
        assert!(page.contains("- `auto-secret`: Auto Secrets.\n  - Sources: https://example.test/kep-2799 · seeds/000\n"), "{page}");
        assert!(page.contains("- `same`: Same everywhere.\n  - Sources: none given\n"), "{page}");
        let mut failed = matrix();
        failed.rows.get_mut("same").unwrap()[1] = Some(Cell { verdict: Verdict::Failed, observed: None, detail: None });
        let page = failed.page(None);
        assert!(page.contains("  same: ✓ 3600s  →  ✗ FAIL"), "a failure is listed among the differences:\n{page}");
        assert!(!page.contains("- `same`: none given"), "but has nothing to document:\n{page}");
        let mut more = matrix();
        more.about.insert("not-run".to_string(), About { description: "Never ran.".to_string(), sources: Vec::new() });
        assert!(!more.page(None).contains("not-run"), "a scenario without a row is not described");
    }

    /// The notes close the page as written, so `make matrix-doc` reproduces it from the file.
    /// Every "— n/a" cell has its reason on the page, the releases it covers grouped.
    #[test]
    fn page_says_why_a_cell_is_not_applicable() {
        let mut m = matrix();
        let na = |why: &str| Some(Cell { verdict: Verdict::NotApplicable, observed: None, detail: Some(why.to_string()) });
        m.rows.insert("node".to_string(), vec![na("needs a node"), na("needs a node")]);
        m.rows.get_mut("auto-secret").unwrap()[1] = na("versions: <1.24");
        m.rows.insert(
            "new".to_string(),
            vec![na("applies to >=1.30; the cluster runs 1.23.17"), na("applies to >=1.30; the cluster runs 1.24.17")],
        );
        let page = m.page(None);
        assert!(page.contains("## Not applicable, and why\n\n"), "{page}");
        assert!(page.contains("- `auto-secret` on v1.24.17: versions: <1.24\n"), "{page}");
        assert!(page.contains("- `node` on v1.23.17, v1.24.17: needs a node\n"), "{page}");
        assert!(page.contains("- `new` on v1.23.17, v1.24.17: applies to >=1.30\n"), "{page}");
        assert!(!matrix().page(None).contains("Not applicable, and why"), "no section without an n/a cell");
    }

    #[test]
    fn page_ends_with_the_notes() {
        let notes = "## Not scenarios here\n\n- the cleaner: 24 h sync\n\n";
        let page = matrix().page(Some(notes));
        assert!(page.ends_with("\n\n## Not scenarios here\n\n- the cleaner: 24 h sync\n"), "{page}");
        assert!(!matrix().page(None).contains("Not scenarios here"));
    }
}
