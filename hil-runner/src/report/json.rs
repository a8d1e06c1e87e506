//! JSON report: an array with one object per test.

use std::path::Path;

use super::TestReport;

/// Write `reports` as a JSON array to `path`.
pub fn write(path: &Path, reports: &[TestReport]) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(reports).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
