//! Inputs the fuzz targets (host-tests/fuzz) found wrong, each pinned: a clear error or the right value, never a panic.

use hil_runner::board::memory_x::{MemoryLayout, MemoryXError};

// board_file: the memory.x tokenizer stepped one byte into a multi-byte
// character and sliced the text there (a panic, not an error).

#[test]
fn a_non_ascii_character_in_the_memory_block_is_a_syntax_error_naming_its_line() {
    let text = "MEMORY\n{\n  FLASH : ORIGIN = 0, LENGTH = 256K\n  RAM \u{b5} : ORIGIN = 0x2000_0000, LENGTH = 64K\n}\n";
    match MemoryLayout::parse(text) {
        Err(MemoryXError::Syntax { line, message }) => {
            assert_eq!((line, message.as_str()), (4, "expected `:`"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_ascii_text_outside_the_memory_block_is_ignored() {
    let text = "MEMORY { FLASH : ORIGIN = 0, LENGTH = 1K }\nSECTIONS { } \u{e9}t\u{e9} \u{2014} \u{1f600}\n";
    let layout = MemoryLayout::parse(text).unwrap();
    assert_eq!(layout.regions.len(), 1);
    assert_eq!(layout.regions[0].length, 1024);
}

// board_file: a MEMORY block left open at the end of the text was a syntax error at
// "line 0" (lines count from 1).

#[test]
fn a_memory_block_left_open_names_the_line_of_its_last_token() {
    let text = "/* Arm MPS2 */\nMEMORY\n{\n\n";
    match MemoryLayout::parse(text) {
        Err(MemoryXError::Syntax { line, message }) => {
            assert_eq!(line, 3, "{message}");
            assert!(message.contains("not closed"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
