//! The log read over RTT: a pump on the watcher's thread that reads up-channel 0 while it
//! watches the core, and the [`ByteSource`] the runner reads the bytes from.
//!
//! The probe session is the watcher's, so the channel is read there: [`RttPump`] wraps the
//! session's [`TargetControl`], reads the channel whenever the watcher asks for the core's
//! status and while it waits between two polls ([`TargetControl::idle`]), and hands the
//! bytes to [`RttSource`]. The control block is looked for from the start of the run until
//! [`RTT_ATTACH_DEADLINE`] (it exists only once the firmware has initialised its statics);
//! once found, the channel is put in blocking mode, as `probe-rs run` does for defmt, so the
//! firmware waits for the host rather than lose frames. When the core stops for good (an
//! exit, a breakpoint, a fault, a lockup, the runner's halt) the channel is drained before
//! the watcher reports the end, and the source closes once its last byte is read: the last
//! frames are not lost and the runner need not wait for the link to go quiet.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::access::{Answered, CoreRegister, CoreStatus, HaltCause, Semihosting};
use super::progress::FlashEvent;
use super::rtt::{self, RttLocation, UpChannel};
use super::{ProbeError, TargetControl};
use crate::source::{ByteSource, ReadOutcome, READ_TIMEOUT};

/// How long the control block is looked for after the core starts.
pub const RTT_ATTACH_DEADLINE: Duration = Duration::from_secs(10);
/// How long the pump waits when the channel was empty.
const RTT_POLL: Duration = Duration::from_millis(1);
/// How often the control block is looked for until it is found (a RAM scan is slow).
const ATTACH_RETRY: Duration = Duration::from_millis(20);
/// Reads of a halted core's channel at most (one empties it; a second confirms).
const DRAIN_READS: usize = 4;

#[derive(Default)]
struct State {
    bytes: VecDeque<u8>,
    closed: bool,
    error: Option<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.ready.notify_all();
    }
}

/// The bytes of RTT up-channel 0, as the pump reads them.
pub struct RttSource {
    shared: Arc<Shared>,
    name: String,
}

