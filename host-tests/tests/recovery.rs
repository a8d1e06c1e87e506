//! Property tests of stream recovery: hil-protocol frame streams, corrupted every way, must recover.
//!
//! The same invariants as the fuzz target (`host-tests/fuzz`, which uses the
//! ordering ELF's table), with a fixed seed and 10,000 cases so every commit
//! checks them (`HIL_PROPTEST_CASES` sets fewer, e.g. for mutation testing).
//! The frames use a synthetic table with hil-protocol's marker strings
//! ([`host_tests::streams::hil_firmware`]): no firmware build needed.

use std::sync::OnceLock;

use hil_runner::firmware::Firmware;
use host_tests::recovery::{check, Case, Corruption, FrameSpec};
use host_tests::streams::hil_firmware;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn firmware() -> &'static Firmware {
    static FIRMWARE: OnceLock<Firmware> = OnceLock::new();
    FIRMWARE.get_or_init(hil_firmware)
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    (any::<u8>(), any::<u32>(), any::<u32>()).prop_map(|(kind, a, b)| FrameSpec { kind, a, b })
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        (any::<usize>(), 1..40u8).prop_map(|(at, len)| Corruption::Truncate { at, len }),
        any::<usize>().prop_map(|at| Corruption::LoseDelimiter { at }),
        (any::<usize>(), any::<[u8; 8]>(), any::<u8>())
            .prop_map(|(at, bytes, len)| Corruption::Insert { at, bytes, len }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Corruption::FlipBit { at, bit }),
        (any::<usize>(), any::<usize>(), 1..64u8).prop_map(|(a, b, len)| Corruption::SwapChunks {
            a,
            b,
            len
        }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(frame_spec(), 1..40),
        proptest::collection::vec(corruption(), 0..6),
        prop_oneof![Just(1usize), 1..64usize, Just(4096usize)],
    )
        .prop_map(|(frames, corruptions, chunk)| Case {
            frames,
            corruptions,
            chunk,
        })
}

proptest! {
    #![proptest_config(Config {
        cases: host_tests::proptest_cases(10_000),
        rng_seed: RngSeed::Fixed(0x6869_6c5f_7263_7673),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn corrupted_streams_recover_and_never_accept_a_corrupted_sequence_frame(case in case()) {
        if let Err(broken) = check(firmware(), &case) {
            prop_assert!(false, "{broken}");
        }
    }
}

#[test]
fn an_uncorrupted_stream_decodes_every_frame() {
    let case = Case {
        frames: (0..50)
            .map(|i| FrameSpec {
                kind: i,
                a: u32::from(i) * 7,
                b: u32::from(i) * 13,
            })
            .collect(),
        corruptions: Vec::new(),
        chunk: 3,
    };
    check(firmware(), &case).unwrap();
}

#[test]
fn a_flipped_bit_in_a_sequence_frame_makes_it_rejected() {
    let firmware = firmware();
    let case = Case {
        frames: vec![
            FrameSpec {
                kind: 0,
                a: 3,
                b: 5,
            },
            FrameSpec {
                kind: 0,
                a: 6,
                b: 6,
            },
        ],
        corruptions: Vec::new(),
        chunk: 1,
    };
    let streams = host_tests::recovery::build(firmware, &case);
    let (start, _) = streams.frames[1];
    for bit in 0..8 {
        let mut bytes = streams.original.clone();
        bytes[start + 3] ^= 1 << bit;
        let mut decoder = hil_runner::decode::FrameDecoder::new(firmware);
        let mut valid = 0;
        hil_runner::framer::Framer::new(512).feed(&bytes, |f| {
            valid += usize::from(decoder.decode(f.bytes).is_ok())
        });
        assert_eq!(
            valid, 1,
            "bit {bit}: the corrupted sequence frame must be rejected"
        );
    }
}
