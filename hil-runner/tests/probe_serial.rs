//! A real board's serial port without a board: resolution by VID:PID against a fake sysfs tree and
//! by glob, ports that vanish (ptys whose other end closes), and the boot-marker gate.

mod probe_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hil_runner::board::SerialPortSpec;
use hil_runner::boot_gate::BootGate;
use hil_runner::serial_port::{self, PortSource, SerialPortError, SerialRoots};
use hil_runner::source::{ByteSource, ReadOutcome};
use probe_support::{drain, ScriptedSource};

/// A fake `/sys` and `/dev` under `root`.
struct FakeSys {
    root: PathBuf,
}

impl FakeSys {
    fn new(root: &Path) -> Self {
        for d in ["sys/class/tty", "dev/serial/by-id"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        Self { root: root.into() }
    }

    fn roots(&self) -> SerialRoots {
        SerialRoots {
            tty_class: self.root.join("sys/class/tty"),
            dev: self.root.join("dev"),
            by_id: self.root.join("dev/serial/by-id"),
        }
    }

    /// A USB device at `usb_path` with a tty `name` `depth` directories below the device.
    fn usb_tty(&self, name: &str, usb_path: &str, ids: (&str, &str, Option<&str>), depth: usize) {
        let usb = self.root.join("sys/devices").join(usb_path);
        let mut device = usb.join(format!("{usb_path}:1.0"));
        for _ in 1..depth {
            device = device.join(name);
        }
        std::fs::create_dir_all(&device).unwrap();
        std::fs::write(usb.join("idVendor"), format!("{}\n", ids.0)).unwrap();
        std::fs::write(usb.join("idProduct"), format!("{}\n", ids.1)).unwrap();
        if let Some(serial) = ids.2 {
            std::fs::write(usb.join("serial"), format!("{serial}\n")).unwrap();
        }
        let class = self.root.join("sys/class/tty").join(name);
        std::fs::create_dir_all(&class).unwrap();
        std::os::unix::fs::symlink(&device, class.join("device")).unwrap();
    }

    fn by_id(&self, link: &str, tty: &str) {
        let path = self.root.join("dev/serial/by-id").join(link);
        std::os::unix::fs::symlink(format!("../../{tty}"), path).unwrap();
    }
}

fn usb(s: &str) -> SerialPortSpec {
    SerialPortSpec::Usb(s.parse().unwrap())
}

#[test]
fn a_usb_id_resolves_through_sysfs_to_the_by_id_link() {
    let dir = tempfile::tempdir().unwrap();
    let sys = FakeSys::new(dir.path());
    sys.usb_tty("ttyACM0", "1-2", ("0483", "374b", Some("066DFF")), 1);
    sys.usb_tty("ttyACM1", "1-3", ("2e8a", "000c", Some("E66")), 1);
    // An FTDI-style tty sits one level further below its USB interface.
    sys.usb_tty("ttyUSB0", "1-4", ("0403", "6001", None), 2);
    std::fs::create_dir_all(dir.path().join("sys/class/tty/ttyS0")).unwrap();
    sys.by_id("usb-STMicroelectronics_STM32_STLink_066DFF-if02", "ttyACM0");
    let roots = sys.roots();

    let found = serial_port::resolve(&usb("0483:374b"), &roots).unwrap();
    assert_eq!(
        found,
        roots
            .by_id
            .join("usb-STMicroelectronics_STM32_STLink_066DFF-if02")
    );
    assert_eq!(
        serial_port::resolve(&usb("2e8a:000c:E66"), &roots).unwrap(),
        roots.dev.join("ttyACM1")
    );
    assert_eq!(
        serial_port::resolve(&usb("0403:6001"), &roots).unwrap(),
        roots.dev.join("ttyUSB0")
    );

    let ports = serial_port::usb_serial_ports(&roots);
    let ids: Vec<String> = ports.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["0483:374b:066DFF", "2e8a:000c:E66", "0403:6001"]);
}

