//! The reader thread: moves bytes from a blocking byte source to the run's async loop, in batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::source::{ByteSource, ReadOutcome};

/// Bytes the reader gathers before handing them on.
const BATCH_BYTES: usize = 16 * 1024;
/// Longest a gathered byte waits before it is handed on.
const BATCH_TIME: Duration = Duration::from_millis(5);

/// Move bytes from the blocking source to async code until told to stop or the source closes.
pub fn spawn_reader(
    mut source: Box<dyn ByteSource>,
    tx: mpsc::Sender<Result<Vec<u8>, String>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        // QEMU writes a byte per system call, so a read often returns only a
        // few bytes: gather them into batches rather than sending each read.
        let mut buf = vec![0u8; 1 << 16];
        let mut batch: Vec<u8> = Vec::with_capacity(BATCH_BYTES);
        let mut batch_started = Instant::now();
        let send = |batch: &mut Vec<u8>| tx.blocking_send(Ok(std::mem::take(batch))).is_ok();
        while !stop.load(Ordering::Relaxed) {
            match source.read_some(&mut buf) {
                Ok(ReadOutcome::Data(n)) => {
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    batch.extend_from_slice(&buf[..n]);
                    let full = batch.len() >= BATCH_BYTES || batch_started.elapsed() >= BATCH_TIME;
                    if full && !send(&mut batch) {
                        return;
                    }
                }
                Ok(ReadOutcome::Idle) => {
                    if !batch.is_empty() && !send(&mut batch) {
                        return;
                    }
                }
                Ok(ReadOutcome::Closed) => {
                    if !batch.is_empty() {
                        send(&mut batch);
                    }
                    return;
                }
                Err(e) => {
                    if !batch.is_empty() && !send(&mut batch) {
                        return;
                    }
                    let _ = tx.blocking_send(Err(format!("{}: {e}", source.describe())));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            send(&mut batch);
        }
    })
}
