//! Build-time configuration of the transport: queue size and maximum frame size.
//!
//! `HIL_QUEUE_SIZE` (bytes, default 1024) and `HIL_MAX_FRAME` (bytes, default
//! 512, or half the queue if that is smaller) become `QUEUE_SIZE` and
//! `MAX_FRAME` in `$OUT_DIR/config.rs`.

use std::{env, fs, path::PathBuf};

const DEFAULT_QUEUE_SIZE: usize = 1024;
const DEFAULT_MAX_FRAME: usize = 512;
/// Smallest sensible queue: a few marker frames must fit.
const MIN_QUEUE_SIZE: usize = 64;
/// Smallest sensible frame limit: every protocol marker must fit.
const MIN_MAX_FRAME: usize = 32;

fn read_size(name: &str) -> Option<usize> {
    println!("cargo:rerun-if-env-changed={name}");
    let value = env::var(name).ok()?;
    match value.trim().parse::<usize>() {
        Ok(size) => Some(size),
        Err(err) => panic!("{name}={value:?} is not a byte count: {err}"),
    }
}

fn main() {
    let queue_size = read_size("HIL_QUEUE_SIZE").unwrap_or(DEFAULT_QUEUE_SIZE);
    assert!(
        queue_size >= MIN_QUEUE_SIZE,
        "HIL_QUEUE_SIZE={queue_size} is too small: at least {MIN_QUEUE_SIZE} bytes"
    );
    // bbqueue can always place a frame of up to half its capacity once it is
    // empty (wherever its read/write pointers stand), but not always a larger one.
    let fits_empty_queue = queue_size / 2;
    let max_frame = match read_size("HIL_MAX_FRAME") {
        Some(max_frame) => {
            assert!(
                (MIN_MAX_FRAME..=fits_empty_queue).contains(&max_frame),
                "HIL_MAX_FRAME={max_frame} must be between {MIN_MAX_FRAME} and \
                 HIL_QUEUE_SIZE/2 = {fits_empty_queue} bytes"
            );
            max_frame
        }
        None => DEFAULT_MAX_FRAME.min(fits_empty_queue),
    };

    let config = format!(
        "/// Capacity of the log queue in bytes (`HIL_QUEUE_SIZE` at build time).\n\
         pub const QUEUE_SIZE: usize = {queue_size};\n\
         /// Longest encoded frame in bytes (`HIL_MAX_FRAME` at build time); longer frames are dropped.\n\
         pub const MAX_FRAME: usize = {max_frame};\n"
    );
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("config.rs"), config).expect("write config.rs into OUT_DIR");
}
