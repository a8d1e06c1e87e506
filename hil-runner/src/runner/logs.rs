//! The firmware's own log lines, printed as they arrive (not the markers), as defmt-print would.

use super::RunOptions;
use crate::analysis::SeenFrame;
use crate::decode::Content;
use crate::firmware::Firmware;
use crate::log_format::LogRenderer;

/// Print the firmware's own log frames (not the markers) as defmt-print would.
pub(super) fn print_log(
    renderer: Option<&LogRenderer>,
    firmware: &Firmware,
    opts: &RunOptions,
    frame: &SeenFrame<'_, '_>,
) {
    let (Some(renderer), Ok(Content::Log(_))) = (renderer, frame.content) else {
        return;
    };
    // The analyzer's frame borrows its decoder; render a copy decoded from the same bytes.
    let Ok((f, _)) = firmware.table().decode(frame.decoded) else {
        return;
    };
    let text = renderer.render(f);
    match &opts.log_prefix {
        Some(prefix) => eprintln!(
            "[{prefix}] {}",
            text.replace('\n', &format!("\n[{prefix}] "))
        ),
        None => eprintln!("{text}"),
    }
}
