//! The mutation-testing line of BENCHMARKS.md: cargo-mutants' own figures from `mutants.out/outcomes.json`, when a run left them there.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where `host-tests/mutants.sh` (cargo-mutants) leaves its outcomes, from the repository root.
pub const OUTCOMES: &str = "mutants.out/outcomes.json";

/// cargo-mutants' totals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mutants {
    /// Mutants generated.
    pub total_mutants: u64,
    /// Caught by a test.
    pub caught: u64,
    /// Not caught: a check no test proves.
    pub missed: u64,
    /// Build or tests timed out.
    pub timeout: u64,
    /// Did not build.
    pub unviable: u64,
    /// When the run started.
    pub start_time: Option<String>,
    /// When it ended (none: unfinished).
    pub end_time: Option<String>,
    /// cargo-mutants' version.
    pub cargo_mutants_version: Option<String>,
}

/// The totals of `ROOT/mutants.out/outcomes.json`, if there is a readable one.
pub fn read(root: &Path) -> Option<Mutants> {
    let text = std::fs::read_to_string(root.join(OUTCOMES)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The paragraph of BENCHMARKS.md about mutation testing.
pub fn paragraph(m: Option<&Mutants>) -> String {
    let how = "`host-tests/mutants.sh` runs cargo-mutants over the modules that judge (README, \
               \"Mutation testing\"); it runs longer than this bench (the README gives its measured \
               time), so it is not part of this bench";
    let Some(m) = m else {
        return format!(
            "{how}. No `{OUTCOMES}` was found when this page was generated: run the script, \
             and the next `hil-bench` quotes its totals here (they are in `{OUTCOMES}`, \
             `caught.txt` and `missed.txt` next to it)."
        );
    };
    let state = match (&m.start_time, &m.end_time) {
        (_, Some(end)) => format!("a run that ended {end}"),
        (Some(start), None) => format!("an unfinished run, started {start}"),
        (None, None) => "a run of unknown date".into(),
    };
    let version = m
        .cargo_mutants_version
        .as_deref()
        .map_or(String::new(), |v| format!(" {v}"));
    format!(
        "{how}. `{OUTCOMES}` (cargo-mutants{version}, {state}): {} mutants, {} caught, {} missed, \
         {} timed out, {} unviable.",
        m.total_mutants, m.caught, m.missed, m.timeout, m.unviable
    )
}

#[cfg(test)]
mod tests {
    //! What the page says with and without cargo-mutants' outcomes.

    use super::*;

    #[test]
    fn the_paragraph_quotes_the_totals_and_says_when_the_run_is_unfinished() {
        let m = Mutants {
            total_mutants: 6,
            caught: 3,
            missed: 1,
            timeout: 2,
            start_time: Some("2026-12-02T00:12:02Z".into()),
            cargo_mutants_version: Some("27.1.0".into()),
            ..Mutants::default()
        };
        let text = paragraph(Some(&m));
        assert!(
            text.contains("6 mutants, 3 caught, 1 missed, 2 timed out, 0 unviable"),
            "{text}"
        );
        assert!(
            text.contains("an unfinished run, started 2026-12-02T00:12:02Z"),
            "{text}"
        );
        let ended = paragraph(Some(&Mutants {
            end_time: Some("2026-12-02T03:00:00Z".into()),
            ..m
        }));
        assert!(
            ended.contains("a run that ended 2026-12-02T03:00:00Z"),
            "{ended}"
        );
        assert!(paragraph(None).contains("No `mutants.out/outcomes.json` was found"));
    }

    #[test]
    fn outcomes_of_cargo_mutants_are_read_with_their_other_fields_ignored() {
        let m: Mutants = serde_json::from_str(
            r#"{"outcomes": [], "total_mutants": 6, "missed": 0, "caught": 0, "timeout": 2,
                "unviable": 0, "success": 0, "start_time": "t", "end_time": null,
                "cargo_mutants_version": "27.1.0"}"#,
        )
        .unwrap();
        assert_eq!((m.total_mutants, m.timeout), (6, 2));
        assert!(m.end_time.is_none());
    }
}
