//! Hand-made frame streams: a synthetic defmt table (no ELF, no firmware build) and its frames on the wire.
//!
//! The one piece of code the host tests use to build a frame stream: the unit
//! tests of the analysis, the defmt-test reader's tests and the recovery
//! property tests. A table is deserialised the way defmt-decoder reads one
//! from an ELF ([`defmt_decoder::Table`]); its frames are the string index and
//! the arguments, rzcobs-encoded with their delimiter, as the target sends them.

use defmt_decoder::Table;
use hil_protocol::fmt;
use hil_runner::analysis::{Analysis, Analyzer};
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::markers::{Marker, MarkerKind};
use hil_runner::rzcobs;

/// One entry of a synthetic table: string index, defmt level (`Info`, `Error`,
/// `Println` ...) and format string.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// String index.
    pub index: u16,
    /// Level tag as defmt-decoder names it (`Println`, `Trace` ... `Error`).
    pub level: &'a str,
    /// Format string.
    pub format: &'a str,
}

/// A firmware with exactly these table entries (and `DEFMT_TEST_COUNT` = `defmt_test_count`).
pub fn firmware(entries: &[Entry<'_>], defmt_test_count: Option<u32>) -> Firmware {
    firmware_with_timestamp(entries, defmt_test_count, None)
}

/// [`firmware`] whose frames carry a `defmt::timestamp!` of format `timestamp` (`{=u32:us}`).
pub fn firmware_with_timestamp(
    entries: &[Entry<'_>],
    defmt_test_count: Option<u32>,
    timestamp: Option<&str>,
) -> Firmware {
    let entries: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|e| {
            let raw_tag = format!("defmt_{}", e.level.to_lowercase());
            let raw = serde_json::json!({
                "package": "host-tests", "tag": raw_tag, "data": e.format,
                "disambiguator": "1", "crate_name": "synthetic"
            });
            let entry = serde_json::json!({
                "string": { "tag": e.level, "string": e.format },
                "raw_symbol": raw.to_string()
            });
            (e.index.to_string(), entry)
        })
        .collect();
    let timestamp = timestamp.map(|format| {
        let raw = serde_json::json!({
            "package": "host-tests", "tag": "defmt_timestamp", "data": format,
            "disambiguator": "1", "crate_name": "synthetic"
        });
        serde_json::json!({
            "string": { "tag": "Timestamp", "string": format },
            "raw_symbol": raw.to_string()
        })
    });
    let table: Table = serde_json::from_value(serde_json::json!({
        "timestamp": timestamp, "entries": entries, "bitflags": {}, "encoding": "Rzcobs"
    }))
    .expect("a defmt table");
    Firmware::from_table(
        "synthetic.elf".as_ref(),
        table,
        defmt_test_count,
        Default::default(),
    )
    .expect("a synthetic firmware")
}

/// String index of the plain log string `{=str}` (info level) in [`hil_firmware`].
pub const LOG_INFO: u16 = 100;
/// String index of the plain log string `panicked at '{=str}'` (error level) in [`hil_firmware`].
pub const LOG_PANICKED: u16 = 101;

/// String index of the plain log string `panicked at {=str}` (error level, as panic-probe logs a core panic).
pub const LOG_CORE_PANIC: u16 = 102;

/// String index of `kind` in [`hil_firmware`].
pub fn hil_index(kind: MarkerKind) -> u16 {
    let format = match kind {
        MarkerKind::Boot => fmt::BOOT,
        MarkerKind::Start => fmt::START,
        MarkerKind::Param => fmt::PARAM,
        MarkerKind::Seq => fmt::SEQ,
        MarkerKind::Drop => fmt::DROP,
        MarkerKind::Stream => fmt::STREAM,
        MarkerKind::End => fmt::END,
        MarkerKind::Panic => fmt::PANIC,
    };
    let position = fmt::ALL.iter().position(|&f| f == format).unwrap();
    1 + position as u16
}

/// A firmware that speaks hil-protocol: every marker of [`fmt::ALL`] (from
/// index 1, in that order), and plain log strings ([`LOG_INFO`], [`LOG_PANICKED`], [`LOG_CORE_PANIC`]).
pub fn hil_firmware() -> Firmware {
    hil_firmware_without(&[])
}

/// [`hil_firmware`] without the markers in `left_out` (e.g. no end marker: not a hil-protocol suite).
pub fn hil_firmware_without(left_out: &[&str]) -> Firmware {
    hil_firmware_timestamped(left_out, None)
}

/// [`hil_firmware_without`] `left_out`, its frames timestamped with format `timestamp`.
pub fn hil_firmware_timestamped(left_out: &[&str], timestamp: Option<&str>) -> Firmware {
    let mut entries: Vec<Entry<'_>> = fmt::ALL
        .iter()
        .enumerate()
        .filter(|(_, f)| !left_out.contains(f))
        .map(|(i, &format)| Entry {
            index: 1 + i as u16,
            level: "Info",
            format,
        })
        .collect();
    entries.push(Entry {
        index: LOG_INFO,
        level: "Info",
        format: "{=str}",
    });
    entries.push(Entry {
        index: LOG_PANICKED,
        level: "Error",
        format: "panicked at '{=str}'",
    });
    entries.push(Entry {
        index: LOG_CORE_PANIC,
        level: "Error",
        format: "panicked at {=str}",
    });
    firmware_with_timestamp(&entries, None, timestamp)
}

/// One frame on the wire: string index and argument bytes, rzcobs-encoded, with its delimiter.
pub fn frame(index: u16, args: &[u8]) -> Vec<u8> {
    let mut raw = index.to_le_bytes().to_vec();
    raw.extend_from_slice(args);
    let mut out = Vec::new();
    rzcobs::encode_frame(&raw, &mut out);
    out
}

/// The argument bytes of one `{=str}`.
pub fn str_arg(s: &str) -> Vec<u8> {
    let mut args = (s.len() as u32).to_le_bytes().to_vec();
    args.extend_from_slice(s.as_bytes());
    args
}

/// One encoded frame (rzcobs, with its delimiter) of `marker` as `firmware` would send it.
pub fn marker_frame(firmware: &Firmware, marker: &Marker) -> Vec<u8> {
    let index = firmware
        .marker_index(marker.kind())
        .expect("the firmware has the marker");
    let mut args = Vec::new();
    marker.write_args(&mut args);
    frame(index, &args)
}

/// A capture being written: markers and raw bytes, in order.
pub struct Stream<'f> {
    firmware: &'f Firmware,
    /// The bytes so far.
    pub bytes: Vec<u8>,
}

