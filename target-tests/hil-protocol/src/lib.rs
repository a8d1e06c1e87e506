//! Test markers shared by the HIL firmware and the host runner.
//!
//! Every marker is one defmt frame whose format string is defined here, once.
//! The firmware emits them through [`emit`] (feature `defmt`); the runner
//! finds them in the ELF's defmt table by the same strings ([`fmt`]) and reads
//! their arguments, so the two sides cannot drift apart.
//!
//! A test run is, in order: [`fmt::BOOT`], [`fmt::START`], any number of
//! [`fmt::PARAM`], the test's own frames ([`fmt::SEQ`] and others, with
//! [`fmt::DROP`] reports from the transport wherever frames were dropped),
//! one [`fmt::STREAM`] per stream, and [`fmt::END`].
//!
//! Marker arguments use only `u8`, `u32` and `str`, so the host can read them
//! straight from the frame bytes without rendering text.
#![no_std]
#![warn(missing_docs)]

/// Stream id of frames logged from thread mode.
pub const THREAD_STREAM: u8 = 0;

macro_rules! markers {
    ($(
        $(#[$doc:meta])*
        $name:ident, $emit:ident ( $($arg:ident : $ty:ty),* ) = $fmt:literal;
    )*) => {
        /// The markers' defmt format strings, as the host looks them up.
        pub mod fmt {
            $( $(#[$doc])* pub const $name: &str = $fmt; )*
            /// Every marker format string.
            pub const ALL: &[&str] = &[$($name),*];
        }

        /// Emit the markers through defmt (firmware side).
        #[cfg(feature = "defmt")]
        pub mod emit {
            $(
                $(#[$doc])*
                #[inline]
                pub fn $emit($($arg: $ty),*) {
                    defmt::info!($fmt, $($arg),*);
                }
            )*
        }
    };
}

markers! {
    /// The firmware booted: the board it was built for and the test's name.
    BOOT, boot(board: &str, test: &str) = "hil:boot board={=str} test={=str}";
    /// A test starts: its name and the overflow policy of the transport.
    START, start(test: &str, policy: &str) = "hil:start test={=str} policy={=str}";
    /// One named parameter of the running test (queue capacity, frame count ...).
    PARAM, param(name: &str, value: u32) = "hil:param {=str}={=u32}";
    /// One sequence frame: stream id (0 = thread mode, 1.. = interrupt priorities) and its number.
    SEQ, seq(stream: u8, n: u32) = "hil:seq s={=u8} n={=u32}";
    /// A drop report from the transport: frames dropped since the previous report.
    DROP, drop_report(dropped: u32) = "hil:drop n={=u32}";
    /// How many sequence frames the firmware logged on one stream.
    STREAM, stream(stream: u8, sent: u32) = "hil:stream s={=u8} sent={=u32}";
    /// The test ended: frames the transport was asked to send before this one, and how many it dropped.
    END, end(attempted: u32, dropped: u32) = "hil:end attempted={=u32} dropped={=u32}";
    /// The firmware panicked; the message follows. The runner reports `crash`.
    PANIC, panic(message: &str) = "hil:panic {=str}";
}
