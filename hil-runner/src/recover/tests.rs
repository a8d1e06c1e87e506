//! Queue images decoded by hand-made byte images (wrapped, empty, full, read in flight), descriptors, and the verdict of a run that needed recovery.

use super::*;

fn passed() -> Judgement {
    Judgement {
        verdict: Verdict::Pass,
        reason: None,
        tests: vec![crate::report::cases::TestCase {
            name: "t".into(),
            outcome: Outcome::Pass,
            message: None,
            location: None,
            duration_s: 0.0,
            capture: None,
        }],
    }
}

#[test]
fn a_pass_at_a_deadline_that_needed_recovered_frames_is_a_timeout() {
    for (stop, verdict, outcome) in [
        (Stop::Deadline, Verdict::Timeout, Outcome::Timeout),
        (Stop::TestDeadline, Verdict::Timeout, Outcome::Timeout),
    ] {
        let mut j = passed();
        judge(&mut j, &stop, 3);
        assert_eq!((j.verdict, j.tests[0].outcome), (verdict, outcome));
        assert!(j
            .reason
            .unwrap()
            .starts_with("3 frames reached the host only"));
        assert!(j.tests[0].message.is_some());
    }
}

#[test]
fn nothing_recovered_or_no_pass_keeps_the_judgement() {
    let mut j = passed();
    judge(&mut j, &Stop::Deadline, 0);
    assert_eq!((j.verdict, j.reason), (Verdict::Pass, None));
    // A target that ended by itself (an exit that did not flush) keeps its pass.
    let mut j = passed();
    judge(&mut j, &Stop::SourceClosed, 3);
    assert_eq!((j.verdict, j.reason), (Verdict::Pass, None));
    let mut j = passed();
    j.verdict = Verdict::Crash;
    j.tests[0].outcome = Outcome::Crash;
    judge(&mut j, &Stop::Deadline, 3);
    assert_eq!(
        (j.verdict, j.tests[0].outcome),
        (Verdict::Crash, Outcome::Crash)
    );
    assert_eq!(j.reason, None);
}

fn image(storage: &[u8], write: u32, read: u32, last: u32) -> QueueImage {
    QueueImage {
        storage: storage.to_vec(),
        write,
        read,
        last,
        read_in_progress: false,
        committed: 0,
        released: 0,
    }
}

#[test]
fn an_empty_queue_holds_nothing() {
    assert_eq!(image(b"abcdefgh", 3, 3, 8).queued().unwrap(), b"");
    assert_eq!(image(b"abcdefgh", 0, 0, 0).queued().unwrap(), b"");
}

#[test]
fn an_unwrapped_queue_holds_read_to_write() {
    assert_eq!(image(b"abcdefgh", 6, 2, 8).queued().unwrap(), b"cdef");
}

#[test]
fn a_full_queue_holds_every_byte() {
    assert_eq!(image(b"abcdefgh", 8, 0, 8).queued().unwrap(), b"abcdefgh");
    // Wrapped and full: write is one short of read.
    assert_eq!(image(b"abcdefgh", 3, 4, 8).queued().unwrap(), b"efghabc");
}

#[test]
fn a_wrapped_queue_reads_to_the_watermark_then_from_the_start() {
    // `g` and `h` were skipped at the wrap: `last` holds the line at 6.
    assert_eq!(image(b"abcdefgh", 2, 4, 6).queued().unwrap(), b"efab");
}

#[test]
fn a_wrapped_queue_read_up_to_the_watermark_goes_on_at_the_start() {
    assert_eq!(image(b"abcdefgh", 2, 6, 6).queued().unwrap(), b"ab");
}

#[test]
fn indices_out_of_bounds_or_contradicting_are_errors() {
    let err = image(b"abcd", 5, 0, 4).queued().unwrap_err();
    assert_eq!(
        err,
        RecoverError::Index {
            name: "write",
            value: 5,
            capacity: 4
        }
    );
    assert!(matches!(
        image(b"abcd", 0, 5, 4).queued(),
        Err(RecoverError::Index { name: "read", .. })
    ));
    assert!(matches!(
        image(b"abcd", 0, 0, 5).queued(),
        Err(RecoverError::Index { name: "last", .. })
    ));
    assert!(matches!(
        image(b"abcdefgh", 1, 5, 3).queued(),
        Err(RecoverError::Inconsistent { .. })
    ));
}

#[test]
fn a_read_in_flight_skips_the_bytes_it_already_sent() {
    let mut grant = image(b"abcdefgh", 6, 2, 8);
    grant.read_in_progress = true;
    grant.released = 100;
    // 102 received: two bytes of the grant (`c`, `d`) reached the host.
    assert_eq!(grant.unsent(102).unwrap(), b"ef");
    assert_eq!(grant.unsent(100).unwrap(), b"cdef");
    // More than the queue holds, or fewer than released: the count is not trusted.
    assert_eq!(grant.unsent(105).unwrap(), b"cdef");
    assert_eq!(grant.unsent(99).unwrap(), b"cdef");
    // Without a read in flight nothing the host has came from the queue's bytes.
    grant.read_in_progress = false;
    assert_eq!(grant.unsent(102).unwrap(), b"cdef");
}

fn descriptor(version: u32, capacity: u32) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    for word in [version, capacity, 0x2000_0000, 4, 8, 12, 16, 20, 21, 24, 28] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

