//! Plans parse as documented; the source applies them exactly, whatever the chunking.

use super::*;

#[test]
fn a_plan_parses_every_kind() {
    let plan: FaultPlan = "flip@1200:0x04,drop@5000+3,noise@8000+16,stall@9000:2s,close@20000"
        .parse()
        .unwrap();
    let kinds: Vec<FaultKind> = plan.faults().iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FaultKind::Flip(4),
            FaultKind::Drop(3),
            FaultKind::Noise(16),
            FaultKind::Stall(Duration::from_secs(2)),
            FaultKind::Close
        ]
    );
    assert_eq!(plan.faults()[4].at, 20000);
}

#[test]
fn bad_plans_name_the_fault() {
    for (plan, says) in [
        ("flip@10", "flip@10"),
        ("flip@10:0", "zero mask"),
        ("drop@10+0", "at least 1"),
        ("zap@10", "unknown fault kind"),
        ("stall@10:2h", "duration"),
        ("drop@10+5,flip@12:1", "increasing offset order"),
        ("close@5,flip@9:1", "nothing can follow"),
        ("noise@x+1", "offset `x`"),
    ] {
        let e = plan.parse::<FaultPlan>().unwrap_err();
        assert!(e.to_string().contains(says), "{plan}: {e}");
    }
}

/// A source that hands out `data` in pieces of `chunk` bytes.
struct Chunks {
    data: Vec<u8>,
    chunk: usize,
}

impl ByteSource for Chunks {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        if self.data.is_empty() {
            return Ok(ReadOutcome::Closed);
        }
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data.drain(..n);
        Ok(ReadOutcome::Data(n))
    }
    fn describe(&self) -> String {
        "chunks".into()
    }
}

fn through(plan: &str, data: &[u8], chunk: usize) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    let upstream = Box::new(Chunks {
        data: data.to_vec(),
        chunk,
    });
    let mut source = FaultySource::new(upstream, &plan.parse().unwrap(), &clean);
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match source.read_some(&mut buf).unwrap() {
            ReadOutcome::Data(n) => out.extend_from_slice(&buf[..n]),
            ReadOutcome::Idle => {}
            ReadOutcome::Closed => break,
        }
    }
    drop(source);
    (out, std::fs::read(clean).unwrap())
}

#[test]
fn faults_land_on_their_offsets_whatever_the_chunking() {
    let data: Vec<u8> = (0..200u8).collect();
    let mut expected = data[..10].to_vec();
    expected.push(10 ^ 0x81);
    expected.extend_from_slice(&data[11..20]);
    expected.extend_from_slice(&data[23..40]);
    expected.extend(noise_bytes(40, 5));
    expected.extend_from_slice(&data[40..41]);
    expected.push(41 ^ 1);
    expected.extend_from_slice(&data[42..150]);
    for chunk in [1, 3, 7, 64] {
        let (out, clean) = through(
            "flip@10:0x81,drop@20+3,noise@40+5,flip@41:1,stall@60:10ms,close@150",
            &data,
            chunk,
        );
        assert_eq!(out, expected, "chunk {chunk}");
        assert_eq!(
            clean,
            &data[..150],
            "chunk {chunk}: every upstream byte read"
        );
    }
}

#[test]
fn a_stall_leaves_the_upstream_unread_until_it_is_over() {
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct Counted(Chunks, std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl ByteSource for Counted {
        fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.read_some(buf)
        }
        fn describe(&self) -> String {
            "counted".into()
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let upstream = Counted(
        Chunks {
            data: vec![7u8; 20],
            chunk: 64,
        },
        reads.clone(),
    );
    let plan = "stall@5:3600s".parse().unwrap();
    let mut source = FaultySource::new(Box::new(upstream), &plan, &dir.path().join("c"));
    let mut buf = [0u8; 64];
    assert_eq!(source.read_some(&mut buf).unwrap(), ReadOutcome::Data(5));
    let before = reads.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..5 {
        assert_eq!(source.read_some(&mut buf).unwrap(), ReadOutcome::Idle);
    }
    assert_eq!(
        reads.load(std::sync::atomic::Ordering::Relaxed),
        before,
        "nothing read while stalled"
    );
    // A stall that is over lets the rest through.
    assert_eq!(through("stall@5:0ms", &[7u8; 20], 4).0, [7u8; 20]);
}

#[test]
fn a_drop_at_the_end_of_the_stream_drops_what_there_is() {
    let data = vec![1u8, 2, 3];
    assert_eq!(through("drop@1+10", &data, 2).0, [1]);
    let mut noisy = data.clone();
    noisy.extend(noise_bytes(3, 2));
    assert_eq!(
        through("noise@3+2", &data, 2).0,
        noisy,
        "noise after the last byte"
    );
}

#[test]
fn a_clean_capture_that_cannot_be_created_fails_the_first_read_naming_it() {
    let upstream = Box::new(Chunks {
        data: vec![1],
        chunk: 1,
    });
    let plan = "flip@0:1".parse().unwrap();
    let mut source = FaultySource::new(upstream, &plan, Path::new("/nonexistent/dir/c.clean"));
    let e = source.read_some(&mut [0u8; 4]).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/dir/c.clean"), "{e}");
}
