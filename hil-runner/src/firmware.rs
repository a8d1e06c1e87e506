//! A firmware ELF as the host needs it: its defmt table and where the test markers are in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use defmt_decoder::{Encoding, Locations, Table};

use crate::markers::MarkerKind;
use crate::speaks::defmt_test::DefmtTestTable;
use crate::speaks::embedded_test::{self, EmbeddedTestTable};
use crate::timestamp::TimestampSkip;

/// Why an ELF cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FirmwareError {
    /// The file could not be read.
    #[error("cannot read ELF {path}: {source}")]
    Read {
        /// The ELF's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// defmt-decoder rejected the file (not an ELF, defmt version mismatch ...).
    #[error("cannot read the defmt table of {path}: {reason}")]
    Table {
        /// The ELF's path.
        path: PathBuf,
        /// defmt-decoder's message.
        reason: String,
    },
    /// The ELF has no `.defmt` section: it does not log with defmt.
    #[error(
        "{path} has no .defmt section: was it linked with -Tdefmt.x and does it log with defmt?"
    )]
    NoDefmt {
        /// The ELF's path.
        path: PathBuf,
    },
    /// The ELF uses a defmt encoding other than rzcobs.
    #[error(
        "{path} uses defmt encoding {encoding}; the serial link needs rzcobs (defmt's default)"
    )]
    Encoding {
        /// The ELF's path.
        path: PathBuf,
        /// The encoding found.
        encoding: String,
    },
    /// The ELF is an embedded-test suite whose test list cannot be read.
    #[error("{path}: cannot read its embedded-test table: {reason}")]
    EmbeddedTest {
        /// The ELF's path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The ELF's defmt timestamp entry cannot be read.
    #[error("cannot read the defmt timestamp (defmt::timestamp!) of {path}: {reason}")]
    Timestamp {
        /// The ELF's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The ELF's defmt table and the string indices of the test markers.
///
/// Also what kind of test binary it is: a defmt-test suite (its progress
/// strings) or an embedded-test suite (its tests, from their own section).
pub struct Firmware {
    path: PathBuf,
    table: Table,
    markers: HashMap<u16, MarkerKind>,
    /// `markers` as a table indexed by string index (up to the highest marker):
    /// the per-frame lookup, without hashing.
    by_index: Vec<Option<MarkerKind>>,
    /// Where each log call is, from the ELF's debug info (empty without it).
    locations: Locations,
    /// The progress strings of a defmt-test suite, if the ELF is one.
    defmt_test: Option<DefmtTestTable>,
    /// The tests of an embedded-test suite, if the ELF is one.
    embedded_test: Option<EmbeddedTestTable>,
    /// Where a frame's timestamp ends (markers are read after it).
    timestamp: TimestampSkip,
    /// Every frame carries a check value ([`crate::frame_check`]).
    frame_check: bool,
}

impl std::fmt::Debug for Firmware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firmware")
            .field("path", &self.path)
            .field("markers", &self.markers.len())
            .finish()
    }
}

/// Log-level and println tags: the entries `Table::indices` yields, in the same order.
const LOG_TAGS: &[&str] = &[
    "defmt_trace",
    "defmt_debug",
    "defmt_info",
    "defmt_warn",
    "defmt_error",
    "defmt_println",
];

#[derive(serde::Deserialize)]
struct RawSymbol {
    tag: String,
    data: String,
}

