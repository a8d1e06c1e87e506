//! A firmware ELF as the host needs it: its defmt table and where the test markers are in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use defmt_decoder::{Encoding, Locations, Table};

use crate::markers::MarkerKind;

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
    /// The ELF defines a defmt timestamp, which the marker reader does not support.
    #[error(
        "{path} defines a defmt timestamp (defmt::timestamp!); hil markers are read without one"
    )]
    Timestamp {
        /// The ELF's path.
        path: PathBuf,
    },
}

/// The ELF's defmt table and the string indices of the test markers.
pub struct Firmware {
    path: PathBuf,
    table: Table,
    markers: HashMap<u16, MarkerKind>,
    /// `markers` as a table indexed by string index (up to the highest marker):
    /// the per-frame lookup, without hashing.
    by_index: Vec<Option<MarkerKind>>,
    /// Where each log statement is in the source (from the ELF's debug info; empty without it).
    locations: Locations,
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
        if table.encoding() != Encoding::Rzcobs {
            let encoding = format!("{:?}", table.encoding());
            return Err(FirmwareError::Encoding { path, encoding });
        }
        if table.has_timestamp() {
            return Err(FirmwareError::Timestamp { path });
        }
        // `raw_symbols` walks every entry in index order; the log entries among
        // them are exactly the ones `indices` yields, in the same order.
        let log_formats = table.raw_symbols().filter_map(|raw| {
            let sym: RawSymbol = serde_json::from_str(raw).ok()?;
            LOG_TAGS.contains(&sym.tag.as_str()).then_some(sym.data)
        });
        let markers = table
            .indices()
            .zip(log_formats)
            .filter_map(|(index, format)| {
                let kind = MarkerKind::from_format(&format)?;
                Some((u16::try_from(index).ok()?, kind))
            })
            .collect();
        let by_index = by_index(&markers);
        // An ELF without debug info still decodes, only without locations.
        let locations = table.get_locations(elf).unwrap_or_default();
        Ok(Self {
            path,
            table,
            markers,
            by_index,
            locations,
        })
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

    /// The string index of a marker (for building frames in tests and fuzzing).
    pub fn marker_index(&self, kind: MarkerKind) -> Option<u16> {
        self.markers
            .iter()
            .find_map(|(&index, &k)| (k == kind).then_some(index))
    }

    /// Source locations of the log statements, by frame index (`Frame::index`), from the ELF's debug info.
    pub fn locations(&self) -> &Locations {
        &self.locations
    }
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
