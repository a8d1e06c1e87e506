//! Stack traces of a faulting context: the shared unwinder over a hand-made core snapshot and
//! a real firmware ELF, the same through the probe backend's scripted doubles, on QEMU end to
//! end, and an ELF without debug info.

mod probe_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hil_runner::backend::fault::unwind::{self, Arch, CoreSnapshot, StackTrace, MAX_FRAMES};
use hil_runner::backend::fault::FaultCause;
use hil_runner::backend::probe::{CoreRegister, CoreStatus, HaltCause};
use hil_runner::backend::qemu::{QemuBackend, QemuSerial};
use hil_runner::backend::{Backend, TargetEnd};
use hil_runner::board::{Board, BoardKind, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use object::{Object, ObjectSection, ObjectSymbol};
use probe_support::doubles::{backend, ended_within, pty, Double, Scripted};
use probe_support::nucleo_with_port;

/// The `hard_fault` example (lm3s6965evb): `main` calls `hil_fault_read`, whose load faults.
fn hard_fault_elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let board = Board::find(DEFAULT_BOARD).unwrap();
        build::build_one(&board, Images::Examples, "hard_fault").unwrap_or_else(|e| panic!("{e}"))
    })
}

/// What the ELF says: the HardFault vector, `hil_fault_read`'s address, and the return
/// address of the `bl hil_fault_read` in its caller (found by decoding Thumb-2 `bl`s).
struct Layout {
    hardfault: u32,
    callee: u32,
    return_address: u32,
}

fn layout(elf: &Path) -> Layout {
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let vectors = file
        .section_by_name(".vector_table")
        .unwrap()
        .data()
        .unwrap();
    let hardfault = u32::from_le_bytes(vectors[12..16].try_into().unwrap()) & !1;
    let symbol = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .unwrap_or_else(|| panic!("{name} not in {}", elf.display()))
    };
    let callee = (symbol("hil_fault_read").address() & !1) as u32;
    let text = file.section_by_name(".text").unwrap();
    let (base, code) = (text.address() as u32, text.data().unwrap());
    let halfword = |at: usize| u32::from(u16::from_le_bytes([code[at], code[at + 1]]));
    let return_address = (0..code.len().saturating_sub(4))
        .step_by(2)
        .find(|&at| {
            let (hw1, hw2) = (halfword(at), halfword(at + 2));
            if hw1 & 0xF800 != 0xF000 || hw2 & 0xD000 != 0xD000 {
                return false;
            }
            let s = (hw1 >> 10) & 1;
            let (j1, j2) = ((hw2 >> 13) & 1, (hw2 >> 11) & 1);
            let (i1, i2) = (!(j1 ^ s) & 1, !(j2 ^ s) & 1);
            let offset =
                (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3FF) << 12) | ((hw2 & 0x7FF) << 1);
            let offset = ((offset << 7) as i32) >> 7;
            let pc = base + at as u32 + 4;
            pc.wrapping_add(offset as u32) == callee
        })
        .map(|at| base + at as u32 + 4)
        .expect("a bl to hil_fault_read");
    Layout {
        hardfault,
        callee,
        return_address,
    }
}

const SP: u32 = 0x2000_FF00;
const CPUID_M3: u32 = 0x412F_C230;

/// The core at the HardFault vector after `hil_fault_read` faulted on its first instruction:
/// r0..r15 and xPSR, the SCB's fault registers, the exception frame on MSP, zeros above it.
fn hand_made(elf: &Path) -> CoreSnapshot {
    let at = layout(elf);
    let mut registers = [0u32; 16];
    registers[0] = 0x3000_0000;
    registers[7] = SP + 0x40;
    registers[13] = SP;
    registers[14] = 0xFFFF_FFF9;
    registers[15] = at.hardfault;
    let mut scb = vec![0u8; 0x48];
    for (offset, value) in [
        (0x00, CPUID_M3),
        (0x28, 0x82),
        (0x2C, 0x4000_0000),
        (0x34, 0x3000_0000),
    ] {
        scb[offset..offset + 4].copy_from_slice(&u32::to_le_bytes(value));
    }
    let mut stack = Vec::new();
    for word in [
        0x3000_0000,
        0,
        0,
        0,
        0,
        at.return_address | 1,
        at.callee,
        0x0100_0000,
    ] {
        stack.extend_from_slice(&u32::to_le_bytes(word));
    }
    stack.resize(0x100, 0);
    CoreSnapshot {
        registers,
        xpsr: 3,
        arch: Arch::V7m,
        memory: vec![(0xE000_ED00, scb), (SP, stack)],
        unread: Vec::new(),
    }
}

