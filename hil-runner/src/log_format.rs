//! Log frames as the defmt ecosystem shows them: defmt-decoder's formatter, defmt-print's `--log-format`.
//!
//! A [`LogRenderer`] renders one decoded frame at a time, as text (with the
//! format syntax of `defmt-print --log-format`: `default`, `oneline`, or a
//! custom string such as `{t} {L} {s}`) or as one JSON line (the shape of
//! `defmt-print --json`, defmt-json-schema v1). The location of each log
//! statement (file, line, module) comes from the ELF's debug info.
//!
//! Colours: defmt-decoder colours through the `colored` crate, whose switch is
//! global to the process. A renderer made with `colour: false` strips ANSI
//! escapes from what the formatter produced, so it never emits any whatever
//! that switch says; one made with `colour: true` turns the switch on. Decide
//! `colour` with [`colour_for`] (a terminal, and no `NO_COLOR`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;

use defmt_decoder::log::format::{Formatter, FormatterConfig};
use defmt_decoder::Frame;
use defmt_json_schema::v1::{JsonFrame, Location as JsonLocation, ModulePath};

use crate::firmware::Firmware;

/// The format used when none is given: defmt's default, with the location line when the ELF has one.
pub const DEFAULT_FORMAT: &str = "default";

/// A `--log-format` string that defmt-decoder cannot parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log format {format:?}: {message} (use `default`, `oneline` or a format string such as \"{{t}} {{L}} {{s}}\")")]
pub struct LogFormatError {
    /// The format string.
    pub format: String,
    /// The parser's message.
    pub message: String,
}

/// Where one log statement is.
#[derive(Debug, Clone)]
struct Place {
    file: String,
    line: u32,
    module: String,
}

/// Renders the log frames of one firmware.
pub struct LogRenderer {
    formatter: Formatter,
    colour: bool,
    places: HashMap<u64, Place>,
}

impl std::fmt::Debug for LogRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogRenderer")
            .field("colour", &self.colour)
            .field("locations", &self.places.len())
            .finish()
    }
}

/// Whether output to a stream should be coloured: it is a terminal and `NO_COLOR` is not set.
pub fn colour_for(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl LogRenderer {
    /// A renderer for the frames of `firmware` in `format` (defmt-print's
    /// `--log-format`; `None`: [`DEFAULT_FORMAT`]), with ANSI colours if `colour`.
    ///
    /// File paths under the current directory are shown relative to it, as defmt-print does.
    pub fn new(
        firmware: &Firmware,
        format: Option<&str>,
        colour: bool,
    ) -> Result<Self, LogFormatError> {
        let format = format.unwrap_or(DEFAULT_FORMAT);
        let places = places(firmware, std::env::current_dir().ok().as_deref());
        let mut config = FormatterConfig::custom(format);
        if places.is_empty() {
            // No debug info: the built-in formats without their location part.
            if let Some(f) = defmt_decoder::log::format::FormatterFormat::from_string(format, false)
            {
                config.format = f;
            }
        }
        config.is_timestamp_available = firmware.table().has_timestamp();
        let formatter = new_formatter(config, format)?;
        if colour {
            colored::control::set_override(true);
        }
        Ok(Self {
            formatter,
            colour,
            places,
        })
    }

    /// The frame as text, in the renderer's format (may be several lines, no final newline).
    pub fn render(&self, frame: Frame<'_>) -> String {
        let place = self.places.get(&frame.index());
        let text = self.formatter.format_frame(
            frame,
            place.map(|p| p.file.as_str()),
            place.map(|p| p.line),
            place.map(|p| p.module.as_str()),
        );
        if self.colour {
            text
        } else {
            strip_ansi(&text)
        }
    }

    /// The frame as one JSON object, the shape `defmt-print --json` prints (defmt-json-schema v1, no newline).
    pub fn render_json(&self, frame: &Frame<'_>) -> String {
        let place = self.places.get(&frame.index());
        let host_timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let json = JsonFrame {
            data: frame.display_message().to_string(),
            host_timestamp,
            level: frame.level().and_then(|l| level(l.as_str())),
            location: JsonLocation {
                file: place.map(|p| p.file.clone()),
                line: place.map(|p| p.line),
                module_path: place.and_then(|p| module_path(&p.module)),
            },
            target_timestamp: frame
                .display_timestamp()
                .map(|t| t.to_string())
                .unwrap_or_default(),
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
}

/// The line `defmt-print --json` prints first: `{"schema_version":1}`.
pub fn json_schema_line() -> String {
    serde_json::to_string(&defmt_json_schema::v1::SCHEMA_VERSION).unwrap_or_default()
}

/// defmt-decoder's formatter panics on a format it cannot parse: catch that as an error.
fn new_formatter(config: FormatterConfig<'_>, format: &str) -> Result<Formatter, LogFormatError> {
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Formatter::new(config)));
    std::panic::set_hook(previous);
    made.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("cannot be parsed");
        // "log format is invalid '{format}': <parser error>"
        let message = message
            .split_once(": ")
            .map_or(message, |(_, rest)| rest)
            .trim_matches('"')
            .to_owned();
        LogFormatError {
            format: format.to_owned(),
            message,
        }
    })
}

fn places(firmware: &Firmware, cwd: Option<&Path>) -> HashMap<u64, Place> {
    firmware
        .locations()
        .iter()
        .map(|(&index, loc)| {
            let file = cwd
                .and_then(|cwd| loc.file.strip_prefix(cwd).ok())
                .unwrap_or(&loc.file);
            let place = Place {
                file: file.display().to_string(),
                line: u32::try_from(loc.line).unwrap_or(u32::MAX),
                module: loc.module.clone(),
            };
            (index, place)
        })
        .collect()
}

/// defmt's level names (`"info"`) are `log`'s.
fn level(name: &str) -> Option<log::Level> {
    name.parse().ok()
}

/// `crate::mod::function` split as defmt-print's JSON does (None for fewer than two parts).
fn module_path(path: &str) -> Option<ModulePath> {
    let mut parts: Vec<&str> = path.split("::").collect();
    if parts.len() < 2 {
        return None;
    }
    let function = parts.pop()?.to_owned();
    let crate_name = parts.remove(0).to_owned();
    Some(ModulePath {
        crate_name,
        modules: parts.into_iter().map(str::to_owned).collect(),
        function,
    })
}

/// `text` without ANSI escape sequences (CSI `ESC [ ... final`, and other `ESC x` pairs).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_ansi_removes_colour_sequences_only() {
        assert_eq!(
            strip_ansi("\u{1b}[1;32mINFO \u{1b}[0m hello [x]"),
            "INFO  hello [x]"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn module_paths_split_as_defmt_print_does() {
        let m = module_path("app::radio::tx::send").unwrap();
        assert_eq!(
            (m.crate_name.as_str(), m.modules, m.function.as_str()),
            ("app", vec!["radio".to_owned(), "tx".to_owned()], "send")
        );
        assert!(module_path("main").is_none());
    }

    #[test]
    fn an_unparsable_format_is_an_error_not_a_panic() {
        let config = FormatterConfig::custom("{L");
        let Err(err) = new_formatter(config, "{L") else {
            panic!("\"{{L\" parsed")
        };
        assert_eq!(err.format, "{L");
        assert!(new_formatter(FormatterConfig::custom("{L} {s}"), "{L} {s}").is_ok());
    }
}