impl ByteSource for RttSource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        let mut state = self.shared.lock();
        if state.bytes.is_empty() && !state.closed && state.error.is_none() {
            state = self
                .shared
                .ready
                .wait_timeout(state, READ_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if !state.bytes.is_empty() {
            let n = buf.len().min(state.bytes.len());
            for (to, from) in buf.iter_mut().zip(state.bytes.drain(..n)) {
                *to = from;
            }
            return Ok(ReadOutcome::Data(n));
        }
        if let Some(e) = state.error.take() {
            state.closed = true;
            return Err(io::Error::other(e));
        }
        Ok(if state.closed {
            ReadOutcome::Closed
        } else {
            ReadOutcome::Idle
        })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Where the session goes when the pump is dropped (the watcher hands the pump back boxed).
pub struct Returned(Arc<Mutex<Option<Box<dyn TargetControl>>>>);

impl Returned {
    /// The session the pump wrapped, once the pump is dropped.
    pub fn take(&self) -> Option<Box<dyn TargetControl>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// A session whose RTT up-channel 0 is read while the watcher uses it.
pub struct RttPump {
    inner: Option<Box<dyn TargetControl>>,
    returned: Arc<Mutex<Option<Box<dyn TargetControl>>>>,
    location: RttLocation,
    channel: Option<UpChannel>,
    started: Instant,
    deadline: Duration,
    last_try: Option<Instant>,
    last_problem: String,
    shared: Arc<Shared>,
    finished: bool,
    buf: Vec<u8>,
}

impl RttPump {
    /// Read the channel `location` finds through `ctl` (the core just started), giving up
    /// looking after `deadline`; `what` names the source in messages.
    pub fn new(
        ctl: Box<dyn TargetControl>,
        location: RttLocation,
        deadline: Duration,
        what: &str,
    ) -> (Self, RttSource, Returned) {
        let shared = Arc::new(Shared::default());
        let returned = Arc::new(Mutex::new(None));
        let pump = Self {
            inner: Some(ctl),
            returned: returned.clone(),
            location,
            channel: None,
            started: Instant::now(),
            deadline,
            last_try: None,
            last_problem: String::new(),
            shared: shared.clone(),
            finished: false,
            buf: Vec::with_capacity(4096),
        };
        let source = RttSource {
            shared,
            name: format!("RTT up channel 0 of {what}"),
        };
        (pump, source, Returned(returned))
    }

    fn ctl(&mut self) -> &mut dyn TargetControl {
        self.inner
            .as_deref_mut()
            .expect("the session is there until the pump is dropped")
    }

    fn fail(&mut self, error: &ProbeError) {
        tracing::debug!("RTT: {error}");
        let message = error.to_string();
        self.shared.update(|s| s.error = Some(message));
        self.finished = true;
    }

    /// Look for the control block (at most every [`ATTACH_RETRY`] unless `now`); whether the channel is there.
    fn attach(&mut self, now: bool) -> bool {
        if self.channel.is_some() {
            return true;
        }
        if !now && self.last_try.is_some_and(|t| t.elapsed() < ATTACH_RETRY) {
            return false;
        }
        self.last_try = Some(Instant::now());
        let location = self.location.clone();
        match rtt::find(self.ctl(), &location) {
            Ok(Ok(channel)) => {
                if let Err(e) = channel.set_blocking(self.ctl()) {
                    tracing::warn!("RTT: cannot put up channel 0 in blocking mode: {e}");
                }
                tracing::debug!(
                    at = format_args!("{:#010x}", channel.control_block),
                    name = channel.name,
                    size = channel.size,
                    "RTT control block found"
                );
                self.channel = Some(channel);
                return true;
            }
            Ok(Err(why)) => self.last_problem = why,
            Err(e) => self.last_problem = e.to_string(),
        }
        if self.started.elapsed() >= self.deadline {
            self.fail(&ProbeError::RttNotFound {
                looked: self.location.describe(),
                seconds: self.deadline.as_secs_f64(),
                detail: format!("; last look: {}", self.last_problem),
            });
        }
        false
    }

    /// Read what the channel holds; how many bytes.
    fn pump(&mut self, attach_now: bool) -> usize {
        if self.finished || !self.attach(attach_now) {
            return 0;
        }
        let Some(channel) = self.channel.clone() else {
            return 0;
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let read = channel.read(self.ctl(), &mut buf);
        let n = buf.len();
        if n > 0 {
            self.shared.update(|s| s.bytes.extend(&buf));
        }
        self.buf = buf;
        if let Err(e) = read {
            self.fail(&e);
        }
        n
    }

    /// The core has stopped for good: read the rest, then close the source.
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        for _ in 0..DRAIN_READS {
            if self.pump(true) == 0 {
                break;
            }
        }
        if !self.finished && self.channel.is_none() {
            tracing::warn!(
                "RTT: the core stopped before its control block was found ({})",
                self.last_problem
            );
        }
        self.finished = true;
        self.shared.update(|s| s.closed = true);
    }
}

impl Drop for RttPump {
    fn drop(&mut self) {
        self.shared.update(|s| s.closed = true);
        if let Some(ctl) = self.inner.take() {
            *self.returned.lock().unwrap_or_else(PoisonError::into_inner) = Some(ctl);
        }
    }
}

impl TargetControl for RttPump {
    fn flash(
        &mut self,
        elf: &Path,
        progress: &mut dyn FnMut(FlashEvent),
    ) -> Result<(), ProbeError> {
        self.ctl().flash(elf, progress)
    }

    fn reset_and_run(&mut self) -> Result<(), ProbeError> {
        self.ctl().reset_and_run()
    }

    fn status(&mut self) -> Result<CoreStatus, ProbeError> {
        let status = self.ctl().status()?;
        match &status {
            CoreStatus::Running => {
                self.pump(false);
            }
            // Answered, then the core runs on: read what it wrote so far.
            CoreStatus::Halted(HaltCause::Semihosting(request))
                if !matches!(request, Semihosting::Exit { .. }) =>
            {
                self.pump(false);
            }
            CoreStatus::Halted(_) | CoreStatus::LockedUp => self.finish(),
        }
        Ok(status)
    }

    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError> {
        self.ctl().read_register(register)
    }

    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError> {
        self.ctl().read_word(address)
    }

    fn read_bytes(&mut self, address: u32, len: usize) -> Result<Vec<u8>, ProbeError> {
        self.ctl().read_bytes(address, len)
    }

    fn write_word(&mut self, address: u32, value: u32) -> Result<(), ProbeError> {
        self.ctl().write_word(address, value)
    }

    fn halt(&mut self) -> Result<(), ProbeError> {
        let halted = self.ctl().halt();
        self.finish();
        halted
    }

    fn answer_semihosting(&mut self, command_line: &str) -> Result<Answered, ProbeError> {
        self.ctl().answer_semihosting(command_line)
    }

    fn resume(&mut self) -> Result<(), ProbeError> {
        self.ctl().resume()
    }

    fn has_fault_status(&self) -> bool {
        self.inner.as_deref().is_some_and(|c| c.has_fault_status())
    }

    fn idle(&mut self, interval: Duration) {
        let until = Instant::now() + interval;
        loop {
            let n = self.pump(false);
            let now = Instant::now();
            if now >= until {
                return;
            }
            if n == 0 {
                std::thread::sleep(RTT_POLL.min(until - now));
            }
        }
    }
}
