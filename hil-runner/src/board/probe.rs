//! The `[probe]` and `[serial]` tables of a real board (`kind = "probe"`), validated.
//!
//! ```toml
//! [probe]
//! chip = "STM32F401RETx"        # probe-rs target name
//! selector = "0483:374b"        # optional VID:PID[-INTERFACE][:serial] (probe-rs's syntax); default: the only probe attached
//! connect_under_reset = false   # optional
//! speed = 4000                  # optional: SWD/JTAG clock in kHz; default: the probe's
//! protocol = "swd"              # optional: "swd" or "jtag"; default: the probe's
//! allow_erase_all = false       # optional: let probe-rs erase a locked chip (nRF APPROTECT)
//!
//! [serial]
//! port = "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*"  # a path (glob allowed), or
//! usb = "0483:374b"             # VID:PID[:serial] of the USB serial device
//! baud = 115200
//! native_usb = false            # the port is the target's own USB CDC (vanishes on reset)
//! ```
//!
//! The top-level `log` field says where the firmware's defmt frames come
//! from: `"serial"` (the default: the `[serial]` port) or `"rtt"` (RTT
//! up-channel 0, read through the debug probe; no `[serial]` table needed).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use probe_rs::config::Registry;
use serde::Deserialize;

/// `[probe]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    chip: String,
    selector: Option<String>,
    #[serde(default)]
    connect_under_reset: bool,
    speed: Option<u32>,
    protocol: Option<String>,
    #[serde(default)]
    allow_erase_all: bool,
}

/// `[serial]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSerial {
    port: Option<String>,
    usb: Option<String>,
    #[serde(default = "default_baud")]
    baud: u32,
    #[serde(default)]
    native_usb: bool,
}

fn default_baud() -> u32 {
    115_200
}

/// How a real board is reached: its chip, its debug probe, its serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeBoard {
    /// probe-rs target name of the chip (`STM32F401RETx`).
    pub chip: String,
    /// Which debug probe; `None`: the only one attached.
    pub selector: Option<UsbId>,
    /// Attach with the reset line held (chips that remap or sleep their SWD pins).
    pub connect_under_reset: bool,
    /// SWD/JTAG clock in kHz (`probe.speed`); `None`: the probe's default.
    pub speed_khz: Option<u32>,
    /// Wire protocol (`probe.protocol`); `None`: the probe's default.
    pub protocol: Option<WireProtocol>,
    /// Let probe-rs erase the whole chip to unlock it (`probe.allow_erase_all`).
    pub allow_erase_all: bool,
    /// Where the firmware's defmt frames are read from (`log`, with `[serial]`).
    pub log: LogSource,
}

impl ProbeBoard {
    /// The serial port the firmware logs to; `None` when it logs over RTT.
    pub fn serial(&self) -> Option<&SerialSettings> {
        match &self.log {
            LogSource::Serial(serial) => Some(serial),
            LogSource::Rtt => None,
        }
    }
}

/// Where a real board's log comes from: the board file's `log` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// `log = "serial"` (the default): the `[serial]` port.
    Serial(SerialSettings),
    /// `log = "rtt"`: RTT up-channel 0 (defmt-rtt's channel), read through the debug probe.
    Rtt,
}

impl LogSource {
    /// The value of `log` that selects it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Serial(_) => "serial",
            Self::Rtt => "rtt",
        }
    }
}

/// The debug wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireProtocol {
    /// Serial Wire Debug.
    Swd,
    /// JTAG.
    Jtag,
}

/// The `[serial]` table: which port, at what speed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialSettings {
    /// How to find the port.
    pub port: SerialPortSpec,
    /// Baud rate (ignored by USB CDC devices, used for the host's port settings).
    pub baud: u32,
    /// The port is the target's own USB CDC device: it vanishes on reset and is reopened.
    pub native_usb: bool,
}

/// How a serial port is named in a board file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialPortSpec {
    /// A device path, glob patterns allowed (`/dev/serial/by-id/usb-SEGGER_J-Link_*-if00`).
    Path(String),
    /// The USB device with this VID:PID[:serial].
    Usb(UsbId),
}

