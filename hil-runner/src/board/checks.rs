//! Per-board floors for the throughput suite (`[checks]` in the board file): a slow link fails.

use serde::Deserialize;

/// The `[checks]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChecks {
    min_line_utilisation: Option<f64>,
    min_bytes_per_s: Option<f64>,
}

/// Floors the throughput suite must reach on this board.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Checks {
    /// Least share of the serial line the link must carry: bytes/s ÷ (baud/10). Real UART boards.
    pub min_line_utilisation: Option<f64>,
    /// Least bytes per second the link must carry.
    pub min_bytes_per_s: Option<f64>,
}

/// The test whose figures the floors judge.
pub const THROUGHPUT_TEST: &str = "throughput";

impl RawChecks {
    /// Validate; `baud` is the board's serial baud rate, if it has a real serial link.
    /// Errors give the field and what is wrong.
    pub(crate) fn validate(self, baud: Option<u32>) -> Result<Checks, (&'static str, String)> {
        if let Some(u) = self.min_line_utilisation {
            if !(u > 0.0 && u <= 1.0) {
                return Err((
                    "checks.min_line_utilisation",
                    format!("{u} is not a share of the line (0 < x <= 1)"),
                ));
            }
            if baud.is_none() {
                return Err((
                    "checks.min_line_utilisation",
                    "needs a serial link with a baud rate ([serial] of a probe board)".into(),
                ));
            }
        }
        if let Some(b) = self.min_bytes_per_s {
            if !(b > 0.0 && b.is_finite()) {
                return Err((
                    "checks.min_bytes_per_s",
                    format!("{b} is not a positive rate"),
                ));
            }
        }
        Ok(Checks {
            min_line_utilisation: self.min_line_utilisation,
            min_bytes_per_s: self.min_bytes_per_s,
        })
    }
}

impl Checks {
    /// Why a throughput run at `bytes_per_s` (and `line_utilisation`, if known) is too slow, if it is.
    pub fn too_slow(&self, bytes_per_s: f64, line_utilisation: Option<f64>) -> Option<String> {
        if let Some(floor) = self.min_bytes_per_s.filter(|&f| bytes_per_s < f) {
            return Some(format!(
                "link too slow: {bytes_per_s:.0} B/s is below the board's floor of {floor:.0} B/s (checks.min_bytes_per_s)"
            ));
        }
        match (self.min_line_utilisation, line_utilisation) {
            (Some(floor), Some(used)) if used < floor => Some(format!(
                "link too slow: {:.1}% of the line rate is below the board's floor of {:.1}% (checks.min_line_utilisation)",
                used * 100.0,
                floor * 100.0
            )),
            _ => None,
        }
    }
}