#[test]
fn a_usb_id_with_no_device_names_the_usb_serial_ports_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let sys = FakeSys::new(dir.path());
    sys.usb_tty("ttyACM0", "1-2", ("0483", "374b", Some("066DFF")), 1);
    let err = serial_port::resolve(&usb("0483:374b:OTHER"), &sys.roots()).unwrap_err();
    assert!(matches!(err, SerialPortError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("USB device 0483:374b:OTHER"), "{text}");
    assert!(text.contains("ttyACM0 (0483:374b:066DFF)"), "{text}");

    let empty = tempfile::tempdir().unwrap();
    let err =
        serial_port::resolve(&usb("1209:0001"), &FakeSys::new(empty.path()).roots()).unwrap_err();
    assert!(err.to_string().contains("USB serial ports: none"), "{err}");
}

#[test]
fn two_devices_with_the_same_usb_id_are_ambiguous_until_the_serial_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let sys = FakeSys::new(dir.path());
    sys.usb_tty("ttyACM0", "1-2", ("2e8a", "000c", Some("A")), 1);
    sys.usb_tty("ttyACM1", "1-3", ("2e8a", "000c", Some("B")), 1);
    let err = serial_port::resolve(&usb("2e8a:000c"), &sys.roots()).unwrap_err();
    assert!(
        matches!(err, SerialPortError::Ambiguous { count: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("ttyACM0") && err.to_string().contains("ttyACM1"),
        "{err}"
    );
    assert_eq!(
        serial_port::resolve(&usb("2e8a:000c:B"), &sys.roots()).unwrap(),
        sys.roots().dev.join("ttyACM1")
    );
}

#[test]
fn a_path_glob_resolves_to_its_one_match_and_otherwise_says_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let sys = FakeSys::new(dir.path());
    let by_id = sys.roots().by_id;
    std::fs::write(by_id.join("usb-SEGGER_J-Link_000683-if00"), "").unwrap();
    std::fs::write(by_id.join("usb-SEGGER_J-Link_000683-if02"), "").unwrap();
    let spec = |p: &str| SerialPortSpec::Path(format!("{}/{p}", by_id.display()));

    let one = serial_port::resolve(&spec("usb-SEGGER_J-Link_*-if00"), &sys.roots()).unwrap();
    assert_eq!(one, by_id.join("usb-SEGGER_J-Link_000683-if00"));

    let err = serial_port::resolve(&spec("usb-SEGGER_J-Link_*"), &sys.roots()).unwrap_err();
    assert!(
        matches!(err, SerialPortError::Ambiguous { count: 2, .. }),
        "{err}"
    );

    let err = serial_port::resolve(&spec("usb-STMicro*"), &sys.roots()).unwrap_err();
    assert!(matches!(err, SerialPortError::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("usb-SEGGER_J-Link_000683-if00"),
        "{err}"
    );
}

/// A pty whose slave is reached through `link`; returns the master end.
fn pty_at(link: &Path) -> serialport::TTYPort {
    let (master, slave) = serialport::TTYPort::pair().unwrap();
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(serialport::SerialPort::name(&slave).unwrap(), link).unwrap();
    master
}

fn read_until(
    source: &mut dyn ByteSource,
    want: usize,
    within: Duration,
) -> std::io::Result<Vec<u8>> {
    let (mut got, mut buf, until) = (Vec::new(), [0u8; 64], Instant::now() + within);
    while got.len() < want && Instant::now() < until {
        match source.read_some(&mut buf)? {
            ReadOutcome::Data(n) => got.extend_from_slice(&buf[..n]),
            ReadOutcome::Idle => {}
            ReadOutcome::Closed => break,
        }
    }
    Ok(got)
}

fn port_source(link: &Path, native_usb: bool, reappear: Duration) -> PortSource {
    let spec = SerialPortSpec::Path(link.display().to_string());
    let port = serial_port::open(&spec, 115_200, &SerialRoots::default()).ok();
    PortSource::new(spec, 115_200, SerialRoots::default(), native_usb, port)
        .with_reappear_timeout(reappear)
}

#[test]
fn a_uart_port_that_vanishes_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUART");
    let mut master = pty_at(&link);
    let mut source = port_source(&link, false, Duration::from_secs(1));
    master.write_all(b"abc").unwrap();
    assert_eq!(
        read_until(&mut source, 3, Duration::from_secs(2)).unwrap(),
        b"abc"
    );
    drop(master);
    let err = read_until(&mut source, 1, Duration::from_secs(2)).unwrap_err();
    assert!(
        err.to_string().contains("vanished") && err.to_string().contains("ttyUART"),
        "{err}"
    );
}