impl fmt::Display for SerialPortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => f.write_str(p),
            Self::Usb(id) => write!(f, "USB device {id}"),
        }
    }
}

/// A USB device named by `VID:PID[-INTERFACE][:serial]` (hexadecimal VID and PID, decimal
/// interface number), probe-rs's `DebugProbeSelector` syntax.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsbId {
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
    /// USB interface number (a probe that offers its debug function on several interfaces);
    /// `None` matches any.
    pub interface: Option<u8>,
    /// Serial number string; `None` matches any.
    pub serial: Option<String>,
}

impl UsbId {
    /// Whether a device with these ids and serial number is this one (any interface).
    pub fn matches(&self, vendor_id: u16, product_id: u16, serial: Option<&str>) -> bool {
        self.vendor_id == vendor_id
            && self.product_id == product_id
            && self.serial.as_deref().is_none_or(|s| serial == Some(s))
    }

    /// Whether the probe `device`, listed on `interfaces`, is this one: the same ids and
    /// serial number, and one of those interfaces when this names one.
    pub fn matches_probe(&self, device: &UsbId, interfaces: &[u8]) -> bool {
        self.matches(
            device.vendor_id,
            device.product_id,
            device.serial.as_deref(),
        ) && self.interface.is_none_or(|i| interfaces.contains(&i))
    }
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor_id, self.product_id)?;
        if let Some(interface) = self.interface {
            write!(f, "-{interface}")?;
        }
        if let Some(serial) = &self.serial {
            write!(f, ":{serial}")?;
        }
        Ok(())
    }
}

impl FromStr for UsbId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const FORM: &str = "VID:PID[-INTERFACE][:serial]";
        let mut parts = s.splitn(3, ':');
        let hex = |part: Option<&str>, what: &str| {
            let part = part.unwrap_or_default();
            if part.is_empty() || part.len() > 4 {
                return Err(format!(
                    "{s:?} is not {FORM} (the {what} must be 1 to 4 hex digits)"
                ));
            }
            u16::from_str_radix(part, 16)
                .map_err(|_| format!("{s:?} is not {FORM} ({what} {part:?} is not hex)"))
        };
        let vendor_id = hex(parts.next(), "vendor id")?;
        // probe-rs: `PID-INTERFACE`, the interface a decimal number.
        let (product, interface) = match parts.next() {
            Some(pid) => match pid.split_once('-') {
                Some((pid, interface)) => (Some(pid), Some(interface)),
                None => (Some(pid), None),
            },
            None => (None, None),
        };
        let product_id = hex(product, "product id")?;
        let interface = interface
            .map(|i| {
                i.parse::<u8>().map_err(|_| {
                    format!("{s:?} is not {FORM} (interface {i:?} is not a number from 0 to 255)")
                })
            })
            .transpose()?;
        let serial = match parts.next() {
            Some("") => {
                return Err(format!(
                    "{s:?}: the serial number after the second `:` is empty"
                ))
            }
            other => other.map(str::to_owned),
        };
        Ok(Self {
            vendor_id,
            product_id,
            interface,
            serial,
        })
    }
}

/// probe-rs's built-in chip registry, built once.
pub fn registry() -> &'static Registry {
    static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::from_builtin_families);
    &REGISTRY
}

/// The chip `name` in probe-rs's built-in registry; the error says why not, with suggestions.
pub fn chip_target(name: &str) -> Result<probe_rs::Target, String> {
    match registry().get_target_by_name(name) {
        Ok(target) if target.name.eq_ignore_ascii_case(name) => Ok(target),
        Ok(target) => Err(format!(
            "{name:?} only matches probe-rs's chip {:?} partially; write its full name",
            target.name
        )),
        Err(_) => {
            // Suggest the chips that share the longest prefix with the name.
            let similar = (4..name.len())
                .rev()
                .filter_map(|n| name.get(..n))
                .map(|prefix| {
                    let mut chips = registry().search_chips(prefix);
                    chips.dedup();
                    chips
                })
                .find(|chips| !chips.is_empty())
                .unwrap_or_default();
            let hint = match similar.len() {
                0 => "`probe-rs chip list` shows the known chips".to_owned(),
                n if n <= 8 => format!("similar: {}", similar.join(", ")),
                n => format!("similar: {} and {} more", similar[..8].join(", "), n - 8),
            };
            Err(format!("probe-rs does not know the chip {name:?}; {hint}"))
        }
    }
}

