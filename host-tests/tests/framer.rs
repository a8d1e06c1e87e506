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

#[rstest]
#[case::one_byte(1)]
#[case::less_than_the_bound(7)]
#[case::more_than_the_bound(1000)]
fn memory_stays_bounded_on_a_stream_with_no_delimiter(#[case] piece: usize) {
    let mut framer = Framer::new(32);
    let mut fed = 0;
    while fed < 100_000 {
        framer.feed(&vec![0xaa; piece], |_| panic!("no frame expected"));
        fed += piece;
        assert!(
            framer.buffered() <= 32,
            "{} bytes held after {fed}",
            framer.buffered()
        );
        assert_eq!(framer.pending(), fed, "every byte still counted");
    }
    assert_eq!(framer.pending_offset(), 0);
    assert_eq!(framer.finish(), Some((0, fed)));
    assert_eq!(framer.finish(), None, "given up on once");
    assert_eq!(framer.pending(), 0);
}

/// A frame of `len` bytes of 0x11, then a delimiter and a frame `\x22`, fed in `pieces`.
fn frame_of_len(len: usize, max: usize, cuts: &[usize]) -> (Vec<(u64, Vec<u8>)>, Framer) {
    let mut stream = vec![0x11; len];
    stream.extend_from_slice(b"\x00\x22\x00");
    let mut pieces = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        pieces.push(&stream[start..cut]);
        start = cut;
    }
    pieces.push(&stream[start..]);
    frames_of(&pieces, max)
}

#[rstest]
#[case::whole(&[])]
#[case::split_inside(&[5])]
#[case::split_at_the_delimiter(&[16])]
#[case::in_three(&[3, 9])]
#[case::byte_by_byte(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17])]
fn a_frame_of_exactly_the_maximum_length_passes_one_byte_more_is_oversize(#[case] cuts: &[usize]) {
    let (frames, framer) = frame_of_len(16, 16, cuts);
    assert_eq!(frames, vec![(0, vec![0x11; 16]), (17, b"\x22".to_vec())]);
    assert_eq!(framer.stats().oversize_frames, 0);
    let cuts: Vec<usize> = cuts.iter().map(|c| c + 1).collect();
    let (frames, framer) = frame_of_len(17, 16, &cuts);
    assert_eq!(frames, vec![(18, b"\x22".to_vec())]);
    let stats = framer.stats();
    assert_eq!((stats.oversize_frames, stats.oversize_bytes), (1, 17));
    assert_eq!(stats.bytes, 20);
}

#[test]
fn an_oversize_run_fed_in_pieces_counts_all_its_bytes_once() {
    let mut framer = Framer::new(8);
    framer.feed(&[1; 5], |_| panic!());
    framer.feed(&[1; 5], |_| panic!());
    assert!(framer.buffered() <= 8);
    framer.feed(&[1; 5], |_| panic!());
    let mut frames = Vec::new();
    framer.feed(&[1, 1, 0, 7, 0], |f| {
        frames.push((f.offset, f.bytes.to_vec()))
    });
    assert_eq!(frames, vec![(18, vec![7])]);
    let stats = framer.stats();
    assert_eq!((stats.oversize_frames, stats.oversize_bytes), (1, 17));
    assert_eq!(framer.pending(), 0);
    assert_eq!(framer.pending_offset(), 20);
}

#[test]
fn a_partial_frame_is_pending_with_its_offset() {
    let mut framer = Framer::new(64);
    framer.feed(b"\x01\x00\x02\x03", |_| {});
    assert_eq!(
        (framer.pending(), framer.buffered(), framer.pending_offset()),
        (2, 2, 2)
    );
    framer.feed(b"\x04", |_| {});
    assert_eq!(framer.pending(), 3);
    let mut frames = Vec::new();
    framer.feed(b"\x00", |f| frames.push((f.offset, f.bytes.to_vec())));
    assert_eq!(frames, vec![(2, vec![2, 3, 4])]);
    assert_eq!((framer.pending(), framer.pending_offset()), (0, 6));
    assert_eq!(framer.finish(), None);
}

#[test]
fn an_unfinished_frame_at_the_end_is_reported_with_its_offset() {
    let (frames, mut framer) = frames_of(&[b"\x01\x00\x02\x03"], 64);
    assert_eq!(frames.len(), 1);
    assert_eq!(framer.finish(), Some((2, 2)));
}