#[test]
fn a_native_usb_port_that_vanishes_on_reset_is_reopened_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyACM-target");
    let mut master = pty_at(&link);
    let mut source = port_source(&link, true, Duration::from_secs(5));
    master.write_all(b"before").unwrap();
    assert_eq!(
        read_until(&mut source, 6, Duration::from_secs(2)).unwrap(),
        b"before"
    );
    drop(master); // the reset: the device goes away
    std::fs::remove_file(&link).unwrap();
    assert!(read_until(&mut source, 1, Duration::from_millis(200))
        .unwrap()
        .is_empty());
    let mut master = pty_at(&link); // and enumerates again
    let reader = std::thread::spawn(move || read_until(&mut source, 5, Duration::from_secs(3)));
    // serialport's master end refuses writes (POLLHUP) until the source has reopened the slave.
    let until = Instant::now() + Duration::from_secs(3);
    while master.write_all(b"after").is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(reader.join().unwrap().unwrap(), b"after");
}

#[test]
fn a_native_usb_port_that_never_appears_is_an_error_after_the_reappear_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyACM-never");
    let mut source = port_source(&link, true, Duration::from_millis(300));
    let started = Instant::now();
    let err = read_until(&mut source, 1, Duration::from_secs(3)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        err.to_string().contains("did not come back") && err.to_string().contains("ttyACM-never"),
        "{err}"
    );
}

fn boot(index: u16) -> Vec<u8> {
    let mut raw = index.to_le_bytes().to_vec();
    for s in ["board", "test"] {
        raw.extend_from_slice(&(s.len() as u32).to_le_bytes());
        raw.extend_from_slice(s.as_bytes());
    }
    let mut frame = Vec::new();
    hil_runner::rzcobs::encode_frame(&raw, &mut frame);
    frame
}

#[test]
fn the_boot_gate_passes_the_boot_frame_and_everything_after_it() {
    let frame = boot(3);
    let (head, tail) = frame.split_at(4);
    let garbage: &[u8] = b"\x11\x22\0stale log\0\x7f";
    let mut gate = BootGate::new(ScriptedSource::chunks(&[garbage, head, tail, b"next\0"]), 3);
    let counter = gate.discarded();
    let out = drain(&mut gate);
    assert_eq!(out, [frame.as_slice(), b"next\0"].concat());
    assert!(gate.is_open());
    assert_eq!(counter.load(Ordering::Relaxed), garbage.len() as u64);
}

#[test]
fn the_boot_gate_ignores_frames_of_another_index_and_counts_everything_without_a_boot() {
    let mut gate = BootGate::new(
        ScriptedSource::chunks(&[&boot(4), b"tail without delimiter"]),
        3,
    );
    let counter = gate.discarded();
    assert!(drain(&mut gate).is_empty());
    assert!(!gate.is_open());
    drop(gate);
    let all = boot(4).len() + b"tail without delimiter".len();
    assert_eq!(counter.load(Ordering::Relaxed), all as u64);
}

#[test]
fn the_boot_gate_keeps_memory_bounded_on_endless_garbage() {
    let junk = vec![0x55u8; 10_000];
    let mut chunks: Vec<&[u8]> = vec![&junk; 20];
    let frame = boot(9);
    chunks.push(b"\0");
    chunks.push(&frame);
    let mut gate = BootGate::new(ScriptedSource::chunks(&chunks), 9);
    let counter = gate.discarded();
    assert_eq!(drain(&mut gate), frame);
    assert_eq!(counter.load(Ordering::Relaxed), 200_001);
}
