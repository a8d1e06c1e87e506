//! The built-in board definitions: every file of the repository's `boards/`, embedded in the runner.
//!
//! An installed runner (`cargo install`) has no source tree; these let it
//! run the built-in boards anywhere. A test checks that the list is exactly
//! the directory's contents.

/// Every file of `boards/`: (file name, contents), sorted by name.
pub const FILES: &[(&str, &str)] = &[
    (
        "lm3s6965evb.memory.x",
        include_str!("../../../boards/lm3s6965evb.memory.x"),
    ),
    (
        "lm3s6965evb.toml",
        include_str!("../../../boards/lm3s6965evb.toml"),
    ),
    (
        "microbit.memory.x",
        include_str!("../../../boards/microbit.memory.x"),
    ),
    (
        "microbit.toml",
        include_str!("../../../boards/microbit.toml"),
    ),
    (
        "mps2-an385.toml",
        include_str!("../../../boards/mps2-an385.toml"),
    ),
    (
        "mps2-an386.toml",
        include_str!("../../../boards/mps2-an386.toml"),
    ),
    (
        "mps2-an500.toml",
        include_str!("../../../boards/mps2-an500.toml"),
    ),
    (
        "mps2-an505.memory.x",
        include_str!("../../../boards/mps2-an505.memory.x"),
    ),
    (
        "mps2-an505.toml",
        include_str!("../../../boards/mps2-an505.toml"),
    ),
    (
        "mps2.memory.x",
        include_str!("../../../boards/mps2.memory.x"),
    ),
    (
        "mps3-an547.memory.x",
        include_str!("../../../boards/mps3-an547.memory.x"),
    ),
    (
        "mps3-an547.toml",
        include_str!("../../../boards/mps3-an547.toml"),
    ),
    (
        "netduinoplus2.memory.x",
        include_str!("../../../boards/netduinoplus2.memory.x"),
    ),
    (
        "netduinoplus2.toml",
        include_str!("../../../boards/netduinoplus2.toml"),
    ),
    (
        "nrf52840-dk-rtt.toml",
        include_str!("../../../boards/nrf52840-dk-rtt.toml"),
    ),
    (
        "nrf52840-dk.memory.x",
        include_str!("../../../boards/nrf52840-dk.memory.x"),
    ),
    (
        "nrf52840-dk.toml",
        include_str!("../../../boards/nrf52840-dk.toml"),
    ),
    (
        "nucleo-f401re.memory.x",
        include_str!("../../../boards/nucleo-f401re.memory.x"),
    ),
    (
        "nucleo-f401re.toml",
        include_str!("../../../boards/nucleo-f401re.toml"),
    ),
    (
        "rpi-pico-usb.toml",
        include_str!("../../../boards/rpi-pico-usb.toml"),
    ),
    (
        "rpi-pico.memory.x",
        include_str!("../../../boards/rpi-pico.memory.x"),
    ),
    (
        "rpi-pico.toml",
        include_str!("../../../boards/rpi-pico.toml"),
    ),
];

/// The embedded file called `name`.
pub fn file(name: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The names of the built-in boards (their `.toml` files without the extension), sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    FILES.iter().filter_map(|(n, _)| n.strip_suffix(".toml"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_is_exactly_the_boards_directory() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../boards");
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let name = p.file_name().unwrap().to_str().unwrap().to_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<(String, String)> = super::FILES
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&embedded),
            names(&on_disk),
            "board/builtin.rs must list every file of boards/"
        );
        assert_eq!(embedded, on_disk);
    }
}
