//! The framer splits on delimiters with exact offsets, whatever the chunking, and bounds memory.

use hil_runner::framer::Framer;
use rstest::rstest;

/// Frames (offset, bytes) of `stream` fed in the given pieces.
fn frames_of(pieces: &[&[u8]], max: usize) -> (Vec<(u64, Vec<u8>)>, Framer) {
    let mut framer = Framer::new(max);
    let mut out = Vec::new();
    for piece in pieces {
        framer.feed(piece, |f| out.push((f.offset, f.bytes.to_vec())));
    }
    (out, framer)
}

#[rstest]
#[case::one_frame(b"\x01\x02\x00", &[(0, &b"\x01\x02"[..])])]
#[case::leading_delimiter(b"\x00\x05\x00", &[(1, &b"\x05"[..])])]
#[case::empty_frames_are_just_delimiters(b"\x00\x00\x07\x00\x00", &[(2, &b"\x07"[..])])]
#[case::garbage_between_frames_is_its_own_frame(
    b"\x01\x00\xff\xfe\x00\x02\x00",
    &[(0, &b"\x01"[..]), (2, &b"\xff\xfe"[..]), (5, &b"\x02"[..])]
)]
fn frames_come_out_with_their_offsets(#[case] stream: &[u8], #[case] expected: &[(u64, &[u8])]) {
    let (frames, _) = frames_of(&[stream], 64);
    let expected: Vec<(u64, Vec<u8>)> = expected.iter().map(|(o, b)| (*o, b.to_vec())).collect();
    assert_eq!(frames, expected);
}

#[test]
fn a_frame_split_across_reads_at_every_byte_offset_comes_out_whole() {
    let stream: Vec<u8> = b"\x00\x11\x22\x33\x00\x44\x00\x55\x66\x77\x88\x00\x00\x99\x00".to_vec();
    let (whole, _) = frames_of(&[&stream], 64);
    assert_eq!(whole.len(), 4);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        let (split, _) = frames_of(&[a, b], 64);
        assert_eq!(split, whole, "cut at byte {cut}");
    }
    for cut1 in 0..=stream.len() {
        for cut2 in cut1..=stream.len() {
            let pieces = [&stream[..cut1], &stream[cut1..cut2], &stream[cut2..]];
            assert_eq!(frames_of(&pieces, 64).0, whole, "cuts at {cut1} and {cut2}");
        }
    }
}

#[rstest]
#[case::in_one_read(1)]
#[case::byte_by_byte(1000)]
fn oversize_frames_are_skipped_and_counted_and_the_next_frame_survives(#[case] pieces: usize) {
    let mut stream = vec![0x01u8; 100];
    stream.push(0);
    stream.extend_from_slice(b"\x05\x06\x00");
    let chunk = stream.len().div_ceil(pieces);
    let pieces: Vec<&[u8]> = stream.chunks(chunk).collect();
    let (frames, framer) = frames_of(&pieces, 16);
    assert_eq!(frames, vec![(101, b"\x05\x06".to_vec())]);
    let stats = framer.stats();
    assert_eq!((stats.oversize_frames, stats.oversize_bytes), (1, 100));
    assert_eq!(stats.bytes, stream.len() as u64);
}

#[test]
fn memory_stays_bounded_on_a_stream_with_no_delimiter() {
    let mut framer = Framer::new(32);
    for _ in 0..1000 {
        framer.feed(&[0xaa; 1000], |_| panic!("no frame expected"));
        assert!(framer.pending() <= 1_000_000);
    }
    assert_eq!(framer.finish(), Some((0, 1_000_000)));
}

#[test]
fn an_unfinished_frame_at_the_end_is_reported_with_its_offset() {
    let (frames, mut framer) = frames_of(&[b"\x01\x00\x02\x03"], 64);
    assert_eq!(frames.len(), 1);
    assert_eq!(framer.finish(), Some((2, 2)));
}