#[test]
fn a_descriptor_gives_the_addresses_and_is_checked() {
    let layout = QueueLayout::parse(0x100, &descriptor(1, 1024)).unwrap();
    assert_eq!(
        (
            layout.capacity,
            layout.storage,
            layout.write,
            layout.read,
            layout.last
        ),
        (1024, 0x2000_0000, 4, 8, 12)
    );
    assert_eq!(
        (layout.read_in_progress, layout.committed, layout.released),
        (20, 24, 28)
    );
    let reason = |bytes: &[u8]| match QueueLayout::parse(0x100, bytes) {
        Err(RecoverError::Descriptor { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    assert!(reason(&descriptor(2, 1024)).contains("version 2"));
    assert!(reason(&descriptor(1, 0)).contains("capacity 0"));
    assert!(reason(&descriptor(1, MAX_CAPACITY + 1)).contains("capacity"));
    assert!(reason(&descriptor(1, 1024)[..51]).contains("51 bytes"));
    let mut wrong = descriptor(1, 1024);
    wrong[0] = b'X';
    assert!(reason(&wrong).contains("magic"));
}

#[test]
fn the_image_is_read_from_the_layouts_addresses() {
    let layout = QueueLayout::parse(0, &descriptor(1, 4)).unwrap();
    let memory = |address: u32, len: usize| -> Result<Vec<u8>, ()> {
        Ok(match address {
            0x2000_0000 => b"wxyz"[..len].to_vec(),
            20 => vec![1],
            a => (a + 1).to_le_bytes()[..len].to_vec(),
        })
    };
    let image = QueueImage::from_reads(&layout, memory).unwrap();
    assert_eq!(image.storage, b"wxyz");
    assert_eq!((image.write, image.read, image.last), (5, 9, 13));
    assert_eq!((image.committed, image.released), (25, 29));
    assert!(image.read_in_progress);
    let failing = |_: u32, _: usize| -> Result<Vec<u8>, &str> { Err("gone") };
    assert_eq!(QueueImage::from_reads(&layout, failing), Err("gone"));
}

#[test]
fn ranges_are_each_field_at_its_address_with_its_size() {
    let layout = QueueLayout::parse(0, &descriptor(1, 1024)).unwrap();
    assert_eq!(
        layout.ranges(),
        [
            (0x2000_0000, 1024),
            (4, 4),
            (8, 4),
            (12, 4),
            (20, 1),
            (24, 4),
            (28, 4)
        ]
    );
}

#[test]
fn the_largest_capacity_is_accepted_and_one_more_is_not() {
    let layout = QueueLayout::parse(0, &descriptor(1, MAX_CAPACITY)).unwrap();
    assert_eq!(layout.capacity, MAX_CAPACITY);
    assert!(QueueLayout::parse(0, &descriptor(1, MAX_CAPACITY + 1)).is_err());
    assert_eq!(
        QueueLayout::parse(0, &descriptor(1, 1)).unwrap().capacity,
        1
    );
}

#[test]
fn a_stale_watermark_at_the_read_index_is_not_a_wrap() {
    // `last` is left from an earlier wrap and happens to equal `read`: not wrapped.
    assert_eq!(image(b"abcdefgh", 6, 2, 2).queued().unwrap(), b"cdef");
    // All three equal: empty, not the storage's start.
    assert_eq!(image(b"abcdefgh", 4, 4, 4).queued().unwrap(), b"");
    // Empty, with the watermark of an earlier wrap below the reader.
    assert_eq!(image(b"abcdefgh", 4, 4, 2).queued().unwrap(), b"");
}

/// A 32-bit ARM ELF with one `.data` section at 0x2000_0000 holding `data`,
/// and the symbols `(name, address)` in it.
fn elf_with(data: &[u8], symbols: &[(&str, u32)]) -> Vec<u8> {
    use crate::test_elf::{elf, Section};
    let data = [Section {
        name: ".data",
        address: 0x2000_0000,
        data,
    }];
    let in_data: Vec<_> = symbols.iter().map(|&(n, a)| (n, 1, a)).collect();
    elf(&data, &in_data)
}

#[test]
fn the_descriptor_is_found_by_its_symbol_in_the_elf() {
    // Eight bytes of something else first, under a symbol of their own.
    let mut data = b"notqueue".to_vec();
    data.extend(descriptor(1, 256));
    let symbols = [("OTHER", 0x2000_0000), (DESCRIPTOR_SYMBOL, 0x2000_0008)];
    let layout = QueueLayout::from_elf(&elf_with(&data, &symbols))
        .unwrap()
        .expect("the descriptor is there");
    assert_eq!(layout, QueueLayout::parse(0, &descriptor(1, 256)).unwrap());

    // No such symbol, or not an ELF: not hil-transport's queue, no error.
    let other = elf_with(&data, &[("OTHER", 0x2000_0000)]);
    assert_eq!(QueueLayout::from_elf(&other).unwrap(), None);
    assert_eq!(QueueLayout::from_elf(b"not an elf").unwrap(), None);
    // The symbol too near the section's end: named, with its address.
    let short = elf_with(&data, &[(DESCRIPTOR_SYMBOL, 0x2000_0010)]);
    assert_eq!(
        QueueLayout::from_elf(&short),
        Err(RecoverError::Descriptor {
            address: 0x2000_0010,
            reason: "shorter than a descriptor".into()
        })
    );
}
