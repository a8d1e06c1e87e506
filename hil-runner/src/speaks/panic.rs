//! Finds a firmware's panic in its frames: a `hil:panic` marker, or the error frame a defmt or core panic logs.
//!
//! `defmt::panic!`, `defmt::assert!` and friends log `panicked at '...'` at
//! error level before they panic; panic-probe (`print-defmt`) logs a core
//! panic as `panicked at FILE:LINE:COL:\nMESSAGE`. The first one is the panic:
//! a defmt panic ends in a core panic whose message panic-probe logs again.

use crate::analysis::SeenFrame;
use crate::decode::Content;
use crate::firmware::Firmware;
use crate::markers::Marker;

/// A panic the firmware reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    /// The message, as the firmware logged it (`panicked at ...`).
    pub message: String,
    /// Where it was raised (`file:line`): from the message, else from the log call's debug info.
    pub location: Option<String>,
}

/// Watches the frames for the first panic.
pub struct PanicWatch<'t> {
    firmware: &'t Firmware,
    panic: Option<Panic>,
}

impl<'t> PanicWatch<'t> {
    /// A watch over frames of `firmware`.
    pub fn new(firmware: &'t Firmware) -> Self {
        Self {
            firmware,
            panic: None,
        }
    }

    /// Look at one frame; returns the panic if this frame is the first one.
    pub fn frame(&mut self, frame: &SeenFrame<'_, '_>) -> Option<&Panic> {
        if self.panic.is_some() {
            return None;
        }
        let found = match frame.content {
            Ok(Content::Marker(Marker::Panic { message })) => Some(Panic {
                location: location_in(message),
                message: message.clone(),
            }),
            Ok(Content::Log(f)) if f.level() == Some(defmt_parser::Level::Error) => {
                let message = f.display_message().to_string();
                message.starts_with("panicked at").then(|| Panic {
                    location: location_in(&message).or_else(|| self.firmware.location(f.index())),
                    message,
                })
            }
            _ => None,
        };
        self.panic = found;
        self.panic.as_ref()
    }

    /// The first panic, if any.
    pub fn panic(&self) -> Option<&Panic> {
        self.panic.as_ref()
    }

    /// The first panic, taken.
    pub fn take(&mut self) -> Option<Panic> {
        self.panic.take()
    }
}

/// `file:line` of a core panic message (`panicked at src/main.rs:12:5:`) or of a hil marker
/// (`src/main.rs:12:5: message`).
fn location_in(message: &str) -> Option<String> {
    let rest = message.strip_prefix("panicked at ").unwrap_or(message);
    let head = rest.split(|c: char| c.is_whitespace()).next()?;
    let mut parts = head.trim_end_matches(':').rsplitn(3, ':');
    let (col, line, file) = (parts.next()?, parts.next()?, parts.next()?);
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(col) && numeric(line) && !file.is_empty() && !file.starts_with('\''))
        .then(|| format!("{file}:{line}"))
}

#[cfg(test)]
mod tests {
    //! Locations read from panic messages.

    use super::location_in;

    #[test]
    fn location_is_read_from_core_and_marker_panic_messages() {
        assert_eq!(
            location_in("panicked at src/bin/panics.rs:12:5:\nboom 42").as_deref(),
            Some("src/bin/panics.rs:12")
        );
        assert_eq!(
            location_in("tests/failing.rs:30:9: assertion failed").as_deref(),
            Some("tests/failing.rs:30")
        );
        assert_eq!(location_in("panicked at 'explicit panic'"), None);
        assert_eq!(location_in("HardFault at pc=0x00000400"), None);
    }

    #[test]
    fn each_part_of_a_location_must_hold_for_it_to_be_one() {
        // Column, line, file and a file that is not a quoted message: each alone spoils it.
        assert_eq!(location_in("src/a.rs:12:x: boom"), None);
        assert_eq!(location_in("src/a.rs:x:5: boom"), None);
        assert_eq!(location_in(":12:5: boom"), None);
        assert_eq!(location_in("panicked at 'src/a.rs:12:5: boom'"), None);
        assert_eq!(
            location_in("src/a.rs:12:5: boom").as_deref(),
            Some("src/a.rs:12")
        );
    }
}