fn names(trace: &StackTrace) -> Vec<&str> {
    trace.frames.iter().map(|f| f.function.as_str()).collect()
}

/// The frames from the exception on: the faulting function, then its caller from the example.
fn assert_faulting_context(trace: &StackTrace) {
    let names = names(trace);
    let fault = names
        .iter()
        .position(|n| n.starts_with("HardFault <Cause: Escalated"))
        .unwrap_or_else(|| panic!("no exception frame: {trace}"));
    // Inlined frames (`read_volatile`) may come first: the first real one is the function.
    let outer = fault
        + 1
        + trace.frames[fault + 1..]
            .iter()
            .position(|f| !f.inlined)
            .unwrap_or_else(|| panic!("no frame after the exception: {trace}"));
    let read = &trace.frames[outer];
    assert_eq!(read.function, "hil_fault_read", "{trace}");
    assert!(
        read.file
            .as_deref()
            .is_some_and(|f| f.ends_with("examples/hard_fault.rs"))
            && read.line.is_some(),
        "{trace}"
    );
    let caller = &trace.frames[outer + 1];
    assert!(caller.function.contains("main"), "{trace}");
    assert!(
        caller
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("examples/hard_fault.rs")),
        "{trace}"
    );
    assert!(trace.frames.len() <= MAX_FRAMES);
}

#[test]
fn a_hand_made_snapshot_unwinds_from_the_handler_through_the_exception_to_the_caller() {
    let elf = hard_fault_elf();
    let trace = unwind::stack_trace(elf, &hand_made(elf));
    assert_eq!(trace.frames[0].pc, layout(elf).hardfault, "{trace}");
    assert_eq!(
        trace.frames[0].function, "HardFault",
        "the vector's symbol: {trace}"
    );
    assert_faulting_context(&trace);
    let text = trace.to_string();
    assert!(
        text.contains("hil_fault_read") && text.contains("hard_fault.rs:"),
        "{text}"
    );
    // The JSON report's shape.
    let json = serde_json::to_value(&trace).unwrap();
    assert_eq!(json["frames"][0]["pc"], layout(elf).hardfault);
}

#[test]
fn a_stack_that_calls_itself_forever_ends_the_trace() {
    let elf = hard_fault_elf();
    let at = layout(elf);
    let mut core = hand_made(elf);
    // The faulting frame returns to itself: each unwound frame is the same as the last.
    let stack = &mut core.memory[1].1;
    stack[0x14..0x18].copy_from_slice(&u32::to_le_bytes(at.callee | 1));
    let trace = unwind::stack_trace(elf, &core);
    assert!(trace.frames.len() < MAX_FRAMES, "{trace}");
    assert!(names(&trace).contains(&"hil_fault_read"), "{trace}");
}

#[test]
fn memory_that_was_not_read_ends_the_trace_with_the_reason() {
    let elf = hard_fault_elf();
    let mut core = hand_made(elf);
    core.memory.truncate(1);
    core.unread.push("256 bytes at 0x2000ff00".into());
    let trace = unwind::stack_trace(elf, &core);
    assert!(!trace.frames.is_empty(), "the handler's frame is known");
    let why = trace.stopped.clone().unwrap_or_default();
    assert!(why.contains("256 bytes at 0x2000ff00"), "{trace}");
}

