//! A real board's serial port: found by path (glob allowed) or by USB VID:PID[:serial], and kept open.
//!
//! serialport is built without libudev, so USB ids come from sysfs: for each
//! `/sys/class/tty/NAME`, the USB device above `NAME/device` holds `idVendor`,
//! `idProduct` and `serial`. A port found that way is named by its stable
//! `/dev/serial/by-id/...` link when there is one. [`SerialRoots`] points all
//! of this at a fake tree in tests. [`PortSource`] reads the port; when the
//! port is the target's own USB CDC device it vanishes on reset and is
//! reopened, elsewhere a vanished port is an error.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::board::{SerialPortSpec, UsbId};
use crate::source::{ByteSource, ReadOutcome, SerialSource, READ_TIMEOUT};

/// How long a native USB port may stay away (reset, re-enumeration) before that is an error.
pub const REAPPEAR_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a serial port cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerialPortError {
    /// Nothing matches.
    #[error("no serial port matches {spec}; {found}")]
    NotFound {
        /// What was looked for.
        spec: String,
        /// What is there instead.
        found: String,
    },
    /// Several ports match.
    #[error("{count} serial ports match {spec}: {ports}; name one in `serial.port`")]
    Ambiguous {
        /// What was looked for.
        spec: String,
        /// How many.
        count: usize,
        /// The candidates.
        ports: String,
    },
    /// The port exists but cannot be opened.
    #[error("cannot open serial port {path}: {message}")]
    Open {
        /// The port.
        path: String,
        /// serialport's message (permission denied: the dialout group).
        message: String,
    },
}

/// Where ports are looked for: `/sys/class/tty`, `/dev`, `/dev/serial/by-id` (tests: a temp dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialRoots {
    /// sysfs tty class directory.
    pub tty_class: PathBuf,
    /// Device directory.
    pub dev: PathBuf,
    /// Stable by-id links.
    pub by_id: PathBuf,
}

impl Default for SerialRoots {
    fn default() -> Self {
        Self {
            tty_class: "/sys/class/tty".into(),
            dev: "/dev".into(),
            by_id: "/dev/serial/by-id".into(),
        }
    }
}

/// A tty that belongs to a USB device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbSerialPort {
    /// The device node (`/dev/ttyACM0`).
    pub device: PathBuf,
    /// Its `/dev/serial/by-id` link, if any.
    pub by_id: Option<PathBuf>,
    /// The USB device's ids and serial number.
    pub id: UsbId,
}

impl UsbSerialPort {
    /// The name to open: the by-id link when there is one.
    pub fn path(&self) -> &Path {
        self.by_id.as_deref().unwrap_or(&self.device)
    }
}

/// Every tty under `roots` whose device is a USB device.
pub fn usb_serial_ports(roots: &SerialRoots) -> Vec<UsbSerialPort> {
    let Ok(entries) = std::fs::read_dir(&roots.tty_class) else {
        return Vec::new();
    };
    let by_id = by_id_links(roots);
    let mut ports: Vec<UsbSerialPort> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let device = entry.path().join("device").canonicalize().ok()?;
            let usb = device
                .ancestors()
                .take(4)
                .find(|d| d.join("idVendor").is_file())?;
            let read = |file: &str| {
                std::fs::read_to_string(usb.join(file))
                    .ok()
                    .map(|s| s.trim().to_owned())
            };
            let hex = |file: &str| u16::from_str_radix(&read(file)?, 16).ok();
            let id = UsbId {
                vendor_id: hex("idVendor")?,
                product_id: hex("idProduct")?,
                interface: None,
                serial: read("serial").filter(|s| !s.is_empty()),
            };
            let link = by_id
                .iter()
                .find(|(_, target)| target.file_name() == Some(name.as_os_str()))
                .map(|(link, _)| link.clone());
            Some(UsbSerialPort {
                device: roots.dev.join(&name),
                by_id: link,
                id,
            })
        })
        .collect();
    ports.sort_by(|a, b| a.device.cmp(&b.device));
    ports
}

/// `(link, target)` for every link in the by-id directory.
fn by_id_links(roots: &SerialRoots) -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(&roots.by_id) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            Some((e.path(), target))
        })
        .collect()
}

fn names(paths: impl Iterator<Item = String>, none: &str) -> String {
    let list: Vec<String> = paths.collect();
    if list.is_empty() {
        none.to_owned()
    } else {
        list.join(", ")
    }
}

