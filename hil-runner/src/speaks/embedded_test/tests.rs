//! embedded-test tables read from hand-made ELF files: names, flags, order, and each way a table is unreadable.

use std::time::Duration;

use super::{read, test_name, EmbeddedTest, EmbeddedTestTable, VERSION_SYMBOL};
use crate::test_elf::{elf, Section};

/// Address of `.rodata`, where the module paths are: low, so that the same
/// offset also falls inside `.comment`, a section at address 0 before it.
const RODATA: u32 = 0x10;
const MODULE: &[u8] = b"mixed::testsmixed";

/// The statics of `.embedded_test`: `(invoker, module path address, its length)` each.
fn table(version: u32, statics: &[[u32; 3]]) -> Vec<u8> {
    let mut data = version.to_le_bytes().to_vec();
    for words in statics {
        for word in words {
            data.extend_from_slice(&word.to_le_bytes());
        }
    }
    data
}

/// An embedded-test ELF: `.comment` (1), `.rodata` (2), `.embedded_test` (3, at address 0).
fn embedded_test_elf(section: &[u8], symbols: &[(&str, u16, u32)]) -> Vec<u8> {
    // Text with `::` in it, as a module path read from here would have.
    let comment = b"rustc::comment::".repeat(4);
    let sections = [
        Section {
            name: ".comment",
            address: 0,
            data: &comment,
        },
        Section {
            name: ".rodata",
            address: RODATA,
            data: MODULE,
        },
        Section {
            name: ".embedded_test",
            address: 0,
            data: section,
        },
    ];
    elf(&sections, symbols)
}

const A: &str = r#"{"name":"a","ignored":false,"should_panic":true,"timeout":7}"#;
const B: &str = r#"{"name":"b","ignored":true,"should_panic":false,"timeout":null}"#;

/// Test `a` (module `mixed::tests`) at offset 4, `b` (module `mixed`) at 16.
fn two_tests() -> Vec<u8> {
    table(1, &[[0x101, RODATA, 12], [0x201, RODATA + 12, 5]])
}

fn read_ok(elf: &[u8]) -> EmbeddedTestTable {
    read(elf).unwrap().expect("an embedded-test ELF")
}

#[test]
fn each_test_is_read_with_its_flags_in_the_order_of_its_static() {
    // Symbols out of order, and symbols that are not tests: the version, and a
    // JSON-named symbol in another section.
    let symbols = [
        (B, 3, 16),
        (r#"{"name":"elsewhere"}"#, 2, RODATA),
        (A, 3, 4),
        (VERSION_SYMBOL, 3, 0),
    ];
    let got = read_ok(&embedded_test_elf(&two_tests(), &symbols));
    let expected = EmbeddedTestTable {
        version: 1,
        tests: vec![
            EmbeddedTest {
                name: "tests::a".into(),
                ignored: false,
                should_panic: true,
                timeout: Some(Duration::from_secs(7)),
                invoker: 0x101,
            },
            EmbeddedTest {
                name: "b".into(),
                ignored: true,
                should_panic: false,
                timeout: None,
                invoker: 0x201,
            },
        ],
    };
    assert_eq!(got, expected);
    assert_eq!(got.tests[0].command_line(), ["run_addr", "257"]);
}

#[test]
fn flags_left_out_of_a_tests_name_are_false() {
    let symbols = [(r#"{"name":"c"}"#, 3, 4), (VERSION_SYMBOL, 3, 0)];
    let got = read_ok(&embedded_test_elf(&table(3, &[[9, 0, 0]]), &symbols));
    assert_eq!(got.version, 3);
    let test = &got.tests[0];
    assert_eq!(
        (test.ignored, test.should_panic, test.timeout),
        (false, false, None)
    );
}

#[test]
fn a_module_path_outside_the_loaded_image_leaves_the_bare_name() {
    // 0x1000 is in no loaded section; 0x14 is in `.comment` too, which is not loaded.
    let statics = table(1, &[[1, 0x1000, 4], [2, RODATA + 4, 30]]);
    let symbols = [(A, 3, 4), (B, 3, 16), (VERSION_SYMBOL, 3, 0)];
    let got = read_ok(&embedded_test_elf(&statics, &symbols));
    let names: Vec<&str> = got.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn without_the_version_symbol_or_an_elf_it_is_not_an_embedded_test_elf() {
    assert_eq!(read(b"not an elf"), Ok(None));
    let elf = embedded_test_elf(&two_tests(), &[(A, 3, 4)]);
    assert_eq!(read(&elf), Ok(None));
}

#[test]
fn an_unreadable_table_is_an_error_that_says_what_is_wrong() {
    let error = |symbols: &[(&str, u16, u32)]| read(&embedded_test_elf(&two_tests(), symbols));
    assert_eq!(
        error(&[(VERSION_SYMBOL, 0, 0)]),
        Err(format!("{VERSION_SYMBOL} is in no section"))
    );
    assert_eq!(
        error(&[(VERSION_SYMBOL, 3, 26)]),
        Err(format!("cannot read {VERSION_SYMBOL}"))
    );
    // A test static that runs past the section's end (28 bytes).
    assert_eq!(
        error(&[(VERSION_SYMBOL, 3, 0), (A, 3, 20)]),
        Err("cannot read the static of test a".into())
    );
    let bad = error(&[(VERSION_SYMBOL, 3, 0), (r#"{"nom":1}"#, 3, 4)]).unwrap_err();
    assert!(
        bad.starts_with(
            r#"test symbol "{\"nom\":1}" in .embedded_test.tests: missing field `name`"#
        ),
        "{bad}"
    );
}

#[test]
fn the_crate_is_left_out_of_a_tests_name() {
    assert_eq!(test_name("mixed::tests", "passes"), "tests::passes");
    assert_eq!(test_name("mixed", "passes"), "passes");
}
