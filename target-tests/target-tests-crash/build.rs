//! embedded-test's linker script for the test images (it keeps the
//! `.embedded_test.*` sections and points `main` at the harness), and the
//! `rust_analyzer` cfg its macro emits, as embedded-test's README asks.
//!
//! Only the test targets get `-Tembedded-test.x`: the workspace's own
//! `.cargo/config.toml` gives every image `-Tlink.x -Tdefmt.x`.

fn main() {
    println!("cargo::rustc-link-arg-tests=-Tembedded-test.x");
    println!("cargo::rustc-check-cfg=cfg(rust_analyzer)");
    println!("cargo::rerun-if-changed=build.rs");
}
