//! Raspberry Pi Pico (RP2040, Cortex-M0+) logging through its own USB port, a CDC-ACM serial port.
//!
//! The native-USB board: the log leaves through the RP2040's USB device
//! controller as a usbd-serial CDC-ACM port (VID:PID 1209:0001, pid.codes'
//! test ID; serial number `hil-rpi-pico-usb`); the Debug Probe only flashes
//! and watches the core. The USB device is polled, never interrupt-driven:
//! [`init`] and [`uart_write`] poll it. Clocks: see [`crate::rp2040`].
//!
//! # When a write blocks
//!
//! The port counts as open while the device is configured and the host holds
//! DTR (Linux's cdc-acm driver raises it when a program opens the tty).
//!
//! - While the port is open, a write blocks until the host has taken every
//!   byte into the USB endpoint: no timeout, like a UART with flow control.
//!   A host that keeps the port open but stops reading stalls the firmware;
//!   the runner's timeout ends such a run.
//! - While the port is closed (no host yet, or it went away), a write waits
//!   for it to open for up to [`HOST_WAIT`] since the port was last open (or
//!   since [`init`]), polling the device so that the host can enumerate it.
//!   After that the bytes are discarded at once, until the port opens again:
//!   a board with no host attached still runs to its end and halts, and the
//!   loss shows on the host as missing frames.
//!
//! [`init`] itself waits (the same way) for the host to open the port, so the
//! first frames of a run are not lost to enumeration.

use rp2040_hal::{
    fugit::MicrosDurationU64,
    pac,
    timer::{Instant, Timer},
    usb::UsbBus,
};
use usb_device::{
    class_prelude::UsbBusAllocator,
    prelude::{StringDescriptors, UsbDevice, UsbDeviceBuilder, UsbDeviceState, UsbVidPid},
    UsbError,
};
use usbd_serial::{SerialPort, USB_CLASS_CDC};

use crate::driver_cell::DriverCell;
use crate::rp2040;

pub use crate::probe::exit;
pub use crate::rp2040::CORE_CLOCK_HZ;

/// The board's name, as in `boards/rpi-pico-usb.toml`.
pub const NAME: &str = "rpi-pico-usb";

/// How long a write waits for the host to open the port (see the module docs).
pub const HOST_WAIT: MicrosDurationU64 = MicrosDurationU64::secs(10);

/// USB vendor and product id: pid.codes' test VID:PID, for private testing only.
const VID_PID: UsbVidPid = UsbVidPid(0x1209, 0x0001);
/// USB serial number string, for telling this port from others on the host.
const SERIAL_NUMBER: &str = "hil-rpi-pico-usb";

/// The USB device with its one CDC-ACM serial port.
struct UsbSerialPort {
    device: UsbDevice<'static, UsbBus>,
    port: SerialPort<'static, UsbBus>,
    timer: Timer,
    /// Until when a write waits for a closed port to open.
    host_deadline: Instant,
}

// SAFETY: the USB bus allocator that `device` and `port` borrow is reachable
// only through them (`init` hands its one reference to their builders and
// keeps none), and they live in one `UsbSerialPort` inside a `DriverCell`,
// used only inside critical sections on a single core. Moving it to another
// execution context (an interrupt handler) therefore never lets two contexts
// use the allocator's `RefCell`s at the same time.
unsafe impl Send for UsbSerialPort {}

/// The USB serial port, once [`init`] has set it up.
static SERIAL: DriverCell<UsbSerialPort> = DriverCell::empty();

impl UsbSerialPort {
    /// Services the USB device (enumeration, control requests, finished
    /// transfers); bytes the host sends are read and discarded.
    fn poll(&mut self) {
        if self.device.poll(&mut [&mut self.port]) {
            let mut discarded = [0u8; 64];
            while let Ok(1..) = self.port.read(&mut discarded) {}
        }
    }

    /// Whether the host has the port open: configured, with DTR held.
    fn is_open(&self) -> bool {
        self.device.state() == UsbDeviceState::Configured && self.port.dtr()
    }

    /// Polls once and tells whether the port is open; if it is closed, polls
    /// on until it opens or the host deadline passes. False means: discard.
    fn wait_until_open(&mut self) -> bool {
        loop {
            self.poll();
            let now = self.timer.get_counter();
            if self.is_open() {
                self.host_deadline = now + HOST_WAIT;
                return true;
            }
            if now >= self.host_deadline {
                return false;
            }
        }
    }

    /// Writes all of `bytes` and pushes them into the endpoint (see the module docs).
    fn write_all(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if !self.wait_until_open() {
                return;
            }
            match self.port.write(rest) {
                Ok(written) => rest = &rest[written..],
                Err(UsbError::WouldBlock) => {}
                // Another USB error: these bytes are lost (the host counts
                // them as missing), rather than retried forever.
                Err(_) => return,
            }
        }
        // Hand what usbd-serial still buffers to the endpoint, so that the
        // host gets it without another write.
        while self.wait_until_open() {
            if self.port.flush() != Err(UsbError::WouldBlock) {
                return;
            }
        }
    }
}

/// Starts the clocks and the USB device, then waits up to [`HOST_WAIT`] for
/// the host to enumerate it and open the port.
///
/// # Panics
///
/// When called twice (the device peripherals are taken once), or when the
/// clocks do not start.
pub fn init() {
    let mut device = pac::Peripherals::take().expect("hil_board::init is called once");
    let clocks = rp2040::start_clocks(
        device.XOSC,
        device.CLOCKS,
        device.PLL_SYS,
        device.PLL_USB,
        device.WATCHDOG,
        &mut device.RESETS,
    );
    let timer = Timer::new(device.TIMER, &mut device.RESETS, &clocks);
    let bus = UsbBus::new(
        device.USBCTRL_REGS,
        device.USBCTRL_DPRAM,
        clocks.usb_clock,
        // The Pico senses VBUS on a GPIO, not on the USB block's own pin.
        true,
        &mut device.RESETS,
    );
    let allocator: &'static UsbBusAllocator<UsbBus> =
        cortex_m::singleton!(: UsbBusAllocator<UsbBus> = UsbBusAllocator::new(bus))
            .expect("hil_board::init is called once");
    let port = SerialPort::new(allocator);
    let strings = StringDescriptors::default()
        .manufacturer("hil")
        .product("hil test firmware log")
        .serial_number(SERIAL_NUMBER);
    let usb_device = UsbDeviceBuilder::new(allocator, VID_PID)
        .strings(&[strings])
        .expect("one language of strings")
        .device_class(USB_CLASS_CDC)
        .build();
    let mut serial = UsbSerialPort {
        device: usb_device,
        port,
        timer,
        host_deadline: timer.get_counter() + HOST_WAIT,
    };
    serial.wait_until_open();
    SERIAL.put(serial);
}

/// Writes `bytes` to the USB serial port, polling the USB device meanwhile;
/// blocks while the host has the port open (see the module docs).
///
/// Does nothing before [`init`].
pub fn uart_write(bytes: &[u8]) {
    SERIAL.with(|serial| serial.write_all(bytes));
}
