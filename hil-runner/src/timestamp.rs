//! The firmware's defmt timestamp as the marker reader sees it.
//!
//! defmt's wire format puts a frame's timestamp arguments right after its
//! string index, before the frame's own arguments. Log frames are decoded by
//! `defmt_decoder::Table::decode`, which knows that; the test markers are read
//! straight from the bytes ([`crate::markers`]), so they need to know where
//! the timestamp ends:
//!
//! - no `defmt::timestamp!`: nothing to skip;
//! - a timestamp whose arguments all have a fixed size (`{=u64:us}`,
//!   `{=u32}`, `{=[u8; 4]}`, ... the usual ones): a fixed count of bytes,
//!   skipped at no cost per frame;
//! - anything else (`{=str}`, `{}` of a `Format` type, bitfields ...): the
//!   timestamp is decoded per marker frame with a copy of the ELF's table
//!   whose log formats are all empty, so the bytes it consumes are the
//!   index and the timestamp.

use defmt_decoder::Table;
use defmt_parser::{Fragment, ParserMode, Type};

/// How to find the end of a frame's timestamp.
#[derive(Debug)]
pub enum TimestampSkip {
    /// The firmware defines no timestamp.
    None,
    /// Every frame's timestamp takes this many bytes.
    Fixed(usize),
    /// Decode it: the ELF's table with every log format emptied.
    Decode(Box<Table>),
}

impl TimestampSkip {
    /// How `table`'s frames carry their timestamp; `Err` names what cannot be read.
    pub fn of(table: &Table) -> Result<Self, String> {
        if !table.has_timestamp() {
            return Ok(Self::None);
        }
        let json = serde_json::to_value(table).map_err(|e| e.to_string())?;
        let format = json["timestamp"]["string"]["string"]
            .as_str()
            .ok_or("the table's timestamp entry has no format string")?;
        if let Some(len) = fixed_len(format) {
            return Ok(Self::Fixed(len));
        }
        Ok(Self::Decode(Box::new(emptied(json)?)))
    }

    /// Bytes of the timestamp in `frame` (rzcobs-decoded, string index first),
    /// after the two index bytes; `None` when the frame is too short or does not decode.
    #[inline]
    pub fn len(&self, frame: &[u8]) -> Option<usize> {
        match self {
            Self::None => Some(0),
            Self::Fixed(len) => (frame.len() >= 2 + len).then_some(*len),
            Self::Decode(table) => {
                let (_, used) = table.decode(frame).ok()?;
                used.checked_sub(2)
            }
        }
    }

    /// Whether the frames carry no timestamp.
    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }
}

/// The encoded size of a timestamp format whose arguments all have a fixed size.
fn fixed_len(format: &str) -> Option<usize> {
    let fragments = defmt_parser::parse(format, ParserMode::ForwardsCompatible).ok()?;
    let mut seen = Vec::new();
    let mut len = 0;
    for fragment in fragments {
        let Fragment::Parameter(p) = fragment else {
            continue;
        };
        // An argument used twice is encoded once; keep such formats to the decoder.
        if seen.contains(&p.index) {
            return None;
        }
        seen.push(p.index);
        len += match p.ty {
            Type::Bool | Type::U8 | Type::I8 => 1,
            Type::U16 | Type::I16 | Type::IStr => 2,
            Type::U32 | Type::I32 | Type::F32 | Type::Char | Type::Usize | Type::Isize => 4,
            Type::U64 | Type::I64 | Type::F64 => 8,
            Type::U128 | Type::I128 => 16,
            Type::U8Array(n) => n,
            _ => return None,
        };
    }
    Some(len)
}

/// The table with every log format (levels and println) replaced by "".
fn emptied(mut json: serde_json::Value) -> Result<Table, String> {
    const LOG_TAGS: &[&str] = &["Trace", "Debug", "Info", "Warn", "Error", "Println"];
    let entries = json["entries"]
        .as_object_mut()
        .ok_or("the table has no entries")?;
    for entry in entries.values_mut() {
        let string = &mut entry["string"];
        if string["tag"]
            .as_str()
            .is_some_and(|tag| LOG_TAGS.contains(&tag))
        {
            string["string"] = serde_json::Value::from("");
        }
    }
    serde_json::from_value(json).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::fixed_len;

    #[test]
    fn fixed_size_timestamps_are_counted_without_decoding() {
        assert_eq!(fixed_len(""), Some(0));
        assert_eq!(fixed_len("{=u64:us}"), Some(8));
        assert_eq!(fixed_len("{=u32:tms} {=u8}"), Some(5));
        assert_eq!(fixed_len("t={=[u8; 3]}"), Some(3));
        assert_eq!(fixed_len("{=str}"), None);
        assert_eq!(fixed_len("{}"), None);
        assert_eq!(fixed_len("{0=u8} {0=u8}"), None);
    }
}
