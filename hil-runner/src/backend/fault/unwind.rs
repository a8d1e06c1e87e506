//! A stack trace of the faulting context, from the ELF's debug info: probe-rs-debug's unwinder, as `probe-rs run` prints it.
//!
//! Both backends take the same [`CoreSnapshot`] of the halted core through
//! [`FaultAccess`] ([`capture`]: r0..r15 and xPSR at the halt, the System
//! Control Block's fault registers, the stack from SP to its top), and the
//! same function ([`stack_trace`]) turns it into a [`StackTrace`]: the
//! snapshot is a probe-rs [`CoreDump`], which probe-rs-debug's
//! `DebugInfo::unwind` reads like a core. At the HardFault vector (QEMU's
//! breakpoint, a probe's vector catch) the first frames are the handler and
//! the exception, then the code that faulted and its callers up to `main`.
//!
//! The trace is bounded ([`MAX_FRAMES`]; probe-rs-debug stops on a pc of 0 or
//! `0xFFFF_FFFF` and on a frame whose registers do not change), and never an
//! error: an ELF without debug info gives the pcs (and the symbol names, when
//! it has a symbol table) with `(no debug info)`; memory that could not be read
//! ends the trace with the reason in [`StackTrace::stopped`].

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use object::{Object, ObjectSection};
use probe_rs::{CoreDump, CoreType, InstructionSet, RegisterId, RegisterValue};
use probe_rs_debug::{exception_handler_for_core, ColumnType, DebugInfo, DebugRegisters};

use super::{CoreRegister, FaultAccess};

/// The most frames a trace has.
pub const MAX_FRAMES: usize = 50;
/// The most stack read: from SP up to the stack's top (the ELF's initial SP), at most this much.
pub const MAX_STACK: u32 = 64 * 1024;
/// Stack read above SP when the stack's top is not known (or SP is not below it).
const STACK_WINDOW: u32 = 1024;
/// CPUID .. ID_PFR1: the fault status and address registers probe-rs-debug reads to name a fault.
const SCB: (u32, usize) = (0xE000_ED00, 0x48);
/// CPUID alone (ARMv6-M has no fault status registers).
const CPUID: (u32, usize) = (0xE000_ED00, 4);

/// One frame of a stack trace, innermost first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Frame {
    /// The function (demangled), or what probe-rs-debug names the frame (`HardFault <Cause: ...>`
    /// for the exception, `<unknown function @ 0x...>`).
    pub function: String,
    /// Source file, when the debug info knows it.
    pub file: Option<String>,
    /// Line in `file`.
    pub line: Option<u64>,
    /// Column in `line`.
    pub column: Option<u64>,
    /// The frame's program counter.
    pub pc: u32,
    /// Whether the function was inlined into the next frame's.
    pub inlined: bool,
}

/// The frames of the faulting context, innermost first.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StackTrace {
    /// The frames.
    pub frames: Vec<Frame>,
    /// Why the trace ends before the bottom of the stack, when it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl fmt::Display for StackTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, frame) in self.frames.iter().enumerate() {
            let inlined = if frame.inlined { " (inlined)" } else { "" };
            writeln!(f, "{i:>3}: {:#010x} {}{inlined}", frame.pc, frame.function)?;
            match (&frame.file, frame.line) {
                (Some(file), Some(line)) => match frame.column {
                    Some(column) => writeln!(f, "         at {file}:{line}:{column}")?,
                    None => writeln!(f, "         at {file}:{line}")?,
                },
                (Some(file), None) => writeln!(f, "         at {file}")?,
                _ => writeln!(f, "         (no debug info)")?,
            }
        }
        if let Some(why) = &self.stopped {
            writeln!(f, "     (trace stops here: {why})")?;
        }
        Ok(())
    }
}

/// The Cortex-M architecture, as CPUID says (probe-rs-debug unwinds exceptions per architecture).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// ARMv6-M (Cortex-M0, M0+, M1).
    V6m,
    /// ARMv7-M (Cortex-M3, M4, M7).
    V7m,
    /// ARMv8-M (Cortex-M23, M33, M55 ...).
    V8m,
}

impl Arch {
    /// From CPUID: ARCHITECTURE 0xC is ARMv6-M; 0xF is ARMv7-M, or ARMv8-M for PARTNO 0xDxx.
    pub fn of_cpuid(cpuid: u32, has_fault_status: bool) -> Self {
        match ((cpuid >> 16) & 0xf, (cpuid >> 4) & 0xfff) {
            (0xc, _) => Self::V6m,
            (0xf, part) if part & 0xf00 == 0xd00 => Self::V8m,
            (0xf, _) => Self::V7m,
            // No CPUID (a double, an unreadable SCB): the fault status registers tell.
            _ if has_fault_status => Self::V7m,
            _ => Self::V6m,
        }
    }

