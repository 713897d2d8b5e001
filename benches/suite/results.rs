//! The results: the table printed as rows are measured, and `target/bench/results.md`
//! and `results.json` (rows, and one target per goal of issue 13).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::load::Load;

/// One row of the results table.
pub struct Row {
    scenario: String,
    figure: String,
    value: f64,
    unit: &'static str,
    /// The baseline's value for the same figure, for the ratio column.
    baseline: Option<f64>,
}

/// One target of issue 13, as `results.json` reports it.
pub struct Target {
    key: &'static str,
    what: String,
    value: f64,
    unit: &'static str,
    ratio: Option<f64>,
    holds: bool,
    goal: &'static str,
}

#[derive(Default)]
pub struct Results(Vec<Row>, Vec<Target>);

impl Results {
    /// Prints one row and keeps it.
    pub fn add(
        &mut self,
        scenario: &str,
        figure: &str,
        value: f64,
        unit: &'static str,
        baseline: Option<f64>,
    ) {
        let ratio = baseline
            .map(|b| format!("  ({:.2}× baseline)", value / b))
            .unwrap_or_default();
        println!("{scenario:<44} {figure:<26} {value:>12.2} {unit}{ratio}");
        self.0.push(Row {
            scenario: scenario.to_owned(),
            figure: figure.to_owned(),
            value,
            unit,
            baseline,
        });
    }

    /// The four rows of a load run (requests/s, p50, p99, p99.9), each against the
    /// baseline's if given.
    pub fn load(&mut self, scenario: &str, run: &Load, baseline: Option<&Load>) {
        self.add(
            scenario,
            "requests/s",
            run.rps,
            "req/s",
            baseline.map(|b| b.rps),
        );
        self.add(
            scenario,
            "p50",
            run.p50_ms,
            "ms",
            baseline.map(|b| b.p50_ms),
        );
        self.add(
            scenario,
            "p99",
            run.p99_ms,
            "ms",
            baseline.map(|b| b.p99_ms),
        );
        self.add(
            scenario,
            "p99.9",
            run.p999_ms,
            "ms",
            baseline.map(|b| b.p999_ms),
        );
    }

    /// Records whether a target holds (`results.json` → `targets.<key>`).
    #[allow(clippy::too_many_arguments)]
    pub fn target(
        &mut self,
        key: &'static str,
        what: &str,
        value: f64,
        unit: &'static str,
        ratio: Option<f64>,
        holds: bool,
        goal: &'static str,
    ) {
        let ratio_text = ratio.map(|r| format!(" ({r:.2}×)")).unwrap_or_default();
        println!(
            "TARGET {key:<26} {value:>10.2} {unit}{ratio_text}  goal {goal}: {}",
            if holds { "holds" } else { "MISSED" }
        );
        self.1.push(Target {
            key,
            what: what.to_owned(),
            value,
            unit,
            ratio,
            holds,
            goal,
        });
    }

    /// Writes `results.md` and `results.json` into `dir`.
    pub fn write(&self, dir: &Path) {
        let mut md = String::from(
            "| scenario | figure | value | unit | ratio to baseline |\n|---|---|---:|---|---:|\n",
        );
        let mut rows = Vec::new();
        for r in &self.0 {
            let ratio = r
                .baseline
                .map(|b| format!("{:.2}×", r.value / b))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {} | {} |",
                r.scenario, r.figure, r.value, r.unit, ratio
            );
            rows.push(
                json!({"scenario": r.scenario, "figure": r.figure, "value": r.value, "unit": r.unit,
                             "baseline": r.baseline, "ratio": r.baseline.map(|b| r.value / b)}),
            );
        }
        let mut targets = serde_json::Map::new();
        let _ = writeln!(
            md,
            "\n| target | measured | value | unit | ratio | goal | holds |\n|---|---|---:|---|---:|---|---|"
        );
        for t in &self.1 {
            targets.insert(
                t.key.to_owned(),
                json!({"what": t.what, "value": t.value, "unit": t.unit, "ratio": t.ratio,
                       "goal": t.goal, "holds": t.holds}),
            );
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {} | {} | {} | {} |",
                t.key,
                t.what,
                t.value,
                t.unit,
                t.ratio.map(|r| format!("{r:.2}×")).unwrap_or_default(),
                t.goal,
                if t.holds { "yes" } else { "**no**" }
            );
        }
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join("results.md"), md);
        let _ = std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&json!({"targets": targets, "rows": rows}))
                .unwrap_or_default(),
        );
        println!("\nwritten: {}/results.md and results.json", dir.display());
    }
}
