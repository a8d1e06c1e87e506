//! Whether a firmware's defmt logger writes where the board reads: defmt-rtt and defmt-semihosting send nothing to a UART.
//!
//! A board reads defmt frames from its UART (every emulated board, and probe
//! boards with `log = "serial"`) or from RTT (`log = "rtt"`); an emulated
//! board reads QEMU's semihosting console instead for defmt-semihosting, and
//! the RTT channel through QEMU's gdbstub for defmt-rtt. Firmware linked with
//! either on a real board read over serial would run with its whole log lost
//! and nothing saying so; it is bad input instead (exit status 2), naming the
//! ELF, the logger and what to change. The logger is known by its crate's statics
//! (`defmt_rtt::RTT_ENCODER`, `defmt_semihosting::SEMIHOSTING_ENCODER`, ...)
//! in the ELF's symbol table: defmt links exactly one global logger.

use std::path::Path;

use object::{Object, ObjectSymbol};

use super::super::probe::LogSource;
use super::super::{Board, BoardError, BoardKind};

/// A defmt logger that writes no frame to a UART.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffUartLogger {
    /// defmt-rtt: an RTT buffer in target RAM, read through a debug probe.
    DefmtRtt,
    /// defmt-semihosting: the debugger's semihosting console (QEMU's stdout on an emulated board).
    DefmtSemihosting,
}

impl OffUartLogger {
    /// The crate, as its symbols' paths name it.
    fn symbol_path(self) -> &'static str {
        match self {
            Self::DefmtRtt => "defmt_rtt",
            Self::DefmtSemihosting => "defmt_semihosting",
        }
    }

    /// The crate's name and where it writes, for messages.
    fn describe(self) -> &'static str {
        match self {
            Self::DefmtRtt => "defmt-rtt (an RTT buffer in target RAM, read through a debug probe)",
            Self::DefmtSemihosting => "defmt-semihosting (the debugger's semihosting console)",
        }
    }
}

/// The logger of `elf` that writes no frame to a UART, if it has one.
pub fn off_uart_logger(elf: &[u8]) -> Option<OffUartLogger> {
    let file = object::File::parse(elf).ok()?;
    let names: Vec<&str> = file.symbols().filter_map(|s| s.name().ok()).collect();
    [OffUartLogger::DefmtRtt, OffUartLogger::DefmtSemihosting]
        .into_iter()
        .find(|logger| names.iter().any(|n| n.contains(logger.symbol_path())))
}

/// Why the firmware at `path` logs where `board` does not read, if it does (a file that
/// cannot be read is left to the checks that read it as an ELF).
pub fn check(board: &Board, path: &Path) -> Result<(), BoardError> {
    match std::fs::read(path) {
        Ok(elf) => check_bytes(board, path, &elf),
        Err(_) => Ok(()),
    }
}

/// [`check`] of the firmware `elf`, read from `path`.
fn check_bytes(board: &Board, path: &Path, elf: &[u8]) -> Result<(), BoardError> {
    // On an emulated board QEMU's semihosting console, or the RTT channel through the
    // gdbstub, is read instead of the UART (the QEMU backend); on a probe board read
    // over RTT the probe reads the channel.
    let BoardKind::Probe(probe) = &board.kind else {
        return Ok(());
    };
    if !matches!(probe.log, LogSource::Serial(_)) {
        return Ok(());
    }
    let Some(logger) = off_uart_logger(elf) else {
        return Ok(());
    };
    Err(BoardError::Field {
        path: board.path.clone(),
        field: "log",
        message: format!(
            "firmware {} logs through {}, but board {} reads defmt frames from its serial \
             port: none of its log would arrive; link a defmt logger that writes rzcobs \
             frames to the UART (defmt-serial, defmt-bbq, hil-transport), or, for \
             defmt-rtt, run it with a board file that says log = \"rtt\"",
            path.display(),
            logger.describe(),
            board.name
        ),
    })
}

#[cfg(test)]
mod tests {
    //! Which ELF logs where: symbols of hand-made ELF files against built-in boards.

    use super::*;
    use crate::test_elf::{elf, Section};

    /// An ELF with one RAM section and the symbol `name` in it.
    fn with_symbol(name: &str) -> Vec<u8> {
        let data = [Section {
            name: ".bss",
            address: 0x2000_0000,
            data: &[0; 16],
        }];
        elf(&data, &[(name, 1, 0x2000_0000)])
    }

    const RTT: &str = "_ZN9defmt_rtt11RTT_ENCODER17h5bdc3d10df24ee0fE";
    const SEMIHOSTING: &str = "_ZN17defmt_semihosting19SEMIHOSTING_ENCODER17h368a62d7f8dc661fE";

    #[test]
    fn defmt_rtt_on_an_emulated_board_is_read_through_the_gdbstub() {
        let board = Board::find("lm3s6965evb").unwrap();
        assert_eq!(
            off_uart_logger(&with_symbol(RTT)),
            Some(OffUartLogger::DefmtRtt)
        );
        assert!(check_bytes(&board, "fw.elf".as_ref(), &with_symbol(RTT)).is_ok());
    }

    #[test]
    fn defmt_rtt_on_a_serial_probe_board_points_at_log_rtt() {
        let board = Board::find("nrf52840-dk").unwrap();
        let e = check_bytes(&board, "fw.elf".as_ref(), &with_symbol(RTT)).unwrap_err();
        let text = e.to_string();
        for part in [
            "fw.elf",
            "defmt-rtt",
            "nrf52840-dk",
            "field `log`",
            "log = \"rtt\"",
        ] {
            assert!(text.contains(part), "{part:?} not in: {text}");
        }
        // The same board read over RTT takes it.
        let rtt = Board::find("nrf52840-dk-rtt").unwrap();
        assert!(check_bytes(&rtt, "fw.elf".as_ref(), &with_symbol(RTT)).is_ok());
    }

    #[test]
    fn defmt_semihosting_is_read_on_an_emulated_board_and_named_on_a_serial_probe_board() {
        let elf = with_symbol(SEMIHOSTING);
        assert_eq!(off_uart_logger(&elf), Some(OffUartLogger::DefmtSemihosting));
        let qemu = Board::find("lm3s6965evb").unwrap();
        assert!(check_bytes(&qemu, "fw.elf".as_ref(), &elf).is_ok());
        let probe = Board::find("nucleo-f401re").unwrap();
        let e = check_bytes(&probe, "fw.elf".as_ref(), &elf).unwrap_err();
        assert!(e.to_string().contains("defmt-semihosting"), "{e}");
    }

    #[test]
    fn a_uart_logger_passes() {
        let board = Board::find("lm3s6965evb").unwrap();
        for other in ["_SEGGER_RTT", "_ZN13hil_transport5queue3LOG17h0E", "main"] {
            assert_eq!(off_uart_logger(&with_symbol(other)), None);
            assert!(check_bytes(&board, "fw.elf".as_ref(), &with_symbol(other)).is_ok());
        }
        assert_eq!(off_uart_logger(b"not an elf"), None);
    }
}