    fn core_type(self) -> CoreType {
        match self {
            Self::V6m => CoreType::Armv6m,
            Self::V7m => CoreType::Armv7m,
            Self::V8m => CoreType::Armv8m,
        }
    }
}

/// The halted core, as the unwinder needs it: registers at the halt and the memory read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSnapshot {
    /// r0..r12, sp, lr, pc at the halt (at the HardFault vector: the handler's first instruction).
    pub registers: [u32; 16],
    /// xPSR at the halt.
    pub xpsr: u32,
    /// The core's architecture.
    pub arch: Arch,
    /// Memory read: `(address, bytes)`.
    pub memory: Vec<(u32, Vec<u8>)>,
    /// Memory that could not be read, and why (the trace names it if it needed it).
    pub unread: Vec<String>,
}

/// The initial stack pointer of `elf` (word 0 of its `.vector_table`): the stack's top.
pub fn stack_top_of_elf(elf: &Path) -> Option<u32> {
    let data = std::fs::read(elf).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let bytes = file.section_by_name(".vector_table")?.data().ok()?;
    let top = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    (top != 0).then_some(top)
}

/// Read the halted core's registers and the memory a trace needs. A register that cannot
/// be read is an error; memory that cannot be read is noted in [`CoreSnapshot::unread`].
pub fn capture<A: FaultAccess + ?Sized>(
    ctl: &mut A,
    stack_top: Option<u32>,
) -> Result<CoreSnapshot, A::Error> {
    let mut registers = [0u32; 16];
    for (n, value) in registers.iter_mut().enumerate() {
        let register = match n {
            0 => CoreRegister::R0,
            13 => CoreRegister::Sp,
            14 => CoreRegister::Lr,
            15 => CoreRegister::Pc,
            n => CoreRegister::R(n as u8),
        };
        *value = ctl.read_register(register)?;
    }
    let xpsr = ctl.read_register(CoreRegister::Xpsr)?;
    let mut memory = Vec::new();
    let mut unread = Vec::new();
    let mut read = |ctl: &mut A, address: u32, len: usize| match ctl.read_bytes(address, len) {
        Ok(bytes) => {
            memory.push((address, bytes));
            true
        }
        Err(_) => {
            unread.push(format!("{len} bytes at {address:#010x}"));
            false
        }
    };
    let fault_status = ctl.has_fault_status();
    let (scb, len) = if fault_status { SCB } else { CPUID };
    read(ctl, scb, len);
    let sp = registers[13];
    let stack = match stack_top {
        Some(top) if sp < top && top - sp <= MAX_STACK => (top - sp) as usize,
        _ => STACK_WINDOW as usize,
    };
    // The whole stack; failing that (SP near the end of RAM), the exception frame alone.
    if !read(ctl, sp, stack) {
        read(ctl, sp, 0x68);
    }
    let cpuid = memory
        .first()
        .filter(|(address, bytes)| *address == scb && bytes.len() >= 4)
        .map_or(0, |(_, b)| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    Ok(CoreSnapshot {
        registers,
        xpsr,
        arch: Arch::of_cpuid(cpuid, fault_status),
        memory,
        unread,
    })
}

impl CoreSnapshot {
    /// The snapshot as a probe-rs core dump: what probe-rs-debug unwinds over.
    fn core_dump(&self) -> CoreDump {
        let mut registers: HashMap<RegisterId, RegisterValue> = (0u16..16)
            .map(|n| {
                (
                    RegisterId(n),
                    RegisterValue::U32(self.registers[usize::from(n)]),
                )
            })
            .collect();
        registers.insert(RegisterId(16), RegisterValue::U32(self.xpsr));
        CoreDump {
            registers,
            data: self
                .memory
                .iter()
                .map(|(address, bytes)| {
                    let start = u64::from(*address);
                    (start..start + bytes.len() as u64, bytes.clone())
                })
                .collect(),
            instruction_set: InstructionSet::Thumb2,
            supports_native_64bit_access: false,
            core_type: self.arch.core_type(),
            fpu_support: false,
            floating_point_register_count: None,
        }
    }

    /// The frames without unwinding: the pc (and the return address in lr, when it is one).
    fn pcs(&self) -> Vec<u32> {
        let (lr, pc) = (self.registers[14], self.registers[15]);
        let mut pcs = vec![pc];
        if lr >> 28 != 0xF && lr > 1 {
            pcs.push(lr & !1);
        }
        pcs
    }
}

/// Whether `elf` has DWARF debug info (`.debug_info` and `.debug_frame`, what unwinding needs).
fn has_debug_info(data: &[u8]) -> bool {
    object::File::parse(data).is_ok_and(|file| {
        [".debug_info", ".debug_frame"]
            .iter()
            .all(|name| file.section_by_name(name).is_some_and(|s| s.size() > 0))
    })
}

/// The stack trace of `snapshot` from the debug info of `elf`; never fails (see the module).
pub fn stack_trace(elf: &Path, snapshot: &CoreSnapshot) -> StackTrace {
    let data = std::fs::read(elf);
    let debug = data
        .as_ref()
        .ok()
        .and_then(|_| DebugInfo::from_file(elf).ok());
    let Some(debug) = debug else {
        let why = match data {
            Err(e) => format!("cannot read {}: {e}", elf.display()),
            Ok(_) => format!("{} is not an ELF file", elf.display()),
        };
        return StackTrace {
            frames: snapshot
                .pcs()
                .into_iter()
                .map(|pc| Frame {
                    function: "<unknown>".into(),
                    file: None,
                    line: None,
                    column: None,
                    pc,
                    inlined: false,
                })
                .collect(),
            stopped: Some(why),
        };
    };
    let no_debug_info = !data.as_deref().is_ok_and(has_debug_info);
    let mut dump = snapshot.core_dump();
    let registers = DebugRegisters::from_coredump(&dump);
    let handler = exception_handler_for_core(snapshot.arch.core_type());
    let unwound = debug.unwind(
        &mut dump,
        registers,
        handler.as_ref(),
        Some(InstructionSet::Thumb2),
        MAX_FRAMES,
    );
    let symbols = Symbols::of(data.as_deref().unwrap_or_default());
    let mut trace = StackTrace::default();
    let frames = match unwound {
        Ok(frames) => frames,
        Err(e) => {
            trace.stopped = Some(format!("cannot unwind: {e}"));
            Vec::new()
        }
    };
    for frame in frames {
        let pc: u32 = frame.pc.try_into().unwrap_or(0);
        // probe-rs-debug ends a trace it cannot continue by naming the error in a frame.
        let (function, error) = match frame.function_name.split_once(" : ERROR") {
            Some((name, error)) => (name.to_owned(), Some(error.trim_start_matches([':', ' ']))),
            None if frame.function_name.starts_with("UNWIND: ") => {
                trace.stopped = Some(frame.function_name.clone());
                break;
            }
            None => (frame.function_name.clone(), None),
        };
        let location = frame.source_location.as_ref();
        // probe-rs-debug names a frame without DWARF by the symbol before `pc`, not
        // minding the Thumb bit of symbol values: the symbol that holds `pc` is the name.
        let function = match symbols.holding(pc) {
            Some(name) if location.is_none() && symbols.misnames(&function, pc) => name.to_owned(),
            _ => function,
        };
        trace.frames.push(Frame {
            function,
            file: location.map(|l| l.path.to_path().display().to_string()),
            line: location.and_then(|l| l.line),
            column: location.and_then(|l| match l.column {
                Some(ColumnType::Column(c)) => Some(c),
                _ => None,
            }),
            pc,
            inlined: frame.is_inlined,
        });
        if let Some(error) = error {
            trace.stopped = Some(error.to_owned());
        }
    }
    if no_debug_info {
        // Without `.debug_frame` only the return address in lr leads on.
        trace.stopped = Some(format!("{} has no debug info", elf.display()));
    }
    if trace.frames.len() >= MAX_FRAMES {
        trace.stopped = Some(format!("the first {MAX_FRAMES} frames"));
    }
    if trace.stopped.is_some() && !snapshot.unread.is_empty() {
        let unread = snapshot.unread.join(", ");
        trace.stopped = trace
            .stopped
            .take()
            .map(|why| format!("{why}; memory not read: {unread}"));
    }
    trace
}

/// The function symbols of an ELF: `(start, end, demangled name)`, Thumb bit cleared.
struct Symbols(Vec<(u32, u32, String)>);

impl Symbols {
    fn of(data: &[u8]) -> Self {
        use object::ObjectSymbol;
        let Ok(file) = object::File::parse(data) else {
            return Self(Vec::new());
        };
        let symbols = file
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 0)
            .filter_map(|s| {
                let start = u32::try_from(s.address() & !1).ok()?;
                let end = start.checked_add(u32::try_from(s.size()).ok()?)?;
                let name = format!("{:#}", rustc_demangle::demangle(s.name().ok()?));
                Some((start, end, name))
            })
            .collect();
        Self(symbols)
    }

    /// The symbol whose code holds `pc`.
    fn holding(&self, pc: u32) -> Option<&str> {
        self.0
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&pc))
            .map(|(_, _, name)| name.as_str())
    }

    /// Whether `name` is a symbol's name (or probe-rs's unknown function) that does not hold `pc`.
    fn misnames(&self, name: &str, pc: u32) -> bool {
        name.starts_with("<unknown function")
            || self
                .0
                .iter()
                .any(|(start, end, n)| n == name && !(*start..*end).contains(&pc))
    }
}
