//! Throughput floors in board files: validated with file and field named, and judged against a run's figures.

use hil_runner::board::{boards_dir, Board, Checks};
use rstest::rstest;

/// The emulated board's file with its `[checks]` table replaced by `extra`, loaded from a temp dir.
fn emulated_with(extra: &str) -> Result<Board, String> {
    let dir = tempfile::tempdir().unwrap();
    let boards = boards_dir();
    let text = std::fs::read_to_string(boards.join("lm3s6965evb.toml")).unwrap();
    let text = text.split("[checks]").next().unwrap();
    std::fs::write(
        dir.path().join("lm3s6965evb.toml"),
        format!("{text}\n{extra}\n"),
    )
    .unwrap();
    std::fs::copy(
        boards.join("lm3s6965evb.memory.x"),
        dir.path().join("lm3s6965evb.memory.x"),
    )
    .unwrap();
    Board::load(&dir.path().join("lm3s6965evb.toml")).map_err(|e| e.to_string())
}

#[test]
fn a_bytes_per_second_floor_is_read() {
    let board = emulated_with("[checks]\nmin_bytes_per_s = 1234").unwrap();
    assert_eq!(board.checks.min_bytes_per_s, Some(1234.0));
    assert_eq!(
        Board::find("lm3s6965evb").unwrap().checks.min_bytes_per_s,
        Some(50_000.0)
    );
}

#[rstest]
#[case::line_share_over_one("min_line_utilisation = 1.5", "checks.min_line_utilisation")]
#[case::line_share_without_a_baud_rate("min_line_utilisation = 0.9", "checks.min_line_utilisation")]
#[case::negative_rate("min_bytes_per_s = -1.0", "checks.min_bytes_per_s")]
fn a_bad_floor_names_file_and_field(#[case] line: &str, #[case] field: &str) {
    let err = emulated_with(&format!("[checks]\n{line}")).unwrap_err();
    assert!(
        err.contains("lm3s6965evb.toml") && err.contains(&format!("field `{field}`")),
        "{err}"
    );
}

#[test]
fn the_repository_s_uart_boards_ask_for_95_percent_of_the_line() {
    for name in ["nucleo-f401re", "nrf52840-dk", "rpi-pico"] {
        let board = Board::find(name).unwrap();
        assert_eq!(board.checks.min_line_utilisation, Some(0.95), "{name}");
    }
}

#[rstest]
#[case::fast_enough(Checks { min_line_utilisation: Some(0.95), min_bytes_per_s: Some(10.0) }, 11_000.0, Some(0.96), None)]
#[case::under_the_rate_floor(Checks { min_line_utilisation: None, min_bytes_per_s: Some(50_000.0) }, 49_999.0, None, Some("below the board's floor of 50000 B/s"))]
#[case::under_the_line_floor(Checks { min_line_utilisation: Some(0.95), min_bytes_per_s: None }, 10_000.0, Some(0.868), Some("86.8% of the line rate"))]
#[case::no_floor(Checks::default(), 1.0, Some(0.01), None)]
fn a_slow_link_is_named_with_its_floor(
    #[case] checks: Checks,
    #[case] bytes_per_s: f64,
    #[case] line: Option<f64>,
    #[case] expected: Option<&str>,
) {
    let verdict = checks.too_slow(bytes_per_s, line);
    match expected {
        None => assert_eq!(verdict, None),
        Some(text) => assert!(
            verdict.as_deref().unwrap_or("").contains(text),
            "{verdict:?}"
        ),
    }
}