/// The one port `spec` names, or why there is not exactly one.
pub fn resolve(spec: &SerialPortSpec, roots: &SerialRoots) -> Result<PathBuf, SerialPortError> {
    let (candidates, found): (Vec<PathBuf>, String) = match spec {
        SerialPortSpec::Path(pattern) => {
            let matches: Vec<PathBuf> = glob::glob(pattern)
                .map(|paths| paths.filter_map(Result::ok).collect())
                .unwrap_or_default();
            let mut there: Vec<String> = std::fs::read_dir(&roots.by_id)
                .map(|entries| {
                    let names = entries.filter_map(Result::ok);
                    names.map(|e| e.path().display().to_string()).collect()
                })
                .unwrap_or_default();
            there.sort();
            let there = there.into_iter();
            let found = format!("in {}: {}", roots.by_id.display(), names(there, "nothing"));
            (matches, found)
        }
        SerialPortSpec::Usb(id) => {
            let ports = usb_serial_ports(roots);
            let found = format!(
                "USB serial ports: {}",
                names(
                    ports
                        .iter()
                        .map(|p| format!("{} ({})", p.device.display(), p.id)),
                    "none"
                )
            );
            let matching = ports
                .iter()
                .filter(|p| id.matches(p.id.vendor_id, p.id.product_id, p.id.serial.as_deref()))
                .map(|p| p.path().to_owned())
                .collect();
            (matching, found)
        }
    };
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(SerialPortError::NotFound {
            spec: spec.to_string(),
            found,
        }),
        several => Err(SerialPortError::Ambiguous {
            spec: spec.to_string(),
            count: several.len(),
            ports: names(several.iter().map(|p| p.display().to_string()), ""),
        }),
    }
}

/// Resolve `spec` and open the port at `baud`.
pub fn open(
    spec: &SerialPortSpec,
    baud: u32,
    roots: &SerialRoots,
) -> Result<SerialSource, SerialPortError> {
    let path = resolve(spec, roots)?;
    let name = path.display().to_string();
    SerialSource::open(&name, baud).map_err(|e| SerialPortError::Open {
        path: name,
        message: e.to_string(),
    })
}

/// A real board's serial port as a [`ByteSource`]: reopened if it is native USB and vanishes.
pub struct PortSource {
    spec: SerialPortSpec,
    baud: u32,
    roots: SerialRoots,
    native_usb: bool,
    port: Option<SerialSource>,
    /// While the port is away: when that becomes an error.
    away_until: Option<Instant>,
    reappear: Duration,
    last_error: String,
}

impl PortSource {
    /// A source over `port` (already open) or, for native USB, none yet: it is opened when it appears.
    pub fn new(
        spec: SerialPortSpec,
        baud: u32,
        roots: SerialRoots,
        native_usb: bool,
        port: Option<SerialSource>,
    ) -> Self {
        Self {
            spec,
            baud,
            roots,
            native_usb,
            away_until: port.is_none().then(|| Instant::now() + REAPPEAR_TIMEOUT),
            port,
            reappear: REAPPEAR_TIMEOUT,
            last_error: "it has not appeared".into(),
        }
    }

    /// How long a vanished native USB port may stay away (default [`REAPPEAR_TIMEOUT`]).
    pub fn with_reappear_timeout(mut self, timeout: Duration) -> Self {
        if self.away_until.is_some() {
            self.away_until = Some(Instant::now() + timeout);
        }
        self.reappear = timeout;
        self
    }

    fn vanished(&mut self, why: String) -> io::Result<ReadOutcome> {
        self.port = None;
        if !self.native_usb {
            return Err(io::Error::other(format!(
                "serial port {} vanished: {why}",
                self.spec
            )));
        }
        tracing::debug!(port = %self.spec, %why, "native USB port gone; waiting for it to come back");
        self.last_error = why;
        self.away_until = Some(Instant::now() + self.reappear);
        Ok(ReadOutcome::Idle)
    }
}

impl ByteSource for PortSource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        let Some(port) = self.port.as_mut() else {
            match open(&self.spec, self.baud, &self.roots) {
                Ok(port) => {
                    tracing::debug!(port = %port.describe(), "serial port (re)opened");
                    self.port = Some(port);
                    self.away_until = None;
                }
                Err(e) if self.away_until.is_some_and(|t| Instant::now() >= t) => {
                    return Err(io::Error::other(format!(
                        "serial port {} did not come back within {:.0} s ({}; last: {e})",
                        self.spec,
                        self.reappear.as_secs_f64(),
                        self.last_error
                    )));
                }
                Err(e) => {
                    self.last_error = e.to_string();
                    std::thread::sleep(READ_TIMEOUT);
                }
            }
            return Ok(ReadOutcome::Idle);
        };
        match port.read_some(buf) {
            Ok(ReadOutcome::Closed) => self.vanished("the device closed".into()),
            Err(e) => self.vanished(e.to_string()),
            other => other,
        }
    }

    fn describe(&self) -> String {
        match &self.port {
            Some(port) => port.describe(),
            None => format!("serial port {}", self.spec),
        }
    }
}
