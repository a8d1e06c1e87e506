//! The probe backend reads hil-transport's queue out of the halted core (scripted doubles serving its memory).

mod probe_support;

use std::path::{Path, PathBuf};

use hil_runner::backend::probe::{CoreRegister, CoreStatus, HaltCause};
use hil_runner::backend::{Backend, TargetEnd};
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::recover::{QueueImage, QueueLayout};
use probe_support::doubles::{backend, ended_within, pty, Double, Scripted};
use probe_support::nucleo_with_port;

/// Firmware with hil-transport's queue descriptor (its addresses are what the double serves).
fn elf() -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    build::build_one(&board, Images::Examples, "queued_at_fault").unwrap_or_else(|e| panic!("{e}"))
}

/// A core whose queue holds `bytes` from index 100 on, wrapped: 100..capacity-4 then 0..n.
fn chip_with_queue(
    layout: &QueueLayout,
    statuses: &[CoreStatus],
    head: &[u8],
    tail: &[u8],
) -> Scripted {
    let mut chip = Scripted::new(statuses);
    let capacity = layout.capacity;
    let last = 100 + head.len() as u32;
    assert!(last < capacity);
    let mut storage = vec![0xee; capacity as usize];
    storage[100..last as usize].copy_from_slice(head);
    storage[..tail.len()].copy_from_slice(tail);
    for (i, word) in storage.chunks_exact(4).enumerate() {
        let word = u32::from_le_bytes(word.try_into().unwrap());
        chip.memory.insert(layout.storage + 4 * i as u32, word);
    }
    chip.memory.extend([
        (layout.write, tail.len() as u32),
        (layout.read, 100),
        (layout.last, last),
    ]);
    chip
}

fn layout(elf: &Path) -> QueueLayout {
    QueueLayout::from_elf(&std::fs::read(elf).unwrap())
        .unwrap()
        .expect("hil-transport's descriptor")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_is_read_at_the_halt_that_ends_the_run() {
    let elf = elf();
    let layout = layout(&elf);
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let statuses = [
        CoreStatus::Running,
        CoreStatus::Halted(HaltCause::Breakpoint),
    ];
    let mut chip = chip_with_queue(&layout, &statuses, b"frame-one\0fr", b"ame-two\0");
    chip.registers
        .extend([(CoreRegister::Pc, 0x0800_0456), (CoreRegister::R0, 1)]);
    let mut b = backend(&board, Double::new(&["0483:374b"], chip), None);
    b.start(&elf).await.unwrap();
    let end = ended_within(&mut b, 5)
        .await
        .expect("the halt ends the run");
    assert!(matches!(end, TargetEnd::Halted { .. }), "{end:?}");
    b.stop().await;
    let image: QueueImage = b.take_queue_image().expect("read at the halt").unwrap();
    assert_eq!(image.queued().unwrap(), b"frame-one\0frame-two\0");
    assert!(b.take_queue_image().is_none(), "taken once");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_is_read_after_stop_halts_a_running_core() {
    let elf = elf();
    let layout = layout(&elf);
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let chip = chip_with_queue(&layout, &[CoreStatus::Running], b"queued\0", b"");
    let access = Double::new(&["0483:374b"], chip);
    let mut b = backend(&board, access.clone(), None);
    b.start(&elf).await.unwrap();
    assert!(ended_within(&mut b, 1).await.is_none(), "still running");
    assert!(b.take_queue_image().is_none(), "nothing read while it runs");
    b.stop().await;
    assert!(access.log().contains(&"halt".to_owned()));
    let image = b.take_queue_image().expect("read after the halt").unwrap();
    assert_eq!(image.queued().unwrap(), b"queued\0");
}