impl<'f> Stream<'f> {
    /// An empty capture of `firmware`'s frames.
    pub fn new(firmware: &'f Firmware) -> Self {
        Self {
            firmware,
            bytes: Vec::new(),
        }
    }

    /// Appends a marker's frame.
    pub fn marker(mut self, marker: Marker) -> Self {
        self.bytes.extend(marker_frame(self.firmware, &marker));
        self
    }

    /// Appends raw bytes (garbage, a cut frame, extra delimiters).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// `hil:boot` on `board`, test `test`.
    pub fn boot(self, board: &str, test: &str) -> Self {
        self.marker(Marker::Boot {
            board: board.into(),
            test: test.into(),
        })
    }

    /// `hil:start` of `test` with overflow policy `policy`.
    pub fn start(self, test: &str, policy: &str) -> Self {
        self.marker(Marker::Start {
            test: test.into(),
            policy: policy.into(),
        })
    }

    /// `hil:param name=value`.
    pub fn param(self, name: &str, value: u32) -> Self {
        self.marker(Marker::Param {
            name: name.into(),
            value,
        })
    }

    /// Sequence frame `n` of `stream`, global number `g`, with an 8-byte payload.
    pub fn seq(self, stream: u8, n: u32, g: u32) -> Self {
        self.marker(Marker::Seq {
            stream,
            n,
            g,
            len: 8,
        })
    }

    /// A drop report for `dropped` frames.
    pub fn drop_report(self, dropped: u32) -> Self {
        self.marker(Marker::Drop { dropped })
    }

    /// `hil:stream`: `sent` sequence frames were logged on `stream`.
    pub fn stream(self, stream: u8, sent: u32) -> Self {
        self.marker(Marker::Stream { stream, sent })
    }

    /// `hil:end` with the transport's counters.
    pub fn end(self, attempted: u32, dropped: u32) -> Self {
        self.marker(Marker::End { attempted, dropped })
    }

    /// `hil:panic` with `message`.
    pub fn panic(self, message: &str) -> Self {
        self.marker(Marker::Panic {
            message: message.into(),
        })
    }

    /// A plain log frame (`{=str}` at info level; the firmware must be [`hil_firmware`]).
    pub fn log(self, text: &str) -> Self {
        let frame = frame(LOG_INFO, &str_arg(text));
        self.raw(&frame)
    }
}

/// Analyse `bytes` of `firmware` in one piece, with the default maximum frame length.
pub fn analyse(firmware: &Firmware, bytes: &[u8], expected_board: Option<&str>) -> Analysis {
    analyse_in(firmware, bytes, bytes.len().max(1), expected_board)
}

/// Analyse `bytes` of `firmware` fed in pieces of `chunk` bytes.
pub fn analyse_in(
    firmware: &Firmware,
    bytes: &[u8],
    chunk: usize,
    expected_board: Option<&str>,
) -> Analysis {
    let mut analyzer = Analyzer::new(firmware, DEFAULT_MAX_FRAME_LEN);
    for piece in bytes.chunks(chunk) {
        analyzer.feed(piece, |_| {});
    }
    analyzer.finish(expected_board)
}

/// The end of a run that took a HardFault at pc 0x1234 (CFSR IACCVIOL, HFSR FORCED), for verdict tests.
pub fn hard_fault_end() -> hil_runner::backend::TargetEnd {
    use hil_runner::backend::probe::{FaultCause, FaultRegisters};
    hil_runner::backend::TargetEnd::Fault(FaultRegisters {
        cause: FaultCause::HardFault,
        pc: 0x1234,
        lr: 0x5678,
        xpsr: 0x0100_0003,
        stacked: true,
        cfsr: Some(1),
        hfsr: Some(1 << 30),
        mmfar: Some(0),
        bfar: Some(0),
        stack_trace: None,
    })
}