/// `elf` without its debug info, as `llvm-objcopy --strip-debug` (the toolchain's llvm-tools) makes it.
fn stripped(elf: &Path, dir: &Path) -> PathBuf {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim());
    let objcopy = std::fs::read_dir(sysroot.join("lib/rustlib"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|d| d.path().join("bin/llvm-objcopy"))
        .find(|p| p.is_file())
        .expect("llvm-objcopy of the toolchain's llvm-tools component (rust-toolchain.toml)");
    let out = dir.join("stripped.elf");
    let status = Command::new(objcopy)
        .arg("--strip-debug")
        .arg(elf)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

#[test]
fn a_firmware_without_debug_info_gets_its_pcs_with_no_debug_info_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let elf = hard_fault_elf();
    let bare = stripped(elf, dir.path());
    let trace = unwind::stack_trace(&bare, &hand_made(elf));
    assert_eq!(trace.frames[0].pc, layout(elf).hardfault, "{trace}");
    assert!(trace.frames.iter().all(|f| f.file.is_none()), "{trace}");
    assert!(trace.to_string().contains("(no debug info)"), "{trace}");
    assert!(
        trace
            .stopped
            .as_deref()
            .unwrap_or_default()
            .contains("no debug info"),
        "{trace}"
    );

    // No ELF at all: the pcs at the halt.
    let trace = unwind::stack_trace(&dir.path().join("gone.elf"), &hand_made(elf));
    assert_eq!(
        trace.frames.len(),
        1,
        "lr is an EXC_RETURN, no frame: {trace}"
    );
    assert!(
        trace
            .stopped
            .as_deref()
            .unwrap_or_default()
            .contains("cannot read"),
        "{trace}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_probe_backend_gives_the_same_trace_through_the_scripted_doubles() {
    let elf = hard_fault_elf();
    let core = hand_made(elf);
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut chip = Scripted::new(&[
        CoreStatus::Running,
        CoreStatus::Halted(HaltCause::Exception),
    ]);
    for n in 1..13u8 {
        chip.registers
            .insert(CoreRegister::R(n), core.registers[usize::from(n)]);
    }
    chip.registers.extend([
        (CoreRegister::R0, core.registers[0]),
        (CoreRegister::Sp, SP),
        (CoreRegister::Msp, SP),
        (CoreRegister::Lr, core.registers[14]),
        (CoreRegister::Pc, core.registers[15]),
        (CoreRegister::Xpsr, core.xpsr),
    ]);
    for (base, bytes) in &core.memory {
        for (i, word) in bytes.chunks_exact(4).enumerate() {
            let word = u32::from_le_bytes(word.try_into().unwrap());
            chip.memory.insert(base + 4 * i as u32, word);
        }
    }
    let mut b = backend(&board, Double::new(&["0483:374b"], chip), None);
    b.start(elf).await.unwrap();
    let Some(TargetEnd::Fault(regs)) = ended_within(&mut b, 5).await else {
        panic!("no fault")
    };
    b.stop().await;
    assert_eq!(regs.cause, FaultCause::HardFault);
    let trace = regs.stack_trace.clone().expect("a stack trace");
    assert_faulting_context(&trace);
    assert_eq!(
        trace,
        unwind::stack_trace(elf, &core),
        "one unwinder for both backends"
    );
    let json = serde_json::to_value(TargetEnd::Fault(regs)).unwrap();
    assert_eq!(json["stack_trace"]["frames"][0]["pc"], core.registers[15]);
}

#[tokio::test]
async fn a_hard_fault_on_qemu_has_the_trace_of_the_faulting_function_and_main() {
    let elf = hard_fault_elf();
    let board = Board::find(DEFAULT_BOARD).unwrap();
    let BoardKind::Qemu(qemu) = board.kind else {
        panic!("{DEFAULT_BOARD} is not a QEMU board")
    };
    let mut qemu = QemuBackend::new(qemu, QemuSerial::Pipe, Vec::new());
    let _source = qemu.start(elf).await.expect("QEMU starts");
    let end = tokio::time::timeout(std::time::Duration::from_secs(120), qemu.ended())
        .await
        .expect("the fault ends the run");
    qemu.stop().await;
    let TargetEnd::Fault(regs) = end else {
        panic!("expected a fault, got {end:?}")
    };
    let trace = regs.stack_trace.expect("a stack trace");
    assert_faulting_context(&trace);
}
