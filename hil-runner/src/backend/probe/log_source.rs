//! Which log source a probe board's run reads: its serial port, or RTT up-channel 0 through the probe.

use super::rtt::RttLocation;
use super::rtt_source::{Returned, RttPump};
use super::{ProbeBackend, TargetControl};
use crate::backend::BackendError;
use crate::board::SerialSettings;
use crate::boot_gate::BootGate;
use crate::serial_port::{self, PortSource};
use crate::source::ByteSource;

/// Where the log comes from: the serial port (open, unless a native USB port is not there
/// yet), or RTT up-channel 0 found at this location.
pub(super) enum Log {
    Port(SerialSettings, Option<crate::source::SerialSource>),
    Rtt(RttLocation),
}

/// The session to watch, the log source, and where an RTT pump hands the session back.
pub(super) type Watched = (
    Box<dyn TargetControl>,
    Box<dyn ByteSource>,
    Option<Returned>,
);

impl ProbeBackend {
    fn serial_error(&self, serial: &SerialSettings, e: impl ToString) -> BackendError {
        BackendError::Serial {
            what: format!(
                "the serial port of board {} ({})",
                self.board.name, serial.port
            ),
            message: e.to_string(),
        }
    }

    /// Open the board's serial port (`None`: a native USB port that appears only once its
    /// firmware runs).
    pub(super) async fn open_port(
        &self,
        serial: &SerialSettings,
    ) -> Result<Option<crate::source::SerialSource>, BackendError> {
        let (spec, baud, roots) = (serial.port.clone(), serial.baud, self.roots.clone());
        let opened = tokio::task::spawn_blocking(move || serial_port::open(&spec, baud, &roots))
            .await
            .expect("serial open task panicked");
        match opened {
            Ok(port) => Ok(Some(port)),
            // The target's own USB port appears only once its firmware runs.
            Err(e) if serial.native_usb => {
                tracing::debug!("native USB port not there before the reset: {e}");
                Ok(None)
            }
            Err(e) => Err(self.serial_error(serial, e)),
        }
    }

    /// The board's log source: its serial port (bytes before the boot marker discarded),
    /// or RTT up-channel 0 read through the session `ctl`.
    pub(super) fn log_source(&mut self, ctl: Box<dyn TargetControl>, log: Log) -> Watched {
        let (serial, port) = match log {
            Log::Rtt(location) => {
                let what = format!("board {} (chip {})", self.board.name, self.probe.chip);
                let (pump, source, returned) =
                    RttPump::new(ctl, location, self.rtt_deadline, &what);
                return (Box::new(pump), Box::new(source), Some(returned));
            }
            Log::Port(serial, port) => (serial, port),
        };
        let source = PortSource::new(
            serial.port,
            serial.baud,
            self.roots.clone(),
            serial.native_usb,
            port,
        )
        .with_reappear_timeout(self.reappear);
        let source: Box<dyn ByteSource> = match self.boot_index {
            Some(index) => {
                let gate = BootGate::new(source, index);
                self.discarded = gate.discarded();
                Box::new(gate)
            }
            None => Box::new(source),
        };
        (ctl, source, None)
    }
}