impl Firmware {
    /// Read `path` and its defmt table.
    pub fn load(path: &Path) -> Result<Self, FirmwareError> {
        let bytes = std::fs::read(path).map_err(|source| FirmwareError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Parse an ELF already in memory (`path` is only for messages).
    pub fn from_bytes(path: &Path, elf: &[u8]) -> Result<Self, FirmwareError> {
        let path = path.to_owned();
        let table = match Table::parse(elf) {
            Ok(Some(table)) => table,
            Ok(None) => return Err(FirmwareError::NoDefmt { path }),
            Err(e) => {
                return Err(FirmwareError::Table {
                    path,
                    reason: format!("{e:#}"),
                })
            }
        };
        // Without debug info there are no locations; logs are still decoded.
        let locations = table.get_locations(elf).unwrap_or_default();
        let embedded_test =
            embedded_test::read(elf).map_err(|reason| FirmwareError::EmbeddedTest {
                path: path.clone(),
                reason,
            })?;
        let mut firmware = Self::from_table(&path, table, defmt_test_count(elf), locations)?;
        firmware.embedded_test = embedded_test;
        firmware.frame_check = has_symbol(elf, crate::frame_check::SYMBOL);
        Ok(firmware)
    }

    /// A firmware from a defmt table (tests build synthetic tables; `path` is only for messages).
    pub fn from_table(
        path: &Path,
        table: Table,
        defmt_test_count: Option<u32>,
        locations: Locations,
    ) -> Result<Self, FirmwareError> {
        let path = path.to_owned();
        if table.encoding() != Encoding::Rzcobs {
            let encoding = format!("{:?}", table.encoding());
            return Err(FirmwareError::Encoding { path, encoding });
        }
        let timestamp = match TimestampSkip::of(&table) {
            Ok(timestamp) => timestamp,
            Err(reason) => return Err(FirmwareError::Timestamp { path, reason }),
        };
        // `raw_symbols` walks every entry in index order; the log entries among
        // them are exactly the ones `indices` yields, in the same order.
        let log_formats: Vec<(u16, String)> = table
            .indices()
            .zip(table.raw_symbols().filter_map(|raw| {
                let sym: RawSymbol = serde_json::from_str(raw).ok()?;
                LOG_TAGS.contains(&sym.tag.as_str()).then_some(sym.data)
            }))
            .filter_map(|(index, format)| Some((u16::try_from(index).ok()?, format)))
            .collect();
        let markers = log_formats
            .iter()
            .filter_map(|(index, format)| Some((*index, MarkerKind::from_format(format)?)))
            .collect();
        let by_index = by_index(&markers);
        let defmt_test = DefmtTestTable::from_formats(
            log_formats.iter().map(|(i, f)| (*i, f.as_str())),
            defmt_test_count,
        );
        Ok(Self {
            path,
            table,
            markers,
            by_index,
            locations,
            defmt_test,
            embedded_test: None,
            timestamp,
            frame_check: false,
        })
    }

    /// The same firmware, its frames with (or without) a check value (tests build synthetic tables).
    pub fn with_frame_check(mut self, frame_check: bool) -> Self {
        self.frame_check = frame_check;
        self
    }

    /// Whether every frame carries a check value (hil-transport's `frame-check`: the ELF has [`crate::frame_check::SYMBOL`]).
    pub fn frame_check(&self) -> bool {
        self.frame_check
    }

    /// Bytes of the defmt timestamp after the string index of `frame`
    /// (rzcobs-decoded), 0 without `defmt::timestamp!`.
    #[inline]
    pub fn timestamp_len(&self, frame: &[u8]) -> Option<usize> {
        self.timestamp.len(frame)
    }

    /// The ELF's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The defmt table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Which marker string index `index` is, if any.
    pub fn marker(&self, index: u16) -> Option<MarkerKind> {
        self.by_index.get(usize::from(index)).copied().flatten()
    }

    /// `file:line` of the log call with string index `index`, from the ELF's debug info.
    pub fn location(&self, index: u64) -> Option<String> {
        let loc = self.locations.get(&index)?;
        Some(format!("{}:{}", loc.file.display(), loc.line))
    }

    /// Where each log call is (file, line, module), from the ELF's debug info.
    pub fn locations(&self) -> &Locations {
        &self.locations
    }

    /// The tests of an embedded-test suite, if the ELF is one.
    pub fn embedded_test(&self) -> Option<&EmbeddedTestTable> {
        self.embedded_test.as_ref()
    }

    /// The defmt-test progress strings, if the ELF is a defmt-test suite.
    pub fn defmt_test(&self) -> Option<&DefmtTestTable> {
        self.defmt_test.as_ref()
    }

    /// The string index of a marker (for building frames in tests and fuzzing).
    pub fn marker_index(&self, kind: MarkerKind) -> Option<u16> {
        self.markers
            .iter()
            .find_map(|(&index, &k)| (k == kind).then_some(index))
    }
}

/// The value of defmt-test's `DEFMT_TEST_COUNT` static (a `usize` in the ELF's data), if any.
fn defmt_test_count(elf: &[u8]) -> Option<u32> {
    use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
    let file = object::File::parse(elf).ok()?;
    let symbol = file
        .symbols()
        .find(|s| s.name() == Ok("DEFMT_TEST_COUNT"))?;
    let section = file.section_by_index(symbol.section_index()?).ok()?;
    let data = section.data().ok()?;
    let start = usize::try_from(symbol.address().checked_sub(section.address())?).ok()?;
    let bytes: [u8; 4] = data.get(start..start + 4)?.try_into().ok()?;
    Some(if file.is_little_endian() {
        u32::from_le_bytes(bytes)
    } else {
        u32::from_be_bytes(bytes)
    })
}

/// Whether the ELF's symbol table has `name`.
fn has_symbol(elf: &[u8], name: &str) -> bool {
    use object::{Object as _, ObjectSymbol as _};
    object::File::parse(elf).is_ok_and(|file| file.symbols().any(|s| s.name() == Ok(name)))
}

/// The markers as a dense table indexed by string index.
fn by_index(markers: &HashMap<u16, MarkerKind>) -> Vec<Option<MarkerKind>> {
    let len = markers.keys().max().map_or(0, |&max| usize::from(max) + 1);
    let mut table = vec![None; len];
    for (&index, &kind) in markers {
        table[usize::from(index)] = Some(kind);
    }
    table
}