/// Validate `[probe]`, `[serial]` and `log`; an error is the field and what is wrong with it.
pub(super) fn validate(
    probe: RawProbe,
    serial: Option<RawSerial>,
    log: Option<&str>,
) -> Result<ProbeBoard, (&'static str, String)> {
    if probe.chip.is_empty() {
        return Err(("probe.chip", "must name a probe-rs chip".into()));
    }
    chip_target(&probe.chip).map_err(|m| ("probe.chip", m))?;
    let selector = probe
        .selector
        .map(|s| s.parse::<UsbId>())
        .transpose()
        .map_err(|m| ("probe.selector", m))?;
    if probe.speed == Some(0) {
        return Err(("probe.speed", "must be a positive clock in kHz".into()));
    }
    let protocol = match probe
        .protocol
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => None,
        Some("swd") => Some(WireProtocol::Swd),
        Some("jtag") => Some(WireProtocol::Jtag),
        Some(other) => {
            return Err((
                "probe.protocol",
                format!("{other:?} is not a debug protocol: write \"swd\" or \"jtag\""),
            ))
        }
    };
    let serial = serial.map(validate_serial).transpose()?;
    let log = match (log.unwrap_or("serial"), serial) {
        ("serial", Some(serial)) => LogSource::Serial(serial),
        ("serial", None) => {
            return Err((
                "serial",
                "a probe board needs a [serial] table (or `log = \"rtt\"`: the log over RTT)"
                    .into(),
            ))
        }
        // A [serial] table is checked but not used: switching `log` back needs no other edit.
        ("rtt", _) => LogSource::Rtt,
        (other, _) => {
            return Err((
                "log",
                format!("{other:?} is not a log source: write \"serial\" or \"rtt\""),
            ))
        }
    };
    Ok(ProbeBoard {
        chip: probe.chip,
        selector,
        connect_under_reset: probe.connect_under_reset,
        speed_khz: probe.speed,
        protocol,
        allow_erase_all: probe.allow_erase_all,
        log,
    })
}

/// Validate `[serial]`.
fn validate_serial(serial: RawSerial) -> Result<SerialSettings, (&'static str, String)> {
    let port = match (serial.port, serial.usb) {
        (Some(_), Some(_)) => {
            return Err((
                "serial.usb",
                "give either serial.port or serial.usb, not both".into(),
            ))
        }
        (None, None) => {
            return Err((
                "serial.port",
                "name the serial port: serial.port (a path) or serial.usb (VID:PID[:serial])"
                    .into(),
            ))
        }
        (Some(path), None) => {
            if path.is_empty() || !path.starts_with('/') {
                return Err(("serial.port", format!("{path:?} is not an absolute path")));
            }
            glob::Pattern::new(&path)
                .map_err(|e| ("serial.port", format!("{path:?} is not a valid glob: {e}")))?;
            SerialPortSpec::Path(path)
        }
        (None, Some(usb)) => {
            let id: UsbId = usb.parse().map_err(|m| ("serial.usb", m))?;
            if id.interface.is_some() {
                return Err((
                    "serial.usb",
                    format!(
                        "{usb:?}: a serial port is found by VID:PID[:serial]; to pick one \
                         interface of the device, give its path in serial.port \
                         (/dev/serial/by-id/...-ifNN)"
                    ),
                ));
            }
            SerialPortSpec::Usb(id)
        }
    };
    if serial.baud == 0 {
        return Err(("serial.baud", "must be a positive baud rate".into()));
    }
    Ok(SerialSettings {
        port,
        baud: serial.baud,
        native_usb: serial.native_usb,
    })
}
