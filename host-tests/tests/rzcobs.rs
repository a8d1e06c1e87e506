//! rzcobs: decoding inverts encoding (up to the encoding's zero padding) and never accepts a zero byte.

use hil_runner::rzcobs::{decode_into, encode_frame};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: host_tests::proptest_cases(2000), rng_seed: proptest::test_runner::RngSeed::Fixed(0x4849_4c21), ..ProptestConfig::default() })]

    #[test]
    fn decode_inverts_encode_up_to_padding(data in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..400)) {
        let mut encoded = Vec::new();
        encode_frame(&data, &mut encoded);
        prop_assert_eq!(encoded.last(), Some(&0));
        prop_assert!(!encoded[..encoded.len() - 1].contains(&0), "delimiter inside the frame");
        let mut decoded = Vec::new();
        decode_into(&encoded[..encoded.len() - 1], &mut decoded).unwrap();
        prop_assert_eq!(&decoded[..data.len()], &data[..]);
        let padding = &decoded[data.len()..];
        prop_assert!(padding.len() < 7 && padding.iter().all(|&b| b == 0), "padding {:?}", padding);
    }
}

#[test]
fn known_vectors_match_defmts_encoder() {
    // From defmt's own rzcobs encoder tests.
    let vectors: &[(&[u8], &[u8])] = &[
        (&[], &[0x00]),
        (&[0x00], &[0x7f, 0x00]),
        (&[0x01], &[0x01, 0x7e, 0x00]),
        (&[0x00, 0x01], &[0x01, 0x7d, 0x00]),
        (&[0x01, 0x02], &[0x01, 0x02, 0x7c, 0x00]),
    ];
    for (data, expected) in vectors {
        let mut out = Vec::new();
        encode_frame(data, &mut out);
        assert_eq!(&out, expected, "encoding {data:?}");
    }
}

#[test]
fn a_zero_byte_inside_a_frame_is_rejected() {
    let mut out = Vec::new();
    assert!(decode_into(&[0x01, 0x00, 0x7e], &mut out).is_err());
}
